"""report.html from a real (small) run folder: content computed from the files, every file
shown, self-contained, and every image loads in headless Chromium.

The browser test needs Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it
when it runs as root). Without it the test skips, stating why, unless
``VLMS_BAYES_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes it fail.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.errors import InputDataError
from vlms_bayes.report.format import fmt, fmt_prob
from vlms_bayes.report.html import render_report

REQUIRE_BROWSER = os.environ.get("VLMS_BAYES_REQUIRE_BROWSER", "") not in ("", "0", "false")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic")


def _run_options() -> set[str]:
    from vlms_bayes.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {o for a in sub.choices["run"]._actions for o in a.option_strings}


def _no_fit_flags() -> list[str]:
    """``run`` without the Bayesian fit, whichever way this version spells it."""
    return ["--no-fit"] if "--no-fit" in _run_options() else []


def _fit_flags() -> list[str]:
    return ["--fit"] if "--fit" in _run_options() else []


def _run(out: Path, ps: Path, data: Path, *extra: str) -> Path:
    rc = main(["-q", "run", "--ps", str(ps), "--data-dir", str(data), "--outdir", str(out),
               "--seed", "5", "--n-boot", "20", "--grid", "4", "--mc-draws", "8",
               "--secular-check", "0", "--feasibility-backend", "numba",
               "--integrate-candidates", "0", "0", "0", "--probability-systems", "2000",
               *extra])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def small_run(ps_snapshot, shared_data_dir, tmp_path_factory):
    """`vlms-bayes run` with data, baselines and figures only (seconds, not minutes)."""
    return _run(tmp_path_factory.mktemp("report") / "results", ps_snapshot, shared_data_dir,
                *_no_fit_flags(), "--skip-feasibility")


@pytest.fixture(scope="module")
def fit_run(ps_snapshot, shared_data_dir, tmp_path_factory):
    """Every step, with a tiny sampler (its diagnostics fail; the report must say so)."""
    out = _run(tmp_path_factory.mktemp("report_fit") / "results", ps_snapshot,
               shared_data_dir, *_fit_flags(), "--chains", "2", "--draws", "40", "--tune", "40",
               "--loo-components", "1", "2", "--allow-bad-diagnostics")
    assert main(["-q", "report", "--run", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def report(small_run):
    assert main(["-q", "report", "--run", str(small_run)]) == 0
    path = small_run / "report.html"
    return path, path.read_text(encoding="utf-8")


def _text(page: str) -> str:
    """Visible text of the page, whitespace collapsed."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(page))


def _check_complete(run_dir: Path, page: str) -> None:
    pngs = sorted(p.name for p in run_dir.glob("*.png"))
    for name in pngs:
        m = re.search(rf'<figure id="{re.escape(name)}"><img src="data:image/png;base64,'
                      r'([A-Za-z0-9+/=]+)"', page)
        assert m, name
        assert base64.b64decode(m.group(1)) == (run_dir / name).read_bytes()
    for p in run_dir.iterdir():
        if p.is_file() and p.name != "report.html":
            assert p.name in page, f"{p.name} not in the report"
    # self-contained: no scripts, no external resources
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "Other outputs" not in _text(page)  # every file of a run has its section


def test_every_figure_inlined_and_every_file_mentioned(small_run, report):
    assert len(list(small_run.glob("*.png"))) >= 2  # the catalogue figures
    _check_complete(small_run, report[1])


def test_headlines_without_fit_come_from_baselines_and_map(small_run, report):
    text = _text(report[1])
    gmm = json.loads((small_run / "gmm_summary.json").read_text())
    bic = {int(k): v for k, v in gmm["bic"].items()
           if v is not None and int(k) not in gmm["degenerate"]}
    lo, hi = sorted(bic, key=bic.get)[:2]
    assert (f"No Bayesian fit: the frequentist GMM/BIC prefers K = {lo} by ΔBIC = "
            f"{fmt(bic[hi] - bic[lo])} over K = {hi}") in text
    ks = dict(ln.split(" = ", 1) for ln in (small_run / "ks_test_e.txt").read_text()
              .splitlines() if " = " in ln)
    assert f"D = {fmt(ks['statistic D'])}, p = {fmt(ks['p-value'])}" in text
    assert "No Bayesian fit in this folder" in text  # the notices of the missing parts
    assert "--skip-feasibility" in text and "No feasibility map in this folder" in text


