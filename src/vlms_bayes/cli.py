"""The ``vlms-bayes`` command line: parsing only, no science.

Each subcommand parses its options and calls one function of the Python API. Heavy
packages (pandas, JAX, PyMC, numba, matplotlib) are imported inside the handlers, so that
``vlms-bayes --help`` stays fast. A :class:`vlms_bayes.errors.VlmsBayesError` becomes a
one-paragraph message on standard error and exit status 2, without a traceback.

To add a subcommand, write ``_add_<name>(subparsers)`` that registers its parser with
``set_defaults(handler=...)`` and list it in :data:`_REGISTRARS`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

from vlms_bayes import __version__

log = logging.getLogger("vlms_bayes")


# ----------------------------------------------------------------------------------------
# shared option groups
# ----------------------------------------------------------------------------------------
def add_data_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that reads the companion catalogues."""
    g = p.add_argument_group("data")
    g.add_argument("--ps", metavar="FILE", type=Path,
                   help="local PSCompPars CSV (archive format, with or without its '#' header); "
                        "default: query the NASA Exoplanet Archive (cached)")
    g.add_argument("--bd", metavar="FILE", type=Path,
                   help="local Brown Dwarf Companion Catalogue CSV; default: the pinned "
                        "2023-11-20 file from the data folder, cache or download")
    g.add_argument("--no-bd", action="store_true", help="do not use the Brown Dwarf catalogue")
    g.add_argument("--data-dir", metavar="DIR", type=Path,
                   help="folder searched for data files before any download "
                        "(default: $VLMS_BAYES_DATA_DIR)")
    g.add_argument("--refresh", action="store_true",
                   help="re-query the archive instead of using the cached query result")
    g.add_argument("--mstar-min", type=float, default=0.06, metavar="MSUN",
                   help="lower edge of the host-mass window (default: 0.06)")
    g.add_argument("--mstar-max", type=float, default=0.20, metavar="MSUN",
                   help="upper edge of the host-mass window (default: 0.20)")
    g.add_argument("--reference", default="TOI-6894 b", metavar="NAME",
                   help="reference object scored in every output (default: 'TOI-6894 b')")
    g.add_argument("--toi-mstar", "--toi_mstar", dest="toi_mstar", type=float, metavar="MSUN",
                   help="override the reference object's host mass")
    g.add_argument("--toi-mc-mj", "--toi_mc_mj", dest="toi_mc_mj", type=float, metavar="MJ",
                   help="override the reference object's companion mass")
    g.add_argument("--toi-a-au", "--toi_a_AU", dest="toi_a_au", type=float, metavar="AU",
                   help="override the reference object's semi-major axis")


def add_output_options(p: argparse.ArgumentParser, *, default_outdir: str = "results") -> None:
    """``--outdir`` and ``--seed``."""
    p.add_argument("--outdir", type=Path, default=Path(default_outdir), metavar="DIR",
                   help=f"output folder (default: ./{default_outdir})")
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")


def add_baseline_options(p: argparse.ArgumentParser) -> None:
    """Options of the frequentist baselines."""
    g = p.add_argument_group("baselines")
    g.add_argument("--q-split", type=float, default=0.01,
                   help="mass-ratio split for the eccentricity subsets (default: 0.01)")
    g.add_argument("--fixed-e", choices=("exclude", "measured"), default="exclude",
                   help="eccentricities fixed at 0 without an uncertainty: exclude them from "
                        "the e fits (default, honest) or treat them as measured (original)")
    g.add_argument("--n-boot", type=int, default=500,
                   help="bootstrap resamples for the Beta parameters (default: 500)")
    g.add_argument("--label-file", type=Path, metavar="CSV",
                   help="CSV with columns 'name' and a 0/1 label column to train the logistic "
                        "classifier instead of the heuristic high-q/low-q anchors")
    g.add_argument("--label-column", default="label",
                   help="name of the label column in --label-file (default: 'label')")


# ----------------------------------------------------------------------------------------
# subcommands
# ----------------------------------------------------------------------------------------
def _add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="fetch or load the catalogues, stack them, report counts",
                       description="Fetch or load PSCompPars and the Brown Dwarf catalogue, "
                                   "stack them into vlms_companions_stacked.csv and print "
                                   "counts by source, method and flag.")
    add_data_options(p)
    add_output_options(p)
    p.set_defaults(handler=_run_data)


