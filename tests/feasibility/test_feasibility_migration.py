"""The integrated migration time against a direct ODE integration of Hut's equations."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from vlms_bayes.feasibility import migration as mg
from vlms_bayes.feasibility import tides
from vlms_bayes.feasibility.units import G_AU3_MSUN_YR2, MJUP_MSUN, RJUP_AU, RSUN_AU

M0, M1 = 0.207, 0.168 * MJUP_MSUN
R0, R1 = 0.2276 * RSUN_AU, 0.855 * RJUP_AU
A_OBS = 0.02604
A_END = 1.1 * A_OBS
_N = math.sqrt(G_AU3_MSUN_YR2 * (M0 + M1) / A_OBS**3)
LAG1, LAG0 = tides.lag_from_qprime(1e5, _N), tides.lag_from_qprime(1e6, _N)


def ode_time(a0: float, e0: float, eps0: float) -> float:
    """Hut's da/dt and de/dt (both bodies), rates times j while the KL cycles go on."""
    def rhs(_t, y):
        # trial steps of the solver may overshoot; clip them (error control rejects them)
        a, e = max(y[0], 1e-3), min(max(y[1], 0.0), 1 - 1e-12)
        j = math.sqrt(1 - e * e)
        spin = tides.pseudo_synchronous_ratio(e)
        ra = tides.dadt_ctl_per_yr(a, e, M1, M0, R1, LAG1, spin) \
            + tides.dadt_ctl_per_yr(a, e, M0, M1, R0, LAG0, 0.0)
        re = tides.dedt_over_e_ctl_per_yr(a, e, M1, M0, R1, LAG1, spin) \
            + tides.dedt_over_e_ctl_per_yr(a, e, M0, M1, R0, LAG0, 0.0)
        w = j if eps0 * (a0 / a) ** 4 < j else 1.0  # duty cycle near e_max, then decoupled
        return [w * a * ra, w * e * re]

    def hit(_t, y):
        return y[0] - A_END

    hit.terminal = True
    sol = solve_ivp(rhs, [0, 1e12], [a0, e0], method="DOP853", rtol=1e-10, atol=1e-14,
                    events=hit)
    return float(sol.t_events[0][0])


CASES = [(1.0, 0.95, 1e-3), (0.5, 1.05, 0.05), (2.0, 0.9, 0.0), (0.3, 1.09, 0.2),
         (3.0, 0.8, 1e-2)]


@pytest.mark.parametrize(("a0", "h_over_aobs", "eps0"), CASES)
def test_integrated_time_matches_ode(a0, h_over_aobs, eps0):
    h = h_over_aobs * A_OBS
    t_q = mg.migration_time_yr(a0, h, A_END, eps0, M1, M0, R1, LAG1, R0, LAG0)
    t_o = ode_time(a0, math.sqrt(1 - h / a0), eps0)
    assert t_q == pytest.approx(t_o, rel=1e-2)
    # the single-rate estimate tau_a(a0, e_max) was several times too short
    e = math.sqrt(1 - h / a0)
    rate = tides.dadt_ctl_per_yr(a0, e, M1, M0, R1, LAG1, tides.pseudo_synchronous_ratio(e)) \
        + tides.dadt_ctl_per_yr(a0, e, M0, M1, R0, LAG0, 0.0)
    assert t_o > 2.5 * (-1.0 / rate)


def test_edges_and_backends_agree():
    import jax
    import jax.numpy as jnp

    args = (1.0, 0.95 * A_OBS, A_END, 1e-3, M1, M0, R1, LAG1, R0, LAG0)
    ln = numba.njit(lambda x: math.log(x))
    nb = numba.njit(error_model="numpy")(mg.migration_time_yr)
    with jax.enable_x64(True):
        tj = float(jax.jit(lambda *a: mg.migration_time_yr(*a, ln=jnp.log))(*args))
    t_np = mg.migration_time_yr(*args)
    assert nb(*args, ln) == pytest.approx(t_np, rel=1e-12)
    assert tj == pytest.approx(t_np, rel=1e-12)
    # already inside the window: 0; end point above the window: never
    assert mg.migration_time_yr(0.02, 0.95 * A_OBS, A_END, 1e-3, M1, M0, R1, LAG1, R0,
                                LAG0) == 0.0
    assert mg.migration_time_yr(1.0, 1.2 * A_OBS, A_END, 1e-3, M1, M0, R1, LAG1, R0,
                                LAG0) >= 1e300
    # KL weighting only lengthens the migration
    no_kl = mg.migration_time_yr(1.0, 0.95 * A_OBS, A_END, 1e6, M1, M0, R1, LAG1, R0, LAG0)
    assert no_kl < t_np
    assert np.isfinite(no_kl)


@pytest.mark.parametrize(("a0", "h_over_aobs", "eps0"),
                         [(5.0, 1.0999, 1e-4), (5.0, 0.9, 1e-5), (0.1, 1.0, 0.5),
                          (5.0, 1.0999999, 0.0)])
def test_quadrature_at_the_extremes(a0, h_over_aobs, eps0):
    """End point just inside the window, widest orbits: adaptive quadrature agrees to 0.2 %."""
    from scipy.integrate import quad

    h = h_over_aobs * A_OBS

    def f(v: float, kl: bool) -> float:
        a = h + math.exp(v)
        w = math.sqrt(a / h) if kl else 1.0
        return w * math.exp(v) / (a * mg.decay_rate_fixed_h(a, h, M1, M0, R1, LAG1, R0, LAG0))

    a_dec = min(max(mg.decoupling_axis_au(a0, h, eps0) if eps0 > 0 else 0.0, A_END), a0)
    u_end, u_dec, u0 = (math.log(x - h) for x in (A_END, a_dec, a0))
    ref = quad(f, u_end, u_dec, args=(False,), limit=500, epsrel=1e-12)[0] \
        + quad(f, u_dec, u0, args=(True,), limit=500, epsrel=1e-12)[0]
    got = mg.migration_time_yr(a0, h, A_END, eps0, M1, M0, R1, LAG1, R0, LAG0)
    assert got == pytest.approx(ref, rel=2e-3)
