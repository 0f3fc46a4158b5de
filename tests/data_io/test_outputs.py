"""Atomic writes and all-or-nothing output folders."""

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.data_io import outputs


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), outputs.atomic_write(target) as fh:
        fh.write("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_write_json_numpy(tmp_path):
    p = outputs.write_json(tmp_path / "a.json", {"x": np.float64(1.5), "y": np.arange(3)})
    assert json.loads(p.read_text()) == {"x": 1.5, "y": [0, 1, 2]}


def test_staged_dir_publishes_on_success(tmp_path):
    out = tmp_path / "out"
    with outputs.StagedOutputDir(out) as stage:
        outputs.write_csv(stage / "t.csv", pd.DataFrame({"a": [1]}))
        assert not out.exists()
    assert (out / "t.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_staged_dir_failure_creates_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError), outputs.StagedOutputDir(out) as stage:
        (stage / "partial.txt").write_text("half")
        raise ValueError("fail")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_staged_dir_into_existing_keeps_other_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("k")
    (out / "t.txt").write_text("old")
    with outputs.StagedOutputDir(out) as stage:
        (stage / "t.txt").write_text("new")
    assert (out / "keep.txt").read_text() == "k"
    assert (out / "t.txt").read_text() == "new"
    with pytest.raises(KeyError), outputs.StagedOutputDir(out) as stage:
        (stage / "t.txt").write_text("newer")
        raise KeyError
    assert (out / "t.txt").read_text() == "new"


def test_run_record_has_provenance():
    rec = outputs.run_record(command="x", config={"a": 1}, seeds={"s": 2},
                             inputs={"f": {"sha256": "abc"}}, timings_s={"t": 0.1})
    assert rec["environment"]["vlms_bayes"]
    assert rec["environment"]["packages"]["numpy"] == np.__version__
    assert rec["seeds"] == {"s": 2} and rec["inputs"]["f"]["sha256"] == "abc"


def test_outputs_get_umask_permissions_not_mkstemp_0600(tmp_path):
    """Published files and folders are as readable as plain open()/mkdir() would make them."""
    old = os.umask(0o022)
    try:
        outputs.write_text(tmp_path / "a.txt", "x")
        with outputs.StagedOutputDir(tmp_path / "out") as st:
            outputs.write_text(st / "b.txt", "y")
        plain = tmp_path / "plain.txt"
        plain.write_text("z")
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
        assert stat.S_IMODE((tmp_path / "out" / "b.txt").stat().st_mode) == 0o644
        assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
        assert stat.S_IMODE(plain.stat().st_mode) == 0o644
    finally:
        os.umask(old)
