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
