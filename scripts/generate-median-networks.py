"""Write sarcube/filters/_median_fused.py from the median filter's network programs."""

from pathlib import Path

from sarcube.filters._median_codegen import fused_source

target = Path(__file__).resolve().parents[1] / "sarcube" / "filters" / "_median_fused.py"
target.write_text(fused_source())
print(f"wrote {target}")
