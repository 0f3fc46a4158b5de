"""Detection probability of a companion for each discovery method, p_det(log q, log a, host).

Every function here is a smooth, parametric approximation of what a *typical search* with
one method can see around a very-low-mass host; its parameters live in a frozen dataclass
that a user can replace (``dataclasses.replace``). All functions take true values
``logq`` = log10(M_c/M_*) and ``loga`` = log10(a/AU) (arrays, broadcast) and host scalars,
and return probabilities in [0, 1]. Soft cuts are logistic functions of a log ratio,
``σ((log10 X − log10 X_thr)/width)``: the width encodes the spread of survey depths,
host brightnesses and orbital phases that a single threshold ignores.

Methods
-------
Radial velocity (:func:`p_det_rv`)
    Semi-amplitude K = (q/(1+q)) sin i √(G M_*(1+q)/a) above a threshold K_thr (Cumming
    et al. 2008, PASP 120, 531; Bonfils et al. 2013, A&A 549, A109; Sabotta et al. 2021,
    A&A 653, A114 for M dwarfs), times a soft cut on the period at a finite survey
    baseline (an orbit must be covered: P ≲ T_baseline). The threshold follows the host's
    brightness (:func:`rv_k_threshold_ms`): photon noise scales as the square root of the
    flux, σ_RV ∝ 10^(0.2 (V − V_ref)), above an instrumental floor added in quadrature,
    K_thr(V) = √(K_floor² + (K_ref 10^(0.2 (V − V_ref)))²). The population is over the
    *true* q, so the probability is averaged over an isotropic inclination
    (Gauss–Legendre nodes of :func:`vlms_bayes.models.likelihood.inclination_nodes`).
Transit (:func:`p_det_transit`)
    Geometric probability R_*/a (Winn 2010, arXiv:1001.2010, eq. 9, circular orbits)
    times a detectability in the signal depth (R_c/R_*)² × √(number of transits in the
    baseline) above a threshold, times a soft cut requiring ≥ 2 transits (P ≲ T_obs/2).
    R_c from the Chen & Kipping (2017, ApJ 834, 17) mean mass–radius relation;
    R_* ≈ r0 + r1 M_* (a linear approximation of the empirical M-dwarf relations,
    Boyajian et al. 2012, ApJ 757, 112; Mann et al. 2015, ApJ 804, 64, over 0.07–0.25 Msun).
Microlensing (:func:`p_det_microlensing`)
    Planetary perturbations are detectable when the *projected* separation s = a sin φ
    lies in the "lensing zone" around the Einstein radius
    R_E = √(4 G M_L/c² · D_L (D_S − D_L)/D_S) (Gould & Loeb 1992, ApJ 396, 104; Gaudi
    2012, ARA&A 50, 411: 0.6 ≲ s/R_E ≲ 1.6): a log-normal band in s/R_E of the zone's
    intrinsic width, times a detectability rising with q above q_min (Suzuki et al. 2016,
    ApJ 833, 145). For 0.1–0.2 Msun lenses at D_L = 4 kpc, D_S = 8 kpc, R_E ≈ 1.3–1.8 AU.
Direct imaging (:func:`p_det_imaging`)
    *Projected* separation beyond the inner working angle (s > IWA · d) and inside the
    field of view (s < FOV · d), and a mass ratio above the contrast limit q_min (for
    young VLMS hosts the contrast limit is roughly a fixed mass ratio; Bowler 2016, PASP
    128, 102001; Nielsen & Close 2010, ApJ 717, 878).

Projection
    Microlensing and imaging see s = a sin φ, with φ the angle between the
    star–companion line and the line of sight; for a circular orbit seen from an isotropic
    direction at a random phase cos φ is uniform on (0, 1), the distribution of cos i.
    Their p_det over the *true* a is the projected-separation p_det averaged over φ
    (:func:`projection_average`, the Gauss–Legendre nodes of
    :func:`vlms_bayes.models.likelihood.inclination_nodes`), so the population over the
    true a is corrected exactly, as the likelihood's projection kernel
    (:mod:`vlms_bayes.models.data`) treats the observed s.
Astrometry (:func:`p_det_astrometry`)
    Astrometric signature α = (q/(1+q)) a/d (arcsec for a in AU, d in pc) above a threshold
    α_thr, with the period inside the mission baseline (Perryman et al. 2014, ApJ 797, 14;
    Sozzetti 2014, for Gaia). The photocentre dilution by a luminous companion is ignored.

Parameters
----------
The defaults of the dataclasses below are the central values of the documented priors
(:mod:`vlms_bayes.models.selection_priors`, the package's ``selection_priors.toml``; a
test holds the two equal), where the ranges and citations are.

Method names
------------
:data:`METHOD_KINDS` maps the stacked dataset's ``discoverymethod`` labels (the NASA
Exoplanet Archive vocabulary; the BD catalogue is mapped onto it by
:mod:`vlms_bayes.data_io.bdcat`) to these functions. Any other label (e.g. "Transit Timing
Variations", "Pulsar Timing", "Unknown") gets a *flat* p_det = 1, i.e. no selection
correction, and a note in the fit's record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from astropy import constants as const
from astropy import units as u
from numpy.typing import ArrayLike, NDArray

from vlms_bayes.errors import InputDataError
from vlms_bayes.models.likelihood import inclination_nodes

#: √(G M_sun / 1 AU) in m/s (the orbital speed at 1 AU around 1 Msun).
V_ORB_1AU_MS: float = float(np.sqrt(const.G * const.M_sun / const.au).to(u.m / u.s).value)
#: Solar radius in AU.
RSUN_AU: float = float((const.R_sun / const.au).decompose().value)
#: Earth masses per solar mass and Earth radii per solar radius.
MEARTH_PER_MSUN: float = float((const.M_sun / const.M_earth).decompose().value)
REARTH_PER_RSUN: float = float((const.R_sun / const.R_earth).decompose().value)
#: 4 G Msun / c² in AU² per kpc of effective distance (for the Einstein radius).
_RE2_AU2_PER_KPC: float = float((4 * const.G * const.M_sun / const.c**2 * u.kpc)
                                .to(u.au**2).value)
DAYS_PER_YEAR: float = 365.25


def _sigmoid(z: Any) -> Any:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _soft_above(log_x: Any, log_thr: float, width_dex: float) -> Any:
    """σ((log x − log thr)/width): 0 well below the threshold, 1 well above."""
    return _sigmoid((log_x - log_thr) / width_dex)


def period_yr(logq: ArrayLike, loga: ArrayLike, m_star_msun: float) -> NDArray[np.float64]:
    """Orbital period in years from Kepler's third law, P² = a³/(M_*(1+q))."""
    a = 10.0 ** np.asarray(loga, float)
    return np.sqrt(a**3 / (m_star_msun * (1.0 + 10.0 ** np.asarray(logq, float))))