def _run_data(args: argparse.Namespace) -> int:
    from vlms_bayes import pipeline

    result = pipeline.run_data(pipeline.DataConfig.from_args(args), outdir=args.outdir)
    print(result.report)
    return 0


def _add_baseline(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baseline", help="frequentist baselines: GMM/BIC, Beta MLE, KS, logistic",
                       description="Run the frequentist baselines of the original analysis on "
                                   "the stacked dataset and write their outputs and figures.")
    add_data_options(p)
    add_baseline_options(p)
    add_output_options(p)
    p.set_defaults(handler=_run_baseline)


def _run_baseline(args: argparse.Namespace) -> int:
    from vlms_bayes import pipeline

    result = pipeline.run_baseline(
        pipeline.DataConfig.from_args(args), pipeline.BaselineConfig.from_args(args),
        outdir=args.outdir, seed=args.seed,
    )
    print(result.report)
    return 0


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the whole analysis: data, baselines, figures, summary",
                       description="Run the whole analysis into one output folder.")
    add_data_options(p)
    add_baseline_options(p)
    add_output_options(p)
    p.set_defaults(handler=_run_run)


def _run_run(args: argparse.Namespace) -> int:
    from vlms_bayes import pipeline

    result = pipeline.run_all(
        pipeline.DataConfig.from_args(args), pipeline.BaselineConfig.from_args(args),
        outdir=args.outdir, seed=args.seed,
    )
    print(result.report)
    return 0


def _add_stability(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stability", help="stability limit of a companion around one star of a binary",
        description="Critical semi-major axis a_c of an S-type (circumstellar) orbit around "
                    "star A of a binary, from the Quarles et al. (2020) N-body tables and the "
                    "Holman & Wiegert (1999) fit. Give one binary (masses or mu or q, e_bin, "
                    "a_bin or period), or a CSV of binaries with --table, and/or --figure.",
    )
    g = p.add_argument_group("binary (one of --ma/--mb, --mu, --q; one of --abin-au, --pbin-*)")
    g.add_argument("--ma", type=float, metavar="MSUN", help="mass of star A (the host)")
    g.add_argument("--mb", type=float, metavar="MSUN", help="mass of star B (the perturber)")
    g.add_argument("--mu", type=float, help="mass ratio mu = M_B/(M_A+M_B)")
    g.add_argument("--q", type=float, help="mass quotient q = M_B/M_A")
    g.add_argument("--mtot", type=float, metavar="MSUN",
                   help="total mass M_A+M_B (with --mu/--q and a period)")
    g.add_argument("--ebin", type=float, help="binary eccentricity, 0 <= e_bin <= 0.8")
    size = g.add_mutually_exclusive_group()
    size.add_argument("--abin-au", type=float, metavar="AU", help="binary semi-major axis")
    size.add_argument("--pbin-yr", type=float, metavar="YR", help="binary period in years")
    size.add_argument("--pbin-day", type=float, metavar="DAY", help="binary period in days")
    p.add_argument("--incl", type=float, default=0.0, metavar="DEG",
                   help="planet inclination to the binary plane; tabulated: 0, 30, 45, 180 "
                        "(default: 0)")
    p.add_argument("--incl-interp", action="store_true",
                   help="allow an untabulated inclination between 0 and 45 deg, interpolated "
                        "linearly between the neighbouring tables (warns)")
    p.add_argument("--json", action="store_true", help="print one JSON object (one binary)")
    p.add_argument("--table", type=Path, metavar="CSV",
                   help="CSV of binaries (columns m_a_msun, m_b_msun | mu | q, e_bin, "
                        "a_bin_au | p_bin_yr | p_bin_day, optional incl_deg, m_tot_msun); "
                        "writes OUTDIR/stability_limits.csv")
    p.add_argument("--figure", action="store_true",
                   help="write OUTDIR/fig_stability.png (a_c/a_bin vs e_bin per inclination)")
    p.add_argument("--outdir", type=Path, default=Path("results"), metavar="DIR",
                   help="output folder for --table/--figure (default: ./results)")
    p.add_argument("--data-dir", metavar="DIR", type=Path,
                   help="folder searched for the Quarles et al. tables before any download "
                        "(default: $VLMS_BAYES_DATA_DIR)")
    p.set_defaults(handler=_run_stability)


