"""Integrated verdicts of the octupole candidates (feasibility/integrated.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

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
    # posterior median of the same Dirichlet model vs the analytic plug-in: 40 arrivals
    assert p == pytest.approx(q, rel=0.02)
    assert it.ratio_estimate(10_000, 3000, none_f, none_b, 0.27) == pytest.approx(q)
    assert lo == pytest.approx(qlo, rel=0.05) and hi == pytest.approx(qhi, rel=0.05)


def test_integrated_probability_uses_the_integrated_verdicts():
    # whole feasible stratum integrated, half confirmed; 10 of 100 boundary systems
    # integrated and 2 arrive: p_a = (40 * 0.5 + 300 * 0.2) / n by the plug-in
    f = it.StratumCounts(n=40, integrated=40, arrive=20, unfinished=0)
    b = it.StratumCounts(n=300, integrated=10, arrive=2, unfinished=0)
    p, lo, hi = it.integrated_probability_from_counts(10_000, 3000, f, b, 0.27, 0.014,
                                                      rng=_rng())
    pa = (20 + 60) / 10_000
    plug = 0.27 * pa / (1 - 0.27 + 0.27 * 0.3)
    assert it.ratio_estimate(10_000, 3000, f, b, 0.27) == pytest.approx(plug)
    assert lo < p < hi and p == pytest.approx(plug, rel=0.15)
    # a subsample of 10 leaves a wide interval; integrating the whole stratum narrows it
    b_all = it.StratumCounts(n=300, integrated=300, arrive=60, unfinished=0)
    p2, lo2, hi2 = it.integrated_probability_from_counts(10_000, 3000, f, b_all, 0.27,
                                                         0.014, rng=_rng())
    assert p2 == pytest.approx(plug, rel=0.02)
    assert (hi2 - lo2) < 0.7 * (hi - lo)


def test_interval_states_what_the_boundary_subsample_adds():
    # the counts of TOI-6894 b with the defaults (seed 42, 200 000 systems): every feasible
    # system integrated (17 of 47 confirmed), 400 of the 55 802 boundary systems integrated
    # and none arrives. The plug-in counts no boundary arrival and sits at the bottom of
    # the interval; the posterior median takes the Beta(0.5, 400.5) median share
    # (5.7e-4, ~32 of the 55 802) and lies well inside. The upper end is the Jeffreys bound
    # on the share (97.5 %: 6.3e-3, ~350 of the 55 802). Held at its median, the share
    # leaves the count noise of the arrivals and of f.
    f = it.StratumCounts(n=47, integrated=47, arrive=17, unfinished=0)
    b = it.StratumCounts(n=55_802, integrated=400, arrive=0, unfinished=0)
    args = (200_000, 68_966, f, b, 0.268, 0.014)
    p, lo, hi = it.integrated_probability_from_counts(*args, rng=_rng())
    pc, lo_c, hi_c = it.integrated_probability_from_counts(*args, rng=_rng(),
                                                           extrapolation=False)
    plug = it.ratio_estimate(*args[:4], 0.268)
    assert plug == pytest.approx(0.268 * 17 / 200_000 / (1 - 0.268 + 0.268 * 0.34483),
                                 rel=1e-4)
    assert lo < plug < lo + 0.03 * (hi - lo)  # the old estimate: bottom of the interval
    assert lo + 0.05 * (hi - lo) < p < hi and lo_c < pc < hi_c
    # ~17 confirmed + ~32 boundary arrivals
    assert p == pytest.approx(plug * (17 + 55_802 * 0.4549 / 801) / 17, rel=0.1)
    assert pc == pytest.approx(p, rel=0.1)
    assert hi > 4 * p and hi_c < 2 * p  # the width is the extrapolation
    assert it.share_upper_bound(b) == pytest.approx(6.3e-3, rel=0.03)
    assert it.share_upper_bound(f) == pytest.approx(
        stats.beta.ppf(0.975, 17.5, 30.5))
    ana = type("A", (), {"probability": 7.6e-5, "low": 5.5e-5, "high": 1.0e-4})()
    integ = type("I", (), {"probability": p, "low": lo, "high": hi})()
    res = it.IntegratedProbability(ana, integ, f, b, None, 1.0, it.IntegrationOptions(),
                                   (lo_c, hi_c), plug)
    assert res.extrapolated_share_of_width() > 0.9
    line = res.lines("X")[0]
    assert "extrapolation of subsampled candidates" in line
    assert "boundary: 0 of 400 integrated arrive, extrapolated to its 55802 systems" in line
    assert f"{lo_c:.3g}-{hi_c:.3g}" in line
    assert f"plug-in with the observed shares would be {plug:.3g}" in line
    assert res.extrapolation_record()["p_ratio_estimator"] == plug
    # nothing subsampled: no such line
    whole = it.IntegratedProbability(ana, integ, f, it.StratumCounts(300, 300, 0, 0), None,
                                     1.0, it.IntegrationOptions(), (lo_c, hi_c))
    assert not any("extrapolation" in ln for ln in whole.lines("X"))


def _coverage(*, n, pi, r_f, r_b, caps, reps=300, f=0.268, f_err=0.014, seed=1):
    """Simulate the counts of P(KL origin) from a known truth; the interval's coverage.

    Each replicate draws n systems into (unstable, stable other, feasible F, boundary B)
    with shares ``pi``, integrates min(n_F, cap_F) and min(n_B, cap_B) of the strata
    (a uniform subsample of i.i.d. verdicts: binomial arrivals with shares r_F, r_B) and
    the published f with its error; the truth is f (π_F r_F + π_B r_B) / (1 − f + f
    (1 − π_u)).
    """
    rng = np.random.default_rng(seed)
    pi = np.asarray(pi)
    truth = f * (pi[2] * r_f + pi[3] * r_b) / (1 - f + f * (1 - pi[0]))
    c = rng.multinomial(n, pi, size=reps)
    m_f, m_b = np.minimum(c[:, 2], caps[0]), np.minimum(c[:, 3], caps[1])
    k_f, k_b = rng.binomial(m_f, r_f), rng.binomial(m_b, r_b)
    f_hat = f + f_err * rng.standard_normal(reps)
    est = np.array([it.integrated_probability_from_counts(
        n, n - int(c[i, 0]), it.StratumCounts(int(c[i, 2]), int(m_f[i]), int(k_f[i]), 0),
        it.StratumCounts(int(c[i, 3]), int(m_b[i]), int(k_b[i]), 0), float(f_hat[i]),
        f_err, rng=rng, n_samples=4000) for i in range(reps)])
    cover = np.mean((est[:, 1] <= truth) & (truth <= est[:, 2]))
    inside = np.all((est[:, 1] <= est[:, 0]) & (est[:, 0] <= est[:, 2]))
    position = np.median((est[:, 0] - est[:, 1]) / (est[:, 2] - est[:, 1]))
    return cover, inside, position


#: TOI-6894 b-like strata (evolving radii: 47 feasible, 55 802 boundary of 2e5, caps
#: 200/400) and with frozen radii (2257 feasible, 11 of 400 boundary arrive).
_TOI = dict(n=200_000, pi=[0.655, 0.345 - 2.4e-4 - 0.28, 2.4e-4, 0.28], caps=(200, 400))
_FROZEN = dict(n=200_000, pi=[0.655, 0.345 - 0.0113 - 0.2, 0.0113, 0.2], caps=(200, 400))


@pytest.mark.parametrize(("case", "r_f", "r_b"), [
    (_TOI, 0.36, 1e-3),  # ~0.4 expected boundary arrivals among 400: mostly k = 0
    (_FROZEN, 0.43, 0.0275),
    # both strata integrated whole and the feasible one dominating: the interval must carry
    # the binomial noise of its arrivals (holding r_F = k/m covered ~82 %)
    (dict(n=20_000, pi=[0.6, 0.385, 5e-3, 0.01], caps=(1000, 1000)), 0.4, 0.02),
])
def test_interval_covers_a_known_truth_at_the_nominal_rate(case, r_f, r_b):
    cover, inside, position = _coverage(r_f=r_f, r_b=r_b, **case)
    # 300 replicates: binomial sd of the coverage 0.013
    assert 0.92 <= cover <= 0.985
    assert inside
    # the estimate is not pinned to an end of its interval (the plug-in's median position
    # was 0.006 in the TOI case)
    assert 0.08 < position < 0.7


def test_interval_at_a_true_share_of_zero():
    # no boundary system can arrive: the modified Jeffreys lower end keeps the coverage
    # (the plain Jeffreys interval covered ~80 %, the old plug-in interval ~69 %)
    cover, inside, _ = _coverage(r_f=0.36, r_b=0.0, **_TOI)
    assert cover >= 0.95 and inside


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