# ----------------------------------------------------------------------------------------
# radial velocity
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RVSelection:
    """Radial-velocity search: K threshold from the host's brightness and a finite baseline.

    Parameters
    ----------
    k_threshold_ms : float
        Photon-limited semi-amplitude detected with probability 1/2 around a host of V
        magnitude ``mag_ref`` (m/s); see :func:`rv_k_threshold_ms`.
    k_floor_ms : float
        Instrumental floor of the threshold (m/s), added in quadrature.
    mag_ref : float
        V magnitude at which the photon-limited threshold is ``k_threshold_ms``.
    scale_with_magnitude : bool
        Scale the threshold with the host's V magnitude (False: the same
        √(K_floor² + K_ref²) for every host, the former fixed threshold's form).
    k_width_dex : float
        Logistic width of the K cut (dex).
    baseline_yr : float
        Survey baseline; periods longer than this are detected with probability → 0.
    period_width_dex : float
        Logistic width of the period cut (dex).
    n_incl_nodes : int
        Quadrature nodes of the inclination average.
    """

    k_threshold_ms: float = 1.5
    k_floor_ms: float = 0.5
    mag_ref: float = 10.0
    scale_with_magnitude: bool = True
    k_width_dex: float = 0.2
    baseline_yr: float = 6.0
    period_width_dex: float = 0.15
    n_incl_nodes: int = 16


