"""``report.html``: one self-contained page that a scientist can read without the code.

:func:`write_report` reads a finished ``vlms-bayes run`` output folder and writes
``report.html`` into it: the three headline numbers first, then every figure (inlined as
base64 ``data:`` URIs) and every table (rendered from the CSV and JSON files) with a short
explanation generated from the numbers in the folder (:mod:`vlms_bayes.report.sections`),
the data sources with their dates and hashes, and a notice for each optional part the run
left out. The page has a small inline style sheet, no scripts and no external resources,
so it can be mailed or archived as one file.

Every file of the folder appears somewhere: the files the sections know are explained
there; any other figure or table (e.g. from a newer step) is listed under "Other outputs".
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from string import Template
from typing import Any

from vlms_bayes import __version__
from vlms_bayes.data_io.outputs import write_text
from vlms_bayes.errors import InputDataError
from vlms_bayes.report import results as rr
from vlms_bayes.report import sections as rs
from vlms_bayes.report.elements import REPORT_NAME, RunFolder, csv_table, esc, figure, notice

_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="vlms-bayes $version">
<title>$title</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 1rem auto; padding: 0 1rem;
       line-height: 1.45; color: #1d1d1f; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.2rem; }
.headlines { background: #f3f6fa; border-left: 4px solid #3a6ea5; padding: .6rem 1.2rem; }
.headlines li { margin: .4rem 0; }
.notice { background: #fff6e0; border-left: 4px solid #d69e2e; padding: .5rem 1rem; }
.warning { background: #fde8e8; border-left: 4px solid #c53030; padding: .5rem 1rem; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .92rem; color: #333; }
table { border-collapse: collapse; font-size: .85rem; margin: .6rem 0; }
th, td { border: 1px solid #ddd; padding: .15rem .45rem; text-align: right; }
th { background: #f0f0f0; } td.t { text-align: left; }
.scroll { overflow-x: auto; }
code, pre { font-size: .85rem; } pre { background: #f7f7f7; padding: .5rem; overflow-x: auto; }
.meta { color: #555; font-size: .9rem; }
</style>
</head>
<body>
<h1>$title</h1>
<p class="meta">$meta</p>
$body
</body>
</html>
""")


def _other_outputs(run: RunFolder) -> str:
    """Figures and tables that no section explained, so that nothing in the folder is hidden."""
    rest = [n for n in run.files() if n not in run.shown]
    if not rest:
        return ""
    parts = ["<h2>Other outputs</h2><p>Files of this folder that the sections above do not "
             "discuss, shown as they are.</p>"]
    listed = []
    for name in rest:
        suffix = Path(name).suffix.lower()
        if suffix in (".png", ".svg"):
            parts.append(figure(run, name, "figure written by a step this report version "
                                           "does not describe."))
        elif suffix == ".csv":
            parts.append(csv_table(run, name, "table written by a step this report version "
                                              "does not describe."))
        elif suffix in (".txt", ".md") and (run.path / name).stat().st_size < 20_000:
            parts.append(f"<h3>{esc(name)}</h3><pre>{esc(run.text(name))}</pre>")
        elif suffix == ".json" and (run.path / name).stat().st_size < 20_000:
            parts.append(f"<h3>{esc(name)}</h3><pre>"
                         f"{esc(json.dumps(run.json(name), indent=1))}</pre>")
        else:
            listed.append(f"<li><code>{esc(name)}</code> "
                          f"({(run.path / name).stat().st_size:,} bytes)</li>")
            run.shown.add(name)
    if listed:
        parts.append("<p>Further files (binary or large, not rendered):</p><ul>"
                     + "".join(listed) + "</ul>")
    return "\n".join(parts)


def _when(record: dict[str, Any]) -> str:
    """'started ... and finished ...' from ``run.json`` (``created_utc`` is the start).

    A run folder written before ``finished_utc`` was recorded falls back on the completion
    time of its last step.
    """
    start = record.get("created_utc")
    end = record.get("finished_utc")
    if end is None:
        done = [s.get("completed_utc") for s in (record.get("steps") or {}).values()
                if isinstance(s, dict) and s.get("completed_utc")]
        end = max(done) if done else None
    if end is None:
        return f"started {esc(start or '?')} (no finishing time recorded)"
    return f"started {esc(start or '?')} and finished {esc(end)}"


def render_report(run_dir: str | os.PathLike[str]) -> str:
    """The HTML text of the report of a run folder.

    Parameters
    ----------
    run_dir : path-like
        Output folder of ``vlms-bayes run``.

    Returns
    -------
    str
        A complete, self-contained HTML document.

    Raises
    ------
    InputDataError
        When the folder does not exist or is not a run folder (no ``run.json``).
    """
    run = RunFolder(run_dir)
    if not run.path.is_dir():
        raise InputDataError(f"{run.path} is not a folder; give the output folder of "
                             "'vlms-bayes run' with --run DIR.")
    record = run.json("run.json")
    if record is None and not run.has("vlms_companions_stacked.csv"):
        raise InputDataError(f"{run.path} has no run.json, so it is not the output folder of a "
                             "finished 'vlms-bayes run'; run it first (vlms-bayes run --outdir "
                             f"{run.path}).")
    missing = "" if record is not None else notice(
        "run.json is missing from this folder: the data sources, settings and timings cannot "
        "be shown.", kind="warning")
    record = record or {}
    body = [missing, rs.headlines(run), rs.data_section(run, record), rs.baseline_section(run),
            rr.bayes_section(run), rr.comparison_section(run), rr.feasibility_section(run),
            rs.sources_section(run, record), rs.run_section(run, record)]
    body.append(_other_outputs(run))
    meta = (f"Output folder <code>{esc(run.path.resolve())}</code>; command "
            f"<code>{esc(record.get('command', '?'))}</code> {_when(record)} with vlms-bayes "
            f"{esc(record.get('environment', {}).get('vlms_bayes', '?'))}; "
            f"page generated by vlms-bayes {esc(__version__)}. Every sentence below is "
            "computed from the files of this folder.")
    return _PAGE.substitute(version=esc(__version__), meta=meta, body="\n".join(body),
                            title="vlms-bayes report: giant companions of very-low-mass stars")


def write_report(run_dir: str | os.PathLike[str], *,
                 output: str | os.PathLike[str] | None = None) -> Path:
    """Write ``report.html`` for a finished run folder (atomically) and return its path.

    Parameters
    ----------
    run_dir : path-like
        Output folder of ``vlms-bayes run`` (``run.json`` and whatever steps it ran).
    output : path-like, optional
        Where to write the page; default ``run_dir/report.html``.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    text = render_report(run_dir)
    return write_text(Path(output) if output is not None else Path(run_dir) / REPORT_NAME, text)
