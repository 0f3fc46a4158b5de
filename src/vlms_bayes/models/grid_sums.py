"""Quadratures of the JAX log density with hand-written reverse-mode gradients.

Three sums over many nodes dominate the cost of the mixture's log density and gradient
(:mod:`vlms_bayes.models.logdensity`): the selection normalisation's grid sum

    log ξ_jk = log Σ_g W_gj N2((q_g, a_g) | μ_k, Σ_k + τ² I)

over a few thousand grid nodes g and every host group j
(:func:`vlms_bayes.models.selection_norm.log_xi`), the 32-node inclination and
projection integrals of every m sin i and projected-separation object and population
(:func:`vlms_bayes.models.likelihood.inclination_gauss_logint`), and the measured-e grid
sum over a few hundred logit-e nodes (:func:`vlms_bayes.models.likelihood.
measured_e_logterm`). Differentiated by JAX, each parameter gets its own chain of
elementwise products over the nodes in the backward pass, which XLA's CPU backend runs
as dozens of separate loops and reductions: on the real sample (5 375 selection nodes,
68 groups) autodiff's backward pass of log ξ alone was two thirds of the compiled log
density's work (docs/bayes.md, Speed).

Each function here computes the same value with the same operations (up to the order of
floating-point rounding) and its exact gradient by hand (``jax.custom_vjp``): for log ξ,
with r_kg = ∂L/∂ log N2 at node g (the cotangent's product with the transposed weight
matrix, times the node's scaled density), the gradient of the bivariate normal's log
density is a quadratic in the residuals, so every parameter's gradient follows from six
moments Σ_g r_kg (1, dq, da, dq², dq·da, da²); for the node sums, from the nodes'
softmax weights in the forward pass. ``tests/models/test_grid_sums.py`` holds values and
gradients to JAX's autodiff of the plain expressions, ``tests/models/
test_logdensity.py`` the whole density to PyMC's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from vlms_bayes.models.selection_norm import TINY


@lru_cache(maxsize=1)
def gauss_grid_logsum() -> Callable[..., Any]:
    """``f(mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a, weights, weights_t)`` → log ξ (Gr, K).

    The population parameters have shape (K,): means, the variances of log q and log a
    (the population's plus the grid smoothing's) and their covariance; ``grid_q``,
    ``grid_a`` (G,) are the nodes, ``weights`` (G, Gr) the quadrature weights times
    p_det of each group and ``weights_t`` the same matrix transposed, (Gr, G), stored
    (the backward pass's product with it ran 10 % faster on XLA's CPU backend than
    with ``weights`` in either order).

    The value is ``top + log(Σ_g W_gj exp(lp_kg − top_k) + TINY)`` with ``lp`` the
    bivariate normal's log density at the nodes and ``top_k`` its maximum, as
    :func:`~vlms_bayes.models.selection_norm.log_xi` computes it (the normal's
    per-population factors multiplied out first: the same value up to rounding). The
    gradient (``jax.custom_vjp``) is the exact derivative of that expression with respect
    to the five population arrays, the maximum's included: it matters only where a sum
    underflows to ``TINY``, and it is shared by the nodes where exp(lp − top) rounds to
    1. The grid arrays are data: they get no cotangent. Reverse mode only (no ``jvp``).

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
               grid_a: Any, weights: Any, weights_t: Any) -> Any:
        return parts(mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a, weights)[0]

    def fwd(mu_q: Any, mu_a: Any, var_q: Any, var_a: Any, cov: Any, grid_q: Any,
            grid_a: Any, weights: Any, weights_t: Any) -> tuple[Any, Any]:
        out, _, scaled, summed = parts(mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a,
                                       weights)
        return out, (mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a, weights_t, scaled,
                     summed)

    def bwd(res: tuple[Any, ...], g: Any) -> tuple[Any, ...]:
        mu_q, mu_a, var_q, var_a, cov, grid_q, grid_a, weights_t, scaled, summed = res
        gt = g.T                                                                # (K, Gr)
        denom = summed + TINY
        # ∂L/∂lp_kg through the sum, and through top_k (1 − summed/(summed + TINY))
        through_sum = (gt / denom) @ weights_t                                 # (K, G)
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
        return g_mu_q, g_mu_a, g_var_q, g_var_a, g_cov, None, None, None, None

    logsum.defvjp(fwd, bwd)
    return logsum


