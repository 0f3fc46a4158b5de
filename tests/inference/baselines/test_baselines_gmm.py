import json

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from vlms_bayes.data_io.schema import complete_case
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.baselines import fit_gmm_bic
from vlms_bayes.inference.baselines.gmm import n_free_parameters
from vlms_bayes.inference.baselines.synthetic import TRUTH, synthetic_stacked


@pytest.fixture(scope="module")
def cc():
    return complete_case(synthetic_stacked(200, seed=11))


def test_two_populations_recovered_and_ordered(cc):
    res = fit_gmm_bic(cc, features=("logq", "loga"), seed=0)
    assert res.winner == 2
    assert res.bic[2] < res.bic[1] - 10
    means = res.components[2]["means"]
    assert means[0, 0] < means[1, 0]  # ascending mean log q
    np.testing.assert_allclose(means[:, 0], [TRUTH["planet"][0], TRUTH["binary"][0]], atol=0.2)
    np.testing.assert_allclose(means[:, 1], [TRUTH["planet"][2], TRUTH["binary"][2]], atol=0.25)
    r = res.responsibilities
    assert r.shape == (len(cc), 2)
    np.testing.assert_allclose(r.sum(axis=1), 1.0)
    truth = cc["truth_binary"].to_numpy()
    assert np.mean((res.prob_larger_logq() > 0.5) == truth) > 0.9


def test_single_gaussian_prefers_k1():
    X = np.random.default_rng(3).multivariate_normal([-2, -1], [[0.3, 0.1], [0.1, 0.2]], 300)
    res = fit_gmm_bic(X, seed=1)
    assert res.winner == 1
    assert np.isnan(res.prob_larger_logq()).all()
    np.testing.assert_allclose(res.responsibilities, 1.0)


def test_bic_matches_independent_computation():
    X = np.random.default_rng(4).normal(size=(80, 2))
    res = fit_gmm_bic(X, ks=(1,), seed=2)
    comp = res.components[1]
    loglik = multivariate_normal(comp["means"][0], comp["covariances"][0]).logpdf(X).sum()
    # the ML mean/covariance of a single Gaussian are the sample moments (+ reg_covar 1e-6)
    np.testing.assert_allclose(comp["means"][0], X.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(comp["covariances"][0], np.cov(X.T, bias=True) + 1e-6 * np.eye(2),
                               atol=1e-8)
    assert res.bic[1] == pytest.approx(-2 * loglik + n_free_parameters(1, 2) * np.log(80),
                                       rel=1e-9)


def test_same_seed_same_result_and_json(cc):
    a = fit_gmm_bic(cc, features=("logq", "loga"), seed=5).summary()
    b = fit_gmm_bic(cc, features=("logq", "loga"), seed=5).summary()
    assert a == b
    text = json.dumps(a, allow_nan=False)
    assert '"winner": 2' in text
    assert set(a["models"]) == {"1", "2"}
    assert a["n"] == len(cc)


def test_small_samples_give_nan_with_reason():
    X = np.random.default_rng(0).normal(size=(8, 2))
    res = fit_gmm_bic(X, seed=0)
    assert res.winner == 1 and np.isnan(res.bic[2])
    assert "not fitted" in res.notes[2] and "11 free parameters" in res.notes[2]
    tiny = fit_gmm_bic(X[:2], seed=0)
    assert tiny.winner is None
    assert tiny.responsibilities.shape == (2, 0)
    summ = tiny.summary()
    assert summ["bic"] == {"1": None, "2": None}
    json.dumps(summ, allow_nan=False)


def test_bad_input_raises(cc):
    X = cc[["logq", "loga"]].to_numpy().copy()
    X[0, 0] = np.nan
    with pytest.raises(InputDataError, match="complete-case"):
        fit_gmm_bic(X, seed=0)
    with pytest.raises(InputDataError, match="nope"):
        fit_gmm_bic(cc, features=("logq", "nope"), seed=0)


def test_predict_responsibilities_scores_reference(cc):
    st = synthetic_stacked(200, seed=11)
    res = fit_gmm_bic(cc, features=("logq", "loga"), seed=0)
    r = res.predict_responsibilities(st)
    ref = st["is_reference"].to_numpy()
    assert np.isfinite(r[ref]).all()
    assert r[ref, 1][0] < 0.05  # TOI-6894 b-like: planet-like component
    X = st[["logq", "loga"]].to_numpy().copy()
    X[0] = np.nan
    assert np.isnan(res.predict_responsibilities(X)[0]).all()


def test_order_follows_logq_wherever_it_is(cc):
    a = fit_gmm_bic(cc, features=("logq", "loga"), seed=0)
    b = fit_gmm_bic(cc, features=("loga", "logq"), seed=0)
    np.testing.assert_allclose(a.responsibilities, b.responsibilities, atol=1e-6)
    assert b.summary()["component_order"] == "ascending mean logq"