def rv_k_threshold_ms(host_vmag: ArrayLike | None, params: RVSelection | None = None,
                      ) -> NDArray[np.float64]:
    """Detection threshold K_thr (m/s) around a host of V magnitude ``host_vmag``.

    K_thr(V) = √(K_floor² + (K_ref · 10^(0.2 (V − V_ref)))²): photon noise scales as
    flux^(−1/2), i.e. 10^(0.2 ΔV), above an instrumental floor. A missing magnitude
    (None or NaN) is taken at V_ref; with ``scale_with_magnitude=False`` every host gets
    the value at V_ref.
    """
    p = params or RVSelection()
    mag = np.asarray(p.mag_ref if host_vmag is None else host_vmag, float)
    mag = np.where(np.isfinite(mag) & p.scale_with_magnitude, mag, p.mag_ref)
    photon = p.k_threshold_ms * 10.0 ** (0.2 * (mag - p.mag_ref))
    return np.sqrt(p.k_floor_ms**2 + photon**2)


def rv_semi_amplitude_ms(logq: ArrayLike, loga: ArrayLike, m_star_msun: float, *,
                         sin_i: ArrayLike = 1.0) -> NDArray[np.float64]:
    """K = (q/(1+q)) sin i √(G M_*(1+q)/a) in m/s (circular orbit)."""
    q = 10.0 ** np.asarray(logq, float)
    a = 10.0 ** np.asarray(loga, float)
    return q / (1 + q) * np.asarray(sin_i) * V_ORB_1AU_MS * np.sqrt(m_star_msun * (1 + q) / a)


def p_det_rv(logq: ArrayLike, loga: ArrayLike, *, m_star_msun: float,
             params: RVSelection | None = None, sin_i: ArrayLike | None = None,
             host_mag: ArrayLike | None = None, **_: Any) -> NDArray[np.float64]:
    """RV detection probability of a true (log q, log a), averaged over isotropic i.

    ``host_mag``: the host's V magnitude (scalar or broadcasting with ``logq``; None or
    NaN: at the reference magnitude), which sets the threshold (:func:`rv_k_threshold_ms`).
    With ``sin_i`` the probability at that inclination instead (what a simulation of
    real detections uses: a survey sees K sin i).
    """
    p = params or RVSelection()
    logq, loga = np.broadcast_arrays(np.asarray(logq, float), np.asarray(loga, float))
    k_edge = rv_semi_amplitude_ms(logq, loga, m_star_msun)
    log_thr = np.log10(rv_k_threshold_ms(host_mag, p))
    if sin_i is not None:
        p_k = _soft_above(np.log10(k_edge * np.asarray(sin_i, float)), log_thr,
                          p.k_width_dex)
    else:
        u_nodes, log_w = inclination_nodes(p.n_incl_nodes)
        log_k = np.log10(k_edge)[..., None] - u_nodes       # log10(K sin i)
        p_k = (np.exp(log_w) * _soft_above(log_k, np.asarray(log_thr)[..., None],
                                           p.k_width_dex)).sum(axis=-1)
    log_p = np.log10(period_yr(logq, loga, m_star_msun))
    return p_k * _soft_above(np.log10(p.baseline_yr), log_p, p.period_width_dex)


