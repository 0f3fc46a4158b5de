"""Orbit-averaged secular evolution of a hierarchical triple in vector form (JAX).

The inner orbit is described by its dimensionless angular-momentum vector j (|j| =
sqrt(1 - e²)), its eccentricity vector e and ln a; the outer orbit is fixed (test-particle
limit, L_in << L_out), with its angular momentum along z (n̂) and its pericentre along x
(û). The conservative part follows from a scalar energy φ = Φ/Φ0 through the Milankovitch
equations (Tremaine, Touma & Kazandjian 2009), with time unit t_LK (:func:`kozai.lk_time_unit_yr`):

    dj/dt = -(j × ∇_j φ + e × ∇_e φ) / t_LK,   de/dt = -(j × ∇_e φ + e × ∇_j φ) / t_LK,

the gradients taken by ``jax.grad``. φ holds

* the quadrupole (1/8)[1 - 6e² - 3 (j·n̂)² + 15 (e·n̂)²];
* the test-particle octupole of Katz, Dong & Malhotra (2011) (as in the ``kozai``
  package), -ε_oct (75/64)[(e·û)(1/5 - 8/5 e² + 7 (e·n̂)² - (j·n̂)²) - 2 (e·n̂)(j·û)(j·n̂)];
* 1PN GR -ε_GR/|j|, the tidal bulges -(ε_tide/15)(1 + 3e² + 3e⁴/8)/|j|⁹ and the
  rotational bulges of the host and the companion -(ε_rot/3)/|j|³, spins along the
  inner orbit's normal (as in :mod:`kozai`).

Dissipation: the companion's equilibrium tide (Hut 1981, constant time lag) with the
companion spinning pseudo-synchronously, so that ė/e follows Hut's formula and the orbital
angular momentum a(1 - e²) is conserved (:mod:`tides`).

The integrator is an adaptive Dormand–Prince 5(4) scheme in ``lax.while_loop``, written for
one triple and ``vmap``-ped over many; it stops at the end time, at disruption (periastron
below ``r_dis_au``) or after ``max_steps``. Call inside ``jax.enable_x64(True)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from vlms_bayes.feasibility import kozai, tides

Array = Any

#: Dormand–Prince 5(4) tableau.
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = ((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
      (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
      (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
      (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84))
_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_BS = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)


class TripleParams(NamedTuple):
    """Physical parameters of one triple (JAX pytree; all scalars, units in names)."""

    m0_msun: Array
    m1_msun: Array
    m_out_msun: Array
    a_out_au: Array
    e_out: Array
    r0_au: Array
    r1_au: Array
    k2_0: Array
    k2_1: Array
    lag1_yr: Array  # k2 Δt of the companion (0: no dissipation)
    oct_on: Array
    gr_on: Array
    tide_on: Array
    spin0_per_yr: Array = 0.0  # the host's spin Ω⋆ (rad/yr; 0: non-rotating)
    spin1_per_yr: Array = 0.0  # the companion's spin (rad/yr; 0: no rotational bulge)


def initial_state(e0: Array, incl_rad: Array, omega_rad: Array, node_rad: Array,
                  a0_au: Array) -> np.ndarray:
    """State vector (j, e, ln a) from orbital elements relative to the outer orbit."""
    e0, i, w, big_w, a0 = (np.asarray(x, float) for x in (e0, incl_rad, omega_rad, node_rad,
                                                          a0_au))
    j = np.sqrt(1 - e0**2)
    jv = j[..., None] * np.stack([np.sin(i) * np.sin(big_w), -np.sin(i) * np.cos(big_w),
                                  np.cos(i)], -1)
    ev = e0[..., None] * np.stack([
        np.cos(w) * np.cos(big_w) - np.sin(w) * np.sin(big_w) * np.cos(i),
        np.cos(w) * np.sin(big_w) + np.sin(w) * np.cos(big_w) * np.cos(i),
        np.sin(w) * np.sin(i)], -1)
    return np.concatenate([jv, ev, np.log(a0)[..., None]], -1)


def _strengths(p: TripleParams, a: Array) -> tuple[Array, Array, Array, Array, Array]:
    t_lk = kozai.lk_time_unit_yr(p.m0_msun, p.m1_msun, p.m_out_msun, a, p.a_out_au, p.e_out)
    eps_oct = p.oct_on * kozai.epsilon_oct(p.m0_msun, p.m1_msun, a, p.a_out_au, p.e_out)
    eps_gr = p.gr_on * kozai.epsilon_gr(p.m0_msun, p.m1_msun, p.m_out_msun, a, p.a_out_au,
                                        p.e_out)
    eps_tide = p.tide_on * kozai.epsilon_tide(p.m0_msun, p.m1_msun, p.m_out_msun, a,
                                              p.a_out_au, p.e_out, p.r1_au, p.k2_1, p.r0_au,
                                              p.k2_0)
    eps_rot = kozai.epsilon_rot_host(p.m0_msun, p.m1_msun, p.m_out_msun, a, p.a_out_au,
                                     p.e_out, p.r0_au, p.k2_0, p.spin0_per_yr) \
        + kozai.epsilon_rot(p.m0_msun, p.m1_msun, p.m_out_msun, a, p.a_out_au, p.e_out,
                            p.r1_au, p.k2_1, p.spin1_per_yr)
    return t_lk, eps_oct, eps_gr, eps_tide, eps_rot


def energy(jv: Array, ev: Array, eps_oct: Array, eps_gr: Array, eps_tide: Array,
           eps_rot: Array = 0.0) -> Array:
    """Dimensionless secular energy φ = Φ/Φ0 (conserved without dissipation)."""
    import jax.numpy as jnp  # heavy: JAX

    e2 = jnp.dot(ev, ev)
    jmag = jnp.sqrt(jnp.dot(jv, jv))
    ex, ez, jx, jz = ev[0], ev[2], jv[0], jv[2]
    quad = 0.125 * (1.0 - 6.0 * e2 - 3.0 * jz * jz + 15.0 * ez * ez)
    octu = -eps_oct * 75.0 / 64.0 * (ex * (0.2 - 1.6 * e2 + 7.0 * ez * ez - jz * jz)
                                     - 2.0 * ez * jx * jz)
    srf = -eps_gr / jmag - eps_tide / 15.0 * (1.0 + 3.0 * e2 + 0.375 * e2 * e2) / jmag**9 \
        - eps_rot / 3.0 / jmag**3
    return quad + octu + srf


def rhs(y: Array, p: TripleParams) -> Array:
    """Time derivative of the state (j, e, ln a), per year."""
    import jax  # heavy: JAX
    import jax.numpy as jnp  # heavy: JAX

    jv, ev, lna = y[:3], y[3:6], y[6]
    a = jnp.exp(lna)
    t_lk, eps_oct, eps_gr, eps_tide, eps_rot = _strengths(p, a)
    gj, ge = jax.grad(energy, argnums=(0, 1))(jv, ev, eps_oct, eps_gr, eps_tide, eps_rot)
    djdt = -(jnp.cross(jv, gj) + jnp.cross(ev, ge)) / t_lk
    dedt = -(jnp.cross(jv, ge) + jnp.cross(ev, gj)) / t_lk
    e2 = jnp.dot(ev, ev)
    emag = jnp.sqrt(e2)
    rate = tides.dedt_over_e_ctl_per_yr(a, emag, p.m1_msun, p.m0_msun, p.r1_au, p.lag1_yr,
                                        tides.pseudo_synchronous_ratio(emag))
    j2 = 1.0 - e2
    dedt = dedt + rate * ev
    djdt = djdt - (e2 * rate / j2) * jv
    dlna = 2.0 * e2 * rate / j2
    return jnp.concatenate([djdt, dedt, dlna[None]])


class SecularOutcome(NamedTuple):
    """End state of one integration."""

    t_yr: Array
    y: Array
    e_max: Array
    disrupted: Array
    n_steps: Array
    energy0: Array
    energy_end: Array


def integrate(y0: Array, p: TripleParams, t_end_yr: Array, r_dis_au: Array, *,
              rtol: float = 1e-9, atol: float = 1e-11, max_steps: int = 200_000) -> SecularOutcome:
    """Integrate one triple with adaptive Dormand–Prince 5(4) (JAX, ``vmap``-able).

    Parameters
    ----------
    y0 : array, shape (7,)
        Initial (j, e, ln a) (:func:`initial_state`).
    p : TripleParams
        Physical parameters.
    t_end_yr : float
        End time.
    r_dis_au : float
        Disruption distance: the integration stops once a(1 - e) < r_dis.
    rtol, atol : float
        Error tolerances on the state.
    max_steps : int
        Step limit (accepted and rejected).

    Returns
    -------
    SecularOutcome
        Time reached, final state, largest e seen at step ends, disruption flag, step
        count and the energy φ at start and end (equal without dissipation).
    """
    import jax  # heavy: JAX
    import jax.numpy as jnp  # heavy: JAX

    def stages(y: Array, h: Array) -> tuple[Array, Array]:
        ks = []
        for i in range(7):
            yi = y
            for aij, kj in zip(_A[i], ks, strict=False):
                yi = yi + h * aij * kj
            ks.append(rhs(yi, p))
        y5 = y + h * sum(b * k for b, k in zip(_B, ks, strict=True))
        err = h * sum((b - bs) * k for b, bs, k in zip(_B, _BS, ks, strict=True))
        return y5, err

    t_lk0 = _strengths(p, jnp.exp(y0[6]))[0]

    def cond(s: tuple) -> Array:
        t, _, _, _, dis, n = s
        return (t < t_end_yr) & (~dis) & (n < max_steps)

    def body(s: tuple) -> tuple:
        t, y, h, emax, dis, n = s
        h = jnp.minimum(h, t_end_yr - t)
        y_new, err = stages(y, h)
        scale = atol + rtol * jnp.maximum(jnp.abs(y), jnp.abs(y_new))
        en = jnp.sqrt(jnp.mean((err / scale) ** 2))
        ok = (en <= 1.0) & jnp.all(jnp.isfinite(y_new))
        fac = jnp.clip(0.9 * jnp.where(en > 0, en, 1e-10) ** -0.2, 0.2, 5.0)
        fac = jnp.where(jnp.isfinite(fac), fac, 0.2)
        y = jnp.where(ok, y_new, y)
        t = jnp.where(ok, t + h, t)
        e = jnp.sqrt(jnp.dot(y[3:6], y[3:6]))
        emax = jnp.maximum(emax, e)
        dis = dis | (jnp.exp(y[6]) * (1.0 - e) < r_dis_au)
        return t, y, h * fac, emax, dis, n + 1

    e0 = jnp.sqrt(jnp.dot(y0[3:6], y0[3:6]))
    s0 = (jnp.zeros(()), y0, 1e-3 * t_lk0, e0, jnp.zeros((), bool), jnp.zeros((), jnp.int32))
    t, y, _, emax, dis, n = jax.lax.while_loop(cond, body, s0)

    def en(yy: Array) -> Array:
        _, eo, eg, et, er = _strengths(p, jnp.exp(yy[6]))
        return energy(yy[:3], yy[3:6], eo, eg, et, er)

    return SecularOutcome(t, y, emax, dis, n, en(y0), en(y))


_BATCH_CACHE: dict[tuple, Any] = {}


def integrate_batch(y0: np.ndarray, params: TripleParams, t_end_yr: np.ndarray,
                    r_dis_au: np.ndarray, *, device: Any = None,
                    **kwargs: Any) -> SecularOutcome:
    """:func:`integrate` vmapped and jitted over a batch (float64 inside).

    The compiled function is kept per set of keyword arguments, so repeated calls (chunks
    of candidates) compile once per batch shape. ``device`` (a JAX device) runs the batch
    there (default: JAX's default device).
    """
    import jax  # heavy: JAX
    import jax.numpy as jnp  # heavy: JAX

    key = tuple(sorted(kwargs.items()))
    with jax.enable_x64(True):
        if key not in _BATCH_CACHE:
            _BATCH_CACHE[key] = jax.jit(jax.vmap(
                lambda y, p, t, r: integrate(y, p, t, r, **kwargs)))
        f = _BATCH_CACHE[key]
        n = np.shape(y0)[0]  # scalar fields (e.g. the default spins) broadcast to the batch
        args = (jnp.asarray(y0), TripleParams(*(jnp.broadcast_to(jnp.asarray(x, float), (n,))
                                                for x in params)),
                jnp.asarray(t_end_yr, float), jnp.asarray(r_dis_au, float))
        if device is not None:
            args = jax.device_put(args, device)
        out = f(*args)
        return SecularOutcome(*(np.asarray(x) for x in out))


def integrate_batches(batches: Sequence[tuple[np.ndarray, TripleParams, np.ndarray,
                                              np.ndarray]],
                      **kwargs: Any) -> list[SecularOutcome]:
    """:func:`integrate_batch` over several batches, spread over JAX's local devices.

    With several host devices (one per core, as the command line sets up) batch i runs on
    device i mod n_devices, the devices in parallel (one thread each; JAX releases the GIL
    while a batch runs). Each batch is the same computation on the same inputs whatever the
    device, so the outcomes do not depend on the number of devices (a test holds them bit
    for bit to one device's).
    """
    import jax  # heavy: JAX

    devices = jax.local_devices()
    n_dev = min(len(devices), len(batches))
    if n_dev <= 1:
        return [integrate_batch(*b, **kwargs) for b in batches]
    def worker(w: int) -> list[tuple[int, SecularOutcome]]:
        return [(i, integrate_batch(*batches[i], device=devices[w], **kwargs))
                for i in range(w, len(batches), n_dev)]

    out: list[SecularOutcome | None] = [None] * len(batches)
    with ThreadPoolExecutor(max_workers=n_dev) as pool:
        for part in pool.map(worker, range(n_dev)):
            for i, r in part:
                out[i] = r
    return out  # type: ignore[return-value]
