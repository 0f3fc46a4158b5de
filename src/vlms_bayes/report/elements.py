"""The pieces of ``report.html``: the run-folder reader, figures, tables and notices.

Kept apart from :mod:`vlms_bayes.report.html` (which assembles the page from the sections)
so that the section modules can build on them without importing the page back.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.errors import InputDataError
from vlms_bayes.report.format import fmt

#: File name of the report in a run folder.
REPORT_NAME = "report.html"


def esc(text: Any) -> str:
    """HTML-escaped text."""
    return html.escape(str(text))


class RunFolder:
    """Read access to a run output folder that remembers which files were shown.

    Parameters
    ----------
    path : path-like
        The folder written by ``vlms-bayes run``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.shown: set[str] = {REPORT_NAME}

    def has(self, name: str) -> bool:
        """Whether the folder holds the file ``name``."""
        return (self.path / name).is_file()

    def json(self, name: str) -> Any:
        """A JSON file's content (None when absent)."""
        if not self.has(name):
            return None
        self.shown.add(name)
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputDataError(f"{self.path / name} is not valid JSON ({exc}); re-run the "
                                 "step that wrote it (vlms-bayes run --outdir ...).") from exc

    def csv(self, name: str) -> pd.DataFrame | None:
        """A CSV file as a DataFrame (None when absent)."""
        if not self.has(name):
            return None
        self.shown.add(name)
        return pd.read_csv(self.path / name, low_memory=False)

    def text(self, name: str) -> str | None:
        """A text file's content (None when absent)."""
        if not self.has(name):
            return None
        self.shown.add(name)
        return (self.path / name).read_text(encoding="utf-8", errors="replace")

    def npz(self, name: str) -> dict[str, Any] | None:
        """A NumPy ``.npz`` archive as a dict of arrays (None when absent)."""
        if not self.has(name):
            return None
        self.shown.add(name)
        with np.load(self.path / name, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def files(self) -> list[str]:
        """Names of the plain files in the folder (no hidden files), sorted."""
        return sorted(p.name for p in self.path.iterdir()
                      if p.is_file() and not p.name.startswith("."))


def figure(run: RunFolder, name: str, caption: str) -> str:
    """An ``<figure>`` with the PNG ``name`` inlined as a data URI ('' when absent)."""
    if not run.has(name):
        return ""
    run.shown.add(name)
    data = base64.b64encode((run.path / name).read_bytes()).decode("ascii")
    mime = "image/svg+xml" if name.endswith(".svg") else "image/png"
    return (f'<figure id="{esc(name)}"><img src="data:{mime};base64,{data}" '
            f'alt="{esc(name)}"><figcaption><b>{esc(name)}</b>: {caption}</figcaption>'
            "</figure>\n")


def table(frame: pd.DataFrame, *, max_rows: int | None = None, nd: int = 4,
          caption: str = "") -> str:
    """An HTML table of ``frame``; numbers to ``nd`` significant digits.

    With ``max_rows`` and a longer frame the first ``max_rows`` rows are shown and the
    whole table follows in a collapsed ``<details>`` element.
    """
    def rows_html(df: pd.DataFrame) -> str:
        out = []
        for _, r in df.iterrows():
            cells = []
            for v in r.tolist():
                num = isinstance(v, int | float) and not isinstance(v, bool)
                cells.append(f"<td>{esc(fmt(v, nd))}</td>" if num
                             else f'<td class="t">{esc("" if pd.isna(v) else v)}</td>')
            out.append("<tr>" + "".join(cells) + "</tr>")
        return "\n".join(out)

    head = "<tr>" + "".join(f"<th>{esc(c)}</th>" for c in frame.columns) + "</tr>"
    cap = f"<caption>{caption}</caption>" if caption else ""
    if max_rows is None or len(frame) <= max_rows:
        return (f'<div class="scroll"><table>{cap}<thead>{head}</thead><tbody>'
                f"{rows_html(frame)}</tbody></table></div>\n")
    short = (f'<div class="scroll"><table>{cap}<thead>{head}</thead><tbody>'
             f"{rows_html(frame.head(max_rows))}</tbody></table></div>")
    full = (f'<details><summary>all {len(frame)} rows</summary><div class="scroll"><table>'
            f"<thead>{head}</thead><tbody>{rows_html(frame)}</tbody></table></div></details>")
    return f"{short}<p class=\"meta\">first {max_rows} of {len(frame)} rows</p>{full}\n"


def csv_table(run: RunFolder, name: str, explanation: str, *, max_rows: int | None = 25,
              columns: Iterable[str] | None = None) -> str:
    """A CSV file of the folder as a captioned table ('' when absent)."""
    df = run.csv(name)
    if df is None:
        return ""
    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    return (f'<h3 id="{esc(name)}">{esc(name)}</h3><p>{explanation}</p>'
            + table(df, max_rows=max_rows))


def notice(text: str, *, kind: str = "notice") -> str:
    """A highlighted paragraph (``notice`` or ``warning``)."""
    return f'<p class="{kind}">{text}</p>\n'
