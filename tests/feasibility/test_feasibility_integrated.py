"""Integrated verdicts of the octupole candidates (feasibility/integrated.py)."""

from __future__ import annotations

import numpy as np
import pytest

from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility import integrated as it
from vlms_bayes.feasibility import montecarlo as mc
from vlms_bayes.feasibility.probability import kl_probability_from_counts


def test_integration_time_covers_several_octupole_timescales():
    t_kl = np.array([1e3, 1e3, 1e3, 1e8])
    eps = np.array([0.04, 1e-4, 0.0, 0.04])
    t = it.integration_time_yr(t_kl, eps, 1e9, n_oct=5, n_kl_min=10)
    np.testing.assert_allclose(t[0], 5 * 1e3 / 0.2)  # 5 t_oct = 25 t_KL > 10 t_KL
    np.testing.assert_allclose(t[1], 5 * 1e3 / 1e-2)  # weak octupole: long t_oct
    assert t[2] == 1e9  # no octupole: t_oct infinite, capped at the horizon
    assert t[3] == 1e9
    assert np.all(t >= np.minimum(10 * t_kl, 1e9))


def _rng():
    return np.random.default_rng(5)


def test_integrated_probability_without_integrations_is_the_analytic_one():
    none_f = it.StratumCounts(n=40, integrated=0, arrive=0, unfinished=0)
    none_b = it.StratumCounts(n=300, integrated=0, arrive=0, unfinished=0)
    p, lo, hi = it.integrated_probability_from_counts(10_000, 3000, none_f, none_b, 0.27,
                                                      0.014, rng=_rng())
    q, qlo, qhi = kl_probability_from_counts(10_000, 3000, 40, 0.27, 0.014, rng=_rng())
    assert p == pytest.approx(q, rel=1e-12)
    assert lo == pytest.approx(qlo, rel=0.05) and hi == pytest.approx(qhi, rel=0.05)


def test_integrated_probability_uses_the_integrated_verdicts():
    # whole feasible stratum integrated, half confirmed; 10 of 100 boundary systems
    # integrated and 2 arrive: p_a = (40 * 0.5 + 300 * 0.2) / n
    f = it.StratumCounts(n=40, integrated=40, arrive=20, unfinished=0)
    b = it.StratumCounts(n=300, integrated=10, arrive=2, unfinished=0)
    p, lo, hi = it.integrated_probability_from_counts(10_000, 3000, f, b, 0.27, 0.014,
                                                      rng=_rng())
    pa = (20 + 60) / 10_000
    assert p == pytest.approx(0.27 * pa / (1 - 0.27 + 0.27 * 0.3))
    assert lo < p < hi
    # a subsample of 10 leaves a wide interval; integrating the whole stratum narrows it
    b_all = it.StratumCounts(n=300, integrated=300, arrive=60, unfinished=0)
    p2, lo2, hi2 = it.integrated_probability_from_counts(10_000, 3000, f, b_all, 0.27,
                                                         0.014, rng=_rng())
    assert p2 == pytest.approx(p)
    assert (hi2 - lo2) < 0.7 * (hi - lo)


def test_interval_states_what_the_boundary_subsample_adds():
    # the counts of TOI-6894 b with the defaults (seed 42, 200 000 systems): every feasible
    # system integrated (17 of 47 confirmed), 400 of the 55 802 boundary systems integrated
    # and none arrives. The point estimate counts no boundary arrival; the interval's upper
    # end is the Jeffreys bound on their share (Beta(0.5, 400.5), 97.5 %: 6.3e-3, i.e. up to
    # ~350 of the 55 802) and is ~20x the point. Held at the estimates, the shares leave
    # only the count noise of the 17 arrivals (Poisson ~25 %) and of f.
    f = it.StratumCounts(n=47, integrated=47, arrive=17, unfinished=0)
    b = it.StratumCounts(n=55_802, integrated=400, arrive=0, unfinished=0)
    args = (200_000, 68_966, f, b, 0.268, 0.014)
    p, lo, hi = it.integrated_probability_from_counts(*args, rng=_rng())
    pc, lo_c, hi_c = it.integrated_probability_from_counts(*args, rng=_rng(),
                                                           extrapolation=False)
    assert pc == p and lo < p < hi and lo_c < p < hi_c
    assert hi > 10 * p and hi_c < 2 * p  # the width is the extrapolation
    assert it.share_upper_bound(b) == pytest.approx(6.3e-3, rel=0.03)
    assert it.share_upper_bound(f) == 17 / 47
    ana = type("A", (), {"probability": 7.6e-5, "low": 5.5e-5, "high": 1.0e-4})()
    integ = type("I", (), {"probability": p, "low": lo, "high": hi})()
    res = it.IntegratedProbability(ana, integ, f, b, None, 1.0, it.IntegrationOptions(),
                                   (lo_c, hi_c))
    assert res.extrapolated_share_of_width() > 0.9
    line = res.lines("X")[0]
    assert "extrapolation of subsampled candidates" in line
    assert "boundary: 0 of 400 integrated arrive, extrapolated to its 55802 systems" in line
    assert f"{lo_c:.3g}-{hi_c:.3g}" in line
    # nothing subsampled: no such line
    whole = it.IntegratedProbability(ana, integ, f, it.StratumCounts(300, 300, 0, 0), None,
                                     1.0, it.IntegrationOptions(), (lo_c, hi_c))
    assert not any("extrapolation" in ln for ln in whole.lines("X"))


