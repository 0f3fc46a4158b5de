"""Sampling, the diagnostics gate, memberships, classify and compare, end to end (tiny runs)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.models.simulate import simulate_catalogue

TINY = dict(chains=2, draws=150, tune=150)


pytestmark = pytest.mark.usefixtures("jax_test_cache")


@pytest.fixture(scope="module")
def sim_frame():
    frame = simulate_catalogue(60, random_seed=7)
    frame.loc[0, ["is_reference", "in_window"]] = [True, False]
    return frame


@pytest.fixture(scope="module")
def fitted(sim_frame, tmp_path_factory):
    from vlms_bayes.inference.diagnostics import GateConfig
    from vlms_bayes.inference.fit import FitConfig, run_fit

    out = tmp_path_factory.mktemp("fit")
    # the baselines' objects_with_probs.csv is already there, as in `vlms-bayes run`
    base = sim_frame[["name"]].assign(P_binary_like_logistic=sim_frame["true_label"] * 0.9)
    base.to_csv(out / "objects_with_probs.csv", index=False)
    # tiny runs: the gate's verdict is not the point here (allow_bad_diagnostics); the
    # chains' agreement is asserted directly below
    # the simulated catalogue has no detection selection: the naive model is the right one
    # (explicitly, whatever the default)
    cfg = FitConfig(**TINY, loo_components=(1, 2), allow_bad_diagnostics=True,
                    gate=GateConfig(max_rhat=1.1, min_ess_bulk=10, min_ess_tail=10),
                    retry_target_accept=0.9, selection=None)
    res = run_fit(sim_frame, cfg, outdir_path=out, seed=11)
    return out, res


def test_fit_outputs_and_memberships(fitted, sim_frame):
    import arviz as az

    out, res = fitted
    for f in ("posterior.nc", "fit_summary.json", "memberships.csv", "stacked_used.csv",
              "loo_comparison.csv"):
        assert (out / f).is_file(), f
    dt = az.from_netcdf(out / "posterior.nc")
    for g in ("posterior", "sample_stats", "observed_data", "constant_data", "log_likelihood"):
        assert g in dt.children
    assert dt["log_likelihood"]["obs"].shape == (2, 150, res.data.n)
    m = pd.read_csv(out / "memberships.csv")
    np.testing.assert_allclose(m["P_planet_like"] + m["P_binary_like"], 1.0, atol=1e-12)
    assert (m["P_binary_like_lo90"] <= m["P_binary_like_hi90"]).all()
    assert m[["P_binary_like_lo90", "P_binary_like", "P_binary_like_hi90"]].stack().between(
        0, 1).all()
    # well separated simulated populations: memberships recover the true labels
    truth = sim_frame.set_index("name").loc[m["name"], "true_label"].to_numpy()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(truth, m["P_binary_like"]) > 0.9
    merged = pd.read_csv(out / "objects_with_probs.csv")
    assert {"P_binary_like_logistic", "P_binary_like"} <= set(merged.columns)
    summary = json.loads((out / "fit_summary.json").read_text())
    assert summary["reference"][0]["name"] == sim_frame.loc[0, "name"]
    assert summary["diagnostics"]["n_draws_total"] == 300
    # posterior predictive checks per method: numbers in the summary, a figure beside it
    ppc = summary["ppc"]
    assert (out / "fig_ppc.png").is_file()
    assert ppc["n_draws"] == 300 and ppc["selection"] == "none"
    counts = m["discoverymethod"].value_counts()
    assert set(ppc["methods"]) == set(counts.index)
    for meth, r in ppc["methods"].items():
        assert r["n_objects"] == counts[meth]
        assert r["verdict"] in {"pass", "fail", "too few to judge"}
        assert 0 <= r["dimensions"]["logq"]["ks"] <= 1
    assert "posterior predictive checks:" in res.report


def test_chains_agree_no_label_switching(fitted):
    _, res = fitted
    mu = res.posterior["posterior"]["mu_logq"].values  # (chain, draw, K)
    assert np.all(mu[..., 1] > mu[..., 0])  # ordering constraint
    chain_means = mu.mean(axis=1)
    assert np.ptp(chain_means, axis=0).max() < 0.2  # all chains in the same mode


def test_loo_prefers_two_populations(fitted):
    _, res = fitted
    assert res.loo.iloc[0]["model"] == "K=2"
    assert res.loo.set_index("model").loc["K=1", "elpd_diff"] < 0


def test_loo_table_is_not_rounded(fitted):
    """ELPDs equal an independent log-mean-exp of the pointwise likelihood to within the
    PSIS correction, and the differences are exact differences (no display rounding)."""
    from scipy.special import logsumexp

    _, res = fitted
    t = res.loo.set_index("model")
    ll = res.posterior["log_likelihood"]["obs"].values.reshape(-1, res.data.n)
    lppd = float(np.sum(logsumexp(ll, axis=0) - np.log(ll.shape[0])))
    elpd = float(t.loc["K=2", "elpd_loo"])
    assert elpd < lppd and lppd - elpd < 3 * float(t.loc["K=2", "p_loo"]) + 1
    assert elpd != round(elpd, 0)  # a raw float, not ArviZ's display rounding
    assert np.isclose(t.loc["K=1", "elpd_diff"],
                      t.loc["K=1", "elpd_loo"] - t.loc["K=2", "elpd_loo"], rtol=1e-12)


def test_classify_cli(fitted, capsys):
    out, _ = fitted
    assert main(["classify", "--posterior", str(out)]) == 0
    text = capsys.readouterr().out
    assert "TOI-6894 b: P(binary-like) =" in text
    # a brown-dwarf-like companion at 1 AU scores higher than a Saturn at 0.03 AU
    from vlms_bayes.pipeline.bayes import classify_command

    hi = classify_command(out, m_star_msun=0.15, mass_mj=40.0, a_au=1.0, e=0.5, e_err=0.05)
    lo = classify_command(out, m_star_msun=0.15, mass_mj=0.2, a_au=0.03, e=0.05, e_err=0.05)
    assert hi.result.p_mean[0] > 0.9 > 0.1 > lo.result.p_mean[0]
    # a minimum mass raises the probability (the true q can only be larger)
    mid = dict(m_star_msun=0.15, mass_mj=3.0, a_au=0.2)
    p_true = classify_command(out, **mid).result.p_mean[0]
    p_msini = classify_command(out, msini=True, **mid).result.p_mean[0]
    assert p_msini > p_true


def test_classify_rejects_foreign_folder(tmp_path, capsys):
    (tmp_path / "posterior.nc").write_bytes(b"not a netcdf file")
    (tmp_path / "fit_summary.json").write_text("{}")
    assert main(["classify", "--posterior", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["classify", "--posterior", str(tmp_path / "nowhere")]) == 2
    assert main(["classify", "--posterior", str(tmp_path), "--mstar", "0.1"]) == 2


def test_compare_reads_baseline_files(fitted, sim_frame, tmp_path):
    import matplotlib.pyplot as plt

    from vlms_bayes.pipeline import BaselineConfig, compute_baselines, write_baselines
    from vlms_bayes.pipeline.bayes import compare_command

    out, _ = fitted
    base = tmp_path / "base"
    base.mkdir()
    write_baselines(base, compute_baselines(sim_frame, BaselineConfig(n_boot=20), seed=1))
    plt.close("all")
    res = compare_command(out, base, outdir=tmp_path / "cmp")
    assert plt.get_fignums() == []  # every figure it drew was saved and closed
    for f in ("comparison.md", "comparison.json", "membership_disagreements.csv",
              "fig_bayes_memberships.png", "fig_bayes_ecc_ppc.png", "fig_bayes_rank.png",
              "fig_bayes_corner.png", "fig_bayes_prior_predictive.png", "run.json"):
        assert (tmp_path / "cmp" / f).is_file(), f
    js = res.result["json"]
    assert js["model_choice"]["loo_best"] == "K=2"
    assert js["memberships"]["spearman_rho"] > 0.5
    # simulated truth: binary-like mean e 0.45 > planet-like 0.15
    assert js["eccentricity"]["posterior_P_mean_e_binary_gt_planet"] > 0.95
    assert "## Memberships: logistic vs posterior" in res.report
    # the fit's posterior predictive checks, per method
    assert "## Posterior predictive checks per discovery method" in res.report
    assert set(js["ppc"]["methods"]) == set(sim_frame.loc[1:, "discoverymethod"])


@pytest.mark.parametrize("argv", [
    ["--components", "0"], ["--backend", "stan"], ["--draws", "0"],
])
def test_fit_bad_options_exit_2_nothing_written(argv, tmp_path, capsys, sim_frame):
    csv = tmp_path / "ps.csv"
    out = tmp_path / "out"
    rc = main(["fit", "--ps", str(csv), "--outdir", str(out), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error" in err
    assert not out.exists()


def test_gate_failure_raises_and_writes_nothing(fitted, sim_frame, tmp_path, monkeypatch):
    from vlms_bayes.errors import DiagnosticsError
    from vlms_bayes.inference import fit as fit_mod
    from vlms_bayes.inference.diagnostics import GateConfig, diagnose

    _, res = fitted
    strict = diagnose(res.posterior, gate=GateConfig(max_rhat=0.5))
    assert not strict.passed and "R-hat" in strict.failures[0]
    monkeypatch.setattr(fit_mod, "fit_posterior",
                        lambda *a, **k: (res.posterior, strict, [strict.to_dict()]))
    out = tmp_path / "o"
    out.mkdir()
    with pytest.raises(DiagnosticsError, match="R-hat"):
        fit_mod.run_fit(sim_frame, fit_mod.FitConfig(), outdir_path=out, seed=1)
    assert list(out.iterdir()) == []


def test_retry_once_with_higher_target_accept(fitted):
    from vlms_bayes.inference.diagnostics import GateConfig, sample_with_gate

    _, res = fitted
    calls = []

    def run(ta):
        calls.append(ta)
        return res.posterior

    _, diag, attempts = sample_with_gate(run, target_accept=0.9, retry_target_accept=0.99,
                                         gate=GateConfig(max_rhat=0.5))
    assert calls == [0.9, 0.99] and len(attempts) == 2 and not diag.passed


def test_loo_paired_difference_vs_reference(fitted):
    """The paired ELPD difference to K=1 and its SE agree with ArviZ's own difference to
    the best model when K=1 vs K=2 is that comparison."""
    _, res = fitted
    t = res.loo.set_index("model")
    assert set(t["reference"]) == {"K=1"}
    assert t.loc["K=1", "elpd_diff_vs_ref"] == 0.0
    # K=2 is the best model here, so ArviZ's own diff/dse to the best must match ours
    assert np.isclose(-t.loc["K=2", "elpd_diff_vs_ref"], t.loc["K=1", "elpd_diff"],
                      rtol=1e-9)
    assert np.isclose(t.loc["K=2", "dse_vs_ref"], t.loc["K=1", "dse"], rtol=1e-9)
    # and the SE is the paired one: smaller than the quadrature sum of the two ELPD SEs
    assert t.loc["K=2", "dse_vs_ref"] < np.hypot(t.loc["K=1", "se"], t.loc["K=2", "se"])


def test_stuck_chain_is_a_named_gate_failure_without_warnings(fitted):
    """A chain whose draws never move fails the gate by name (no ArviZ warning escapes)."""
    import xarray as xr

    from vlms_bayes.inference.diagnostics import diagnose

    _, res = fitted
    dt = res.posterior.copy()
    post = dt["posterior"].to_dataset()
    for name in post.data_vars:
        v = post[name].values.copy()
        v[1] = v[1, :1]  # chain 1 frozen at its first draw
        post[name] = (post[name].dims, v)
    dt["posterior"] = xr.DataTree(post)
    d = diagnose(dt)
    assert not d.passed
    assert any("chain(s) 1 stuck" in f for f in d.failures), d.failures


def test_empty_population_is_named_and_not_retried(fitted):
    """A population that holds almost none of the sample in one chain (its parameters then
    wander over the prior) fails the gate with that cause named, and the gate does not
    retry with a higher target acceptance (the number of populations is the problem)."""
    import xarray as xr

    from vlms_bayes.inference.diagnostics import diagnose, empty_populations, sample_with_gate

    _, res = fitted
    assert empty_populations(res.posterior["posterior"]) == {}
    dt = res.posterior.copy()
    post = dt["posterior"].to_dataset()
    w = post["w"].values.copy()
    w[1] = np.array([0.999, 0.001])  # chain 1: the binary-like population is empty
    post["w"] = (post["w"].dims, w)
    mu = post["mu_loga"].values.copy()
    mu[1, :, 1] = 3.0  # ... and has wandered off
    post["mu_loga"] = (post["mu_loga"].dims, mu)
    dt["posterior"] = xr.DataTree(post)
    assert empty_populations(dt["posterior"]) == {"binary_like": [1]}
    d = diagnose(dt)
    assert not d.passed and "binary_like (chain(s) 1)" in d.failures[-1], d.failures
    calls = []

    def run(ta):
        calls.append(ta)
        return dt

    sample_with_gate(run, target_accept=0.9, retry_target_accept=0.99)
    assert calls == [0.9]
