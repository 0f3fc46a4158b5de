"""Analytic limits and published numbers for the feasibility physics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from vlms_bayes.feasibility import disk, kozai, tides, triple_stability
from vlms_bayes.feasibility.units import MJUP_MSUN, RJUP_AU, RSUN_AU

# TOI-6894 b (Bryant et al. 2025; dynamics spec §1)
M0, MP, RP, RS, A = 0.207, 0.168 * MJUP_MSUN, 0.855 * RJUP_AU, 0.2276 * RSUN_AU, 0.02604


def test_kl_timescale_antognini_normalisation():
    # period form (8/15π)(M_tot/m_out) P_out²/P_in (1-e_out²)^{3/2} with Kepler periods
    m0, m1, m3, a, a3, e3 = 0.3, 0.01, 0.5, 2.0, 80.0, 0.4
    p_in = np.sqrt(a**3 / (m0 + m1))
    p_out = np.sqrt(a3**3 / (m0 + m1 + m3))
    expect = 8 / (15 * np.pi) * (m0 + m1 + m3) / m3 * p_out**2 / p_in * (1 - e3**2) ** 1.5
    got = kozai.kl_timescale_yr(m0, m1, m3, a, a3, e3)
    assert got == pytest.approx(expect, rel=2e-4)  # G = 4π² AU³/(Msun yr²) to 1e-4


def test_spec_example_numbers():
    # dynamics spec §3b: m0=0.207, m_out=0.2, a=1, a_out=30, e_out=0.3
    assert kozai.kl_timescale_yr(0.207, 0.0, 0.2, 1.0, 30.0, 0.3) == pytest.approx(9.1e3, rel=0.01)
    assert kozai.epsilon_gr(0.207, 0.0, 0.2, 1.0, 30.0, 0.3) == pytest.approx(1.5e-4, rel=0.02)
    assert kozai.epsilon_oct(0.207, 0.0, 1.0, 30.0, 0.3) == pytest.approx(0.011, rel=0.01)


@pytest.mark.parametrize("incl_deg", [40.0, 45.0, 60.0, 75.0, 89.0, 120.0, 135.0])
def test_emax_test_particle_limit(incl_deg):
    c = np.cos(np.radians(incl_deg))
    e_max, ome = kozai.kl_emax(0.0, c, 0.5, 0.0, 0.0, 0.0)
    expect = np.sqrt(1 - 5 / 3 * c**2)
    assert e_max == pytest.approx(expect, rel=1e-9)
    assert ome == pytest.approx(1 - expect, rel=1e-7)


@pytest.mark.parametrize("incl_deg", [0.0, 10.0, 30.0, 39.0, 141.0, 170.0])
def test_no_kl_below_critical_inclination(incl_deg):
    e_max, _ = kozai.kl_emax(0.0, np.cos(np.radians(incl_deg)), 0.3, 0.0, 0.0, 0.0)
    assert e_max < 1e-6
    assert np.degrees(np.arccos(np.sqrt(kozai.COS2_I_CRIT))) == pytest.approx(39.2315, abs=1e-4)


@pytest.mark.parametrize("incl_deg", [60.0, 80.0, 90.0])
def test_gr_quench_threshold(incl_deg):
    c = np.cos(np.radians(incl_deg))
    thr = kozai.gr_quench_threshold(c)
    below, _ = kozai.kl_emax(1e-5, c, 1.0, 0.95 * thr, 0.0, 0.0)
    above, _ = kozai.kl_emax(1e-5, c, 1.0, 1.05 * thr, 0.0, 0.0)
    assert below > 0.05
    assert above < 1e-4


@pytest.mark.parametrize("eps_gr", [1e-4, 1e-3, 1e-2, 0.1, 1.0])
def test_emax_with_gr_against_closed_form(eps_gr):
    # i0 = 90°, e0 = 0: ε(1/j - 1) = (9/8)(1 - j²)/j² · j² ... (spec §3b), solved by brentq
    def f(j):
        e2 = 1 - j * j
        return eps_gr * (1 / j - 1) - 3 / 8 * e2 / j**2 * (3 * j**2)

    j_lim = brentq(f, 1e-12, 1 - 1e-12, xtol=1e-15)
    e_max, _ = kozai.kl_emax(0.0, 0.0, 1.0, eps_gr, 0.0, 0.0)
    assert e_max == pytest.approx(np.sqrt(1 - j_lim**2), rel=1e-9)
    if eps_gr <= 1e-3:
        assert j_lim == pytest.approx(8 / 9 * eps_gr, rel=5 * eps_gr)


def test_emax_conserves_energy_and_kozai_constant():
    rng = np.random.default_rng(3)
    e0 = rng.uniform(0, 0.3, 200)
    ci = rng.uniform(-1, 1, 200)
    s2 = rng.uniform(0, 1, 200)
    eg, et = 10 ** rng.uniform(-5, 0, 200), 10 ** rng.uniform(-9, -3, 200)
    e_max, _ = kozai.kl_emax(e0, ci, s2, eg, et, 0.0)
    k = np.sqrt(1 - e0**2) * ci
    e_init = kozai.kl_energy(1 - e0**2, e0**2, k, s2, eg, et, 0.0)
    moved = e_max > e0 + 1e-6
    em = e_max[moved]
    e_end = kozai.kl_energy(1 - em**2, em**2, k[moved], 1.0, eg[moved], et[moved], 0.0)
    assert moved.sum() > 50
    np.testing.assert_allclose(e_end, e_init[moved], rtol=1e-8, atol=1e-10)


def test_short_range_forces_lower_emax():
    c = np.cos(np.radians(85.0))
    e_none, _ = kozai.kl_emax(0.01, c, 0.2, 0.0, 0.0, 0.0)
    e_gr, _ = kozai.kl_emax(0.01, c, 0.2, 1e-2, 0.0, 0.0)
    e_both, _ = kozai.kl_emax(0.01, c, 0.2, 1e-2, 1e-4, 0.0)
    e_rot, _ = kozai.kl_emax(0.01, c, 0.2, 1e-2, 1e-4, 1e-3)
    assert e_none > e_gr > e_both > e_rot > 0.01


def _emax_reference(e0, cos_i, s2, eg, et, er, n_bisect=80):
    """Independent e_max: the same 32-point scan in y = ln(e²/j²), then plain bisection in
    y with an exponential at every midpoint, run far past convergence (80 halvings)."""
    e2_0, j2_0 = e0 * e0, (1 - e0) * (1 + e0)
    kk = np.sqrt(j2_0) * cos_i
    y0 = np.log(np.maximum(e2_0, kozai.E2_FLOOR) / j2_0)
    j2_end = np.minimum(np.maximum(kk * kk, kozai.J_FLOOR**2), j2_0)
    y_end = np.maximum(np.log(np.maximum(1 - j2_end, kozai.E2_FLOOR) / j2_end), y0)

    def gap(y):
        ex = np.exp(y)
        return kozai.kl_energy_gap(1 / (1 + ex), ex / (1 + ex), j2_0, e2_0, kk, s2, eg, et, er)

    step = (y_end - y0) / 32
    lo, hi, found = y0.copy(), y_end.copy(), np.zeros(e0.shape, bool)
    for k in range(1, 33):
        g = y0 + step * k
        neg = gap(g) < 0
        hi = np.where(neg & ~found, g, hi)
        lo = np.where(neg | found, lo, g)
        found |= neg
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        below = gap(mid) < 0
        lo, hi = np.where(below, lo, mid), np.where(below, mid, hi)
    x = np.exp(np.where(found, lo, y_end))
    e_max = np.sqrt(x / (1 + x))
    return e_max, 1 / (1 + x) / (1 + e_max), found


def test_emax_solver_converges_to_round_off():
    # The production solver (one exp-free bisection step per evaluation, 50 steps) against
    # an independent bisection in y run to convergence, over the whole range of strengths
    # the feasibility map meets (GR quenched to unquenched, tides and rotation on/off).
    rng = np.random.default_rng(5)
    n = 20_000
    e0 = rng.uniform(0, 0.5, n) * (rng.uniform(size=n) > 0.2)
    ci, s2 = rng.uniform(-1, 1, n), rng.uniform(0, 1, n)
    eg = 10 ** rng.uniform(-7, 2, n) * (rng.uniform(size=n) > 0.1)
    et = 10 ** rng.uniform(-14, 0, n) * (rng.uniform(size=n) > 0.3)
    er = 10 ** rng.uniform(-10, 0, n) * (rng.uniform(size=n) > 0.7)
    e_max, ome = kozai.kl_emax(e0, ci, s2, eg, et, er)
    e_ref, ome_ref, found = _emax_reference(e0, ci, s2, eg, et, er)
    assert found.mean() > 0.5  # most draws take the bisection branch
    np.testing.assert_allclose(e_max, e_ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ome, ome_ref, rtol=1e-12, atol=0)


@settings(max_examples=60, deadline=None)
@given(e0=st.floats(0.0, 0.9), incl=st.floats(0.0, 180.0), s2=st.floats(0.0, 1.0),
       lg=st.floats(-6, 1), lt=st.floats(-12, -1))
def test_emax_property_bounds(e0, incl, s2, lg, lt):
    e_max, ome = kozai.kl_emax(e0, np.cos(np.radians(incl)), s2, 10**lg, 10**lt, 0.0)
    assert e0 - 1e-9 <= e_max < 1.0
    assert 0.0 < ome <= 1.0
    e_more, _ = kozai.kl_emax(e0, np.cos(np.radians(incl)), s2, 10 ** (lg + 0.5), 10**lt, 0.0)
    assert e_more <= e_max + 1e-9  # stronger GR never raises e_max


@settings(max_examples=60, deadline=None)
@given(m3=st.floats(0.01, 1.0), a=st.floats(0.05, 10.0), a3=st.floats(5.0, 5000.0),
       e3=st.floats(0.0, 0.95))
def test_timescale_properties(m3, a, a3, e3):
    t = kozai.kl_timescale_yr(M0, MP, m3, a, a3, e3)
    assert t > 0
    assert kozai.kl_timescale_yr(M0, MP, m3, a, 1.1 * a3, e3) > t
    assert kozai.kl_timescale_yr(M0, MP, 1.1 * m3, a, a3, e3) < t
    assert kozai.lk_time_unit_yr(M0, MP, m3, a, a3, e3) == pytest.approx(15 / 16 * t, rel=1e-12)


def test_toi6894_tidal_numbers():
    # spec §1: r_t = 0.00445 AU, a_R = 0.0096 AU, τ_a = 3.8e11/12/13 yr for Q'⋆ = 1e5/6/7
    assert tides.disruption_radius_au(RP, MP, M0) == pytest.approx(0.00445, rel=0.005)
    assert tides.roche_limit_au(RP, MP, M0) == pytest.approx(0.0096, rel=0.005)
    for q, tau in ((1e5, 3.8e11), (1e6, 3.8e12), (1e7, 3.8e13)):
        assert tides.decay_time_constant_q_yr(A, M0, MP, RS, q) == pytest.approx(tau, rel=0.01)


def test_ctl_decay_at_zero_eccentricity_matches_closed_form():
    # Hut's da/dt at e=0 about a non-rotating body, with k2Δt from Q', equals the
    # constant-Q' decay (9/2)(m'/M)(R/a)^5 n / Q'
    for a in (0.01, 0.026, 0.1):
        n = np.sqrt(4 * np.pi**2 * (M0 + MP) / a**3)
        lag = tides.lag_from_qprime(1e6, n)
        rate = tides.dadt_ctl_per_yr(a, 0.0, M0, MP, RS, lag, 0.0)
        closed = tides.decay_time_constant_q_yr(a, M0, MP, RS, 1e6)
        assert -1 / rate == pytest.approx(closed, rel=1e-3)  # G vs 4π²


@settings(max_examples=50, deadline=None)
@given(e=st.floats(1e-3, 0.995), a=st.floats(0.02, 5.0))
def test_pseudo_synchronous_tides_conserve_angular_momentum(e, a):
    # at Ω = Ω_ps the tide exerts no torque on the spin: d/dt[a(1-e²)] = 0
    spin = tides.pseudo_synchronous_ratio(e)
    adot = tides.dadt_ctl_per_yr(a, e, MP, M0, RP, 1e-9, spin)
    edot_e = tides.dedt_over_e_ctl_per_yr(a, e, MP, M0, RP, 1e-9, spin)
    assert adot <= 0
    scale = 2 * e * e * abs(edot_e)
    assert adot * (1 - e * e) - 2 * e * e * edot_e == pytest.approx(0.0, abs=1e-8 * scale)


def test_circularisation_ctl_vs_goldreich_soter():
    # synchronised body, e -> 0: ė/e = -(63/8) n (m'/M)(R/a)^5/Q' with our lag mapping,
    # half the Goldreich & Soter (1966) rate (the semidiurnal-vs-annual tidal frequency)
    a = 0.05
    n = np.sqrt(4 * np.pi**2 * (M0 + MP) / a**3)
    rate = tides.dedt_over_e_ctl_per_yr(a, 1e-6, MP, M0, RP, tides.lag_from_qprime(1e5, n), 1.0)
    gs = tides.circularisation_time_constant_q_yr(a, MP, M0, RP, 1e5)
    assert -1 / rate == pytest.approx(2 * gs, rel=1e-3)


def test_mardling_aarseth_examples():
    assert triple_stability.ma01_critical_ratio(1.0, 0.0, 0.0) == pytest.approx(3.69, abs=0.01)
    assert triple_stability.ma01_critical_ratio(2.4, 0.3, np.pi / 3) == pytest.approx(7.01,
                                                                                       abs=0.01)
    assert triple_stability.ma01_stable(1.0, 3.8, 1.0, 0.0, 0.0)
    assert not triple_stability.ma01_stable(1.0, 3.6, 1.0, 0.0, 0.0)


def test_disk_worked_example():
    # spec §3e: M⋆=0.2, Mp=0.168 MJ, h=0.05, Σ∝1/r, R_out=30 AU, α_ν=1e-3
    ms, mp = 0.2, 0.168 * MJUP_MSUN
    s0 = disk.sigma0_msun_au2(ms, 0.01)
    assert disk.msun_per_au2_to_g_per_cm2(s0) == pytest.approx(94, rel=0.01)
    assert disk.type1_time_yr(1.0, ms, mp, s0) == pytest.approx(5.5e3, rel=0.01)
    assert disk.type2_time_yr(1.0, ms, mp, s0) == pytest.approx(4.6e5, rel=0.01)
    assert disk.type2_time_yr(5.0, ms, mp, s0 / 5) == pytest.approx(1.0e6, rel=0.03)
    s3 = disk.sigma0_msun_au2(ms, 0.003)
    assert disk.type2_time_yr(1.0, ms, mp, s3) == pytest.approx(1.5e6, rel=0.03)
    assert disk.type2_time_yr(5.0, ms, mp, s3 / 5) == pytest.approx(3.4e6, rel=0.03)
    assert disk.kanagawa_k(mp / ms) == pytest.approx(2056, rel=0.002)
    assert disk.gap_opening_parameter(mp / ms) < 1  # Saturn-mass: gap opens (Type II)
    assert disk.gap_opening_parameter(10 * 3.0e-6 / ms) > 1  # 10 Earth masses: Type I


def test_disk_lifetime_and_migration_integral():
    k, lam = disk.DISK_LIFETIME_WEIBULL
    assert disk.disk_lifetime_quantile_yr(0.5) == pytest.approx(lam * np.log(2) ** (1 / k))
    # τ ∝ r^{1/2} for Σ ∝ 1/r: ∫τ dr/r from r1 to r0 = 2 τ(r0)(1 - sqrt(r1/r0))
    ms, mp, s0 = 0.2, 1e-4, disk.sigma0_msun_au2(0.2, 0.01)

    def tau(r):
        return disk.type1_time_yr(r, ms, mp, s0 / r)

    got = disk.migration_time_to_yr(2.0, 0.1, tau)[0]
    assert got == pytest.approx(2 * tau(2.0) * (1 - np.sqrt(0.1 / 2.0)), rel=1e-4)


def test_secular_integrator_quadrupole_limit_and_conservation():
    from vlms_bayes.feasibility import secular

    one = np.ones(2)
    p = secular.TripleParams(one, 1e-6 * one, one, 20 * one, 0 * one, 0.005 * one,
                             5e-4 * one, 0.29 * one, 0.37 * one, 0 * one, 0 * one,
                             np.array([0.0, 1.0]), 0 * one)
    y0 = secular.initial_state(0.01 * one, np.radians(80) * one, 0.3 * one, 2.0 * one, one)
    t_kl = kozai.kl_timescale_yr(1.0, 1e-6, 1.0, 1.0, 20.0, 0.0)
    out = secular.integrate_batch(y0, p, 6 * t_kl * one, 0 * one, rtol=1e-10)
    # no GR: test-particle e_max; GR on (ε_GR ≈ 3e-3 here): a lower e_max, as the closed form
    e_tp, _ = kozai.kl_emax(0.01, np.cos(np.radians(80)), np.sin(0.3) ** 2, 0.0, 0.0, 0.0)
    assert e_tp == pytest.approx(kozai.emax_test_particle(np.cos(np.radians(80))), abs=1e-4)
    assert out.e_max[0] == pytest.approx(e_tp, abs=2e-4)
    eg = kozai.epsilon_gr(1.0, 1e-6, 1.0, 1.0, 20.0, 0.0)
    e_gr, _ = kozai.kl_emax(0.01, np.cos(np.radians(80)), np.sin(0.3) ** 2, eg, 0.0, 0.0)
    assert out.e_max[1] == pytest.approx(e_gr, abs=2e-3)
    np.testing.assert_allclose(out.energy_end, out.energy0, rtol=1e-8)
    jv, ev = out.y[:, :3], out.y[:, 3:6]
    np.testing.assert_allclose((jv**2).sum(1) + (ev**2).sum(1), 1.0, atol=1e-8)
    np.testing.assert_allclose((jv * ev).sum(1), 0.0, atol=1e-8)
    np.testing.assert_allclose(jv[:, 2], y0[:, 2], rtol=1e-7)  # Kozai constant (no octupole)


@settings(max_examples=60, deadline=None)
@given(a=st.floats(0.015, 5.0), e=st.floats(0.01, 0.99), lq=st.floats(4.0, 8.0))
def test_tidal_times_positive_and_monotone(a, e, lq):
    n = np.sqrt(4 * np.pi**2 * (M0 + MP) / A**3)
    lag = tides.lag_from_qprime(10**lq, n)
    spin = tides.pseudo_synchronous_ratio(e)
    t = -1 / tides.dadt_ctl_per_yr(a, e, MP, M0, RP, lag, spin)
    assert t > 0  # (a synchronised planet on a circular orbit, e = 0, raises no net tide)
    # farther (at fixed e) and less dissipative (larger Q') -> slower
    assert -1 / tides.dadt_ctl_per_yr(1.2 * a, e, MP, M0, RP, lag, spin) > t
    assert -1 / tides.dadt_ctl_per_yr(a, e, MP, M0, RP, lag / 2, spin) > t
    # at fixed a, higher e (smaller periastron) -> faster
    e2 = min(e + 0.005, 0.995)
    assert -1 / tides.dadt_ctl_per_yr(a, e2, MP, M0, RP, lag,
                                      tides.pseudo_synchronous_ratio(e2)) <= t * (1 + 1e-12)
    assert tides.decay_time_constant_q_yr(a, M0, MP, RS, 10**lq) > 0


@settings(max_examples=40, deadline=None)
@given(r=st.floats(0.05, 20.0), fd=st.floats(1e-4, 0.1), mp_mj=st.floats(0.01, 10.0))
def test_disk_times_positive_and_ordered(r, fd, mp_mj):
    ms, mp = 0.2, mp_mj * MJUP_MSUN
    s = disk.sigma0_msun_au2(ms, fd) / r
    t1 = disk.type1_time_yr(r, ms, mp, s)
    t2 = disk.type2_time_yr(r, ms, mp, s)
    assert 0 < t1 <= t2
    assert disk.type1_time_yr(r, ms, mp, 2 * s) < t1  # heavier disk -> faster
    assert disk.gap_opening_parameter(2 * mp / ms) < disk.gap_opening_parameter(mp / ms)


_SPLIT_SECULAR = """
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax, numpy as np
assert jax.local_device_count() == 2
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from secular_batches import batches
from vlms_bayes.feasibility import secular
out = secular.integrate_batches(batches(), rtol=1e-8, max_steps=4000)
np.save(sys.argv[2], np.concatenate([np.concatenate([np.ravel(f) for f in o]) for o in out]))
"""

_BATCHES = """
import numpy as np
from vlms_bayes.feasibility import secular

