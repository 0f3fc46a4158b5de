"""Selection-aware likelihood: the normalising integrals ξ_m,k(θ) and the selection term.

Likelihood
----------
Object i was found by method m(i). Conditional on the method, its observed data have the
density (Loredo 2004, AIP Conf. Proc. 735, 195; Mandel, Farr & Gair 2019, MNRAS 486, 1086)

    p(d_i | θ, m) = Σ_k w_k p_k(d_i) p̄_det,m(x_i) / Σ_j w_j ξ_m,j(θ),
    ξ_m,j(θ) = ∫ N2(x; μ_j, Σ_j) p̄_det,m(x) dx,      x = (log10 q, log10 a) (true values),

so the log-likelihood of the sample gains −Σ_m N_m log Σ_j w_j ξ_m,j(θ), and
p̄_det,m(x_i) is a constant in θ that drops out. Because that constant is common to all
populations it also cancels in the memberships r_ik ∝ w_k p_k(d_i): memberships and
``classify`` use the *intrinsic* populations unchanged, and the weights w_k are intrinsic
fractions.

Approximations (stated)
-----------------------
* **Measurement error.** Detection acts on the true x, and p_det is taken constant over
  the measurement error of each object, ∫ N(y_i | x) p_det(x) p_k(x) dx ≈ p_det(y_i)
  ∫ N(y_i | x) p_k(x) dx, so the existing error-convolved terms stay exact otherwise. The
  soft cuts are ≥ 0.1 dex wide, comparable to or wider than the catalogue errors.
* **Minimum masses.** The populations are over the true q; the RV selection function is
  averaged over an isotropic inclination (exact for randomly oriented orbits), so m sin i
  objects need nothing more here.
* **Eccentricity.** p_det does not depend on e (circular-orbit forms), so the e part of
  each population integrates to one and adds nothing to ξ.
* **Host dependence.** ξ should be averaged over the hosts each method *searched*; those
  are not in the catalogue, so p_det,m is averaged over ``n_host_nodes`` quantiles of the
  host masses of that method's detected objects (equal weights): p̄_det,m(x) =
  mean_h p_det,m(x, M_*,h). Distances enter as the per-method typical distances of
  :mod:`vlms_bayes.models.selection`.
* **Quadrature.** ξ is a fixed-grid trapezoid sum over the box of the
  :class:`~vlms_bayes.models.selection.SelectionModel` (p_det is defined as 0 outside it),
  step ``grid_step_dex`` (0.1 dex: the trapezoid rule on a Gaussian of width σ has a
  relative error ~2 exp(−2π²σ²/h²), < 1e-8 for σ ≥ 0.1 dex). Grid points where every
  method's p̄_det < 1e-12 are dropped. Methods without a selection function (flat
  p_det = 1 over the plane) have ξ ≡ 1 and contribute no term.

The same expression builds the PyTensor graph (differentiable, used by PyMC's NUTS and by
NumPyro through PyMC's JAX backend) and the NumPy evaluation per posterior draw
(:func:`object_selection_logterms`, for the pointwise log-likelihood of LOO).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from vlms_bayes.models.data import ModelData
from vlms_bayes.models.likelihood import bvn_logpdf
from vlms_bayes.models.selection import SelectionModel

log = logging.getLogger(__name__)

#: Default host mass (Msun) when no object of a method has one.
DEFAULT_HOST_MSUN: float = 0.15
_P_FLOOR: float = 1e-12


@dataclass(frozen=True)
class SelectionTerms:
    """Pre-computed, θ-independent pieces of the selection term for one sample.

    Attributes
    ----------
    methods : tuple of str
        Methods with a selection function present in the sample (M of them).
    counts : numpy.ndarray, shape (M,)
        Number of fitted objects per method, N_m.
    object_method : numpy.ndarray, shape (N,)
        Index into ``methods`` of each object, −1 for flat (uncorrected) methods.
    grid_logq, grid_loga : numpy.ndarray, shape (G,)
        Quadrature nodes kept.
    log_wp : numpy.ndarray, shape (M, G)
        log(trapezoid weight × p̄_det,m) at the nodes.
    host_nodes_msun : dict
        Host masses at which each method's p_det was averaged.
    notes : list of str
        Flat methods and other remarks for the fit's record.
    """

    methods: tuple[str, ...]
    counts: NDArray[np.float64]
    object_method: NDArray[np.int64]
    grid_logq: NDArray[np.float64]
    grid_loga: NDArray[np.float64]
    log_wp: NDArray[np.float64]
    host_nodes_msun: dict[str, list[float]]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Summary for fit_summary.json (no grids)."""
        return {"methods": list(self.methods), "counts": self.counts.astype(int).tolist(),
                "n_grid_nodes": int(self.grid_logq.size),
                "host_nodes_msun": self.host_nodes_msun, "notes": list(self.notes)}


