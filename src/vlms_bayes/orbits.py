"""Pure orbital and unit helpers: Kepler's third law, mass ratios, log-space errors.

All constants come from :mod:`astropy.constants`; the functions take and return plain
NumPy arrays with the units in the argument names.
"""

from __future__ import annotations

import numpy as np
from astropy import constants as const
from astropy import units as u
from numpy.typing import ArrayLike, NDArray

#: Solar mass in Jupiter masses, from astropy's IAU constants (≈ 1047.57).
MJUP_PER_MSUN: float = float((const.M_sun / const.M_jup).decompose().value)

#: G M_sun in AU^3 / day^2 (for Kepler's law with periods in days).
_GM_SUN_AU3_PER_DAY2: float = float((const.G * const.M_sun).to_value(u.AU**3 / u.day**2))


def mass_ratio(m_comp_mj: ArrayLike, m_star_msun: ArrayLike) -> NDArray[np.float64]:
    """Companion-to-host mass ratio q = M_c / M_star.

    Parameters
    ----------
    m_comp_mj : array_like
        Companion mass in Jupiter masses.
    m_star_msun : array_like
        Host mass in solar masses.

    Returns
    -------
    numpy.ndarray
        q (dimensionless).
    """
    return np.asarray(m_comp_mj, float) / (np.asarray(m_star_msun, float) * MJUP_PER_MSUN)


def semimajor_axis_au(
    period_day: ArrayLike, m_star_msun: ArrayLike, m_comp_mj: ArrayLike = 0.0
) -> NDArray[np.float64]:
    """Semi-major axis from Kepler's third law, a³ = G (M_star + M_c) P² / (4π²).

    Parameters
    ----------
    period_day : array_like
        Orbital period in days.
    m_star_msun : array_like
        Host mass in solar masses.
    m_comp_mj : array_like, optional
        Companion mass in Jupiter masses (0 neglects it).

    Returns
    -------
    numpy.ndarray
        Semi-major axis in AU.
    """
    m_tot = np.asarray(m_star_msun, float) + np.asarray(m_comp_mj, float) / MJUP_PER_MSUN
    p = np.asarray(period_day, float)
    return np.cbrt(_GM_SUN_AU3_PER_DAY2 * m_tot * p**2 / (4.0 * np.pi**2))


def period_day(
    a_au: ArrayLike, m_star_msun: ArrayLike, m_comp_mj: ArrayLike = 0.0
) -> NDArray[np.float64]:
    """Orbital period in days from the semi-major axis (inverse of :func:`semimajor_axis_au`)."""
    m_tot = np.asarray(m_star_msun, float) + np.asarray(m_comp_mj, float) / MJUP_PER_MSUN
    a = np.asarray(a_au, float)
    return 2.0 * np.pi * np.sqrt(a**3 / (_GM_SUN_AU3_PER_DAY2 * m_tot))


