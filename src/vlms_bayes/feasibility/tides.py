"""Equilibrium tides, tidal disruption and the Roche limit: pure formulas.

Two tide models, with Q' values as parameters:

* **constant Q'** (Goldreich & Soter 1966; the seed's formula): for a circular orbit, the
  tide a body of mass M and radius R raises, with a companion m', decays the orbit as
  ȧ/a = -(9/2)(m'/M)(R/a)⁵ n / Q', i.e. τ_a = (2Q'/9)(M/m')(a/R)⁵ / n; starting at a0
  the companion falls in after (2/13) τ_a(a0). The body's own circularisation time is
  τ_e = (4/63) Q' (M/m')(a/R)⁵ / n (the body being synchronised).
* **constant time lag** (Hut 1981, A&A 99, 126), valid at any eccentricity:
  ȧ/a = -3 k2 Δt n² (m'/M)(R/a)⁵ (1 - e²)^(-15/2) [f1 - (1 - e²)^(3/2) f2 Ω/n],
  ė/e = -(27/2) k2 Δt n² (m'/M)(R/a)⁵ (1 - e²)^(-13/2) [f3 - (11/18)(1 - e²)^(3/2) f4 Ω/n]
  (Hut's eqs. 9–10 with k = k2/2 and T = R³/(G M Δt)). A Q' maps to the lag
  k2 Δt = 3 / (2 Q' n_tide), which makes the two models agree for a circular orbit about a
  non-rotating body at the tidal frequency n_tide (:func:`lag_from_qprime`). Spinning
  bodies are taken pseudo-synchronous, Ω/n = f2 / ((1 - e²)^(3/2) f5), at which the tide
  exerts no net torque on the spin, so the orbital angular momentum, a (1 - e²), is
  conserved during high-eccentricity migration.

Units: AU, Msun, yr; rates per year. All functions are plain arithmetic (NumPy, JAX and
numba alike) and do not call one another.
"""

from __future__ import annotations

from typing import Any

from vlms_bayes.feasibility.units import G_AU3_MSUN_YR2

Array = Any


def hut_f(e2: Array) -> tuple[Array, Array, Array, Array, Array]:
    """Hut (1981) eccentricity functions f1..f5 of e²."""
    e4 = e2 * e2
    e6 = e4 * e2
    e8 = e4 * e4
    f1 = 1.0 + 15.5 * e2 + 31.875 * e4 + 11.5625 * e6 + 0.390625 * e8
    f2 = 1.0 + 7.5 * e2 + 5.625 * e4 + 0.3125 * e6
    f3 = 1.0 + 3.75 * e2 + 1.875 * e4 + 0.078125 * e6
    f4 = 1.0 + 1.5 * e2 + 0.125 * e4
    f5 = 1.0 + 3.0 * e2 + 0.375 * e4
    return f1, f2, f3, f4, f5


def pseudo_synchronous_ratio(e: Array) -> Array:
    """Pseudo-synchronous spin Ω_ps / n = f2 / ((1 - e²)^(3/2) f5) (Hut 1981, eq. 42)."""
    e2 = e * e
    e4 = e2 * e2
    f2 = 1.0 + 7.5 * e2 + 5.625 * e4 + 0.3125 * e4 * e2
    f5 = 1.0 + 3.0 * e2 + 0.375 * e4
    return f2 / ((1.0 - e2) ** 1.5 * f5)


def lag_from_qprime(q_prime: Array, n_tide_per_yr: Array) -> Array:
    """k2 Δt (yr) equivalent to a modified tidal quality factor Q' at tidal frequency n_tide.

    k2 Δt = 3 / (2 Q' n_tide): with it the constant-time-lag decay of a circular orbit
    about a non-rotating body equals the constant-Q' decay (:func:`decay_time_constant_q_yr`).
    """
    return 1.5 / (q_prime * n_tide_per_yr)


