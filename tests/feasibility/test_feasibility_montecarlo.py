"""The Monte Carlo engine: JAX and numba agree on the same draws; the map is sane."""

from __future__ import annotations

import inspect
import logging

import numpy as np
import pytest

from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility import montecarlo as mc
from vlms_bayes.feasibility.stability import ac_ratio_jax

SMALL = mc.FeasibilityConfig(n_m_out=6, n_a_out=7, n_draws=60, m_out_range_msun=(0.02, 0.6),
                             a_out_range_au=(5.0, 2000.0), chunk_cells=16)


@pytest.fixture(scope="module")
def table(shared_data_dir):
    from vlms_bayes.data_io.quarles import load_stability_table

    return load_stability_table(0, data_dir=shared_data_dir)


@pytest.fixture(scope="module")
def maps(table):
    return {b: mc.feasibility_map(SMALL, seed=7, table=table, backend=b)
            for b in ("jax", "numba")}


def test_draws_are_reproducible_and_distributed():
    cfg = mc.FeasibilityConfig(n_draws=20000)
    d1, d2 = mc.make_draws(cfg, 5), mc.make_draws(cfg, 5)
    for k in mc.DRAW_FIELDS:
        np.testing.assert_array_equal(d1[k], d2[k])
    # thermal e_out: mean 2/3; isotropic: mean cos i = 0, var 1/3
    assert d1["e_out"].mean() == pytest.approx(2 / 3, abs=0.01)
    assert d1["cos_i"].mean() == pytest.approx(0.0, abs=0.02)
    assert np.var(d1["cos_i"]) == pytest.approx(1 / 3, abs=0.01)
    assert d1["a0_au"].min() >= 0.1 and d1["a0_au"].max() <= 5.0
    a_s, e_s = np.array([0.5, 1.0, 2.0]), np.array([0.0, 0.1, 0.2])
    d3 = mc.make_draws(mc.FeasibilityConfig(n_draws=50), 1, initial_ae=(a_s, e_s))
    assert set(np.unique(d3["a0_au"])) <= set(a_s)


@pytest.mark.parametrize(("m_out", "a_out"), [(0.05, 20.0), (0.3, 150.0), (0.5, 1500.0)])
def test_backends_agree_per_draw(table, m_out, a_out):
    cfg = mc.FeasibilityConfig(n_draws=300)
    draws = mc.make_draws(cfg, 11)
    oj = mc.draw_outcomes(cfg, table, m_out, a_out, draws, backend="jax")
    on = mc.draw_outcomes(cfg, table, m_out, a_out, draws, backend="numba")
    for k, v in oj.items():
        np.testing.assert_allclose(np.asarray(on[k], float), np.asarray(v, float), rtol=1e-10,
                                   atol=0, err_msg=k)
    assert np.all(oj["e_max"] >= draws["e0"] - 1e-12)
    assert np.all(oj["t_tide_yr"] > 0)


def test_backends_agree_on_map(maps):
    np.testing.assert_array_equal(maps["jax"].counts, maps["numba"].counts)
    assert maps["jax"].backend == "jax" and maps["numba"].backend == "numba"


def test_numba_lookup_matches_ac_ratio_jax(table):
    import jax

    from vlms_bayes.feasibility import montecarlo_numba as mn

    rng = np.random.default_rng(0)
    mu, e = rng.uniform(0.001, 0.999, 500), rng.uniform(0, 0.8, 500)
    with jax.enable_x64(True):
        ref = np.asarray(ac_ratio_jax(table, mu, e))
    arrs = [np.asarray(a, float) for a in table[:3]]
    got = np.array([mn._lookup(*arrs, m, x) for m, x in zip(mu, e, strict=True)])
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)


