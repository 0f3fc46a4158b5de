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


def _add_gaia_rv(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gaia-rv", help="Gaia RV binarity: noise model, p-values, K posteriors, completeness",
        description="Excess Gaia RV noise as a binarity test (Chance et al. 2024, 'paired'): "
                    "fit the per colour-magnitude noise model, score a catalogue (p-values, "
                    "semi-amplitude percentiles) on Dask, and run injection-recovery.")
    gsub = p.add_subparsers(dest="gaia_rv_command", metavar="STEP", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--outdir", type=Path, required=True, metavar="DIR",
                       help="output folder (shared by the three steps)")
        q.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask scheduler address (tcp://host:8786) or 'synchronous' / "
                            "'threads' / 'processes'; default: a local Dask cluster")
        q.add_argument("--workers", type=int, metavar="N",
                       help="workers of the local cluster (default: CPU count)")
        q.add_argument("--processes", action="store_true",
                       help="local cluster with process workers (default: threads)")
        q.add_argument("--no-progress", action="store_true", help="no progress bars")
        q.add_argument("--no-figures", action="store_true", help="skip the figures")

    f = gsub.add_parser("fit-noise", help="fit the per-bin noise model and its GP")
    f.add_argument("--input", nargs="+", required=True, metavar="FILES",
                   help="Gaia tables: FITS/CSV/Parquet files, folders or globs")
    common(f)
    g = f.add_argument_group("noise grid")
    g.add_argument("--color-grid", nargs=3, type=float, metavar=("MIN", "MAX", "N"),
                   help="BP-RP bins (default: 0 5.5 45)")
    g.add_argument("--mag-grid", nargs=3, type=float, metavar=("MIN", "MAX", "N"),
                   help="G bins (default: 4.5 16 30)")
    g.add_argument("--targets-per-fit", type=int, help="stars per subset (default: 1000)")
    g.add_argument("--num-iter", type=int, help="subsets per bin (default: 50)")
    g.add_argument("--noise-seed", type=int, help="subset seed (default: 11239)")
    g.add_argument("--min-nb-transits", type=int, help="minimum N (default: 3)")
    g.add_argument("--strict-min-nb-transits", action="store_true",
                   help="use N > min (reference code) instead of N >= min")
    g.add_argument("--min-count", type=int, help="minimum stars per bin (default: 50)")
    g.add_argument("--rv-floor", type=float, metavar="KMS",
                   help="floor f of the epsilon formula (default 0.11; paper DR3: 0.113)")
    g.add_argument("--median-unbias", action="store_true",
                   help="correct the median's low bias (off in the reference catalogue)")
    g.add_argument("--test-config", action="store_true",
                   help="the reference pipeline's 2x3 test grid (for the DR2 sample)")
    f.set_defaults(handler=_run_gaia_rv)

    s = gsub.add_parser("score", help="p-values and K percentiles for a catalogue")
    s.add_argument("--input", nargs="+", required=True, metavar="FILES",
                   help="Gaia tables: FITS/CSV/Parquet files, folders or globs")
    s.add_argument("--noise-model", type=Path, metavar="FILE",
                   help="noise model (default: DIR/noise_model.npz)")
    common(s)
    s.add_argument("--pvalue", choices=("marginalised", "plugin"), default="marginalised",
                   help="rv_pval definition (default: marginalised)")
    s.add_argument("--no-k", action="store_true", help="skip the semi-amplitude inference")
    s.add_argument("--n-samples", type=int, default=5000, help="prior samples (default 5000)")
    s.add_argument("--k-seed", type=int, default=0, help="prior seed (default 0)")
    s.add_argument("--batch-size", type=int, default=1024, help="targets per JAX batch")
    s.add_argument("--kepler-dtype", choices=("float64", "float32"), default="float64")
    s.add_argument("--dt-round-days", type=float, metavar="DAYS",
                   help="share Kepler solves between baselines rounded to DAYS (approximate)")
    s.add_argument("--one-minus-cdf", action="store_true",
                   help="reference-code p-value numerics (1 - CDF, underflows to 0)")
    s.add_argument("--gp-lookup", choices=("auto", "exact", "grid"), default="auto",
                   help="noise-model lookup: exact GP per source, or a bilinear table "
                        "verified to 1e-3 of the GP (much faster at catalogue scale); auto: "
                        "the table for Parquet inputs above 1e6 rows (default)")
    s.add_argument("--no-csv", action="store_true", help="Parquet only")
    s.set_defaults(handler=_run_gaia_rv)

    c = gsub.add_parser("completeness", help="injection-recovery and completeness maps")
    c.add_argument("--input", nargs="+", metavar="FILES",
                   help="scored catalogue (default: DIR/gaia_rv_catalogue.parquet)")
    common(c)
    c.add_argument("--mode", choices=("code", "paper", "both"), default="both")
    c.add_argument("--n-sims", type=int, default=100_000, help="systems per mode")
    c.add_argument("--sim-seed", type=int, default=948302)
    c.add_argument("--angle-bug", action="store_true",
                   help="reference code's exp(uniform) angles (code mode)")
    c.add_argument("--m1", type=float, default=1.0, metavar="MSUN",
                   help="primary mass in paper mode (default 1)")
    c.add_argument("--k-sims", type=int, default=2000,
                   help="simulated candidates whose K is inferred (default 2000; 0: none)")
    c.add_argument("--mag-slices", nargs="+", type=float, default=[6, 8, 10, 12, 14],
                   help="G slices (+-0.5) for the 99%% contours")
    c.set_defaults(handler=_run_gaia_rv)


