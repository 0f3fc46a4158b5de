"""Posterior predictive checks per discovery method (vlms_bayes.inference.ppc).

Draws at a known truth stand in for a posterior (no MCMC here): the check must pass on a
catalogue simulated from that truth and fail for a deliberately wrong model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.ppc import (
    discrepancy_pvalues,
    ks_distance,
    posterior_predictive_check,
    sample_detected_replicates,
)
from vlms_bayes.inference.ppc_report import (
    MIN_OBJECTS,
    failure_reason,
    failure_reasons,
    ppc_markdown,
    ppc_verdict_text,
)
from vlms_bayes.models.data import ModelData, model_data_from_stacked
from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.simulate import PopulationTruth
from vlms_bayes.models.simulate_selection import (
    RECOVERY_OBSERVE,
    RECOVERY_TRUTH,
    simulate_detected,
)

SEL = SelectionModel()
#: Errors at or above the model's floors (below them the model's σ is the floor, and the
#: replicates would be noisier than the simulated data by construction).
OBSERVE = replace(RECOVERY_OBSERVE, projected_methods=("Microlensing", "Imaging"),
                  logq_err=(0.05, 0.1), loga_err=(0.02, 0.05), e_err=(0.05, 0.1))
#: Few RV searches (RV detects half its companions), many of the rarely detecting methods.
METHOD_PROBS = (0.02, 0.4, 0.3, 0.28)


def truth_draws(truth: PopulationTruth, *, s: int = 500, jitter: float = 1e-3,
                seed: int = 1) -> dict[str, np.ndarray]:
    """S copies of the truth's parameters with a tiny jitter (a stand-in posterior)."""
    rng = np.random.default_rng(seed)
    base = {"mu_logq": truth.mu_logq, "mu_loga": truth.mu_loga,
            "sigma_logq": truth.sigma_logq, "sigma_loga": truth.sigma_loga, "rho": truth.rho,
            "e_alpha": np.multiply(truth.e_mean, truth.e_conc),
            "e_beta": np.multiply(np.subtract(1.0, truth.e_mean), truth.e_conc)}
    out = {}
    for name, v in base.items():
        v = np.asarray(v, float)[None, :]
        j = jitter * rng.standard_normal((s, v.shape[1]))
        out[name] = v * np.exp(j) if name.startswith(("sigma", "e_")) else v + j
    out["w"] = np.tile(np.asarray(truth.w) / np.sum(truth.w), (s, 1))
    return out


def simulated_data(seed: int, n_intrinsic: int = 2000) -> ModelData:
    """A detected catalogue from RECOVERY_TRUTH through the default selection model."""
    det, _ = simulate_detected(n_intrinsic, truth=RECOVERY_TRUTH, selection=SEL,
                               method_probs=METHOD_PROBS, observe=OBSERVE, random_seed=seed)
    # the model has no kernel for a minimum mass with a projected separation; which rows
    # are minimum masses is drawn independently of everything, so dropping them leaves a
    # sample of the same distribution per method
    det = det.loc[~((det["mass_kind"] == "msini") & (det["sep_kind"] == "projected"))]
    det = det.reset_index(drop=True)
    det["in_window"] = True
    data, _ = model_data_from_stacked(det)
    return data


@pytest.fixture(scope="module")
def sim() -> ModelData:
    return simulated_data(5)


def judged(res) -> dict[str, dict]:
    return {m: r for m, r in res.methods.items() if r["n_objects"] >= MIN_OBJECTS}


def test_passes_at_the_truth(sim: ModelData) -> None:
    res = posterior_predictive_check(truth_draws(RECOVERY_TRUTH), sim, SEL, random_seed=0)
    methods = judged(res)
    assert set(methods) == {"Radial Velocity", "Transit", "Microlensing", "Imaging"}
    for m, r in methods.items():
        assert r["verdict"] == "pass", (m, r["failed_tests"])
        assert set(r["dimensions"]) == {"logq", "loga", "e"}
        for d in r["dimensions"].values():
            assert 0.0 <= d["loo_pit"] <= 1.0
    assert res.failing == []
    assert "FAIL" not in ppc_verdict_text(res.to_dict())
    d = res.to_dict()
    assert d["n_draws"] == 500 and d["selection"] == "methods"