def test_map_fractions_are_sane(maps):
    f = maps["jax"].fractions()
    for key in ("marginal", "cascade", "feasible", "sensitivity", "seed_rule", "octupole_flag"):
        assert np.all((f[key] >= 0) & (f[key] <= 1)), key
    casc = f["cascade"]
    assert np.all(np.diff(casc, axis=0) <= 0)  # a cascade can only lose draws
    np.testing.assert_array_equal(casc[-1], f["feasible"])
    # the (T=1 Gyr, 2.7 r_t) sensitivity entry is the main map
    np.testing.assert_array_equal(f["sensitivity"][0, 1], f["feasible"])
    # longer horizons never lower the feasible fraction
    assert np.all(np.diff(f["sensitivity"], axis=0) >= 0)
    # wide, light perturbers are stable but for the most eccentric outer orbits, close
    # massive ones never
    assert f["marginal"][0][0, -1] >= 0.9
    assert f["marginal"][1][-1, 0] < 0.5 * f["marginal"][1][0, -1]


def test_holman_wiegert_option_runs(table):
    cfg = mc.FeasibilityConfig(n_m_out=3, n_a_out=3, n_draws=20, stability="holman_wiegert")
    r = mc.feasibility_map(cfg, seed=1, table=table, backend="numba")
    assert r.counts.shape[:2] == (3, 3)


def test_auto_falls_back_to_numba(table, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no XLA here")

    monkeypatch.setattr(mc, "_map_jax", broken)
    cfg = mc.FeasibilityConfig(n_m_out=2, n_a_out=2, n_draws=10)
    with caplog.at_level(logging.WARNING):
        r = mc.feasibility_map(cfg, seed=1, table=table, backend="auto")
    assert r.backend == "numba"
    assert "no XLA here" in r.fallback_reason
    assert "falling back to numba" in caplog.text
    with pytest.raises(RuntimeError):
        mc.feasibility_map(cfg, seed=1, table=table, backend="jax")


def test_the_map_takes_its_table_and_never_loads_one(table):
    """Tables are passed in, never loaded in feasibility/ (issue 19)."""
    params = inspect.signature(mc.feasibility_map).parameters
    assert params["table"].default is inspect.Parameter.empty
    assert "data_dir" not in params
    with pytest.raises(TypeError, match="table"):
        mc.feasibility_map(SMALL, seed=1, backend="numba")


def test_bad_settings_are_reported(table):
    with pytest.raises(InputDataError, match="backend"):
        mc.feasibility_map(SMALL, seed=1, table=table, backend="cuda")
    with pytest.raises(InputDataError, match="a0_range_au"):
        mc.FeasibilityConfig(a0_range_au=(0.01, 1.0)).check()
    with pytest.raises(InputDataError, match="mass_mj"):
        mc.FeasibilityConfig(target=mc.Target(mass_mj=-1.0)).check()


_SPLIT_MAP = """
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax, numpy as np
from vlms_bayes.feasibility import montecarlo as mc
from vlms_bayes.data_io.quarles import load_stability_table
assert jax.local_device_count() == 2
cfg = mc.FeasibilityConfig(n_m_out=6, n_a_out=7, n_draws=60, m_out_range_msun=(0.02, 0.6),
                           a_out_range_au=(5.0, 2000.0), chunk_cells=4)
table = load_stability_table(0, data_dir=sys.argv[1] or None)
np.save(sys.argv[2], mc.feasibility_map(cfg, seed=7, table=table, backend="jax").counts)
"""


def test_jax_map_split_over_host_devices_gives_the_same_counts(maps, shared_data_dir,
                                                               tmp_path):
    # The command line gives JAX one host device per core and the map splits its chunks
    # over them (shard_map); every cell is computed alone, so the counts are those of the
    # one-device map with another chunk size.
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(mc.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    env.pop("XLA_FLAGS", None)
    out = tmp_path / "counts.npy"
    subprocess.run([sys.executable, "-c", _SPLIT_MAP, str(shared_data_dir),
                    str(out)], check=True, env=env, timeout=300)
    np.testing.assert_array_equal(np.load(out), maps["jax"].counts)
