"""Slow tier: the JAX density's sampler and PyMC's graph give the same posterior.

``tests/models/test_logdensity.py`` holds the two log densities equal point by point; this
checks the whole path (transforms back, deterministics, the DataTree) by sampling the same
selection-aware model with both backends and comparing posterior means within their Monte
Carlo standard errors. A negative control — the same data under a different prior on the
populations' mean log a — must fail the same comparison.
"""

from __future__ import annotations

import numpy as np
import pytest

from vlms_bayes.inference.diagnostics import GateConfig
from vlms_bayes.inference.fit import FitConfig, fit_posterior
from vlms_bayes.models.data import model_data_from_stacked
from vlms_bayes.models.mixture import MixturePriors
from vlms_bayes.models.simulate import simulate_catalogue

pytestmark = pytest.mark.slow

PARAMS = ("mu_logq", "mu_loga", "sigma_logq", "sigma_loga", "rho", "e_mean", "w")


def _means_and_mcse(dt):
    import arviz as az

    post = dt["posterior"]
    mean = {p: post[p].mean(("chain", "draw")).values for p in PARAMS}
    mcse = {p: az.mcse(dt, var_names=[p], method="mean")[p].values for p in PARAMS}
    return mean, mcse


def _max_z(a, b):
    (ma, sa), (mb, sb) = a, b
    return max(float(np.max(np.abs(ma[p] - mb[p]) / np.hypot(sa[p], sb[p]))) for p in PARAMS)


def test_jax_and_pymc_graph_sample_the_same_posterior():
    frame = simulate_catalogue(60, random_seed=21)
    data, _ = model_data_from_stacked(frame)
    gate = GateConfig(max_rhat=1.05, min_ess_bulk=100, min_ess_tail=100)
    res = {}
    for backend in ("jax", "numpyro"):
        cfg = FitConfig(backend=backend, chains=2, draws=1000, tune=600, gate=gate,
                        allow_bad_diagnostics=True)
        dt, diag, _ = fit_posterior(data, cfg, n_components=2, seed=3)
        assert diag.passed, diag.failures
        res[backend] = _means_and_mcse(dt)
    # 7 parameter vectors of length 2: the largest of 14 |z| exceeds 4 with p ~ 1e-3
    assert _max_z(res["jax"], res["numpyro"]) < 4.0
    other = FitConfig(backend="jax", chains=2, draws=1000, tune=600, gate=gate,
                      allow_bad_diagnostics=True,
                      priors=MixturePriors(mu_loga_mean=1.0, mu_loga_sd=0.3))
    dt, _, _ = fit_posterior(data, other, n_components=2, seed=3)
    assert _max_z(_means_and_mcse(dt), res["numpyro"]) > 4.0