def batches():
    rng = np.random.default_rng(5)
    out = []
    for _ in range(3):
        one = np.ones(4)
        p = secular.TripleParams(one, 1e-3 * one, rng.uniform(0.1, 1.0, 4), 20 * one,
                                 rng.uniform(0.0, 0.5, 4), 0.005 * one, 5e-4 * one,
                                 0.29 * one, 0.37 * one, 0 * one, 0 * one, one, 0 * one)
        y0 = secular.initial_state(0.01 * one, np.radians(rng.uniform(60, 90, 4)),
                                   0.3 * one, 2.0 * one, one)
        out.append((y0, p, 2e6 * one, 0 * one))
    return out
"""


@pytest.mark.slow  # two JAX processes compile the integrator (~1 min on 2 shared cores)
def test_secular_batches_over_two_devices_match_one_device_bit_for_bit(tmp_path):
    # integrate_batches spreads the batches over JAX's host devices (one per core from the
    # command line); each batch is the same computation, so the outcomes are those of one
    # device, bit for bit
    import os
    import subprocess
    import sys
    from pathlib import Path

    from vlms_bayes.feasibility import secular

    (tmp_path / "secular_batches.py").write_text(_BATCHES)
    sys.path.insert(0, str(tmp_path))
    try:
        from secular_batches import batches
    finally:
        sys.path.remove(str(tmp_path))
    one_dev = secular.integrate_batches(batches(), rtol=1e-8, max_steps=4000)
    src = str(Path(secular.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    env.pop("XLA_FLAGS", None)
    out = tmp_path / "two.npy"
    subprocess.run([sys.executable, "-c", _SPLIT_SECULAR, str(tmp_path / "secular_batches.py"),
                    str(out)], check=True, env=env, timeout=300)
    flat = np.concatenate([np.concatenate([np.ravel(f) for f in o]) for o in one_dev])
    assert np.all(np.concatenate([o.n_steps for o in one_dev]) > 10)  # real integrations
    np.testing.assert_array_equal(np.load(out), flat)
