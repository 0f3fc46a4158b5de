"""The NUTS sampler compiled once per model settings and data shapes (inference/nuts_jax.py).

A new dataset of the same padded shapes — an SBC replica, a refit — and the gate's retry
at a higher target acceptance run the program already compiled; and the draws are those of
NumPyro's ``MCMC`` on the same density and seed (the former path), up to floating-point
rounding.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vlms_bayes.inference.nuts_jax import COMPILE_EVENT, compile_events, sample_density
from vlms_bayes.models.data import model_data_from_stacked
from vlms_bayes.models.logdensity import mixture_density
from vlms_bayes.models.simulate import simulate_catalogue

jax = pytest.importorskip("jax")
pytest.importorskip("numpyro")
pytestmark = pytest.mark.usefixtures("jax_test_cache")

RUN = dict(draws=25, tune=25, chains=2, random_seed=4)


@pytest.fixture(scope="module")
def two_datasets():
    """A small sample and a replica of its design with other values."""
    frame = simulate_catalogue(30, random_seed=5)
    data, _ = model_data_from_stacked(frame)
    rng = np.random.default_rng(8)
    other = replace(data, y_logq=data.y_logq + 0.4 * rng.standard_normal(data.n),
                    y_loga=data.y_loga + 0.3 * rng.standard_normal(data.n))
    return data, other


def test_a_second_dataset_and_a_retry_reuse_the_compiled_sampler(two_datasets):
    d1, d2 = (mixture_density(d, n_components=1) for d in two_datasets)
    first = sample_density(d1, **RUN)
    with compile_events() as seen:
        second = sample_density(d2, **RUN)
        retry = sample_density(d2, **{**RUN, "random_seed": 5}, target_accept=0.95)
    assert seen[COMPILE_EVENT] == 0
    m1, m2 = (float(dt["posterior"]["mu_logq"].mean()) for dt in (first, second))
    assert m1 != m2                                  # each run saw its own data
    assert retry["posterior"]["mu_logq"].shape == (2, 25, 1)
    assert float(retry["sample_stats"]["acceptance_rate"].mean()) > 0.5


@pytest.mark.slow
def test_shared_sampler_draws_match_numpyro_mcmc(two_datasets):
    """Same seed, same density: the draws of ``numpyro.infer.MCMC`` (the former path)."""
    dens = mixture_density(two_datasets[0], n_components=1)
    new = sample_density(dens, **RUN)
    old = sample_density(dens, **RUN, share_compiled=False)
    np.testing.assert_array_equal(new["sample_stats"]["n_steps"], old["sample_stats"]["n_steps"])
    for name in ("mu_logq", "sigma_loga", "e_alpha"):
        np.testing.assert_allclose(new["posterior"][name], old["posterior"][name],
                                   rtol=1e-6, atol=1e-6)