# ----------------------------------------------------------------------------------------
# transit
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TransitSelection:
    """Transit search: geometric probability times depth/period detectability.

    Parameters
    ----------
    depth_threshold : float
        Depth × √N_transits detected with probability 1/2 (fractional flux).
    depth_width_dex : float
        Logistic width of the depth cut (dex).
    baseline_day : float
        Effective photometric baseline; ≥ 2 transits are required (P ≲ baseline/2).
    period_width_dex : float
        Logistic width of the period cut (dex).
    r_star_offset_rsun, r_star_slope : float
        Host radius R_*/Rsun ≈ offset + slope × M_*/Msun.
    """

    depth_threshold: float = 2e-3
    depth_width_dex: float = 0.2
    baseline_day: float = 90.0
    period_width_dex: float = 0.15
    r_star_offset_rsun: float = 0.02
    r_star_slope: float = 1.0


def companion_radius_rearth(mass_mearth: ArrayLike) -> NDArray[np.float64]:
    """Mean mass–radius relation of Chen & Kipping (2017), Earth units, continuous.

    Power laws R ∝ M^0.279 (M < 2.04 M⊕), M^0.589 (< 0.414 MJ), M^−0.044 (< 0.08 Msun)
    and M^0.881 above, anchored at R(1 M⊕) = 1.008 R⊕.
    """
    log_m = np.log10(np.asarray(mass_mearth, float))
    breaks = np.log10([2.04, 131.6, 0.0800 * MEARTH_PER_MSUN])
    slopes = (0.279, 0.589, -0.044, 0.881)
    log_r = np.log10(1.008) + slopes[0] * log_m
    for b, s0, s1 in zip(breaks, slopes[:-1], slopes[1:], strict=True):
        log_r = log_r + (s1 - s0) * np.maximum(log_m - b, 0.0)
    return 10.0**log_r


def host_radius_rsun(m_star_msun: float, params: TransitSelection | None = None) -> float:
    """Host radius from the linear M-dwarf approximation of :class:`TransitSelection`."""
    p = params or TransitSelection()
    return p.r_star_offset_rsun + p.r_star_slope * m_star_msun


def p_det_transit(logq: ArrayLike, loga: ArrayLike, *, m_star_msun: float,
                  params: TransitSelection | None = None, **_: Any) -> NDArray[np.float64]:
    """Transit probability × detectability for a circular orbit of a true (log q, log a)."""
    p = params or TransitSelection()
    logq, loga = np.broadcast_arrays(np.asarray(logq, float), np.asarray(loga, float))
    r_star = host_radius_rsun(m_star_msun, p)
    geo = np.minimum(1.0, r_star * RSUN_AU / 10.0**loga)
    m_c = 10.0**logq * m_star_msun * MEARTH_PER_MSUN
    depth = np.minimum(1.0, (companion_radius_rearth(m_c) / (r_star * REARTH_PER_RSUN))**2)
    per_day = period_yr(logq, loga, m_star_msun) * DAYS_PER_YEAR
    n_tr = np.maximum(p.baseline_day / per_day, 1.0)
    det = _soft_above(np.log10(depth * np.sqrt(n_tr)), np.log10(p.depth_threshold),
                      p.depth_width_dex)
    cut = _soft_above(np.log10(0.5 * p.baseline_day), np.log10(per_day), p.period_width_dex)
    return geo * det * cut


# ----------------------------------------------------------------------------------------
# microlensing
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class MicrolensingSelection:
    """Microlensing search: lensing-zone band around R_E and a mass-ratio threshold.

    Parameters
    ----------
    d_lens_kpc, d_source_kpc : float
        Typical lens and (bulge) source distances.
    zone_width_dex : float
        Standard deviation of the log-normal band in log10(s/R_E), s the projected
        separation (the lensing zone's intrinsic width; the projection is averaged over
        separately).
    zone_peak : float
        Detection probability at a = R_E for q ≫ q_min (≤ 1).
    logq_min : float
        log10 mass ratio detected with probability 1/2 at a = R_E.
    q_width_dex : float
        Logistic width of the mass-ratio cut (dex).
    n_proj_nodes : int
        Quadrature nodes of the projection average.
    """

    d_lens_kpc: float = 4.0
    d_source_kpc: float = 8.0
    zone_width_dex: float = 0.2
    zone_peak: float = 1.0
    logq_min: float = float(np.log10(5e-5))
    q_width_dex: float = 0.3
    n_proj_nodes: int = 24


