"""Gaia RV exclusion of perturbers on the feasibility map (option of `vlms-bayes feasibility`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vlms_bayes.cli import main
from vlms_bayes.data_io.gaia import read_gaia_table
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.rv import detectability as det
from vlms_bayes.inference.rv import exclusion as ge
from vlms_bayes.inference.rv import pvalues as rp
from vlms_bayes.models.rv_noise import model as rn

LN_SIG = float(np.log(0.2))  # a bright host: 0.2 km/s per transit


def test_kepler_kernel_residual():
    m, e = np.meshgrid(np.linspace(0.0, np.pi, 101), np.linspace(0.0, 0.9, 46))
    res = []
    for mi, ei in zip(m.ravel(), e.ravel(), strict=True):
        s, c = ge._kepler_sincos(mi, ei)
        big_e = np.arctan2(s, c)
        wrapped = (big_e - ei * s - mi + np.pi) % (2 * np.pi) - np.pi  # E = ±π alike
        res.append(abs(wrapped) + abs(s * s + c * c - 1.0))
    assert max(res) < 1e-10


@pytest.mark.parametrize(("n", "mu", "smu"), [(5, -1.0, 0.0), (20, LN_SIG, 0.05), (60, 0.5, 0.3)])
def test_critical_s2_is_the_pvalue_threshold(n, mu, smu):
    s2 = ge.critical_s2(n, mu, smu)
    eps = rn.s2_to_eps(np.array([s2 * 0.999, s2, s2 * 1.001]), n)
    p, _ = rp.pvalue_marginalised(eps, n, mu, smu, backend="scipy")
    assert p[1] == pytest.approx(rp.DETECTION_PVAL, rel=1e-6)
    assert p[0] > rp.DETECTION_PVAL > p[2]


@pytest.fixture(scope="module")
def bright_grid():
    m_out = np.geomspace(1e-3, 0.5, 9)
    a_out = np.geomspace(0.05, 500.0, 9)
    prob = ge.detection_probability_grid(0.2, m_out, a_out, ln_sigma=LN_SIG,
                                         ln_sigma_err=0.05, n_transits=40, n_draws=400, seed=1)
    return m_out, a_out, prob


def test_bright_host_excludes_massive_close_not_light_far(bright_grid):
    _, a_out, prob = bright_grid
    assert prob.shape == (9, 9)
    assert prob[-1, 0] >= 0.99  # 0.5 Msun at 0.05 AU: K sin i ~ 80 km/s, eps ~ 11 < 40
    assert prob[0, -1] == 0.0  # 1 MJ at 500 AU: K ~ 1 m/s, P >> baseline
    # 1 MJ: K = 0.3 km/s at 0.05 AU is partly visible, beyond 1 AU it is not
    assert 0.05 < prob[0, 0] < 0.9 and prob[0, a_out > 1.0].max() < 0.01
    excluded = det.gaia_excluded(prob, 0.3)
    assert excluded[-1, 0] and not excluded[0, -1]
    # common random numbers: monotone up to the weak period dependence
    assert np.diff(prob, axis=0).min() >= -0.01  # more massive -> more detectable
    assert np.diff(prob, axis=1).max() <= 0.01  # wider -> less detectable


def test_brighter_host_detects_more(bright_grid):
    m_out, a_out, prob = bright_grid
    faint = ge.detection_probability_grid(0.2, m_out, a_out, ln_sigma=np.log(3.0),
                                          ln_sigma_err=0.05, n_transits=40, n_draws=400, seed=1)
    assert np.all(faint <= prob + 1e-12)
    assert faint.sum() < prob.sum()


def test_grid_matches_the_independent_simulation(registered_file, tmp_path):
    """Common-random-number grid vs rv_detectability's independent per-cell simulation."""
    t = read_gaia_table(registered_file("gaia_dr2_rv_sample.fits.gz"))
    model = rn.fit_noise_model(t.phot_g_mean_mag, t.bp_rp, t.radial_velocity_error,
                               t.rv_nb_transits, config=rn.TEST_CONFIG)
    mu, smu, _ = model.predict(0.9, 6.8)
    host = ge.GaiaHost(host_pval=0.3, n_transits=20, g_mag=6.8, bp_rp=0.9,
                       noise_model=str(model.save(tmp_path / "m.npz")))
    assert host.noise() == (pytest.approx(float(mu)), pytest.approx(float(smu)), 0.11, False)
    m_out = np.array([0.003, 0.03, 0.1])
    a_out = np.array([0.3, 3.0])
    grid = ge.detection_probability_grid(0.15, m_out, a_out, ln_sigma=float(mu),
                                         ln_sigma_err=float(smu), n_transits=20, n_draws=3000,
                                         seed=4, rv_floor_kms=model.config.rv_floor_kms)
    ref = det.gaia_detection_probability(0.15, 6.8, 0.9, m_out[:, None], a_out[None, :],
                                         noise_model=model, n_transits=20, n_draws=3000,
                                         seed=5)
    sd = np.sqrt(np.maximum(ref * (1 - ref), 0.01 * 0.99) / 3000)
    assert np.all(np.abs(grid - ref) < 5 * np.sqrt(2) * sd)
    assert 0.3 < ref[1, 0] < 0.9 and 0.05 < ref[2, 1] < 0.5  # cells in the transition


