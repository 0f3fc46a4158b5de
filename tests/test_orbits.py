"""Kepler's law, mass ratios and log-space error propagation against independent numbers."""

import numpy as np
import pytest
from astropy import constants as const
from astropy import units as u
from hypothesis import given
from hypothesis import strategies as st

from vlms_bayes import orbits


def test_msun_per_mjup_comes_from_astropy():
    assert orbits.MJUP_PER_MSUN == pytest.approx(1047.57, abs=0.01)


def test_earth_orbit_is_one_au():
    # one sidereal year around one solar mass (plus Earth's mass) is 1 AU to 1e-5
    a = orbits.semimajor_axis_au(365.256363, 1.0, (const.M_earth / const.M_jup).value)
    assert a == pytest.approx(1.0, rel=2e-5)


def test_toi6894b_kepler_matches_archive():
    # archive: P = 3.37077196 d, M* = 0.207 Msun, Mp = 0.168 MJ -> a = 0.02604 AU (spec: 0.02603)
    a = orbits.semimajor_axis_au(3.37077196, 0.207, 0.168)
    assert a == pytest.approx(0.02604, abs=2e-5)


def test_kepler_against_astropy_quantities():
    p, m = 411.3 * u.day, 0.31 * u.M_sun
    expected = ((const.G * m * p**2 / (4 * np.pi**2)) ** (1 / 3)).to_value(u.AU)
    assert orbits.semimajor_axis_au(411.3, 0.31) == pytest.approx(expected, rel=1e-12)


@given(st.floats(0.1, 1e5), st.floats(0.01, 2.0), st.floats(0.0, 80.0))
def test_period_and_axis_are_inverse(p, ms, mc):
    a = orbits.semimajor_axis_au(p, ms, mc)
    assert orbits.period_day(a, ms, mc) == pytest.approx(p, rel=1e-10)


def test_mass_ratio():
    assert orbits.mass_ratio(1.0, 1.0) == pytest.approx(1 / orbits.MJUP_PER_MSUN)
    assert orbits.mass_ratio(0.168, 0.207) == pytest.approx(7.75e-4, rel=1e-3)


def test_axis_error_propagation_matches_monte_carlo():
    rng = np.random.default_rng(3)
    p, sp, ms, sms, mc, smc = 400.0, 4.0, 0.13, 0.01, 40.0, 5.0
    a, hi, lo = orbits.semimajor_axis_errors_au(p, sp, sp, ms, sms, sms, mc, smc, smc)
    draws = orbits.semimajor_axis_au(rng.normal(p, sp, 200_000), rng.normal(ms, sms, 200_000),
                                     rng.normal(mc, smc, 200_000))
    assert hi == pytest.approx(lo)
    assert np.std(draws) == pytest.approx(hi, rel=0.03)
    assert np.median(draws) == pytest.approx(a, rel=1e-3)


def test_axis_errors_asymmetric_and_missing():
    a, hi, lo = orbits.semimajor_axis_errors_au(100.0, 10.0, np.nan, 0.1, 0.0, 0.0, 1.0, 0, 0)
    assert hi == pytest.approx(a * 2 / 3 * 0.1, rel=1e-9)
    assert lo == 0.0


def test_log10_errors_exact_and_linearised():
    hi, lo = orbits.log10_errors(10.0, 10.0, 5.0)
    assert hi == pytest.approx(np.log10(20) - 1)
    assert lo == pytest.approx(1 - np.log10(5))
    # error bar reaching zero: linearised
    hi, lo = orbits.log10_errors(1.0, 0.1, 1.5)
    assert lo == pytest.approx(1.5 / np.log(10))
    # small errors: both tend to sigma / (x ln 10)
    hi, lo = orbits.log10_errors(3.0, 1e-6, 1e-6)
    assert hi == pytest.approx(1e-6 / (3 * np.log(10)), rel=1e-5)
    assert lo == pytest.approx(hi, rel=1e-5)


def test_logq_errors_cross_the_mass_errors():
    hi, lo = orbits.logq_errors(0.3, 0.1, 0.02, 0.04)
    assert hi == pytest.approx(np.hypot(0.3, 0.04))
    assert lo == pytest.approx(np.hypot(0.1, 0.02))
    hi, lo = orbits.logq_errors(0.3, 0.1, np.nan, np.nan)
    assert (hi, lo) == (pytest.approx(0.3), pytest.approx(0.1))
