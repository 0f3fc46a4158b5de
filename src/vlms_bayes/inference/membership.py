"""Posterior memberships, pointwise log-likelihoods and classification of new objects.

Everything here evaluates the model's *marginal* per-object likelihood in NumPy for each
posterior draw, with the latent eccentricities integrated out:

* measured e: ∫ Beta(e | α, β) N(e_obs | e, s_e) de by the trapezoid rule in z = logit e
  (exponentially accurate for smooth integrands; the grid step is at most half the
  narrowest measurement width in z) plus the two tails beyond the grid in closed form
  with the regularised incomplete Beta function;
* upper limit: the Beta CDF at the limit, I_limit(α, β);
* missing / unknown: 1.

The (log q, log a) part reuses :func:`vlms_bayes.models.likelihood.qa_component_logpdf`
(and the m sin i and projected-separation kernels), the same expressions the PyMC model is
built from; a fit with ``binary_shape="powerlaw"`` (its posterior has ``gamma_q``) gets its
last population from :func:`vlms_bayes.models.likelihood.powerlaw_qa_logpdf`, the JAX
density's kernel. For draw s the responsibility of
population k for object i is r_ik = w_k p_k(data_i) / Σ_j w_j p_j(data_i);
``P_binary_like`` is its posterior mean for the last (highest mean log q) population,
with the 5–95% range of r over draws as a 90% interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from vlms_bayes.models.data import ModelData
from vlms_bayes.models.likelihood import (
    N_INCL_NODES,
    NUMPY_OPS,
    log_weights,
    msini_qa_logpdf,
    node_arrays,
    powerlaw_lambda,
    powerlaw_qa_logpdf,
    projected_qa_logpdf,
    qa_component_logpdf,
)

PARAM_NAMES = ("mu_logq", "mu_loga", "sigma_logq", "sigma_loga", "rho", "e_alpha", "e_beta")
#: Parameters of the Gaussian components only (with binary_shape="powerlaw").
GAUSSIAN_ONLY = ("mu_logq", "sigma_logq", "rho")


def draws_from_posterior(posterior: Any) -> dict[str, NDArray[np.float64]]:
    """Population parameters as arrays of shape (S, K), chains stacked.

    Parameters
    ----------
    posterior : xarray.Dataset or DataTree node
        The ``posterior`` group of a fit.

    Notes
    -----
    A power-law binary-like population (``gamma_q`` in the posterior) has no mean, scale
    or correlation of log q: ``mu_logq``, ``sigma_logq`` and ``rho`` get a NaN last column
    (so that a Gaussian formula applied to it gives NaN, never a plausible number), and
    ``gamma_q`` (S,) is added.
    """
    out = {}
    for name in PARAM_NAMES:
        da = posterior[name]
        out[name] = np.asarray(da.values, float).reshape(-1, da.shape[-1])
    if "gamma_q" in posterior:
        out["gamma_q"] = np.asarray(posterior["gamma_q"].values, float).reshape(-1)
        for name in GAUSSIAN_ONLY:
            out[name] = np.c_[out[name], np.full(out[name].shape[0], np.nan)]
    s, k = out["mu_logq"].shape
    out["w"] = (np.asarray(posterior["w"].values, float).reshape(s, k)
                if "w" in posterior else np.ones((s, k)))
    if "log_w" in posterior:  # selection-aware fits keep the weights in logs too
        out["log_w"] = np.asarray(posterior["log_w"].values, float).reshape(s, k)
    return out


def e_measured_logterm(
    e_obs: NDArray[np.float64], s_e: NDArray[np.float64],
    alpha: NDArray[np.float64], beta: NDArray[np.float64], *, z_max: float = 20.0,
) -> NDArray[np.float64]:
    """Log ∫ Beta(e | α, β) N(e_obs | e, s_e) de for M objects and P parameter sets.

    Parameters
    ----------
    e_obs, s_e : array, shape (M,)
        Measured eccentricities and their standard deviations.
    alpha, beta : array, shape (P,)
        Beta parameters.
    z_max : float
        Half-width of the logit grid; beyond it the tails are added in closed form.

    Returns
    -------
    numpy.ndarray, shape (M, P)
    """
    e_obs, s_e = np.atleast_1d(e_obs), np.atleast_1d(s_e)
    alpha, beta = np.atleast_1d(alpha), np.atleast_1d(beta)
    h = min(0.05, 2.0 * float(np.min(s_e)))
    z = np.arange(-z_max, z_max + 0.5 * h, h)
    e = special.expit(z)
    log_jac = np.log(e) + np.log1p(-e) + np.log(h)
    log_jac[[0, -1]] += np.log(0.5)  # trapezoid end weights
    a_mat = stats.norm.logpdf(e_obs[:, None], e[None, :], s_e[:, None]) + log_jac
    b_mat = ((alpha[:, None] - 1) * np.log(e) + (beta[:, None] - 1) * np.log1p(-e)
             - special.betaln(alpha, beta)[:, None])
    a_max = a_mat.max(axis=1, keepdims=True)
    b_max = b_mat.max(axis=1, keepdims=True)
    body = np.exp(a_mat - a_max) @ np.exp(b_mat - b_max).T
    log_body = np.log(np.maximum(body, 1e-300)) + a_max + b_max.T
    # Euler–Maclaurin end terms h²/12 (α f(z_min) + β f(z_max)): the integrand is ~e^{αz}
    # and ~e^{−βz} at the ends of the grid
    em = np.log(h / 12.0) - np.log(0.5)
    em_lo = em + a_mat[:, :1] + b_mat[:, 0][None, :] + np.log(alpha)[None, :]
    em_hi = em + a_mat[:, -1:] + b_mat[:, -1][None, :] + np.log(beta)[None, :]
    log_body = np.logaddexp(log_body, np.logaddexp(em_lo, em_hi))
    e_lo, e_hi = e[0], e[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return _add_tails(log_body, e_obs, s_e, alpha, beta, e_lo, e_hi)


def _add_tails(log_body, e_obs, s_e, alpha, beta, e_lo, e_hi):
    tail_lo = (stats.norm.logpdf(e_obs, 0.0, s_e)[:, None]
               + np.log(special.betainc(alpha, beta, e_lo))[None, :])
    tail_hi = (stats.norm.logpdf(e_obs, 1.0, s_e)[:, None]
               + np.log(special.betaincc(alpha, beta, e_hi))[None, :])
    return np.logaddexp(log_body, np.logaddexp(tail_lo, tail_hi))


def object_log_terms(
    data: ModelData, draws: dict[str, NDArray[np.float64]], *,
    n_nodes: int = N_INCL_NODES, chunk: int = 256,
) -> NDArray[np.float64]:
    """Log w_k + log p_k(data_i) with latent e integrated out, shape (S, N, K)."""
    tm, ms = np.flatnonzero(data.plain), np.flatnonzero(data.msini)
    pj = np.flatnonzero(data.is_projected)
    nodes, logw = node_arrays(data.y_logq[tm], data.msini[tm], 1)
    s, k = draws["mu_logq"].shape
    pl = "gamma_q" in draws  # the last population is the power law (binary_shape)
    kg = k - 1 if pl else k
    out = np.empty((s, data.n, k))
    for lo in range(0, s, chunk):
        sl = slice(lo, min(s, lo + chunk))
        p = {n: draws[n][sl][:, None, None, :kg] for n in PARAM_NAMES}
        pop = (p["mu_logq"], p["mu_loga"], p["sigma_logq"], p["sigma_loga"], p["rho"])
        if len(tm):
            out[sl, tm, :kg] = qa_component_logpdf(
                nodes, logw, data.y_loga[tm], data.s_logq[tm], data.s_loga[tm], *pop,
                log=np.log, logsumexp=special.logsumexp)
        if len(ms):
            out[sl, ms, :kg] = msini_qa_logpdf(
                data.y_logq[ms], data.y_loga[ms], data.s_logq[ms], data.s_loga[ms], *pop,
                ops=NUMPY_OPS, n_nodes=n_nodes)
        if len(pj):
            out[sl, pj, :kg] = projected_qa_logpdf(
                data.y_logq[pj], data.y_loga[pj], data.s_logq[pj], data.s_loga[pj], *pop,
                ops=NUMPY_OPS, n_nodes=n_nodes)
        if pl:
            pp = (powerlaw_lambda(draws["gamma_q"][sl])[:, None, None, None],
                  draws["mu_loga"][sl][:, None, None, kg:],
                  draws["sigma_loga"][sl][:, None, None, kg:])
            for idx, kind in ((tm, "plain"), (ms, "msini"), (pj, "projected")):
                if len(idx):
                    out[sl, idx, kg:] = powerlaw_qa_logpdf(
                        data.y_logq[idx], data.y_loga[idx], data.s_logq[idx],
                        data.s_loga[idx], *pp, kind=kind, ops=NUMPY_OPS, n_nodes=n_nodes)
    out += log_weights(draws)[:, None, :]
    alpha, beta = draws["e_alpha"].ravel(), draws["e_beta"].ravel()
    idx = data.idx_measured
    if len(idx):
        lt = e_measured_logterm(data.e_obs[idx], data.s_e[idx], alpha, beta)
        out[:, idx, :] += lt.reshape(len(idx), s, k).transpose(1, 0, 2)
    idx = data.idx_limit
    if len(idx):
        cdf = special.betainc(alpha[None, :], beta[None, :], data.e_limit[idx][:, None])
        out[:, idx, :] += np.log(cdf).reshape(len(idx), s, k).transpose(1, 0, 2)
    return out


def responsibilities(log_terms: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-draw membership probabilities r (S, N, K) from :func:`object_log_terms`."""
    return np.exp(log_terms - special.logsumexp(log_terms, axis=-1, keepdims=True))


def pointwise_loglik(log_terms: NDArray[np.float64]) -> NDArray[np.float64]:
    """Marginal log-likelihood of each object in each draw, shape (S, N) (for PSIS-LOO)."""
    return special.logsumexp(log_terms, axis=-1)


@dataclass(frozen=True)
class Membership:
    """Posterior membership of one or more objects in the binary-like population."""

    names: tuple[str, ...]
    p_mean: NDArray[np.float64]
    p_lo: NDArray[np.float64]
    p_hi: NDArray[np.float64]
    p_all: NDArray[np.float64]  # posterior mean responsibility of every population (N, K)


def summarise_memberships(names: tuple[str, ...], resp: NDArray[np.float64],
                          *, interval: float = 0.9) -> Membership:
    """Posterior mean and central interval of the last population's responsibility."""
    r_bin = resp[..., -1]
    q = (0.5 - interval / 2, 0.5 + interval / 2)
    lo, hi = np.quantile(r_bin, q, axis=0)
    return Membership(tuple(names), r_bin.mean(axis=0), lo, hi, resp.mean(axis=0))
