"""Draw parameters from the mixture model's prior and a sample from its own likelihood.

This is the generator of simulation-based calibration (``vlms-bayes calibrate``,
:mod:`vlms_bayes.inference.sbc`): for SBC to test the *inference*, the data must come
from exactly the joint distribution the model describes (Talts et al. 2018; Modrák et
al. 2023). The selection-aware likelihood (:mod:`vlms_bayes.models.selection_norm`) is
*conditional* on each object's discovery method and host — the number of objects per
method carries information the model does not use — so the generator holds a *design*
fixed (N objects, each with its method, host mass and magnitude, mass and separation
kind, measurement errors and eccentricity status; :func:`design_from_scenario` or a
user's stacked table) and draws, for that design:

1. θ from the prior of :func:`vlms_bayes.models.mixture.build_mixture_model`: ordered
   μ_q (sorted i.i.d. normals have the ordered-normal density), μ_a, half-normal scales,
   ρ = 2 Beta(η, η) − 1, log-normal α and β (per population), the Dirichlet on the
   detected fractions ``f_det`` (selection-aware) or on ``w`` (naive); times the model's
   soft ``visibility`` wall, by rejection (the wall's log density is ≤ 0). The intrinsic
   weights follow from f and ξ̄ as in the model.
2. For each object of normalisation group g (method, host bin): a component k and a
   true x = (log q, log a) with density ∝ w_k N2(x; θ_k) p̃_det,g(x), by rejection: propose
   k ~ w, x ~ N2(θ_k), accept with the detection probability at the group's host, the
   object's own inclination (radial velocity sees K sin i) and projection (microlensing
   and imaging see a sin φ), at x plus a N(0, τ²) jitter and inside the quadrature box.
   The jitter is the model's smoothing of p_det in ξ (τ² = step²/2), so the acceptance
   probability of a component is exactly the ξ_g,k the model divides by; flat methods
   accept everything.
3. The observations with the model's measurement model, at the errors the model uses
   (the design's errors after the floors): y_q = x_q [+ log sin i for minimum masses]
   + σ_q ε, y_a = x_a [+ log sin φ for projected separations] + σ_a ε, measured
   eccentricities e + σ_e ε (not clipped), e ~ Beta(α_k, β_k).

Power-law binary-like population (``binary_shape="powerlaw"``, K ≥ 2): the last
population is dN/dq ∝ q^γ on q ≤ 1 with no lower cut, i.e. x = log10 q has the density
λ e^(λx) on x ≤ 0 (λ = (γ + 1) ln 10) — the law the model's kernels integrate over
(:func:`~vlms_bayes.models.likelihood.powerlaw_logq_logpdf`) — times an independent
normal in log a. Its prior draw is γ + 1 ~ LogNormal (:class:`MixturePriors`), its true
log q is ln U / λ (U uniform, the exact inverse CDF), and, as for the Gaussians, only
the part inside the selection model's quadrature box can be detected (ξ is
:func:`~vlms_bayes.models.selection_norm.log_xi_powerlaw`). The parameter set then holds
``mu_logq``, ``sigma_logq`` and ``rho`` for the K − 1 Gaussian components only,
``mu_loga``, ``sigma_loga`` and the rest for every population, and ``gamma_q`` (1,), as
the fit's posterior does.

Stated differences from the model: the likelihood takes p_det as constant over each
object's measurement error (:mod:`vlms_bayes.models.selection_norm`), which the
generator does not; eccentricity *upper limits* of the design are simulated as missing
(a censoring mechanism for which the model's "e < limit" term is exact would need the
limit to be independent of e, and then some true e would exceed it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special, stats

from vlms_bayes.errors import InputDataError, VlmsBayesError
from vlms_bayes.models.data import (
    E_LIMIT,
    E_MEASURED,
    E_NONE,
    MeasurementConfig,
    ModelData,
    model_data_from_stacked,
)
from vlms_bayes.models.likelihood import (
    NUMPY_OPS,
    bvn_logpdf,
    powerlaw_lambda,
    powerlaw_logq_logpdf,
)
from vlms_bayes.models.mixture import (
    MixturePriors,
    check_binary_shape,
    component_populations,
    n_gaussians,
)
from vlms_bayes.models.scenarios import m_dwarf_like
from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.selection_norm import (
    SelectionTerms,
    log_xi,
    log_xi_powerlaw,
    selection_terms,
)

log = logging.getLogger(__name__)

#: Parameters of a truth (one value per Gaussian component) and what they mean.
TRUTH_KEYS: dict[str, str] = {
    "w": "intrinsic weight of each component (positive, normalised to sum to 1)",
    "mu_logq": "mean log10 q (strictly increasing)",
    "mu_loga": "mean log10 a [AU]",
    "sigma_logq": "standard deviation of log10 q (> 0)",
    "sigma_loga": "standard deviation of log10 a (> 0)",
    "rho": "correlation of log q and log a (in (-1, 1))",
    "e_alpha": "Beta alpha of the eccentricities (> 0)",
    "e_beta": "Beta beta of the eccentricities (> 0)",
}


#: The power-law index of a truth with ``binary_shape="powerlaw"`` (one value).
POWERLAW_TRUTH_KEY: tuple[str, str] = (
    "gamma_q", "index γ of the binary-like mass ratios, dN/dq ∝ q^γ on q ≤ 1 (> -1)")
#: Parameters of the Gaussian components only (one value each with the power law).
GAUSSIAN_ONLY: tuple[str, ...] = ("mu_logq", "sigma_logq", "rho")


class SimulationError(VlmsBayesError):
    """A draw that the rejection samplers could not complete within their budget."""


# ---------------------------------------------------------------------------------------
# the model's ξ terms in NumPy (twins of the PyTensor ones in selection_norm)
# ---------------------------------------------------------------------------------------
def model_terms(design: ModelData, selection: SelectionModel | None) -> SelectionTerms | None:
    """The design's :class:`SelectionTerms` (None: naive model or only flat methods)."""
    if selection is None:
        return None
    terms = selection_terms(design, selection)
    return terms if terms.methods else None


