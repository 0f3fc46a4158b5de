"""High-eccentricity migration time: the coupled (a, e) tidal decay, integrated.

Replaces the single-rate estimate τ_a(a0, e_max) = a0/|ȧ(a0, e_max)|, which was
optimistic: the decay slows as e falls, and while Kozai–Lidov cycles go on the companion
spends only part of each cycle near e_max.

Model (orbit-averaged equilibrium tides, Hut 1981 constant time lag, the formulas of
:mod:`vlms_bayes.feasibility.tides`): the companion spins pseudo-synchronously (no net
torque on its spin), so the orbital angular momentum is conserved and the decay follows
a (1 − e²) = h = a_F, the end point a0 (1 − e_max²); the host's tide adds its term
(non-rotating in :func:`migration_time_yr`; spinning as its prior says in
:func:`migration_time_evolving_yr`, see below). At fixed h the coupled (a, e) equations
reduce to one equation for a, and the time to reach a_end (the upper edge of the
observed-orbit window, (1 + tol) a_obs) is the integral

    T = ∫_{a_end}^{a0} w(a) da / |ȧ(a, e(a))|,   e² = 1 − h/a,

with a weight w for the Kozai–Lidov phase: while the cycles go on, the orbit spends a
fraction ≈ j = √(1 − e²) of each cycle near e_max (Anderson, Storch & Lai 2016, MNRAS 456,
3671), so w = 1/j; the cycles stop (the orbit decouples from the perturber) once GR
precession at the current eccentricity outpaces them, ε_GR(a)/j < 1 fails, i.e. below
a_dec where ε_GR(a0)(a0/a)⁴ = j(a) (ε_GR ∝ a⁻⁴), and w = 1 after. T is infinite when
h ≥ a_end (the orbit cannot shrink into the window).

The integral is taken in u = ln(a − h), in which the integrand is smooth up to a_end → h
(|ȧ| ∝ e² ∝ a − h there), with :data:`N_GAUSS`-point Gauss–Legendre quadrature on each of
the two panels (cycling, decoupled). A test holds it to a direct ODE integration of Hut's
ȧ and ė (``scipy.integrate.solve_ivp``) to better than 1 %.

With radii that change with age (:mod:`vlms_bayes.feasibility.radii`: the host's
pre-main-sequence contraction, the companion's cooling) the integrand depends on the time
already spent, so :func:`migration_time_evolving_yr` marches the same integral from the top
(a0) down in :data:`N_SUB` sub-panels of u per panel, each a :data:`N_NODE`-point
Gauss–Legendre sum with the radii at the sub-panel's start age, repeated with the radii at
the predicted mid-age (a predictor–corrector in time). Tests hold it to ``solve_ivp`` on
Hut's equations with the same radius tracks to 1 % once the host is on the main sequence;
while the host is still pre-main-sequence (a few Myr, R⋆ ≳ 3 R⋆,today) its non-rotating
tide changes a (1 − e²) by ~1–2 % over the decay, which the fixed-h reduction neglects.

The host's spin (:mod:`vlms_bayes.feasibility.spin`) enters its tide through Hut's factor
f1 − (1 − e²)^(3/2) f2 Ω⋆/n, Ω⋆ following the prior along the march. A host spinning
faster than the orbit also raises h: the march sums the first-order drift Δ ln h of the
host's tide (Hut's ȧ and ė; the pseudo-synchronous companion's tide leaves h unchanged)
and an orbit whose h(1 + Δ ln h) reaches a_end stalls (no arrival, like h ≥ a_end), which
reproduces ``solve_ivp``'s arrive/never verdicts; the time itself keeps h fixed (within 1 %
of ``solve_ivp`` on the main sequence; 5–25 % short for a fast-rotating pre-main-sequence
host when h ends within ~3 % of a_end). Where the host's tide pushes the orbit out faster
than the companion's pulls it in the rate is floored (:data:`RATE_FLOOR`): the time is
then astronomically long and finite.

Pure arithmetic: the same function runs in NumPy, JAX (``ln=jnp.log``) and numba (an
``njit`` logarithm passed in; the helpers are ``register_jitable``); units AU, Msun, yr.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba.extending import register_jitable

from vlms_bayes.feasibility.radii import INV_DLN, LN_T0, N_TRACK
from vlms_bayes.feasibility.spin import spin_from_nodes
from vlms_bayes.feasibility.units import G_AU3_MSUN_YR2

Array = Any

#: Gauss–Legendre points per panel.
N_GAUSS = 8
_X, _W = np.polynomial.legendre.leggauss(N_GAUSS)
#: Nodes and weights on [0, 1] (plain floats, so numba and JAX see constants).
GL_T: tuple[float, ...] = tuple(float(v) for v in 0.5 * (_X + 1.0))
GL_W: tuple[float, ...] = tuple(float(v) for v in 0.5 * _W)


@register_jitable
def decay_rate_fixed_h(a: Array, h: Array, m1: Array, m0: Array, r1: Array, lag1: Array,
                       r0: Array, lag0: Array) -> Array:
    """|ȧ| / a (1/yr) at fixed h = a (1 − e²): pseudo-synchronous companion + non-rotating host.

    Hut (1981) with Ω/n = f2/((1 − e²)^(3/2) f5) for the companion gives the factor
    f1 − f2²/f5 = e² P(e²)/f5 (P a polynomial, no cancellation at small e); the host's own
    tide contributes f1.
    """
    x = (a - h) / a  # e²
    j2 = h / a
    f1 = 1.0 + x * (15.5 + x * (31.875 + x * (11.5625 + x * 0.390625)))
    f5 = 1.0 + x * (3.0 + x * 0.375)
    p = 3.5 + x * (11.25 + x * (28.0 + x * (10.703125 + x * (1.9921875 + x * 0.048828125))))
    n2 = G_AU3_MSUN_YR2 * (m0 + m1) / (a * a * a)
    s1 = r1 / a
    s0 = r0 / a
    planet = lag1 * (m0 / m1) * (s1 * s1) * (s1 * s1) * s1 * x * p / f5
    host = lag0 * (m1 / m0) * (s0 * s0) * (s0 * s0) * s0 * f1
    j15 = j2 * j2 * j2 * j2 * j2 * j2 * j2 * j2**0.5
    return 3.0 * n2 * (planet + host) / j15


@register_jitable
def decoupling_axis_au(a0: Array, h: Array, eps_gr0: Array) -> Array:
    """a_dec: ε_GR(a0) (a0/a)⁴ = √(h/a), i.e. a = (ε_GR(a0) a0⁴ / √h)^(2/7)."""
    return (eps_gr0 * a0**4 / h**0.5) ** (2.0 / 7.0)


@register_jitable
def _panel(a_lo: Array, a_hi: Array, h: Array, kl: bool, ln: Any, m1: Array, m0: Array,
           r1: Array, lag1: Array, r0: Array, lag0: Array) -> Array:
    """∫ w da/|ȧ| from a_lo to a_hi (> h) in u = ln(a − h), Gauss–Legendre."""
    x_lo = a_lo - h
    ratio = (a_hi - h) / x_lo
    span = ln(ratio)
    total = 0.0 * span
    for k in range(N_GAUSS):
        t, w = GL_T[k], GL_W[k]
        x = x_lo * ratio**t
        a = h + x
        f = x / (a * decay_rate_fixed_h(a, h, m1, m0, r1, lag1, r0, lag0))
        if kl:
            f = f * (a / h) ** 0.5
        total = total + w * f
    return total * span


def migration_time_yr(a0: Array, h: Array, a_end: Array, eps_gr0: Array, m1: Array,
                      m0: Array, r1: Array, lag1: Array, r0: Array, lag0: Array,
                      ln: Any = np.log) -> Array:
    """Time (yr) for the tidal decay at fixed h to bring a from a0 down to a_end.

    Parameters
    ----------
    a0 : array
        Starting semi-major axis (AU).
    h : array
        a (1 − e²) = a0 (1 − e_max²), conserved (AU).
    a_end : array
        Target semi-major axis (AU), e.g. (1 + tol) a_obs.
    eps_gr0 : array
        ε_GR at a0 (:func:`vlms_bayes.feasibility.kozai.epsilon_gr`); sets where the KL
        cycles stop (:func:`decoupling_axis_au`). 0: no KL weighting (pure decay).
    m1, r1, lag1 : array
        Companion mass (Msun), radius (AU), k2 Δt (yr).
    m0, r0, lag0 : array
        Host mass, radius, k2 Δt.
    ln : callable
        Natural logarithm of the array library (``numpy.log``, ``jax.numpy.log``, an
        ``njit``-ed ``math.log``).

    Returns
    -------
    array
        T in years: 0 if a0 ≤ a_end, inf if h ≥ a_end.
    """
    big = 1e300
    ok = (h < a_end) & (a0 > a_end)
    # keep the arithmetic finite on every lane (JAX and numba evaluate both branches)
    a_hi = a0 * ok + (1.0 - ok) * 2.0
    a_lo = a_end * ok + (1.0 - ok) * 1.0
    hh = h * ok + (1.0 - ok) * 0.5
    a_dec = decoupling_axis_au(a_hi, hh, eps_gr0 + (1.0 - ok))
    a_mid = a_dec * (a_dec > a_lo) * (a_dec < a_hi) + a_lo * (a_dec <= a_lo) \
        + a_hi * (a_dec >= a_hi)
    # decoupled panel [a_lo, a_mid] (w = 1), cycling panel [a_mid, a_hi] (w = 1/j)
    lo_mid = a_mid * (a_mid > a_lo) + (a_lo * 1.0000001) * (a_mid <= a_lo)
    mid_hi = a_mid * (a_mid < a_hi) + (a_hi / 1.0000001) * (a_mid >= a_hi)
    t_dec = _panel(a_lo, lo_mid, hh, False, ln, m1, m0, r1, lag1, r0, lag0) * (a_mid > a_lo)
    t_kl = _panel(mid_hi, a_hi, hh, True, ln, m1, m0, r1, lag1, r0, lag0) * (a_mid < a_hi)
    t = t_dec + t_kl
    never = (h >= a_end) & (a0 > a_end)
    return t * ok + big * never


# ----------------------------------------------------------------------------------------
# Time-dependent radii: the same decay with R⋆(t) and R_p(t) along the way
# ----------------------------------------------------------------------------------------
#: Sub-panels per panel and Gauss–Legendre nodes per sub-panel of the marching integral
#: (:func:`_sub_step` spells the four nodes out, so that each is computed once).
N_SUB = 4
N_NODE = 4
_XS, _WS = np.polynomial.legendre.leggauss(N_NODE)
SUB_T: tuple[float, ...] = tuple(float(v) for v in 0.5 * (_XS + 1.0))
SUB_W: tuple[float, ...] = tuple(float(v) for v in 0.5 * _WS)


def floor_index(x: Array) -> Array:
    """Floor of ``x`` as an integer index (NumPy; JAX and numba pass their own)."""
    return np.floor(x).astype(np.int64)


@register_jitable
def _node(x_lo: Array, ratio: Array, e: float, h: Array, kl: bool, m1: Array, m0: Array,
          lag1: Array, lag0: Array) -> tuple[Array, Array, Array, Array, Array, Array]:
    """One node x = x_lo ratio^e: (g, A, B, S, H, U); g / (A R_p⁵ + (B − S Ω⋆) R⋆⁵) integrand.

    |ȧ|/a = A R_p⁵ + (B − S Ω⋆) R⋆⁵: the pseudo-synchronous companion (the factors of
    :func:`decay_rate_fixed_h` without the radii) and the host spinning at Ω⋆, whose
    Hut (1981) factor is f1 − (1 − e²)^(3/2) f2 Ω⋆/n (S = B (1 − e²)^(3/2) f2 / (f1 n));
    g = x/a, times 1/j while KL cycles go on. The host's tide also changes
    h = a (1 − e²) (the companion's pseudo-synchronous one does not):
    ḣ/h = ȧ/a − 2e²/(1 − e²) ė/e = (H − U Ω⋆) R⋆⁵ from Hut's ȧ and ė, with
    H = −B (f1 − 9e² f3)/f1 and U = −S (f2 − (11/2) e² f4)/f2.
    """
    x = x_lo * ratio**e
    a = h + x
    e2 = x / a
    j2 = h / a
    f1 = 1.0 + e2 * (15.5 + e2 * (31.875 + e2 * (11.5625 + e2 * 0.390625)))
    f5 = 1.0 + e2 * (3.0 + e2 * 0.375)
    f2 = 1.0 + e2 * (7.5 + e2 * (5.625 + e2 * 0.3125))
    f3 = 1.0 + e2 * (3.75 + e2 * (1.875 + e2 * 0.078125))
    f4 = 1.0 + e2 * (1.5 + e2 * 0.125)
    pp = 3.5 + e2 * (11.25 + e2 * (28.0 + e2 * (10.703125 + e2 * (1.9921875
                                                                 + e2 * 0.048828125))))
    a2 = a * a
    c = 3.0 * G_AU3_MSUN_YR2 * (m0 + m1) / (a2 * a2 * a2 * a2) \
        / (j2 * j2 * j2 * j2 * j2 * j2 * j2 * j2**0.5)
    g = x / a
    if kl:
        g = g * (a / h) ** 0.5
    n_inv = (a * a2 / (G_AU3_MSUN_YR2 * (m0 + m1))) ** 0.5
    ch = c * lag0 * (m1 / m0)
    cs = ch * j2 * j2**0.5 * n_inv
    return g, c * lag1 * (m0 / m1) * e2 * pp / f5, ch * f1, cs * f2, \
        -ch * (f1 - 9.0 * e2 * f3), -cs * (f2 - 5.5 * e2 * f4)


@register_jitable
def _radii_at(t: Array, p: Array, r0_off: int, r1_off: int, r1_obs: Array, s1: Array,
              ln: Any, idx: Any, s_off: int, z0: Array, on0: Array, m0: Array,
              ex: Any) -> tuple[Array, Array, Array]:
    """(R_p⁵, R⋆⁵, Ω⋆ R⋆⁵) at age t: the tracks share one logarithm and one index.

    Ω⋆ is the host's spin (:func:`vlms_bayes.feasibility.spin.spin_from_nodes`: the spin
    tracks at ``p[s_off:]``, the draw's quantile ``z0``, break-up cap), times ``on0``.
    """
    x = (ln(t) - LN_T0) * INV_DLN
    x = x * (x > 0.0)
    top = N_TRACK - 1.000000001
    x = x - (x - top) * (x > top)
    i = idx(x)
    f = x - i
    r0 = p[r0_off + i] * (1.0 - f) + p[r0_off + i + 1] * f
    r1 = r1_obs * (1.0 + s1 * (p[r1_off + i] * (1.0 - f) + p[r1_off + i + 1] * f))
    r05 = r0 * r0 * r0 * r0 * r0
    om0 = on0 * spin_from_nodes(p, s_off, i, f, z0, r0, m0, ex)
    return r1 * r1 * r1 * r1 * r1, r05, om0 * r05


#: Floor of the decay rate |ȧ|/a (1/yr) in the marching sums: where the host's spin makes
#: its tide push outwards faster than the companion's pulls in, the orbit stalls; the
#: floor turns that into a finite, astronomically long duration (>= 1e29 yr) instead of a
#: division by a rate <= 0.
RATE_FLOOR = 1e-30


@register_jitable
def _inv_rate(den: Array) -> Array:
    """1 / max(den, :data:`RATE_FLOOR`), written as arithmetic (NumPy, JAX and numba)."""
    return 1.0 / (den * (den >= RATE_FLOOR) + RATE_FLOOR * (den < RATE_FLOOR))


@register_jitable
def _sub_step(i: Any, carry: tuple[Array, Array], x_lo: Array, ratio: Array, width: Array,
              h: Array, kl: bool, t0: Array, ln: Any, idx: Any, p: Array, r0_off: int,
              r1_off: int, m1: Array, m0: Array, lag1: Array, lag0: Array, r1_obs: Array,
              s1: Array, s_off: int, z0: Array, on0: Array, ex: Any) -> tuple[Array, Array]:
    """``carry`` = (duration, Δ ln h) plus those of sub-panel ``i`` (from the top) of :func:`march`.

    Δ ln h sums ḣ/h (the host's tide, :func:`_node`) times each node's share of the time.
    """
    dur, dlnh = carry
    e_lo = (N_SUB - 1 - i) / N_SUB
    w0, w1, w2, w3 = SUB_W
    g0, p0, q0, u0, h0, v0 = _node(x_lo, ratio, e_lo + SUB_T[0] / N_SUB, h, kl, m1, m0, lag1,
                                   lag0)
    g1, p1, q1, u1, h1, v1 = _node(x_lo, ratio, e_lo + SUB_T[1] / N_SUB, h, kl, m1, m0, lag1,
                                   lag0)
    g2, p2, q2, u2, h2, v2 = _node(x_lo, ratio, e_lo + SUB_T[2] / N_SUB, h, kl, m1, m0, lag1,
                                   lag0)
    g3, p3, q3, u3, h3, v3 = _node(x_lo, ratio, e_lo + SUB_T[3] / N_SUB, h, kl, m1, m0, lag1,
                                   lag0)
    t = t0 + dur
    r15, r05, w05 = _radii_at(t, p, r0_off, r1_off, r1_obs, s1, ln, idx, s_off, z0, on0, m0,
                              ex)
    d0 = width * (w0 * g0 * _inv_rate(p0 * r15 + q0 * r05 - u0 * w05)
                  + w1 * g1 * _inv_rate(p1 * r15 + q1 * r05 - u1 * w05)
                  + w2 * g2 * _inv_rate(p2 * r15 + q2 * r05 - u2 * w05)
                  + w3 * g3 * _inv_rate(p3 * r15 + q3 * r05 - u3 * w05))
    r15, r05, w05 = _radii_at(t + 0.5 * d0, p, r0_off, r1_off, r1_obs, s1, ln, idx, s_off,
                              z0, on0, m0, ex)
    k0 = w0 * g0 * _inv_rate(p0 * r15 + q0 * r05 - u0 * w05)
    k1 = w1 * g1 * _inv_rate(p1 * r15 + q1 * r05 - u1 * w05)
    k2 = w2 * g2 * _inv_rate(p2 * r15 + q2 * r05 - u2 * w05)
    k3 = w3 * g3 * _inv_rate(p3 * r15 + q3 * r05 - u3 * w05)
    return dur + width * (k0 + k1 + k2 + k3), \
        dlnh + width * (k0 * (h0 * r05 - v0 * w05) + k1 * (h1 * r05 - v1 * w05)
                        + k2 * (h2 * r05 - v2 * w05) + k3 * (h3 * r05 - v3 * w05))


@register_jitable
def march(a_lo: Array, a_hi: Array, h: Array, kl: bool, t0: Array, ln: Any, idx: Any,
          p: Array, r0_off: int, r1_off: int, m1: Array, m0: Array, lag1: Array,
          lag0: Array, r1_obs: Array, s1: Array, s_off: int, z0: Array, on0: Array,
          ex: Any) -> tuple[Array, Array]:
    """Duration of the decay from a_hi down to a_lo starting at age t0, radii evolving.

    :data:`N_SUB` sub-panels in u = ln(a − h), from the top (:func:`_sub_step`); on each,
    the :data:`N_NODE`-point Gauss–Legendre sum with the radii at the sub-panel's start age
    (predictor), then again with the radii at the predicted mid-age (corrector). A Python
    loop (NumPy, numba); JAX passes its own driver with the same steps
    (``jax.lax.fori_loop``, which compiles one step instead of four).
    """
    x_lo = a_lo - h
    ratio = (a_hi - h) / x_lo
    width = ln(ratio) / N_SUB
    carry = (0.0 * width, 0.0 * width)
    for i in range(N_SUB):
        carry = _sub_step(i, carry, x_lo, ratio, width, h, kl, t0, ln, idx, p, r0_off,
                          r1_off, m1, m0, lag1, lag0, r1_obs, s1, s_off, z0, on0, ex)
    return carry


def migration_time_evolving_yr(a0: Array, h: Array, a_end: Array, eps_gr0: Array,
                               m1: Array, m0: Array, lag1: Array, lag0: Array, t_start: Array,
                               r1_obs: Array, s1: Array, p: Array, r0_off: int, r1_off: int,
                               s_off: int, z0: Array, on0: Array, ln: Any = np.log,
                               idx: Any = floor_index, ex: Any = np.exp,
                               march_fn: Any = march) -> Array:
    """:func:`migration_time_yr` with radii that change with age along the migration.

    The decay starts at age ``t_start`` (the first high-eccentricity phase); the host's
    radius is the track ``p[r0_off:r0_off + N_TRACK]`` (AU) and the companion's
    r1_obs (1 + s1 ρ₋₁(t)) with the inflation track ``p[r1_off:...]``
    (:mod:`vlms_bayes.feasibility.radii`). The cycling panel (weight 1/j) comes first,
    then the decoupled one, each integrated by :func:`march`. With flat tracks this is
    the frozen-radius integral (same model, finer quadrature).

    Parameters
    ----------
    a0, h, a_end, eps_gr0, m1, m0 : array
        As :func:`migration_time_yr`.
    lag1, lag0 : array
        k2 Δt of the companion and of the host (yr).
    t_start : array
        Age (yr) at which the decay starts.
    r1_obs, s1 : array
        Companion's present radius (AU) and inflation amplitude.
    p : array
        Parameter vector holding the tracks.
    r0_off, r1_off : int
        Offsets of the host's radius track and of the companion's inflation track in ``p``.
    s_off : int
        Offset of the host's spin tracks in ``p`` (:mod:`vlms_bayes.feasibility.spin`).
    z0, on0 : array
        The draw's spin quantile, and 1 for a spinning host (0: non-rotating).
    ln, idx, ex : callable
        Logarithm, floor-to-index and exponential of the array library.
    march_fn : callable
        :func:`march` or a driver with its signature and steps (JAX: a ``fori_loop``).

    Returns
    -------
    array
        Duration in years: 0 if a0 ≤ a_end, ≥ 1e300 if h ≥ a_end.
    """
    big = 1e300
    ok = (h < a_end) & (a0 > a_end)
    a_hi = a0 * ok + (1.0 - ok) * 2.0
    a_lo = a_end * ok + (1.0 - ok) * 1.0
    hh = h * ok + (1.0 - ok) * 0.5
    a_dec = decoupling_axis_au(a_hi, hh, eps_gr0 + (1.0 - ok))
    a_mid = a_dec * (a_dec > a_lo) * (a_dec < a_hi) + a_lo * (a_dec <= a_lo) \
        + a_hi * (a_dec >= a_hi)
    lo_mid = a_mid * (a_mid > a_lo) + (a_lo * 1.0000001) * (a_mid <= a_lo)
    mid_hi = a_mid * (a_mid < a_hi) + (a_hi / 1.0000001) * (a_mid >= a_hi)
    t_kl, dl_kl = march_fn(mid_hi, a_hi, hh, True, t_start, ln, idx, p, r0_off, r1_off, m1,
                           m0, lag1, lag0, r1_obs, s1, s_off, z0, on0, ex)
    t_kl = t_kl * (a_mid < a_hi)
    t_dec, dl_dec = march_fn(a_lo, lo_mid, hh, False, t_start + t_kl, ln, idx, p, r0_off,
                             r1_off, m1, m0, lag1, lag0, r1_obs, s1, s_off, z0, on0, ex)
    t_dec = t_dec * (a_mid > a_lo)
    never = (h >= a_end) & (a0 > a_end)
    # the host's tide raised h = a(1 - e^2) to the window's top on the way: the orbit stalls
    # above it (first order in the drift; a spinning host's tide pushes h out)
    dlnh = dl_kl * (a_mid < a_hi) + dl_dec * (a_mid > a_lo)
    stall = ok & (hh * (1.0 + dlnh) >= a_end)
    return (t_kl + t_dec) * ok * (1.0 - stall) + big * never + big * stall
