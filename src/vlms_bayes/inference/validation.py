"""Fit simulated samples with a known truth and score what the demographic answer gets right.

Used by the slow validation tests and ``benchmarks/validate_demographics.py``: for one
replica of a scenario (:mod:`vlms_bayes.models.scenarios`), fit the mixture and report

* the mean P(binary-like) of the *planet-population* objects found by each method — a
  model that splits one population by method (the failure of issue 15) gives very
  different numbers per method;
* whether the 90 % interval of the intrinsic binary-like weight covers the truth;
* the gate's verdict and the fit's time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.inference.fit import FitConfig, fit_posterior
from vlms_bayes.inference.membership import (
    draws_from_posterior,
    object_log_terms,
    responsibilities,
)
from vlms_bayes.models.data import model_data_from_stacked
from vlms_bayes.models.likelihood import log_weights


@dataclass(frozen=True)
class ReplicaScore:
    """What one fit of one simulated replica got right."""

    seed: int
    n_objects: int
    gate_passed: bool
    p_binary_planets_by_method: dict[str, float]
    method_spread: float
    w_binary_interval: tuple[float, float]
    w_binary_true: float
    covered: bool
    fit_s: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {**self.__dict__, "w_binary_interval": list(self.w_binary_interval)}


def score_replica(detected: pd.DataFrame, config: FitConfig, *, w_binary_true: float,
                  seed: int, min_per_method: int = 3) -> ReplicaScore:
    """Fit one simulated detected sample (K = 2) and score it against its truth.

    Parameters
    ----------
    detected : pandas.DataFrame
        Stacked-schema rows with ``true_population`` (0 planet-like, 1 binary-like).
    config : FitConfig
        The model and sampler settings to validate (``n_components`` is set to 2).
    w_binary_true : float
        The true intrinsic binary-like fraction.
    seed : int
        Sampler seed.
    min_per_method : int
        Methods with fewer planet-population objects are left out of the spread.
    """
    data, rows = model_data_from_stacked(detected, measurement=config.measurement)
    t0 = time.perf_counter()
    dt, diag, _ = fit_posterior(data, replace(config, n_components=2), n_components=2,
                                seed=seed)
    fit_s = time.perf_counter() - t0
    draws = draws_from_posterior(dt["posterior"])
    p_bin = responsibilities(object_log_terms(data, draws))[..., -1].mean(axis=0)
    truth = rows["true_population"].to_numpy(int)
    methods = np.asarray(data.methods)
    by_method = {}
    for m in dict.fromkeys(methods.tolist()):
        sel = (methods == m) & (truth == 0)
        if sel.sum() >= min_per_method:
            by_method[m] = float(p_bin[sel].mean())
    spread = (max(by_method.values()) - min(by_method.values())) if by_method else np.nan
    w_bin = np.exp(log_weights(draws)[:, -1])
    lo, hi = (float(v) for v in np.quantile(w_bin, [0.05, 0.95]))
    return ReplicaScore(seed, data.n, bool(diag.passed), by_method, float(spread), (lo, hi),
                        float(w_binary_true), bool(lo <= w_binary_true <= hi), fit_s)
