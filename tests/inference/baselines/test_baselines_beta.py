import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vlms_bayes.data_io.schema import complete_case
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.baselines import (
    beta_mle_from_stats,
    fit_beta_by_q_split,
    fit_beta_mle,
    floor_zero_eccentricities,
)
from vlms_bayes.inference.baselines.synthetic import synthetic_stacked


def _frame(e, q, status, err=None):
    e = np.asarray(e, float)
    return pd.DataFrame({
        "name": [f"obj{i}" for i in range(e.size)], "q": q, "pl_orbeccen": e,
        "pl_orbeccen_err_hi": np.full(e.size, np.nan) if err is None else err,
        "ecc_status": status,
    })


def test_mle_matches_scipy():
    e = np.random.default_rng(0).beta(2.0, 5.0, 300)
    res = fit_beta_mle(e, n_boot=0, seed=0)
    a_ref, b_ref, *_ = stats.beta.fit(e, floc=0, fscale=1)
    assert res["alpha"] == pytest.approx(a_ref, rel=1e-6)
    assert res["beta"] == pytest.approx(b_ref, rel=1e-6)
    assert res["loglike"] == pytest.approx(stats.beta(a_ref, b_ref).logpdf(e).sum(), rel=1e-8)


@pytest.mark.parametrize(("alpha", "beta"), [(2.0, 5.0), (0.9, 6.0), (0.5, 0.5), (5.0, 1.2)])
def test_recovery_of_known_parameters(alpha, beta):
    e = np.random.default_rng(42).beta(alpha, beta, 3000)
    e = np.clip(e, 1e-12, 1 - 1e-12)
    res = fit_beta_mle(e, n_boot=200, seed=1)
    # tolerance: 10 % (the MLE's sd at n = 3000 is ~3 % of alpha here)
    assert res["alpha"] == pytest.approx(alpha, rel=0.10)
    assert res["beta"] == pytest.approx(beta, rel=0.10)
    assert res["alpha_p5"] < res["alpha"] < res["alpha_p95"]
    assert res["beta_p5"] < res["beta"] < res["beta_p95"]
    assert res["n_boot_failed"] == 0 and res["note"] == ""


def test_vectorised_solver_equals_one_by_one():
    rng = np.random.default_rng(7)
    samples = rng.beta(1.5, 4.0, size=(6, 40))
    s1, s2 = np.log(samples).mean(1), np.log1p(-samples).mean(1)
    a, b = beta_mle_from_stats(s1, s2)
    for i in range(6):
        ai, bi = beta_mle_from_stats(s1[i], s2[i])
        assert a[i] == pytest.approx(ai[0], rel=1e-9) and b[i] == pytest.approx(bi[0], rel=1e-9)


def test_small_and_degenerate_samples_are_nan_with_note():
    two = fit_beta_mle([0.1, 0.3], n_boot=10, seed=0)
    assert np.isnan(two["alpha"]) and "n = 2 < 3" in two["note"]
    same = fit_beta_mle([0.2, 0.2, 0.2], n_boot=10, seed=0)
    assert np.isnan(same["beta"]) and "equal" in same["note"]
    with pytest.raises(InputDataError, match="strictly between 0 and 1"):
        fit_beta_mle([0.0, 0.2, 0.3], n_boot=0, seed=0)


def test_floor_rule():
    e, n = floor_zero_eccentricities([0.0, 0.0, 0.04, 0.3], [0.06, np.nan, 0.01, 0.02])
    assert n == 2
    np.testing.assert_allclose(e, [0.03, 0.02, 0.04, 0.3])  # err/2, else min positive/2
    e, n = floor_zero_eccentricities([0.0, 0.2], None, e_floor=1e-3)
    np.testing.assert_allclose(e, [1e-3, 0.2])
    with pytest.raises(InputDataError):
        floor_zero_eccentricities([0.0], e_floor=0.0)


def _bias_frame(seed=3, alpha=1.5, beta=6.0, n_meas=400, n_fixed=80):
    rng = np.random.default_rng(seed)
    e = np.concatenate([rng.beta(alpha, beta, n_meas), np.zeros(n_fixed)])
    q = rng.choice([1e-3, 0.05], e.size)
    status = ["measured"] * n_meas + ["fixed_zero"] * n_fixed
    err = np.concatenate([np.full(n_meas, 0.05), np.full(n_fixed, np.nan)])
    return _frame(e, q, status, err)