def log_xi_of(terms: SelectionTerms, params: Mapping[str, NDArray[np.float64]],
              ) -> NDArray[np.float64]:
    """Log ξ_g,k (Gr, K) of one parameter set (NumPy, as the model computes it).

    With ``gamma_q`` in ``params`` the last column is the power-law population's
    (:func:`~vlms_bayes.models.selection_norm.log_xi_powerlaw`).
    """
    kg = np.asarray(params["mu_logq"]).size
    lxi = np.asarray(log_xi(terms, *(np.asarray(params[k], float)[:kg] for k in (
        "mu_logq", "mu_loga", "sigma_logq", "sigma_loga", "rho")), log=np.log))
    if "gamma_q" not in params:
        return lxi
    lam = powerlaw_lambda(np.asarray(params["gamma_q"], float).reshape(1))
    lpl = log_xi_powerlaw(terms, lam, np.asarray(params["mu_loga"], float)[-1:],
                          np.asarray(params["sigma_loga"], float)[-1:], log=np.log,
                          log_ndtr=special.log_ndtr)
    return np.concatenate([lxi, np.asarray(lpl)], axis=-1)


def log_mean_xi_np(terms: SelectionTerms, lxi: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log ξ̄_k (NumPy twin of :func:`~vlms_bayes.models.selection_norm.log_mean_xi`)."""
    n_flat = int(np.sum(terms.object_group < 0))
    rows = lxi + np.log(terms.counts)[:, None]
    if n_flat:
        rows = np.concatenate([rows, np.full_like(rows[:1], np.log(n_flat))], axis=0)
    return special.logsumexp(rows, axis=0) - np.log(terms.counts.sum() + n_flat)


def visibility_logp_np(log_xibar: NDArray[np.float64], floor: float, scale: float) -> float:
    """NumPy twin of :func:`~vlms_bayes.models.selection_norm.visibility_logp` (≤ 0)."""
    z = np.minimum(0.0, (np.asarray(log_xibar) - np.log(floor)) / scale)
    return float(-0.5 * np.sum(z ** 2))


# ---------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------
def draw_base_prior(priors: MixturePriors, *, n_components: int, planet_components: int,
                    selection_aware: bool, rng: np.random.Generator,
                    binary_shape: str = "gaussian",
                    ) -> dict[str, NDArray[np.float64]]:
    """One draw of the model's free parameters from their priors (no visibility wall).

    Returns the model's variable names: ``mu_logq`` (sorted), ``mu_loga``, ``sigma_logq``,
    ``sigma_loga``, ``rho``, ``e_alpha``, ``e_beta`` (per component; with P > 1 planet
    components also ``e_alpha_pop``, ``e_beta_pop`` per population) and ``f_det``
    (selection-aware, K > 1) or ``w`` (naive, K > 1). With ``binary_shape="powerlaw"``
    (K ≥ 2) ``mu_logq``, ``sigma_logq`` and ``rho`` are the Gaussian components' only and
    ``gamma_q`` (1,) is drawn from γ + 1 ~ LogNormal(ln(1 + median), log sd).
    """
    pr = priors
    k = n_gaussians(n_components, planet_components)
    pl = check_binary_shape(binary_shape, n_components)
    kg = k - 1 if pl else k
    d: dict[str, NDArray[np.float64]] = {
        "mu_logq": np.sort(rng.normal(pr.mu_logq_mean, pr.mu_logq_sd, kg)),
        "mu_loga": rng.normal(pr.mu_loga_mean, pr.mu_loga_sd, k),
        "sigma_logq": np.abs(rng.normal(0.0, pr.scale_sd, kg)),
        "sigma_loga": np.abs(rng.normal(0.0, pr.scale_sd, k)),
        "rho": 2.0 * rng.beta(pr.lkj_eta, pr.lkj_eta, kg) - 1.0,
    }
    n_e = k if planet_components == 1 else n_components
    alpha = np.exp(rng.normal(np.log(pr.e_alpha_median), pr.e_alpha_log_sd, n_e))
    beta = np.exp(rng.normal(np.log(pr.e_beta_median), pr.e_beta_log_sd, n_e))
    if planet_components == 1:
        d["e_alpha"], d["e_beta"] = alpha, beta
    else:
        comp = component_populations(n_components, planet_components)
        d["e_alpha_pop"], d["e_beta_pop"] = alpha, beta
        d["e_alpha"], d["e_beta"] = alpha[comp], beta[comp]
    if k > 1:
        d["f_det" if selection_aware else "w"] = rng.dirichlet(
            np.full(k, pr.weight_concentration))
    if pl:
        d["gamma_q"] = np.expm1(rng.normal(np.log1p(pr.gamma_q_median), pr.gamma_q_log_sd, 1))
    return d


def complete_parameters(params: dict[str, NDArray[np.float64]],
                        terms: SelectionTerms | None) -> dict[str, NDArray[np.float64]]:
    """Add the model's deterministics: ``log_w``, ``w``, ``e_mean``, ``e_conc``.

    Selection-aware with ``f_det``: w_k ∝ f_k / ξ̄_k (as in the model); a truth given as
    ``w`` gains its ``f_det`` = w ξ̄ / Σ w ξ̄ instead.
    """
    out = dict(params)
    k = np.asarray(out["mu_loga"]).size  # every population (mu_logq: the Gaussians')
    if terms is not None and k > 1:
        lxb = log_mean_xi_np(terms, log_xi_of(terms, out))
        if "f_det" in out:
            raw = np.log(out["f_det"]) - lxb
            out["log_w"] = raw - special.logsumexp(raw)
        else:
            out["log_w"] = np.log(out["w"]) - np.log(np.sum(out["w"]))
            raw = out["log_w"] + lxb
            out["f_det"] = np.exp(raw - special.logsumexp(raw))
        out["w"] = np.exp(out["log_w"])
    elif k > 1:
        out["w"] = np.asarray(out["w"]) / np.sum(out["w"])
        out["log_w"] = np.log(out["w"])
    else:
        out["w"], out["log_w"] = np.ones(1), np.zeros(1)
    a, b = np.asarray(out["e_alpha"]), np.asarray(out["e_beta"])
    out["e_mean"], out["e_conc"] = a / (a + b), a + b
    return out


def draw_prior(design: ModelData, *, priors: MixturePriors | None = None,
               selection: SelectionModel | None, n_components: int = 2,
               planet_components: int = 1, rng: np.random.Generator,
               max_tries: int = 100_000, terms: SelectionTerms | str | None = "design",
               binary_shape: str = "gaussian",
               ) -> tuple[dict[str, NDArray[np.float64]], int]:
    """One draw of θ from the model's prior for this design, visibility wall included.

    ``terms``: the design's :func:`model_terms` when already computed (``"design"``:
    compute them here). ``binary_shape``: as the fit's (:func:`draw_base_prior`).

    Returns
    -------
    params : dict
        :func:`draw_base_prior`'s names plus :func:`complete_parameters`'s.
    tries : int
        Base-prior draws used (the wall rejects the others).

    Raises
    ------
    SimulationError
        If ``max_tries`` draws were all rejected.
    """
    pr = priors or MixturePriors()
    if isinstance(terms, str):
        terms = model_terms(design, selection)
    for tries in range(1, max_tries + 1):
        d = draw_base_prior(pr, n_components=n_components, planet_components=planet_components,
                            selection_aware=terms is not None, rng=rng,
                            binary_shape=binary_shape)
        if terms is None:
            return complete_parameters(d, None), tries
        lxb = log_mean_xi_np(terms, log_xi_of(terms, d))
        if np.log(rng.random()) < visibility_logp_np(lxb, pr.visibility_floor,
                                                     pr.visibility_scale):
            return complete_parameters(d, terms), tries
    raise SimulationError(f"No prior draw passed the visibility wall in {max_tries} tries; "
                          "the design's methods see almost none of the prior's populations.")


def truth_from_mapping(values: Mapping[str, Any], *, source: str, n_components: int,
                       planet_components: int = 1, binary_shape: str = "gaussian",
                       ) -> dict[str, NDArray[np.float64]]:
    """Validate a user's truth (:data:`TRUTH_KEYS`, one value per component).

    ``source`` names the file in error messages. With ``binary_shape="powerlaw"``
    (K ≥ 2) ``mu_logq``, ``sigma_logq`` and ``rho`` have one value per Gaussian
    component (all but the last) and ``gamma_q`` (:data:`POWERLAW_TRUTH_KEY`) is needed.

    Raises
    ------
    InputDataError
        A missing, unknown or malformed key, named with the file.
    """
    k = n_gaussians(n_components, planet_components)
    pl = check_binary_shape(binary_shape, n_components)
    keys = dict(TRUTH_KEYS)
    if pl:
        keys[POWERLAW_TRUTH_KEY[0]] = POWERLAW_TRUTH_KEY[1]
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise InputDataError(f"{source}: unknown key(s) {unknown}; a truth has "
                             f"{sorted(keys)}.")
    out: dict[str, NDArray[np.float64]] = {}
    for key, what in keys.items():
        size = 1 if key == "gamma_q" else (k - 1 if pl and key in GAUSSIAN_ONLY else k)
        per = ("one value" if key == "gamma_q" else "one per Gaussian component"
               if pl and key in GAUSSIAN_ONLY else "one per component")
        if key not in values:
            if key == "w" and k == 1:
                continue
            raise InputDataError(f"{source}: missing key {key!r} ({what}; a list of {size} "
                                 f"number(s), {per}).")
        raw = values[key]
        raw = [raw] if isinstance(raw, int | float) and not isinstance(raw, bool) else raw
        try:
            arr = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            arr = np.empty(0)
        if arr.ndim != 1 or arr.size != size or not np.isfinite(arr).all():
            raise InputDataError(f"{source}: key {key!r} must be a list of {size} finite "
                                 f"number(s) ({what}; {per}), got {raw!r}.")
        out[key] = arr
    checks = {
        "gamma_q": lambda v: (v > -1).all(),
        "w": lambda v: (v > 0).all(), "mu_logq": lambda v: (np.diff(v) > 0).all(),
        "sigma_logq": lambda v: (v > 0).all(), "sigma_loga": lambda v: (v > 0).all(),
        "rho": lambda v: (np.abs(v) < 1).all(), "e_alpha": lambda v: (v > 0).all(),
        "e_beta": lambda v: (v > 0).all()}
    for key, ok in checks.items():
        if key in out and not ok(out[key]):
            raise InputDataError(f"{source}: key {key!r} must be {keys[key]}, got "
                                 f"{out[key].tolist()}.")
    if planet_components > 1:
        comp = component_populations(n_components, planet_components)
        for key in ("e_alpha", "e_beta"):
            pops = [np.unique(out[key][comp == j]) for j in range(n_components)]
            if any(p.size > 1 for p in pops):
                raise InputDataError(f"{source}: key {key!r}: components of one population "
                                     "share its eccentricity distribution; give equal values.")
            out[f"{key}_pop"] = np.array([p[0] for p in pops])
    return out


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------
def population_columns(params: Mapping[str, NDArray[np.float64]],
                       ) -> tuple[list[NDArray[np.float64]], float | None]:
    """The five Gaussian parameters with one entry per component, and the power law's λ.

    ``mu_logq, mu_loga, sigma_logq, sigma_loga, rho`` (a power-law population's q
    parameters NaN) and λ (None: no power law).
    """
    k = np.asarray(params["mu_loga"]).size
    cols = []
    for key in ("mu_logq", "mu_loga", "sigma_logq", "sigma_loga", "rho"):
        v = np.asarray(params[key], float)
        cols.append(np.r_[v, np.full(k - v.size, np.nan)])
    lam = (float(powerlaw_lambda(np.asarray(params["gamma_q"], float).reshape(-1)[0]))
           if "gamma_q" in params else None)
    return cols, lam


def _draw_true_values(w: NDArray[np.float64], params: Mapping[str, NDArray[np.float64]],
                      n: int, rng: np.random.Generator,
                      ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    lab = rng.choice(w.size, size=n, p=w / w.sum())
    cols, lam = population_columns(params)
    mq, ma, sq, sa, rho = (c[lab] for c in cols)
    z1, z2 = rng.standard_normal((2, n))
    with np.errstate(invalid="ignore"):  # NaN q parameters of the power law, replaced below
        logq = mq + sq * z1
        loga = ma + sa * (rho * z1 + np.sqrt(1.0 - rho ** 2) * z2)
    if lam is not None:  # the power law: x = ln U / λ ≤ 0 (inverse CDF), log a normal
        pl = lab == w.size - 1
        u = rng.random(n)
        logq = np.where(pl, np.log1p(-u) / lam, logq)
        loga = np.where(pl, ma + sa * z2, loga)
    return lab, logq, loga


#: Below this acceptance a group's objects come from the fine-grid sampler instead.
MIN_ACCEPTANCE: float = 1e-3
#: Cell size (dex) of the fine-grid sampler.
FINE_STEP_DEX: float = 0.01


def _p_det_group(selection: SelectionModel, terms: SelectionTerms, g: int, logq: Any,
                 loga: Any, **orient: Any) -> NDArray[np.float64]:
    """p_det of group g at (log q, log a), zero outside the quadrature box."""
    method = terms.methods[terms.group_method[g]]
    mag = terms.group_host_mag[g]
    p = selection.p_det(method, logq, loga, m_star_msun=float(terms.group_host_msun[g]),
                        host_mag=None if not np.isfinite(mag) else float(mag), **orient)
    (q_lo, q_hi), (a_lo, a_hi) = selection.logq_range, selection.loga_range
    inside = (logq >= q_lo) & (logq <= q_hi) & (loga >= a_lo) & (loga <= a_hi)
    return np.where(inside, p, 0.0)


def _detected_by_rejection(selection: SelectionModel, terms: SelectionTerms, g: int, n: int,
                           w: NDArray[np.float64], params: Mapping[str, NDArray[np.float64]],
                           accept: float, rng: np.random.Generator, max_proposals: int,
                           ) -> NDArray[np.float64]:
    """(n, 5) component, log q, log a, sin i, sin φ: propose k ~ w, x ~ N2, accept p_det."""
    tau = np.sqrt(terms.smooth_var)
    batch = int(min(max(1024, 2 * n / max(accept, 1e-12)), 1_000_000))
    got: list[NDArray[np.float64]] = []
    n_got = used = 0
    while n_got < n:
        if used >= max_proposals:
            raise SimulationError(
                f"Only {n_got} of {n} {terms.methods[terms.group_method[g]]} detections in "
                f"{used} proposals (detected fraction {accept:.2g}).")
        lab, tq, ta = _draw_true_values(w, params, batch, rng)
        sin_i, sin_phi = np.sqrt(1.0 - rng.random((2, batch)) ** 2)
        jq, ja = tq + tau * rng.standard_normal(batch), ta + tau * rng.standard_normal(batch)
        p = _p_det_group(selection, terms, g, jq, ja, sin_i=sin_i, sin_phi=sin_phi)
        keep = rng.random(batch) < p
        used += batch
        if keep.any():
            got.append(np.c_[lab[keep], tq[keep], ta[keep], sin_i[keep], sin_phi[keep]])
            n_got += int(keep.sum())
    return np.concatenate(got)[:n]


def _rare_orientation(selection: SelectionModel, terms: SelectionTerms, g: int, xq: float,
                      xa: float, rng: np.random.Generator, max_proposals: int,
                      batch: int = 2**14) -> tuple[float, float]:
    """(sin i, sin φ) given detection at one (log q, log a), for points seen at few angles.

    The same rejection as the scalar loop of :func:`_detected_on_fine_grid` — isotropic
    orientations, each kept with its p_det — drawn ``batch`` at a time; the first kept one
    is returned, so the draw is exact. After ``max_proposals`` orientations without a
    detection (a point seen from a sliver of orientations: p̄_det ≲ 1/max_proposals) the
    draw comes from :func:`_orientation_on_grid` instead, exact up to its grid; a point
    seen from no orientation on that grid is an error.
    """
    for _ in range(max(1, max_proposals // batch)):
        sin_i, sin_phi = np.sqrt(1.0 - rng.random((2, batch)) ** 2)
        p = _p_det_group(selection, terms, g, np.full(batch, xq), np.full(batch, xa),
                         sin_i=sin_i, sin_phi=sin_phi)
        hit = np.flatnonzero(rng.random(batch) < p)
        if hit.size:
            return float(sin_i[hit[0]]), float(sin_phi[hit[0]])
    out = _orientation_on_grid(selection, terms, g, xq, xa, rng)
    if out is None:
        raise SimulationError(
            f"The fine-grid sampler found no detecting orientation at log q = {xq:.2f}, "
            f"log a = {xa:.2f} in {max_proposals} isotropic draws nor on the orientation "
            "grid; the populations put detections where no orientation is seen.")
    log.info("%s detection at log q = %.2f, log a = %.2f: no isotropic orientation of %d "
             "was kept, so its orientation was drawn on the orientation grid",
             terms.methods[terms.group_method[g]], xq, xa, max_proposals)
    return float(out[0, 0]), float(out[0, 1])


#: Cell edges in μ = cos i (and cos φ) of :func:`_orientation_on_grid`: geometric toward
#: both ends (slivers of orientations near edge-on or face-on), down to 1e-14.
_MU_EDGES: NDArray[np.float64] = np.unique(np.r_[
    0.0, np.geomspace(1e-14, 0.5, 250), 1.0 - np.geomspace(1e-14, 0.5, 250), 1.0])


def _orientation_on_grid(selection: SelectionModel, terms: SelectionTerms, g: int,
                         xq: float, xa: float, rng: np.random.Generator, size: int = 1,
                         ) -> NDArray[np.float64] | None:
    """(sin i, sin φ) given detection at (log q, log a), from a grid of orientations.

    Isotropic orientations have μ_i = cos i and μ_φ = cos φ uniform on [0, 1]. Given
    detection their density is ∝ p_det(sin i, sin φ): a cell of the product grid of
    :data:`_MU_EDGES` is drawn with probability ∝ its area × p_det at its centre, and μ
    uniformly within it — exact up to the grid, as the fine-grid sampler of x' is. The
    edges are geometric toward μ = 0 and 1, so orientations within ~1e-14 in μ of
    edge-on or face-on are resolved.

    Returns
    -------
    numpy.ndarray or None
        ``size`` rows of (sin i, sin φ); None when p_det is 0 on every cell.
    """
    lo, hi = _MU_EDGES[:-1], _MU_EDGES[1:]
    mid, width = 0.5 * (lo + hi), hi - lo
    mi, mp = (v.ravel() for v in np.meshgrid(mid, mid, indexing="ij"))
    area = np.outer(width, width).ravel()
    one = np.ones(mi.size)
    p = _p_det_group(selection, terms, g, xq * one, xa * one, sin_i=np.sqrt(1.0 - mi ** 2),
                     sin_phi=np.sqrt(1.0 - mp ** 2)) * area
    total = p.sum()
    if not total > 0:
        return None
    c = np.minimum(np.searchsorted(np.cumsum(p) / total, rng.random(size)), p.size - 1)
    ci, cp = np.divmod(c, mid.size)
    mu_i = lo[ci] + width[ci] * rng.random(size)
    mu_p = lo[cp] + width[cp] * rng.random(size)
    return np.c_[np.sqrt(1.0 - mu_i ** 2), np.sqrt(1.0 - mu_p ** 2)]


def _detected_on_fine_grid(selection: SelectionModel, terms: SelectionTerms, g: int, n: int,
                           w: NDArray[np.float64], params: Mapping[str, NDArray[np.float64]],
                           rng: np.random.Generator, max_proposals: int,
                           ) -> NDArray[np.float64]:
    """The same draws for a group that detects almost nothing of the populations.

    The jittered point x' = x + ε has density ∝ Σ_k w_k N2(x'; μ_k, Σ_k + τ²) p̄_det(x')
    (p̄ averaged over orientation, zero outside the box): drawn from its values on a
    :data:`FINE_STEP_DEX` grid, uniformly within the cell. Given x', the component has
    probability ∝ w_k N2(x'; μ_k, Σ_k + τ²), x is the Gaussian conditional of x given
    x' (conjugate), and (sin i, sin φ) are isotropic draws accepted with p_det at them
    (their distribution given detection at x'). Exact up to the grid. A power-law
    population (``gamma_q``) has the jittered density of
    :func:`~vlms_bayes.models.likelihood.powerlaw_logq_logpdf` (s = τ) times its normal
    in log a with τ² added, and its x given x' is a normal truncated at log q = 0 in log q
    (the exponential tilts the jitter's normal by λτ²) and the conjugate normal in log a.
    """
    tau2 = terms.smooth_var
    (q_lo, q_hi), (a_lo, a_hi) = selection.logq_range, selection.loga_range
    (mq, ma, sq, sa, rho), lam = population_columns(params)
    kg = w.size - 1 if lam is not None else w.size
    mq, sq, rho = mq[:kg], sq[:kg], rho[:kg]
    vq, va, cqa = sq ** 2 + tau2, sa ** 2 + tau2, rho * sq * sa[:kg]

    def log_comp(q: NDArray[np.float64], a: NDArray[np.float64]) -> NDArray[np.float64]:
        """Log of each component's jittered density at x' (..., K), weights included."""
        q, a = np.asarray(q, float)[..., None], np.asarray(a, float)[..., None]
        lg = bvn_logpdf(q - mq, a - ma[:kg], vq, va[:kg], cqa, log=np.log)
        if lam is not None:  # the power law convolved with N(0, τ²) in log q (exact)
            lpl = (powerlaw_logq_logpdf(q, float(np.sqrt(tau2)), lam, ops=NUMPY_OPS)
                   + stats.norm.logpdf(a, ma[-1], np.sqrt(va[-1])))
            lg = np.concatenate([lg, lpl], axis=-1)
        return lg + np.log(w)

    def log_g(q: NDArray[np.float64], a: NDArray[np.float64]) -> NDArray[np.float64]:
        return special.logsumexp(log_comp(q, a), axis=-1)

    def cells(step: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        gq = np.arange(q_lo + step / 2, q_hi, step)
        ga = np.arange(a_lo + step / 2, a_hi, step)
        return tuple(v.ravel() for v in np.meshgrid(gq, ga, indexing="ij"))  # type: ignore

    # coarse pass: where can the target be non-negligible? (p_det's cuts are >= 0.1 dex
    # wide, so its log changes by < 1 between neighbouring coarse cells)
    coarse = 0.05
    cq, ca = cells(coarse)
    with np.errstate(divide="ignore"):
        lc = log_g(cq, ca) + np.log(_p_det_group(selection, terms, g, cq, ca))
    if not np.isfinite(lc).any():
        raise SimulationError(f"No {terms.methods[terms.group_method[g]]} detection is "
                              "possible under these populations.")
    near = np.zeros(lc.size, bool)
    n_a = int(np.arange(a_lo + coarse / 2, a_hi, coarse).size)
    hot = np.flatnonzero(lc > lc.max() - 30.0)
    for dq in (-1, 0, 1):  # the hot coarse cells and their neighbours
        for da in (-1, 0, 1):
            iq, ia = hot // n_a + dq, hot % n_a + da
            ok = (iq >= 0) & (ia >= 0) & (iq < lc.size // n_a) & (ia < n_a)
            near[iq[ok] * n_a + ia[ok]] = True
    q2, a2 = cells(FINE_STEP_DEX)
    f_per_c = round(coarse / FINE_STEP_DEX)
    n_af = int(np.arange(a_lo + FINE_STEP_DEX / 2, a_hi, FINE_STEP_DEX).size)
    fi = np.arange(q2.size)
    parent = np.minimum(fi // n_af // f_per_c, lc.size // n_a - 1) * n_a + np.minimum(
        fi % n_af // f_per_c, n_a - 1)
    live = np.flatnonzero(near[parent])
    q2, a2 = q2[live], a2[live]
    pbar = _p_det_group(selection, terms, g, q2, a2)
    with np.errstate(divide="ignore"):
        logf = log_g(q2, a2) + np.log(pbar)
    cdf = np.cumsum(np.exp(logf - logf.max()))
    cdf /= cdf[-1]
    out = np.empty((n, 5))
    one = np.ones(1)
    for i in range(n):
        for _ in range(max(1, max_proposals // 1000)):
            c = min(int(np.searchsorted(cdf, rng.random())), cdf.size - 1)
            xq = q2[c] + FINE_STEP_DEX * (rng.random() - 0.5)
            xa = a2[c] + FINE_STEP_DEX * (rng.random() - 0.5)
            pb = _p_det_group(selection, terms, g, xq * one, xa * one)[0]
            if pb > 0:
                break
        else:
            raise SimulationError("The fine-grid sampler found no detectable point.")
        for _ in range(max(1, max_proposals // 1000)):  # orientation given detection at x'
            sin_i, sin_phi = np.sqrt(1.0 - rng.random(2) ** 2)
            p = _p_det_group(selection, terms, g, xq * one, xa * one, sin_i=sin_i * one,
                             sin_phi=sin_phi * one)[0]
            if rng.random() < p:  # exact: p ≤ 1 (p/p̄ could exceed 1 and be capped)
                break
        else:  # a point seen from few orientations: the same trials, in vectorised batches
            sin_i, sin_phi = _rare_orientation(selection, terms, g, xq, xa, rng, max_proposals)
        lk = log_comp(xq, xa)
        k = rng.choice(w.size, p=np.exp(lk - special.logsumexp(lk)))
        if k < kg:
            cov = np.array([[sq[k] ** 2, cqa[k]], [cqa[k], sa[k] ** 2]])
            gain = cov @ np.linalg.inv(cov + tau2 * np.eye(2))
            mean = np.array([mq[k], ma[k]]) + gain @ (np.array([xq, xa]) - [mq[k], ma[k]])
            x = rng.multivariate_normal(mean, cov - gain @ cov)
        else:  # power law: x_q | x' ∝ e^(λx) N(x'; x, τ²) on x ≤ 0, a normal truncated
            # at 0 with mean x' + λτ²; x_a | x' the normal conjugate
            m_q = xq + lam * tau2
            tq = stats.truncnorm.rvs(-np.inf, -m_q / np.sqrt(tau2), loc=m_q,
                                     scale=np.sqrt(tau2), random_state=rng)
            ga = sa[k] ** 2 / (sa[k] ** 2 + tau2)
            ta = rng.normal(ma[k] + ga * (xa - ma[k]), np.sqrt(ga * tau2))
            x = np.array([tq, ta])
        out[i] = (k, x[0], x[1], sin_i, sin_phi)
    return out


def simulate_true_values(design: ModelData, params: Mapping[str, NDArray[np.float64]], *,
                         selection: SelectionModel | None, terms: SelectionTerms | None,
                         rng: np.random.Generator, max_proposals: int = 20_000_000,
                         ) -> pd.DataFrame:
    """Component, true (log q, log a), sin i and sin φ of each design object (detected).

    See the module docstring (step 2). Objects are simulated group by group, in the
    design's order within each group; a group whose detected fraction Σ_k w_k ξ_g,k is
    below :data:`MIN_ACCEPTANCE` is drawn on a fine grid instead of by rejection
    (:func:`_detected_on_fine_grid`).

    Raises
    ------
    SimulationError
        When a group cannot be simulated (no detection possible at all).
    """
    n = design.n
    w = np.exp(np.asarray(params["log_w"], float))
    out = {"component": np.zeros(n, np.int64), "true_logq": np.zeros(n),
           "true_loga": np.zeros(n), "true_sin_i": np.ones(n), "true_sin_phi": np.ones(n)}
    groups = (terms.object_group if terms is not None else np.full(n, -1))
    flat = np.flatnonzero(groups < 0)
    if flat.size:  # no selection: the populations as they are
        lab, tq, ta = _draw_true_values(w, params, flat.size, rng)
        out["component"][flat], out["true_logq"][flat], out["true_loga"][flat] = lab, tq, ta
        out["true_sin_i"][flat] = np.sqrt(1.0 - rng.random(flat.size) ** 2)
        out["true_sin_phi"][flat] = np.sqrt(1.0 - rng.random(flat.size) ** 2)
    if terms is not None:
        assert selection is not None
        lxi = log_xi_of(terms, params)
        for g in range(terms.counts.size):
            idx = np.flatnonzero(groups == g)
            if not idx.size:
                continue
            accept = float(np.exp(special.logsumexp(np.log(w) + lxi[g])))
            if accept >= MIN_ACCEPTANCE:
                acc = _detected_by_rejection(selection, terms, g, idx.size, w, params, accept,
                                             rng, max_proposals)
            else:
                acc = _detected_on_fine_grid(selection, terms, g, idx.size, w, params, rng,
                                             max_proposals)
            out["component"][idx] = acc[:, 0].astype(np.int64)
            for j, key in enumerate(("true_logq", "true_loga", "true_sin_i", "true_sin_phi"), 1):
                out[key][idx] = acc[:, j]
    return pd.DataFrame(out)


def simulate_replica(design: ModelData, params: Mapping[str, NDArray[np.float64]], *,
                     selection: SelectionModel | None, rng: np.random.Generator,
                     planet_components: int = 1,
                     terms: SelectionTerms | str | None = "design",
                     ) -> tuple[ModelData, pd.DataFrame]:
    """Observed data of the design's objects under ``params`` (module docstring).

    Parameters
    ----------
    design : ModelData
        The fixed design (its observed values are ignored; its errors, kinds, methods and
        hosts are used).
    params : mapping
        A full parameter set (:func:`draw_prior` or :func:`complete_parameters`).
    selection : SelectionModel or None
        The fit's selection model (None: the naive model).
    rng : numpy.random.Generator
        Randomness.
    planet_components : int
        Gaussian components of the planet-like population (for ``true_population``).
    terms : SelectionTerms or None
        The design's :func:`model_terms` when already computed (``"design"``: here).

    Returns
    -------
    data : ModelData
        The design with simulated ``y_logq``, ``y_loga``, ``e_obs`` (limits become
        missing eccentricities).
    truth : pandas.DataFrame
        Per object: component, population, true log q, log a, e, sin i, sin φ.
    """
    if isinstance(terms, str):
        terms = model_terms(design, selection)
    tv = simulate_true_values(design, params, selection=selection, terms=terms, rng=rng)
    lab = tv["component"].to_numpy()
    n = design.n
    alpha, beta = (np.asarray(params[k], float)[lab] for k in ("e_alpha", "e_beta"))
    true_e = rng.beta(alpha, beta)
    eq, ea, ee = rng.standard_normal((3, n))
    msini, proj = np.asarray(design.msini, bool), design.is_projected
    y_q = (tv["true_logq"].to_numpy() + np.where(msini, np.log10(tv["true_sin_i"]), 0.0)
           + design.s_logq * eq)
    y_a = (tv["true_loga"].to_numpy() + np.where(proj, np.log10(tv["true_sin_phi"]), 0.0)
           + design.s_loga * ea)
    kind = np.where(design.e_kind == E_LIMIT, E_NONE, design.e_kind)
    meas = kind == E_MEASURED
    data = replace(design, y_logq=y_q, y_loga=y_a, e_kind=kind,
                   e_obs=np.where(meas, true_e + np.where(meas, design.s_e, 0.0) * ee, np.nan),
                   s_e=np.where(meas, design.s_e, np.nan), e_limit=np.full(n, np.nan))
    truth = tv.assign(true_e=true_e, population=np.asarray(component_populations(
        int(np.asarray(params["mu_loga"]).size) - planet_components + 1,
        planet_components))[lab])
    return data, truth


def design_from_stacked(stacked: pd.DataFrame, *, measurement: MeasurementConfig | None = None,
                        ) -> ModelData:
    """The design of a stacked table: the rows the fit would use, as :class:`ModelData`."""
    data, _ = model_data_from_stacked(stacked, measurement=measurement)
    return data


def design_from_scenario(n_objects: int, *, seed: int,
                         measurement: MeasurementConfig | None = None,
                         selection: SelectionModel | None = None) -> ModelData:
    """A design of ``n_objects`` like the real sample: the M-dwarf-like scenario's detections.

    Methods, hosts, mass and separation kinds, errors and eccentricity statuses of the
    first ``n_objects`` detections of :func:`vlms_bayes.models.scenarios.m_dwarf_like`
    (radial velocity with minimum masses, transit, microlensing and imaging with projected
    separations, each with its own errors). Only the design is kept: the values are
    redrawn for each replica.
    """
    if n_objects < 3:
        raise InputDataError(f"--n-objects must be at least 3, got {n_objects}.")
    n_int = max(100, 25 * n_objects)
    while True:
        detected, _ = m_dwarf_like(n_int, random_seed=seed, selection=selection)
        if len(detected) >= n_objects:
            break
        n_int *= 2
    return design_from_stacked(detected.iloc[:n_objects].reset_index(drop=True),
                               measurement=measurement)
