"""No compute thrown away: a fit that fails the diagnostics gate keeps its draws, its
per-parameter diagnostics and a verdict in a separate rejected/ folder, publishes none of a
passed fit's outputs, and is refused downstream; every object the fit leaves out is named.

The fits here are deliberately too short (2 chains x 30 draws), so the gate fails by
construction."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.models.simulate import simulate_catalogue

pytestmark = pytest.mark.usefixtures("jax_test_cache")

TOO_SHORT = dict(chains=2, draws=30, tune=30)


@pytest.fixture(scope="module")
def frame():
    f = simulate_catalogue(60, random_seed=7)
    # two objects the model cannot use: no semi-major axis, a mass that is only a limit
    f.loc[3, ["pl_orbsmax", "loga"]] = np.nan
    f.loc[5, "mass_is_limit"] = True
    return f


@pytest.fixture(scope="module")
def rejected(frame, tmp_path_factory):
    """A too-short naive fit with the retry: both attempts fail the gate."""
    from vlms_bayes.errors import GateRejectedError
    from vlms_bayes.inference.fit import FitConfig, run_fit

    root = tmp_path_factory.mktemp("rejected")
    stage = root / "stage"
    stage.mkdir()
    cfg = FitConfig(**TOO_SHORT, selection=None, target_accept=0.9, retry_target_accept=0.95)
    with pytest.raises(GateRejectedError) as info:
        run_fit(frame, cfg, outdir_path=stage, seed=5, rejected_dir=root / "rejected",
                run_info={"command": "test"})
    return root, info.value


def test_too_short_fit_keeps_its_draws_in_rejected(rejected):
    import xarray as xr

    root, exc = rejected
    rej = root / "rejected"
    assert exc.rejected_dir == rej and exc.failures
    assert list((root / "stage").iterdir()) == []  # none of a passed fit's outputs
    assert {p.name for p in rej.iterdir()} == {
        "posterior.nc", "posterior_attempt1.nc", "diagnostics.csv", "fit_summary.json",
        "VERDICT.txt", "stacked_used.csv", "run.json"}
    summary = json.loads((rej / "fit_summary.json").read_text())
    assert summary["gate"] == "failed" and summary["rejected"] is True
    assert summary["failures"] == exc.failures == summary["diagnostics"]["failures"]
    assert [a["target_accept"] for a in summary["attempts"]] == [0.9, 0.95]
    assert not any(a["passed"] for a in summary["attempts"])
    assert any("--draws 60 --tune 60" in a for a in summary["advice"])
    assert "--allow-bad-diagnostics" in summary["advice"][-1]
    assert json.loads((rej / "run.json").read_text())["gate"] == "failed"
    for name, attempt in (("posterior.nc", 2), ("posterior_attempt1.nc", 1)):
        dt = xr.open_datatree(rej / name, engine="h5netcdf")
        assert dt.attrs["gate"] == "failed" and int(dt.attrs["attempt"]) == attempt
        assert dt["posterior"].sizes["draw"] == 30 and dt["posterior"].sizes["chain"] == 2
        assert "log_likelihood" in dt.children  # complete, as a passed fit's would be
    # the message says where the draws are and what to change
    msg = str(exc)
    assert str(rej) in msg and "diagnostics.csv" in msg and "--allow-bad-diagnostics" in msg
    assert "after a retry at target_accept=0.95" in msg and "--draws 60" in msg


def test_rejected_diagnostics_name_every_failing_parameter(rejected):
    """diagnostics.csv: R-hat and ESS of each parameter of each attempt, equal to ArviZ's,
    and the parameter the gate names as the worst R-hat is the first failing row."""
    import arviz as az
    import xarray as xr

    root, _ = rejected
    rej = root / "rejected"
    table = pd.read_csv(rej / "diagnostics.csv", keep_default_na=False)
    assert list(table.columns) == ["attempt", "target_accept", "parameter", "r_hat",
                                   "ess_bulk", "ess_tail", "fails"]
    summary = json.loads((rej / "fit_summary.json").read_text())
    last = table.loc[table["attempt"] == 2]
    dt = xr.open_datatree(rej / "posterior.nc", engine="h5netcdf")
    rhat = az.rhat(dt)
    for _, r in last.iterrows():
        var, _, pop = r["parameter"].partition("[")
        want = rhat[var].sel(population=pop.rstrip("]")) if pop else rhat[var]
        assert r["r_hat"] == pytest.approx(float(want.values), rel=1e-5)
    worst = summary["diagnostics"]["worst_variables"]["rhat"]
    if summary["diagnostics"]["max_rhat"] > 1.01:
        first = last.loc[last["fails"] != ""].iloc[0]
        assert first["parameter"].startswith(worst) and "R-hat" in first["fails"]
        assert first["r_hat"] == pytest.approx(summary["diagnostics"]["max_rhat"], rel=1e-5)
    verdict = (rej / "VERDICT.txt").read_text()
    assert verdict.startswith("REJECTED") and worst in verdict and "What to change" in verdict


def test_classify_and_compare_refuse_a_rejected_fit(rejected, capsys):
    from vlms_bayes.errors import InputDataError
    from vlms_bayes.inference.classify import load_posterior

    root, _ = rejected
    with pytest.raises(InputDataError, match="failed the diagnostics gate"):
        load_posterior(root / "rejected")
    assert main(["classify", "--posterior", str(root / "rejected")]) == 2
    assert "failed the diagnostics gate" in " ".join(capsys.readouterr().err.split())


def test_left_out_objects_are_named_with_their_reason(frame):
    from vlms_bayes.models.data import left_out_objects, model_data_from_stacked

    left = left_out_objects(frame)
    assert left["name"].tolist() == [frame.loc[3, "name"], frame.loc[5, "name"]]
    assert "no semi-major axis" in left["reason"].iloc[0]
    assert left["reason"].iloc[1] == "companion mass is only a limit"
    data, _ = model_data_from_stacked(frame)
    sample = set(frame.loc[frame["in_window"].astype(bool), "name"])
    assert set(data.names) | set(left["name"]) == sample
    assert not set(data.names) & set(left["name"])


def test_fit_names_what_it_leaves_out(rejected, frame, tmp_path, monkeypatch, caplog):
    """A published fit lists its left-out objects in left_out.csv, fit_summary.json, the
    report and one log warning; so does a rejected one (fit_summary.json)."""
    import xarray as xr

    from vlms_bayes.inference import fit as fit_mod
    from vlms_bayes.inference.diagnostics import GateConfig, diagnose

    root, _ = rejected
    rej_summary = json.loads((root / "rejected" / "fit_summary.json").read_text())
    names = [frame.loc[3, "name"], frame.loc[5, "name"]]
    assert [r["name"] for r in rej_summary["left_out"]] == names
    dt = xr.open_datatree(root / "rejected" / "posterior.nc", engine="h5netcdf")
    lax = diagnose(dt, gate=GateConfig(max_rhat=10, min_ess_bulk=1, min_ess_tail=1,
                                       max_divergences=10**6, min_bfmi=0))
    assert lax.passed
    monkeypatch.setattr(fit_mod, "fit_posterior", lambda *a, **k: (dt, lax, [lax.to_dict()]))
    out = tmp_path / "o"
    out.mkdir()
    with caplog.at_level(logging.WARNING, logger="vlms_bayes"):
        res = fit_mod.run_fit(frame, fit_mod.FitConfig(selection=None), outdir_path=out,
                              seed=1)
    warnings = [r.getMessage() for r in caplog.records if "leaves out" in r.getMessage()]
    assert len(warnings) == 1 and all(n in warnings[0] for n in names)
    left = pd.read_csv(out / "left_out.csv")
    assert left["name"].tolist() == names
    assert list(left.columns) == ["name", "discoverymethod", "source", "reason"]
    summary = json.loads((out / "fit_summary.json").read_text())
    assert [r["name"] for r in summary["left_out"]] == names and summary["gate"] == "passed"
    assert f"left out (left_out.csv): {names[0]}" in res.report


def test_cli_too_short_fit_leaves_its_draws_in_the_rejected_folder(ps_snapshot,
                                                                   shared_data_dir, tmp_path,
                                                                   capsys):
    """The promise end to end: `vlms-bayes fit` with far too few draws exits non-zero,
    publishes nothing but OUTDIR/rejected/, and says where the draws are and what to
    change; the left-out KMT-2024-BLG-1044L b (no semi-major axis) is named."""
    import xarray as xr

    out = tmp_path / "fit"
    # 2 x 40 draws (80 < the gate's 400 ESS): the size of the other tiny naive fits of the
    # real sample (tests/pipeline/test_run_e2e.py, test_robustness.py), whose compiled
    # sampler it shares through the session's JAX cache
    rc = main(["fit", "--ps", str(ps_snapshot), "--data-dir", str(shared_data_dir),
               "--chains", "2", "--draws", "40", "--tune", "40", "--loo-components",
               "--retry-target-accept", "0.9",  # the first attempt's: no retry
               "--selection", "none", "--outdir", str(out)])
    assert rc == 2
    err = " ".join(capsys.readouterr().err.split())
    rej = out / "rejected"
    assert "failed the gate" in err and str(rej) in err
    assert "--draws 80 --tune 80" in err and "--allow-bad-diagnostics" in err
    assert "KMT-2024-BLG-1044L b (no semi-major axis" in err  # the log warning
    assert [p.name for p in out.iterdir()] == ["rejected"]  # nothing else published
    summary = json.loads((rej / "fit_summary.json").read_text())
    assert summary["gate"] == "failed" and summary["rejected"]
    assert "KMT-2024-BLG-1044L b" in {r["name"] for r in summary["left_out"]}
    run = json.loads((rej / "run.json").read_text())
    assert run["command"] == "fit" and run["inputs"]
    dt = xr.open_datatree(rej / "posterior.nc", engine="h5netcdf")
    assert dt["posterior"].sizes["draw"] == 40
    assert (rej / "VERDICT.txt").read_text().startswith("REJECTED")


@pytest.mark.slow  # ~25 s of sampling; the main fit's gate path stays in the default run
def test_a_loo_fit_that_fails_the_gate_is_left_out_and_kept(frame, tmp_path, monkeypatch):
    """The K = 1 fit for PSIS-LOO obeys the gate too: rejected, it is left out of the LOO
    comparison (not compared on an untrustworthy posterior), its draws and verdict are
    kept in rejected/loo_K1/, and the published fit says so. (K = 2 gets a gate any
    posterior passes, K = 1 one that none does.)"""
    import dataclasses

    from vlms_bayes.inference import fit as fit_mod
    from vlms_bayes.inference.diagnostics import GateConfig

    real = fit_mod.fit_posterior
    lax = GateConfig(max_rhat=10.0, min_ess_bulk=1, min_ess_tail=1, max_divergences=10**6,
                     min_bfmi=0.0)

    def gated(data, config, *, n_components, **kw):
        gate = GateConfig(max_rhat=0.5) if n_components == 1 else lax
        return real(data, dataclasses.replace(config, gate=gate), n_components=n_components,
                    **kw)

    monkeypatch.setattr(fit_mod, "fit_posterior", gated)
    cfg = fit_mod.FitConfig(**TOO_SHORT, selection=None, loo_components=(1, 2),
                            retry_target_accept=0.9)
    out = tmp_path / "o"
    out.mkdir()
    res = fit_mod.run_fit(frame, cfg, outdir_path=out, seed=2,
                          rejected_dir=tmp_path / "rejected")
    assert res.diagnostics.passed and (out / "posterior.nc").is_file()
    assert res.loo is None and not (out / "loo_comparison.csv").exists()
    (bad,) = res.summary["loo_rejected"]
    assert bad["n_components"] == 1 and "R-hat" in bad["failures"][0]
    kept = tmp_path / "rejected" / "loo_K1"
    assert bad["kept_in"] == str(kept)
    summary = json.loads((kept / "fit_summary.json").read_text())
    assert summary["gate"] == "failed" and summary["n_components"] == 1
    assert (kept / "posterior.nc").is_file() and (kept / "diagnostics.csv").is_file()
    assert "LOO K=1: left out, its fit failed the diagnostics gate" in res.report
    saved = json.loads((out / "fit_summary.json").read_text())
    assert saved["loo"] is None and saved["loo_rejected"][0]["n_components"] == 1
