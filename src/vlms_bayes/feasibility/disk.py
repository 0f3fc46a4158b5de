"""Disk-driven migration timescales for M-dwarf disks: Type I, gap opening, Type II.

Disk model: Σ(r) = Σ0 (r / 1 AU)^(-α) out to R_out, normalised so that the disk mass is
a fraction of the stellar mass, aspect ratio h = H/r, Shakura–Sunyaev viscosity α_ν.

* Type I (Tanaka, Takeuchi & Ward 2002; coefficient as in REBOUNDx ``type_I_migration``):
  τ_I = r/|ṙ| = (2.7 + 1.1 α)^(-1) (M⋆/M_p)(M⋆/(Σ r²)) h² / Ω.
* Gap opening (Crida, Morbidelli & Masset 2006): (3/4) H/R_H + 50/(q Re) <= 1 with
  R_H = r (q/3)^(1/3), Re = r²Ω/ν = 1/(α_ν h²).
* Type II (Kanagawa, Tanaka & Szuszkiewicz 2018): τ_II = τ_I (1 + 0.04 K),
  K = q² h^(-5) / α_ν; the classic viscous rate τ_ν = 1/(α_ν h² Ω), slowed by
  max(1, M_p / (4π Σ r²)) (Syer & Clarke 1995), is given for comparison.

VLMS disk lifetimes: Pfalzner & Dincer (2024) Weibull fit for 0.1–0.24 Msun hosts, k = 1.78,
λ = 9.15 Myr (:data:`DISK_LIFETIME_WEIBULL`). Units: AU, Msun, yr.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlms_bayes.feasibility.units import CM2_PER_AU2, G_AU3_MSUN_YR2, G_PER_MSUN

Array = Any

#: Weibull (shape k, scale λ in yr) of disk lifetimes of 0.1–0.24 Msun stars, Pfalzner &
#: Dincer (2024, arXiv:2401.03775), f0 = 1.
DISK_LIFETIME_WEIBULL: tuple[float, float] = (1.78, 9.15e6)


def disk_lifetime_quantile_yr(p: Array) -> Array:
    """Quantile of the VLMS disk-lifetime Weibull distribution (p in (0, 1))."""
    k, lam = DISK_LIFETIME_WEIBULL
    return lam * (-np.log1p(-np.asarray(p, float))) ** (1.0 / k)


def sigma0_msun_au2(m_star_msun: Array, disk_to_star: Array, *, alpha: float = 1.0,
                    r_out_au: float = 30.0) -> Array:
    """Σ at 1 AU (Msun/AU²) of a disk Σ ∝ r^-α (0 < r < R_out) of mass disk_to_star × M⋆.

    M_disk = 2π Σ0 (1 AU)^α R_out^(2-α) / (2 - α), for α < 2.
    """
    if not alpha < 2.0:
        raise ValueError(f"alpha must be < 2 for a finite disk mass, got {alpha}")
    m_disk = np.asarray(disk_to_star, float) * np.asarray(m_star_msun, float)
    return m_disk * (2.0 - alpha) / (2.0 * np.pi * r_out_au ** (2.0 - alpha))


def msun_per_au2_to_g_per_cm2(sigma: Array) -> Array:
    """Convert a surface density from Msun/AU² to g/cm²."""
    return np.asarray(sigma, float) * G_PER_MSUN / CM2_PER_AU2


def type1_time_yr(r_au: Array, m_star_msun: Array, m_p_msun: Array, sigma_msun_au2: Array,
                  *, h: Array = 0.05, alpha: Array = 1.0) -> Array:
    """Type I migration time τ_I = r/|ṙ| (Tanaka et al. 2002), years."""
    omega = (G_AU3_MSUN_YR2 * m_star_msun / r_au**3) ** 0.5
    return (m_star_msun / m_p_msun) * (m_star_msun / (sigma_msun_au2 * r_au**2)) * h * h \
        / omega / (2.7 + 1.1 * alpha)


def gap_opening_parameter(q: Array, *, h: Array = 0.05, alpha_visc: Array = 1e-3) -> Array:
    """Crida et al. (2006) P = (3/4) H/R_H + 50/(q Re); a gap opens where P <= 1."""
    return 0.75 * h / (q / 3.0) ** (1.0 / 3.0) + 50.0 * alpha_visc * h * h / q


def kanagawa_k(q: Array, *, h: Array = 0.05, alpha_visc: Array = 1e-3) -> Array:
    """Kanagawa et al. (2018) gap depth parameter K = q² h^-5 / α_ν."""
    return q * q / h**5 / alpha_visc


def type2_time_yr(r_au: Array, m_star_msun: Array, m_p_msun: Array, sigma_msun_au2: Array,
                  *, h: Array = 0.05, alpha: Array = 1.0,
                  alpha_visc: Array = 1e-3) -> Array:
    """Type II time of Kanagawa et al. (2018): τ_II = τ_I (1 + 0.04 K), years."""
    q = m_p_msun / m_star_msun
    return type1_time_yr(r_au, m_star_msun, m_p_msun, sigma_msun_au2, h=h, alpha=alpha) \
        * (1.0 + 0.04 * q * q / h**5 / alpha_visc)


def viscous_time_yr(r_au: Array, m_star_msun: Array, m_p_msun: Array, sigma_msun_au2: Array,
                    *, h: Array = 0.05, alpha_visc: Array = 1e-3) -> Array:
    """Classic Type II time 1/(α_ν h² Ω) × max(1, M_p/(4π Σ r²)) (Syer & Clarke 1995), years."""
    omega = (G_AU3_MSUN_YR2 * m_star_msun / r_au**3) ** 0.5
    slow = np.maximum(1.0, m_p_msun / (4.0 * np.pi * sigma_msun_au2 * r_au**2))
    return slow / (alpha_visc * h * h * omega)


def migration_time_to_yr(r_from_au: Array, r_to_au: float, tau_fn: Any,
                         n_steps: int = 400) -> Array:
    """Time to migrate from r_from to r_to, ∫ τ(r) dr / r, for a local time τ(r) (years).

    Trapezoid rule in ln r; ``tau_fn`` maps an array of radii to τ in years.
    """
    r_from = np.atleast_1d(np.asarray(r_from_au, float))
    out = np.zeros_like(r_from)
    for k, r0 in enumerate(r_from):
        if r0 <= r_to_au:
            continue
        lnr = np.linspace(np.log(r_to_au), np.log(r0), n_steps)
        out[k] = np.trapezoid(tau_fn(np.exp(lnr)), lnr)
    return out
