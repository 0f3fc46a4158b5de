"""`vlms-bayes run` end to end on the shared snapshot with a small sampler and map: every
artifact, SUMMARY.txt's headline numbers against the files they come from, skipping
unchanged steps, rerunning changed ones and their downstream, --force, resuming."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.data_io.files import sha256_of
from vlms_bayes.report.format import fmt_prob

# 2 x 40 draws after 40 warm-up steps: the size of the other tiny fits of the real sample
# (tests/report/test_report_html.py, tests/pipeline/test_robustness.py, the README's shrunk
# `run`, the tutorial's quick mode); draws and warm-up steps are constants of the compiled
# sampler, so fits of the same model and data share one compilation (session JAX cache)
SMALL_FIT = ["--chains", "2", "--draws", "40", "--tune", "40", "--loo-components", "1", "2",
             "--target-accept", "0.9", "--retry-target-accept", "0.9",
             "--allow-bad-diagnostics"]
SMALL_MAP = ["--grid", "8", "--mc-draws", "20", "--secular-check", "5",
             "--integrate-candidates", "0", "0", "0", "--probability-systems", "2000",
             "--feasibility-backend", "numba"]
# the default fit is selection-aware, so the run adds the naive fit beside it
ALL_STEPS = ["data", "baselines", "figures", "fit", "fit_naive", "comparison", "feasibility",
             "summary"]


pytestmark = pytest.mark.usefixtures("jax_test_cache")


def _args(ps, data_dir, out, *extra):
    return ["run", "--ps", str(ps), "--data-dir", str(data_dir), "--outdir", str(out),
            "--seed", "3", "--n-boot", "50", *extra]


def _record(out):
    return json.loads((Path(out) / "run.json").read_text())


def _hashes(out, *, exclude=("run.json",)):
    return {p.name: sha256_of(p) for p in sorted(Path(out).iterdir())
            if p.is_file() and p.name not in exclude}


@pytest.fixture(scope="module")
def full_run(ps_snapshot, shared_data_dir, tmp_path_factory):
    """The default command (fit and map on) with a small sampler and map."""
    out = tmp_path_factory.mktemp("run_full") / "results"
    assert main(["-q", *_args(ps_snapshot, shared_data_dir, out, *SMALL_FIT, *SMALL_MAP)]) == 0
    return out


def test_every_artifact(full_run):
    names = {p.name for p in full_run.iterdir()}
    assert {"vlms_companions_stacked.csv", "gmm_summary.json", "beta_e_params.csv",
            "ks_test_e.txt", "logistic_summary.json", "logistic_coefficients.csv",
            "logistic_auroc.txt", "objects_with_probs.csv", "fig1_massmass.png", "fig2_ae.png",
            "posterior.nc", "fit_summary.json", "memberships.csv", "stacked_used.csv",
            "loo_comparison.csv", "comparison.md", "comparison.json",
            "membership_disagreements.csv", "fig_bayes_memberships.png",
            "feasibility_map.npz", "feasibility_sensitivity.csv", "disk_migration.csv",
            "fig3_feasibility.png", "fig_disk_migration.png", "secular_check.csv",
            "SUMMARY.txt", "run.json"} <= names
    assert ".staging" not in names
    rec = _record(full_run)
    assert rec["complete"] and list(rec["steps"]) == ALL_STEPS
    assert rec["steps_ran"] == ALL_STEPS and set(rec["timings_s"]) == set(ALL_STEPS)
    for name, step in rec["steps"].items():  # every recorded output is there, as recorded
        assert len(step["key"]) == 64
        for fname, digest in step["outputs"].items():
            if (name, fname) != ("baselines", "objects_with_probs.csv"):  # the fit adds to it
                assert sha256_of(full_run / fname) == digest, fname
    assert rec["steps"]["fit"]["upstream"] == {"data": rec["steps"]["data"]["key"],
                                               "baselines": rec["steps"]["baselines"]["key"]}
    assert rec["config"]["feasibility"]["target"]["m_star_msun"] == 0.207
    assert rec["config"]["fit"]["loo_components"] == [1, 2]
    obj = pd.read_csv(full_run / "objects_with_probs.csv")
    toi = obj[obj.name == "TOI-6894 b"].iloc[0]
    assert 0.0 <= toi.P_binary_like <= 1.0 and 0.0 <= toi.P_binary_like_logistic <= 1.0
    for png in ("fig1_massmass.png", "fig3_feasibility.png", "fig_bayes_memberships.png"):
        assert (full_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _grab(pattern, text):
    m = re.search(pattern, text)
    assert m, pattern
    return [float(g) for g in m.groups()]


def test_summary_leads_with_headlines_that_match_the_files(full_run, ps_snapshot):
    text = (full_run / "SUMMARY.txt").read_text()
    assert text.splitlines()[3] == "HEADLINE NUMBERS"
    head = text.split("\n\n")[1]
    # 1. LOO ELPD difference K=2 vs K=1 (with the SE of the difference) and the BIC
    loo = pd.read_csv(full_run / "loo_comparison.csv").set_index("model")
    best = loo.index[0]
    assert f"PSIS-LOO prefers {best}" in head
    d, se = _grab(r"ELPD\(K=2\) - ELPD\(K=1\) = (-?[\d.]+) ± ([\d.]+)", head)
    assert d == pytest.approx(loo.loc["K=2", "elpd_loo"] - loo.loc["K=1", "elpd_loo"], abs=0.006)
    other = "K=1" if best == "K=2" else "K=2"
    assert se == pytest.approx(loo.loc[other, "dse"], abs=0.006)
    g = json.loads((full_run / "gmm_summary.json").read_text())
    (dbic,) = _grab(r"BIC\(K=1\) - BIC\(K=2\) = (-?[\d.]+)", head)
    assert dbic == pytest.approx(g["bic"]["1"] - g["bic"]["2"], abs=0.006)
    assert f"GMM BIC prefers K={g['winner']}" in head
    # 2. posterior probability that the mean eccentricities differ, and the KS test
    ecc = json.loads((full_run / "comparison.json").read_text())["eccentricity"]
    # a number to 3 decimals, or a bound with the draws where it would print as 0 or 1
    m = re.search(r"P\(mean e binary-like > planet-like\) = ([^;]+);", head)
    assert m and m.group(1) == fmt_prob(ecc["posterior_P_mean_e_binary_gt_planet"],
                                        ecc["n_draws"])
    ks = (full_run / "ks_test_e.txt").read_text()
    ks_d = float(re.search(r"statistic D = ([\d.eE+-]+)", ks).group(1))
    ks_p = float(re.search(r"p-value = ([\d.eE+-]+)", ks).group(1))
    got_d, got_p = _grab(r"D = ([\d.]+), p = ([\d.eE+-]+)", head)
    assert got_d == pytest.approx(ks_d, abs=6e-5) and got_p == pytest.approx(ks_p, rel=1e-3)
    # 3. feasible fraction of perturber space and where it lies, from the map itself
    z = np.load(full_run / "feasibility_map.npz")
    feas = z["feasible_fraction"]
    (mean_f,) = _grab(r"mean feasible fraction of perturber space = ([\d.]+)", head)
    assert mean_f == pytest.approx(feas.mean(), abs=6e-5)
    ok = feas >= 0.01
    if ok.any():
        mi, ai = np.nonzero(ok)
        m0, m1, a0, a1 = _grab(r"span m_out ([\d.e+-]+)-([\d.e+-]+) Msun, "
                               r"a_out ([\d.e+-]+)-([\d.e+-]+) AU", head)
        # printed with 3 significant figures: half a unit of the third is ≤ 5e-3 relative
        # (1863.8 prints as 1860)
        assert m0 == pytest.approx(z["m_out_msun"][mi.min()], rel=5e-3)
        assert m1 == pytest.approx(z["m_out_msun"][mi.max()], rel=5e-3)
        assert a0 == pytest.approx(z["a_out_au"][ai.min()], rel=5e-3)
        assert a1 == pytest.approx(z["a_out_au"][ai.max()], rel=5e-3)
    # 4. the reference's membership, each method's mean membership and their range, and
    # the posterior predictive verdict in words
    fit = json.loads((full_run / "fit_summary.json").read_text())
    (p_ref,) = _grab(r"4\. Memberships: TOI-6894 b P\(binary-like\) = ([\d.e+-]+)", head)
    assert p_ref == pytest.approx(fit["reference"][0]["P_binary_like"], rel=5e-3)
    g = pd.read_csv(full_run / "memberships.csv").groupby("discoverymethod")["P_binary_like"]
    means, sizes = g.mean(), g.size()
    for m, v in means.items():
        assert f"{m} {v:.2f} (n={sizes[m]})" in head
    (split,) = _grab(r"method split \(range over methods with >= 3 objects\) ([\d.]+)", head)
    big = means[sizes >= 3]
    assert split == pytest.approx(big.max() - big.min(), abs=6e-3)
    failing = [m for m, r in fit["ppc"]["methods"].items() if r["verdict"] == "fail"]
    (check,) = [ln for ln in head.splitlines() if ln.startswith("   Model check: ")]
    assert ("FAIL" in check) == bool(failing) and all(m in check for m in failing)
    # data sources with dates and hashes
    assert sha256_of(ps_snapshot) in text and "date 2025-08-07" in text
    assert "BAYESIAN MIXTURE" in text and "MIGRATION FEASIBILITY" in text


def test_headline_numbers_reads_the_files(full_run):
    from vlms_bayes.report.headlines import headline_numbers

    h = headline_numbers(full_run)
    assert h == _record(full_run)["steps"]["summary"]["payload"]["headlines"]
    loo = pd.read_csv(full_run / "loo_comparison.csv")
    assert h["model_choice"]["loo_best"] == loo.model.iloc[0]
    assert [r["model"] for r in h["model_choice"]["loo"]] == list(loo.model)
    p = h["eccentricity"]["P_mean_e_binary_gt_planet"]
    assert 0 <= p <= 1 and h["eccentricity"]["P_differ_in_sign"] == max(p, 1 - p)
    q05, q50, q95 = h["eccentricity"]["mean_e_difference_q05_q50_q95"]
    assert q05 <= q50 <= q95
    assert h["feasibility"]["target"] == "TOI-6894 b"
    assert 0 <= h["feasibility"]["mean_feasible_fraction"] <= h["feasibility"][
        "best_cell_fraction"] <= 1


def test_selection_aware_run_adds_the_naive_fit_and_says_what_was_selection(full_run):
    """The default run is selection-aware (`run --selection methods`, which
    tests/inference/test_selection_fit.py::test_cli_selection_option holds equal to the
    default): the naive fit of the same rows in naive_fit/, compared per method in
    comparison.json, SUMMARY.txt and the figure. (Its unchanged second run, the naive fit
    included, is test_second_run_skips_every_step.)"""
    out = full_run
    rec = _record(out)
    assert rec["config"]["fit"]["selection"] == "methods"
    assert rec["steps"]["comparison"]["upstream"]["fit_naive"] == \
        rec["steps"]["fit_naive"]["key"]
    fit = json.loads((out / "fit_summary.json").read_text())
    naive = json.loads((out / "naive_fit" / "fit_summary.json").read_text())
    assert fit["selection"]["mode"] == "methods" and naive["selection"] == {"mode": "none"}
    assert naive["n_objects"] == fit["n_objects"]
    assert sha256_of(out / "naive_fit" / "posterior.nc") == \
        rec["steps"]["fit_naive"]["outputs"]["naive_fit/posterior.nc"]
    sel = json.loads((out / "comparison.json").read_text())["selection"]
    assert {r["name"] for r in sel["reference"]} == {"TOI-6894 b"}
    per = pd.DataFrame(sel["per_method"])
    members = pd.read_csv(out / "naive_fit" / "memberships.csv")
    naive_mean = members.groupby("discoverymethod")["P_binary_like"].mean()
    np.testing.assert_allclose(per.set_index("discoverymethod")["mean_P_naive"],
                               naive_mean.loc[per["discoverymethod"]], rtol=1e-12)
    summary = (out / "SUMMARY.txt").read_text()
    assert "SELECTION: NAIVE vs SELECTION-AWARE FIT" in summary
    assert f"naive {sel['method_split_naive']:.3g}, selection-aware" in summary
    assert (out / "fig_selection_methods.png").read_bytes()[:4] == b"\x89PNG"


def test_second_run_skips_every_step(full_run, ps_snapshot, shared_data_dir, capsys):
    before = _hashes(full_run)
    argv = _args(ps_snapshot, shared_data_dir, full_run, *SMALL_FIT, *SMALL_MAP)
    assert main([*argv, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""   # --quiet: nothing but errors
    rec = _record(full_run)
    assert rec["steps_ran"] == [] and rec["complete"]
    assert _hashes(full_run) == before


def test_changed_setting_reruns_its_step_and_downstream(full_run, ps_snapshot, shared_data_dir,
                                                       caplog):
    before = _hashes(full_run)
    small_map = [a if a != "5" else "4" for a in SMALL_MAP]  # --secular-check 4
    with caplog.at_level("INFO", logger="vlms_bayes"):
        assert main(_args(ps_snapshot, shared_data_dir, full_run, *SMALL_FIT, *small_map)) == 0
    rec = _record(full_run)
    assert rec["steps_ran"] == ["feasibility", "summary"]
    assert rec["config"]["feasibility"]["secular_triples"] == 4
    after = _hashes(full_run)
    for name in ("posterior.nc", "loo_comparison.csv", "objects_with_probs.csv",
                 "comparison.json", "gmm_summary.json"):
        assert after[name] == before[name]
    assert len(pd.read_csv(full_run / "secular_check.csv")) == 4
    # one progress line per step, with its timing
    assert re.search(r"\[feasibility\] done in [\d.]+ s", caplog.text)
    assert "[fit] skipped (unchanged" in caplog.text


def test_leaving_the_fit_out_removes_its_files(full_run, ps_snapshot, shared_data_dir):
    """Runs 5 and later on the full folder: --no-fit drops the fit's files and restores the
    baselines' own objects_with_probs.csv (the fit had added its columns)."""
    small_map = [a if a != "5" else "4" for a in SMALL_MAP]  # as the previous test left it
    assert main(["-q", *_args(ps_snapshot, shared_data_dir, full_run, "--no-fit",
                              *small_map)]) == 0
    rec = _record(full_run)
    assert list(rec["steps"]) == ["data", "baselines", "figures", "feasibility", "summary"]
    assert rec["steps_ran"] == ["baselines", "summary"]
    for gone in ("posterior.nc", "loo_comparison.csv", "comparison.json", "memberships.csv"):
        assert not (full_run / gone).exists(), gone
    assert "P_binary_like" not in pd.read_csv(full_run / "objects_with_probs.csv").columns
    assert "no PSIS-LOO comparison" in (full_run / "SUMMARY.txt").read_text()


