"""Selection-aware likelihood: the normalising integrals ξ_g,k(θ) and the selection term.

Likelihood
----------
Object i was found by method m(i) around a host of mass M_i. Conditional on the method
and the host, its observed data have the density (Loredo 2004, AIP Conf. Proc. 735, 195;
Mandel, Farr & Gair 2019, MNRAS 486, 1086)

    p(d_i | θ, m, M_i) = Σ_k w_k p_k(d_i) p_det,m(x_i; M_i) / Σ_j w_j ξ_j(θ; m, M_i),
    ξ_j(θ; m, M) = ∫ N2(x; μ_j, Σ_j) p_det,m(x; M) dx,    x = (log10 q, log10 a) (true),

so the log-likelihood of the sample gains −Σ_i log Σ_j w_j ξ_j(θ; m(i), M_i), and
p_det,m(x_i; M_i) is a constant in θ that drops out. Because that constant is common to
all populations it also cancels in the memberships r_ik ∝ w_k p_k(d_i): memberships and
``classify`` use the *intrinsic* populations unchanged, and the weights w_k are intrinsic
fractions.

Conditioning on each object's observed host is what makes this exact without knowing
which hosts each survey searched (those are not in any catalogue), provided the
companion populations in (log q, log a) do not depend on the host mass — the model's
assumption anyway. Objects of one method whose hosts fall in one log-mass bin of width
``host_bin_dex`` (0.005 dex by default) share one normalisation *group* g, evaluated at the
bin's mean log host: the term is −Σ_g N_g log Σ_j w_j ξ_g,j(θ). (The alternative
``host_mode="quantiles"`` averages p_det over quantiles of a method's *detected* hosts,
one group per method; detection favours some hosts — heavier ones for radial velocity —
so that overstates a search's sensitivity and biases the intrinsic populations. It is
kept for comparison.)

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
* **Missing host masses** take the median host of the object's method (a note says so),
  and missing host magnitudes (radial velocity's V) the median magnitude of the method's
  hosts. Objects of a method whose p_det depends on the host's magnitude are grouped by
  host mass and magnitude bin (``mag_bin``); the magnitude is an observed property of the
  host, so conditioning on it is as exact as conditioning on the mass.
  Distances enter as the per-method typical distances of
  :mod:`vlms_bayes.models.selection`.
* **Quadrature.** ξ is a fixed-grid trapezoid sum over the box of the
  :class:`~vlms_bayes.models.selection.SelectionModel` (p_det is defined as 0 outside it),
  step h = ``grid_step_dex`` (0.1 dex). The trapezoid rule on a Gaussian of width σ has a
  relative error ~2 exp(−2π²σ²/h²); a population narrower than the step is not resolved
  at all (its ξ falls to the density at the nearest nodes: a population with σ_q = 0.002
  dex between two nodes had log ξ ≈ −300 instead of −4.6, i.e. ~+300 in log likelihood
  per object, and the sampler found it). So ξ is taken for p_det smoothed by a Gaussian
  of width τ = h/√2 = 0.07 dex in each coordinate, which is the same as adding τ² to the
  population variances in ξ (``smooth_var``): every population is then ≥ 0.07 dex wide
  on the grid (relative error ≤ 2 exp(−π²) ≈ 1e-4, for σ ≥ 0.1 dex < 1e-12), and the
  selection functions, whose soft cuts are ≥ 0.1–0.15 dex wide, change by less than the
  measurement errors. Grid points where every group's p_det < 1e-12 are dropped. Methods
  without a selection function (flat p_det = 1 over the plane) have ξ ≡ 1 and contribute
  no term.

Evaluation: ξ_g,k = Σ_n P_g,n N2(x_n; θ_k) with P_g,n = trapezoid weight × p_det,g at
node n, a (groups × nodes) @ (nodes × K) product, computed as
log ξ = c_k + log Σ_n P_g,n exp(log N2(x_n; θ_k) − c_k) with c_k the largest log density
over the nodes (no underflow). The same expression builds the PyTensor graph
(differentiable, used by PyMC's NUTS and by NumPyro through PyMC's JAX backend) and the
NumPy evaluation per posterior draw (:func:`object_selection_logterms`, for the pointwise
log-likelihood of LOO).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from vlms_bayes.errors import VlmsBayesError
from vlms_bayes.models.data import ModelData
from vlms_bayes.models.likelihood import (
    bvn_logpdf,
    log_weights,
    powerlaw_lambda,
    powerlaw_logq_logpdf,
)
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
    group_method : numpy.ndarray, shape (Gr,)
        Index into ``methods`` of each normalisation group.
    group_host_msun : numpy.ndarray, shape (Gr,)
        Host mass at which each group's p_det is evaluated (NaN for ``"quantiles"`` groups,
        whose p_det is averaged over ``host_nodes_msun``).
    counts : numpy.ndarray, shape (Gr,)
        Number of fitted objects per group, N_g.
    object_method : numpy.ndarray, shape (N,)
        Index into ``methods`` of each object, −1 for flat (uncorrected) methods.
    object_group : numpy.ndarray, shape (N,)
        Index into the groups of each object, −1 for flat methods.
    grid_logq, grid_loga : numpy.ndarray, shape (G,)
        Quadrature nodes kept.
    weights : numpy.ndarray, shape (Gr, G)
        Trapezoid weight × p_det of each group at the nodes.
    host_mode : str
        ``"object"`` or ``"quantiles"`` (:class:`~vlms_bayes.models.selection.SelectionModel`).
    host_nodes_msun : dict
        Method → host masses of its groups (``"object"``) or the quantiles its p_det was
        averaged over (``"quantiles"``).
    notes : list of str
        Flat methods and other remarks for the fit's record.
    smooth_var : float
        τ² (dex²): the population covariances gain τ² on the diagonal in ξ, i.e. p_det is
        smoothed by a Gaussian of width τ = grid step / √2 (module docstring).
    group_host_mag : numpy.ndarray, shape (Gr,)
        Host magnitude at which each group's p_det is evaluated (NaN: the method does not
        use one, or none of its objects has one).
    host_mags : dict
        Method → magnitudes of its groups, for methods whose p_det uses one.
    """

    methods: tuple[str, ...]
    group_method: NDArray[np.int64]
    group_host_msun: NDArray[np.float64]
    counts: NDArray[np.float64]
    object_method: NDArray[np.int64]
    object_group: NDArray[np.int64]
    grid_logq: NDArray[np.float64]
    grid_loga: NDArray[np.float64]
    weights: NDArray[np.float64]
    host_mode: str
    host_nodes_msun: dict[str, list[float]]
    notes: list[str]
    smooth_var: float
    group_host_mag: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    host_mags: dict[str, list[float]] = field(default_factory=dict)

    def method_counts(self) -> NDArray[np.float64]:
        """Number of fitted objects per method, N_m (shape (M,))."""
        return np.bincount(self.group_method, weights=self.counts,
                           minlength=len(self.methods)).astype(float)

    def to_dict(self) -> dict[str, Any]:
        """Summary for fit_summary.json (no grids)."""
        return {"methods": list(self.methods),
                "counts": self.method_counts().astype(int).tolist(),
                "host_mode": self.host_mode, "n_groups": int(self.counts.size),
                "n_grid_nodes": int(self.grid_logq.size),
                "host_nodes_msun": self.host_nodes_msun, "host_mags": self.host_mags,
                "notes": list(self.notes)}