def _run_stability(args: argparse.Namespace) -> int:
    import json
    import warnings

    from vlms_bayes import stability_command as sc
    from vlms_bayes.errors import InputDataError

    binary = {"m_a_msun": args.ma, "m_b_msun": args.mb, "mu": args.mu, "q": args.q,
              "m_tot_msun": args.mtot, "a_bin_au": args.abin_au, "p_bin_yr": args.pbin_yr,
              "p_bin_day": args.pbin_day}
    one = args.ebin is not None or any(v is not None for v in binary.values())
    if not (one or args.table or args.figure):
        raise InputDataError("Nothing to do: give one binary (e.g. --ma 1.133 --mb 0.972 "
                             "--ebin 0.524 --pbin-yr 79.91), --table CSV, or --figure.")
    if one and args.ebin is None:
        raise InputDataError("Give the binary eccentricity with --ebin (0 <= e_bin <= 0.8).")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        if one:
            res = sc.stability_for_binary(e_bin=args.ebin, incl_deg=args.incl,
                                          interpolate_incl=args.incl_interp,
                                          data_dir=args.data_dir, **binary)
            print(json.dumps(res, indent=2) if args.json else sc.format_stability_report(res))
        if args.table or args.figure:
            out = sc.run_stability_outputs(
                outdir=args.outdir, table_csv=args.table, figure=args.figure,
                incl_deg=args.incl, interpolate_incl=args.incl_interp, data_dir=args.data_dir)
            for path in out["paths"].values():
                log.info("wrote %s", path)
    for w in caught:
        log.warning("warning: %s", w.message)