KEY_FILES = ("vlms_companions_stacked.csv", "gmm_summary.json", "beta_e_params.csv",
             "ks_test_e.txt", "objects_with_probs.csv", "logistic_summary.json",
             "fig1_massmass.png", "fig2_ae.png", "SUMMARY.txt")


@pytest.fixture(scope="module")
def quick_run(ps_snapshot, shared_data_dir, tmp_path_factory):
    """Data, baselines, figures, summary only (seconds)."""
    out = tmp_path_factory.mktemp("run_quick") / "results"
    argv = _args(ps_snapshot, shared_data_dir, out, "--no-fit", "--skip-feasibility")
    assert main(["-q", *argv]) == 0
    return out, argv


def test_interrupted_run_resumes(quick_run, ps_snapshot, shared_data_dir, tmp_path,
                                 monkeypatch):
    ref, _ = quick_run
    out = tmp_path / "results"
    argv = _args(ps_snapshot, shared_data_dir, out, "--no-fit", "--skip-feasibility")
    import vlms_bayes.pipeline.run as run_mod

    def killed(*a, **k):
        raise KeyboardInterrupt("simulated kill in the middle of the figures step")

    monkeypatch.setattr(run_mod, "plot_e_vs_a", killed)
    assert main(["-q", *argv]) == 130
    rec = _record(out)
    assert not rec["complete"] and list(rec["steps"]) == ["data", "baselines"]
    assert not (out / "fig1_massmass.png").exists()  # figures: nothing half-published
    assert not (out / "SUMMARY.txt").exists()
    monkeypatch.undo()
    assert main(["-q", *argv]) == 0
    rec = _record(out)
    assert rec["complete"] and rec["steps_ran"] == ["figures", "summary"]
    assert not (out / ".staging").exists()
    want, got = _hashes(ref), _hashes(out)
    for name in KEY_FILES:
        assert got[name] == want[name], name


