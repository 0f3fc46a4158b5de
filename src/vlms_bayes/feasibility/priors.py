"""Published priors for the origin probabilities: stellar companions of M dwarfs and disks.

Pure functions that turn uniform variates into draws, so that both the probability
(:mod:`vlms_bayes.feasibility.probability`) and the tests that hold each prior to its
published moments use the same code.

Perturbers (stellar companions of the host)
-------------------------------------------
* Hosts of 0.1–0.6 Msun (:data:`M_DWARF`): multiplicity (fraction of systems with at least
  one stellar companion) 26.8 ± 1.4 % for 1120 M dwarfs within 25 pc (Winters et al. 2019,
  AJ 157, 216); their separations have a broad peak at 4–20 AU, and for the mid/late-M
  dwarfs the log-normal fit of Janson et al. (2014, ApJ 789, 102) gives log10(a/AU) ~
  N(0.78, 0.47) (peak 6 AU); mass ratios dN/dq ∝ q^γ with γ = 0.4 ± 0.2 for
  0.1–0.5 Msun primaries (Duchêne & Kraus 2013, ARA&A 51, 269, their Table 1).
* Hosts below 0.1 Msun (:data:`VERY_LOW_MASS`): binary frequency ≈ 20–22 % (Allen 2007,
  ApJ 668, 492; we take 0.21 ± 0.03), the same Janson et al. (2014) separations (their
  sample reaches M8; 93 % of VLM binaries are closer than 20 AU, Burgasser et al. 2007,
  PPV) and strongly like-mass pairs, γ = 4.2 ± 1.0 (Duchêne & Kraus 2013).
* Mass ratios are drawn in [q_min, 1] with q_min = 0.1 (the range of the surveys);
  m_out = q M_host. Outer eccentricities thermal, mutual inclinations isotropic (as in
  the map).

Disks
-----
* Disk-to-star mass ratio: Andrews et al. (2013, ApJ 771, 129) find a typical
  M_disk/M⋆ of 0.2–0.6 % with an RMS dispersion of 0.7 dex about the mean relation;
  Pascucci et al. (2016, ApJ 831, 125) show that M_dust ∝ M⋆^β with β = 1.3–1.9, steeper
  than linear, so M_disk/M⋆ = r_1 (M⋆/Msun)^(β − 1) 10^(0.7 z): r_1 log-uniform in
  [0.002, 0.006], β uniform in [1.3, 1.9], z standard normal (gas-to-dust 100 implied).
* Lifetime: the Weibull fit of Pfalzner & Dincer (2024, arXiv:2401.03775) for 0.1–0.24 Msun
  hosts, shape 1.78, scale 9.15 Myr (:data:`vlms_bayes.feasibility.disk.DISK_LIFETIME_WEIBULL`).

Tides and radii (the Kozai–Lidov route)
---------------------------------------
* Tidal lags of both bodies per draw (:class:`TidalLagPrior`): the companion's k2 Δt
  log-uniform between Jupiter's (Lainey et al. 2009, Nature 459, 957) and Saturn's
  (Lainey et al. 2017, Icarus 281, 286) astrometric values, ≈ 0.041–0.72 s; the host's Q'⋆
  log-uniform in 10⁵–10⁷ (Penev et al. 2018, AJ 155, 165).
* KL start age and contraction amplitude (:class:`ContractionPrior`): the disk lifetime
  (Pfalzner & Dincer 2024 Weibull) and s uniform in 0.5–1.5 (an assumption) scaling the
  COND03 inflation of the companion (:mod:`vlms_bayes.feasibility.radii`).

The host's spin (the Kozai–Lidov route)
---------------------------------------
* :class:`HostSpinPrior`: rotation periods of fully convective M dwarfs against age,
  log-normal at 8 Myr (Upper Sco, Rebull et al. 2018, AJ 155, 196), 125 Myr (their 3.5×
  spin-up to the Pleiades), 600 Myr and 1–3 Gyr (Pass et al. 2024), interpolated in log
  age, one quantile per draw.

Birth orbit of the companion (both routes): a0 log-uniform in the map's ``a0_range_au``
(default 0.1–5 AU, beyond the observed orbit, where giant planets are thought to form),
e0 uniform in [0, ``e0_max``]. This is an assumption, stated with the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike

from vlms_bayes.feasibility.disk import DISK_LIFETIME_WEIBULL
from vlms_bayes.feasibility.units import SEC_PER_YR


@dataclass(frozen=True)
class MultiplicityPrior:
    """Stellar-companion statistics of a class of hosts (see the module docstring)."""

    name: str
    frequency: float
    frequency_err: float
    log10_a_mu: float
    log10_a_sigma: float
    gamma: float
    gamma_err: float
    q_min: float
    source: str

    def record(self) -> dict[str, object]:
        """The prior as a plain dict (``run.json``)."""
        return asdict(self)


M_DWARF = MultiplicityPrior(
    name="M dwarf (0.1-0.6 Msun)", frequency=0.268, frequency_err=0.014, log10_a_mu=0.78,
    log10_a_sigma=0.47, gamma=0.4, gamma_err=0.2, q_min=0.1,
    source="multiplicity Winters et al. 2019 (AJ 157, 216); separations Janson et al. 2014 "
           "(ApJ 789, 102); q^gamma Duchene & Kraus 2013 (ARA&A 51, 269)")
VERY_LOW_MASS = MultiplicityPrior(
    name="very-low-mass (< 0.1 Msun)", frequency=0.21, frequency_err=0.03, log10_a_mu=0.78,
    log10_a_sigma=0.47, gamma=4.2, gamma_err=1.0, q_min=0.1,
    source="binary frequency Allen 2007 (ApJ 668, 492); separations Janson et al. 2014; "
           "q^gamma Duchene & Kraus 2013")


def multiplicity_prior(m_host_msun: float) -> MultiplicityPrior:
    """The perturber prior for a host of this mass (:data:`VERY_LOW_MASS` below 0.1 Msun)."""
    return VERY_LOW_MASS if m_host_msun < 0.1 else M_DWARF


def power_law_q(u: ArrayLike, gamma: ArrayLike, q_min: float) -> np.ndarray:
    """Inverse CDF of dN/dq ∝ q^γ on [q_min, 1] at uniform variates ``u``."""
    u, g = np.broadcast_arrays(np.asarray(u, float), np.asarray(gamma, float))
    g1 = g + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        pw = (q_min**g1 + u * (1.0 - q_min**g1)) ** (1.0 / g1)
    log_case = q_min ** (1.0 - u)  # γ = -1
    return np.where(np.abs(g1) < 1e-12, log_case, pw)


def power_law_q_mean(gamma: float, q_min: float) -> float:
    """Mean of dN/dq ∝ q^γ on [q_min, 1] (for γ ≠ -1, -2)."""
    g1, g2 = gamma + 1.0, gamma + 2.0
    return (g1 / g2) * (1.0 - q_min**g2) / (1.0 - q_min**g1)


def sample_perturbers(prior: MultiplicityPrior, m_host_msun: float, u: ArrayLike,
                      z: ArrayLike) -> dict[str, np.ndarray]:
    """Perturber masses and separations from uniform ``u`` and normal ``z`` variates.

    Parameters
    ----------
    prior : MultiplicityPrior
        Companion statistics.
    m_host_msun : float
        Host mass (the primary of the mass ratio).
    u : array, shape (n, 2)
        Uniform variates: mass ratio, and the draw of γ within its error (through z).
    z : array, shape (n, 2)
        Standard normal variates: log10 a, and γ's error.

    Returns
    -------
    dict
        ``m_out_msun``, ``a_out_au``, ``q`` and ``gamma`` (each of length n).
    """
    u, z = np.asarray(u, float), np.asarray(z, float)
    gamma = prior.gamma + prior.gamma_err * z[:, 1]
    q = power_law_q(u[:, 0], gamma, prior.q_min)
    a_out = 10.0 ** (prior.log10_a_mu + prior.log10_a_sigma * z[:, 0])
    return {"m_out_msun": q * m_host_msun, "a_out_au": a_out, "q": q, "gamma": gamma}


@dataclass(frozen=True)
class DiskPrior:
    """Disk-to-star mass ratios and lifetimes of M-dwarf disks (see the module docstring)."""

    ratio_at_1msun: tuple[float, float] = (0.002, 0.006)
    beta: tuple[float, float] = (1.3, 1.9)
    scatter_dex: float = 0.7
    lifetime_weibull: tuple[float, float] = DISK_LIFETIME_WEIBULL
    source: str = ("M_disk/M* 0.2-0.6% at 1 Msun, 0.7 dex scatter (Andrews et al. 2013, "
                   "ApJ 771, 129); M_dust ~ M*^(1.3-1.9) (Pascucci et al. 2016, ApJ 831, "
                   "125); lifetimes Weibull k=1.78, 9.15 Myr (Pfalzner & Dincer 2024)")

    def record(self) -> dict[str, object]:
        """The prior as a plain dict (``run.json``)."""
        return asdict(self)


def sample_disks(prior: DiskPrior, m_star_msun: float, u: ArrayLike,
                 z: ArrayLike) -> dict[str, np.ndarray]:
    """Disk-to-star mass ratios and lifetimes from variates.

    Parameters
    ----------
    prior : DiskPrior
        The disk statistics.
    m_star_msun : float
        Host mass.
    u : array, shape (n, 3)
        Uniform variates: ratio at 1 Msun (log-uniform), slope β, lifetime.
    z : array, shape (n,)
        Standard normal variates: the scatter about the mean relation.

    Returns
    -------
    dict
        ``disk_to_star`` and ``lifetime_yr``.
    """
    u, z = np.asarray(u, float), np.asarray(z, float)
    lo, hi = np.log10(prior.ratio_at_1msun)
    log_r1 = lo + (hi - lo) * u[:, 0]
    beta = prior.beta[0] + (prior.beta[1] - prior.beta[0]) * u[:, 1]
    log_ratio = log_r1 + (beta - 1.0) * np.log10(m_star_msun) + prior.scatter_dex * z
    k, lam = prior.lifetime_weibull
    life = lam * (-np.log1p(-u[:, 2])) ** (1.0 / k)
    return {"disk_to_star": 10.0**log_ratio, "lifetime_yr": life}


def disk_log_ratio_moments(prior: DiskPrior, m_star_msun: float) -> tuple[float, float]:
    """Mean and standard deviation of log10(M_disk/M⋆) under :func:`sample_disks`."""
    lo, hi = np.log10(prior.ratio_at_1msun)
    b0, b1 = prior.beta
    x = np.log10(m_star_msun)
    mean = 0.5 * (lo + hi) + (0.5 * (b0 + b1) - 1.0) * x
    var = (hi - lo) ** 2 / 12.0 + (b1 - b0) ** 2 * x * x / 12.0 + prior.scatter_dex**2
    return float(mean), float(np.sqrt(var))


# ----------------------------------------------------------------------------------------
# Tides and radii of the Kozai–Lidov Monte Carlo (issue 16: lags and contraction as priors)
# ----------------------------------------------------------------------------------------
#: Astrometric k2/Q of Jupiter at Io's tidal frequency (Lainey et al. 2009, Nature 459,
#: 957: k2/Q = (1.102 ± 0.203) × 10⁻⁵), Jupiter's spin period (9.925 h) and Io's orbital
#: period (1.769 d).
JUPITER_K2_OVER_Q = (1.102e-5, 9.925, 1.769)
#: Astrometric k2/Q of Saturn at Enceladus's tidal frequency (Lainey et al. 2017, Icarus
#: 281, 286: k2/Q = (1.59 ± 0.74) × 10⁻⁴), Saturn's spin period (10.656 h) and Enceladus's
#: orbital period (1.370 d).
SATURN_K2_OVER_Q = (1.59e-4, 10.656, 1.370)


def k2_lag_from_k2_over_q_s(k2_over_q: float, spin_period_hr: float,
                            moon_period_d: float) -> float:
    """k2 Δt (s) from a measured k2/Q at the semidiurnal tidal frequency 2 (Ω − n_moon).

    For a constant time lag, Q⁻¹ = ω Δt at the tidal frequency ω, so k2 Δt = (k2/Q) / ω.
    """
    omega = 2.0 * (2 * np.pi / (spin_period_hr * 3600.0) - 2 * np.pi / (moon_period_d * 86400.0))
    return float(k2_over_q / omega)


@dataclass(frozen=True)
class TidalLagPrior:
    """Priors of both bodies' tidal lags (constant-time-lag model), drawn per draw.

    * Companion: k2 Δt log-uniform between Jupiter's and Saturn's astrometric values,
      ≈ 0.041 s and ≈ 0.72 s (:data:`JUPITER_K2_OVER_Q`, :data:`SATURN_K2_OVER_Q`): the
      only giant planets whose dissipation is measured, bracketing a Saturn-mass companion.
    * Host: the modified quality factor Q'⋆ log-uniform in [10⁵, 10⁷], the range inferred
      from the orbital decay of hot Jupiters across tidal periods 0.5–2 d (Penev et al.
      2018, AJ 155, 165), converted to k2 Δt = 3 / (2 Q'⋆ n) at the observed orbit's
      mean motion n (:func:`vlms_bayes.feasibility.tides.lag_from_qprime`).
    """

    planet_k2_lag_s: tuple[float, float] = (
        k2_lag_from_k2_over_q_s(*JUPITER_K2_OVER_Q), k2_lag_from_k2_over_q_s(*SATURN_K2_OVER_Q))
    star_q_prime: tuple[float, float] = (1e5, 1e7)
    source: str = ("companion k2*dt log-uniform between Jupiter (Lainey et al. 2009) and "
                   "Saturn (Lainey et al. 2017); host Q'* log-uniform 1e5-1e7 (Penev et al. "
                   "2018) at the observed orbit's frequency")

    def record(self) -> dict[str, object]:
        """The prior as a plain dict (``run.json``)."""
        return asdict(self)


@dataclass(frozen=True)
class ContractionPrior:
    """When the Kozai–Lidov phase starts and how uncertain the companion's contraction is.

    * Start age: the disk holds the companion's orbit (its precession quenches the cycles)
      until it disperses, so the cycles start at the disk's lifetime, drawn from the
      Weibull fit of Pfalzner & Dincer (2024) for 0.1–0.24 Msun hosts (shape 1.78, scale
      9.15 Myr; :data:`vlms_bayes.feasibility.disk.DISK_LIFETIME_WEIBULL`).
    * Amplitude: the companion's inflation over its present radius is the COND03 one times
      s, uniform in ``amplitude`` (an assumption of vlms-bayes for the spread of core
      masses, irradiation and initial entropy; not a published distribution).
    """

    lifetime_weibull: tuple[float, float] = DISK_LIFETIME_WEIBULL
    amplitude: tuple[float, float] = (0.5, 1.5)
    source: str = ("KL start at the disk lifetime, Weibull k=1.78, 9.15 Myr (Pfalzner & Dincer "
                   "2024); companion inflation = COND03 (Baraffe et al. 2003) x U(0.5, 1.5); "
                   "host radius BHAC15 (Baraffe et al. 2015)")

    def record(self) -> dict[str, object]:
        """The prior as a plain dict (``run.json``)."""
        return asdict(self)


def sample_tidal_physics(lags: TidalLagPrior, contraction: ContractionPrior,
                         n_obs_per_yr: float, u: ArrayLike) -> dict[str, np.ndarray]:
    """Per-draw tidal lags (yr), contraction amplitude and KL start age from uniforms.

    Parameters
    ----------
    lags, contraction : TidalLagPrior, ContractionPrior
        The priors.
    n_obs_per_yr : float
        Mean motion of the observed orbit (rad/yr), where the host's Q' is converted.
    u : array, shape (..., 4)
        Uniform variates: companion lag, host Q', amplitude, start age.

    Returns
    -------
    dict
        ``lag1_yr``, ``lag0_yr`` (k2 Δt), ``rp_scale`` and ``t_start_yr``.
    """
    u = np.asarray(u, float)
    lo, hi = np.log(lags.planet_k2_lag_s)
    lag1 = np.exp(lo + (hi - lo) * u[..., 0]) / SEC_PER_YR
    qlo, qhi = np.log(lags.star_q_prime)
    q_star = np.exp(qlo + (qhi - qlo) * u[..., 1])
    lag0 = 1.5 / (q_star * n_obs_per_yr)
    a_lo, a_hi = contraction.amplitude
    k, lam = contraction.lifetime_weibull
    return {"lag1_yr": lag1, "lag0_yr": lag0, "rp_scale": a_lo + (a_hi - a_lo) * u[..., 2],
            "t_start_yr": lam * (-np.log1p(-u[..., 3])) ** (1.0 / k)}


# ----------------------------------------------------------------------------------------
# The host's spin as a function of age (issue 16: the rotational bulge of a young M dwarf)
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HostSpinPrior:
    """Rotation period of a fully convective M-dwarf host (0.06–0.3 Msun) against age.

    At each anchor age the period is log-normal, ln P ~ N(ln P_med, σ²); between anchors
    ln P_med and σ are linear in log age, and they are held outside the anchors. A draw is
    one standard-normal quantile z kept for life (a star stays at its rank in the
    distribution as it ages), so P(t) = P_med(t) exp(σ(t) z). Anchors (``anchors``: age in
    yr, median period in d, σ of ln P), from published rotation periods:

    * **8 Myr** (Upper Sco, K2; Rebull et al. 2018, AJ 155, 196): periods of the members
      span ≈ 0.2–30 d with a peak near 2 d, M stars faster than GK stars. The quoted span
      is taken as ±2σ: median √(0.2·30) = 2.45 d (near the quoted peak) and
      σ = ln(30/0.2)/4 = 1.25 (the log-normal shape is an assumption). Held at younger ages
      (disk locking keeps the period while the disk lasts; Rebull et al. 2018 show
      disk-locked M stars in Upper Sco).
    * **125 Myr** (Pleiades): a nearly mass-independent spin-up by a factor ≈ 3.5 between
      Upper Sco and the Pleiades (Rebull et al. 2018): median 2.45/3.5 = 0.700 d, same σ.
      (Angular momentum conserved through the BHAC15 contraction of a 0.2 Msun star would
      give ≈ 6.5; the difference is the 25–40 % of angular momentum M stars lose between
      10 and 125 Myr, Somers et al. 2017, ApJ 850, 134.)
    * **600 Myr**: fully convective M dwarfs of 0.2–0.3 Msun still rotate in P < 2 d
      (Pass et al. 2024, "Constraints on the spindown of fully-convective M dwarfs using
      wide field binaries", preprint: they "initially spin down slowly"): the Pleiades
      median is kept and σ narrowed so that +2σ is 2 d, σ = ln(2/0.700)/2 = 0.525 (an
      assumption within the published bound).
    * **1.7 Gyr** (the middle, in log age, of 1–3 Gyr): 2 < P < 10 d for 0.2–0.3 Msun
      (Pass et al. 2024): median √(2·10) = 4.47 d, ±2σ the span, σ = ln 5 / 4 = 0.402.
      Held at older ages. Past ~3 Gyr these stars spin down quickly to long periods
      (Pass et al. 2024; Newton et al. 2016, ApJ 821, 93, find field periods of
      0.1–140 d), for which we have no age-resolved distribution to use: the prior
      overestimates the spin of older hosts, so the host bulge is then an upper bound.

    The anchors are for fully convective M dwarfs (``mass_range_msun``); a host outside
    that range gets the same prior, and the stated assumptions say it is extrapolated.
    The kernels evaluate the prior at the age of the first high-eccentricity phase (and
    along the migration) and cap the angular velocity at break-up, √(G M⋆ / R⋆³) with the
    radius at that age (:mod:`vlms_bayes.feasibility.spin`).
    """

    anchors: tuple[tuple[float, float, float], ...] = (
        (8e6, float(np.sqrt(0.2 * 30.0)), float(np.log(30.0 / 0.2) / 4.0)),
        (1.25e8, float(np.sqrt(0.2 * 30.0)) / 3.5, float(np.log(30.0 / 0.2) / 4.0)),
        (6e8, float(np.sqrt(0.2 * 30.0)) / 3.5,
         float(np.log(2.0 / (np.sqrt(0.2 * 30.0) / 3.5)) / 2.0)),
        (float(np.sqrt(1e9 * 3e9)), float(np.sqrt(2.0 * 10.0)), float(np.log(5.0) / 4.0)),
    )
    mass_range_msun: tuple[float, float] = (0.06, 0.3)
    source: str = ("host rotation period log-normal at 8 Myr (0.2-30 d as +-2 sigma, median "
                   "2.45 d; Upper Sco, Rebull et al. 2018), 125 Myr (x 1/3.5 spin-up to the "
                   "Pleiades, Rebull et al. 2018), 600 Myr (P < 2 d) and 1-3 Gyr (2-10 d; "
                   "Pass et al. 2024), interpolated in log age, one quantile per draw; "
                   "capped at break-up")

    def record(self) -> dict[str, object]:
        """The prior as a plain dict (``run.json``)."""
        return asdict(self)

    def ln_period_moments(self, age_yr: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of ln(P / d) at ``age_yr`` (linear in log10 age)."""
        a = np.asarray(self.anchors, float)
        x = np.log10(np.asarray(age_yr, float))
        lx = np.log10(a[:, 0])
        return np.interp(x, lx, np.log(a[:, 1])), np.interp(x, lx, a[:, 2])


def sample_host_spin_period_d(prior: HostSpinPrior, age_yr: ArrayLike,
                              z: ArrayLike) -> np.ndarray:
    """Rotation periods (d) at ``age_yr`` of hosts with standard-normal quantiles ``z``.

    Without the break-up cap (which needs the host's radius;
    :func:`vlms_bayes.feasibility.spin.host_spin_per_yr` applies it in the kernels).
    """
    mu, sig = prior.ln_period_moments(age_yr)
    return np.exp(mu + sig * np.asarray(z, float))
