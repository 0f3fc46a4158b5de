"""Quadrupole Kozai–Lidov (KL) oscillations with short-range forces: pure formulas.

Notation: host m0, companion m1 (inner pair, m01 = m0 + m1, semi-major axis a, eccentricity
e, j = sqrt(1 - e²)); perturber m_out on the outer orbit (a_out, e_out); i the mutual
inclination; masses in Msun, distances in AU, times in years.

Formulas (see ``docs/feasibility.md`` and the dynamics spec, §3a–3b):

* timescale, Antognini (2015, MNRAS 452, 3610) normalisation (Naoz 2016 16/15 form)
  t_KL = (8 / 15π) (M_tot / m_out) (P_out² / P_in) (1 - e_out²)^(3/2)
       = (16/15) (m01 / m_out) (a_out / a)³ (1 - e_out²)^(3/2) / n;
* octupole strength ε_oct = ((m0 - m1) / m01) (a / a_out) e_out / (1 - e_out²);
* short-range forces as dimensionless strengths ε = ω̇(e = 0) · t_LK with
  t_LK = (m01 / m_out) (a_out sqrt(1 - e_out²) / a)³ / n (Liu, Muñoz & Lai 2015):
  general relativity ε_GR, equilibrium tidal bulges ε_tide, rotational bulges ε_rot (the
  companion's and the host's, :func:`epsilon_rot` + :func:`epsilon_rot_host`);
* the test-particle quadrupole energy with those forces (per Φ0 = L / t_LK)
  Φ = (1/8)[1 - 6e² - 3 (j cos i)² + 15 e² sin²i sin²ω] - ε_GR / j
      - (ε_tide / 15)(1 + 3e² + 3e⁴/8) / j⁹ - (ε_rot / 3) / j³,
  conserved together with the Kozai constant K = j cos i. The maximum eccentricity is the
  first crossing of ω = 90° below the initial j (:func:`kl_energy_gap`); without
  short-range forces and e0 = 0 it is sqrt(1 - (5/3) cos² i0).

Every function here is plain arithmetic on its arguments, so the same code runs on NumPy
arrays, JAX arrays (traced under ``jit``/``vmap``) and scalars inside numba kernels; the
formulas do not call one another (numba compiles each one separately; the numba kernel
composes :func:`kl_gap_terms` and :func:`kl_gap_from_terms` itself).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vlms_bayes.feasibility.units import C_AU_PER_YR, G_AU3_MSUN_YR2

Array = Any  # float, NumPy array or JAX array

#: Antognini (2015) prefactor 8/(15π) of the period form of t_KL.
KL_PREFACTOR: float = 8.0 / 15.0 / 3.141592653589793

#: ε_oct above which the octupole term can raise e beyond the quadrupole e_max
#: (Naoz 2016: octupole effects matter for ε_oct ≳ 0.01), so the quadrupole verdict is not
#: conservative.
EPS_OCT_FLAG: float = 0.01

#: cos² of the critical inclination, 3/5 (i_crit = 39.2315°).
COS2_I_CRIT: float = 0.6


def kl_timescale_yr(m0_msun: Array, m1_msun: Array, m_out_msun: Array, a_au: Array,
                    a_out_au: Array, e_out: Array) -> Array:
    """Quadrupole KL timescale t_KL in years (Antognini 2015 normalisation).

    t_KL = (16/15) (m01/m_out) (a_out/a)³ (1 - e_out²)^(3/2) / n, n = sqrt(G m01 / a³),
    identical to (8/15π)(M_tot/m_out) P_out²/P_in (1 - e_out²)^(3/2).
    """
    m01 = m0_msun + m1_msun
    n = (G_AU3_MSUN_YR2 * m01 / a_au**3) ** 0.5
    return (16.0 / 15.0) * (m01 / m_out_msun) * (a_out_au / a_au) ** 3 \
        * (1.0 - e_out * e_out) ** 1.5 / n


def epsilon_oct(m0_msun: Array, m1_msun: Array, a_au: Array, a_out_au: Array,
                e_out: Array) -> Array:
    """Octupole strength ε_oct = ((m0 - m1)/m01)(a/a_out) e_out / (1 - e_out²)."""
    return (m0_msun - m1_msun) / (m0_msun + m1_msun) * (a_au / a_out_au) * e_out \
        / (1.0 - e_out * e_out)


def lk_time_unit_yr(m0_msun: Array, m1_msun: Array, m_out_msun: Array, a_au: Array,
                    a_out_au: Array, e_out: Array) -> Array:
    """t_LK = (m01/m_out)(a_out sqrt(1 - e_out²)/a)³ / n, the unit of the secular equations.

    Equal to (15/16) t_KL; the short-range strengths ε are rates times this unit.
    """
    m01 = m0_msun + m1_msun
    n = (G_AU3_MSUN_YR2 * m01 / a_au**3) ** 0.5
    return (m01 / m_out_msun) * (a_out_au / a_au) ** 3 * (1.0 - e_out * e_out) ** 1.5 / n


def epsilon_gr(m0_msun: Array, m1_msun: Array, m_out_msun: Array, a_au: Array,
               a_out_au: Array, e_out: Array) -> Array:
    """GR strength ε_GR = 3 G m01² a_out³ (1 - e_out²)^(3/2) / (c² a⁴ m_out).

    The 1PN apsidal rate at e = 0, 3 (G m01)^(3/2) / (c² a^(5/2)), times t_LK.
    """
    m01 = m0_msun + m1_msun
    return 3.0 * G_AU3_MSUN_YR2 * m01 * m01 * a_out_au**3 * (1.0 - e_out * e_out) ** 1.5 \
        / (C_AU_PER_YR * C_AU_PER_YR * a_au**4 * m_out_msun)


def epsilon_tide(m0_msun: Array, m1_msun: Array, m_out_msun: Array, a_au: Array,
                 a_out_au: Array, e_out: Array, r1_au: Array, k2_1: Array, r0_au: Array,
                 k2_0: Array) -> Array:
    """Strength of the tidal-bulge precession, ε_tide = ω̇_tide(e = 0) · t_LK.

    ω̇_tide(e = 0) = (15/2) n [k2,1 (m0/m1)(R1/a)⁵ + k2,0 (m1/m0)(R0/a)⁵] (Love numbers
    k2; bulges of the companion, index 1, and the host, index 0), whose e-dependence
    (1 + 3e²/2 + e⁴/8)/j¹⁰ follows from the energy term in the module docstring.
    """
    m01 = m0_msun + m1_msun
    n = (G_AU3_MSUN_YR2 * m01 / a_au**3) ** 0.5
    rate = 7.5 * n * (k2_1 * (m0_msun / m1_msun) * (r1_au / a_au) ** 5
                      + k2_0 * (m1_msun / m0_msun) * (r0_au / a_au) ** 5)
    t_lk = (m01 / m_out_msun) * (a_out_au / a_au) ** 3 * (1.0 - e_out * e_out) ** 1.5 / n
    return rate * t_lk


def epsilon_rot(m0_msun: Array, m1_msun: Array, m_out_msun: Array, a_au: Array,
                a_out_au: Array, e_out: Array, r1_au: Array, k2_1: Array,
                spin1_per_yr: Array) -> Array:
    """Strength of the companion's rotational-bulge precession, ε_rot = ω̇_rot(e=0) · t_LK.

    ω̇_rot = (k2/2)(Ω1/n)² (m01/m1)(R1/a)⁵ n / j⁴ for a spin aligned with the orbit
    (J2 = k2 Ω² R³ / (3 G m1)); spin Ω1 in rad/yr.
    """
    m01 = m0_msun + m1_msun
    n = (G_AU3_MSUN_YR2 * m01 / a_au**3) ** 0.5
    rate = 0.5 * k2_1 * (spin1_per_yr / n) ** 2 * (m01 / m1_msun) * (r1_au / a_au) ** 5 * n
    t_lk = (m01 / m_out_msun) * (a_out_au / a_au) ** 3 * (1.0 - e_out * e_out) ** 1.5 / n
    return rate * t_lk


def epsilon_rot_host(m0_msun: Array, m1_msun: Array, m_out_msun: Array, a_au: Array,
                     a_out_au: Array, e_out: Array, r0_au: Array, k2_0: Array,
                     spin0_per_yr: Array) -> Array:
    """Strength of the host's rotational-bulge precession, ε_rot,⋆ = ω̇_rot,⋆(e=0) · t_LK.

    :func:`epsilon_rot` with the roles swapped: ω̇ = (k2,⋆/2)(Ω⋆/n)² (m01/m0)(R⋆/a)⁵ n / j⁴
    for a host spin Ω⋆ (rad/yr) along the orbit normal, J2,⋆ = k2,⋆ Ω⋆² R⋆³ / (3 G m0).
    It enters the energy as the companion's term does (the two add: -(ε_rot/3)/j³).
    """
    m01 = m0_msun + m1_msun
    n = (G_AU3_MSUN_YR2 * m01 / a_au**3) ** 0.5
    rate = 0.5 * k2_0 * (spin0_per_yr / n) ** 2 * (m01 / m0_msun) * (r0_au / a_au) ** 5 * n
    t_lk = (m01 / m_out_msun) * (a_out_au / a_au) ** 3 * (1.0 - e_out * e_out) ** 1.5 / n
    return rate * t_lk


def kl_energy(j2: Array, e2: Array, kozai_k: Array, sin2_omega: Array, eps_gr: Array,
              eps_tide: Array, eps_rot: Array) -> Array:
    """Dimensionless test-particle quadrupole + short-range energy Φ / Φ0.

    Parameters
    ----------
    j2, e2 : array
        j² = 1 - e² and e² of the inner orbit, passed separately (e2 + j2 = 1) so that
        neither loses precision near e = 0 or e = 1.
    kozai_k : array
        Kozai constant K = j cos i (conserved).
    sin2_omega : array
        sin² of the argument of pericentre.
    eps_gr, eps_tide, eps_rot : array
        Short-range strengths (0 switches a force off).
    """
    j = j2**0.5
    j3 = j2 * j
    j9 = j3 * j3 * j3
    sin2_i = 1.0 - kozai_k * kozai_k / j2
    quad = 0.125 * (1.0 - 6.0 * e2 - 3.0 * kozai_k * kozai_k + 15.0 * e2 * sin2_i * sin2_omega)
    return quad - eps_gr / j - eps_tide / 15.0 * (1.0 + 3.0 * e2 + 0.375 * e2 * e2) / j9 \
        - eps_rot / 3.0 / j3


def kl_energy_gap(j2: Array, e2: Array, j2_0: Array, e2_0: Array, kozai_k: Array,
                  sin2_omega0: Array, eps_gr: Array, eps_tide: Array, eps_rot: Array) -> Array:
    """Energy at ω = 90° minus the initial energy: zero where the orbit reaches ω = 90°.

    D = Φ(e, ω = 90°) - Φ(e0, ω0), written without cancellation as
    D = δ A(e) + (15/8) e0² cos²ω0 sin²i0, with δ = e² - e0² and A collecting the
    quadrupole and short-range terms (j0 - j = δ / (j0 + j)). D >= 0 at e0, and the
    maximum eccentricity is at its first root above e0 (the outer crossing of ω = 90°).
    Evaluated as :func:`kl_gap_terms` (everything independent of e) followed by
    :func:`kl_gap_from_terms`, so that root searches compute the first part once.
    """
    return kl_gap_from_terms(j2, e2, j2_0, e2_0, eps_gr,
                             *kl_gap_terms(j2_0, e2_0, kozai_k, sin2_omega0, eps_tide, eps_rot))


def kl_gap_terms(j2_0: Array, e2_0: Array, kozai_k: Array, sin2_omega0: Array,
                 eps_tide: Array, eps_rot: Array) -> tuple[Array, ...]:
    """The e-independent factors of :func:`kl_energy_gap`.

    In the order :func:`kl_gap_from_terms` takes them: j0, 15 K², the constant
    (15/8) e0² cos²ω0 sin²i0, ε_tide/15, ε_rot/3, j0³ and 1 + 3e0² + 3e0⁴/8.
    """
    k2 = kozai_k * kozai_k
    j0 = j2_0**0.5
    return (j0, 15.0 * k2, 1.875 * e2_0 * (1.0 - sin2_omega0) * (1.0 - k2 / j2_0),
            eps_tide / 15.0, eps_rot / 3.0, j2_0 * j0, 1.0 + 3.0 * e2_0 + 0.375 * e2_0 * e2_0)


def kl_gap_from_terms(j2: Array, e2: Array, j2_0: Array, e2_0: Array, eps_gr: Array,
                      j0: Array, k2_15: Array, quad0: Array, tide_15: Array, rot_3: Array,
                      j3_0: Array, g0: Array) -> Array:
    """:func:`kl_energy_gap` from the factors of :func:`kl_gap_terms` (same arithmetic)."""
    j = j2**0.5
    w = 1.0 / (j * j0)  # the only divisions left per evaluation: w and dj
    w2 = w * w
    w3 = w2 * w
    w9 = w3 * w3 * w3
    d = e2 - e2_0
    quad = 0.125 * d * (9.0 - k2_15 * w2) + quad0
    dj = d / (j0 + j)  # j0 - j
    gr = eps_gr * dj * w
    rot = rot_3 * dj * (j2_0 + j0 * j + j2) * w3
    j3 = j2 * j
    s8 = j2_0 * j2_0 * j2_0 * j2_0 + j2_0 * j2_0 * j2_0 * j0 * j + j2_0 * j2_0 * j2_0 * j2 \
        + j2_0 * j2_0 * j0 * j3 + j2_0 * j2_0 * j2 * j2 + j3_0 * j2 * j2 * j \
        + j2_0 * j2 * j2 * j2 + j0 * j2 * j2 * j3 + j2 * j2 * j2 * j2
    tide = tide_15 * (d * (3.0 + 0.375 * (e2 + e2_0)) * j3_0 * j3_0 * j3_0
                      + g0 * dj * s8) * w9
    return quad - gr - tide - rot


def emax_test_particle(cos_i0: Array) -> Array:
    """Test-particle quadrupole e_max = sqrt(1 - (5/3) cos² i0) for e0 = 0 (0 below i_crit)."""
    x = 1.0 - (5.0 / 3.0) * cos_i0 * cos_i0
    return (x * (x > 0)) ** 0.5


def gr_quench_threshold(cos_i0: Array) -> Array:
    """ε_GR above which GR quenches KL growth from e0 ≈ 0: (9/4)(1 - (5/3) cos² i0).

    From the small-e expansion of the energy balance ε_GR (1/j - 1) = (3/8)(e²/j²)
    (3 j² - 5 cos² i0): no e-growth once ε_GR exceeds this value.
    """
    return 2.25 * (1.0 - (5.0 / 3.0) * cos_i0 * cos_i0)


#: Smallest e² searched (e0 = 0 starts here) and smallest j searched for e_max.
E2_FLOOR: float = 1e-30
J_FLOOR: float = 1e-7


def kl_emax_grid(e0: Array, cos_i0: Array, *, xp: Any = None,
                 n_scan: int = 32) -> tuple[Array, ...]:
    """The draw-only part of the e_max search (:func:`kl_emax`): constants and scan grid.

    Depends on the initial eccentricity and inclination alone, not on the short-range
    strengths, so a Monte Carlo map computes it once per draw and reuses it in every cell.
    The scan grid is uniform in y = ln(e²/j²) from y0 (e0, or :data:`E2_FLOOR`) to
    y_end (j = max(|K|, :data:`J_FLOOR`)) and is returned as x = e²/j² = exp(y).

    Parameters
    ----------
    e0, cos_i0 : array
        Initial eccentricity and cosine of the mutual inclination.
    xp : module, optional
        Array namespace (``numpy`` by default).
    n_scan : int
        Number of grid points after x0.

    Returns
    -------
    j2_0, e2_0, kozai_k, x0, x_end : array
        1 - e0², e0², K = j0 cos i0, exp(y0) and exp(y_end).
    step : array
        Grid step in y, (y_end - y0) / n_scan.
    x_grid : array
        exp(y0 + k step), k = 1..n_scan, on a new last axis.
    """
    if xp is None:
        xp = np
    e0, cos_i0 = xp.broadcast_arrays(xp.asarray(e0, dtype=float), xp.asarray(cos_i0, dtype=float))
    e2_0 = e0 * e0
    j2_0 = (1.0 - e0) * (1.0 + e0)
    kk = j2_0**0.5 * cos_i0
    y0 = xp.log(xp.maximum(e2_0, E2_FLOOR) / j2_0)
    j2_end = xp.minimum(xp.maximum(kk * kk, J_FLOOR * J_FLOOR), j2_0)
    y_end = xp.maximum(xp.log(xp.maximum(1.0 - j2_end, E2_FLOOR) / j2_end), y0)
    step = (y_end - y0) / n_scan
    # x_k = x0 r^k by repeated products (k ulp at most; two exponentials, not n_scan)
    x0 = xp.exp(y0)
    ratio = xp.exp(step)
    x_grid = x0[..., None] * xp.cumprod(
        xp.broadcast_to(ratio[..., None], (*ratio.shape, n_scan)), axis=-1)
    return j2_0, e2_0, kk, x0, xp.exp(y_end), step, x_grid


def kl_emax_solve(grid: tuple[Array, ...], sin2_omega0: Array, eps_gr: Array, eps_tide: Array,
                  eps_rot: Array, *, xp: Any = None, n_bisect: int = 50,
                  fori_loop: Any = None) -> tuple[Array, Array]:
    """e_max from the draw-only grid of :func:`kl_emax_grid` and the short-range strengths.

    The first grid point where the gap D (:func:`kl_energy_gap`, a function of
    x = e²/j² through j² = 1/(1 + x), e² = x/(1 + x)) turns negative brackets the root
    with the point before it, lo. ``n_bisect`` bisections in y = ln x refine it: the
    bracket's width in y halves each time (h = step/2, step/4, ...), the midpoint is
    lo·exp(h), and lo moves there where D >= 0. Only lo is carried (the upper end is
    lo·exp(2h)); exp(h) is one exponential followed by square roots, so each step costs
    one evaluation of D and a square root. No root means e reaches x_end. See
    :func:`kl_emax` for the arguments and returns.
    """
    if xp is None:
        xp = np
    j2_0, e2_0, kk, x0, x_end, step, x_grid = grid
    consts = (j2_0, e2_0, eps_gr,
              *kl_gap_terms(j2_0, e2_0, kk, sin2_omega0, eps_tide, eps_rot))

    def gap(x: Array, *c: Array) -> Array:
        return kl_gap_from_terms(1.0 / (1.0 + x), x / (1.0 + x), *c)

    d = gap(x_grid, *(c[..., None] for c in consts))
    neg = d < 0
    any_neg = xp.any(neg, axis=-1)
    idx = xp.argmax(neg, axis=-1)
    prev = xp.take_along_axis(x_grid, xp.maximum(idx - 1, 0)[..., None], axis=-1)[..., 0]
    lo = xp.where(idx == 0, x0, prev)

    def bisect(_: int, carry: tuple[Array, Array]) -> tuple[Array, Array]:
        # q = exp(h) for h = step/2, step/4, ...: one exponential, then square roots
        # (each halves the relative error, so q stays exact to an ulp)
        lo, q = carry
        mid = lo * q
        return xp.where(gap(mid, *consts) < 0, lo, mid), xp.sqrt(q)

    q0 = xp.exp(0.5 * step)
    if fori_loop is None:
        carry = (lo, q0)
        for it in range(n_bisect):
            carry = bisect(it, carry)
        lo = carry[0]
    else:
        lo, _ = fori_loop(0, n_bisect, bisect, (lo, q0))
    x_max = xp.where(any_neg, lo, x_end)
    e_max = xp.sqrt(x_max / (1.0 + x_max))
    return e_max, 1.0 / (1.0 + x_max) / (1.0 + e_max)


def kl_emax(e0: Array, cos_i0: Array, sin2_omega0: Array, eps_gr: Array, eps_tide: Array,
            eps_rot: Array, *, xp: Any = None, n_scan: int = 32, n_bisect: int = 50,
            fori_loop: Any = None) -> tuple[Array, Array]:
    """Maximum eccentricity of the quadrupole test-particle KL cycle with short-range forces.

    The energy :func:`kl_energy` and the Kozai constant K = j cos i are conserved; e is
    largest where the orbit crosses ω = 90°. The gap D (:func:`kl_energy_gap`) is
    non-negative at e0; the maximum is at its first root above e0. The search variable is
    y = ln(e²/j²), from which e² = 1/(1 + exp(-y)) and j² = 1/(1 + exp(y)) are both exact
    to rounding at either end: a uniform grid of ``n_scan`` points from e0 (or
    :data:`E2_FLOOR`) to j = max(|K|, :data:`J_FLOOR`) brackets the root
    (:func:`kl_emax_grid`), ``n_bisect`` bisections in y refine it (:func:`kl_emax_solve`;
    the bracket of width (y_end - y0)/n_scan shrinks to below 1e-14 in y). No root means
    e reaches that end.

    Parameters
    ----------
    e0, cos_i0, sin2_omega0 : array
        Initial eccentricity, cosine of the mutual inclination, sin² of the argument of
        pericentre.
    eps_gr, eps_tide, eps_rot : array
        Short-range strengths (:func:`epsilon_gr`, :func:`epsilon_tide`,
        :func:`epsilon_rot`); zero switches a force off.
    xp : module, optional
        Array namespace (``numpy`` by default, ``jax.numpy`` inside JAX kernels).
    n_scan, n_bisect : int
        Grid size and number of bisections (the numba kernel uses the same values).
    fori_loop : callable, optional
        ``jax.lax.fori_loop`` inside JAX kernels (keeps the compiled graph small); a plain
        Python loop otherwise.

    Returns
    -------
    e_max, one_minus_e_max : array
        Maximum eccentricity and 1 - e_max (computed as j²/(1 + e) without cancellation).
    """
    if xp is None:
        xp = np
    e0, cos_i0, sin2_omega0, eps_gr, eps_tide, eps_rot = xp.broadcast_arrays(
        *(xp.asarray(x, dtype=float) for x in (e0, cos_i0, sin2_omega0, eps_gr, eps_tide,
                                               eps_rot)))
    grid = kl_emax_grid(e0, cos_i0, xp=xp, n_scan=n_scan)
    return kl_emax_solve(grid, sin2_omega0, eps_gr, eps_tide, eps_rot, xp=xp,
                         n_bisect=n_bisect, fori_loop=fori_loop)
