"""gaia-rv commands end to end, Dask partition independence, simulations, detectability."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vlms_bayes.cli import main
from vlms_bayes.data_io.gaia import read_gaia_table
from vlms_bayes.inference.rv import detectability as det
from vlms_bayes.inference.rv import pvalues as rp
from vlms_bayes.inference.rv.catalogue import (
    ScoreConfig,
    dask_client,
    score_catalogue,
)
from vlms_bayes.models.rv_noise import model as rn

SRC = Path(__file__).resolve().parents[2] / "src"
FAST_K = ScoreConfig(n_samples=1000)


def _read_dataset(folder):
    frame = pd.concat([pd.read_parquet(f) for f in sorted(Path(folder).glob("*.parquet"))])
    return frame.sort_values("source_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def dr2_path(registered_file):
    return registered_file("gaia_dr2_rv_sample.fits.gz")


@pytest.fixture(scope="module")
def test_model(dr2_path):
    t = read_gaia_table(dr2_path)
    cfg = rn.TEST_CONFIG
    return rn.fit_noise_model(t.phot_g_mean_mag, t.bp_rp, t.radial_velocity_error,
                              t.rv_nb_transits, config=cfg)


def test_commands_end_to_end_on_shared_sample(tmp_path, dr2_path, capsys):
    out = tmp_path / "gaia"
    common = ["--outdir", str(out), "--scheduler", "threads", "--no-progress"]
    assert main(["gaia-rv", "fit-noise", "--input", str(dr2_path), "--test-config",
                 "--strict-min-nb-transits", *common]) == 0
    model = rn.NoiseModel.load(out / "noise_model.npz")
    np.testing.assert_array_equal(model.counts, [[67, 253, 651], [92, 344, 885]])
    bins = pd.read_csv(out / "noise_bins.csv")
    assert bins["count"].sum() == 67 + 253 + 651 + 92 + 344 + 885
    assert main(["gaia-rv", "score", "--input", str(dr2_path), "--n-samples", "1000",
                 *common]) == 0
    summary = json.loads((out / "score_summary.json").read_text())
    assert summary["n_sources"] == 2301 and summary["n_scored"] == 2299  # two N = 2 rows
    assert abs(summary["n_detected_p_lt_0.001"] - 116) <= 3
    assert summary["n_k_inferred"] == summary["n_candidates_p_lt_0.01"]
    cat = _read_dataset(out / "gaia_rv_catalogue.parquet")
    csv = pd.read_csv(out / "gaia_rv_catalogue.csv")
    assert len(cat) == len(csv) == 2301
    for col in ("source_id", "ra", "dec", "parallax", "bp_rp", "phot_g_mean_mag",
                "rv_ln_uncert", "rv_ln_uncert_err", "rv_pval", "rv_semiamp_p5",
                "rv_semiamp_p95", "rv_nb_transits", "rv_out_of_grid", "rv_pval_method"):
        assert col in cat
    cand = cat.rv_pval < 0.01
    assert cat.loc[cand, "rv_semiamp_p50"].notna().all()
    assert cat.loc[~cand, "rv_semiamp_p50"].isna().all()
    assert (cat.rv_time_duration == 668.0).all() and cat.rv_time_duration_fallback.all()
    assert (cat.loc[cand, "rv_semiamp_p16"] <= cat.loc[cand, "rv_semiamp_p84"]).all()
    assert main(["gaia-rv", "completeness", "--n-sims", "3000", "--k-sims", "40",
                 *common]) == 0
    comp = json.loads((out / "completeness_summary.json").read_text())
    assert 0 < comp["code"]["fraction_detected"] < 1
    assert 0 < comp["paper"]["fraction_detected"] < 1
    for name in ("fig_noise_model.png", "fig_pvalues.png", "fig_completeness_code.png",
                 "fig_completeness_paper.png", "fig_k_recovery.png", "completeness_maps.npz",
                 "run_fit_noise.json", "run_score.json", "run_completeness.json"):
        assert (out / name).is_file(), name
    capsys.readouterr()


def test_cli_errors(tmp_path, dr2_path, capsys):
    rc = main(["gaia-rv", "score", "--input", str(dr2_path), "--outdir", str(tmp_path / "x"),
               "--scheduler", "threads", "--no-progress"])
    assert rc == 2
    assert "No noise model" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"source_id": [1], "bp_rp": [1.0]}).to_csv(bad, index=False)
    rc = main(["gaia-rv", "fit-noise", "--input", str(bad), "--outdir", str(tmp_path / "y"),
               "--scheduler", "threads", "--no-progress"])
    assert rc == 2
    assert "phot_g_mean_mag" in capsys.readouterr().err


def test_partition_and_worker_independence(tmp_path, dr2_path, test_model):
    """One file + synchronous scheduler == 4 Parquet partitions on a 2-worker Dask cluster."""
    one = tmp_path / "one"
    score_catalogue(dr2_path, one, noise_model=test_model, config=FAST_K,
                    scheduler="synchronous")
    t = read_gaia_table(dr2_path).sample(frac=1.0, random_state=1)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(t)), 4)):
        t.iloc[chunk].to_parquet(parts / f"p{i}.parquet", index=False)
    many = tmp_path / "many"
    with dask_client(None, n_workers=2, processes=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        score_catalogue(parts, many, noise_model=test_model, config=FAST_K, scheduler=client)
    a = _read_dataset(one)
    b = _read_dataset(many)
    assert len(list(many.glob("*.parquet"))) == 4
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def _simulated_catalogue(n, seed):
    """A DR3-like catalogue with a known noise law and 30% binaries."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(8.0, 12.0, n)
    c = rng.uniform(0.5, 2.0, n)
    ntr = rng.integers(3, 40, n)
    dt = rng.choice([600.0, 800.0, 1038.0], n)
    sigma = 0.2 * np.exp(0.3 * (g - 8.0)) * (1 + 0.2 * c)
    v = rng.normal(0.0, 1.0, (n, 40)) * sigma[:, None]
    binary = rng.uniform(size=n) < 0.3
    v[binary] += 10 ** rng.uniform(0, 1.5, binary.sum())[:, None] * np.sin(
        rng.uniform(0, 2 * np.pi, (binary.sum(), 40)))
    mask = np.arange(40)[None, :] < ntr[:, None]
    mean = np.where(mask, v, 0).sum(1) / ntr
    s2 = np.where(mask, (v - mean[:, None]) ** 2, 0).sum(1) / (ntr - 1)
    return pd.DataFrame({"source_id": np.arange(n), "phot_g_mean_mag": g, "bp_rp": c,
                         "radial_velocity_error": rn.s2_to_eps(s2, ntr),
                         "rv_nb_transits": ntr, "rv_time_duration": dt,
                         "rv_method_used": np.where(g < 11, 1, 2)}), binary, sigma


