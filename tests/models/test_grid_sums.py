"""The hand-written gradients of the JAX density's quadratures against JAX's autodiff.

Each function of :mod:`vlms_bayes.models.grid_sums` computes the value of a plain JAX
expression (written out here, as the code had it before) and supplies its own reverse-mode
gradient. Values and gradients must agree with ``jax.value_and_grad`` of the plain
expression, also on the branches that only extreme parameters reach: a selection sum
that underflows (the gradient is then the maximum's), the inclination integral's
clipped lower end, and a measured-e product held at 1e-300.
"""

from __future__ import annotations

import numpy as np
import pytest

from vlms_bayes.models import grid_sums
from vlms_bayes.models.likelihood import (
    bvn_logpdf,
    inclination_gauss_logint,
    measured_e_constants,
    msini_qa_logpdf,
)
from vlms_bayes.models.selection_norm import TINY

jax = pytest.importorskip("jax")
jnp = jax.numpy


def _close(mine, ref, *, rtol=1e-11, atol=1e-12):
    for a, b in zip(jax.tree.leaves(mine), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# the selection grid sum
# ---------------------------------------------------------------------------------------
def _plain_log_xi(th, grid_q, grid_a, w):
    """log ξ as :func:`vlms_bayes.models.selection_norm.log_xi` writes it (JAX)."""
    mu_q, mu_a, vq, va, cov = th
    lp = bvn_logpdf(grid_q[:, None] - mu_q, grid_a[:, None] - mu_a, vq, va, cov, log=jnp.log)
    top = jnp.max(lp, axis=0)
    return top + jnp.log(w.T @ jnp.exp(lp - top) + TINY)


def _grid(n_q=40, n_a=30, n_groups=7, seed=0):
    rng = np.random.default_rng(seed)
    q, a = np.meshgrid(np.linspace(-5.0, 0.0, n_q), np.linspace(-2.5, 2.5, n_a), indexing="ij")
    w = rng.uniform(0.0, 1.0, (q.size, n_groups)) * (rng.uniform(size=(q.size, 1)) > 0.2)
    # a group that weighs only the far corner (log q > -0.3, log a > 2): with a narrow
    # population at the opposite corner its sum underflows to 0 and log ξ is top + log TINY
    w[:, -1] = np.where((q.ravel() > -0.3) & (a.ravel() > 2.0), 1.0, 0.0)
    return q.ravel(), a.ravel(), w


@pytest.mark.parametrize("th", [
    ([-3.0, -1.0], [0.0, 1.0], [0.3, 0.6], [0.5, 0.2], [0.05, -0.2]),
    ([-1.0, -4.0], [-2.0, 2.2], [0.02, 1.5], [0.01, 0.9], [0.001, 0.9]),   # narrow, wide
    ([-4.9, -2.0], [-2.4, 0.0], [0.001, 0.4], [0.001, 0.4], [0.0, 0.1]),   # underflows
])
def test_selection_grid_sum_and_gradient_equal_autodiff(th):
    gq, ga, w = _grid()
    with jax.enable_x64(True):
        th = tuple(jnp.asarray(x, float) for x in th)
        f = grid_sums.gauss_grid_logsum()
        weights, weights_t = jnp.asarray(w), jnp.asarray(np.ascontiguousarray(w.T))
        ct = jnp.asarray(np.random.default_rng(1).normal(size=(w.shape[1], 2)))

        def mine(th):
            return jnp.sum(ct * f(*th, jnp.asarray(gq), jnp.asarray(ga), weights, weights_t))

        def ref(th):
            return jnp.sum(ct * _plain_log_xi(th, jnp.asarray(gq), jnp.asarray(ga), weights))

        a, b = (jax.jit(jax.value_and_grad(fn))(th) for fn in (mine, ref))
        if th[2][0] < 0.01:  # the case built to underflow: the last group's sum is TINY
            lxi = _plain_log_xi(th, jnp.asarray(gq), jnp.asarray(ga), weights)
            assert float(lxi[-1, 0]) < np.log(TINY) / 2
    _close(a, b)


# ---------------------------------------------------------------------------------------
# the inclination (and projection) node sum
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_nodes", [32])
def test_inclination_node_sum_and_gradient_equal_autodiff(n_nodes):
    from jax.scipy.special import logsumexp

    ops = {"log": jnp.log, "sqrt": jnp.sqrt, "expm1": jnp.expm1, "maximum": jnp.maximum,
           "abs": jnp.abs, "where": jnp.where, "logsumexp": logsumexp}
    mine_ops = dict(ops, incl_node_logsum=grid_sums.incl_node_logsum)
    rng = np.random.default_rng(3)
    n = 40  # conditional means from 3 dex below to 4.5 above, widths 0.01-3 dex: both
    # branches of the upper end and the clipped lower end
    y = (rng.uniform(-3.0, 0.0, n), rng.uniform(-1.0, 1.0, n), rng.uniform(0.01, 0.5, n),
         rng.uniform(0.01, 0.5, n))
    th = ([-4.0, -1.0], [0.0, 0.5], [0.02, 1.8], [0.3, 0.6], [0.4, -0.7])
    ct = rng.normal(size=(n, 2))
    with jax.enable_x64(True):
        th = tuple(jnp.asarray(v) for v in th)
        y = tuple(jnp.asarray(v) for v in y)

        def total(o):
            return lambda th: jnp.sum(ct * msini_qa_logpdf(*y, *th, ops=o, n_nodes=n_nodes))

        a, b = (jax.jit(jax.value_and_grad(total(o)))(th) for o in (mine_ops, ops))
        u0 = jnp.linspace(-3.0, 4.5, 25)[:, None, None]
        s2 = jnp.asarray([1e-4, 0.04, 1.0, 9.0])[None, None, :]
        direct = inclination_gauss_logint(u0, s2, ops=mine_ops, n_nodes=n_nodes)
        plain = inclination_gauss_logint(u0, s2, ops=ops, n_nodes=n_nodes)
    _close(a, b)
    _close(direct, plain)


# ---------------------------------------------------------------------------------------
# the measured-e grid sum
# ---------------------------------------------------------------------------------------
def _plain_measured_e(alpha, beta, c):
    """The measured-e terms as the density wrote them before their own gradient (JAX)."""
    from jax.scipy.special import gammaln, logsumexp

    lb = gammaln(alpha) + gammaln(beta) - gammaln(alpha + beta)
    b = ((alpha[:, None] - 1.0) * c["log_e"][None, :]
         + (beta[:, None] - 1.0) * c["log1m_e"][None, :] - lb[:, None])
    b_max = jnp.max(b, axis=1)
    prod = c["a_scaled"] @ jnp.exp(b - b_max[:, None]).T
    body = c["a_max"][:, None] + b_max[None, :] + jnp.log(jnp.maximum(prod, 1e-300))
    tail_lo = c["log_n0"][:, None] + alpha * c["log_e_lo"] - jnp.log(alpha) - lb
    tail_hi = c["log_n1"][:, None] + beta * c["log1m_e_hi"] - jnp.log(beta) - lb
    em_lo = c["em_lo"][:, None] + jnp.log(alpha) + b[None, :, 0]
    em_hi = c["em_hi"][:, None] + jnp.log(beta) + b[None, :, -1]
    return logsumexp(jnp.stack([body, tail_lo, tail_hi, em_lo, em_hi], axis=-1), axis=-1)


def _e_constants(e_obs, s_e, *, squash=1.0):
    c = measured_e_constants(np.asarray(e_obs), np.asarray(s_e), h=0.05)
    c["a_max"] = c["a"].max(axis=1)
    c["a_scaled"] = np.exp(c["a"] - c["a_max"][:, None]) * squash
    del c["a"]
    return {k: jnp.asarray(v) for k, v in c.items()}


@pytest.mark.parametrize(("alpha", "beta", "squash"), [
    ([0.9, 2.0], [3.0, 1.2], 1.0),
    ([0.05, 40.0], [0.3, 15.0], 1.0),        # a spike at e = 0 and a narrow bump
    ([300.0, 1.5], [300.0, 8.0], 1e-290),    # products below 1e-300: held there
])
def test_measured_e_sum_and_gradient_equal_autodiff(alpha, beta, squash):
    rng = np.random.default_rng(5)
    e_obs, s_e = rng.uniform(0.0, 0.9, 12), rng.uniform(0.04, 0.2, 12)
    ct = rng.normal(size=(12, 2))
    with jax.enable_x64(True):
        c = _e_constants(e_obs, s_e, squash=squash)
        f = grid_sums.beta_grid_logsum()
        ab = (jnp.asarray(alpha), jnp.asarray(beta))
        a, b = (jax.jit(jax.value_and_grad(lambda ab, fn=fn: jnp.sum(ct * fn(*ab, c))))(ab)
                for fn in (f, _plain_measured_e))
        if squash < 1.0:  # the case built to hold the first population's product
            prod = c["a_scaled"] @ jnp.ones(c["log_e"].shape)
            assert float(jnp.max(prod)) < 1e-280
    _close(a, b, rtol=1e-10)
