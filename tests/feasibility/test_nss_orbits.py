"""Gaia DR3 NSS orbits as perturbers: mass functions, Thiele-Innes, Kepler, selection.

The NSS rows below are constructed in the tests with the data-model column names
(``period``, ``eccentricity``, ``parallax``, ``a/b/f/g_thiele_innes``,
``semi_amplitude_primary/secondary``, ``nss_solution_type``); their values are chosen so that
the expected masses and separations can be checked by hand (worked out in the comments).
They are not archive replies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.feasibility import nss_orbits as nss

AU_KM = 1.495978707e8


def _thiele_innes(a0, inc, omega, node):
    """Thiele-Innes constants of a Campbell orbit (Halbwachs et al. 2023, eq. A.1)."""
    ci = np.cos(inc)
    a = a0 * (np.cos(omega) * np.cos(node) - np.sin(omega) * np.sin(node) * ci)
    b = a0 * (np.cos(omega) * np.sin(node) + np.sin(omega) * np.cos(node) * ci)
    f = -a0 * (np.sin(omega) * np.cos(node) + np.cos(omega) * np.sin(node) * ci)
    g = a0 * (-np.sin(omega) * np.sin(node) + np.cos(omega) * np.cos(node) * ci)
    return a, b, f, g


@pytest.mark.parametrize("inc", [0.1, 1.0, 2.5])
def test_thiele_innes_recovers_the_semimajor_axis(inc):
    assert nss.thiele_innes_a0(*_thiele_innes(2.0, inc, 0.5, 0.8)) == pytest.approx(2.0,
                                                                                   rel=1e-12)


def test_mass_function_kepler_and_inversion_by_hand():
    # the Sun seen from a 1 AU "companion": K = 2π AU / yr = 29.785 km/s, P = 1 yr, and
    # f(M) = 4π² a³ / (G P²) = 1 Msun (1.0000377 with the Julian year and astropy's G Msun)
    k = 2 * np.pi * AU_KM / (365.25 * 86400)
    assert nss.spectroscopic_mass_function(365.25, k, 0.0) == pytest.approx(1.0, rel=1e-4)
    # (1 - e²)^(3/2) = 0.6³ = 0.216 at e = 0.8
    assert nss.spectroscopic_mass_function(365.25, k, 0.8) == pytest.approx(0.216, rel=1e-4)
    # M1 = M2 = 0.2: M2³ / (M1 + M2)² = 0.008 / 0.16 = 0.05
    assert nss.companion_mass(0.05, 0.2) == pytest.approx(0.2, rel=1e-10)
    # 1 Msun in total and a year: 1 AU
    assert nss.relative_semimajor_axis_au(0.5, 0.5, 365.25) == pytest.approx(1.0, rel=1e-4)
    assert np.isnan(nss.companion_mass(-1.0, 0.2))


def _hosts(**extra):
    return pd.DataFrame({"hostname": ["H"], "m_star_msun": [0.2], **extra})


def _astrometric_row(**override):
    # M1 = 0.2, M2 = 0.1, P = 500 d: a = (0.3 (500/365.25)²)^(1/3) = 0.8253 AU; the
    # photocentre of a dark companion moves a0 = a M2/(M1+M2) = 0.2751 AU = 13.755 mas at
    # a parallax of 50 mas
    a, b, f, g = _thiele_innes(13.755, 1.1, 0.3, 2.0)
    row = {"hostname": "H", "source_id": 1, "nss_solution_type": "Orbital", "parallax": 50.0,
           "period": 500.0, "eccentricity": 0.2, "a_thiele_innes": a, "b_thiele_innes": b,
           "f_thiele_innes": f, "g_thiele_innes": g}
    row.update(override)
    return row


def test_astrometric_orbit_gives_the_companion_mass_and_separation():
    pert, sol = nss.nss_perturbers(pd.DataFrame([_astrometric_row()]), _hosts(),
                                   rng=np.random.default_rng(0), n_draws=200)
    assert len(pert) == 1 and pert.loc[0, "sep_kind"] == "true"
    assert pert.loc[0, "m_out_msun"] == pytest.approx(0.1, rel=1e-4)
    assert pert.loc[0, "sep_au"] == pytest.approx(0.8253, rel=1e-4)
    assert pert.loc[0, "m_out_err_msun"] == 0.0  # no errors given (not rounding noise)
    assert "lower limit" in pert.loc[0, "source"] and bool(sol.loc[0, "used"])


def test_errors_propagate_into_the_spread():
    row = _astrometric_row(parallax_error=5.0, period_error=25.0)
    pert, _ = nss.nss_perturbers(pd.DataFrame([row]), _hosts(m_star_err_msun=[0.02]),
                                 rng=np.random.default_rng(1), n_draws=4000)
    # 10 % in parallax alone moves a0 in AU by 10 % and M2 by roughly as much
    assert 0.005 < pert.loc[0, "m_out_err_msun"] < 0.05
    assert pert.loc[0, "sep_err_au"] > 0.01


def test_sb1_isotropic_masses_lie_above_the_minimum_mass():
    # K1 chosen so that f(M) = 0.05 Msun at P = 365.25 d (the 0.2 + 0.2 Msun pair edge-on):
    # K1 = 29.785 km/s × 0.05^(1/3)
    k1 = 2 * np.pi * AU_KM / (365.25 * 86400) * 0.05 ** (1 / 3)
    row = {"hostname": "H", "source_id": 2, "nss_solution_type": "SB1", "period": 365.25,
           "eccentricity": 0.0, "semi_amplitude_primary": k1}
    pert, sol = nss.nss_perturbers(pd.DataFrame([row]), _hosts(),
                                   rng=np.random.default_rng(2), n_draws=4000)
    assert sol.loc[0, "m2_p16_msun"] >= 0.2 * (1 - 1e-6)  # M2 >= M2 sin i = 0.2
    assert pert.loc[0, "m_out_msun"] > 0.2
    # the error is half the 16-84 % range, not a std set by nearly face-on draws
    half = 0.5 * (sol.loc[0, "m2_p84_msun"] - sol.loc[0, "m2_p16_msun"])
    assert pert.loc[0, "m_out_err_msun"] == pytest.approx(half)
    assert pert.loc[0, "m_out_err_msun"] < pert.loc[0, "m_out_msun"]
    assert "isotropic" in pert.loc[0, "source"]


def test_sb2_ratio_preference_and_unused_solutions():
    rows = pd.DataFrame([
        {"hostname": "H", "source_id": 3, "nss_solution_type": "SB2", "period": 100.0,
         "semi_amplitude_primary": 10.0, "semi_amplitude_secondary": 20.0},
        {"hostname": "H", "source_id": 3, "nss_solution_type": "EclipsingBinary",
         "period": 100.0},
        _astrometric_row(),
    ])
    pert, sol = nss.nss_perturbers(rows, _hosts(), rng=np.random.default_rng(3), n_draws=50)
    assert sol.loc[0, "m2_msun"] == pytest.approx(0.1)  # 0.2 × 10/20
    assert "gives no companion mass" in sol.loc[1, "note"]
    # the astrometric solution is preferred over the SB2 one
    assert list(sol["used"]) == [False, False, True]
    assert "preferred" in sol.loc[0, "note"]
    assert pert.loc[0, "source"].startswith("Gaia DR3 NSS Orbital")


def test_an_orbit_that_is_the_known_companion_is_not_a_perturber():
    inner = nss.nss_perturbers(pd.DataFrame([_astrometric_row()]),
                               _hosts(a_known_au=[0.80]), rng=np.random.default_rng(4),
                               n_draws=50)
    assert inner[0].empty and "known companion's orbit" in inner[1].loc[0, "note"]
    outside = nss.nss_perturbers(pd.DataFrame([_astrometric_row()]),
                                 _hosts(a_known_au=[3.0]), rng=np.random.default_rng(4),
                                 n_draws=50)
    assert outside[0].empty and "inside the known companion" in outside[1].loc[0, "note"]


def test_merge_keeps_the_first_table_per_host():
    a = pd.DataFrame({"hostname": ["H", "K"], "m_out_msun": [0.3, 0.1],
                      "m_out_err_msun": 0.0, "sep_au": 10.0, "sep_err_au": 0.0,
                      "sep_kind": "true", "source": "user"})
    b = a.assign(source="gaia", hostname=["H", "L"])
    m = nss.merge_companions([a, b])
    assert list(m["hostname"]) == ["H", "K", "L"]
    assert list(m["source"]) == ["user", "user", "gaia"]
    assert nss.merge_companions([None, None]) is None


def _sb1_row(**override):
    # f(M) = 0.05 Msun at P = 365.25 d: M2 sin i = 0.2 Msun for M1 = 0.2 (see above)
    k1 = 2 * np.pi * AU_KM / (365.25 * 86400) * 0.05 ** (1 / 3)
    row = {"hostname": "H", "source_id": 2, "nss_solution_type": "SB1", "period": 365.25,
           "eccentricity": 0.0, "semi_amplitude_primary": k1}
    row.update(override)
    return row


def _isotropic_cdf(x, fm, m1):
    """P(M2 <= x) for cos i uniform: M2 <= x iff sin³i >= f / g(x), g = x³/(m1 + x)²."""
    g = x**3 / (m1 + x) ** 2
    return np.sqrt(np.clip(1 - (fm / g) ** (2 / 3), 0.0, 1.0))


def test_sb1_sampler_follows_the_isotropic_distribution_of_the_mass_function():
    from scipy import stats

    sampler = nss.OrbitSampler(_sb1_row(), 0.2, 0.0)
    m2, a = sampler(np.random.default_rng(5), 4000)
    assert len(m2) == 4000 and m2.min() >= 0.2 * (1 - 1e-9)
    assert stats.kstest(m2, lambda x: _isotropic_cdf(x, 0.05, 0.2)).pvalue > 0.01
    # Kepler per draw: a grows with M2 (one draw, one system)
    np.testing.assert_allclose(a, nss.relative_semimajor_axis_au(0.2, m2, 365.25))
    # negative control: the normal of the summary (median, half the 16-84 % range) that
    # the perturber table drew before is rejected
    med, half = np.median(m2), 0.5 * np.subtract(*np.percentile(m2, [84, 16]))
    normal = np.abs(med + half * np.random.default_rng(6).standard_normal(4000))
    assert stats.kstest(normal, lambda x: _isotropic_cdf(x, 0.05, 0.2)).pvalue < 1e-6


def test_sb1_sampler_with_errors_matches_a_brute_force_monte_carlo():
    """Errors on K1, P, e and the host mass: the sampler against a direct loop that solves
    (M2 sin i)³ / (M1 + M2)² = P K1³ (1 - e²)^(3/2) / (2πG) with brentq per draw."""
    from astropy import constants as const
    from scipy import optimize, stats

    row = _sb1_row(semi_amplitude_primary_error=1.5, period_error=5.0, eccentricity=0.3,
                   eccentricity_error=0.05)
    m2, _ = nss.OrbitSampler(row, 0.2, 0.03)(np.random.default_rng(7), 3000)
    rng = np.random.default_rng(8)
    gm_sun = const.G.value * const.M_sun.value
    brute = []
    while len(brute) < 3000:
        k = (row["semi_amplitude_primary"] + 1.5 * rng.standard_normal()) * 1e3
        p = (365.25 + 5.0 * rng.standard_normal()) * 86400
        e = 0.3 + 0.05 * rng.standard_normal()
        m1 = 0.2 + 0.03 * rng.standard_normal()
        if k <= 0 or p <= 0 or m1 <= 0:
            continue
        fm = p * k**3 * (1 - e**2) ** 1.5 / (2 * np.pi * gm_sun)
        sin_i = np.sqrt(1 - rng.random() ** 2)
        brute.append(optimize.brentq(
            lambda x, fm=fm, m1=m1, s=sin_i: (x * s) ** 3 / (m1 + x) ** 2 - fm, 1e-6, 1e9,
            xtol=1e-12))
    assert stats.ks_2samp(m2, brute).pvalue > 0.01


def test_samplers_follow_the_used_solutions():
    rows = pd.DataFrame([_sb1_row(), _astrometric_row()])
    _, sol = nss.nss_perturbers(rows, _hosts(m_star_err_msun=[0.01]),
                                rng=np.random.default_rng(3), n_draws=50)
    s = nss.nss_samplers(rows, _hosts(m_star_err_msun=[0.01]), sol)
    assert list(s) == ["H"] and s["H"].row["nss_solution_type"] == "Orbital"
    assert s["H"].m1_err_msun == 0.01


def test_perturber_table_draws_an_nss_perturber_from_its_orbit(monkeypatch):
    """The systems of P(KL | perturber) get the SB1's isotropic masses, not a normal."""
    from scipy import stats

    from vlms_bayes.feasibility import montecarlo as mc
    from vlms_bayes.feasibility import perturbers as pt

    seen = {}

    def fake_probability(config, table, m_out, a_out, **kw):
        seen["m"], seen["a"] = m_out, a_out
        return {"p_kl": 0.0, "low": 0.0, "high": 0.1, "n_systems": len(m_out),
                "n_stable": 10, "n_arrive": 0}

    monkeypatch.setattr(pt, "known_perturber_probability", fake_probability)
    rows = pd.DataFrame([_sb1_row()])
    pert, sol = nss.nss_perturbers(rows, _hosts(), rng=np.random.default_rng(3), n_draws=500)
    sample = pd.DataFrame({"name": ["H b"], "hostname": ["H"], "st_mass": [0.2],
                           "st_rad": [0.22], "pl_bmassj": [0.2], "pl_orbsmax": [0.03]})
    t = pt.perturber_table(sample, None, pert, mc.FeasibilityConfig(), None, seed=1,
                           n_systems=3000, samplers=nss.nss_samplers(rows, _hosts(), sol))
    assert stats.kstest(seen["m"], lambda x: _isotropic_cdf(x, 0.05, 0.2)).pvalue > 0.01
    np.testing.assert_allclose(seen["a"], nss.relative_semimajor_axis_au(0.2, seen["m"],
                                                                        365.25))
    assert "drawn per system from the orbit" in t.loc[0, "perturber"]
    # a user row for the same host wins: its normal mass, not the orbit
    user = pert.assign(source="user", m_out_msun=0.3, m_out_err_msun=0.01)
    pt.perturber_table(sample, None, user, mc.FeasibilityConfig(), None, seed=1,
                       n_systems=3000, samplers=nss.nss_samplers(rows, _hosts(), sol))
    assert abs(np.mean(seen["m"]) - 0.3) < 0.002