def einstein_radius_au(m_lens_msun: ArrayLike, *, d_lens_kpc: float = 4.0,
                       d_source_kpc: float = 8.0) -> Any:
    """Physical Einstein radius R_E = √(4 G M/c² · D_L (D_S − D_L)/D_S), in AU.

    A float for a scalar lens mass, an array for an array of them.
    """
    if not 0 < d_lens_kpc < d_source_kpc:
        raise InputDataError(f"Microlensing needs 0 < D_L < D_S, got D_L={d_lens_kpc}, "
                             f"D_S={d_source_kpc} kpc.")
    d_eff = d_lens_kpc * (d_source_kpc - d_lens_kpc) / d_source_kpc
    r_e = np.sqrt(_RE2_AU2_PER_KPC * np.asarray(m_lens_msun, float) * d_eff)
    return float(r_e) if r_e.ndim == 0 else r_e


def projection_average(p_of_log_s: Callable[[NDArray[np.float64]], NDArray[np.float64]],
                       loga: NDArray[np.float64], *, sin_phi: ArrayLike | None = None,
                       n_nodes: int = 24) -> NDArray[np.float64]:
    """E_φ[f(log10(a sin φ))] over an isotropic projection (cos φ uniform on (0, 1)).

    Parameters
    ----------
    p_of_log_s : callable
        The detection probability as a function of the log projected separation (an array
        of shape ``loga.shape + (J,)`` in, the same shape out).
    loga : numpy.ndarray
        Log10 true semi-major axes.
    sin_phi : array_like, optional
        The projection of each element instead of the average (what a simulation of real
        detections uses).
    n_nodes : int
        Gauss–Legendre nodes (:func:`~vlms_bayes.models.likelihood.inclination_nodes`:
        cos φ has the distribution of cos i).
    """
    if sin_phi is not None:
        log_s = loga + np.log10(np.asarray(sin_phi, float))
        return p_of_log_s(log_s[..., None])[..., 0]
    u_nodes, log_w = inclination_nodes(n_nodes)
    return (np.exp(log_w) * p_of_log_s(loga[..., None] - u_nodes)).sum(axis=-1)


def p_det_microlensing(logq: ArrayLike, loga: ArrayLike, *, m_star_msun: float,
                       params: MicrolensingSelection | None = None,
                       sin_phi: ArrayLike | None = None, **_: Any) -> NDArray[np.float64]:
    """Microlensing detection probability of a true (log q, log a).

    The lensing zone acts on the projected separation and is averaged over the
    projection (:func:`projection_average`; at ``sin_phi`` when given), times the
    mass-ratio sensitivity.
    """
    p = params or MicrolensingSelection()
    logq, loga = np.broadcast_arrays(np.asarray(logq, float), np.asarray(loga, float))
    log_re = np.asarray(np.log10(einstein_radius_au(m_star_msun, d_lens_kpc=p.d_lens_kpc,
                                                    d_source_kpc=p.d_source_kpc)))

    def zone(log_s: NDArray[np.float64]) -> NDArray[np.float64]:
        return p.zone_peak * np.exp(-0.5 * ((log_s - log_re[..., None]) / p.zone_width_dex)
                                    ** 2)

    zone_avg = projection_average(zone, loga, sin_phi=sin_phi, n_nodes=p.n_proj_nodes)
    return zone_avg * _soft_above(logq, p.logq_min, p.q_width_dex)


