#!/usr/bin/env bash
# predict on one GPU: Mpixel/s in float32 and bfloat16 on a 8192² input, and agreement
# with the CPU result on a 512² crop (benchmarks/gpu_check.py says how). Fits in 5 minutes
# on one GPU; without CUDA, or with --size small, a 384² run on the CPU takes seconds.
#
#   bash benchmarks/gpu_check.sh                              # 8192² on CUDA, else small on CPU
#   bash benchmarks/gpu_check.sh --size small --device cpu    # what the test suite runs
#   bash benchmarks/gpu_check.sh --allow-tf32                 # float32 with TF32 convolutions
#
# PYTHON: the interpreter (default: the repository's .venv, else python3).
# GPU_CHECK_TIMEOUT: wall-clock limit in seconds (default 300); exit status 124 past it.
# The last line of the output is "RESULT {json}"; the exit status is 0 when all checks pass.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"; else python=python3; fi
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-${TMPDIR:-/tmp}/sarcube-numba}"

exec timeout --kill-after=10 "${GPU_CHECK_TIMEOUT:-300}" "$python" "$here/gpu_check.py" "$@"