def test_negative_control_shifted_planet_population(sim: ModelData) -> None:
    """Planet-like mean log q 1 dex too high: the methods that see planets fail in log q."""
    wrong = replace(RECOVERY_TRUTH, mu_logq=(RECOVERY_TRUTH.mu_logq[0] + 1.0,
                                             RECOVERY_TRUTH.mu_logq[1]))
    res = posterior_predictive_check(truth_draws(wrong), sim, SEL, random_seed=0)
    for m in ("Transit", "Radial Velocity"):
        r = res.methods[m]
        assert r["verdict"] == "fail"
        assert m in res.failing
    # transit sees the planets' true masses: its log q fails (RV, with the magnitude-
    # dependent threshold, sees the shift mostly through which separations it detects)
    assert any(t.startswith("logq") for t in res.methods["Transit"]["failed_tests"])
    # ... and the words say so
    text = ppc_verdict_text(res.to_dict())
    assert "FAIL their posterior predictive check for" in text
    assert all(m in text.split(":")[0] for m in res.failing)
    md = ppc_markdown(res.to_dict())
    assert md.startswith("## Posterior predictive checks per discovery method")
    assert sum(line.startswith("| Transit | ") and "| fail |" in line
               for line in md.splitlines()) == 1
    # ... and say why: the model's planets are 1 dex too heavy, so the observed transit
    # log q lies below what it predicts
    why = failure_reasons(res.to_dict()["methods"]["Transit"])
    assert why and any(w.startswith("log q: the observed mean") and " is below " in w
                       for w in why), why
    assert "Chiefly: " in text and "- **Transit**: " in md


def test_negative_control_naive_model_on_selected_data(sim: ModelData) -> None:
    """The intrinsic truth with p_det ≡ 1 does not describe what microlensing detects."""
    res = posterior_predictive_check(truth_draws(RECOVERY_TRUTH), sim, None, random_seed=0)
    r = res.methods["Microlensing"]
    assert r["verdict"] == "fail"
    assert {t.split()[0] for t in r["failed_tests"]} >= {"logq", "loga"}
    assert res.to_dict()["selection"] == "none"


def _truth_on_grid(truth):
    """The intrinsic mixture density of ``truth`` (unnormalised) on a fine (log q, log a) grid."""
    q = np.linspace(-8.0, 1.0, 901)
    a = np.linspace(-4.0, 4.0, 801)
    qq, aa = np.meshgrid(q, a, indexing="ij")
    dens = sum(w * np.exp(-0.5 * (((qq - mq) / sq) ** 2 + ((aa - ma) / sa) ** 2)) / (sq * sa)
               for w, mq, ma, sq, sa in zip(truth.w, truth.mu_logq, truth.mu_loga,
                                            truth.sigma_logq, truth.sigma_loga, strict=True))
    return qq, aa, dens


def test_sampler_matches_quadrature() -> None:
    """Moments of the detected true (log q, log a) for one host against a grid integral."""
    truth = RECOVERY_TRUTH
    draws = truth_draws(truth, s=1, jitter=0.0)
    host = 0.12
    qq, aa, dens = _truth_on_grid(truth)
    rng = np.random.default_rng(7)
    n = 20000
    for method in ("Radial Velocity", "Transit", "Microlensing", "Imaging"):
        # RV: detection at each candidate's own inclination; its marginal over i is the
        # inclination-averaged p_det that the quadrature uses
        wgt = dens * SEL.p_det(method, qq, aa, m_star_msun=host)
        wgt /= wgt.sum()
        res = sample_detected_replicates(draws, method=method, host_msun=np.full(n, host),
                                         draw_index=np.zeros(n, np.int64), selection=SEL,
                                         rng=rng)
        assert np.all(res["population"] >= 0)
        for x, grid in ((res["logq"], qq), (res["loga"], aa)):
            mean = float((wgt * grid).sum())
            sd = float(np.sqrt((wgt * (grid - mean) ** 2).sum()))
            assert abs(x.mean() - mean) < 4 * sd / np.sqrt(n), (method, x.mean(), mean)
            assert abs(x.std() / sd - 1) < 4 / np.sqrt(2 * n), (method, x.std(), sd)
        # candidates per detection estimate 1/ξ
        xi = float((dens * SEL.p_det(method, qq, aa, m_star_msun=host)).sum() / dens.sum())
        assert res["n_candidates"].mean() == pytest.approx(1 / xi, rel=0.05)


def test_deterministic_and_too_few(sim: ModelData) -> None:
    draws = truth_draws(RECOVERY_TRUTH)
    a = posterior_predictive_check(draws, sim, SEL, n_draws=60, random_seed=3, loo_pit=False)
    b = posterior_predictive_check(draws, sim, SEL, n_draws=60, random_seed=3, loo_pit=False)
    np.testing.assert_array_equal(a.replicates.logq, b.replicates.logq)
    assert a.to_dict() == b.to_dict()
    # four objects of one method: numbers, but no verdict
    idx = [i for i, m in enumerate(sim.methods) if m == "Imaging"][:4]
    sub = ModelData(**{f: (tuple(np.asarray(getattr(sim, f))[idx]) if f in ("names", "methods")
                           else np.asarray(getattr(sim, f))[idx])
                       for f in ("names", "y_logq", "s_logq", "y_loga", "s_loga", "msini",
                                 "e_kind", "e_obs", "s_e", "e_limit", "methods", "m_star_msun",
                                 "projected")})
    r = posterior_predictive_check(draws, sub, SEL, n_draws=60, random_seed=3, loo_pit=False)
    rec = r.methods["Imaging"]
    assert rec["verdict"] == "too few to judge" and rec["n_objects"] == 4
    assert np.isfinite(rec["dimensions"]["logq"]["mean"])
    assert any("with 60 draws" in n for n in a.notes)