def grid_axes(model: SelectionModel) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The 1-D node vectors of the quadrature box (inclusive ends)."""
    h = model.grid_step_dex
    axes = []
    for lo, hi in (model.logq_range, model.loga_range):
        n = int(np.ceil((hi - lo) / h - 1e-9)) + 1
        axes.append(np.linspace(lo, hi, n))
    return axes[0], axes[1]


def mean_p_det(model: SelectionModel, method: str, logq: NDArray[np.float64],
               loga: NDArray[np.float64], hosts_msun: list[float],
               weights: NDArray[np.float64] | None = None,
               host_mag: float | None = None) -> NDArray[np.float64]:
    """p̄_det,m(x): p_det of ``method`` averaged over the given host masses (and weights).

    ``host_mag``: the hosts' magnitude for methods that use one (None: the reference).
    """
    return np.average([model.p_det(method, logq, loga, m_star_msun=m, host_mag=host_mag)
                       for m in hosts_msun], axis=0, weights=weights)


def median_mag(mag: NDArray[np.float64]) -> float:
    """Median of the finite magnitudes (NaN when there is none)."""
    v = np.asarray(mag, float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def _host_mags(data: ModelData) -> NDArray[np.float64]:
    """Host V magnitudes of the objects (NaN where unknown or not given)."""
    v = np.asarray(data.host_vmag, float)
    return v if v.size == data.n else np.full(data.n, np.nan)


def host_nodes(m_star: NDArray[np.float64], n: int) -> list[float]:
    """``n`` equal-weight quantiles of the (finite) host masses, or the default host."""
    m = np.asarray(m_star, float)
    m = m[np.isfinite(m) & (m > 0)]
    if not m.size:
        return [DEFAULT_HOST_MSUN]
    return [float(v) for v in np.quantile(m, (np.arange(n) + 0.5) / n)]


def host_groups(m_star: NDArray[np.float64], bin_dex: float,
                ) -> tuple[NDArray[np.int64], NDArray[np.float64], int]:
    """Bin one method's host masses in log10 mass.

    Parameters
    ----------
    m_star : numpy.ndarray
        Host masses (Msun) of the method's objects; non-finite or ≤ 0 values are missing.
    bin_dex : float
        Bin width in dex (0: one group per distinct host mass).

    Returns
    -------
    group : numpy.ndarray of int
        Group of each object (0 … n_groups − 1).
    host_msun : numpy.ndarray
        The group's host mass: 10 ** (mean log10 host of its objects).
    n_missing : int
        Objects without a host mass; they take the median host of the others (or
        :data:`DEFAULT_HOST_MSUN`).
    """
    m = np.asarray(m_star, float)
    ok = np.isfinite(m) & (m > 0)
    fill = float(np.median(m[ok])) if ok.any() else DEFAULT_HOST_MSUN
    logm = np.log10(np.where(ok, m, fill))
    key = np.floor(logm / bin_dex) if bin_dex > 0 else logm
    _, group = np.unique(key, return_inverse=True)
    host = np.array([10 ** logm[group == g].mean() for g in range(group.max() + 1)])
    return group.astype(np.int64), host, int((~ok).sum())


def host_mag_groups(m_star: NDArray[np.float64], mag: NDArray[np.float64], bin_dex: float,
                    mag_bin: float) -> tuple[NDArray[np.int64], NDArray[np.float64],
                                             NDArray[np.float64], int, int]:
    """Bin one method's hosts in log10 mass and magnitude together.

    Parameters
    ----------
    m_star : numpy.ndarray
        Host masses (Msun); non-finite or ≤ 0 values are missing.
    mag : numpy.ndarray
        Host magnitudes; non-finite values are missing.
    bin_dex, mag_bin : float
        Bin widths in log10 mass (dex) and magnitude (0: one group per distinct value).

    Returns
    -------
    group : numpy.ndarray of int
        Group of each object (0 … n_groups − 1).
    host_msun, host_mag : numpy.ndarray
        Each group's host mass (10 ** mean log10 mass) and mean magnitude.
    n_missing_mass, n_missing_mag : int
        Objects without a host mass or magnitude; they take the median of the others'
        (mass: or :data:`DEFAULT_HOST_MSUN`; magnitude: NaN when no object has one, which
        the selection functions read as their reference host).
    """
    m = np.asarray(m_star, float)
    ok = np.isfinite(m) & (m > 0)
    logm = np.log10(np.where(ok, m, float(np.median(m[ok])) if ok.any() else DEFAULT_HOST_MSUN))
    v = np.asarray(mag, float)
    ok_v = np.isfinite(v)
    v = np.where(ok_v, v, float(np.median(v[ok_v])) if ok_v.any() else np.nan)
    key_m = np.floor(logm / bin_dex) if bin_dex > 0 else logm
    key_v = np.nan_to_num(np.floor(v / mag_bin) if mag_bin > 0 else v, nan=0.0)
    _, group = np.unique(np.column_stack([key_m, key_v]), axis=0, return_inverse=True)
    group = group.ravel()
    n_g = int(group.max()) + 1
    host = np.array([10 ** logm[group == g].mean() for g in range(n_g)])
    host_mag = np.array([v[group == g].mean() for g in range(n_g)])
    return group.astype(np.int64), host, host_mag, int((~ok).sum()), int((~ok_v).sum())


def _trapezoid_weights(n_q: int, n_a: int, step: float) -> NDArray[np.float64]:
    w = np.full((n_q, n_a), step ** 2)
    w[[0, -1], :] *= 0.5
    w[:, [0, -1]] *= 0.5
    return w.ravel()


def selection_terms(data: ModelData, model: SelectionModel) -> SelectionTerms:
    """Pre-compute the θ-independent parts of the selection term for a sample.

    Parameters
    ----------
    data : ModelData
        The fitted objects; needs ``methods`` (and ``m_star_msun`` for host dependence).
    model : SelectionModel
        The per-method detection probabilities, host treatment and quadrature settings.

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
    trap = _trapezoid_weights(gq.size, ga.size, model.grid_step_dex)
    obj_m = np.full(data.n, -1, dtype=np.int64)
    obj_g = np.full(data.n, -1, dtype=np.int64)
    g_method: list[int] = []
    g_host: list[float] = []
    g_mag: list[float] = []
    pdet: list[NDArray[np.float64]] = []
    hosts: dict[str, list[float]] = {}
    mag_nodes: dict[str, list[float]] = {}
    mags = _host_mags(data)
    for j, m in enumerate(methods):
        sel = methods_all == m
        obj_m[sel] = j
        if model.host_mode == "quantiles":
            hosts[m] = host_nodes(m_star[sel], model.n_host_nodes)
            obj_g[sel] = len(g_method)
            g_method.append(j)
            g_host.append(np.nan)
            # magnitudes: the method's median host magnitude (the approximation this mode
            # keeps for comparison)
            med = median_mag(mags[sel]) if model.uses_magnitude(m) else np.nan
            g_mag.append(med)
            pdet.append(mean_p_det(model, m, q2, a2, hosts[m], host_mag=med))
            continue
        if model.uses_magnitude(m):
            grp, host, host_mag, n_missing, n_no_mag = host_mag_groups(
                m_star[sel], mags[sel], model.host_bin_dex, model.mag_bin)
            if n_no_mag:
                notes.append(f"method {m!r}: {n_no_mag} object(s) without a host magnitude "
                             "take the method's median host magnitude"
                             + ("" if np.isfinite(host_mag).all() else
                                " (none has one: the selection function's reference host)"))
            mag_nodes[m] = [round(float(v), 3) for v in host_mag]
        else:
            grp, host, n_missing = host_groups(m_star[sel], model.host_bin_dex)
            host_mag = np.full(host.size, np.nan)
        if n_missing:
            notes.append(f"method {m!r}: {n_missing} object(s) without a host mass take the "
                         "method's median host")
        obj_g[sel] = len(g_method) + grp
        hosts[m] = [round(float(h), 5) for h in host]
        for h, v in zip(host, host_mag, strict=True):
            g_method.append(j)
            g_host.append(float(h))
            g_mag.append(float(v))
            pdet.append(model.p_det(m, q2, a2, m_star_msun=float(h), host_mag=float(v)))
    pdet_arr = np.asarray(pdet).reshape(len(g_method), q2.size)
    keep = (pdet_arr.max(axis=0) > _P_FLOOR) if g_method else np.zeros(q2.size, bool)
    counts = np.bincount(obj_g[obj_g >= 0], minlength=len(g_method)).astype(float)
    return SelectionTerms(methods, np.asarray(g_method, np.int64), np.asarray(g_host, float),
                          counts, obj_m, obj_g, q2[keep], a2[keep],
                          pdet_arr[:, keep] * trap[keep][None, :], model.host_mode, hosts,
                          notes, smooth_var=model.grid_step_dex ** 2 / 2,
                          group_host_mag=np.asarray(g_mag, float), host_mags=mag_nodes)