def semimajor_axis_errors_au(
    period_day: ArrayLike,
    period_err_hi: ArrayLike,
    period_err_lo: ArrayLike,
    m_star_msun: ArrayLike,
    m_star_err_hi: ArrayLike,
    m_star_err_lo: ArrayLike,
    m_comp_mj: ArrayLike,
    m_comp_err_hi: ArrayLike,
    m_comp_err_lo: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Semi-major axis with upper and lower uncertainties propagated from P and the masses.

    Since a ∝ P^(2/3) (M_star + M_c)^(1/3), the fractional errors add in quadrature:
    σ_a / a = sqrt((2/3 · σ_P/P)² + (1/3 · σ_M/M)²), with σ_M the quadrature sum of the
    two mass errors. The upper error uses the upper errors of P and the masses, the lower
    error the lower ones (a increases with each). Missing errors count as zero.

    Parameters
    ----------
    period_day, period_err_hi, period_err_lo : array_like
        Period and its upper/lower uncertainty (positive numbers), days.
    m_star_msun, m_star_err_hi, m_star_err_lo : array_like
        Host mass and its uncertainties, solar masses.
    m_comp_mj, m_comp_err_hi, m_comp_err_lo : array_like
        Companion mass and its uncertainties, Jupiter masses.

    Returns
    -------
    a_au, a_err_hi_au, a_err_lo_au : numpy.ndarray
        Semi-major axis and its upper/lower uncertainties in AU.
    """
    p = np.asarray(period_day, float)
    ms = np.asarray(m_star_msun, float)
    mc = np.nan_to_num(np.asarray(m_comp_mj, float)) / MJUP_PER_MSUN
    a = semimajor_axis_au(p, ms, mc * MJUP_PER_MSUN)
    m_tot = ms + mc

    def frac(p_err: ArrayLike, ms_err: ArrayLike, mc_err: ArrayLike) -> NDArray[np.float64]:
        pe = np.nan_to_num(np.abs(np.asarray(p_err, float)))
        me = np.hypot(
            np.nan_to_num(np.abs(np.asarray(ms_err, float))),
            np.nan_to_num(np.abs(np.asarray(mc_err, float))) / MJUP_PER_MSUN,
        )
        return np.hypot(2.0 / 3.0 * pe / p, 1.0 / 3.0 * me / m_tot)

    return (
        a,
        a * frac(period_err_hi, m_star_err_hi, m_comp_err_hi),
        a * frac(period_err_lo, m_star_err_lo, m_comp_err_lo),
    )


def log10_errors(
    x: ArrayLike, err_hi: ArrayLike, err_lo: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Upper and lower uncertainties of log10(x) from asymmetric linear uncertainties.

    The upper error is log10(x + σ+) − log10(x); the lower is log10(x) − log10(x − σ−)
    when x − σ− > 0, else the linearised σ−/(x ln 10) (an error bar reaching zero has no
    finite log-space image). Missing errors give NaN.

    Parameters
    ----------
    x : array_like
        Positive values.
    err_hi, err_lo : array_like
        Positive upper and lower uncertainties of x.

    Returns
    -------
    sig_hi, sig_lo : numpy.ndarray
        Upper and lower uncertainties of log10(x), in dex.
    """
    x = np.asarray(x, float)
    hi = np.abs(np.asarray(err_hi, float))
    lo = np.abs(np.asarray(err_lo, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        sig_hi = np.log10(x + hi) - np.log10(x)
        inside = x - lo > 0
        sig_lo = np.where(
            inside,
            np.log10(x) - np.log10(np.where(inside, x - lo, 1.0)),
            lo / (x * np.log(10.0)),
        )
    return sig_hi, sig_lo


def logq_errors(
    sig_logmc_hi: ArrayLike,
    sig_logmc_lo: ArrayLike,
    sig_logms_hi: ArrayLike,
    sig_logms_lo: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Uncertainties of log q = log M_c − log M_star from those of the two masses.

    q rises with M_c and falls with M_star, so the upper error of log q combines the upper
    error of log M_c with the *lower* error of log M_star (in quadrature), and vice versa.
    A missing host-mass error counts as zero; a missing companion-mass error gives NaN.

    Returns
    -------
    sig_hi, sig_lo : numpy.ndarray
        Upper and lower uncertainties of log10 q, in dex.
    """
    ms_hi = np.nan_to_num(np.asarray(sig_logms_hi, float))
    ms_lo = np.nan_to_num(np.asarray(sig_logms_lo, float))
    return (
        np.hypot(np.asarray(sig_logmc_hi, float), ms_lo),
        np.hypot(np.asarray(sig_logmc_lo, float), ms_hi),
    )


def logq_errors_lens(
    sig_logmc_hi: ArrayLike,
    sig_logmc_lo: ArrayLike,
    sig_logml_hi: ArrayLike,
    sig_logml_lo: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Uncertainties of log q for a microlensing companion, whose mass is q times the lens's.

    A microlensing light curve measures the mass ratio q directly; the masses follow from
    the lens mass M_L (from θ_E and π_E, or a Galactic model), M_c = q M_L. With q and M_L
    measured independently, log M_c = log q + log M_L and Var(log M_c) = Var(log q) +
    Var(log M_L), so the catalogue's two mass errors imply

        σ(log q)² = σ(log M_c)² − σ(log M_L)²,

    each side with its own side (an upward error of M_L moves M_c up too). Where the
    difference is negative (rounding of the catalogue's errors) the result is 0, and a
    floor must be applied by the caller (:class:`vlms_bayes.models.data.MeasurementConfig`).
    Adding the two in quadrature instead (:func:`logq_errors`) counts the lens-mass error
    twice and makes log q ~10 times too uncertain.

    Parameters
    ----------
    sig_logmc_hi, sig_logmc_lo : array_like
        Upper and lower uncertainties of log10 M_c (dex).
    sig_logml_hi, sig_logml_lo : array_like
        Upper and lower uncertainties of log10 M_L, the host (lens) mass; missing counts as 0
        (then σ(log q) = σ(log M_c), the conservative choice).

    Returns
    -------
    sig_hi, sig_lo : numpy.ndarray
        Upper and lower uncertainties of log10 q, in dex (NaN where σ(log M_c) is missing).
    """
    ml_hi = np.nan_to_num(np.asarray(sig_logml_hi, float))
    ml_lo = np.nan_to_num(np.asarray(sig_logml_lo, float))
    mc_hi = np.asarray(sig_logmc_hi, float)
    mc_lo = np.asarray(sig_logmc_lo, float)
    with np.errstate(invalid="ignore"):
        return (np.sqrt(np.maximum(mc_hi**2 - ml_hi**2, 0.0)),
                np.sqrt(np.maximum(mc_lo**2 - ml_lo**2, 0.0)))
