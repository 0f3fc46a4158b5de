"""Independent random streams: every cell of the map has its own draws."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vlms_bayes.feasibility import draws as dr
from vlms_bayes.feasibility import montecarlo as mc

CFG = mc.FeasibilityConfig(n_m_out=4, n_a_out=5, n_draws=80, m_out_range_msun=(0.05, 0.6),
                           a_out_range_au=(10.0, 500.0), chunk_cells=8)


def test_adjacent_cells_do_not_share_draws():
    d = dr.cell_draws(CFG, 7, np.arange(CFG.n_m_out * CFG.n_a_out))
    assert d["e_out"].shape == (20, 80)
    for k in ("e_out", "cos_i", "sin2_omega", "a0_au", "e0"):
        x = d[k]
        # neighbours along a_out (c, c+1) and along m_out (c, c+n_a_out): no common value
        for a, b in ((x[:-1], x[1:]), (x[:-CFG.n_a_out], x[CFG.n_a_out:])):
            assert not np.any((a == b) & (a < 0.99)), k  # e_out is capped at 0.99
        # and uncorrelated: |r| of two independent samples of 80 exceeds 0.45 with p < 1e-4
        r = [np.corrcoef(x[i], x[i + 1])[0, 1] for i in range(19)]
        assert np.max(np.abs(r)) < 0.45, k


def test_a_cells_draws_depend_on_seed_and_index_only():
    all_cells = dr.cell_draws(CFG, 3, np.arange(20))
    some = dr.cell_draws(CFG, 3, np.array([17, 4]))
    other_seed = dr.cell_draws(CFG, 4, np.array([17]))
    for k in dr.DRAW_FIELDS:
        np.testing.assert_array_equal(some[k][0], all_cells[k][17])
        np.testing.assert_array_equal(some[k][1], all_cells[k][4])
        assert not np.array_equal(other_seed[k][0], all_cells[k][17])


def test_streams_are_distinct():
    seeds = {name: dr.derived_seed(42, name) for name in dr.STREAMS}
    assert len(set(seeds.values())) == len(dr.STREAMS)
    assert all(s != 42 for s in seeds.values())  # Gaia no longer reuses the map's seed


@pytest.fixture(scope="module")
def table(shared_data_dir):
    from vlms_bayes.data_io.quarles import load_stability_table

    return load_stability_table(0, data_dir=shared_data_dir)


def test_map_counts_are_built_from_each_cells_own_draws(table):
    res = mc.feasibility_map(CFG, seed=9, table=table, backend="numba")
    casc = res.counts[..., len(mc.CRITERIA):2 * len(mc.CRITERIA)]
    p = dict(zip(mc.PARAM_FIELDS, mc.kernel_params(CFG), strict=True))
    for i, j in ((0, 0), (1, 2), (3, 4)):
        c = i * CFG.n_a_out + j
        d = {k: v[0] for k, v in dr.cell_draws(CFG, 9, np.array([c])).items()}
        o = mc.draw_outcomes(CFG, table, CFG.m_out_grid[i], CFG.a_out_grid[j], d,
                             backend="jax")
        feas = o["stable_triple"] & o["stable_stype"] & (o["t_kl_yr"] <= p["horizon_yr"]) \
            & (o["a_f_au"] <= p["a_hi_au"]) & (o["r_p_au"] >= o["r_dis_au"]) \
            & (o["a_f_au"] >= p["a_lo_au"]) & (o["t_tide_yr"] <= p["horizon_yr"])
        assert casc[i, j, -1] == feas.sum()
        assert casc[i, j, 0] == o["stable_triple"].sum()


def test_numba_backend_does_not_import_the_jax_module():
    code = ("import sys, vlms_bayes.feasibility.montecarlo_numba; "
            "print('vlms_bayes.feasibility.montecarlo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