def test_force_recomputes_everything(quick_run, capsys):
    out, argv = quick_run
    before = _hashes(out)
    assert main([*argv, "--force"]) == 0
    printed = capsys.readouterr().out
    assert printed == (out / "SUMMARY.txt").read_text()  # without -q: the summary
    rec = _record(out)
    assert rec["steps_ran"] == ["data", "baselines", "figures", "summary"]
    assert "fit" not in rec["steps"] and not (out / "posterior.nc").exists()
    # same seed, same numbers (report.html names the run's creation time, like run.json)
    skip = ("run.json", "report.html")
    assert _hashes(out, exclude=skip) == {k: v for k, v in before.items() if k not in skip}
    assert "1. Populations: no PSIS-LOO comparison" in printed


def test_config_file_drives_the_run(quick_run, ps_snapshot, shared_data_dir, tmp_path):
    ref, _ = quick_run
    cfg = tmp_path / "run.toml"
    cfg.write_text(f"seed = 3\noutdir = 'res'\n[data]\nps = '{ps_snapshot}'\n"
                   f"data_dir = '{shared_data_dir}'\n[baseline]\nn_boot = 7\n"
                   "[fit]\nenabled = false\n[feasibility]\nenabled = false\n")
    assert main(["-q", "run", "--config", str(cfg), "--n-boot", "50"]) == 0
    out = tmp_path / "res"
    rec = _record(out)
    assert rec["config"]["baseline"]["n_boot"] == 50 and rec["seeds"]["master"] == 3
    assert list(rec["steps"]) == ["data", "baselines", "figures", "summary"]
    assert sha256_of(out / "beta_e_params.csv") == sha256_of(ref / "beta_e_params.csv")


