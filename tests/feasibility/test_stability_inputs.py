"""Inputs as the user has them: masses, mu or q; a_bin or period (Kepler with astropy)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from astropy import constants as const
from astropy import units as u

from vlms_bayes.data_io.quarles import load_stability_table, table_file_name
from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility.stability_limits import (
    OUTPUT_COLUMNS,
    binary_semimajor_axis_au,
    mass_ratio_mu,
    stability_limits,
    stability_limits_frame,
)

M_A, M_B, E_BIN, P_BIN_YR = 1.133, 0.972, 0.524, 79.91


@pytest.fixture(scope="module")
def quarles_dir(registered_file):
    return registered_file(table_file_name(0)).parent.parent


@pytest.fixture(scope="module")
def table0(quarles_dir):
    return load_stability_table(0, data_dir=quarles_dir)


def test_mass_ratio_forms_agree():
    mu = M_B / (M_A + M_B)
    assert mass_ratio_mu(m_a_msun=M_A, m_b_msun=M_B) == pytest.approx(mu)
    assert mass_ratio_mu(q=M_B / M_A) == pytest.approx(mu)
    assert mass_ratio_mu(mu=mu) == pytest.approx(mu)
    np.testing.assert_allclose(mass_ratio_mu(q=[1.0, 1 / 9]), [0.5, 0.1])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({}, "exactly one form"),
     ({"mu": 0.3, "q": 0.5}, "exactly one form"),
     ({"m_a_msun": 1.0}, "both masses"),
     ({"m_a_msun": 1.0, "m_b_msun": -0.2}, "M_B = -0.2"),
     ({"m_a_msun": 0.0, "m_b_msun": 0.2}, "M_A = 0.0"),
     ({"m_a_msun": np.nan, "m_b_msun": 0.2}, "M_A = nan"),
     ({"q": 0.0}, "q = M_B/M_A = 0.0"),
     ({"mu": 1.0}, "0 < mu < 1")],
)
def test_mass_ratio_errors(kwargs, needle):
    with pytest.raises(InputDataError, match=re.escape(needle)):
        mass_ratio_mu(**kwargs)


def test_kepler_against_astropy():
    want = ((const.G * (M_A + M_B) * u.M_sun * (P_BIN_YR * u.yr) ** 2 / (4 * np.pi**2))
            ** (1 / 3)).to_value(u.AU)
    assert binary_semimajor_axis_au(p_bin_yr=P_BIN_YR, m_tot_msun=M_A + M_B) == pytest.approx(
        want, rel=1e-12)
    assert binary_semimajor_axis_au(p_bin_day=P_BIN_YR * 365.25, m_tot_msun=M_A + M_B) == \
        pytest.approx(want, rel=1e-12)
    assert binary_semimajor_axis_au(p_bin_yr=P_BIN_YR * u.yr, m_tot_msun=M_A + M_B) == \
        pytest.approx(want, rel=1e-12)
    assert binary_semimajor_axis_au(a_bin_au=1 * u.pc) == pytest.approx(206264.806, rel=1e-8)


def test_size_errors():
    with pytest.raises(InputDataError, match="exactly one form"):
        binary_semimajor_axis_au(a_bin_au=10.0, p_bin_yr=30.0, m_tot_msun=1.0)
    with pytest.raises(InputDataError, match="total mass"):
        binary_semimajor_axis_au(p_bin_yr=30.0)
    with pytest.raises(InputDataError, match="not convertible"):
        binary_semimajor_axis_au(a_bin_au=3 * u.kg)
    with pytest.raises(InputDataError, match=re.escape("a_bin = -1.0")):
        binary_semimajor_axis_au(a_bin_au=-1.0)


def test_stability_limits_same_from_every_input_form(table0):
    a = stability_limits(e_bin=E_BIN, table=table0, m_a_msun=M_A, m_b_msun=M_B,
                         p_bin_yr=P_BIN_YR)
    b = stability_limits(e_bin=E_BIN, table=table0, q=M_B / M_A, m_tot_msun=M_A + M_B,
                         p_bin_day=P_BIN_YR * 365.25)
    for k in ("mu", "a_bin_au", "a_c_au", "a_c_au_hw99"):
        assert float(a[k]) == pytest.approx(float(b[k]), rel=1e-12)
    assert float(a["a_c_au"]) == pytest.approx(2.773, abs=0.002)
    assert bool(a["hw99_in_range"])


def test_stability_limits_vectorised(table0):
    res = stability_limits(e_bin=[0.0, 0.3, 0.6], table=table0, mu=0.2, a_bin_au=[10, 20, 30])
    assert res["a_c_au"].shape == (3,)
    np.testing.assert_allclose(res["a_c_au"], res["a_c_ratio"] * [10, 20, 30])


def test_frame_mixed_forms_and_inclinations(quarles_dir, table0):
    frame = pd.DataFrame({
        "name": ["aCen", "aCen-q", "aCen-180", "toy"],
        "M_A": [M_A, np.nan, M_A, np.nan],
        "M_B": [M_B, np.nan, M_B, np.nan],
        "q": [np.nan, M_B / M_A, np.nan, 0.25],
        "m_tot_msun": [np.nan, M_A + M_B, np.nan, np.nan],
        "ebin": [E_BIN, E_BIN, E_BIN, 0.1],
        "P_bin_yr": [P_BIN_YR, P_BIN_YR, P_BIN_YR, np.nan],
        "a_bin_au": [np.nan, np.nan, np.nan, 5.0],
        "incl_deg": [0, 0, 180, 30],
    })
    out = stability_limits_frame(
        frame, load_table=lambda i: load_stability_table(i, data_dir=quarles_dir))
    assert list(out.columns[:1]) == ["name"] and set(OUTPUT_COLUMNS) <= set(out.columns)
    np.testing.assert_allclose(out["a_c_au"][:3], [2.773, 2.773, 3.843], atol=0.002)
    assert out["mu"].iloc[3] == pytest.approx(0.2)
    assert out["incl_deg"].tolist() == [0, 0, 180, 30]


def test_frame_errors_name_the_row(table0):
    frame = pd.DataFrame({"mu": [0.2, 0.3, 1.4], "e_bin": [0.1, 0.2, 0.3],
                          "a_bin_au": [1, 2, 3]})
    with pytest.raises(InputDataError, match=r"Row 3 of t\.csv: .*1\.4"):
        stability_limits_frame(frame, tables={0.0: table0}, source="t.csv")
    with pytest.raises(InputDataError, match="no e_bin column"):
        stability_limits_frame(frame.drop(columns="e_bin"), tables={0.0: table0})
    with pytest.raises(InputDataError, match="both give m_a_msun"):
        stability_limits_frame(frame.assign(ma=1.0, M_A=1.0), tables={0.0: table0})
