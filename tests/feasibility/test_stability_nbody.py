"""Independent N-body check of the Quarles et al. (2020) limit for alpha Cen A (REBOUND)."""

from __future__ import annotations

import pytest

from vlms_bayes.data_io.quarles import load_stability_table, table_file_name
from vlms_bayes.feasibility.stability_limits import stability_limits

M_A, M_B, E_BIN, P_BIN_YR = 1.133, 0.972, 0.524, 79.91


@pytest.fixture(scope="module")
def acen(registered_file):
    table = load_stability_table(0, data_dir=registered_file(table_file_name(0)).parent.parent)
    res = stability_limits(e_bin=E_BIN, table=table, m_a_msun=M_A, m_b_msun=M_B,
                           p_bin_yr=P_BIN_YR)
    return float(res["a_bin_au"]), float(res["a_c_au"])


def _run(acen, factor, lam, n_orbits):
    from vlms_bayes.feasibility.nbody_stability import planet_survives

    a_bin, a_c = acen
    return planet_survives(m_a_msun=M_A, m_b_msun=M_B, a_bin_au=a_bin, e_bin=E_BIN,
                           a_planet_au=factor * a_c, lambda_deg=lam, n_binary_orbits=n_orbits)


def test_nbody_short_run(acen):
    """Fast tier: 0.8 a_c survives 300 binary orbits; 1.2 a_c at lambda = 90 deg is lost."""
    assert _run(acen, 0.8, 90.0, 300).survived
    lost = _run(acen, 1.2, 90.0, 300)
    assert not lost.survived and lost.t_end_binary_orbits < 300


@pytest.mark.slow
@pytest.mark.parametrize("lam", [0.0, 90.0, 180.0])
def test_nbody_1e4_binary_orbits(acen, lam):
    """0.8 a_c survives 10^4 binary orbits; 1.2 a_c does not (coplanar, binary at periastron)."""
    inside = _run(acen, 0.8, lam, 1e4)
    assert inside.survived and inside.t_end_binary_orbits > 0.9999e4
    outside = _run(acen, 1.2, lam, 1e4)
    assert not outside.survived
