"""Fixtures of the model tests: a small sample that exercises every kernel of the log density."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vlms_bayes.models.data import ModelData, model_data_from_stacked
from vlms_bayes.models.simulate import ObservationSettings, simulate_catalogue

#: Discovery methods drawn for the rows; the last has no selection function (flat).
METHODS = ("Radial Velocity", "Transit", "Microlensing", "Imaging",
           "Transit Timing Variations")


def _mixed_method_data(n: int, seed: int = 5) -> ModelData:
    """``n`` simulated objects with minimum masses, projected separations, true masses,
    measured and censored eccentricities, and random methods and host magnitudes."""
    frame = simulate_catalogue(n, random_seed=seed,
                               observe=ObservationSettings(projected_methods=("Microlensing",)))
    rng = np.random.default_rng(seed)
    frame["discoverymethod"] = rng.choice(METHODS, size=len(frame))
    frame["sy_vmag"] = rng.uniform(9.0, 18.0, len(frame))
    d, _ = model_data_from_stacked(frame)
    assert d.msini.any() and d.is_projected.any() and d.plain.any()
    assert len(d.idx_measured) and len(d.idx_limit)
    return d


@pytest.fixture(scope="session")
def mixed_method_data() -> Callable[..., ModelData]:
    """Builder of :func:`_mixed_method_data` samples (``n`` objects, ``seed``)."""
    return _mixed_method_data


def _log_abs_jacobian(fn: Callable[[np.ndarray], np.ndarray], u: np.ndarray, n_out: int,
                      h: float = 1e-6) -> float:
    """log |det d x[:n_out] / d u| by central differences (independent of the code)."""
    jac = np.empty((n_out, u.size))
    for j in range(u.size):
        e = np.zeros(u.size)
        e[j] = h
        jac[:, j] = (fn(u + e)[:n_out] - fn(u - e)[:n_out]) / (2 * h)
    return float(np.linalg.slogdet(jac)[1])


@pytest.fixture(scope="session")
def log_abs_jacobian() -> Callable[..., float]:
    """:func:`_log_abs_jacobian`: a transform's numerical log-Jacobian."""
    return _log_abs_jacobian