def test_feasibility_text_from_a_known_map(small_run, tmp_path):
    """A map with known fractions: the page states its mean, share of cells and ranges."""
    for p in small_run.iterdir():
        shutil.copy(p, tmp_path / p.name)
    m = np.geomspace(0.01, 0.6, 5)
    a = np.geomspace(5.0, 5000.0, 6)
    f = np.zeros((5, 6))
    f[1, 2], f[3, 4], f[2, 3] = 0.2, 0.05, 0.005  # the last one is below 1%
    crit = np.array(["stable_triple", "kl_time", "reach"])
    lim = np.full(f.shape, 2)
    lim[0, :] = 0
    settings = {"target": {"name": "Test b", "m_star_msun": 0.2, "mass_mj": 0.3, "a_au": 0.03},
                "n_draws": 10, "horizon_gyr": 1.0}
    np.savez(tmp_path / "feasibility_map.npz", feasible_fraction=f, m_out_msun=m, a_out_au=a,
             criteria=crit, limiting_criterion=lim, settings_json=np.array(json.dumps(settings)),
             backend=np.array("numba"))
    text = _text(render_report(tmp_path))
    assert f"bring Test b to its orbit in a {fmt(100 * f.mean(), 2)}% mean fraction" in text
    assert f"{fmt(100 * 2 / 30, 2)}% of the cells reach ≥ 1% of draws" in text
    assert (f"for perturbers of {fmt(m[1])}–{fmt(m[3])} M☉ at {fmt(a[2])}–{fmt(a[4])} AU "
            f"(best cell 20% at {fmt(m[1])} M☉, {fmt(a[2])} AU)") in text
    assert "reach 80%, stable_triple 20%" in text
    assert "grid of 5 × 6 perturbers" in text


def test_reference_and_sources(small_run, report):
    text = _text(report[1])
    st = pd.read_csv(small_run / "vlms_companions_stacked.csv")
    assert f"{int(st.in_window.sum())} companions orbit hosts" in text
    toi = st[st.is_reference].iloc[0]
    assert f"Reference object TOI-6894 b: host {fmt(toi.st_mass)} M☉ (outside the window)" in text
    rec = json.loads((small_run / "run.json").read_text())
    assert rec["inputs"]
    for src in rec["inputs"].values():
        assert src["sha256"] in text and str(src["date"]) in text


def test_unknown_and_missing_files(small_run, tmp_path):
    """Files the sections do not know are still shown; a missing table gets a notice."""
    for p in small_run.iterdir():
        if p.name != "duplicates_dropped.csv":
            shutil.copy(p, tmp_path / p.name)
    pd.DataFrame({"x": [1.5, 2.5]}).to_csv(tmp_path / "some_new_table.csv", index=False)
    (tmp_path / "notes.txt").write_text("a note from a newer step")
    text = _text(render_report(tmp_path))
    assert "Other outputs" in text and "some_new_table.csv" in text
    assert "a note from a newer step" in text
    stacked = tmp_path / "vlms_companions_stacked.csv"
    saved = stacked.rename(tmp_path / "elsewhere.bin")
    assert "vlms_companions_stacked.csv is missing from this folder" in _text(
        render_report(tmp_path))
    (tmp_path / "run.json").unlink()  # e.g. rendered before run.json is written
    with pytest.raises(InputDataError, match=r"no run\.json"):
        render_report(tmp_path)
    saved.rename(stacked)
    assert "run.json is missing from this folder" in _text(render_report(tmp_path))


@pytest.mark.slow
def test_fit_run_headlines_come_from_the_files(fit_run):
    page = (fit_run / "report.html").read_text(encoding="utf-8")
    _check_complete(fit_run, page)
    text = _text(page)
    fit = json.loads((fit_run / "fit_summary.json").read_text())
    best, second = fit["loo"][0], fit["loo"][1]
    assert f"prefer {best['model']} populations over {second['model']}" in text
    assert f"ΔELPD = {fmt(abs(second['elpd_diff']))} ± {fmt(second['dse'])}" in text
    cmp = json.loads((fit_run / "comparison.json").read_text())
    p = cmp["eccentricity"]["posterior_P_mean_e_binary_gt_planet"]
    n = cmp["eccentricity"]["n_draws"]
    assert f"P(mean e of binary-like > planet-like) = {fmt_prob(p, n)}" in text
    assert not fit["diagnostics"]["passed"]  # tiny sampler: the page must warn
    assert "did not pass its diagnostics gate" in text
    # the posterior predictive checks per method, in words in the headline part
    from vlms_bayes.inference.ppc_report import ppc_verdict_text

    verdict = ppc_verdict_text(fit["ppc"])
    headline_part = _text(page.split('<section class="headlines">')[1].split("</section>")[1]
                          .split("<h2")[0])
    assert verdict in headline_part
    assert ("FAIL their posterior predictive check" in verdict) == bool(fit["ppc"]["failing"])
    obj = pd.read_csv(fit_run / "objects_with_probs.csv")
    toi = obj[obj["name"] == "TOI-6894 b"].iloc[0]
    assert f"TOI-6894 b: P(binary-like) = {fmt_prob(toi.P_binary_like)}" in text
    # the default fit is selection-aware: the page says how much of the naive method split
    # was selection, with the numbers of comparison.json
    sel = cmp["selection"]
    assert "Detection-method selection: naive vs selection-aware" in text
    assert (f"is {fmt(sel['method_split_naive'])} naive and "
            f"{fmt(sel['method_split_selection'])} selection-aware") in text


