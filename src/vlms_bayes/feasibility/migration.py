"""High-eccentricity migration time: the coupled (a, e) tidal decay, integrated.

Replaces the single-rate estimate τ_a(a0, e_max) = a0/|ȧ(a0, e_max)|, which was
optimistic: the decay slows as e falls, and while Kozai–Lidov cycles go on the companion
spends only part of each cycle near e_max.

Model (orbit-averaged equilibrium tides, Hut 1981 constant time lag, the formulas of
:mod:`vlms_bayes.feasibility.tides`): the companion spins pseudo-synchronously (no net
torque on its spin), so the orbital angular momentum is conserved and the decay follows
a (1 − e²) = h = a_F, the end point a0 (1 − e_max²); the host's (non-rotating) tide adds its
term. At fixed h the coupled (a, e) equations reduce to one equation for a, and the time to
reach a_end (the upper edge of the observed-orbit window, (1 + tol) a_obs) is the integral

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

Pure arithmetic: the same function runs in NumPy, JAX (``ln=jnp.log``) and numba (an
``njit`` logarithm passed in; the helpers are ``register_jitable``); units AU, Msun, yr.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba.extending import register_jitable

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