#: Added inside the log of the quadrature sum: keeps log ξ finite (and its gradient
#: defined) for a population with no mass where a group can detect anything.
TINY: float = 1e-300


def log_xi(terms: SelectionTerms, mu_q: Any, mu_a: Any, sd_q: Any, sd_a: Any, rho: Any, *,
           log: Callable[[Any], Any], as_tensor: Callable[[Any], Any] = np.asarray,
           exp: Callable[[Any], Any] = np.exp) -> Any:
    """Log ξ_g,k for population parameters of shape (..., K); returns (..., Gr, K).

    Written once for NumPy and PyTensor (``log``, ``exp``, ``as_tensor`` from the
    backend). Leading batch dimensions of the parameters (e.g. posterior draws) broadcast.
    """
    gq = as_tensor(terms.grid_logq[:, None])                     # (G, 1)
    ga = as_tensor(terms.grid_loga[:, None])
    tau2 = terms.smooth_var  # p_det smoothed on the grid's scale (module docstring)
    lp = bvn_logpdf(gq - mu_q[..., None, :], ga - mu_a[..., None, :],
                    sd_q[..., None, :] ** 2 + tau2, sd_a[..., None, :] ** 2 + tau2,
                    (rho * sd_q * sd_a)[..., None, :], log=log)
    top = lp.max(axis=-2, keepdims=True)                         # (..., 1, K)
    summed = as_tensor(terms.weights) @ exp(lp - top)            # (..., Gr, K)
    return top + log(summed + TINY)