def test_assumed_zeros_as_measured_bias_alpha_low():
    f = _bias_frame()
    honest = fit_beta_by_q_split(f, fixed_e="exclude", n_boot=100, seed=0).set_index("subset")
    orig = fit_beta_by_q_split(f, fixed_e="measured", n_boot=100, seed=0).set_index("subset")
    for s in ("low_q", "high_q"):
        assert honest.loc[s, "alpha"] == pytest.approx(1.5, rel=0.25)
        assert orig.loc[s, "alpha"] < 0.6 * honest.loc[s, "alpha"]
        assert orig.loc[s, "alpha_p95"] < honest.loc[s, "alpha_p5"]
    assert honest["n_excluded_fixed"].sum() == 80 and orig["n_excluded_fixed"].sum() == 0
    assert orig["n_zero_floored"].sum() == 80
    assert honest["n"].sum() == 400 and orig["n"].sum() == 480
    assert all("left out" in n for n in honest["note"])


def test_measured_zero_with_uncertainty_enters_with_floor():
    e = [0.0, 0.1, 0.2, 0.3, 0.15]
    f = _frame(e, [1e-3] * 5, ["measured"] * 5, [0.08, 0.02, 0.02, 0.02, 0.02])
    out = fit_beta_by_q_split(f, n_boot=20, seed=0).set_index("subset")
    assert out.loc["low_q", "n"] == 5 and out.loc["low_q", "n_zero_floored"] == 1
    direct = fit_beta_mle([0.04, 0.1, 0.2, 0.3, 0.15], n_boot=0, seed=0)
    assert out.loc["low_q", "alpha"] == pytest.approx(direct["alpha"], rel=1e-9)
    assert out.loc["high_q", "n"] == 0 and "n = 0 < 3" in out.loc["high_q", "note"]


def test_real_like_tiny_high_q_subset():
    st = synthetic_stacked(120, seed=5, frac_binary=0.0)
    cc = complete_case(st)
    extra = cc.iloc[:2].assign(q=[0.02, 0.05], pl_orbeccen=[0.3, 0.5], ecc_status="measured")
    f = pd.concat([cc, extra], ignore_index=True)
    out = fit_beta_by_q_split(f, n_boot=50, seed=1).set_index("subset")
    assert out.loc["high_q", "n"] == 2 and np.isnan(out.loc["high_q", "alpha"])
    assert "not estimated" in out.loc["high_q", "note"]
    assert np.isfinite(out.loc["low_q", "alpha"])
    expected_cols = {"alpha", "beta", "n", "n_excluded_fixed", "loglike", "alpha_p5",
                     "alpha_p50", "alpha_p95", "beta_p5", "beta_p50", "beta_p95", "mean_e_beta",
                     "note"}
    assert expected_cols <= set(out.columns)


def test_upper_limits_and_missing_never_enter():
    f = _frame([0.1, 0.2, 0.3, 0.5, np.nan], [1e-3] * 5,
               ["measured", "measured", "measured", "upper_limit", "missing"])
    out = fit_beta_by_q_split(f, n_boot=0, seed=0).set_index("subset")
    assert out.loc["low_q", "n"] == 3


def test_bad_options_and_values():
    f = _frame([0.1, 0.2, 0.3], [1e-3] * 3, ["measured"] * 3)
    with pytest.raises(InputDataError, match="fixed_e"):
        fit_beta_by_q_split(f, fixed_e="drop", seed=0)
    with pytest.raises(InputDataError, match=r"\[0, 1\)"):
        fit_beta_by_q_split(f.assign(pl_orbeccen=[0.1, 1.0, 0.3]), seed=0)
    with pytest.raises(InputDataError, match="ecc_status"):
        fit_beta_by_q_split(f.drop(columns="ecc_status"), seed=0)
    with pytest.raises(InputDataError, match="q_split"):
        fit_beta_by_q_split(f, q_split=-1, seed=0)


def test_bootstrap_reproducible():
    f = complete_case(synthetic_stacked(150, seed=2))
    a = fit_beta_by_q_split(f, n_boot=100, seed=9)
    b = fit_beta_by_q_split(f, n_boot=100, seed=9)
    pd.testing.assert_frame_equal(a, b)
    c = fit_beta_by_q_split(f, n_boot=100, seed=10)
    assert not np.allclose(a["alpha_p5"], c["alpha_p5"])


@pytest.mark.parametrize("seed", range(5))
def test_solution_satisfies_likelihood_equations(seed):
    from scipy.special import digamma

    rng = np.random.default_rng(seed)
    e = rng.beta(rng.uniform(0.3, 5), rng.uniform(0.3, 8), rng.integers(5, 60))
    e = np.clip(e, 1e-9, 1 - 1e-9)
    a, b = beta_mle_from_stats(np.log(e).mean(), np.log1p(-e).mean())
    np.testing.assert_allclose(digamma(a) - digamma(a + b), np.log(e).mean(), atol=1e-8)
    np.testing.assert_allclose(digamma(b) - digamma(a + b), np.log1p(-e).mean(), atol=1e-8)