def test_options_are_checked():
    with pytest.raises(InputDataError, match="caps"):
        it.IntegrationOptions(max_map=-1).check()
    with pytest.raises(InputDataError, match="rtol"):
        it.IntegrationOptions(rtol=0.1).check()
    assert not it.IntegrationOptions(0, 0, 0).enabled


def test_cli_rejects_negative_caps(tmp_path, capsys):
    from vlms_bayes.cli import main

    rc = main(["feasibility", "--grid", "3", "--draws", "2", "--secular-check", "0",
               "--integrate-candidates", "1", "-1", "0", "--outdir", str(tmp_path / "x")])
    assert rc == 2
    assert "caps on integrated candidates" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def table(shared_data_dir):
    from vlms_bayes.data_io.quarles import load_stability_table

    return load_stability_table(0, data_dir=shared_data_dir)


def test_probability_and_map_integrations_end_to_end(table):
    """Small runs: the strata match the analytic counts, the caps hold, and each verdict
    follows from what the integration reached."""
    opts = it.IntegrationOptions(max_feasible=3, max_boundary=3, max_map=3, n_oct=2,
                                 chunk=8)
    cfg = mc.FeasibilityConfig(n_m_out=6, n_a_out=6, n_draws=30)
    r = it.integrated_kl_probability(cfg, table, seed=2, n_systems=3000, options=opts)
    assert r.feasible.n == r.analytic.counts["arrive"]
    assert r.feasible.integrated == min(3, r.feasible.n)
    assert r.boundary.integrated == min(3, r.boundary.n)
    assert r.integrated.low <= r.integrated.probability <= r.integrated.high
    t = r.table
    assert len(t) == r.feasible.integrated + r.boundary.integrated
    assert t.loc[t.stratum == "feasible", "analytic_feasible"].all()
    assert not t.loc[t.stratum == "boundary", "analytic_feasible"].any()
    assert (t.e_max_int >= t.e0 - 1e-9).all()
    p = dict(zip(mc.PARAM_FIELDS, mc.kernel_params(cfg), strict=True))
    a_f = t.a0_au * (1 - t.e_max_int**2)
    ok = t.verdict & t.finished
    assert (a_f[ok] <= p["a_hi_au"] * (1 + 1e-9)).all()
    assert (a_f[ok] >= p["a_lo_au"] * (1 - 1e-9)).all()
    assert not (t.verdict & t.disrupted_int).any()
    # each draw's own disruption distance (its companion inflated when young), not today's
    assert (t.r_dis_au >= p["r_dis_au"] * (1 - 1e-12)).all()

    res = mc.feasibility_map(cfg, seed=2, table=table, backend="numba")
    m = it.integrate_map(res, table, seed=2, options=opts)
    k = len(mc.CRITERIA)
    counts = res.counts[..., 2 * k - 1]
    assert m.n_feasible_draws == int(counts.sum())
    assert int(m.integrated_cells.sum()) == min(3, m.n_feasible_draws)
    assert np.all(m.integrated_cells <= counts)
    frac = m.feasible_fraction(counts, cfg.n_draws)
    assert np.all(frac <= counts / cfg.n_draws + 1e-12) and np.all(frac >= 0)
    assert m.table["analytic_feasible"].all()


def test_integrations_judge_each_draws_physics(table):
    """The integrated candidates use the physics of each draw (issue 16's radii and lags):
    the strata count what the analytic kernel counts, the integrator gets each draw's radii
    and lag, and the migration time from an end point is the kernel's."""
    from vlms_bayes.feasibility import probability
    from vlms_bayes.feasibility.priors import multiplicity_prior

    cfg = mc.FeasibilityConfig()  # radii evolving, lags from their priors
    draws, pert = probability.probability_systems(
        cfg, seed=2, n_systems=3000, prior=multiplicity_prior(cfg.target.m_star_msun))
    o = it.draw_outcomes_pairs(cfg, table, pert["m_out_msun"], pert["a_out_au"], draws)
    counts = mc.pair_counts(cfg, table, pert["m_out_msun"], pert["a_out_au"], draws,
                            backend="numba")
    k = len(mc.CRITERIA)
    st = it.analytic_strata(o, cfg)
    # the analytic-feasible stratum is the kernel's cascade, draw by draw (with one scalar
    # disruption distance, draws whose young companion is inflated were counted in)
    np.testing.assert_array_equal(st["feasible"], counts[:, 2 * k - 1].astype(bool))
    np.testing.assert_array_equal(st["stable"], counts[:, k + 1].astype(bool))
    tp = it.triple_params(cfg, pert["m_out_msun"], pert["a_out_au"], draws, o)
    np.testing.assert_array_equal(tp.r0_au, o["r0_au"])
    np.testing.assert_array_equal(tp.r1_au, o["r1_au"])
    np.testing.assert_array_equal(tp.lag1_yr, draws["lag1_yr"])
    assert np.std(tp.lag1_yr) > 0 and np.ptp(tp.r1_au) > 0.1 * tp.r1_au.min()
    for c in (cfg, mc.FeasibilityConfig(tide_model="constant_q"),
              mc.FeasibilityConfig(radii="frozen", lags="fixed")):
        o_c = it.draw_outcomes_pairs(c, table, pert["m_out_msun"], pert["a_out_au"], draws)
        t = it.draw_migration_time_yr(c, draws["a0_au"], o_c["a_f_au"], draws, o_c)
        ok = o_c["t_tide_yr"] < 1e30
        assert ok.sum() > 100
        np.testing.assert_allclose(t[ok], o_c["t_tide_yr"][ok], rtol=1e-9)
        assert np.all(t[~ok] >= 1e30)