# ----------------------------------------------------------------------------------------
# imaging and astrometry
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ImagingSelection:
    """Direct-imaging search: inner working angle, field of view, contrast in q.

    Parameters
    ----------
    distance_pc : float
        Typical distance of the imaged hosts.
    iwa_arcsec, fov_arcsec : float
        Inner working angle and outer field radius.
    sep_width_dex : float
        Logistic width of both cuts on the projected separation (dex; the projection is
        averaged over separately).
    logq_min : float
        log10 mass ratio at the contrast limit (probability 1/2).
    q_width_dex : float
        Logistic width of the contrast cut (dex).
    n_proj_nodes : int
        Quadrature nodes of the projection average.
    """

    distance_pc: float = 40.0
    iwa_arcsec: float = 0.2
    fov_arcsec: float = 20.0
    sep_width_dex: float = 0.1
    logq_min: float = -2.0
    q_width_dex: float = 0.2
    n_proj_nodes: int = 24


def p_det_imaging(logq: ArrayLike, loga: ArrayLike, *, m_star_msun: float = 0.1,
                  params: ImagingSelection | None = None, sin_phi: ArrayLike | None = None,
                  **_: Any) -> NDArray[np.float64]:
    """Imaging detection probability of a true (log q, log a).

    IWA < s/d < FOV on the projected separation s, averaged over the projection
    (:func:`projection_average`; at ``sin_phi`` when given), times q above the contrast
    limit.
    """
    p = params or ImagingSelection()
    logq, loga = np.broadcast_arrays(np.asarray(logq, float), np.asarray(loga, float))
    log_d = np.log10(p.distance_pc)

    def window(log_s: NDArray[np.float64]) -> NDArray[np.float64]:
        inner = _soft_above(log_s, np.log10(p.iwa_arcsec) + log_d, p.sep_width_dex)
        return inner * _soft_above(np.log10(p.fov_arcsec) + log_d, log_s, p.sep_width_dex)

    sep = projection_average(window, loga, sin_phi=sin_phi, n_nodes=p.n_proj_nodes)
    return sep * _soft_above(logq, p.logq_min, p.q_width_dex)


@dataclass(frozen=True, kw_only=True)
class AstrometrySelection:
    """Astrometric search (Gaia-like): signature threshold and mission baseline.

    Parameters
    ----------
    distance_pc : float
        Typical distance of the hosts.
    alpha_threshold_mas : float
        Astrometric signature detected with probability 1/2 (milliarcsec).
    alpha_width_dex : float
        Logistic width of the signature cut (dex).
    baseline_yr : float
        Mission baseline (Gaia DR3: 34 months); longer periods are not fitted as orbits.
    period_width_dex : float
        Logistic width of the period cut (dex).
    """

    distance_pc: float = 20.0
    alpha_threshold_mas: float = 0.5
    alpha_width_dex: float = 0.2
    baseline_yr: float = 2.8
    period_width_dex: float = 0.15


def p_det_astrometry(logq: ArrayLike, loga: ArrayLike, *, m_star_msun: float,
                     params: AstrometrySelection | None = None,
                     **_: Any) -> NDArray[np.float64]:
    """Astrometric detection probability: α = (q/(1+q)) a/d above threshold, P < baseline."""
    p = params or AstrometrySelection()
    logq, loga = np.broadcast_arrays(np.asarray(logq, float), np.asarray(loga, float))
    q = 10.0**logq
    log_alpha_mas = np.log10(q / (1 + q)) + loga - np.log10(p.distance_pc) + 3.0
    det = _soft_above(log_alpha_mas, np.log10(p.alpha_threshold_mas), p.alpha_width_dex)
    log_p = np.log10(period_yr(logq, loga, m_star_msun))
    return det * _soft_above(np.log10(p.baseline_yr), log_p, p.period_width_dex)