def decay_time_constant_q_yr(a_au: Array, m_body_msun: Array, m_other_msun: Array,
                             r_body_au: Array, q_prime: Array) -> Array:
    """Constant-Q' orbital decay time τ_a = a/|ȧ| = (2Q'/9)(M/m')(a/R)⁵ / n (circular orbit).

    Parameters
    ----------
    a_au : array
        Semi-major axis.
    m_body_msun, r_body_au : array
        Mass and radius of the body whose tide is raised (the host for stellar tides).
    m_other_msun : array
        Mass of the body raising the tide.
    q_prime : array
        Modified tidal quality factor Q' = 3Q / (2 k2).
    """
    n = (G_AU3_MSUN_YR2 * (m_body_msun + m_other_msun) / a_au**3) ** 0.5
    return (2.0 * q_prime / 9.0) * (m_body_msun / m_other_msun) * (a_au / r_body_au) ** 5 / n


def circularisation_time_constant_q_yr(a_au: Array, m_body_msun: Array, m_other_msun: Array,
                                       r_body_au: Array, q_prime: Array) -> Array:
    """Constant-Q' circularisation time τ_e = (4/63) Q' (M/m')(a/R)⁵ / n (Goldreich & Soter 1966).

    The body (mass M, radius R, e.g. the planet) is synchronised; m' raises its tide.
    """
    n = (G_AU3_MSUN_YR2 * (m_body_msun + m_other_msun) / a_au**3) ** 0.5
    return (4.0 / 63.0) * q_prime * (m_body_msun / m_other_msun) * (a_au / r_body_au) ** 5 / n


def dadt_ctl_per_yr(a_au: Array, e: Array, m_body_msun: Array, m_other_msun: Array,
                    r_body_au: Array, k2_lag_yr: Array, spin_ratio: Array) -> Array:
    """Hut (1981) constant-time-lag (1/a) da/dt in 1/yr (negative for decay).

    Parameters
    ----------
    a_au, e : array
        Orbit.
    m_body_msun, r_body_au : array
        Body whose tide is raised.
    m_other_msun : array
        Body raising the tide.
    k2_lag_yr : array
        Love number times time lag, k2 Δt (years).
    spin_ratio : array
        Ω / n of the body (0: non-rotating; :func:`pseudo_synchronous_ratio` for
        pseudo-synchronous rotation).
    """
    n = (G_AU3_MSUN_YR2 * (m_body_msun + m_other_msun) / a_au**3) ** 0.5
    e2 = e * e
    e4 = e2 * e2
    e6 = e4 * e2
    f1 = 1.0 + 15.5 * e2 + 31.875 * e4 + 11.5625 * e6 + 0.390625 * e4 * e4
    f2 = 1.0 + 7.5 * e2 + 5.625 * e4 + 0.3125 * e6
    j2 = 1.0 - e2
    return -3.0 * k2_lag_yr * n * n * (m_other_msun / m_body_msun) * (r_body_au / a_au) ** 5 \
        * (f1 - j2**1.5 * f2 * spin_ratio) / j2**7.5


def dedt_over_e_ctl_per_yr(a_au: Array, e: Array, m_body_msun: Array, m_other_msun: Array,
                           r_body_au: Array, k2_lag_yr: Array, spin_ratio: Array) -> Array:
    """Hut (1981) constant-time-lag (1/e) de/dt in 1/yr (negative: circularisation)."""
    n = (G_AU3_MSUN_YR2 * (m_body_msun + m_other_msun) / a_au**3) ** 0.5
    e2 = e * e
    e4 = e2 * e2
    f3 = 1.0 + 3.75 * e2 + 1.875 * e4 + 0.078125 * e4 * e2
    f4 = 1.0 + 1.5 * e2 + 0.125 * e4
    j2 = 1.0 - e2
    return -13.5 * k2_lag_yr * n * n * (m_other_msun / m_body_msun) * (r_body_au / a_au) ** 5 \
        * (f3 - (11.0 / 18.0) * j2**1.5 * f4 * spin_ratio) / j2**6.5


def disruption_radius_au(r_body_au: Array, m_body_msun: Array, m_host_msun: Array) -> Array:
    """Tidal-disruption radius r_t = R_p (M_host / M_p)^(1/3)."""
    return r_body_au * (m_host_msun / m_body_msun) ** (1.0 / 3.0)


def roche_limit_au(r_body_au: Array, m_body_msun: Array, m_host_msun: Array) -> Array:
    """Roche limit a_R = 2.16 r_t (Ford & Rasio 2006: R_p = 0.462 a_R μ^(1/3))."""
    return r_body_au * (m_host_msun / m_body_msun) ** (1.0 / 3.0) / 0.462
