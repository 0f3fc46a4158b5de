"""Slow checks of the secular integrator against the independent ``kozai`` package."""

from __future__ import annotations

import numpy as np
import pytest

from vlms_bayes.feasibility import kozai, secular

pytestmark = pytest.mark.slow


def _ours(tv, t_end: float, octupole: bool):
    one = np.ones(1)
    p = secular.TripleParams(tv.m1 * one, 1e-12 * one, tv.m3 * one, tv.a2 * one, tv.e2 * one,
                             0 * one, 0 * one, 0 * one, 0 * one, 0 * one,
                             float(octupole) * one, 0 * one, 0 * one)
    y0 = np.r_[tv.jvec, tv.evec, np.log(tv.a1)][None]
    return secular.integrate_batch(y0, p, np.array([t_end]), np.zeros(1), rtol=1e-11,
                                   atol=1e-13, max_steps=2_000_000)


@pytest.mark.parametrize(("inc", "e2", "octupole"), [(70.0, 0.0, False), (85.0, 0.0, False),
                                                     (75.0, 0.3, True), (80.0, 0.5, True)])
def test_emax_against_kozai_package(inc, e2, octupole):
    import kozai.vectorial as kz  # in the test extra: a missing package is a failure
    tv = kz.TripleVectorial(a1=1.0, a2=30.0, e1=0.05, e2=e2, inc=inc, g1=30.0, m1=1.0, m3=1.0)
    tv.octupole = octupole
    tv.rtol = tv.atol = 1e-11
    t_kl = kozai.kl_timescale_yr(1.0, 1e-12, 1.0, 1.0, 30.0, e2)
    t_end = 12 * t_kl
    ref = tv.evolve(t_end)
    e_ref = ref[:, 2].max()
    ours = _ours(kz.TripleVectorial(a1=1.0, a2=30.0, e1=0.05, e2=e2, inc=inc, g1=30.0, m1=1.0,
                                    m3=1.0), t_end, octupole)
    assert ours.e_max[0] == pytest.approx(e_ref, abs=2e-3)
    np.testing.assert_allclose(ours.energy_end, ours.energy0, rtol=1e-7)
    # KL period: time of the first eccentricity maximum agrees
    k_ref = np.argmax(ref[:, 2] > 0.95 * e_ref)
    assert k_ref > 0
    if not octupole:
        ours_half = _ours(kz.TripleVectorial(a1=1.0, a2=30.0, e1=0.05, e2=e2, inc=inc,
                                             g1=30.0, m1=1.0, m3=1.0), ref[k_ref, 0], False)
        assert ours_half.e_max[0] == pytest.approx(ref[k_ref, 2], abs=5e-3)


def test_secular_check_confusion_matrix_1000(shared_data_dir):
    from vlms_bayes.data_io.quarles import load_stability_table
    from vlms_bayes.feasibility import montecarlo as mc
    from vlms_bayes.feasibility.secular_check import run_secular_check

    table = load_stability_table(0, data_dir=shared_data_dir)
    cfg = mc.FeasibilityConfig()
    chk = run_secular_check(cfg, table, seed=1, n_triples=1000)
    assert len(chk.table) == 1000
    assert sum(chk.confusion.values()) == 1000
    assert chk.table["finished"].mean() > 0.98
    # where the octupole is weak the quadrupole e_max is what the integration reaches
    weak = chk.table[(chk.table.eps_oct < 1e-3) & chk.table.finished]
    assert len(weak) > 50
    assert np.median(np.abs(weak.e_max - weak.e_max_int)) < 0.02
    assert chk.agreement > 0.7