def test_simulated_partitioned_catalogue(tmp_path, capsys):
    cat, binary, _ = _simulated_catalogue(9000, 5)
    parts = tmp_path / "dr3"
    parts.mkdir()
    for i in range(3):
        cat.iloc[i * 3000:(i + 1) * 3000].to_parquet(parts / f"part-{i}.parquet", index=False)
    out = tmp_path / "out"
    common = ["--outdir", str(out), "--scheduler", "threads", "--no-progress", "--no-figures"]
    assert main(["gaia-rv", "fit-noise", "--input", str(parts), "--color-grid", "0.5", "2.0",
                 "3", "--mag-grid", "8", "12", "4", "--num-iter", "5", *common]) == 0
    model = rn.NoiseModel.load(out / "noise_model.npz")
    mu, _, _ = model.predict(model.color_centres[None, :], model.mag_centres[:, None])
    truth = np.log(0.2 * np.exp(0.3 * (model.mag_centres[:, None] - 8.0))
                   * (1 + 0.2 * model.color_centres[None, :]))
    assert np.abs(mu - truth).max() < 0.15  # bin-averaged truth, median bias, GP smoothing
    assert main(["gaia-rv", "score", "--input", str(parts / "part-*.parquet"), "--no-k",
                 "--no-csv", *common]) == 0
    scored = _read_dataset(out / "gaia_rv_catalogue.parquet")
    p = scored["rv_pval"].to_numpy()
    single = ~binary
    # singles: few detections (noise-model error inflates this a little above 0.1%)
    assert (p[single] < 1e-3).mean() < 0.02
    assert (p[binary] < 1e-3).mean() > 0.5
    assert "rv_method_used" in scored
    capsys.readouterr()


def test_cli_help_subprocess():
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-m", "vlms_bayes", "gaia-rv", "score", "--help"],
                         capture_output=True, text=True, env=env, check=False, timeout=120)
    assert res.returncode == 0
    assert "--scheduler" in res.stdout and "--noise-model" in res.stdout