def _add_feasibility(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("feasibility",
                       help="Kozai-Lidov + tides migration feasibility map over outer perturbers",
                       description="For a target companion (TOI-6894 b by default) and a grid "
                                   "of outer perturbers (mass, separation), the fraction of "
                                   "random draws in which Kozai-Lidov cycles plus tides bring "
                                   "the companion to its observed orbit within the horizon; "
                                   "with a sensitivity study and the disk-migration band.")
    g = p.add_argument_group("target (default: TOI-6894 b, Bryant et al. 2025)")
    g.add_argument("--name", default="TOI-6894 b", help="label of the target")
    g.add_argument("--mstar", type=float, default=0.207, metavar="MSUN", help="host mass")
    g.add_argument("--rstar-rsun", type=float, default=0.2276, metavar="RSUN",
                   help="host radius")
    g.add_argument("--mc-mj", type=float, default=0.168, metavar="MJ", help="companion mass")
    g.add_argument("--rp-rj", type=float, default=0.855, metavar="RJ", help="companion radius")
    g.add_argument("--a-au", type=float, default=0.02604, metavar="AU",
                   help="observed semi-major axis")
    g = p.add_argument_group("map")
    g.add_argument("--grid", type=int, default=100, help="cells per axis (default 100)")
    g.add_argument("--draws", type=int, default=200, help="draws per cell (default 200)")
    g.add_argument("--horizon-gyr", type=float, default=1.0, help="time horizon (default 1)")
    g.add_argument("--mout-range", type=float, nargs=2, default=(0.01, 0.6),
                   metavar=("LO", "HI"), help="perturber masses, Msun (default 0.01 0.6)")
    g.add_argument("--aout-range", type=float, nargs=2, default=(5.0, 5000.0),
                   metavar=("LO", "HI"), help="perturber separations, AU (default 5 5000)")
    g.add_argument("--a0-range", type=float, nargs=2, default=(0.1, 5.0), metavar=("LO", "HI"),
                   help="initial a of the companion, log-uniform, AU (default 0.1 5)")
    g.add_argument("--e0-max", type=float, default=0.1,
                   help="initial e uniform in [0, E0_MAX] (default 0.1)")
    g.add_argument("--disruption-factor", type=float, default=2.7,
                   help="survival requires periastron >= this many r_t (default 2.7)")
    g.add_argument("--tide-model", choices=("ctl", "constant_q"), default="ctl")
    g.add_argument("--qprime-planet", type=float, default=1e5)
    g.add_argument("--qprime-star", type=float, default=1e6)
    g.add_argument("--no-tidal-precession", action="store_true",
                   help="leave the tidal bulges out of e_max (GR is always in)")
    g.add_argument("--rotation", action="store_true",
                   help="include the companion's rotational bulge in e_max")
    g.add_argument("--stability", choices=("quarles", "holman_wiegert"), default="quarles")
    g.add_argument("--backend", choices=("jax", "numba", "auto"), default="auto")
    g.add_argument("--secular-check", type=int, default=1000, metavar="N",
                   help="integrate N stable draws with the secular equations and compare "
                        "verdicts (secular_check.csv; default 1000, 0 skips; minutes)")
    g.add_argument("--data-dir", metavar="DIR", type=Path,
                   help="folder with the Quarles et al. (2020) tables "
                        "(default: $VLMS_BAYES_DATA_DIR, cache or download)")
    add_output_options(p, default_outdir="results_feasibility")
    p.set_defaults(handler=_run_feasibility)


def _run_feasibility(args: argparse.Namespace) -> int:
    import time

    from vlms_bayes.data_io.outputs import StagedOutputDir, run_record, write_json
    from vlms_bayes.feasibility.montecarlo import FeasibilityConfig, Target
    from vlms_bayes.feasibility.report import run_feasibility

    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # no TPU/GPU probing
    target = Target(name=args.name, m_star_msun=args.mstar, r_star_rsun=args.rstar_rsun,
                    mass_mj=args.mc_mj, radius_rj=args.rp_rj, a_au=args.a_au)
    config = FeasibilityConfig(
        target=target, n_m_out=args.grid, n_a_out=args.grid, n_draws=args.draws,
        horizon_gyr=args.horizon_gyr, m_out_range_msun=tuple(args.mout_range),
        a_out_range_au=tuple(args.aout_range), a0_range_au=tuple(args.a0_range),
        e0_max=args.e0_max, disruption_factor=args.disruption_factor,
        tide_model=args.tide_model, q_prime_planet=args.qprime_planet,
        q_prime_star=args.qprime_star, include_tides=not args.no_tidal_precession,
        include_rotation=args.rotation, stability=args.stability)
    config.check()
    t0 = time.perf_counter()
    with StagedOutputDir(args.outdir) as stage:
        result, res = run_feasibility(config, outdir_path=stage, seed=args.seed,
                                      backend=args.backend, data_dir=args.data_dir,
                                      secular_triples=args.secular_check)
        import dataclasses

        write_json(stage / "run.json", run_record(
            command="feasibility", config=dataclasses.asdict(config), seeds={"draws": args.seed},
            timings_s={"map": res.wall_s, "total": time.perf_counter() - t0},
            extra={"backend": {"requested": args.backend, "used": res.backend,
                               "fallback_reason": res.fallback_reason},
                   "headline": dataclasses.asdict(result)}))
    print("\n".join(result.summary_lines()))
    print(f"outputs in {Path(args.outdir).resolve()}")
    return 0


_REGISTRARS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_data,
    _add_baseline,
    _add_run,
    _add_stability,
    _add_feasibility,
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``vlms-bayes``."""
    parser = argparse.ArgumentParser(
        prog="vlms-bayes",
        description="Where did the giant companions of very-low-mass stars come from? "
                    "Bayesian demographics, frequentist baselines and dynamical feasibility.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="more log output")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _REGISTRARS:
        register(sub)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.INFO
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    elif getattr(args, "quiet", False):
        level = logging.WARNING
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    log.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``vlms-bayes``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    _configure_logging(args)
    from vlms_bayes.errors import VlmsBayesError

    try:
        return int(args.handler(args) or 0)
    except VlmsBayesError as exc:
        msg = textwrap.fill(str(exc), width=88, break_long_words=False, break_on_hyphens=False)
        print(f"vlms-bayes {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of our output went away (e.g. `| head`): not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"vlms-bayes {args.command}: interrupted; no output was published.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