@lru_cache(maxsize=8)
def incl_node_logsum(n_nodes: int) -> Callable[..., Any]:
    """The node sum of :func:`~vlms_bayes.models.likelihood.inclination_gauss_logint`.

    ``f(a, b, u0, s2)`` → log of the Gauss–Legendre sum over w ∈ [a, b] (u = w²) of
    N(u | u0, s²) p(u) du/dw, with ``a``, ``b``, ``u0``, ``s2`` of shape (..., 1, K) (the
    node axis −2) and the result (..., K): the same quadrature as the shared function
    (the panel ends ``a`` and ``b`` are computed there, and differentiated by JAX). Its
    gradient (``jax.custom_vjp``) is formed in the forward pass from the nodes' softmax
    weights π_j: with t_j the nodes' positions in [0, 1] and g_j the derivative of the
    j-th log term in w_j,

        ∂/∂a = −1/(b − a) + Σ π_j g_j (1 − t_j),  ∂/∂b = 1/(b − a) + Σ π_j g_j t_j,
        ∂/∂u0 = Σ π_j (u_j − u0)/s²,  ∂/∂s² = ½ (Σ π_j (u_j − u0)²/s² − 1)/s²,

    so the backward pass is four products, where JAX's own would revisit every node.
    log(2w) − ½ log(1 − 10^(−2u)) is taken as one logarithm, ½ log(4u / (1 − 10^(−2u))).
    """
    import jax  # heavy: keeps --help fast
    import jax.numpy as jnp  # heavy: jax

    x, wgl = np.polynomial.legendre.leggauss(int(n_nodes))
    t, lwgl = (0.5 * (x + 1.0))[:, None], np.log(wgl)[:, None]   # node axis −2
    c = 2.0 * np.log(10.0)                                      # p(u) ∝ 10^(−2u) = e^(−cu)

    def parts(a: Any, b: Any, u0: Any, s2: Any) -> tuple[Any, ...]:
        w = a + (b - a) * t
        u = w * w
        e = -jnp.expm1(-c * u)                                  # 1 − 10^(−2u)
        d = u - u0
        terms = lwgl + 0.5 * jnp.log(4.0 * u / e) - c * u - 0.5 * d * d / s2
        top = jnp.max(terms, axis=-2, keepdims=True)
        ex = jnp.exp(terms - top)
        total = jnp.sum(ex, axis=-2, keepdims=True)
        # the node-independent factors: du/dw's half-width, log ln 10 of p(u), N's norm
        base = jnp.log(0.5 * (b - a)) + np.log(np.log(10.0)) - 0.5 * jnp.log(2.0 * np.pi * s2)
        return (base + top + jnp.log(total))[..., 0, :], w, e, d, ex, total

    @jax.custom_vjp
    def logsum(a: Any, b: Any, u0: Any, s2: Any) -> Any:
        return parts(a, b, u0, s2)[0]

    def fwd(a: Any, b: Any, u0: Any, s2: Any) -> tuple[Any, Any]:
        out, w, e, d, ex, total = parts(a, b, u0, s2)
        pi = ex / total
        # ∂ log term / ∂w: 1/w from log 2w, 2w ∂/∂u of (log p(u) − ½ (u − u0)²/s²)
        g = 1.0 / w + 2.0 * w * (-0.5 * c - 0.5 * c / e - d / s2)
        pg = pi * g
        on_b = jnp.sum(pg * t, axis=-2)
        on_a = jnp.sum(pg, axis=-2) - on_b
        m1, m2 = jnp.sum(pi * d, axis=-2), jnp.sum(pi * d * d, axis=-2)
        width, v = (b - a)[..., 0, :], s2[..., 0, :]
        return out, (on_a - 1.0 / width, on_b + 1.0 / width, m1 / v, 0.5 * (m2 / v - 1.0) / v)

    def bwd(res: tuple[Any, ...], gbar: Any) -> tuple[Any, ...]:
        return tuple((gbar * r)[..., None, :] for r in res)

    logsum.defvjp(fwd, bwd)
    return logsum


