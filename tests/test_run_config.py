"""`vlms-bayes run --config run.toml`: schema, errors, command-line overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlms_bayes.cli import build_parser
from vlms_bayes.errors import InputDataError
from vlms_bayes.run_config import SCHEMA, apply_config, load_run_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "run.toml"


def _run_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return parser, sub.choices["run"]


def test_example_file_states_the_real_defaults():
    """Every value written in examples/run.toml is the command's default (the doc is true)."""
    parser, run_p = _run_parser()
    defaults = vars(parser.parse_args(["run"]))
    from_file = load_run_config(EXAMPLE)
    assert len(from_file) >= 30
    for dest, value in from_file.items():
        assert defaults[dest] == value, dest
    # and every dest of the schema is an option of `run`
    dests = {a.dest for a in run_p._actions}
    assert {d for sec in SCHEMA.values() for d, _ in sec.values()} <= dests


def test_unknown_key_and_section_name_the_file(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text("[fit]\nchain = 2\n")
    with pytest.raises(InputDataError, match=r"'fit\.chain'.*run\.toml.*chains"):
        load_run_config(cfg)
    cfg.write_text("[fitting]\nchains = 2\n")
    with pytest.raises(InputDataError, match=r"\[fitting\].*run\.toml"):
        load_run_config(cfg)
    cfg.write_text("sed = 1\n")
    with pytest.raises(InputDataError, match="'sed'"):
        load_run_config(cfg)


@pytest.mark.parametrize(("text", "match"), [
    ("[fit]\nchains = 2.5\n", "an integer"),
    ("[fit]\nenabled = 1\n", "true or false"),
    ("[fit]\nloo_components = 2\n", "list of integers"),
    ("[data]\nmstar_min = 'low'\n", "a number"),
    ("[data\n", "not valid TOML"),
    ("[feasibility]\nintegrate_candidates = [1, 2]\n", "list of 3 non-negative integers"),
    ("[feasibility]\nsensitivity_integrate = [1, -2]\n", "list of 2 non-negative"),
    ("[feasibility]\nwide_binaries = 'yes'\n", "'feasibility.wide_binaries'.*true or false"),
    ("[feasibility]\ngaia_nss_file = 3\n", "'feasibility.gaia_nss_file'.*a string"),
])
def test_bad_values(tmp_path, text, match):
    cfg = tmp_path / "run.toml"
    cfg.write_text(text)
    with pytest.raises(InputDataError, match=match):
        load_run_config(cfg)


def test_missing_file_and_bad_choice(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        load_run_config(tmp_path / "nope.toml")
    cfg = tmp_path / "run.toml"
    cfg.write_text("[feasibility]\nbackend = 'cuda'\n")
    parser, run_p = _run_parser()
    with pytest.raises(InputDataError, match=r"'cuda'.*jax, numba, auto"):
        apply_config(parser, run_p, cfg, ["run", "--config", str(cfg)])


def test_command_line_overrides_file_and_paths_are_relative_to_it(tmp_path):
    cfg = tmp_path / "sub" / "run.toml"
    cfg.parent.mkdir()
    cfg.write_text("seed = 5\noutdir = 'out'\n[baseline]\nn_boot = 20\n"
                   "[fit]\nenabled = false\nloo_components = [1, 2]\n"
                   "[feasibility]\nenabled = false\ndraws = 7\n")
    parser, run_p = _run_parser()
    argv = ["run", "--config", str(cfg), "--n-boot", "30"]
    args = apply_config(parser, run_p, cfg, argv)
    assert args.n_boot == 30 and args.seed == 5 and args.mc_draws == 7
    assert args.no_fit and args.skip_feasibility and args.loo_components == [1, 2]
    assert args.outdir == cfg.parent / "out"
    args = apply_config(*_run_parser(), cfg, [*argv, "--loo-components", "3", "--fit"])
    assert args.loo_components == [3] and args.fit


def test_cli_reports_config_errors(tmp_path, capsys):
    from vlms_bayes.cli import main

    cfg = tmp_path / "run.toml"
    cfg.write_text("[baseline]\nnboot = 3\n")
    assert main(["run", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "baseline.nboot" in err and "run.toml" in err


def test_feasibility_perturber_and_integration_keys_reach_the_step(tmp_path, monkeypatch):
    import types

    from vlms_bayes import pipeline
    from vlms_bayes.cli import main

    seen = {}

    def fake_run_all(*args, feasibility, **kwargs):
        seen["feasibility"] = feasibility
        return types.SimpleNamespace(report="")

    monkeypatch.setattr(pipeline, "run_all", fake_run_all)
    (tmp_path / "nss.csv").write_text("hostname,source_id,nss_solution_type,period\n"
                                      "A,1,SB1,3\n")
    cfg = tmp_path / "run.toml"
    cfg.write_text("[fit]\nenabled = false\n[feasibility]\n"
                   "integrate_candidates = [1, 2, 3]\nsensitivity_integrate = [4, 5]\n"
                   "companions = 'comp.csv'\ngaia_nss_file = 'nss.csv'\n"
                   "gaia_rv_catalogue = 'cat.parquet'\nwide_binaries = true\n"
                   "host_spin = 'none'\nprobability_systems = 1234\n")
    (tmp_path / "cat.parquet").write_text("")  # only its existence is checked here
    assert main(["run", "--config", str(cfg), "--outdir", str(tmp_path / "o")]) == 0
    f = seen["feasibility"]
    i = f.integration
    assert (i.max_feasible, i.max_boundary, i.max_map) == (1, 2, 3)
    assert (i.sensitivity_feasible, i.sensitivity_boundary) == (4, 5)
    assert f.companions == str(tmp_path / "comp.csv")
    assert f.gaia_nss == str(tmp_path / "nss.csv")
    assert f.gaia_rv_catalogue == str(tmp_path / "cat.parquet") and f.wide_binaries
    assert f.host_spin == "none" and f.probability_systems == 1234
    # the command line still overrides the file
    assert main(["run", "--config", str(cfg), "--outdir", str(tmp_path / "o"),
                 "--integrate-candidates", "0", "0", "0"]) == 0
    assert seen["feasibility"].integration.max_boundary == 0
    # a negative number of systems stops before any step
    seen.clear()
    assert main(["run", "--config", str(cfg), "--outdir", str(tmp_path / "n"),
                 "--probability-systems", "-1"]) == 2
    assert not seen and not (tmp_path / "n").exists()
