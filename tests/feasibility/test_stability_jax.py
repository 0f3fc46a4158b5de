"""The JAX lookup gives the NumPy numbers, under jit and vmap, in float32 and float64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vlms_bayes.data_io.quarles import load_stability_table, table_file_name
from vlms_bayes.feasibility.stability import (
    ac_ratio,
    ac_ratio_jax,
    holman_wiegert_ptype,
    holman_wiegert_stype,
)


@pytest.fixture(scope="module")
def table(registered_file):
    return load_stability_table(0, data_dir=registered_file(table_file_name(0)).parent.parent)


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(11)
    mu = rng.uniform(0.001, 0.999, 50_000)
    e = rng.uniform(0.0, 0.8, 50_000)
    # include every node exactly, and the domain corners
    nodes_mu, nodes_e = np.meshgrid(np.r_[0.001, np.arange(1, 100) / 100, 0.999],
                                    np.arange(81) / 100, indexing="ij")
    return np.r_[mu, nodes_mu.ravel()], np.r_[e, nodes_e.ravel()]


def test_jax_equals_numpy_float64(table, points):
    mu, e = points
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(ac_ratio_jax)(table, jnp.asarray(mu), jnp.asarray(e)))
        assert got.dtype == np.float64
    np.testing.assert_allclose(got, ac_ratio(table, mu, e), rtol=0, atol=1e-14)


def test_jax_equals_numpy_float32(table, points):
    mu, e = points
    # other code in the same process may have enabled x64 globally; pin it off here
    with jax.enable_x64(False):
        got = np.asarray(jax.jit(ac_ratio_jax)(table, mu.astype(np.float32),
                                               e.astype(np.float32)))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ac_ratio(table, mu, e), rtol=0, atol=2e-6)


def test_jax_vmap_and_table_as_pytree(table, points):
    mu, e = points[0][:1000], points[1][:1000]

    def one(tab, m, x):
        return ac_ratio_jax(tab, m, x)

    got = jax.jit(jax.vmap(one, in_axes=(None, 0, 0)))(table, mu, e)
    np.testing.assert_allclose(np.asarray(got), ac_ratio(table, mu, e), atol=2e-6)
    leaves = jax.tree_util.tree_leaves(table)
    assert len(leaves) == 4  # mu_nodes, e_nodes, ratio, incl_deg


def test_jax_clamps_outside_domain(table):
    got = np.asarray(ac_ratio_jax(table, jnp.array([1e-5, 0.9999, 0.3]),
                                  jnp.array([0.2, 0.2, 0.95])))
    want = ac_ratio(table, [0.001, 0.999, 0.3], [0.2, 0.2, 0.8])
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_hw99_fits_accept_jax_arrays():
    mu = np.array([0.1, 0.3, 0.5])
    e = np.array([0.0, 0.4, 0.7])
    np.testing.assert_allclose(np.asarray(holman_wiegert_stype(jnp.asarray(mu), jnp.asarray(e))),
                               holman_wiegert_stype(mu, e), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.jit(holman_wiegert_ptype)(mu, e)),
                               holman_wiegert_ptype(mu, e), rtol=1e-6)
