"""Grid sums of the JAX log density with hand-written reverse-mode gradients.

The selection normalisation needs, for every population k and host group j,

    log ξ_jk = log Σ_g W_gj N2((q_g, a_g) | μ_k, Σ_k + τ² I),

a sum over a few thousand grid nodes g (:func:`vlms_bayes.models.selection_norm.log_xi`).
Differentiated by JAX, the Gaussian's five parameters each get their own chain of
elementwise products over the (K × G) grid in the backward pass, and XLA's CPU backend
runs them as two dozen separate loops over the grid plus as many reductions: on the real
sample (G = 5 375 nodes, 68 groups) two thirds of the compiled log density's work
(docs/bayes.md, Speed). :func:`gauss_grid_logsum` computes the same value with the same
operations and writes its gradient by hand: with r_kg = ∂L/∂ log N2 at node g (one
product of the cotangent with the weight matrix, times the node's scaled density), the
gradient of the bivariate normal's log density is a quadratic in the residuals, so every
parameter's gradient follows from six moments Σ_g r_kg (1, dq, da, dq², dq·da, da²).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from vlms_bayes.models.selection_norm import TINY


@lru_cache(maxsize=1)
def gauss_grid_logsum() -> Callable[..., Any]:
    """``f(mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a, weights)`` → log ξ, shape (Gr, K).

    The population parameters have shape (K,): means, the variances of log q and log a
    (the population's plus the grid smoothing's) and their covariance; ``grid_q``,
    ``grid_a`` (G,) are the nodes and ``weights`` (G, Gr) the quadrature weights times
    p_det of each group. The value is ``top + log(Σ_g W_gj exp(lp_kg − top_k) + TINY)``
    with ``lp`` the bivariate normal's log density at the nodes and ``top_k`` its
    maximum, as :func:`~vlms_bayes.models.selection_norm.log_xi` computes it; the
    gradient (``jax.custom_vjp``) is the exact derivative of that expression, the
    maximum's included (it matters only where a sum underflows to ``TINY``; ties share
    it, as JAX's ``max``), with respect to the five population arrays. The grid arrays
    are data: they get no cotangent. Reverse mode only (no ``jvp``).

    JAX is imported when the function is first asked for (off the ``--help`` path).
    """
    import jax  # heavy: keeps --help fast
    import jax.numpy as jnp  # heavy: jax

    def parts(mu_q: Any, mu_a: Any, var_q: Any, var_a: Any, cov: Any, grid_q: Any,
              grid_a: Any, weights: Any) -> tuple[Any, ...]:
        dq = grid_q[None, :] - mu_q[:, None]                                    # (K, G)
        da = grid_a[None, :] - mu_a[:, None]
        # bvn_logpdf with its per-population factors taken out of the loop over the grid
        # (XLA computes a broadcast log(det) and 1/det once per node otherwise)
        det = var_q * var_a - cov * cov
        c_q, c_a, c_qa = ((var_a / det)[:, None], (var_q / det)[:, None],
                          (2.0 * cov / det)[:, None])
        lp = ((-np.log(2.0 * np.pi) - 0.5 * jnp.log(det))[:, None]
              - 0.5 * (c_q * dq * dq - c_qa * dq * da + c_a * da * da))
        top = jnp.max(lp, axis=1)
        scaled = jnp.exp(lp - top[:, None])
        summed = scaled @ weights                                               # (K, Gr)
        return (top[:, None] + jnp.log(summed + TINY)).T, top, scaled, summed

    @jax.custom_vjp
    def logsum(mu_q: Any, mu_a: Any, var_q: Any, var_a: Any, cov: Any, grid_q: Any,
               grid_a: Any, weights: Any) -> Any:
        return parts(mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a, weights)[0]

    def fwd(mu_q: Any, mu_a: Any, var_q: Any, var_a: Any, cov: Any, grid_q: Any,
            grid_a: Any, weights: Any) -> tuple[Any, Any]:
        out, _, scaled, summed = parts(mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a,
                                       weights)
        return out, (mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a, weights, scaled, summed)

    def bwd(res: tuple[Any, ...], g: Any) -> tuple[Any, ...]:
        mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a, weights, scaled, summed = res
        gt = g.T                                                                # (K, Gr)
        denom = summed + TINY
        # ∂L/∂lp_kg through the sum, and through top_k (1 − summed/(summed + TINY))
        # one matrix-vector product per population: XLA's CPU backend ran the (K × Gr) by
        # (G × Gr)ᵀ product 1.5-2x slower (docs/bayes.md, Speed)
        h = gt / denom
        through_sum = jnp.stack([weights @ h[k] for k in range(h.shape[0])])      # (K, G)
        at_top = scaled == 1.0  # the nodes at the maximum (and within rounding of it)
        top_share = jnp.sum(gt * (TINY / denom), axis=1) / jnp.sum(at_top, axis=1)
        r = scaled * through_sum + jnp.where(at_top, top_share[:, None], 0.0)   # (K, G)
        dq = grid_q[None, :] - mu_q[:, None]
        da = grid_a[None, :] - mu_a[:, None]
        r0 = jnp.sum(r, axis=1)
        rq, ra = jnp.sum(r * dq, axis=1), jnp.sum(r * da, axis=1)
        rqq, rqa, raa = (jnp.sum(r * dq * dq, axis=1), jnp.sum(r * dq * da, axis=1),
                         jnp.sum(r * da * da, axis=1))
        # lp = −log 2π − ½ log det − ½ Q/det, det = v_q v_a − c², Q = v_a dq² − 2c dq da + v_q da²
        det = var_q * var_a - cov * cov
        quad = (var_a * rqq - 2.0 * cov * rqa + var_q * raa) / det              # Σ r Q / det
        g_mu_q = (var_a * rq - cov * ra) / det
        g_mu_a = (var_q * ra - cov * rq) / det
        g_var_q = 0.5 * (var_a * (quad - r0) - raa) / det
        g_var_a = 0.5 * (var_q * (quad - r0) - rqq) / det
        g_cov = (cov * (r0 - quad) + rqa) / det
        return g_mu_q, g_mu_a, g_var_q, g_var_a, g_cov, None, None, None

    logsum.defvjp(fwd, bwd)
    return logsum