def grid_axes(model: SelectionModel) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The 1-D node vectors of the quadrature box (inclusive ends)."""
    h = model.grid_step_dex
    axes = []
    for lo, hi in (model.logq_range, model.loga_range):
        n = int(np.ceil((hi - lo) / h - 1e-9)) + 1
        axes.append(np.linspace(lo, hi, n))
    return axes[0], axes[1]


def mean_p_det(model: SelectionModel, method: str, logq: NDArray[np.float64],
               loga: NDArray[np.float64], hosts_msun: list[float]) -> NDArray[np.float64]:
    """p̄_det,m(x): p_det of ``method`` averaged over the given host masses."""
    return np.mean([model.p_det(method, logq, loga, m_star_msun=m) for m in hosts_msun],
                   axis=0)


def host_nodes(m_star: NDArray[np.float64], n: int) -> list[float]:
    """``n`` equal-weight quantiles of the (finite) host masses, or the default host."""
    m = np.asarray(m_star, float)
    m = m[np.isfinite(m) & (m > 0)]
    if not m.size:
        return [DEFAULT_HOST_MSUN]
    return [float(v) for v in np.quantile(m, (np.arange(n) + 0.5) / n)]


def selection_terms(data: ModelData, model: SelectionModel) -> SelectionTerms:
    """Pre-compute the θ-independent parts of the selection term for a sample.

    Parameters
    ----------
    data : ModelData
        The fitted objects; needs ``methods`` (and ``m_star_msun`` for host dependence).
    model : SelectionModel
        The per-method detection probabilities and quadrature settings.

    Returns
    -------
    SelectionTerms
    """
    methods_all = np.asarray(data.methods if data.methods else [""] * data.n, dtype=object)
    m_star = (np.asarray(data.m_star_msun, float) if len(data.m_star_msun) == data.n
              else np.full(data.n, np.nan))
    notes: list[str] = []
    present = [m for m in dict.fromkeys(methods_all.tolist())]
    flat = [m for m in present if model.kind(m) is None]
    for m in flat:
        n_m = int(np.sum(methods_all == m))
        notes.append(f"method {m!r} ({n_m} object(s)) has no selection function: flat p_det, "
                     "no correction")
        log.warning("selection: method %r has no selection function; treated as flat", m)
    methods = tuple(m for m in present if model.kind(m) is not None)
    gq, ga = grid_axes(model)
    q2, a2 = (v.ravel() for v in np.meshgrid(gq, ga, indexing="ij"))
    w = np.full((gq.size, ga.size), model.grid_step_dex ** 2)
    w[[0, -1], :] *= 0.5
    w[:, [0, -1]] *= 0.5
    w = w.ravel()
    hosts, pbar = {}, []
    for m in methods:
        hosts[m] = host_nodes(m_star[methods_all == m], model.n_host_nodes)
        pbar.append(mean_p_det(model, m, q2, a2, hosts[m]))
    pbar_arr = np.asarray(pbar).reshape(len(methods), q2.size)
    keep = (pbar_arr.max(axis=0) > _P_FLOOR) if len(methods) else np.zeros(q2.size, bool)
    obj = np.full(data.n, -1, dtype=np.int64)
    for j, m in enumerate(methods):
        obj[methods_all == m] = j
    counts = np.array([np.sum(obj == j) for j in range(len(methods))], float)
    with np.errstate(divide="ignore"):
        log_wp = np.log(np.maximum(pbar_arr[:, keep], 1e-300)) + np.log(w[keep])[None, :]
    return SelectionTerms(methods, counts, obj, q2[keep], a2[keep], log_wp, hosts, notes)


def log_xi(terms: SelectionTerms, mu_q: Any, mu_a: Any, sd_q: Any, sd_a: Any, rho: Any, *,
           log: Callable[[Any], Any], logsumexp: Callable[..., Any],
           as_tensor: Callable[[Any], Any] = np.asarray) -> Any:
    """Log ξ_m,k for population parameters of shape (..., K); returns (..., M, K).

    Written once for NumPy and PyTensor (``log``, ``logsumexp``, ``as_tensor`` from the
    backend). Leading batch dimensions of the parameters (e.g. posterior draws) broadcast.
    """
    gq = as_tensor(terms.grid_logq[:, None])                     # (G, 1)
    ga = as_tensor(terms.grid_loga[:, None])
    lp = bvn_logpdf(gq - mu_q[..., None, :], ga - mu_a[..., None, :], sd_q[..., None, :] ** 2,
                    sd_a[..., None, :] ** 2, (rho * sd_q * sd_a)[..., None, :], log=log)
    lwp = as_tensor(terms.log_wp[:, :, None])                    # (M, G, 1)
    return logsumexp(lwp + lp[..., None, :, :], axis=-2)         # (..., M, K)


def selection_loglik(terms: SelectionTerms, log_w: Any, lxi: Any, *,
                     logsumexp: Callable[..., Any], as_tensor: Callable[[Any], Any] = np.asarray,
                     ) -> Any:
    """−Σ_m N_m log Σ_k w_k ξ_m,k (a scalar per batch element)."""
    per_method = logsumexp(log_w[..., None, :] + lxi, axis=-1)   # (..., M)
    return -(per_method * as_tensor(terms.counts)).sum(axis=-1)


def selection_potential(data: ModelData, model: SelectionModel, params: dict[str, Any],
                        ) -> tuple[Any, SelectionTerms]:
    """PyTensor scalar of the selection term for :func:`build_mixture_model`."""
    import pytensor.tensor as pt

    terms = selection_terms(data, model)
    if not terms.methods:
        return pt.as_tensor(0.0), terms
    lxi = log_xi(terms, params["mu_logq"], params["mu_loga"], params["sigma_logq"],
                 params["sigma_loga"], params["rho"], log=pt.log, logsumexp=pt.logsumexp,
                 as_tensor=pt.as_tensor)
    return selection_loglik(terms, params["log_w"], lxi, logsumexp=pt.logsumexp,
                            as_tensor=pt.as_tensor), terms


def object_selection_logterms(terms: SelectionTerms, draws: dict[str, NDArray[np.float64]],
                              *, chunk: int = 64) -> NDArray[np.float64]:
    """Per-object selection log term −log Σ_k w_k ξ_m(i),k for each draw, shape (S, N).

    Added to the marginal log-likelihood of each object for PSIS-LOO (0 for flat methods).
    """
    s = draws["mu_logq"].shape[0]
    out = np.zeros((s, terms.object_method.size))
    if not terms.methods:
        return out
    per = np.empty((s, len(terms.methods)))
    log_w = np.log(draws["w"])
    for lo in range(0, s, chunk):
        sl = slice(lo, min(s, lo + chunk))
        lxi = log_xi(terms, draws["mu_logq"][sl], draws["mu_loga"][sl], draws["sigma_logq"][sl],
                     draws["sigma_loga"][sl], draws["rho"][sl], log=np.log,
                     logsumexp=special.logsumexp)
        per[sl] = special.logsumexp(log_w[sl][:, None, :] + lxi, axis=-1)
    has = terms.object_method >= 0
    out[:, has] = -per[:, terms.object_method[has]]
    return out
