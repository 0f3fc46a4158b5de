"""``vlms-bayes gaia-rv`` as a new user meets it: quiet Dask, clear errors for bad files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.data_io.gaia import read_gaia_table
from vlms_bayes.errors import InputDataError

REPO = Path(__file__).resolve().parents[2]


def _fit_noise(tmp_path: Path, dr2_path: Path, *verbose: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run(
        [sys.executable, "-m", "vlms_bayes", *verbose, "gaia-rv", "fit-noise", "--input",
         str(dr2_path), "--test-config", "--no-figures", "--no-progress", "--workers", "1",
         "--outdir", str(tmp_path / f"out{len(verbose)}")],
        capture_output=True, text=True, env=env, timeout=300)


def test_local_dask_cluster_is_quiet_unless_verbose(tmp_path, registered_file):
    """The default local ``distributed`` cluster logged ~60 start/stop lines on stderr."""
    dr2_path = registered_file("gaia_dr2_rv_sample.fits.gz")
    quiet = _fit_noise(tmp_path, dr2_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "Noise model" in quiet.stdout
    assert not [ln for ln in quiet.stderr.splitlines() if ln.startswith("distributed")], \
        quiet.stderr
    loud = _fit_noise(tmp_path, dr2_path, "-v")
    assert loud.returncode == 0, loud.stderr
    assert any(ln.startswith("distributed.scheduler") for ln in loud.stderr.splitlines())


def _not_fits(tmp_path: Path) -> Path:
    path = tmp_path / "sample.fits"
    pd.DataFrame({"source_id": [1], "bp_rp": [1.0]}).to_csv(path, index=False)
    return path


def test_non_fits_file_names_the_file_and_the_formats(tmp_path):
    path = _not_fits(tmp_path)
    with pytest.raises(InputDataError) as info:
        read_gaia_table(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "ignore_missing_simple" not in msg  # astropy's hint: no CLI user can pass it
    assert "FITS" in msg and "CSV" in msg and "Parquet" in msg


def test_unknown_suffix_is_sniffed_or_refused(tmp_path):
    garbage = tmp_path / "table.dat"
    garbage.write_bytes(b"garbage")
    with pytest.raises(InputDataError, match="neither FITS nor Parquet") as info:
        read_gaia_table(garbage)
    assert str(garbage) in str(info.value) and "Parquet file size" not in str(info.value)
    frame = pd.DataFrame({"source_id": [1, 2], "phot_g_mean_mag": [10.0, 11.0],
                          "bp_rp": [1.0, 1.5], "radial_velocity_error": [0.5, 0.6],
                          "rv_nb_transits": [10, 12]})
    parquet_no_suffix = tmp_path / "partition"
    frame.to_parquet(parquet_no_suffix, index=False)
    pd.testing.assert_frame_equal(read_gaia_table(parquet_no_suffix), frame,
                                  check_dtype=False)


def test_cli_non_fits_is_one_paragraph(tmp_path, capsys):
    path = _not_fits(tmp_path)
    rc = main(["gaia-rv", "fit-noise", "--input", str(path), "--outdir", str(tmp_path / "o"),
               "--scheduler", "threads", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.startswith("vlms-bayes gaia-rv: error: Could not read the Gaia table")
    assert "ignore_missing_simple" not in err
    assert not (tmp_path / "o").exists()
