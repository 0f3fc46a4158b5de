"""The feasibility command and its Python API write complete, consistent outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.feasibility.montecarlo import CRITERIA
from vlms_bayes.pipeline import feasibility as report


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, shared_data_dir):
    out = tmp_path_factory.mktemp("feas") / "out"
    argv = ["feasibility", "--grid", "8", "--draws", "40", "--seed", "3", "--backend", "numba",
            "--secular-check", "12", "--probability-systems", "3000", "--outdir", str(out),
            "--integrate-candidates", "5", "6", "4", "--sensitivity-integrate", "2", "3"]
    argv += ["--data-dir", str(shared_data_dir)]
    assert main(argv) == 0
    return out


def test_outputs_exist_and_are_consistent(cli_run):
    for name in ("feasibility_map.npz", "fig3_feasibility.png", "feasibility_sensitivity.csv",
                 "fig_feasibility_sensitivity.png", "disk_migration.csv",
                 "fig_disk_migration.png", "run.json", "secular_check.csv"):
        assert (cli_run / name).is_file(), name
    z = np.load(cli_run / "feasibility_map.npz")
    assert z["feasible_fraction"].shape == (8, 8)
    assert list(z["criteria"]) == list(CRITERIA)
    np.testing.assert_array_equal(z["cascade_pass"][-1], z["feasible_fraction"])
    assert int(z["seed"]) == 3
    settings = json.loads(str(z["settings_json"]))
    assert settings["target"]["name"] == "TOI-6894 b"
    rec = json.loads((cli_run / "run.json").read_text())
    assert rec["backend"] == {"requested": "numba", "used": "numba", "fallback_reason": None}
    assert rec["seeds"]["draws"] == 3
    sens = pd.read_csv(cli_run / "feasibility_sensitivity.csv")
    assert len(sens) == 3 * 6
    assert sens["mean_fraction"].between(0, 1).all()
    # the main map is the (1 Gyr, 2.7 r_t) row of the study
    row = sens[(sens.horizon_gyr == 1.0) & (sens.threshold == 2.7)]
    assert row["mean_fraction"].item() == pytest.approx(z["feasible_fraction"].mean())
    chk = pd.read_csv(cli_run / "secular_check.csv")
    assert len(chk) == 12 and chk["finished"].all()
    conf = rec["headline"]["secular_confusion"]
    assert sum(conf.values()) == 12
    d = pd.read_csv(cli_run / "disk_migration.csv")
    assert (d["regime"] == "Type II").all()  # Saturn-mass TOI-6894 b opens a gap
    assert (d["tau_type2_kanagawa_yr"] > d["tau_type1_yr"]).all()


def test_summary_leads_with_both_probabilities(cli_run):
    lines = (cli_run / "SUMMARY.txt").read_text().splitlines()
    assert lines[0].startswith("Origin of TOI-6894 b")
    assert lines[1].lstrip().startswith("P(Kozai-Lidov origin) of TOI-6894 b = ")
    text = "\n".join(lines)
    assert "P(disk migration) of TOI-6894 b = " in text and "95% interval" in text
    assert "Winters et al. 2019" in text and "Pfalzner & Dincer 2024" in text
    assert text.index("P(disk migration)") < text.index("mean feasible fraction")
    rec = json.loads((cli_run / "origin_probability.json").read_text())
    kl, disk = rec["kozai_lidov"], rec["disk"]
    assert kl["low"] <= kl["probability"] <= kl["high"]
    assert disk["low"] <= disk["probability"] <= disk["high"]
    assert kl["counts"]["systems_with_perturber"] == 3000
    # the radius law and the lag priors are stated and recorded (issue 16)
    assert "BHAC15" in kl["assumptions"] and "COND03" in kl["assumptions"]
    assert "Lainey et al. 2009" in kl["assumptions"] and "Penev et al. 2018" in kl["assumptions"]
    assert "BHAC15" in text
    config = json.loads((cli_run / "run.json").read_text())["config"]
    assert (config["radii"], config["lags"]) == ("evolving", "prior")
    # the host's spin (issue 16): on by default, stated with its sources
    assert config["host_spin"] == "prior"
    assert "host spin from its prior" in kl["assumptions"]
    assert "Rebull et al. 2018" in kl["assumptions"]
    assert "host spin from its prior" in " ".join(text.split())  # SUMMARY wraps its lines
    sens = pd.read_csv(cli_run / "origin_sensitivity.csv")
    assert set(sens["parameter"]) == {"radius_rj", "q_prime_planet", "horizon_gyr"}
    assert (cli_run / "fig_origin_sensitivity.png").is_file()
    # the npz carries the attribution and the intervals
    z = np.load(cli_run / "feasibility_map.npz")
    np.testing.assert_allclose(z["loss_fraction"].sum(axis=0) + z["feasible_fraction"], 1.0)
    lo, hi = z["feasible_ci95"]
    assert np.all(lo <= z["feasible_fraction"]) and np.all(z["feasible_fraction"] <= hi)


def test_octupole_candidates_are_integrated_and_reported(cli_run):
    rec = json.loads((cli_run / "origin_probability.json").read_text())
    assert rec["kozai_lidov_verdicts"] == "integrated"
    assert rec["integration"]["max_feasible"] == 5 and rec["integration"]["max_map"] == 4
    kl, ana = rec["kozai_lidov"], rec["kozai_lidov_analytic"]
    c = kl["counts"]
    assert c["feasible_stratum"] == ana["counts"]["arrive"]
    assert c["feasible_integrated"] == min(5, c["feasible_stratum"])
    assert c["boundary_integrated"] == min(6, c["boundary_stratum"])
    assert "octupole candidates integrated" in kl["assumptions"]
    cand = pd.read_csv(cli_run / "octupole_candidates_probability.csv")
    assert len(cand) == c["feasible_integrated"] + c["boundary_integrated"]
    assert (cand["t_end_yr"] >= np.minimum(5 * cand["t_oct_yr"], 1e9) * (1 - 1e-9)).all()
    assert not (cand["verdict"] & cand["disrupted_int"]).any()
    z = np.load(cli_run / "feasibility_map.npz")
    m = pd.read_csv(cli_run / "octupole_candidates_map.csv")
    assert int(z["n_integrated"].sum()) == len(m) == min(
        4, round((z["feasible_fraction"] * 40).sum()))
    changed = z["n_integrated"] - z["n_confirmed"]
    np.testing.assert_allclose(z["feasible_fraction"] - z["integrated_feasible_fraction"],
                               changed / 40)
    text = (cli_run / "SUMMARY.txt").read_text()
    assert "uses the integrated verdicts of the octupole candidates" in text and "map: " in text


def test_sensitivity_rows_use_integrated_verdicts_when_asked(cli_run):
    sens = pd.read_csv(cli_run / "origin_sensitivity.csv")
    assert sens["verdicts"].str.startswith("integrated octupole candidates (caps 2 feasible, "
                                           "3 boundary").all()
    assert (sens["feasible_integrated"] == np.minimum(2, sens["feasible_stratum"])).all()
    assert (sens["boundary_integrated"] == np.minimum(3, sens["boundary_stratum"])).all()
    assert (sens["feasible_confirmed"] <= sens["feasible_integrated"]).all()
    assert ((sens["low"] <= sens["p_kl"]) & (sens["p_kl"] <= sens["high"])).all()
    # the analytic column is the analytic probability of the same systems
    assert (sens["n_arrive"] == sens["feasible_stratum"]).all()
    rec = json.loads((cli_run / "run.json").read_text())["config"]["integration"]
    assert (rec["sensitivity_feasible"], rec["sensitivity_boundary"]) == (2, 3)


def test_sensitivity_integrate_rejects_negative_caps(tmp_path, capsys):
    rc = main(["feasibility", "--grid", "3", "--draws", "2", "--secular-check", "0",
               "--sensitivity-integrate", "1", "-1", "--outdir", str(tmp_path / "x")])
    assert rc == 2
    assert "--sensitivity-integrate must be >= 0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_headline_three_reads_the_probabilities(cli_run):
    from vlms_bayes.report.headlines import headline_lines, headline_numbers

    h = headline_numbers(cli_run)
    rec = json.loads((cli_run / "origin_probability.json").read_text())
    assert h["feasibility"]["p_kl"] == rec["kozai_lidov"]["probability"]
    assert h["feasibility"]["p_disk_ci95"] == [rec["disk"]["low"], rec["disk"]["high"]]
    lines = headline_lines(h)
    i = next(k for k, ln in enumerate(lines) if ln.startswith("3. Origin of TOI-6894 b"))
    assert "P(Kozai-Lidov origin) = " in lines[i] and "P(disk migration) = " in lines[i]
    assert "mean feasible fraction of perturber space = " in lines[i + 1]


def test_negative_probability_systems_is_a_clean_error(tmp_path, capsys):
    rc = main(["feasibility", "--probability-systems", "-5", "--grid", "3", "--draws", "2",
               "--secular-check", "0", "--outdir", str(tmp_path / "x")])
    assert rc == 2
    assert "probability_systems" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_limiting_criterion_picks_largest_loss():
    cascade = np.array([[1.0, 0.9], [0.5, 0.9], [0.5, 0.1], [0.4, 0.1]])[:, :, None]
    np.testing.assert_array_equal(report.limiting_criterion(cascade)[:, 0], [1, 2])


def test_frozen_radii_and_fixed_lags_for_comparison(tmp_path, shared_data_dir):
    out = tmp_path / "f"
    assert main(["feasibility", "--radii", "frozen", "--lags", "fixed", "--host-spin", "none",
                 "--grid", "3",
                 "--draws", "5", "--secular-check", "0", "--backend", "numba",
                 "--probability-systems", "300", "--data-dir", str(shared_data_dir),
                 "--outdir", str(out)]) == 0
    config = json.loads((out / "run.json").read_text())["config"]
    assert (config["radii"], config["lags"], config["host_spin"]) == ("frozen", "fixed", "none")
    kl = json.loads((out / "origin_probability.json").read_text())["kozai_lidov"]
    assert "radii frozen at today's" in kl["assumptions"]
    assert "host not rotating" in kl["assumptions"]
    assert "tidal lags fixed: Q'p = 100000" in kl["assumptions"]


def test_host_outside_the_radius_tracks_is_a_clean_error(tmp_path, capsys):
    rc = main(["feasibility", "--mstar", "0.9", "--outdir", str(tmp_path / "x")])
    assert rc == 2
    assert "--radii frozen" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_bad_input_is_a_clean_error(tmp_path, capsys):
    rc = main(["feasibility", "--mc-mj", "-1", "--outdir", str(tmp_path / "x")])
    assert rc == 2
    assert "mass_mj" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_target_from_catalogue(tmp_path, ps_snapshot, shared_data_dir):
    out = tmp_path / "t"
    rc = main(["feasibility", "--ps", str(ps_snapshot), "--no-bd", "--data-dir",
               str(shared_data_dir), "--target", "toi-6894 B", "--grid", "3", "--draws", "5",
               "--secular-check", "0", "--backend", "numba", "--probability-systems", "0",
               "--outdir", str(out)])
    assert rc == 0
    tgt = json.loads((out / "run.json").read_text())["config"]["target"]
    assert tgt["name"] == "TOI-6894 b"
    assert tgt["m_star_msun"] == pytest.approx(0.207, abs=1e-3)
    assert tgt["a_au"] == pytest.approx(0.02604, abs=1e-4)
    assert tgt["radius_rj"] == pytest.approx(0.855)
    frame = pd.DataFrame({"name": ["X b"], "st_mass": [0.1], "st_rad": [0.12],
                          "pl_bmassj": [1.0], "pl_orbsmax": [0.05]})
    with pytest.raises(report.InputDataError, match="radius_rj"):
        report.target_from_frame(frame, "X b")
    assert report.target_from_frame(frame, "x b", radius_rj=1.1).radius_rj == 1.1
    with pytest.raises(report.InputDataError, match="not in the stacked catalogue"):
        report.target_from_frame(frame, "Y b")


def test_initial_ae_from_file(tmp_path):
    pd.DataFrame({"a_au": [0.5, 1.0, 2.0], "e": [0.0, 0.05, 0.1]}).to_csv(tmp_path / "ae.csv")
    a, e = report.read_initial_ae(tmp_path / "ae.csv")
    np.testing.assert_array_equal(a, [0.5, 1.0, 2.0])
    np.testing.assert_array_equal(e, [0.0, 0.05, 0.1])
    pd.DataFrame({"a": [1.0]}).to_csv(tmp_path / "bad.csv")
    with pytest.raises(report.InputDataError, match="a_au"):
        report.read_initial_ae(tmp_path / "bad.csv")


def test_run_records_the_host_spin_setting(tmp_path, shared_data_dir, ps_snapshot):
    """`run`'s [feasibility] host_spin reaches the map's config and run.json records it."""
    from vlms_bayes.pipeline.baseline import BaselineConfig
    from vlms_bayes.pipeline.data import DataConfig
    from vlms_bayes.pipeline.feasibility import FeasibilityOptions
    from vlms_bayes.pipeline.run import _start

    data = DataConfig(ps=ps_snapshot, data_dir=shared_data_dir)
    run = _start(data, BaselineConfig(), outdir=tmp_path / "o",
                 seed=1, fit_config=None, feasibility=FeasibilityOptions(
                     grid=3, draws=2, host_spin="none"), force=False, robustness=None)
    assert run.fcfg.host_spin == "none"
    run.runner.write_run_json()
    rec = json.loads((tmp_path / "o" / "run.json").read_text())["config"]["feasibility"]
    assert rec["host_spin"] == "none"