@lru_cache(maxsize=1)
def beta_grid_logsum() -> Callable[..., Any]:
    """``f(alpha, beta, c)`` → the measured-e terms (M, K), with a hand-written gradient.

    The value of :func:`~vlms_bayes.models.likelihood.measured_e_logterm` (the Beta
    density of population k integrated against object m's Gaussian measurement of e: a
    trapezoid rule on a logit-e grid plus closed-form tails and end corrections; ``c``
    the grid's data-only constants, :func:`~vlms_bayes.models.likelihood.
    measured_e_constants`, with ``a`` replaced by ``a_max``, its row maxima, and
    ``a_scaled`` = exp(a − a_max)), with the grid sum as a matrix product. The body
    log Σ_g exp(a_ig + b_kg) factors into max_g a_ig + max_g b_kg + log of
    (exp(a − max a) @ exp(b − max b)ᵀ): the measurement factor exp(a − max a) is data only
    (computed once), so a step costs K × G exponentials and an (M × G)·(G × K) product
    instead of M × K × G exponentials. exp(a − max a) ≥ e^(−1/(2 s_e²)) cannot underflow
    for the grid's s_e ≥ 0.04; the product can only underflow (its log is then held at
    −690 below the maxima) for a population concentrated where every measurement of the
    group is excluded at > 30 σ.

    The gradient (``jax.custom_vjp``) is formed in the forward pass: the body's
    derivative in α (β) is the mean of log e (log(1 − e)) under the integrand, which the
    same matrix product gives with two more columns per population, less ψ(α) − ψ(α + β)
    (ψ(β) − ψ(α + β)) from the Beta function; the tails' and end corrections' are
    explicit. Where the product underflowed, the body's derivative is that of its largest
    grid term (ties shared, as JAX's ``max``). Reverse mode only.
    """
    import jax  # heavy: keeps --help fast
    import jax.numpy as jnp  # heavy: jax
    from jax.scipy.special import digamma, gammaln, logsumexp  # heavy: jax

    def parts(alpha: Any, beta: Any, c: dict[str, Any], *, grad: bool) -> tuple[Any, ...]:
        le, l1e = c["log_e"], c["log1m_e"]
        lb = gammaln(alpha) + gammaln(beta) - gammaln(alpha + beta)
        b = ((alpha[:, None] - 1.0) * le[None, :] + (beta[:, None] - 1.0) * l1e[None, :]
             - lb[:, None])                                                     # (K, G)
        b_max = jnp.max(b, axis=1)
        eb = jnp.exp(b - b_max[:, None])
        k = alpha.shape[-1]
        cols = jnp.concatenate([eb, eb * le, eb * l1e]) if grad else eb         # (3K, G)
        prods = c["a_scaled"] @ cols.T                                          # (M, 3K)
        prod = prods[:, :k]
        body = c["a_max"][:, None] + b_max[None, :] + jnp.log(jnp.maximum(prod, 1e-300))
        tail_lo = c["log_n0"][:, None] + alpha * c["log_e_lo"] - jnp.log(alpha) - lb
        tail_hi = c["log_n1"][:, None] + beta * c["log1m_e_hi"] - jnp.log(beta) - lb
        em_lo = c["em_lo"][:, None] + jnp.log(alpha) + b[None, :, 0]
        em_hi = c["em_hi"][:, None] + jnp.log(beta) + b[None, :, -1]
        pieces = jnp.stack([body, tail_lo, tail_hi, em_lo, em_hi], axis=-1)     # (M, K, 5)
        out = logsumexp(pieces, axis=-1)
        return out, pieces, prods, b, b_max

    @jax.custom_vjp
    def logsum(alpha: Any, beta: Any, c: dict[str, Any]) -> Any:
        return parts(alpha, beta, c, grad=False)[0]

    def fwd(alpha: Any, beta: Any, c: dict[str, Any]) -> tuple[Any, Any]:
        out, pieces, prods, b, b_max = parts(alpha, beta, c, grad=True)
        le, l1e = c["log_e"], c["log1m_e"]
        k = alpha.shape[-1]
        rho = jnp.exp(pieces - out[..., None])                       # each piece's share
        prod = prods[:, :k]
        # the body's mean log e and log(1 − e); where the product underflowed, those of
        # the largest grid term (ties shared)
        at_max = b == b_max[:, None]
        n_max = jnp.sum(at_max, axis=1)
        top_le = jnp.sum(jnp.where(at_max, le[None, :], 0.0), axis=1) / n_max
        top_l1e = jnp.sum(jnp.where(at_max, l1e[None, :], 0.0), axis=1) / n_max
        live = prod > 1e-300
        safe = jnp.where(live, prod, 1.0)
        mean_le = jnp.where(live, prods[:, k:2 * k] / safe, top_le[None, :])
        mean_l1e = jnp.where(live, prods[:, 2 * k:] / safe, top_l1e[None, :])
        inv_a, inv_b = 1.0 / alpha, 1.0 / beta
        psi_ab = digamma(alpha + beta)
        # every piece carries −log B(α, β), and the shares sum to one
        d_alpha = (digamma(alpha) - psi_ab) * -1.0 + (
            rho[..., 0] * mean_le + rho[..., 1] * (c["log_e_lo"] - inv_a)
            + rho[..., 3] * (inv_a + le[0]) + rho[..., 4] * le[-1])
        d_beta = (digamma(beta) - psi_ab) * -1.0 + (
            rho[..., 0] * mean_l1e + rho[..., 2] * (c["log1m_e_hi"] - inv_b)
            + rho[..., 3] * l1e[0] + rho[..., 4] * (inv_b + l1e[-1]))
        return out, (d_alpha, d_beta)

    def bwd(res: tuple[Any, Any], gbar: Any) -> tuple[Any, Any, None]:
        d_alpha, d_beta = res
        return jnp.sum(gbar * d_alpha, axis=0), jnp.sum(gbar * d_beta, axis=0), None

    logsum.defvjp(fwd, bwd)
    return logsum
