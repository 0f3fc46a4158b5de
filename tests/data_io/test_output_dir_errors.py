"""An output folder that cannot be written: one paragraph, exit 2, nothing written.

Two ways to be unwritable: a folder under a regular file (real for every user), and a
read-only folder. ``chmod`` does not stop root, so as root the read-only case emulates a
read-only mount instead: the OS calls that create or rename entries under the folder fail
with ``EROFS``, and ``os.access`` denies writing there, as they do on a read-only file system.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest

from vlms_bayes.cli import main
from vlms_bayes.data_io import outputs
from vlms_bayes.errors import OutputDirError
from vlms_bayes.pipeline.steps import StepRunner

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _emulate_read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make ``folder`` behave as a read-only mount for this process (used as root)."""
    root = str(folder.resolve())

    def inside(path: object) -> bool:
        p = os.path.abspath(os.fspath(path))  # type: ignore[arg-type]
        return p == root or p.startswith(root + os.sep)

    def erofs(path: object) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))  # type: ignore[arg-type]

    real_access, real_mkdir, real_open = os.access, os.mkdir, os.open
    real_replace, real_rename = os.replace, os.rename

    def access(path, mode, *a, **k):
        if inside(path) and mode & os.W_OK:
            return False
        return real_access(path, mode, *a, **k)

    def mkdir(path, *a, **k):
        if inside(path):
            raise erofs(path)
        return real_mkdir(path, *a, **k)

    def open_(path, flags, *a, **k):
        if inside(path) and flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
            raise erofs(path)
        return real_open(path, flags, *a, **k)

    def replace(src, dst, *a, **k):
        if inside(dst) or inside(src):
            raise erofs(dst)
        return real_replace(src, dst, *a, **k)

    def rename(src, dst, *a, **k):
        if inside(dst) or inside(src):
            raise erofs(dst)
        return real_rename(src, dst, *a, **k)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)


@pytest.fixture(params=["under_file", "read_only_parent", "read_only_outdir"])
def bad_outdir(request, tmp_path, monkeypatch):
    """(output folder that cannot be written, folder whose content must not change)."""
    if request.param == "under_file":
        (tmp_path / "afile").write_text("a regular file\n")
        yield tmp_path / "afile" / "out", tmp_path
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    outdir = ro / "out"
    if request.param == "read_only_outdir":
        outdir.mkdir()
        (outdir / "old.txt").write_text("kept\n")
        target = outdir
    else:
        target = ro
    if IS_ROOT:
        _emulate_read_only(monkeypatch, target)
        yield outdir, ro
    else:
        target.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield outdir, ro
        finally:
            target.chmod(stat.S_IRWXU)


def _listing(folder: Path) -> list[tuple[str, bytes | None]]:
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None)
                  for p in folder.rglob("*"))


COMMANDS = {
    "run": ["run"],
    "data": ["data"],
    "baseline": ["baseline"],
    "fit": ["fit"],
    "feasibility": ["feasibility"],
    "stability-figure": ["stability", "--figure"],
    "stability-table": ["stability", "--table", "binaries.csv"],
    "robustness": ["robustness"],
    "compare": ["compare", "--posterior", "p", "--baselines", "b"],
    "gaia-rv": ["gaia-rv", "fit-noise", "--input", "x.fits"],
}


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_unwritable_outdir_is_one_paragraph_exit_2(bad_outdir, cmd, capsys):
    outdir, watched = bad_outdir
    before = _listing(watched)
    rc = main([*COMMANDS[cmd], "--outdir", str(outdir)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and "Errno" not in err
    flat = " ".join(err.split())
    assert flat.startswith(f"vlms-bayes {COMMANDS[cmd][0]}: error: Cannot write the output "
                           f"folder {outdir}")
    assert "--outdir" in flat and "Nothing was written" in flat
    assert _listing(watched) == before


def test_stability_of_one_binary_writes_nothing_so_needs_no_outdir(tmp_path, monkeypatch):
    from vlms_bayes.cli import _planned_outdir, build_parser

    args = build_parser().parse_args(["stability", "--ma", "1", "--mb", "1", "--ebin", "0",
                                      "--abin-au", "10", "--outdir", str(tmp_path / "f" / "o")])
    assert _planned_outdir(args) is None


def test_staged_output_dir_checks_before_any_work(bad_outdir):
    outdir, watched = bad_outdir
    before = _listing(watched)
    with pytest.raises(OutputDirError, match="Cannot write the output folder"):
        with outputs.StagedOutputDir(outdir):
            raise AssertionError("the body must not run")
    assert _listing(watched) == before


def test_step_runner_checks_its_folder(bad_outdir):
    outdir, watched = bad_outdir
    before = _listing(watched)
    with pytest.raises(OutputDirError, match="Cannot write the output folder"):
        StepRunner(outdir, plan=("data",))
    assert _listing(watched) == before


def test_late_failure_names_the_folder_not_a_temp_entry(tmp_path, monkeypatch):
    """A folder that becomes unwritable after the check still gives the clear error."""
    out = tmp_path / "out"

    def denied(*a, dir=None, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(Path(dir) / ".x.tmp"))

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    with pytest.raises(OutputDirError) as info, outputs.StagedOutputDir(out):
        pass
    msg = str(info.value)
    assert f"{tmp_path} is not writable" in msg and ".x.tmp" not in msg
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OutputDirError, match=f"{tmp_path} is not writable"):
        outputs.write_text(tmp_path / "a.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_report_output_in_unwritable_folder(bad_outdir, tmp_path_factory, capsys):
    run = tmp_path_factory.mktemp("run")
    (run / "run.json").write_text('{"command": "run", "created_utc": "2026-01-01T00:00:00Z"}')
    outdir, watched = bad_outdir
    before = _listing(watched)
    rc = main(["report", "--run", str(run), "--output", str(outdir / "report.html")])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2 and "Traceback" not in err
    assert err.startswith("vlms-bayes report: error: Cannot write the output folder")
    assert "--outdir" not in err  # report has no such option
    assert _listing(watched) == before