# ----------------------------------------------------------------------------------------
# the per-method selection model
# ----------------------------------------------------------------------------------------
#: Archive ``discoverymethod`` labels with a selection function, and its kind.
METHOD_KINDS: dict[str, str] = {
    "Radial Velocity": "rv",
    "Transit": "transit",
    "Microlensing": "microlensing",
    "Imaging": "imaging",
    "Astrometry": "astrometry",
}
#: Selection kinds whose p_det depends on the host's magnitude, and the
#: :class:`~vlms_bayes.models.data.ModelData` field holding it (V for radial velocity:
#: the band of the HARPS M-dwarf survey's precisions, and the archive's ``sy_vmag``).
MAG_KINDS: dict[str, str] = {"rv": "host_vmag"}
#: Selection kinds whose p_det acts on the projected separation (averaged over φ).
PROJECTED_KINDS: frozenset[str] = frozenset({"microlensing", "imaging"})
#: Ways the normalisation treats host masses (see :class:`SelectionModel`).
HOST_MODES: tuple[str, ...] = ("object", "quantiles")

_FUNCS = {"rv": p_det_rv, "transit": p_det_transit, "microlensing": p_det_microlensing,
          "imaging": p_det_imaging, "astrometry": p_det_astrometry}


@dataclass(frozen=True, kw_only=True)
class SelectionModel:
    """Per-method detection probabilities and the quadrature box of the normalisation.

    Parameters
    ----------
    rv, transit, microlensing, imaging, astrometry : dataclass
        Parameters of each method's p_det.
    method_kinds : dict
        ``discoverymethod`` label → kind (``"rv"``, ``"transit"``, ...); other labels are flat.
    logq_range, loga_range : tuple of float
        The (log q, log a) box of the normalising integrals; p_det is taken as 0 outside it.
    grid_step_dex : float
        Step of the fixed quadrature grid (both axes).
    host_mode : {"object", "quantiles"}
        How the normalisation treats the host. ``"object"`` (default): each object's
        normalisation is taken at its own host mass, i.e. the likelihood of (log q, log a)
        is conditional on the observed host and the method; exact whatever hosts each
        survey searched (:mod:`vlms_bayes.models.selection_norm`). ``"quantiles"``: one
        normalisation per method, p_det averaged over ``n_host_nodes`` quantiles of the
        method's *detected* hosts (biased when detection favours some hosts; kept for
        comparison).
    host_bin_dex : float
        With ``host_mode="object"``: objects of one method whose host masses fall in the
        same log10 bin of this width share one normalisation, at the bin's mean log host
        (0: one per distinct host).
    mag_bin : float
        With ``host_mode="object"``, for methods whose p_det depends on the host's
        magnitude (:data:`MAG_KINDS`): objects share a normalisation only when their host
        magnitudes also fall in one bin of this width (mag; 0: one per distinct value),
        evaluated at the bin's mean magnitude.
    n_host_nodes : int
        With ``host_mode="quantiles"``: host masses per method at which p_det is averaged.
    priors_file : str, optional
        The TOML file of selection priors this model's values came from (None: the
        package's defaults; :mod:`vlms_bayes.models.selection_priors`). The robustness
        suite takes its selection variants from the same file.
    """

    rv: RVSelection = field(default_factory=RVSelection)
    transit: TransitSelection = field(default_factory=TransitSelection)
    microlensing: MicrolensingSelection = field(default_factory=MicrolensingSelection)
    imaging: ImagingSelection = field(default_factory=ImagingSelection)
    astrometry: AstrometrySelection = field(default_factory=AstrometrySelection)
    method_kinds: dict[str, str] = field(default_factory=lambda: dict(METHOD_KINDS))
    logq_range: tuple[float, float] = (-7.0, 0.5)
    loga_range: tuple[float, float] = (-3.0, 4.0)
    grid_step_dex: float = 0.1
    host_mode: str = "object"
    host_bin_dex: float = 0.005
    mag_bin: float = 0.05
    n_host_nodes: int = 5
    priors_file: str | None = None

    def __post_init__(self) -> None:
        bad = {m: k for m, k in self.method_kinds.items() if k not in _FUNCS}
        if bad:
            raise InputDataError(f"Unknown selection kind(s) {bad}; valid: {sorted(_FUNCS)}.")
        for name in ("logq_range", "loga_range"):
            lo, hi = getattr(self, name)
            if not hi > lo:
                raise InputDataError(f"{name} must be increasing, got {(lo, hi)}.")
        if not 0 < self.grid_step_dex <= 0.5:
            raise InputDataError(f"grid_step_dex must lie in (0, 0.5], got {self.grid_step_dex}.")
        if self.n_host_nodes < 1:
            raise InputDataError("n_host_nodes must be at least 1.")
        if self.host_mode not in HOST_MODES:
            raise InputDataError(f"host_mode must be one of {HOST_MODES}, got "
                                 f"{self.host_mode!r}.")
        if not 0 <= self.host_bin_dex <= 0.2:
            raise InputDataError(f"host_bin_dex must lie in [0, 0.2] dex, got "
                                 f"{self.host_bin_dex}.")
        if not 0 <= self.mag_bin <= 1:
            raise InputDataError(f"mag_bin must lie in [0, 1] mag, got {self.mag_bin}.")

    def kind(self, method: str) -> str | None:
        """The selection kind of a ``discoverymethod`` label (None: flat, no correction)."""
        return self.method_kinds.get(method)

    def p_det(self, method: str, logq: ArrayLike, loga: ArrayLike, *,
              m_star_msun: float, sin_i: ArrayLike | None = None,
              host_mag: ArrayLike | None = None,
              sin_phi: ArrayLike | None = None) -> NDArray[np.float64]:
        """Detection probability of ``method`` at true (log q, log a) around a host.

        ``m_star_msun`` is a host mass, or an array of them broadcasting with ``logq``.
        ``host_mag``: the host's magnitude in the band of :data:`MAG_KINDS` (radial
        velocity: V; None or NaN: the reference magnitude; other methods ignore it).
        ``sin_i``: for radial velocity, the probability at this inclination rather than
        averaged over an isotropic one (other methods ignore it).
        ``sin_phi``: for methods that see a projected separation (:data:`PROJECTED_KINDS`),
        the probability at this projection rather than averaged over it.
        """
        kind = self.kind(method)
        logq, loga = np.broadcast_arrays(np.asarray(logq, float), np.asarray(loga, float))
        if kind is None:
            return np.ones(logq.shape)
        extra: dict[str, Any] = {}
        if kind == "rv" and sin_i is not None:
            extra["sin_i"] = sin_i
        if kind in PROJECTED_KINDS and sin_phi is not None:
            extra["sin_phi"] = sin_phi
        if kind in MAG_KINDS and host_mag is not None:
            extra["host_mag"] = host_mag
        return _FUNCS[kind](logq, loga, m_star_msun=m_star_msun, params=getattr(self, kind),
                            **extra)

    def uses_magnitude(self, method: str) -> bool:
        """Whether ``method``'s p_det depends on the host's magnitude."""
        kind = self.kind(method)
        if kind != "rv":
            return kind in MAG_KINDS
        return self.rv.scale_with_magnitude

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for run.json / fit_summary.json."""
        d = asdict(self)
        d["logq_range"], d["loga_range"] = list(self.logq_range), list(self.loga_range)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SelectionModel:
        """Rebuild a model from :meth:`to_dict` output (e.g. a fit's fit_summary.json)."""
        kinds = {"rv": RVSelection, "transit": TransitSelection,
                 "microlensing": MicrolensingSelection, "imaging": ImagingSelection,
                 "astrometry": AstrometrySelection}
        kw: dict[str, Any] = {k: kinds[k](**d[k]) for k in kinds if k in d}
        for k in ("logq_range", "loga_range"):
            if k in d:
                kw[k] = tuple(d[k])
        for k in ("method_kinds", "grid_step_dex", "host_mode", "host_bin_dex", "mag_bin",
                  "n_host_nodes", "priors_file"):
            if k in d:
                kw[k] = d[k]
        return cls(**kw)
