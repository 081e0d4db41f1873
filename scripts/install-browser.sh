#!/usr/bin/env bash
# Install a headless Chromium for the `browser` tests (the HTML report is
# loaded in it and screenshotted): Debian's chromium-headless-shell package,
# only when no headless Chromium is on the PATH yet. Needs root (or sudo)
# when it has to install. Safe to run repeatedly.
set -euo pipefail

log() { echo "[install-browser] $*"; }

for name in chromium-headless-shell chromium chromium-browser chrome-headless-shell; do
    if command -v "$name" >/dev/null 2>&1; then
        log "found $(command -v "$name")"
        exit 0
    fi
done

# shellcheck source=as-root.sh
source "$(dirname "${BASH_SOURCE[0]}")/as-root.sh"

log "installing chromium-headless-shell (apt)"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    chromium-headless-shell fonts-dejavu-core >/dev/null
command -v chromium-headless-shell