def test_significant_or_missing_host_pvalue_is_a_clear_error():
    with pytest.raises(InputDataError, match="significant"):
        ge.GaiaHost(host_pval=2e-4, n_transits=20, ln_sigma=0.0, ln_sigma_err=0.1).check()
    with pytest.raises(InputDataError, match="too faint"):
        ge.GaiaHost(host_pval=float("nan"), n_transits=20, ln_sigma=0.0,
                    ln_sigma_err=0.1).check()
    with pytest.raises(InputDataError, match="noise model"):
        ge.GaiaHost(host_pval=0.5, n_transits=20).check()
    with pytest.raises(InputDataError, match="rv_nb_transits"):
        ge.GaiaHost(host_pval=0.5, n_transits=2, ln_sigma=0.0, ln_sigma_err=0.1).check()


_CLI = ["feasibility", "--grid", "5", "--draws", "4", "--seed", "2", "--backend", "numba",
        "--secular-check", "0", "--probability-systems", "0", "--aout-range", "0.5", "500"]


def test_feasibility_command_marks_gaia_excluded(tmp_path, shared_data_dir, capsys):
    out = tmp_path / "feas"
    argv = [*_CLI, "--outdir", str(out), "--gaia-host-pval", "0.4", "--gaia-n-transits", "40",
            "--gaia-ln-sigma", str(LN_SIG), "0.05", "--gaia-draws", "200"]
    argv += ["--data-dir", str(shared_data_dir)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "excluded share of the feasible region" in printed
    z = np.load(out / "feasibility_map.npz")
    prob, excl = z["gaia_detect_prob"], z["gaia_excluded"]
    assert prob.shape == excl.shape == z["feasible_fraction"].shape == (5, 5)
    np.testing.assert_array_equal(excl, prob >= 0.99)
    assert excl[-1, 0] and not excl[0, -1]  # 0.6 Msun at 0.5 AU vs 0.01 Msun at 500 AU
    settings = json.loads(str(z["gaia_settings_json"]))
    assert settings["host_pval"] == 0.4 and settings["n_transits"] == 40
    rec = json.loads((out / "run.json").read_text())
    assert rec["gaia_rv_exclusion"]["resolved_ln_sigma"] == pytest.approx(LN_SIG)
    share = rec["headline"]["gaia_excluded_share"]
    feas = z["feasible_fraction"]
    if feas.sum() > 0:
        assert share == pytest.approx((feas * excl).sum() / feas.sum())
    assert (out / "fig3_feasibility.png").stat().st_size > 0


def test_feasibility_command_refuses_a_significant_host(tmp_path, capsys):
    out = tmp_path / "x"
    rc = main([*_CLI, "--outdir", str(out), "--gaia-host-pval", "1e-5", "--gaia-n-transits",
               "20", "--gaia-ln-sigma", "0", "0.1"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "significant" in err and "perturber" in err
    assert not out.exists()
    rc = main([*_CLI, "--outdir", str(out), "--gaia-n-transits", "20"])
    assert rc == 2 and "--gaia-host-pval" in capsys.readouterr().err
