"""Options as a new user reads them in ``--help``: each explained, no odd spellings."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vlms_bayes.cli import build_parser


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _help(name: str) -> str:
    return " ".join(_subparser(name).format_help().split())


@pytest.mark.parametrize("command", ["fit", "run", "robustness"])
def test_error_floors_have_help_with_units_and_defaults(command):
    text = _help(command)
    assert "--logq-err-floor DEX smallest standard deviation of log10 q" in text
    assert "--loga-err-floor DEX smallest standard deviation of log10 a" in text
    assert "(default: 0.05)" in text and "(default: 0.02)" in text


@pytest.mark.parametrize("command", ["data", "baseline", "run", "fit", "feasibility",
                                     "robustness"])
def test_underscore_aliases_are_hidden_but_still_parse(command):
    text = _help(command)
    for old in ("--toi_mstar", "--toi_mc_mj", "--toi_a_AU"):
        assert old not in text
    assert "--toi-mstar" in text and "--toi-a-au" in text
    # the original script's command line keeps working
    extra = {"feasibility": []}.get(command, [])
    args = build_parser().parse_args([command, *extra, "--toi_mstar", "0.207",
                                      "--toi_mc_mj", "0.168", "--toi_a_AU", "0.02604"])
    assert (args.toi_mstar, args.toi_mc_mj, args.toi_a_au) == (0.207, 0.168, 0.02604)
    args = build_parser().parse_args([command, "--toi-a-au", "0.03"])
    assert args.toi_a_au == 0.03 and args.toi_mstar is None


def test_stability_outputs_do_not_default_to_the_run_folder():
    run_default = build_parser().parse_args(["run"]).outdir
    stab = build_parser().parse_args(["stability", "--figure"]).outdir
    assert stab == Path("results_stability")
    assert stab != run_default
    assert "default: ./results_stability" in _help("stability")


@pytest.mark.parametrize("command", ["fit", "run", "robustness", "calibrate"])
def test_every_fitting_command_can_leave_out_the_retry(command):
    """``--retry-target-accept`` equal to ``--target-accept``: no retry (a short look at the
    data, whose tiny sampler fails the gate by construction, need not pay for one)."""
    from vlms_bayes.cli import fit_config_from_args

    assert "--retry-target-accept RETRY_TARGET_ACCEPT target acceptance of the one retry" in (
        _help(command))
    cfg = fit_config_from_args(build_parser().parse_args([command, "--retry-target-accept",
                                                          "0.9"]))
    assert cfg.retry_target_accept == cfg.target_accept == 0.9
    assert fit_config_from_args(build_parser().parse_args([command])).retry_target_accept == 0.98
