"""One self-contained HTML page of a run: its summary, scores, figures and configuration.

``sarcube demo`` and ``sarcube run`` (with ``[output] report``) write one,
so that a responder or a student opens a single file: the PNG figures are
embedded (base64), the style is inline, and the page loads nothing else and
runs no script.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._atomic import atomic_target, check_writable
from .errors import InputNotFoundError, ParameterError

__all__ = ["Table", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1d232b; background: #ffffff; line-height: 1.45; }
h1 { font-size: 1.6rem; border-bottom: 3px solid #2a6fb0; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; color: #2a6fb0; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #c9d1da; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef3f8; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; border: 1px solid #c9d1da; }
figcaption { font-size: .9rem; color: #4a5561; margin-top: .3rem; }
pre { background: #f5f7f9; border: 1px solid #c9d1da; padding: .8rem; overflow-x: auto; }
"""


@dataclass(frozen=True)
class Table:
    """A table of the report: a caption, the column names and the rows.

    Examples
    --------
    >>> from sarcube.report import Table
    >>> table = Table("Scores", ["map", "IoU"], [["flood_map", 0.71234]], note="OMBRIA test split")
    >>> table.html()[:42]
    '<h2>Scores</h2><p>OMBRIA test split</p><ta'
    >>> "<td>0.7123</td>" in table.html()  # floats to four significant digits
    True
    """

    caption: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    note: str = ""

    def html(self) -> str:
        """The table as HTML: its caption, its note, then the ``<table>``."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(self._cell(v))}</td>" for v in row) + "</tr>"
            for row in self.rows
        )
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return (
            f"<h2>{html.escape(self.caption)}</h2>{note}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    @staticmethod
    def _cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)


def write_report(
    path: str | os.PathLike[str],
    *,
    title: str,
    summary: Sequence[str] = (),
    tables: Sequence[Table] = (),
    figures: Mapping[str, str | os.PathLike[str]] | None = None,
    config: Mapping[str, Any] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write one self-contained HTML page; returns its path.

    Parameters
    ----------
    path
        The ``.html`` file to write (atomically: a reader never sees half a page).
    title
        The page's heading.
    summary
        Paragraphs of plain text shown first.
    tables
        :class:`Table` objects, in order.
    figures
        ``{caption: PNG path}``, embedded in the page in order.
    config
        The configuration of the run, shown as JSON (any JSON-serialisable
        mapping; paths and other objects are shown as text).
    overwrite
        Replace an existing file (default); ``False`` refuses it.

    Raises
    ------
    InputNotFoundError
        A figure file does not exist.
    ParameterError
        A figure is not a PNG file.
    OutputError
        The file exists (with ``overwrite=False``) or its folder is not writable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> page = write_report(
    ...     pathlib.Path(tempfile.mkdtemp()) / "report.html",
    ...     title="Flood map",
    ...     summary=["A test page."],
    ...     tables=[Table("Scores", ["map", "mIoU"], [["otsu", 0.91234]])],
    ... )
    >>> "<td>0.9123</td>" in page.read_text()
    True
    """
    target = check_writable(Path(path), overwrite, "write_report")
    images = []
    for caption, figure in (figures or {}).items():
        data = Path(figure)
        if not data.is_file():
            raise InputNotFoundError(f"write_report: figure {caption!r}: {data} is not a file")
        raw = data.read_bytes()
        if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ParameterError(
                f"write_report: figure {caption!r}: {data} is not a PNG file; save it as PNG"
            )
        encoded = base64.b64encode(raw).decode("ascii")
        images.append(
            f'<figure><img alt="{html.escape(caption, quote=True)}" '
            f'src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in summary]
    parts += [table.html() for table in tables]
    if images:
        parts.append("<h2>Figures</h2>")
        parts += images
    if config is not None:
        text = json.dumps(config, indent=2, default=str, sort_keys=False)
        parts.append(f"<h2>Configuration</h2><pre>{html.escape(text)}</pre>")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )
    with atomic_target(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target