def log_xi_powerlaw(terms: SelectionTerms, lam: Any, mu_a: Any, sd_a: Any, *,
                    log: Callable[[Any], Any], log_ndtr: Callable[[Any], Any],
                    as_tensor: Callable[[Any], Any] = np.asarray,
                    exp: Callable[[Any], Any] = np.exp) -> Any:
    """Log ξ_g of the power-law population (``binary_shape="powerlaw"``), shape (..., Gr, 1).

    The population: p(x) = λ e^(λx) on x = log10 q ≤ 0, log10 a ~ N(μ_a, σ_a²)
    independently. As for the Gaussians, p_det is smoothed by a Gaussian of variance τ²
    (``terms.smooth_var``) in each coordinate, which is the same as smoothing the
    population: in log q the power law convolved with N(0, τ²) (in closed form,
    :func:`~vlms_bayes.models.likelihood.powerlaw_logq_logpdf` with s = τ), in log a the
    normal with τ² added. ``lam``, ``mu_a``, ``sd_a`` have shape (..., 1).
    """
    gq = as_tensor(terms.grid_logq[:, None])                     # (G, 1)
    ga = as_tensor(terms.grid_loga[:, None])
    tau2 = terms.smooth_var
    ops = {"log": log, "log_ndtr": log_ndtr}
    lq = powerlaw_logq_logpdf(gq, float(np.sqrt(tau2)), lam[..., None, :], ops=ops)
    va = sd_a[..., None, :] ** 2 + tau2
    da = ga - mu_a[..., None, :]
    lp = lq - 0.5 * log(2.0 * np.pi * va) - 0.5 * da * da / va   # (..., G, 1)
    top = lp.max(axis=-2, keepdims=True)
    summed = as_tensor(terms.weights) @ exp(lp - top)            # (..., Gr, 1)
    return top + log(summed + TINY)