def test_not_a_run_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "--run", str(tmp_path)]) == 2
    assert "no run.json" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def _chromium() -> str:
    exe = shutil.which("chromium") or ("/usr/bin/chromium"
                                       if Path("/usr/bin/chromium").exists() else None)
    if exe is None:
        msg = ("Debian's chromium is not installed (apt-get install chromium); it is needed to "
               "check that report.html's images load")
        if REQUIRE_BROWSER:
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


_PROBE = """<script>
window.addEventListener('load', function () {
  var out = [];
  for (var i = 0; i < document.images.length; i++) {
    var im = document.images[i];
    out.push({alt: im.alt, w: im.naturalWidth, h: im.naturalHeight, complete: im.complete});
  }
  var pre = document.createElement('pre');
  pre.textContent = 'IMGCHECK' + JSON.stringify(out) + 'ENDCHECK';
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.parametrize("which", ["small_run", pytest.param("fit_run", marks=pytest.mark.slow)])
def test_every_image_loads_in_headless_chromium(which, request, tmp_path):
    exe = _chromium()
    run_dir = request.getfixturevalue(which)
    if not (run_dir / "report.html").exists():
        assert main(["-q", "report", "--run", str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    # a test-only copy with a probe that writes each image's natural size into the DOM
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    proc = subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    m = re.search(r"IMGCHECK(.*?)ENDCHECK", proc.stdout.split("</script>")[-1])
    assert m, f"no probe output; chromium exit {proc.returncode}: {proc.stderr[-2000:]}"
    images = json.loads(m.group(1))
    assert len(images) == len(list(run_dir.glob("*.png"))) > 0
    bad = [im for im in images if not (im["complete"] and im["w"] > 0 and im["h"] > 0)]
    assert not bad, bad


def test_header_gives_start_and_real_finishing_time(small_run, report):
    """The header said "finished <created_utc>", which is when the run started."""
    rec = json.loads((small_run / "run.json").read_text())
    start, end = rec["created_utc"], rec["finished_utc"]
    done = max(s["completed_utc"] for s in rec["steps"].values())
    assert start <= done <= end
    assert f"started {start} and finished {end}" in _text(report[1])


def test_feasibility_text_leads_with_the_origin_probabilities(small_run, tmp_path):
    """With origin_probability.json the headline states both probabilities first, and a best
    cell whose interval holds the grid mean is not quoted (issue 16)."""
    for p in small_run.iterdir():
        shutil.copy(p, tmp_path / p.name)
    m = np.geomspace(0.01, 0.6, 3)
    a = np.geomspace(5.0, 5000.0, 4)
    f = np.full((3, 4), 0.02)
    f[1, 2] = 0.04  # 4/100 draws: its interval holds the mean
    ci = np.stack([np.full(f.shape, 0.002), np.full(f.shape, 0.1)])
    settings = {"target": {"name": "Test b"}, "n_draws": 100, "horizon_gyr": 1.0,
                "radii": "evolving", "lags": "prior"}
    np.savez(tmp_path / "feasibility_map.npz", feasible_fraction=f, m_out_msun=m, a_out_au=a,
             criteria=np.array(["stable_triple"]), limiting_criterion=np.zeros(f.shape, int),
             settings_json=np.array(json.dumps(settings)), backend=np.array("numba"),
             feasible_ci95=ci)
    rec = {"kozai_lidov": {"probability": 0.0037, "low": 0.0032, "high": 0.0042},
           "disk": {"probability": 0.59, "low": 0.58, "high": 0.60},
           "kozai_lidov_verdicts": "integrated"}
    (tmp_path / "origin_probability.json").write_text(json.dumps(rec))
    text = _text(render_report(tmp_path))
    assert ("with radii evolving with age; tidal lags drawn from their priors; the octupole "
            "candidates integrated; what they assume in full") in text
    i_kl = text.index(f"P(Kozai–Lidov origin) = {fmt(0.0037)}")
    assert f"P(disk migration) = {fmt(0.59)}" in text
    assert i_kl < text.index("mean fraction of draws over the perturber grid")
    assert "no single cell's 95% interval excludes the grid mean" in text
    assert "best cell 4%" not in text
