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


def _add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="Bayesian K-population mixture over (log q, log a, e)",
                       description="Fit the hierarchical mixture of planet-like and "
                                   "binary-like populations with NUTS, gate the sampler "
                                   "diagnostics, and write posterior.nc, memberships and "
                                   "the reference object's P(binary-like).")
    add_data_options(p)
    g = p.add_argument_group("model and sampler")
    g.add_argument("--components", type=int, default=2, metavar="K",
                   help="number of populations (default: 2)")
    g.add_argument("--backend", default="numpyro", metavar="NAME",
                   help="NUTS backend: numpyro (default), pymc or nutpie")
    g.add_argument("--chains", type=int, default=4, help="chains (default: 4)")
    g.add_argument("--draws", type=int, default=1000, help="draws per chain (default: 1000)")
    g.add_argument("--tune", type=int, default=1000, help="warm-up steps (default: 1000)")
    g.add_argument("--target-accept", type=float, default=0.9,
                   help="NUTS target acceptance (default: 0.9; retried once at 0.98)")
    g.add_argument("--loo-components", type=int, nargs="*", default=[1, 2, 3], metavar="K",
                   help="also fit these K for the PSIS-LOO comparison (default: 1 2 3; "
                        "give none to skip)")
    g.add_argument("--fixed-e", choices=("unknown", "measured"), default="unknown",
                   help="e = 0 without an uncertainty: unknown (default) or measured")
    g.add_argument("--logq-err-floor", type=float, default=0.05, metavar="DEX")
    g.add_argument("--loga-err-floor", type=float, default=0.02, metavar="DEX")
    g.add_argument("--e-err-floor", type=float, default=0.05,
                   help="smallest eccentricity uncertainty (default: 0.05)")
    g.add_argument("--include-reference", action="store_true",
                   help="fit the reference object even when its host is outside the window")
    g.add_argument("--allow-bad-diagnostics", action="store_true",
                   help="write the outputs even when the diagnostics gate fails")
    add_output_options(p, default_outdir="results_fit")
    p.set_defaults(handler=_run_fit)


def _run_fit(args: argparse.Namespace) -> int:
    from vlms_bayes import pipeline
    from vlms_bayes.bayes_commands import fit_command
    from vlms_bayes.inference.fit import FitConfig
    from vlms_bayes.models.data import MeasurementConfig

    cfg = FitConfig(
        n_components=args.components, backend=args.backend, chains=args.chains,
        draws=args.draws, tune=args.tune, target_accept=args.target_accept,
        allow_bad_diagnostics=args.allow_bad_diagnostics,
        loo_components=tuple(args.loo_components), include_reference=args.include_reference,
        measurement=MeasurementConfig(
            logq_err_floor=args.logq_err_floor, loga_err_floor=args.loga_err_floor,
            e_err_floor=args.e_err_floor, fixed_zero=args.fixed_e),
    )
    out = fit_command(pipeline.DataConfig.from_args(args), cfg, outdir=args.outdir,
                      seed=args.seed)
    print(out.report)
    return 0


def _add_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="P(binary-like) of any object under a fitted posterior",
                       description="Score one object with a posterior from 'vlms-bayes fit', "
                                   "propagating its measurement errors. Without values, "
                                   "scores TOI-6894 b (Bryant et al. 2025).")
    p.add_argument("--posterior", type=Path, required=True, metavar="DIR",
                   help="output folder of 'vlms-bayes fit'")
    p.add_argument("--name", default=None, help="label of the object")
    p.add_argument("--mstar", type=float, metavar="MSUN", help="host mass")
    p.add_argument("--mstar-err", type=float, metavar="MSUN")
    p.add_argument("--mc-mj", type=float, metavar="MJ", help="companion mass (or m sin i)")
    p.add_argument("--mc-err", type=float, metavar="MJ")
    p.add_argument("--a-au", type=float, metavar="AU", help="semi-major axis")
    p.add_argument("--a-err", type=float, metavar="AU")
    p.add_argument("--e", type=float, help="eccentricity")
    p.add_argument("--e-err", type=float, help="eccentricity uncertainty")
    p.add_argument("--e-max", type=float, help="eccentricity upper limit (instead of --e)")
    p.add_argument("--msini", action="store_true", help="the mass is a minimum mass")
    p.set_defaults(handler=_run_classify)


def _run_classify(args: argparse.Namespace) -> int:
    from vlms_bayes.bayes_commands import TOI_6894B, classify_command

    given = [args.mstar, args.mc_mj, args.a_au]
    if all(v is None for v in given):
        values = dict(TOI_6894B)
        name = args.name or "TOI-6894 b"
    elif any(v is None for v in given):
        from vlms_bayes.errors import InputDataError

        raise InputDataError("Give all of --mstar, --mc-mj and --a-au (or none of them to "
                             "score TOI-6894 b).")
    else:
        values = {"m_star_msun": args.mstar, "m_star_err": args.mstar_err,
                  "mass_mj": args.mc_mj, "mass_err": args.mc_err, "a_au": args.a_au,
                  "a_err": args.a_err, "e": args.e, "e_err": args.e_err,
                  "e_upper_limit": args.e_max}
        name = args.name or "new object"
    out = classify_command(args.posterior, name=name, msini=args.msini, **values)
    print(out.report)
    return 0


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="Bayesian fit vs frequentist baselines, side by side",
                       description="Compare a 'vlms-bayes fit' folder with a 'vlms-bayes "
                                   "baseline' folder (same data): BIC vs LOO, Beta fits, KS vs "
                                   "posterior, logistic vs posterior memberships; Markdown, "
                                   "JSON and figures.")
    p.add_argument("--posterior", type=Path, required=True, metavar="DIR",
                   help="output folder of 'vlms-bayes fit'")
    p.add_argument("--baselines", type=Path, required=True, metavar="DIR",
                   help="output folder of 'vlms-bayes baseline' or 'vlms-bayes run'")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--outdir", type=Path, default=Path("results_compare"), metavar="DIR")
    p.set_defaults(handler=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    from vlms_bayes.bayes_commands import compare_command

    out = compare_command(args.posterior, args.baselines, outdir=args.outdir,
                          figures=not args.no_figures)
    print(out.report)
    return 0


_REGISTRARS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_data,
    _add_baseline,
    _add_run,
    _add_stability,
    _add_fit,
    _add_classify,
    _add_compare,
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