def log_xi_draws(terms: SelectionTerms, draws: dict[str, NDArray[np.float64]],
                 sl: slice = slice(None)) -> NDArray[np.float64]:
    """Log ξ_g,k (S, Gr, K) of posterior draws (NumPy), for either binary shape.

    A draws dict with ``gamma_q`` has the power-law binary-like population as its last
    column (:func:`vlms_bayes.inference.membership.draws_from_posterior`).
    """
    pl = "gamma_q" in draws
    g = slice(None, -1) if pl else slice(None)
    lxi = log_xi(terms, *(draws[n][sl][:, g] for n in ("mu_logq", "mu_loga", "sigma_logq",
                                                        "sigma_loga", "rho")), log=np.log)
    if not pl:
        return lxi
    lam = powerlaw_lambda(draws["gamma_q"][sl].reshape(-1, 1))
    lpl = log_xi_powerlaw(terms, lam, draws["mu_loga"][sl][:, -1:],
                          draws["sigma_loga"][sl][:, -1:], log=np.log,
                          log_ndtr=special.log_ndtr)
    return np.concatenate([lxi, lpl], axis=-1)


def selection_loglik(terms: SelectionTerms, log_w: Any, lxi: Any, *,
                     logsumexp: Callable[..., Any], as_tensor: Callable[[Any], Any] = np.asarray,
                     ) -> Any:
    """−Σ_g N_g log Σ_k w_k ξ_g,k (a scalar per batch element)."""
    per_group = logsumexp(log_w[..., None, :] + lxi, axis=-1)    # (..., Gr)
    return -(per_group * as_tensor(terms.counts)).sum(axis=-1)


