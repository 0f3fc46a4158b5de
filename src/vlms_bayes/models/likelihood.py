"""Likelihood pieces shared by the PyMC model and its NumPy twin.

The functions here are written once with plain arithmetic and a ``log`` callable, so that
the same expression builds the PyTensor graph of :mod:`vlms_bayes.models.mixture` and the
NumPy evaluation used for memberships, LOO and classification
(:mod:`vlms_bayes.inference.membership`). A test holds both to an independent SciPy
implementation.

Minimum masses
--------------
An object with a minimum mass observes y = log10 q_true + log10 sin i (+ noise), with
the inclination isotropic, p(i) = sin i on (0, π/2). The population density of y is

    p(y | k) = ∫ sin i · N2((y + u(i), y_a) | μ_k, Σ_k + S) di,   u(i) = −log10 sin i,

evaluated by Gauss–Legendre quadrature in i (:func:`inclination_nodes`). Objects with a
true mass use the same array layout with every node at u = 0 and equal weights, which
gives the plain bivariate normal exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Default number of Gauss–Legendre nodes over the inclination.
N_INCL_NODES: int = 32


def inclination_nodes(n: int = N_INCL_NODES) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes u = −log10 sin i and log weights for an isotropic inclination.

    Parameters
    ----------
    n : int
        Number of Gauss–Legendre nodes on i ∈ (0, π/2).

    Returns
    -------
    u : numpy.ndarray
        Shifts −log10 sin i_j ≥ 0 (dex) to add to an observed minimum-mass log q.
    log_w : numpy.ndarray
        Log quadrature weights including the density sin i, normalised to sum to one.
    """
    x, w = np.polynomial.legendre.leggauss(n)
    incl = 0.25 * np.pi * (x + 1.0)
    wt = 0.25 * np.pi * w * np.sin(incl)
    wt = wt / wt.sum()
    return -np.log10(np.sin(incl)), np.log(wt)


def node_arrays(
    y_logq: NDArray[np.float64], msini: NDArray[np.bool_], n_nodes: int = N_INCL_NODES
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-object quadrature nodes of the true log q and their log weights, shape (N, J).

    Minimum-mass objects get y + u_j with the inclination weights; true-mass objects get
    J copies of y with weights 1/J (so the log-sum-exp returns the plain density).
    """
    u, log_w = inclination_nodes(n_nodes)
    msini = np.asarray(msini, bool)[:, None]
    y = np.asarray(y_logq, float)[:, None]
    nodes = np.where(msini, y + u[None, :], np.broadcast_to(y, (y.shape[0], n_nodes)))
    logw = np.where(msini, log_w[None, :], -np.log(n_nodes))
    return nodes, logw


def bvn_logpdf(
    dq: Any, da: Any, var_q: Any, var_a: Any, cov: Any, *, log: Callable[[Any], Any]
) -> Any:
    """Log density of a bivariate normal at residuals (dq, da), written out for 2×2.

    Works for NumPy arrays and PyTensor tensors alike (``log`` is ``np.log`` or
    ``pytensor.tensor.log``); all arguments broadcast.
    """
    det = var_q * var_a - cov * cov
    quad = (var_a * dq * dq - 2.0 * cov * dq * da + var_q * da * da) / det
    return -np.log(2.0 * np.pi) - 0.5 * log(det) - 0.5 * quad


def qa_component_logpdf(
    nodes: Any, logw: Any, y_loga: Any, s_logq: Any, s_loga: Any,
    mu_q: Any, mu_a: Any, sd_q: Any, sd_a: Any, rho: Any,
    *, log: Callable[[Any], Any], logsumexp: Callable[..., Any],
) -> Any:
    """Per-object, per-population log density of the observed (log q, log a), shape (N, K).

    Parameters
    ----------
    nodes, logw : array, shape (N, J)
        Quadrature nodes of the true-mass log q and log weights (:func:`node_arrays`).
    y_loga, s_logq, s_loga : array, shape (N,)
        Observed log a and the measurement standard deviations.
    mu_q, mu_a, sd_q, sd_a, rho : array, shape (K,)
        Population means, scales and correlations.
    log, logsumexp : callable
        Backend functions (NumPy/SciPy or PyTensor); ``logsumexp(x, axis=-2)`` (over the nodes).
    """
    vq = sd_q**2 + s_logq[:, None, None] ** 2
    va = sd_a**2 + s_loga[:, None, None] ** 2
    cov = rho * sd_q * sd_a
    dq = nodes[:, :, None] - mu_q
    da = y_loga[:, None, None] - mu_a
    terms = logw[:, :, None] + bvn_logpdf(dq, da, vq, va, cov, log=log)
    return logsumexp(terms, axis=-2)