def test_a_model_that_cannot_detect_a_method_fails_it(sim: ModelData) -> None:
    blind = replace(SEL, microlensing=replace(SEL.microlensing, zone_peak=1e-12))
    res = posterior_predictive_check(truth_draws(RECOVERY_TRUTH, s=20), sim, blind,
                                     n_draws=20, loo_pit=False, max_candidates=4096)
    r = res.methods["Microlensing"]
    assert r["verdict"] == "fail" and r["n_draws_undetectable"] == 20
    assert r["failed_tests"] == ["the model detects nothing around this method's hosts in "
                                 "20 of 20 draws"]
    assert res.methods["Transit"]["n_draws_undetectable"] == 0


def test_discrepancies_detect_a_shift() -> None:
    rng = np.random.default_rng(0)
    rep = rng.standard_normal((400, 30))
    same = discrepancy_pvalues(rng.standard_normal(30), rep)
    shifted = discrepancy_pvalues(rng.standard_normal(30) + 1.5, rep)
    wide = discrepancy_pvalues(3.0 * rng.standard_normal(30), rep)
    assert min(same["mean"], same["sd"], same["ks"]) > 0.01
    assert shifted["mean"] == 0.0 and shifted["ks"] == 0.0
    assert wide["sd"] == 0.0
    # KS distance against scipy's one-sample statistic for a known CDF
    from scipy import stats
    ref = np.sort(rng.standard_normal(200000))
    x = rng.standard_normal(25)
    assert ks_distance(x[None, :], ref)[0] == pytest.approx(
        stats.kstest(x, "norm").statistic, abs=0.01)


def test_bad_input(sim: ModelData) -> None:
    draws = truth_draws(RECOVERY_TRUTH, s=20)
    with pytest.raises(InputDataError, match="n_draws"):
        posterior_predictive_check(draws, sim, SEL, n_draws=0)
    with pytest.raises(InputDataError, match="alpha"):
        posterior_predictive_check(draws, sim, SEL, alpha=1.5)
    with pytest.raises(InputDataError, match="loglik has shape"):
        posterior_predictive_check(draws, sim, SEL, loglik=np.zeros((3, 3)))
    # draws that cannot be told apart by their likelihood: PSIS (and so LOO-PIT) is
    # undefined; the check says so and judges by its other tests
    res = posterior_predictive_check(draws, sim, SEL, n_draws=20,
                                     loglik=np.zeros((20, sim.n)))
    d = res.methods["Microlensing"]["dimensions"]["logq"]
    assert "loo_pit" not in d and d["loo_pit_warnings"][0].startswith("LOO-PIT not computed")


@pytest.mark.slow
def test_false_alarm_rate_and_power_over_replicas() -> None:
    """Over 30 simulated catalogues: the truth fails a method rarely (the verdict's level,
    α = 0.05 per method, allowing for binomial noise), the shifted model almost always."""
    wrong = replace(RECOVERY_TRUTH, mu_logq=(RECOVERY_TRUTH.mu_logq[0] + 1.0,
                                             RECOVERY_TRUTH.mu_logq[1]))
    n_judged = n_false = n_caught = 0
    for seed in range(30):
        data = simulated_data(100 + seed)
        ok = posterior_predictive_check(truth_draws(RECOVERY_TRUTH), data, SEL,
                                        random_seed=seed, loo_pit=False)
        bad = posterior_predictive_check(truth_draws(wrong), data, SEL, random_seed=seed,
                                         loo_pit=False)
        for r in judged(ok).values():
            n_judged += 1
            n_false += r["verdict"] == "fail"
        n_caught += bad.methods["Transit"]["verdict"] == "fail"
    assert n_false / n_judged < 0.12
    assert n_caught >= 27


def test_figure(sim: ModelData) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from vlms_bayes.plots.ppc import plot_ppc

    res = posterior_predictive_check(truth_draws(RECOVERY_TRUTH), sim, SEL, n_draws=60,
                                     random_seed=1, loo_pit=False)
    fig = plot_ppc(res)
    try:
        assert len(fig.axes) == 3 * len(res.methods)
        titles = [ax.get_title() for ax in fig.axes]
        assert all(t.startswith("n=") for t in titles)
        labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
        for m, r in res.methods.items():
            assert any(m in lab and f"({r['verdict']})" in lab for lab in labels)
    finally:
        plt.close(fig)


