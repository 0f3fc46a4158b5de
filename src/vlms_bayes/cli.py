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
    return 0


_REGISTRARS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_data,
    _add_baseline,
    _add_run,
    _add_stability,
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