def _run_gaia_rv(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from vlms_bayes import gaia_rv
    from vlms_bayes.inference.rv_catalogue import ScoreConfig, dask_client
    from vlms_bayes.models.rv_noise import TEST_CONFIG, NoiseGridConfig

    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # backend probing noise
    progress = not args.no_progress
    figures = not args.no_figures
    step = args.gaia_rv_command
    if step == "completeness":
        modes = ("code", "paper") if args.mode == "both" else (args.mode,)
        res = gaia_rv.run_completeness(
            args.outdir, inputs=args.input, modes=modes, n_sims=args.n_sims,
            seed=args.sim_seed, angle_bug=args.angle_bug, m1_msun=args.m1,
            k_sims=args.k_sims, mag_slices=args.mag_slices, figures=figures,
            progress=progress)
        print(res.report)
        return 0
    with dask_client(args.scheduler, n_workers=args.workers,
                     processes=args.processes) as sched:
        if step == "fit-noise":
            cfg = TEST_CONFIG if args.test_config else NoiseGridConfig()
            upd = {}
            if args.color_grid:
                upd.update(min_color=args.color_grid[0], max_color=args.color_grid[1],
                           num_color=int(args.color_grid[2]))
            if args.mag_grid:
                upd.update(min_mag=args.mag_grid[0], max_mag=args.mag_grid[1],
                           num_mag=int(args.mag_grid[2]))
            for opt, name in (("targets_per_fit", "targets_per_fit"), ("num_iter", "num_iter"),
                              ("noise_seed", "seed"), ("min_nb_transits", "min_nb_transits"),
                              ("min_count", "min_count"), ("rv_floor", "rv_floor_kms")):
                if getattr(args, opt) is not None:
                    upd[name] = getattr(args, opt)
            if args.strict_min_nb_transits:
                upd["strict_min_nb_transits"] = True
            if args.median_unbias:
                upd["median_unbias"] = True
            res = gaia_rv.run_fit_noise(args.input, args.outdir, config=replace(cfg, **upd),
                                        scheduler=sched, figures=figures, progress=progress)
        else:
            cfg = ScoreConfig(pvalue=args.pvalue, infer_k=not args.no_k,
                              n_samples=args.n_samples, seed=args.k_seed,
                              batch_size=args.batch_size, kepler_dtype=args.kepler_dtype,
                              dt_round_days=args.dt_round_days,
                              one_minus_cdf=args.one_minus_cdf,
                              gp_method=args.gp_lookup)
            res = gaia_rv.run_score(args.input, args.outdir, noise_model=args.noise_model,
                                    config=cfg, scheduler=sched, csv=not args.no_csv,
                                    figures=figures, progress=progress)
    print(res.report)
    return 0


_REGISTRARS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_data,
    _add_baseline,
    _add_run,
    _add_gaia_rv,
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
    except KeyboardInterrupt:
        print(f"vlms-bayes {args.command}: interrupted; no output was published.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