def test_html_report_step_writes_report_html(quick_run, monkeypatch):
    from vlms_bayes.pipeline import run as run_mod

    out, _ = quick_run
    calls = []
    monkeypatch.setattr(run_mod, "write_report",
                        lambda run_dir: calls.append(run_dir) or run_dir / "report.html")
    assert run_mod.write_html_report(out) == out / "report.html"
    assert calls == [out]
    assert (out / "report.html").is_file()  # written by the run itself


def test_failed_diagnostics_gate_stops_after_the_finished_steps(ps_snapshot, shared_data_dir,
                                                                tmp_path, capsys):
    """2 chains x 40 draws on the real data fail the gate (ESS < 400): the run stops at the
    fit with a message saying what to do and where the draws are (OUTDIR/rejected/),
    keeping the steps before it for the next run; nothing downstream sees the fit."""
    out = tmp_path / "results"
    tiny = [a for a in SMALL_FIT if a != "--allow-bad-diagnostics"]
    i = tiny.index("--loo-components")
    tiny = tiny[:i + 1] + tiny[i + 3:]  # no LOO fits
    rc = main(["-q", *_args(ps_snapshot, shared_data_dir, out, *tiny, "--skip-feasibility")])
    assert rc == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "diagnostics failed the gate" in err and "--allow-bad-diagnostics" in err
    assert f"{out.resolve() / 'rejected'}" in err and "--draws 80 --tune 80" in err
    rec = _record(out)
    assert not rec["complete"] and list(rec["steps"]) == ["data", "baselines", "figures"]
    assert rec["stopped_at"]["step"] == "fit"
    for step in rec["steps"].values():  # the finished steps are kept, as recorded
        for fname, digest in step["outputs"].items():
            assert sha256_of(out / fname) == digest, fname
    for fname in ("posterior.nc", "fit_summary.json", "memberships.csv", "comparison.json",
                  "SUMMARY.txt", "report.html"):
        assert not (out / fname).exists(), fname
    rej = out / "rejected"
    summary = json.loads((rej / "fit_summary.json").read_text())
    assert summary["gate"] == "failed" and summary["failures"]
    assert {"posterior.nc", "diagnostics.csv", "VERDICT.txt", "run.json"} <= {
        p.name for p in rej.iterdir()}
    assert json.loads((rej / "run.json").read_text())["step"] == "fit"


