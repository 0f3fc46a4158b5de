"""Command line: fast help, lazy imports, and bad input -> one paragraph, exit 2, no output."""

import subprocess
import sys

import pandas as pd
import pytest

from vlms_bayes.cli import build_parser, main

HEAVY = ("jax", "pymc", "numba", "pandas", "matplotlib", "sklearn", "pytensor")


def test_help_imports_nothing_heavy():
    code = ("import sys; from vlms_bayes.cli import build_parser; p = build_parser();\n"
            "try:\n    p.parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0


def _good_frame():
    return pd.DataFrame({
        "pl_name": ["X b", "Y b"], "hostname": ["X", "Y"],
        "discoverymethod": ["Transit", "Radial Velocity"], "st_mass": [0.1, 0.12],
        "pl_bmassj": [0.3, 1.0], "pl_bmassprov": ["Mass", "Msini"],
        "pl_orbsmax": [0.02, 0.05], "pl_orbper": [2.0, 5.0], "pl_orbeccen": [0.1, 0.0]})


def _case(tmp_path, kind):
    f = _good_frame()
    p = tmp_path / "ps.csv"
    if kind == "missing":
        return tmp_path / "nope.csv", "does not exist"
    if kind == "not_csv":
        p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
        return p, "not a readable CSV"
    if kind == "columns":
        f = f.drop(columns=["pl_orbsmax"])
        f.to_csv(p, index=False)
        return p, "lacks the required column(s) pl_orbsmax"
    if kind == "non_numeric":
        f["st_mass"] = ["0.1", "light"]
        f.to_csv(p, index=False)
        return p, "st_mass has non-numeric values at line 3 (Y b)"
    if kind == "negative":
        f["pl_bmassj"] = [0.3, -1.0]
        f.to_csv(p, index=False)
        return p, "pl_bmassj must be positive"
    if kind == "ecc":
        f["pl_orbeccen"] = [0.1, 1.0]
        f.to_csv(p, index=False)
        return p, "pl_orbeccen must lie in [0, 1)"
    if kind == "empty_window":
        f.to_csv(p, index=False)
        return p, "selects no companion"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "not_csv", "columns", "non_numeric", "negative",
                                  "ecc", "empty_window"])
def test_bad_input_is_one_paragraph_and_no_output(tmp_path, capsys, kind):
    path, expected = _case(tmp_path, kind)
    out = tmp_path / "out"
    argv = ["data", "--ps", str(path), "--no-bd", "--outdir", str(out)]
    if kind == "empty_window":
        argv += ["--mstar-min", "0.5", "--mstar-max", "0.6", "--reference", ""]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err
    assert expected in " ".join(err.split())
    assert err.startswith("vlms-bayes data: error:")
    assert not out.exists()
    assert not list(tmp_path.glob(".out.staging*"))


def test_cli_subprocess_exit_status(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vlms_bayes", "data", "--ps",
                        str(tmp_path / "none.csv"), "--outdir", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
