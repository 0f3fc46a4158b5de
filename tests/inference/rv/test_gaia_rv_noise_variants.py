"""Noise-model options: legacy Gaussian-filter smoothing and per-rv_method calibration."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.data_io.gaia import read_gaia_table
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.rv.catalogue import ScoreConfig, score_frame
from vlms_bayes.models.rv_noise import model as rn
from vlms_bayes.models.rv_noise.io import load_noise_model
from vlms_bayes.models.rv_noise.split import MethodSplitNoiseModel, fit_split_noise_model

LEGACY = replace(rn.TEST_CONFIG, smoothing="legacy", min_count=70)  # bin (G row 0, c 0) empty


@pytest.fixture(scope="module")
def dr2(registered_file):
    return read_gaia_table(registered_file("gaia_dr2_rv_sample.fits.gz"))


@pytest.fixture(scope="module")
def legacy_model(dr2):
    return rn.fit_noise_model(dr2.phot_g_mean_mag, dr2.bp_rp, dr2.radial_velocity_error,
                              dr2.rv_nb_transits, config=LEGACY)


def _gauss_1d(a, sigma, axis):
    """Hand-written normalised Gaussian, truncated at 4σ, edge ('nearest') padding."""
    radius = int(4.0 * sigma + 0.5)
    k = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    w /= w.sum()
    a = np.moveaxis(a, axis, 0)
    idx = np.clip(np.arange(a.shape[0])[:, None] + k[None, :], 0, a.shape[0] - 1)
    out = np.einsum("ij...,j->i...", a[idx], w)
    return np.moveaxis(out, 0, axis)


def test_legacy_keeps_calibrated_bins_and_fills_the_empty_one(legacy_model):
    m = legacy_model
    y, e, valid = m.bin_stats()
    assert valid.tolist() == [[False, True, True], [True, True, True]]
    gg, cc = np.meshgrid(m.mag_centres, m.color_centres, indexing="ij")
    mu, sd, oog = m.predict(cc, gg)
    np.testing.assert_array_equal(mu[valid], y[valid])  # calibrated bins untouched
    np.testing.assert_array_equal(sd[valid], e[valid])
    assert not oog.any()
    # empty bin: nearest bin in magnitudes is the G neighbour (0.25 mag < 0.367 mag), then
    # the Gaussian filter (sigma = 0.25 mag / bin width) of the filled grid
    filled = np.where(valid, y, y[1, 0])
    smooth = _gauss_1d(_gauss_1d(filled, 0.25 / 0.25, 0), 0.25 / (1.1 / 3), 1)
    assert mu[0, 0] == pytest.approx(smooth[0, 0], abs=1e-12)
    assert y[valid].min() <= mu[0, 0] <= y[valid].max()
    # bilinear between centres, clamped outside
    mid = m.predict(0.5 * (cc[1, 1] + cc[1, 2]), gg[1, 1])[0]
    assert mid == pytest.approx(0.5 * (y[1, 1] + y[1, 2]), abs=1e-12)
    far, _, far_oog = m.predict(9.0, 3.0)
    assert far == pytest.approx(mu[0, 2]) and far_oog


def test_legacy_model_round_trip_and_command(tmp_path, legacy_model, registered_file):
    path = legacy_model.save(tmp_path / "m.npz")
    again = rn.NoiseModel.load(path)
    assert again.config.smoothing == "legacy"
    np.testing.assert_array_equal(again.predict([0.4, 1.0], [6.6, 6.9])[0],
                                  legacy_model.predict([0.4, 1.0], [6.6, 6.9])[0])
    out = tmp_path / "fit"
    assert main(["gaia-rv", "fit-noise", "--input",
                 str(registered_file("gaia_dr2_rv_sample.fits.gz")), "--test-config",
                 "--smoothing", "legacy", "--smoothing-scales", "0.3", "0.2", "--outdir",
                 str(out), "--scheduler", "synchronous", "--no-progress", "--no-figures"]) == 0
    cfg = json.loads((out / "run_fit_noise.json").read_text())["config"]
    assert (cfg["smoothing"], cfg["color_smoothing_scale"], cfg["mag_smoothing_scale"]) == (
        "legacy", 0.3, 0.2)
    with pytest.raises(InputDataError, match="smoothing"):
        rn.NoiseGridConfig(smoothing="spline")


SPLIT_CFG = rn.NoiseGridConfig(min_color=0.5, max_color=1.5, num_color=2, min_mag=11.0,
                               max_mag=14.0, num_mag=2, targets_per_fit=400, num_iter=3)
SIGMA = {1: 0.3, 2: 1.5}


def _two_method_catalogue(n_per_method=1600, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for k, sig in SIGMA.items():
        n = np.full(n_per_method, 20)
        s2 = sig**2 * rng.chisquare(n - 1) / (n - 1)
        rows.append(pd.DataFrame({
            "phot_g_mean_mag": rng.uniform(11.05, 13.95, n_per_method),
            "bp_rp": rng.uniform(0.55, 1.45, n_per_method),
            "radial_velocity_error": np.sqrt(np.pi * s2 / (2 * n) + 0.11**2),
            "rv_nb_transits": n, "rv_method_used": k}))
    frame = pd.concat(rows, ignore_index=True)
    frame.insert(0, "source_id", np.arange(len(frame), dtype=np.int64))
    return frame


def test_split_calibration_recovers_each_method():
    cat = _two_method_catalogue()
    cols = (cat.phot_g_mean_mag, cat.bp_rp, cat.radial_velocity_error, cat.rv_nb_transits)
    split = fit_split_noise_model(*cols, cat.rv_method_used, config=SPLIT_CFG)
    # sigma-hat / sigma: the clipped median's 0.982 at N = 20 (spec 3.2 table) is divided out
    # by the default median unbiasing
    bias = 1.0 if SPLIT_CFG.median_unbias else np.sqrt(rn.clipped_median_bias(19))
    for k, sig in SIGMA.items():
        y, _, valid = split.models[k].bin_stats()
        assert valid.all()
        np.testing.assert_allclose(np.exp(y), sig * bias, rtol=0.04)
        assert split.models[k].config.split_method
    # calibrated together, the clipping treats the noisier method's stars as binaries
    joint = rn.fit_noise_model(*cols, config=SPLIT_CFG)
    np.testing.assert_allclose(np.exp(joint.bin_stats()[0]), SIGMA[1] * bias, rtol=0.1)
    joint_scored = score_frame(cat, joint, config=ScoreConfig(infer_k=False))
    assert (joint_scored.rv_pval[cat.rv_method_used == 2] < 1e-3).mean() > 0.9
    mu, _, oog = split.predict([1.0, 1.0, 1.0], [12.5, 12.5, 12.5], rv_method_used=[1, 2, 0])
    assert np.exp(mu[0]) == pytest.approx(SIGMA[1], rel=0.06)
    assert np.exp(mu[1]) == pytest.approx(SIGMA[2], rel=0.06)
    assert np.isnan(mu[2]) and oog[2]
    with pytest.raises(InputDataError, match="rv_method_used"):
        split.predict(1.0, 12.5)
    scored = score_frame(cat, split, config=ScoreConfig(infer_k=False))
    for k, sig in SIGMA.items():
        sel = cat.rv_method_used == k
        assert np.exp(scored.rv_ln_uncert[sel]).median() == pytest.approx(sig, rel=0.06)
        # single stars in each method: about 0.1% detections, not the joint model's excess
        assert (scored.rv_pval[sel] < 1e-3).mean() < 0.01
    with pytest.raises(InputDataError, match="rv_method_used"):
        score_frame(cat.drop(columns="rv_method_used"), split, config=ScoreConfig())


def test_split_commands_end_to_end(tmp_path):
    cat = _two_method_catalogue(n_per_method=800, seed=4)
    src = tmp_path / "cat.parquet"
    cat.to_parquet(src)
    out = tmp_path / "g"
    common = ["--outdir", str(out), "--scheduler", "synchronous", "--no-progress",
              "--no-figures"]
    assert main(["gaia-rv", "fit-noise", "--input", str(src), "--split-method",
                 "--color-grid", "0.5", "1.5", "2", "--mag-grid", "11", "14", "2",
                 "--targets-per-fit", "300", "--num-iter", "2", *common]) == 0
    model = load_noise_model(out / "noise_model.npz")
    assert isinstance(model, MethodSplitNoiseModel) and model.split_methods == (1, 2)
    with pytest.raises(InputDataError, match="per-method split noise model"):
        rn.NoiseModel.load(out / "noise_model.npz")
    bins = pd.read_csv(out / "noise_bins.csv")
    assert sorted(bins.rv_method_used.unique()) == [1, 2] and len(bins) == 8
    assert main(["gaia-rv", "score", "--input", str(src), "--no-k", "--no-csv",
                 *common]) == 0
    scored = pd.concat(pd.read_parquet(f) for f in sorted(
        (out / "gaia_rv_catalogue.parquet").glob("*.parquet")))
    med = np.exp(scored.groupby("rv_method_used").rv_ln_uncert.median())
    assert med[1] == pytest.approx(SIGMA[1], rel=0.08)
    assert med[2] == pytest.approx(SIGMA[2], rel=0.08)
    # the DR2 sample has no rv_method_used: a clear error
    bad = tmp_path / "nometh.parquet"
    cat.drop(columns="rv_method_used").to_parquet(bad)
    assert main(["gaia-rv", "fit-noise", "--input", str(bad), "--split-method",
                 "--outdir", str(tmp_path / "b"), "--scheduler", "synchronous",
                 "--no-progress"]) == 2