def test_failure_reasons_read_the_statistics() -> None:
    """Each failed statistic is put in words with its direction; passing methods get none."""
    d = {"status": "judged", "mean": 0.0, "sd": 0.5, "ks": 0.5, "loo_pit": 0.5,
         "obs_mean": 1.0, "rep_mean": 2.0, "obs_sd": 0.1, "rep_sd": 0.4,
         "obs_ks": 0.3, "rep_ks": 0.1}
    assert "1.00 is below the 2.00" in failure_reason("loga", "mean", d)
    assert "more spread out than the data" in failure_reason("loga", "sd", d)
    assert "more concentrated" in failure_reason("loga", "sd", {**d, "obs_sd": 0.9})
    tails = {**d, "loo_pit_values": [0.01, 0.02, 0.99, 0.98, 0.5, 0.97]}
    assert "outer 10 % tails" in failure_reason("e", "loo_pit", tails)
    low = {**d, "loo_pit_values": [0.15, 0.2, 0.3, 0.2, 0.6, 0.15]}
    assert "too high for them" in failure_reason("e", "loo_pit", low)
    centre = {**d, "loo_pit_values": [0.45, 0.5, 0.55, 0.4, 0.6, 0.5]}
    assert "too broad" in failure_reason("e", "loo_pit", centre)
    # a spread below the assumed measurement errors is put on the errors
    assert "scatter less than the measurement errors" in failure_reason(
        "loga", "sd", {**d, "err_rms": 0.3})
    assert "measurement errors" not in failure_reason("loga", "sd", {**d, "err_rms": 0.05})
    assert "measurement errors" not in failure_reason(
        "loga", "sd", {**d, "obs_sd": 0.9, "err_rms": 1.0})
    rec = {"verdict": "fail", "threshold": 0.01, "failed_tests": ["loga mean (p = 0)"],
           "dimensions": {"loga": d}}
    assert failure_reasons(rec) == [failure_reason("loga", "mean", d)]
    assert failure_reasons({**rec, "verdict": "pass"}) == []


def test_rv_replicates_use_the_host_magnitude() -> None:
    """Around a faint host RV detects what its own (higher) threshold lets through.

    The fit's normalisation scales the RV threshold with the host's V magnitude; the
    replicates must too, or a faint-host RV sample is checked against a bright-host
    prediction. Held to the grid integral with p_det at V = 17.
    """
    truth = RECOVERY_TRUTH
    draws = truth_draws(truth, s=1, jitter=0.0)
    host, vmag, n = 0.12, 17.0, 20000
    qq, aa, dens = _truth_on_grid(truth)
    wgt = dens * SEL.p_det("Radial Velocity", qq, aa, m_star_msun=host, host_mag=vmag)
    wgt /= wgt.sum()
    mean = float((wgt * qq).sum())
    sd = float(np.sqrt((wgt * (qq - mean) ** 2).sum()))
    kw = {"method": "Radial Velocity", "host_msun": np.full(n, host),
          "draw_index": np.zeros(n, np.int64), "selection": SEL}
    faint = sample_detected_replicates(draws, **kw, rng=np.random.default_rng(3),
                                       host_mag=np.full(n, vmag))
    bright = sample_detected_replicates(draws, **kw, rng=np.random.default_rng(3))
    assert abs(faint["logq"].mean() - mean) < 4 * sd / np.sqrt(n)
    assert faint["logq"].mean() > bright["logq"].mean() + 10 * sd / np.sqrt(n)


def test_errors_wider_than_the_data_fail_and_are_named(sim: ModelData) -> None:
    """Negative control of the measurement model: the same catalogue with its e errors
    stated 8x too wide (as an error floor above the real errors does) fails the e spread
    test wherever e is judged, and the reason names the errors; with the stated errors it
    passes (test_passes_at_the_truth)."""
    wide = replace(sim, s_e=np.asarray(sim.s_e, float) * 8.0)
    res = posterior_predictive_check(truth_draws(RECOVERY_TRUTH, s=200), wide, SEL,
                                     n_draws=200, random_seed=0, loo_pit=False)
    judged_e = {m: r for m, r in judged(res).items()
                if r["dimensions"].get("e", {}).get("status") == "judged"}
    assert judged_e
    for m, r in judged_e.items():
        d = r["dimensions"]["e"]
        assert d["err_rms"] > d["obs_sd"]
        assert d["sd"] < r["threshold"], (m, d)
        assert any("scatter less than the measurement errors" in t
                   for t in failure_reasons(r)), m
