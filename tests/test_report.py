"""The HTML report: self-contained, escaped, atomic, and readable in a real headless browser."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sarcube
from sarcube.errors import InputNotFoundError, OutputError, ParameterError
from sarcube.report import Table, write_report

from conftest import missing_resource

#: Headless Chromium builds, by the names Debian and Google give their binaries.
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "chrome-headless-shell")


class _Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(page: Path) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.tags


def _figures(folder: Path) -> dict[str, Path]:
    scene = sarcube.synthetic.make_scene((96, 96), seed=2)
    post = scene.cube["vv"].isel(time=-1)
    panels = folder / "panels.png"
    sarcube.plot.image_panels(
        {"post VV": post, "Lee": sarcube.lee_filter(post, enl=4.4)}, path=panels
    )
    flood = sarcube.flood_map(scene.cube.isel(time=slice(0, -1)), scene.cube.isel(time=-1))
    maps = folder / "maps.png"
    sarcube.plot.comparison_grid(
        post, {"flood_map": flood, "truth": scene.flood.isel(time=-1)}, path=maps
    )
    return {"Post-event VV and Lee": panels, "Flood map & truth <compared>": maps}


def _report(folder: Path) -> Path:
    return write_report(
        folder / "report.html",
        title="Flood <report>",
        summary=["Two maps & one truth."],
        tables=[Table("Scores", ["map", "mIoU"], [["otsu", 0.912345], ["ki", 0.8]])],
        figures=_figures(folder),
        config={"flood_map": {"method": "otsu"}, "out": folder},
    )


def test_the_page_is_self_contained_and_escaped(tmp_path: Path) -> None:
    page = _report(tmp_path)
    found = tags(page)
    images = [attrs for tag, attrs in found if tag == "img"]
    assert len(images) == 2
    assert all(str(a["src"]).startswith("data:image/png;base64,") for a in images)
    assert not [t for t, a in found if t in ("script", "link", "iframe")]  # loads nothing else
    text = page.read_text(encoding="utf-8")
    assert "<h1>Flood &lt;report&gt;</h1>" in text and "Two maps &amp; one truth." in text
    assert "<td>0.9123</td>" in text
    assert "&quot;method&quot;: &quot;otsu&quot;" in text  # the configuration, as JSON
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial file


def test_bad_figures_and_an_existing_page_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="is not a file"):
        write_report(tmp_path / "r.html", title="t", figures={"missing": tmp_path / "no.png"})
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(ParameterError, match="save it as PNG"):
        write_report(tmp_path / "r.html", title="t", figures={"text": text})
    assert not (tmp_path / "r.html").exists()
    write_report(tmp_path / "r.html", title="t")
    with pytest.raises(OutputError, match="overwrite=True"):
        write_report(tmp_path / "r.html", title="t", overwrite=False)


def _browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def render(page: Path, shot: Path) -> list[str]:
    """Load *page* in headless Chromium, save a screenshot; returns its console errors."""
    browser = _browser()
    assert browser is not None
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,1600",
            f"--screenshot={shot}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(shot.parent)},  # the profile goes beside the shot
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [
        line
        for line in done.stderr.splitlines()
        if "CONSOLE" in line and ("ERROR" in line or "Uncaught" in line)
    ]


@pytest.mark.browser
def test_the_report_loads_in_a_headless_browser(tmp_path: Path) -> None:
    if _browser() is None:
        missing_resource(f"a headless Chromium ({', '.join(BROWSERS)}; scripts/install-browser.sh)")
    page = _report(tmp_path)
    shot = tmp_path / "report.png"
    assert render(page, shot) == []
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (1600, 1280)
    # not blank: the heading, the table and the figures' greys and blues
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200
    # the same check sees a page's console error
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>undefinedCall();</script></body></html>")
    assert render(broken, tmp_path / "broken.png")