@pytest.mark.slow  # ~25 s of sampling; the main fit's gate path stays in the default run
def test_rejected_naive_fit_is_kept_and_left_out_of_the_comparison(
        ps_snapshot, shared_data_dir, tmp_path, monkeypatch):
    """The naive fit beside the selection-aware one obeys the gate too: rejected, its draws
    are kept in naive_fit/rejected/, nothing else of it is published, the comparison,
    SUMMARY.txt and report.html leave the side-by-side out and say why, and the run
    completes. (The selection-aware fit gets a gate any posterior passes, the naive one a
    gate none does.)"""
    import dataclasses

    from vlms_bayes.inference.diagnostics import GateConfig
    from vlms_bayes.pipeline import run as run_mod

    real = run_mod.run_fit

    def gated(stacked, config, **kw):
        gate = (GateConfig(max_rhat=0.5) if config.selection is None else
                GateConfig(max_rhat=10.0, min_ess_bulk=1, min_ess_tail=1,
                           max_divergences=10**6, min_bfmi=0.0))
        return real(stacked, dataclasses.replace(config, gate=gate), **kw)

    monkeypatch.setattr(run_mod, "run_fit", gated)
    out = tmp_path / "results"
    assert main(["-q", *_args(ps_snapshot, shared_data_dir, out, "--chains", "2", "--draws",
                              "30", "--tune", "30", "--loo-components", "--target-accept",
                              "0.9", "--retry-target-accept", "0.9",
                              "--skip-feasibility")]) == 0
    rec = _record(out)
    assert rec["complete"] and rec["steps"]["fit_naive"]["payload"]["rejected"] is True
    assert set(rec["steps"]["fit_naive"]["outputs"]) == {
        f"naive_fit/rejected/{f}" for f in ("posterior.nc", "diagnostics.csv",
                                            "fit_summary.json", "VERDICT.txt",
                                            "stacked_used.csv")}
    assert [p.name for p in (out / "naive_fit").iterdir()] == ["rejected"]
    assert json.loads((out / "naive_fit" / "rejected" / "fit_summary.json").read_text()
                      )["gate"] == "failed"
    assert json.loads((out / "fit_summary.json").read_text())["gate"] == "passed"
    assert "selection" not in json.loads((out / "comparison.json").read_text())
    summary = " ".join((out / "SUMMARY.txt").read_text().split())
    assert "the naive fit failed its diagnostics gate" in summary
    assert "naive_fit/rejected/" in (out / "report.html").read_text()