def selection_log_xi(data: ModelData, model: SelectionModel, params: dict[str, Any], *,
                     log_ndtr: Callable[[Any], Any] | None = None,
                     ) -> tuple[SelectionTerms, Any]:
    """The sample's :class:`SelectionTerms` and the PyTensor log ξ_g,k.

    log ξ is None when no method of the sample has a selection function. With
    ``gamma_q`` in ``params`` the last population is the power law
    (:func:`log_xi_powerlaw`, which needs the backend's ``log_ndtr``) and ``mu_logq``,
    ``sigma_logq``, ``rho`` are the other populations'.
    """
    import pytensor.tensor as pt  # heavy: PyTensor

    terms = selection_terms(data, model)
    if not terms.methods:
        return terms, None
    pl = "gamma_q" in params
    gs = slice(None, -1) if pl else slice(None)
    lxi = log_xi(terms, params["mu_logq"], params["mu_loga"][gs], params["sigma_logq"],
                 params["sigma_loga"][gs], params["rho"], log=pt.log,
                 as_tensor=pt.as_tensor, exp=pt.exp)
    if not pl:
        return terms, lxi
    if log_ndtr is None:
        raise VlmsBayesError("selection_log_xi needs log_ndtr for a power-law population.")
    lpl = log_xi_powerlaw(terms, powerlaw_lambda(params["gamma_q"]), params["mu_loga"][-1:],
                          params["sigma_loga"][-1:], log=pt.log, log_ndtr=log_ndtr,
                          as_tensor=pt.as_tensor, exp=pt.exp)
    return terms, pt.concatenate([lxi, lpl], axis=-1)


def log_mean_xi(terms: SelectionTerms, lxi: Any) -> Any:
    """Log ξ̄_k, the fraction of population k that the sample's methods detect (PyTensor).

    ξ̄_k = (Σ_g N_g ξ_g,k + N_flat) / N, averaged over the fitted objects (objects of flat
    methods count with ξ ≡ 1); computed in logs, so it stays finite for a population that
    no method can see.
    """
    import pytensor.tensor as pt  # heavy: PyTensor

    n_flat = int(np.sum(terms.object_group < 0))
    rows = lxi + pt.as_tensor(np.log(terms.counts))[:, None]          # (Gr, K)
    if n_flat:
        rows = pt.concatenate([rows, pt.full_like(rows[:1], np.log(n_flat))], axis=0)
    return pt.logsumexp(rows, axis=0) - np.log(terms.counts.sum() + n_flat)


def intrinsic_log_weights(log_f: Any, log_xibar: Any, *,
                          logsumexp: Callable[[Any], Any] | None = None) -> Any:
    """Intrinsic log w_k from the detected fractions f_k (PyTensor, or the given backend).

    f_k = w_k ξ̄_k / Σ_j w_j ξ̄_j is the share of the fitted sample that population k is
    expected to contribute, so w_k ∝ f_k / ξ̄_k (:func:`log_mean_xi`). ``logsumexp``: the
    backend's (JAX's for :mod:`vlms_bayes.models.logdensity`); None: PyTensor's.
    """
    if logsumexp is None:
        import pytensor.tensor as pt  # heavy: PyTensor

        logsumexp = pt.logsumexp
    raw = log_f - log_xibar
    return raw - logsumexp(raw)


def visibility_logp(log_xibar: Any, floor: float, scale: float, *,
                    xp: Any = None) -> Any:
    """Soft lower bound on each population's detected fraction (PyTensor scalar).

    Zero while ξ̄_k ≥ ``floor``; below it −½ ((log ξ̄_k − log floor) / ``scale``)²
    (a half-Gaussian wall in ln ξ̄, continuous with its first derivative). The data
    cannot constrain a population that the methods do not see; and where ξ underflows
    to the quadrature's floor (a narrow population outside the box), a population next
    to an object gains without bound from the ratio of its density to its ξ. The wall
    keeps every population where the methods can see it. ``xp``: the array module
    (``jax.numpy`` for the JAX density); None: PyTensor.
    """
    if xp is None:
        import pytensor.tensor as xp  # heavy: PyTensor

    z = xp.minimum(0.0, (log_xibar - np.log(floor)) / scale)
    return -0.5 * xp.sum(z ** 2)


def object_selection_logterms(terms: SelectionTerms, draws: dict[str, NDArray[np.float64]],
                              *, chunk: int = 64) -> NDArray[np.float64]:
    """Per-object selection log term −log Σ_k w_k ξ_g(i),k for each draw, shape (S, N).

    Added to the marginal log-likelihood of each object for PSIS-LOO (0 for flat methods).
    """
    s = draws["mu_logq"].shape[0]
    out = np.zeros((s, terms.object_method.size))
    if not terms.methods:
        return out
    per = np.empty((s, terms.counts.size))
    log_w = log_weights(draws)
    for lo in range(0, s, chunk):
        sl = slice(lo, min(s, lo + chunk))
        lxi = log_xi_draws(terms, draws, sl)
        per[sl] = special.logsumexp(log_w[sl][:, None, :] + lxi, axis=-1)
    has = terms.object_group >= 0
    out[:, has] = -per[:, terms.object_group[has]]
    return out