def test_simulator_null_is_uniform():
    rng = np.random.default_rng(3)
    m = 20000
    n = rng.integers(3, 30, m)
    z = np.zeros(m)
    eps = det.synthetic_eps(z, np.ones(m), z, z, z, n, np.full(m, 1000.0), np.full(m, 0.4),
                            rng)
    p = rp.pvalue_plugin(eps, n, np.log(0.4))
    assert stats.kstest(p, "uniform").pvalue > 1e-3


def test_kepler_units_and_orbits():
    # Jupiter around the Sun: K ≈ 12.5 m/s; the Earth's year
    k = det.semiamplitude_kms(1.0, 9.546e-4, 5.2)
    assert k == pytest.approx(0.01246, rel=0.01)
    assert det.period_days(1.0, 1.0) == pytest.approx(365.25, rel=1e-4)


def test_code_mode_angles_and_recovery(test_model):
    n_pool = np.arange(3, 40)
    sims = det.simulate_code_mode(4000, n_transits_pool=n_pool, dt_pool_days=np.full(37, 900.0),
                                  seed=1)
    assert sims.sim_omega.between(0, 2 * np.pi).all()
    bug = det.simulate_code_mode(500, n_transits_pool=n_pool, dt_pool_days=np.full(37, 900.0),
                                 seed=1, angle_bug=True)
    assert bug.sim_omega.max() > 2 * np.pi
    ratio = sims.sim_semiamp / np.exp(sims.rv_ln_uncert)
    strong = (ratio > 20) & (sims.sim_semiamp < 20) & (sims.sim_period < 300)  # not culled
    assert sims.detected[strong].mean() > 0.9
    assert sims.radial_velocity_error[sims.sim_semiamp > 200].isna().mean() > 0.5
    assert sims.detected[ratio < 0.05].mean() < 0.01
    frac, total = det.completeness_map([0.5, 0.5, 1.5], [0.5, 0.5, 0.5], [True, False, True],
                                       x_edges=[0, 1, 2], y_edges=[0, 1])
    np.testing.assert_allclose(frac[:, 0], [0.5, 1.0])
    np.testing.assert_array_equal(total[:, 0], [2, 1])


def test_detection_probability(test_model):
    m_out = np.array([1e-4, 3e-3, 0.1])[:, None]
    a_out = np.array([0.05, 1.0, 100.0])[None, :]
    p = det.gaia_detection_probability(0.15, 6.8, 0.9, m_out, a_out, noise_model=test_model,
                                       n_draws=300, seed=2)
    assert p.shape == (3, 3)
    assert p[2, 0] > 0.97  # 0.1 Msun at 0.05 AU around 0.15 Msun: K ~ 30 km/s >> sigma
    assert p[0, :].max() < 0.02  # Earth-mass-ish: invisible
    assert p[2, 2] < 0.05  # 100 AU: P >> baseline, no variation within 1038 d
    assert np.all(np.diff(p[:, 0]) >= -0.02)  # more massive -> more detectable
    again = det.gaia_detection_probability(0.15, 6.8, 0.9, m_out, a_out,
                                           noise_model=test_model, n_draws=300, seed=2)
    np.testing.assert_array_equal(p, again)
    fixed_n = det.gaia_detection_probability(0.15, 6.8, 0.9, 0.1, 0.05,
                                             noise_model=test_model, n_transits=20, n_draws=50)
    assert fixed_n > 0.9


def test_gaia_excluded_mask():
    prob = np.array([0.5, 0.995, 1.0])
    assert det.gaia_excluded(prob, 0.4).tolist() == [False, True, True]
    assert not det.gaia_excluded(prob, None).any()  # no Gaia RV for the host
    assert not det.gaia_excluded(prob, np.nan).any()
    assert not det.gaia_excluded(prob, 1e-5).any()  # host noise significant: no exclusion


def test_completeness_from_raw_dr2_catalogue(tmp_path, dr2_path, capsys):
    out = tmp_path / "c"
    assert main(["gaia-rv", "completeness", "--input", str(dr2_path), "--mode", "code",
                 "--n-sims", "2000", "--k-sims", "0", "--outdir", str(out), "--no-progress",
                 "--no-figures"]) == 0
    sims = pd.read_parquet(out / "completeness_sims_code.parquet")
    assert (sims.rv_time_duration == 668.0).all()  # DR2 baseline fallback
    rc = main(["gaia-rv", "completeness", "--input", str(dr2_path), "--mode", "paper",
               "--n-sims", "100", "--outdir", str(tmp_path / "d"), "--no-progress"])
    assert rc == 2
    assert "score" in capsys.readouterr().err
