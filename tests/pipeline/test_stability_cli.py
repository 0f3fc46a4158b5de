"""``vlms-bayes stability``: text, JSON, CSV table, figure, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.data_io.quarles import table_file_name

ACEN = ["--ma", "1.133", "--mb", "0.972", "--ebin", "0.524", "--pbin-yr", "79.91"]


@pytest.fixture(scope="module")
def ddir(registered_file):
    return str(registered_file(table_file_name(0)).parent.parent)


def test_text_output(ddir, capsys):
    assert main(["stability", *ACEN, "--data-dir", ddir]) == 0
    out = capsys.readouterr().out
    assert "2.7729 AU" in out and "2.7523 AU" in out and "0.4618" in out


@pytest.mark.parametrize(("incl", "a_c"), [("0", 2.773), ("30", 2.684), ("45", 1.368),
                                           ("180", 3.843)])
def test_json_output(ddir, capsys, incl, a_c):
    assert main(["stability", *ACEN, "--incl", incl, "--json", "--data-dir", ddir]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["a_c_au"] == pytest.approx(a_c, abs=0.002)
    assert res["a_c_au_hw99"] == pytest.approx(2.752, abs=0.002)
    assert res["mu"] == pytest.approx(0.4618, abs=1e-4)
    assert res["a_bin_au"] == pytest.approx(23.777, abs=0.001)


def test_abin_and_q_inputs(ddir, capsys):
    argv = ["stability", "--q", str(0.972 / 1.133), "--ebin", "0.524", "--abin-au", "23.78",
            "--json", "--data-dir", ddir]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["a_c_au"] == pytest.approx(0.11662 * 23.78, abs=0.001)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [(["--mu", "0.4", "--ebin", "0.9", "--abin-au", "20"], "e_bin = 0.9"),
     (["--ma", "1", "--mb", "-1", "--ebin", "0.2", "--abin-au", "20"], "M_B = -1.0"),
     (["--mu", "0.4", "--ebin", "0.2", "--pbin-yr", "20"], "total mass"),
     (["--mu", "0.4", "--abin-au", "20"], "--ebin"),
     ([], "Nothing to do"),
     ([*ACEN, "--incl", "60"], "--incl-interp"),
     ([*ACEN, "--incl", "90", "--incl-interp"], "0 < inclination < 45")],
)
def test_errors_exit_2_with_message(ddir, capsys, argv, needle):
    assert main(["stability", *argv, "--data-dir", ddir]) == 2
    err = capsys.readouterr().err
    assert "vlms-bayes stability: error:" in err
    assert needle in " ".join(err.split())


def test_incl_interp_warns_in_log(ddir, capsys, caplog):
    assert main(["stability", *ACEN, "--incl", "15", "--incl-interp", "--json",
                 "--data-dir", ddir]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["incl_interpolated"] is True
    assert 2.684 < res["a_c_au"] < 2.773
    assert "interpolated linearly between the 0 and 30 deg tables" in caplog.text


def test_table_and_figure(ddir, tmp_path, capsys):
    csv = tmp_path / "binaries.csv"
    pd.DataFrame({"name": ["alpha Cen AB", "toy M dwarf pair"],
                  "m_a_msun": [1.133, 0.15], "m_b_msun": [0.972, 0.10],
                  "e_bin": [0.524, 0.3], "p_bin_yr": [79.91, 40.0]}).to_csv(csv, index=False)
    outdir = tmp_path / "out"
    assert main(["stability", "--table", str(csv), "--figure", "--outdir", str(outdir),
                 "--data-dir", ddir]) == 0
    res = pd.read_csv(outdir / "stability_limits.csv")
    assert res["name"].tolist() == ["alpha Cen AB", "toy M dwarf pair"]
    assert res["a_c_au"].iloc[0] == pytest.approx(2.773, abs=0.002)
    assert res["mu"].iloc[1] == pytest.approx(0.4)
    png = (outdir / "fig_stability.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    run = json.loads((outdir / "run.json").read_text())
    assert run["command"] == "stability"
    assert set(run["outputs"]) == {"stability_limits.csv", "fig_stability.png"}
    assert run["inputs"][table_file_name(0)]["sha256"] == \
        run["inputs"][table_file_name(0)]["pinned_sha256"]


def test_bad_table_leaves_no_output(ddir, tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    csv.write_text("mu,e_bin,a_bin_au\n0.3,0.2,10\n0.3,0.85,10\n")
    outdir = tmp_path / "out"
    assert main(["stability", "--table", str(csv), "--outdir", str(outdir),
                 "--data-dir", ddir]) == 2
    assert "Row 2 of" in capsys.readouterr().err
    assert not outdir.exists()


def test_subprocess_json(ddir):
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "vlms_bayes", "stability", *ACEN, "--json", "--data-dir", ddir],
        capture_output=True, text=True, env=env, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert {"mu", "a_bin_au", "a_c_au", "a_c_au_hw99"} <= set(res)
    assert res["a_c_au"] == pytest.approx(2.773, abs=0.002)


def test_hw99_outside_fit_range_warns(ddir, capsys, caplog):
    assert main(["stability", "--mu", "0.05", "--ebin", "0.2", "--abin-au", "10", "--json",
                 "--data-dir", ddir]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["hw99_in_range"] is False
    assert "extrapolation" in caplog.text
    assert res["a_c_ratio"] > 0


def test_interpolated_inclination_records_both_tables(ddir, tmp_path, capsys):
    csv = tmp_path / "b.csv"
    csv.write_text("mu,e_bin,a_bin_au,incl_deg\n0.3,0.2,10,20\n")
    outdir = tmp_path / "o"
    assert main(["stability", "--table", str(csv), "--incl-interp", "--outdir", str(outdir),
                 "--data-dir", ddir]) == 0
    run = json.loads((outdir / "run.json").read_text())
    assert {table_file_name(0), table_file_name(30)} <= set(run["inputs"])
