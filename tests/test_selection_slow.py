"""Recovery of intrinsic populations through detection-method selection (slow; -m slow).

Simulation: an intrinsic planet-like population of small companions close in (μ_log q =
−4.6) and a binary-like one at AU scales, each companion searched by one method (RV 40%,
transit 30%, microlensing 20%, imaging 10%) and kept with probability p_det at its true
(log q, log a) and host (:func:`vlms_bayes.models.simulate_selection.simulate_detected`).
RV then sees only the upper tail of the planet-like population and no wide binaries.

Stated tolerances
-----------------
* Selection-aware fit: over R replicas × 10 population parameters (w, μ, σ of both
  populations), the 90% central intervals contain the truth in a fraction within
  [0.75, 0.98] (wider than the binomial range for small R; the checks within a replica are
  correlated).
* Negative control: the naive fit of the same catalogues misses the planet-like mean
  log q: its 90% interval excludes the truth in at least 80% of the replicas, and the
  average z-score |posterior mean − truth| / posterior sd exceeds 3.
* One intrinsic population seen by several methods: with selection on, K = 2 must not beat
  K = 1 in ELPD-LOO by more than two standard errors of the difference.
Replicas: ``VLMS_BAYES_SELECTION_REPLICAS`` (default 6).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.simulate import ObservationSettings, PopulationTruth
from vlms_bayes.models.simulate_selection import simulate_detected

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("jax_test_cache")]

REPLICAS = int(os.environ.get("VLMS_BAYES_SELECTION_REPLICAS", "6"))
TRUTH = PopulationTruth(w=(0.75, 0.25), mu_logq=(-4.6, -1.8), mu_loga=(-1.3, 0.3),
                        sigma_logq=(0.5, 0.5), sigma_loga=(0.4, 0.5), rho=(0.0, 0.0))
METHOD_PROBS = (0.4, 0.3, 0.2, 0.1)
PARAMS = ("w", "mu_logq", "mu_loga", "sigma_logq", "sigma_loga")


def _fit(frame, *, selection, k=2, seed=0, draws=500, tune=500):
    from vlms_bayes.inference.fit import FitConfig, fit_posterior
    from vlms_bayes.models.data import model_data_from_stacked

    data, _ = model_data_from_stacked(frame)
    cfg = FitConfig(chains=2, draws=draws, tune=tune, selection=selection)
    dt, diag, _ = fit_posterior(data, cfg, n_components=k, seed=seed)
    return data, dt, diag


#: Measurement errors like the real sample's radial-velocity and transit rows (median
#: 0.05–0.08 dex in log q): the likelihood takes p_det as constant over each object's
#: error (docs/selection.md), which holds when errors are small against the soft cuts.
OBSERVE = ObservationSettings(clip_e=False, logq_err=(0.03, 0.1))


def _catalogue(seed, truth=TRUTH, n=1200, method_probs=METHOD_PROBS):
    det, _ = simulate_detected(n, truth=truth, method_probs=method_probs, observe=OBSERVE,
                               random_seed=seed)
    return det


def recovery_numbers(replicas: int = REPLICAS) -> dict[str, object]:
    """Coverage of the selection-aware fit and bias of the naive fit over replicas."""
    sel = SelectionModel()
    hits, naive_hits, z_naive, z_sel, n_obj = [], [], [], [], []
    for r in range(replicas):
        frame = _catalogue(2000 + r)
        n_obj.append(len(frame))
        for selection, store in ((sel, hits), (None, naive_hits)):
            _, dt, _ = _fit(frame, selection=selection, seed=r)
            post = dt["posterior"]
            for name in PARAMS:
                v = np.asarray(post[name].values).reshape(-1, 2)
                lo, hi = np.quantile(v, [0.05, 0.95], axis=0)
                t = np.asarray(getattr(TRUTH, name))
                store.append(((lo <= t) & (t <= hi)).tolist())
            mq = np.asarray(post["mu_logq"].values).reshape(-1, 2)[:, 0]
            z = abs(mq.mean() - TRUTH.mu_logq[0]) / mq.std()
            (z_sel if selection is not None else z_naive).append(z)
    hits_a, naive_a = np.asarray(hits), np.asarray(naive_hits)
    return {"coverage_selection": float(hits_a.mean()), "coverage_naive": float(naive_a.mean()),
            "per_param_coverage_selection": hits_a.reshape(replicas, len(PARAMS), 2)
            .mean(axis=0).tolist(),
            "per_param_coverage_naive": naive_a.reshape(replicas, len(PARAMS), 2)
            .mean(axis=0).tolist(),
            "z_mu_logq_planet_selection": z_sel, "z_mu_logq_planet_naive": z_naive,
            "n_detected": n_obj}


def test_selection_aware_fit_recovers_intrinsic_and_naive_is_biased():
    res = recovery_numbers()
    print(res)  # the numbers for the report (pytest -s)
    assert 0.75 <= res["coverage_selection"] <= 0.98, res
    naive_miss = np.mean(np.asarray(res["z_mu_logq_planet_naive"]) > 1.645)
    assert naive_miss >= 0.8, res
    assert np.mean(res["z_mu_logq_planet_naive"]) > 3, res
    assert np.mean(res["z_mu_logq_planet_selection"]) < 2, res


@pytest.mark.xfail(strict=False, reason=(
    "measured once (seed 99): the selection-aware K=2 fit of one intrinsic population did not "
    "converge (R-hat 1.28, 12 divergences, then a stuck chain whose constant draws make "
    "arviz's R-hat warn, an error under filterwarnings=error), so LOO could not be compared; "
    "open problem, see docs/selection.md"))
def test_one_population_seen_by_several_methods_is_not_split():
    from vlms_bayes.inference.comparison import loo_compare

    one = PopulationTruth(w=(1.0,), mu_logq=(-3.0,), mu_loga=(-0.6,), sigma_logq=(0.9,),
                          sigma_loga=(0.8,), rho=(0.2,), e_mean=(0.2,), e_conc=(6.0,))
    frame = _catalogue(99, truth=one, n=1000)
    sel = SelectionModel()
    _, dt1, _ = _fit(frame, selection=sel, k=1, seed=1)
    _, dt2, _ = _fit(frame, selection=sel, k=2, seed=2)
    table = loo_compare({"K=1": dt1, "K=2": dt2}).set_index("model")
    print(table)
    if table.index[0] == "K=2":
        row = table.loc["K=1"]
        assert -row["elpd_diff"] < 2 * row["dse"], table
