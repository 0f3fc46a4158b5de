"""The ``vlms-bayes`` command line: parsing only, no science.

Each subcommand parses its options into config objects and calls one function of the Python
API (:mod:`vlms_bayes.pipeline`, :mod:`vlms_bayes.report`). The handlers import that API
inside themselves (each such import says ``# heavy: ...``): it brings pandas, JAX, PyMC,
numba and matplotlib, which must stay off the ``vlms-bayes --help`` path. The entry point
also sets what a process sets once: ``XLA_FLAGS`` (JAX host devices) before JAX starts,
and ``VLMS_BAYES_OFFLINE`` for ``--offline``. A :class:`vlms_bayes.errors.VlmsBayesError`
becomes a one-paragraph message on standard error and exit status 2, without a traceback.

To add a subcommand, write ``_add_<name>(subparsers)`` that registers its parser with
``set_defaults(handler=...)`` and list it in :data:`_REGISTRARS`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from vlms_bayes import __version__
from vlms_bayes.data_io.cache import cache_dir
from vlms_bayes.data_io.files import OFFLINE_ENV, fetch_data_file
from vlms_bayes.errors import InputDataError, VlmsBayesError
from vlms_bayes.inference.sampling import xla_flags_with_host_devices
from vlms_bayes.run_config import apply_config

if TYPE_CHECKING:  # annotations only: these modules bring pandas, PyMC and numba
    from vlms_bayes.feasibility.integrated import IntegrationOptions
    from vlms_bayes.inference.fit import FitConfig
    from vlms_bayes.inference.rv.exclusion import GaiaHost
    from vlms_bayes.models.selection import SelectionModel
    from vlms_bayes.pipeline.gaia_perturbers import GaiaPerturberOptions

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
    g.add_argument("--offline", action="store_true", default=argparse.SUPPRESS,
                   help="never use the network: local files, the cache, else the embedded "
                        "2025-08-07 snapshot (also: vlms-bayes --offline COMMAND, or "
                        "VLMS_BAYES_OFFLINE=1)")
    g.add_argument("--mstar-min", type=float, default=0.06, metavar="MSUN",
                   help="lower edge of the host-mass window (default: 0.06)")
    g.add_argument("--mstar-max", type=float, default=0.20, metavar="MSUN",
                   help="upper edge of the host-mass window (default: 0.20)")
    g.add_argument("--reference", default="TOI-6894 b", metavar="NAME",
                   help="reference object scored in every output (default: 'TOI-6894 b')")
    g.add_argument("--toi-mstar", dest="toi_mstar", type=float, metavar="MSUN",
                   help="override the reference object's host mass")
    g.add_argument("--toi-mc-mj", dest="toi_mc_mj", type=float, metavar="MJ",
                   help="override the reference object's companion mass")
    g.add_argument("--toi-a-au", dest="toi_a_au", type=float, metavar="AU",
                   help="override the reference object's semi-major axis")
    # the original script's spellings, accepted so that its command lines still work
    for old, dest in (("--toi_mstar", "toi_mstar"), ("--toi_mc_mj", "toi_mc_mj"),
                      ("--toi_a_AU", "toi_a_au")):
        g.add_argument(old, dest=dest, type=float, help=argparse.SUPPRESS)


def add_output_options(p: argparse.ArgumentParser, *, default_outdir: str = "results") -> None:
    """``--outdir`` and ``--seed``."""
    p.add_argument("--outdir", type=Path, default=Path(default_outdir), metavar="DIR",
                   help=f"output folder (default: ./{default_outdir})")
    p.add_argument("--seed", type=int, default=42,
                   help="master seed: each random step derives its own stream (default: 42)")


def add_baseline_options(p: argparse.ArgumentParser) -> None:
    """Options of the frequentist baselines."""
    g = p.add_argument_group("baselines")
    g.add_argument("--q-split", type=float, default=0.01,
                   help="mass-ratio split for the eccentricity subsets (default: 0.01)")
    g.add_argument("--fixed-e", choices=("exclude", "unknown", "measured"), default="exclude",
                   help="eccentricities fixed at 0 without an uncertainty: exclude them from "
                        "the e fits ('exclude' or 'unknown', the default: the Bayesian model "
                        "treats them as unknown) or treat them as measured (the original)")
    g.add_argument("--n-boot", type=int, default=500,
                   help="bootstrap resamples for the Beta parameters (default: 500)")
    g.add_argument("--gmm-rows", choices=("all", "complete-case"), default="all",
                   help="rows of the (log q, log a) Gaussian mixture: every in-window row with "
                        "q and a (default; the mixture does not use e) or the complete-case "
                        "view with e, as in the original analysis")
    g.add_argument("--label-file", type=Path, metavar="CSV",
                   help="CSV with columns 'name' and a 0/1 label column to train the logistic "
                        "classifier instead of the heuristic high-q/low-q anchors")
    g.add_argument("--label-column", default="label",
                   help="name of the label column in --label-file (default: 'label')")


# ----------------------------------------------------------------------------------------
# subcommands
# ----------------------------------------------------------------------------------------
def add_fit_options(p: argparse.ArgumentParser, *, fixed_e: bool = True,
                    components: bool = True) -> None:
    """Options of the Bayesian mixture fit (shared by ``fit``, ``run`` and ``robustness``).

    ``run`` shares one ``--fixed-e`` between the baselines and the fit (``fixed_e=False``);
    ``robustness`` fixes K = 2 with K = 1 for LOO (``components=False``).
    """
    g = p.add_argument_group("Bayesian model and sampler")
    if components:
        g.add_argument("--components", type=int, default=2, metavar="K",
                       help="number of populations (default: 2)")
    g.add_argument("--planet-components", type=int, default=1, metavar="P",
                   help="Gaussian components of the planet-like population (default: 1; "
                        "2 lets it have a close-in and a cold part; docs/bayes.md, Shapes)")
    g.add_argument("--binary-shape", default="gaussian", choices=("gaussian", "powerlaw"),
                   help="shape of the binary-like population: gaussian (default: a bivariate "
                        "normal in log q, log a) or powerlaw (dN/dq ∝ q^γ rising toward q = 1 "
                        "with a log-normal separation, as measured for very-low-mass "
                        "binaries; backend jax; docs/bayes.md, Shapes)")
    g.add_argument("--backend", default="jax", metavar="NAME",
                   help="NUTS backend: jax (default: the model written in JAX, NumPyro's "
                        "NUTS), numpyro (PyMC's graph through NumPyro), pymc or nutpie")
    g.add_argument("--chains", type=int, default=4, help="chains (default: 4)")
    g.add_argument("--draws", type=int, default=1000, help="draws per chain (default: 1000)")
    g.add_argument("--tune", type=int, default=1000, help="warm-up steps (default: 1000)")
    g.add_argument("--target-accept", type=float, default=0.9,
                   help="NUTS target acceptance (default: 0.9; retried once at 0.98)")
    g.add_argument("--retry-target-accept", type=float, default=0.98,
                   help="target acceptance of the one retry when the diagnostics gate fails "
                        "(default 0.98; equal to --target-accept: no retry)")
    if components:
        g.add_argument("--loo-components", type=int, nargs="*", default=[1, 2],
                       metavar="K", help="also fit these K for the PSIS-LOO comparison "
                                         "(default: 1 2; give none to skip). K = 3 "
                                         "adds ~10 min on 2 cores with --selection "
                                         "methods (docs/selection.md)")
    if fixed_e:
        g.add_argument("--fixed-e", choices=("unknown", "measured"), default="unknown",
                       help="e = 0 without an uncertainty: unknown (default) or measured")
    g.add_argument("--logq-err-floor", type=float, default=0.05, metavar="DEX",
                   help="smallest standard deviation of log10 q in the fit, in dex: "
                        "catalogue errors (mean of upper and lower) below it are raised "
                        "to it, missing ones set to it (default: 0.05)")
    g.add_argument("--loga-err-floor", type=float, default=0.02, metavar="DEX",
                   help="smallest standard deviation of log10 a in the fit, in dex: "
                        "catalogue errors (mean of upper and lower) below it are raised "
                        "to it, missing ones set to it (default: 0.02)")
    g.add_argument("--lens-logq-err-floor", type=float, default=0.03, metavar="DEX",
                   help="smallest standard deviation of log10 q of microlensing rows, whose "
                        "q is measured from the light curve (default: 0.03)")
    g.add_argument("--model-mass-logq-err-floor", type=float, default=0.10, metavar="DEX",
                   help="smallest standard deviation of log10 q of imaged companions, whose "
                        "masses come from evolutionary models (default: 0.10)")
    g.add_argument("--e-err-floor", type=float, default=0.05,
                   help="smallest eccentricity uncertainty (default: 0.05)")
    g.add_argument("--include-reference", action="store_true",
                   help="fit the reference object even when its host is outside the window")
    g.add_argument("--allow-bad-diagnostics", action="store_true",
                   help="write the outputs even when the diagnostics gate fails")
    g.add_argument("--selection", choices=("none", "methods"), default="methods",
                   help="detection-method selection: 'methods' (default) divides each "
                        "discovery method's detection probability out, so the populations "
                        "are intrinsic (docs/selection.md); 'none' fits the detected sample "
                        "as it is (the naive model)")
    g.add_argument("--selection-priors", default=None, metavar="FILE",
                   help="TOML file of selection-function priors overriding the package's "
                        "(central value, plausible low/high, with units; docs/selection.md); "
                        "robustness varies the same parameters")


def fit_config_from_args(args: argparse.Namespace) -> FitConfig:
    """The :class:`~vlms_bayes.inference.fit.FitConfig` of parsed fit options."""
    from vlms_bayes.inference.fit import FitConfig  # heavy: PyMC
    from vlms_bayes.models.data import MeasurementConfig  # heavy: pandas, astropy

    return FitConfig(
        n_components=getattr(args, "components", 2), planet_components=args.planet_components,
        binary_shape=getattr(args, "binary_shape", "gaussian"), backend=args.backend,
        chains=args.chains,
        draws=args.draws, tune=args.tune, target_accept=args.target_accept,
        retry_target_accept=getattr(args, "retry_target_accept", FitConfig.retry_target_accept),
        allow_bad_diagnostics=args.allow_bad_diagnostics,
        loo_components=tuple(getattr(args, "loo_components", (1, 2))),
        include_reference=args.include_reference,
        measurement=MeasurementConfig(
            logq_err_floor=args.logq_err_floor, loga_err_floor=args.loga_err_floor,
            e_err_floor=args.e_err_floor, lens_logq_err_floor=args.lens_logq_err_floor,
            model_mass_logq_err_floor=args.model_mass_logq_err_floor,
            fixed_zero="measured" if args.fixed_e == "measured" else "unknown"),
        selection=_selection_from_args(args),
    )


def _selection_from_args(args: argparse.Namespace) -> SelectionModel | None:
    priors_file = getattr(args, "selection_priors", None)
    if getattr(args, "selection", "methods") == "none":
        if priors_file is not None:
            raise InputDataError("--selection-priors needs the selection-aware model; drop "
                                 "--selection none or the priors file.")
        return None
    from vlms_bayes.models.selection_priors import load_selection_priors  # heavy: astropy

    return load_selection_priors(priors_file).model()


def _add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="fetch or load the catalogues, stack them, report counts",
                       description="Fetch or load PSCompPars and the Brown Dwarf catalogue, "
                                   "stack them into vlms_companions_stacked.csv and print "
                                   "counts by source, method and flag.")
    add_data_options(p)
    add_output_options(p)
    p.set_defaults(handler=_run_data)


def _run_data(args: argparse.Namespace) -> int:
    from vlms_bayes import pipeline  # heavy: JAX, PyMC, numba, matplotlib

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
    from vlms_bayes import pipeline  # heavy: JAX, PyMC, numba, matplotlib

    result = pipeline.run_baseline(
        pipeline.DataConfig.from_args(args), pipeline.BaselineConfig.from_args(args),
        outdir=args.outdir, seed=args.seed,
    )
    print(result.report)
    return 0


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the whole analysis: data, baselines, Bayesian fit, "
                                   "comparison, feasibility map, figures, summary",
                       description="Run the whole analysis into one output folder: stack the "
                                   "catalogues, the frequentist baselines, the Bayesian mixture "
                                   "(with the PSIS-LOO comparison of K), the comparison report, "
                                   "the feasibility map of the reference object, the figures "
                                   "and SUMMARY.txt. Steps whose inputs and settings are "
                                   "unchanged since the last run into the folder are skipped "
                                   "(--force recomputes); an interrupted run resumes.")
    p.add_argument("--config", type=Path, metavar="TOML",
                   help="run.toml with any of the settings below (see examples/run.toml); "
                        "options on the command line override the file")
    p.add_argument("--force", action="store_true",
                   help="recompute every step even when its inputs and settings are unchanged")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="more log output (same as vlms-bayes -v run)")
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="print nothing but errors (same as vlms-bayes -q run)")
    add_data_options(p)
    add_baseline_options(p)
    add_fit_options(p, fixed_e=False)
    p.add_argument("--no-fit", action="store_true",
                   help="leave out the Bayesian fit and the comparison")
    p.add_argument("--fit", action="store_true",
                   help="run the Bayesian fit (the default; kept for compatibility, and "
                        "overrides 'enabled = false' in a config file)")
    g = p.add_argument_group("feasibility map of the reference object")
    g.add_argument("--skip-feasibility", action="store_true", help="leave out the map")
    g.add_argument("--grid", type=int, default=100, help="cells per axis (default 100)")
    g.add_argument("--mc-draws", type=int, default=200, help="draws per cell (default 200)")
    g.add_argument("--horizon-gyr", type=float, default=1.0, help="time horizon (default 1)")
    g.add_argument("--feasibility-backend", choices=("jax", "numba", "auto"), default="auto")
    g.add_argument("--secular-check", type=int, default=200, metavar="N",
                   help="draws integrated with the secular equations to check the analytic "
                        "criteria (default 200; 0 skips)")
    g.add_argument("--integrate-candidates", type=int, nargs=3, default=(200, 400, 200),
                   metavar=("FEASIBLE", "BOUNDARY", "MAP"),
                   help="octupole candidates integrated with the secular equations: caps on "
                        "the analytically feasible and the boundary systems of P(KL origin) "
                        "and on the map's feasible draws (random subsamples above the caps; "
                        "default 200 400 200, ~50 ms each; 0 0 0 keeps the analytic verdicts)")
    _add_sensitivity_integrate(g)
    g.add_argument("--probability-systems", type=int, default=200_000, metavar="N",
                   help="systems drawn for P(KL origin) and P(disk) (default 200000; 0 "
                        "leaves the probabilities out; as 'feasibility "
                        "--probability-systems')")
    g.add_argument("--companions", type=Path, metavar="CSV",
                   help="known stellar perturbers of the sample's hosts (columns hostname, "
                        "m_out_msun, m_out_err_msun, sep_au, sep_err_au, sep_kind = "
                        "projected|true, source): P(KL origin | perturber) in "
                        "known_perturbers.csv")
    _add_gaia_perturber_options(g)
    g.add_argument("--feasibility-radii", choices=("evolving", "frozen"), default="evolving",
                   help="radii evolving with age, or today's (as 'feasibility --radii')")
    g.add_argument("--feasibility-lags", choices=("prior", "fixed"), default="prior",
                   help="tidal lags from their priors, or fixed (as 'feasibility --lags')")
    g.add_argument("--feasibility-host-spin", choices=("prior", "none"), default="prior",
                   help="the host's spin from its age-dependent prior, or a non-rotating "
                        "host (as 'feasibility --host-spin')")
    r = p.add_argument_group("robustness suite (see 'vlms-bayes robustness')")
    r.add_argument("--robustness", action="store_true",
                   help="also refit under each analysis choice into OUTDIR/robustness/")
    r.add_argument("--robustness-jobs", type=int, default=None, metavar="N",
                   help="worker processes of the suite (default: min(cores, refits))")
    r.add_argument("--robustness-variants", nargs="+", default=None, metavar="GROUP",
                   help="groups of variants (default: all; see 'vlms-bayes robustness -h')")
    add_output_options(p)
    p.set_defaults(handler=_run_run, config_parser=p)


def _add_sensitivity_integrate(g: argparse._ArgumentGroup) -> None:
    """--sensitivity-integrate (integrated verdicts in the sensitivity study of P(KL))."""
    g.add_argument("--sensitivity-integrate", type=int, nargs=2, default=(0, 0),
                   metavar=("FEASIBLE", "BOUNDARY"),
                   help="also integrate the octupole candidates in every row of the "
                        "sensitivity study of P(KL origin), with these caps per row (e.g. "
                        "20 40 adds ~6 s of CPU; default 0 0: analytic verdicts, which its "
                        "CSV says)")


def _integration_options(args: argparse.Namespace) -> IntegrationOptions:
    """IntegrationOptions from ``--integrate-candidates`` (checked)."""
    from vlms_bayes.feasibility.integrated import IntegrationOptions  # heavy: pipeline

    f, b, m = args.integrate_candidates
    sf, sb = getattr(args, "sensitivity_integrate", (0, 0))
    opts = IntegrationOptions(max_feasible=f, max_boundary=b, max_map=m,
                              sensitivity_feasible=sf, sensitivity_boundary=sb)
    opts.check()
    return opts


def _run_run(args: argparse.Namespace) -> int:
    if args.probability_systems < 0:  # before any fit runs, and before the heavy imports
        raise InputDataError(f"--probability-systems {args.probability_systems} must be >= 0 "
                             "(0 leaves P(KL origin) and P(disk) out).")
    from vlms_bayes import pipeline  # heavy: JAX, PyMC, numba, matplotlib

    feas = None if args.skip_feasibility else pipeline.FeasibilityOptions(
        grid=args.grid, draws=args.mc_draws, horizon_gyr=args.horizon_gyr,
        backend=args.feasibility_backend, secular_triples=args.secular_check,
        integration=_integration_options(args),
        companions=None if args.companions is None else str(args.companions),
        radii=args.feasibility_radii, lags=args.feasibility_lags,
        host_spin=args.feasibility_host_spin,
        probability_systems=args.probability_systems, **_gaia_perturber_fields(args))
    fit_cfg = fit_config_from_args(args)
    result = pipeline.run_all(
        pipeline.DataConfig.from_args(args), pipeline.BaselineConfig.from_args(args),
        fit_config=fit_cfg if (args.fit or not args.no_fit) else None, feasibility=feas,
        outdir=args.outdir, seed=args.seed, force=args.force,
        robustness=({"variants": args.robustness_variants, "n_jobs": args.robustness_jobs,
                     "fit_config": fit_cfg} if args.robustness else None),
    )
    if not getattr(args, "quiet", False):
        print(result.report, end="")
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
    p.add_argument("--outdir", type=Path, default=Path("results_stability"), metavar="DIR",
                   help="output folder for --table/--figure (default: ./results_stability; "
                        "./results is the folder of 'vlms-bayes run')")
    p.add_argument("--data-dir", metavar="DIR", type=Path,
                   help="folder searched for the Quarles et al. tables before any download "
                        "(default: $VLMS_BAYES_DATA_DIR)")
    p.set_defaults(handler=_run_stability)


def _run_stability(args: argparse.Namespace) -> int:
    from vlms_bayes.pipeline import stability as sc  # heavy: JAX, PyMC, numba

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
    add_data_options(p)
    g = p.add_argument_group("target (default: TOI-6894 b with its archive parameters, Bryant "
                             "et al. 2025); options given override the catalogue values")
    g.add_argument("--target", metavar="NAME",
                   help="take M*, R*, Mc and a of this companion from the stacked catalogue "
                        "(data options above); give --rp-rj unless it is TOI-6894 b")
    g.add_argument("--name", help="label of the target (default: TOI-6894 b or --target)")
    g.add_argument("--mstar", type=float, metavar="MSUN", help="host mass (0.207)")
    g.add_argument("--rstar-rsun", type=float, metavar="RSUN", help="host radius (0.2276)")
    g.add_argument("--mc-mj", type=float, metavar="MJ", help="companion mass (0.168)")
    g.add_argument("--rp-rj", type=float, metavar="RJ", help="companion radius (0.855)")
    g.add_argument("--a-au", type=float, metavar="AU", help="observed semi-major axis (0.02604)")
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
    g.add_argument("--initial-ae", metavar="CSV", type=Path,
                   help="draw the initial (a, e) from samples instead (CSV with columns a_au "
                        "and e, e.g. posterior draws of the binary-like population)")
    g.add_argument("--disruption-factor", type=float, default=2.7,
                   help="survival requires periastron >= this many r_t (default 2.7)")
    g.add_argument("--tide-model", choices=("ctl", "constant_q"), default="ctl")
    g.add_argument("--qprime-planet", type=float, default=1e5,
                   help="companion's Q' at the observed orbit, with --lags fixed (default 1e5)")
    g.add_argument("--qprime-star", type=float, default=1e6,
                   help="host's Q' at the observed orbit, with --lags fixed (default 1e6)")
    g.add_argument("--no-tidal-precession", action="store_true",
                   help="leave the tidal bulges out of e_max (GR is always in)")
    g.add_argument("--rotation", action="store_true",
                   help="include the companion's rotational bulge in e_max")
    g.add_argument("--radii", choices=("evolving", "frozen"), default="evolving",
                   help="host radius from BHAC15 pre-main-sequence tracks and companion "
                        "contraction (COND03) with age, or today's radii throughout "
                        "(frozen, for comparison) (default evolving)")
    g.add_argument("--lags", choices=("prior", "fixed"), default="prior",
                   help="tidal lags of both bodies drawn per draw from their priors, or "
                        "fixed by --qprime-planet/--qprime-star (default prior)")
    g.add_argument("--host-spin", choices=("prior", "none"), default="prior",
                   help="the host's spin drawn per draw from its age-dependent prior "
                        "(young clusters to 3 Gyr; rotational bulge in e_max, spin in the "
                        "host's tide), or a non-rotating host (default prior)")
    g.add_argument("--stability", choices=("quarles", "holman_wiegert"), default="quarles")
    g.add_argument("--backend", choices=("jax", "numba", "auto"), default="auto")
    g.add_argument("--secular-check", type=int, default=1000, metavar="N",
                   help="integrate N stable draws with the secular equations and compare "
                        "verdicts (secular_check.csv; default 1000, 0 skips; minutes)")
    g.add_argument("--companions", type=Path, metavar="CSV",
                   help="known stellar perturber of the target's host (columns hostname, "
                        "m_out_msun, m_out_err_msun, sep_au, sep_err_au, sep_kind = "
                        "projected|true, source): P(KL origin | that perturber) in "
                        "known_perturbers.csv, marked on fig3")
    _add_gaia_perturber_options(g)
    g.add_argument("--probability-systems", type=int, default=200_000, metavar="N",
                   help="systems drawn for P(KL origin) and P(disk migration) over published "
                        "priors (origin_probability.json; default 200000, 0 skips)")
    g.add_argument("--integrate-candidates", type=int, nargs=3, default=(200, 400, 200),
                   metavar=("FEASIBLE", "BOUNDARY", "MAP"),
                   help="octupole candidates integrated with the secular equations: caps on "
                        "the analytically feasible and the boundary systems of P(KL origin) "
                        "and on the map's feasible draws (random subsamples above the caps; "
                        "default 200 400 200, ~50 ms each; 0 0 0 keeps the analytic verdicts)")
    _add_sensitivity_integrate(g)
    g = p.add_argument_group(
        "Gaia RV exclusion (only for hosts with Gaia RVS data; most VLMS hosts, TOI-6894 "
        "included, are too faint and have none)",
        "mark perturbers that Gaia's RV noise would have revealed with >= 99%% probability, "
        "given that the host's own p-value (vlms-bayes gaia-rv score) is not significant")
    g.add_argument("--gaia-host-pval", type=float, metavar="P",
                   help="the host's rv_pval (turns the option on; must be >= 0.001)")
    g.add_argument("--gaia-n-transits", type=int, metavar="N", help="the host's rv_nb_transits")
    g.add_argument("--gaia-noise-model", metavar="FILE",
                   help="noise_model.npz from 'vlms-bayes gaia-rv fit-noise' (with --gaia-g "
                        "and --gaia-bp-rp)")
    g.add_argument("--gaia-g", type=float, metavar="MAG", help="the host's phot_g_mean_mag")
    g.add_argument("--gaia-bp-rp", type=float, metavar="MAG", help="the host's bp_rp")
    g.add_argument("--gaia-rv-method", type=int, choices=(1, 2),
                   help="the host's rv_method_used (for a per-method noise model)")
    g.add_argument("--gaia-ln-sigma", type=float, nargs=2, metavar=("MU", "ERR"),
                   help="the host's rv_ln_uncert and rv_ln_uncert_err instead of a noise model")
    g.add_argument("--gaia-baseline-days", type=float, default=1038.0,
                   help="RV time span (default 1038, DR3)")
    g.add_argument("--gaia-draws", type=int, default=300,
                   help="orbits per cell, common to all cells (default 300)")
    g.add_argument("--gaia-min-prob", type=float, default=0.99,
                   help="detection probability that excludes a perturber (default 0.99)")
    add_output_options(p, default_outdir="results_feasibility")
    p.set_defaults(handler=_run_feasibility)


def _add_gaia_perturber_options(g: argparse._ArgumentGroup) -> None:
    """--gaia-nss, --gaia-nss-file, --gaia-rv-catalogue (known perturbers from Gaia)."""
    g.add_argument("--gaia-nss", action="store_true",
                   help="query the Gaia archive for the hosts' DR3 non-single-star orbits "
                        "(gaiadr3.nss_two_body_orbit, cone of 3 arcsec; network): each orbit's "
                        "companion (mass from the mass function, a from Kepler) is the host's "
                        "perturber unless --companions gives one; offline: noted, not looked up")
    g.add_argument("--gaia-nss-file", type=Path, metavar="FILE",
                   help="saved rows of gaiadr3.nss_two_body_orbit (CSV, ECSV, VOTable, FITS; "
                        "with ra/dec or a hostname column) instead of the query")
    g.add_argument("--gaia-rv-catalogue", type=Path, metavar="FILE",
                   help="scored Gaia RV catalogue ('vlms-bayes gaia-rv score'): the hosts' "
                        "rv_pval listed in known_perturbers.csv (a significant one: evidence "
                        "of an unseen close companion, no mass inferred)")
    g.add_argument("--wide-binaries", action="store_true",
                   help="look the hosts up in the Gaia EDR3 wide-binary catalogue of El-Badry "
                        "et al. 2021 (VizieR J/MNRAS/506/2269, chance-alignment R < 0.1; "
                        "network): the closest wide companion is the host's perturber unless "
                        "--companions or an NSS orbit gives one (mass from the q prior); "
                        "offline: noted, not looked up")


def _gaia_perturbers_from_args(args: argparse.Namespace) -> GaiaPerturberOptions:
    """GaiaPerturberOptions from the --gaia-nss* / --gaia-rv-catalogue options."""
    from vlms_bayes.pipeline.gaia_perturbers import GaiaPerturberOptions  # heavy: pipeline

    if args.gaia_nss and args.gaia_nss_file is not None:
        raise InputDataError("Give --gaia-nss (query the archive) or --gaia-nss-file (a saved "
                             "table), not both.")
    nss = "query" if args.gaia_nss else (None if args.gaia_nss_file is None
                                         else str(args.gaia_nss_file))
    opts = GaiaPerturberOptions(nss=nss, rv_catalogue=None if args.gaia_rv_catalogue is None
                                else str(args.gaia_rv_catalogue),
                                wide_binaries=bool(args.wide_binaries))
    opts.check()
    return opts


def _gaia_perturber_fields(args: argparse.Namespace) -> dict[str, str | bool | None]:
    """``gaia_nss``, ``gaia_rv_catalogue`` and ``wide_binaries`` of FeasibilityOptions."""
    opts = _gaia_perturbers_from_args(args)
    return {"gaia_nss": opts.nss, "gaia_rv_catalogue": opts.rv_catalogue,
            "wide_binaries": opts.wide_binaries}


def _gaia_host_from_args(args: argparse.Namespace) -> GaiaHost | None:
    """A GaiaHost from the --gaia-* options, None when none is given."""
    from vlms_bayes.inference.rv.exclusion import GaiaHost  # heavy: JAX, numba

    given = [args.gaia_host_pval, args.gaia_n_transits, args.gaia_noise_model, args.gaia_g,
             args.gaia_bp_rp, args.gaia_ln_sigma]
    if all(v is None for v in given):
        return None
    if args.gaia_host_pval is None:
        raise InputDataError("The --gaia-* options need --gaia-host-pval, the host's rv_pval "
                             "(a host without Gaia RVs excludes nothing: leave them out).")
    mu, err = args.gaia_ln_sigma if args.gaia_ln_sigma is not None else (None, None)
    host = GaiaHost(host_pval=args.gaia_host_pval, n_transits=args.gaia_n_transits,
                    g_mag=args.gaia_g, bp_rp=args.gaia_bp_rp,
                    noise_model=args.gaia_noise_model, ln_sigma=mu, ln_sigma_err=err,
                    baseline_days=args.gaia_baseline_days, n_draws=args.gaia_draws,
                    min_probability=args.gaia_min_prob, rv_method_used=args.gaia_rv_method)
    host.check()
    return host


def _run_feasibility(args: argparse.Namespace) -> int:
    # the feasibility stack (JAX, numba) stays off the --help path
    from vlms_bayes.feasibility.montecarlo import FeasibilityConfig  # heavy: numba
    from vlms_bayes.pipeline.data import DataConfig  # heavy: JAX, PyMC, numba
    from vlms_bayes.pipeline.feasibility import (  # heavy: JAX, numba
        command_target,
        feasibility_command,
    )

    given = {"m_star_msun": args.mstar, "r_star_rsun": args.rstar_rsun, "mass_mj": args.mc_mj,
             "radius_rj": args.rp_rj, "a_au": args.a_au}
    target = command_target(DataConfig.from_args(args), target=args.target, label=args.name,
                            **{k: v for k, v in given.items() if v is not None})
    config = FeasibilityConfig(
        target=target, n_m_out=args.grid, n_a_out=args.grid, n_draws=args.draws,
        horizon_gyr=args.horizon_gyr, m_out_range_msun=tuple(args.mout_range),
        a_out_range_au=tuple(args.aout_range), a0_range_au=tuple(args.a0_range),
        e0_max=args.e0_max, disruption_factor=args.disruption_factor,
        tide_model=args.tide_model, q_prime_planet=args.qprime_planet,
        q_prime_star=args.qprime_star, include_tides=not args.no_tidal_precession,
        include_rotation=args.rotation, stability=args.stability, radii=args.radii,
        lags=args.lags, host_spin=args.host_spin)
    config.check()
    result = feasibility_command(config, outdir=args.outdir, seed=args.seed,
                                 backend=args.backend, data_dir=args.data_dir,
                                 secular_triples=args.secular_check,
                                 initial_ae=args.initial_ae, gaia=_gaia_host_from_args(args),
                                 probability_systems=args.probability_systems,
                                 integration=_integration_options(args),
                                 companions=args.companions,
                                 gaia_perturbers=_gaia_perturbers_from_args(args),
                                 data_config=DataConfig.from_args(args))
    print(result.report)
    print(f"outputs in {Path(args.outdir).resolve()}")
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
    f.add_argument("--input", nargs="+", metavar="FILES",
                   help="Gaia tables: FITS/CSV/Parquet files, folders or globs (default: the "
                        "2301-source Gaia DR2 RV sample, gaia_dr2_rv_sample.fits.gz, from the "
                        "data folder, cache, download or embedded snapshot)")
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
    g.add_argument("--median-unbias", action=argparse.BooleanOptionalAction, default=None,
                   help="correct the median's low bias (default on: calibrated false-positive "
                        "rate; --no-median-unbias reproduces the reference catalogue)")
    g.add_argument("--split-method", action="store_true",
                   help="calibrate rv_method_used 1 and 2 separately (DR3 tables; off by "
                        "default as in the reference pipeline)")
    g.add_argument("--smoothing", choices=("gp", "legacy"),
                   help="gp: 2-D Gaussian process (default, DR3 pipeline); legacy: pre-DR3 "
                        "nearest-neighbour + Gaussian-filter fill of empty bins")
    g.add_argument("--smoothing-scales", nargs=2, type=float, metavar=("COLOR", "MAG"),
                   help="legacy filter widths in mag (default 0.25 0.25)")
    g.add_argument("--test-config", action="store_true",
                   help="the reference pipeline's 2x3 test grid (for the DR2 sample)")
    f.set_defaults(handler=_run_gaia_rv)

    s = gsub.add_parser("score", help="p-values and K percentiles for a catalogue")
    s.add_argument("--input", nargs="+", metavar="FILES",
                   help="Gaia tables: FITS/CSV/Parquet files, folders or globs (default: the "
                        "2301-source Gaia DR2 RV sample, gaia_dr2_rv_sample.fits.gz, from the "
                        "data folder, cache, download or embedded snapshot)")
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
    s.add_argument("--k-reference-weights", action="store_true",
                   help="reproduce the reference pipeline's K weights, which omit the "
                        "1/sigma^2 Jacobian (K biased low when the noise model is uncertain)")
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
    c.add_argument("--k-sigma-factor", type=float, metavar="F",
                   help="K recovery with the sigma estimate degraded: s_lnsigma = ln F "
                        "(paper Fig. 4 bottom: 1.5)")
    c.add_argument("--mag-slices", nargs="+", type=float, default=[6, 8, 10, 12, 14],
                   help="G slices (+-0.5) for the 99%% contours")
    c.set_defaults(handler=_run_gaia_rv)


def _gaia_sample_inputs(args: argparse.Namespace) -> list[str]:
    """``--input`` as given, else the registered 2301-source Gaia DR2 RV sample."""
    if args.input:
        return list(args.input)
    path = fetch_data_file("gaia_dr2_rv_sample.fits.gz",
                           data_dir_=getattr(args, "data_dir", None))
    log.info("No --input: using the 2301-source Gaia DR2 RV sample %s", path)
    return [str(path)]


def _quiet_distributed(level: int = logging.WARNING) -> None:
    """Keep Dask ``distributed`` to warnings (its ~60 start/stop lines show with -v).

    ``distributed`` sets its loggers to INFO when it is imported, from Dask's config, so
    the config is changed for a later import and the logger for an earlier one.
    """
    import dask  # heavy: Dask

    dask.config.set({"logging.distributed": logging.getLevelName(level).lower()})
    logging.getLogger("distributed").setLevel(level)


def _run_gaia_rv(args: argparse.Namespace) -> int:
    from vlms_bayes.inference.rv.catalogue import ScoreConfig, dask_client  # heavy: JAX
    from vlms_bayes.models.rv_noise.model import TEST_CONFIG, NoiseGridConfig  # heavy: SciPy
    from vlms_bayes.pipeline import gaia_rv  # heavy: JAX, PyMC, numba

    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # backend probing noise
    if not getattr(args, "verbose", False):
        _quiet_distributed(logging.ERROR if getattr(args, "quiet", False) else logging.WARNING)
    progress = not args.no_progress
    figures = not args.no_figures
    step = args.gaia_rv_command
    if step == "completeness":
        modes = ("code", "paper") if args.mode == "both" else (args.mode,)
        res = gaia_rv.run_completeness(
            args.outdir, inputs=args.input, modes=modes, n_sims=args.n_sims,
            seed=args.sim_seed, angle_bug=args.angle_bug, m1_msun=args.m1,
            k_sims=args.k_sims, mag_slices=args.mag_slices,
            k_sigma_factor=args.k_sigma_factor, figures=figures,
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
            if args.median_unbias is not None:
                upd["median_unbias"] = args.median_unbias
            if args.smoothing:
                upd["smoothing"] = args.smoothing
            if args.split_method:
                upd["split_method"] = True
            if args.smoothing_scales:
                upd.update(color_smoothing_scale=args.smoothing_scales[0],
                           mag_smoothing_scale=args.smoothing_scales[1])
            res = gaia_rv.run_fit_noise(_gaia_sample_inputs(args), args.outdir,
                                        config=replace(cfg, **upd),
                                        scheduler=sched, figures=figures, progress=progress)
        else:
            cfg = ScoreConfig(pvalue=args.pvalue, infer_k=not args.no_k,
                              n_samples=args.n_samples, seed=args.k_seed,
                              batch_size=args.batch_size, kepler_dtype=args.kepler_dtype,
                              dt_round_days=args.dt_round_days,
                              one_minus_cdf=args.one_minus_cdf,
                              gp_method=args.gp_lookup,
                              k_jacobian=not args.k_reference_weights)
            res = gaia_rv.run_score(_gaia_sample_inputs(args), args.outdir,
                                    noise_model=args.noise_model,
                                    config=cfg, scheduler=sched, csv=not args.no_csv,
                                    figures=figures, progress=progress)
    print(res.report)
    return 0


def _add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="Bayesian K-population mixture over (log q, log a, e)",
                       description="Fit the hierarchical mixture of planet-like and "
                                   "binary-like populations with NUTS, gate the sampler "
                                   "diagnostics, and write posterior.nc, memberships and "
                                   "the reference object's P(binary-like).")
    add_data_options(p)
    add_fit_options(p)
    add_output_options(p, default_outdir="results_fit")
    p.set_defaults(handler=_run_fit)


def _run_fit(args: argparse.Namespace) -> int:
    from vlms_bayes import pipeline  # heavy: JAX, PyMC, numba, matplotlib
    from vlms_bayes.pipeline.bayes import fit_command  # heavy: PyMC

    out = fit_command(pipeline.DataConfig.from_args(args), fit_config_from_args(args),
                      outdir=args.outdir, seed=args.seed)
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
    from vlms_bayes.pipeline.bayes import TOI_6894B, classify_command  # heavy: PyMC

    given = [args.mstar, args.mc_mj, args.a_au]
    if all(v is None for v in given):
        values = dict(TOI_6894B)
        name = args.name or "TOI-6894 b"
    elif any(v is None for v in given):
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
    p.add_argument("--other-posterior", type=Path, metavar="DIR",
                   help="a second 'vlms-bayes fit' folder of the same data with the other "
                        "--selection setting: report naive and selection-aware side by side")
    p.add_argument("--outdir", type=Path, default=Path("results_compare"), metavar="DIR")
    p.set_defaults(handler=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    from vlms_bayes.pipeline.bayes import compare_command  # heavy: PyMC

    out = compare_command(args.posterior, args.baselines, outdir=args.outdir,
                          figures=not args.no_figures,
                          other_posterior_dir=args.other_posterior)
    print(out.report)
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="(re)build report.html of a 'vlms-bayes run' folder",
                       description="Write report.html into the output folder of 'vlms-bayes "
                                   "run': one self-contained page with the headline numbers, "
                                   "every figure and table of the folder and a generated "
                                   "explanation of each, and the data sources.")
    p.add_argument("--run", type=Path, required=True, metavar="DIR",
                   help="output folder of 'vlms-bayes run'")
    p.add_argument("--output", type=Path, metavar="FILE",
                   help="where to write the page (default: DIR/report.html)")
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from vlms_bayes.report.html import write_report  # heavy: matplotlib, astropy

    path = write_report(args.run, output=args.output)
    print(f"wrote {path}")
    return 0


def _add_robustness(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "robustness", help="refit under each analysis choice: which conclusions survive?",
        description="Refit the frequentist baselines and the Bayesian mixture (K = 2, with "
                    "K = 1 for the LOO difference) leaving out each discovery method, on true "
                    "masses only, with e limits excluded, with fixed-circular orbits treated "
                    "the other way, with homoscedastic errors and with the host-mass window "
                    "widened to include TOI-6894 b's host, and with each method's key "
                    "selection parameter at the low and high end of its prior "
                    "(--selection-priors); plus the feasibility map's "
                    "horizon x periastron-threshold grid. Writes robustness.csv and "
                    "fig_robustness.png. Refits run in parallel processes.")
    add_data_options(p)
    add_baseline_options(p)
    add_fit_options(p, fixed_e=False, components=False)
    g = p.add_argument_group("robustness suite")
    g.add_argument("--variants", nargs="+", default=None, metavar="GROUP",
                   help="groups of variants to run: methods, true_mass, e_limits, fixed_e, "
                        "errors, window, selection, feasibility (default: all)")
    g.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes (default: min(cores, number of refits))")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of an existing Dask scheduler (tcp://host:8786) to run the "
                        "refits on instead of a local cluster of --jobs processes")
    g.add_argument("--min-method-rows", type=int, default=5, metavar="N",
                   help="fewest fitted objects of a discovery method for its leave-out refit "
                        "(default: 5)")
    g.add_argument("--wide-mstar-max", type=float, default=0.25, metavar="MSUN",
                   help="upper host-mass edge of the widened window (default: 0.25)")
    g.add_argument("--sens-grid", type=int, default=12, metavar="N",
                   help="cells per axis of the feasibility sensitivity map (default: 12)")
    g.add_argument("--sens-draws", type=int, default=64, metavar="N",
                   help="draws per cell of the feasibility sensitivity map (default: 64)")
    g.add_argument("--feasibility-backend", choices=("jax", "numba", "auto"), default="auto")
    add_output_options(p, default_outdir="results_robustness")
    p.set_defaults(handler=_run_robustness)


def _run_robustness(args: argparse.Namespace) -> int:
    from vlms_bayes import pipeline  # heavy: JAX, PyMC, numba, matplotlib
    from vlms_bayes.pipeline.robustness import (  # heavy: PyMC
        SensitivityGrid,
        run_robustness,
    )

    result = run_robustness(
        pipeline.DataConfig.from_args(args), pipeline.BaselineConfig.from_args(args),
        fit_config_from_args(args), outdir=args.outdir, seed=args.seed,
        variants=args.variants, n_jobs=args.jobs, min_method_rows=args.min_method_rows,
        wide_mstar_max=args.wide_mstar_max, scheduler=args.scheduler,
        sensitivity=SensitivityGrid(grid=args.sens_grid, draws=args.sens_draws,
                                    backend=args.feasibility_backend))
    print(result.report)
    return 0


def _add_calibrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate", help="simulation-based calibration of the Bayesian model, on Dask",
        description="Draw parameters from the model's prior (or --truth), simulate a sample "
                    "through the selection and measurement model, fit it as 'vlms-bayes fit' "
                    "does, and rank the truth among the posterior draws; repeated for each "
                    "replica on a Dask cluster. Writes sbc.json (uniformity tests and 50/90%% "
                    "coverage per parameter), sbc_ranks.csv and fig_sbc.png. Finished "
                    "replicas are kept beside OUTDIR until the end: rerunning resumes.")
    add_fit_options(p, components=False)
    g = p.add_argument_group("calibration")
    g.add_argument("--components", type=int, default=2, metavar="K",
                   help="number of populations (default: 2)")
    g.add_argument("--replicas", type=int, default=100, metavar="N",
                   help="simulated data sets (default: 100)")
    g.add_argument("--thin", type=int, default=99, metavar="L",
                   help="posterior draws kept per replica for the ranks (default: 99)")
    g.add_argument("--n-objects", type=int, default=130, metavar="N",
                   help="objects per replica in the default design, the M-dwarf-like "
                        "scenario's detections (default: 130, the real sample's size)")
    g.add_argument("--design", type=Path, metavar="CSV",
                   help="a stacked CSV (e.g. a fit's stacked_used.csv) whose rows give the "
                        "methods, hosts, kinds and errors of every replica instead")
    g.add_argument("--truth", type=Path, metavar="FILE",
                   help="TOML or JSON file of population parameters used by every replica "
                        "instead of prior draws (keys w, mu_logq, mu_loga, sigma_logq, "
                        "sigma_loga, rho, e_alpha, e_beta; one value per component; with "
                        "--binary-shape powerlaw mu_logq, sigma_logq and rho for the Gaussian "
                        "components only, and gamma_q)")
    g.add_argument("--alpha", type=float, default=0.05,
                   help="level of the per-parameter uniformity tests (default: 0.05)")
    g.add_argument("--fitter", choices=("nuts", "prior"), default="nuts",
                   help="nuts: the normal fit (default); prior: prior draws instead of a "
                        "fit, a quick check of the machinery and the cluster (its parameter "
                        "ranks are uniform, its loglik ranks are not)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the local Dask cluster (default: cores)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of an existing Dask scheduler (tcp://host:8786) instead of "
                        "a local cluster; its workers need vlms-bayes installed")
    g.add_argument("--no-figures", action="store_true", help="skip fig_sbc.png")
    add_output_options(p, default_outdir="results_calibrate")
    p.set_defaults(handler=_run_calibrate)


def _run_calibrate(args: argparse.Namespace) -> int:
    from vlms_bayes.pipeline.calibrate import (  # heavy: pipeline
        CalibrateConfig,
        calibrate_command,
        fit_prior,
    )

    cfg = CalibrateConfig(n_replicas=args.replicas, n_keep=args.thin, n_objects=args.n_objects,
                          design_file=None if args.design is None else str(args.design),
                          truth_file=None if args.truth is None else str(args.truth),
                          alpha=args.alpha)
    out = calibrate_command(cfg, fit_config_from_args(args), outdir=args.outdir,
                            seed=args.seed, n_workers=args.workers, scheduler=args.scheduler,
                            fitter=fit_prior if args.fitter == "prior" else None,
                            figures=not args.no_figures)
    print(out.report)
    return 0


_REGISTRARS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_data,
    _add_baseline,
    _add_run,
    _add_stability,
    _add_feasibility,
    _add_gaia_rv,
    _add_fit,
    _add_classify,
    _add_compare,
    _add_report,
    _add_robustness,
    _add_calibrate,
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
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--offline", action="store_true",
                        help="never use the network (local files, the cache, else the "
                             "embedded 2025-08-07 data snapshot); same as VLMS_BAYES_OFFLINE=1")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _REGISTRARS:
        register(sub)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    """Progress lines of vlms-bayes on stderr; other libraries only warn (or debug with -v)."""
    level = logging.INFO
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    elif getattr(args, "quiet", False):
        level = logging.ERROR
    logging.basicConfig(level=level if level != logging.INFO else logging.WARNING,
                        format="%(name)s: %(message)s", stream=sys.stderr)
    if not any(getattr(h, "_vlms_bayes", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._vlms_bayes = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False


def _planned_outdir(args: argparse.Namespace) -> Path | None:
    """The output folder the command will write, None when it writes none."""
    if args.command == "stability" and not (args.table or args.figure):
        return None  # one binary: printed, nothing written
    return getattr(args, "outdir", None)


def request_jax_host_devices(n_devices: int) -> None:
    """Ask XLA for ``n_devices`` host devices by setting ``XLA_FLAGS``.

    The entry point's job, done before anything imports JAX (JAX reads the flags once, when
    it starts; afterwards this does nothing). Flags that already choose a device count are
    kept (:func:`vlms_bayes.inference.sampling.xla_flags_with_host_devices`).
    """
    if "jax" in sys.modules:
        return
    os.environ["XLA_FLAGS"] = xla_flags_with_host_devices(os.environ.get("XLA_FLAGS", ""),
                                                          n_devices)


#: Where JAX keeps compiled programs between runs, under the user cache folder.
JAX_CACHE_SUBDIR = "jax-compilation"


def request_jax_compilation_cache() -> None:
    """Point JAX's persistent compilation cache at the user cache folder.

    A fit compiles NUTS once per model settings and (padded) data shapes (~30 s on 2
    cores, more than the sampling of a small fit; :mod:`vlms_bayes.inference.nuts_jax`);
    a later process with the same settings and shapes — a rerun, the LOO fits, the
    robustness suite's rows, calibration replicas on other workers — then loads the
    program instead. Set through
    ``JAX_COMPILATION_CACHE_DIR`` before JAX starts; a value the user set is kept.
    """
    if "jax" in sys.modules or "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return

    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(cache_dir() / JAX_CACHE_SUBDIR)


def jax_host_devices(args: argparse.Namespace) -> int | None:
    """JAX host devices a command asks for, None to leave JAX's default of one.

    ``feasibility`` splits its map over one device per usable core; a NumPyro fit (``fit``,
    ``run`` with its fit or its robustness suite, ``robustness``, whose worker processes
    inherit the flags) runs its chains in parallel with one device per chain.
    """
    if args.command == "feasibility":
        return (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                else os.cpu_count() or 1)
    samples = args.command in ("fit", "robustness") or (
        args.command == "run" and (args.fit or not args.no_fit or args.robustness))
    if samples and getattr(args, "backend", None) in ("jax", "numpyro"):
        return int(args.chains)
    return None


#: Commands whose refits or replicas run on a Dask cluster (pipeline/dask_tasks.py).
DASK_COMMANDS = ("calibrate", "robustness", "run")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``vlms-bayes``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 1
    _configure_logging(args)

    before = os.environ.get(OFFLINE_ENV)
    if getattr(args, "offline", False):
        os.environ[OFFLINE_ENV] = "1"
    try:
        if getattr(args, "config", None) is not None and getattr(args, "config_parser", None):
            args = apply_config(parser, args.config_parser, args.config, argv)
            _configure_logging(args)
        outdir = _planned_outdir(args)
        if outdir is not None:  # before any work: a folder we cannot write fails first
            from vlms_bayes.data_io.outputs import check_output_dir  # heavy: NumPy

            check_output_dir(outdir)
        n_devices = jax_host_devices(args)
        if n_devices is not None:
            request_jax_host_devices(n_devices)
            request_jax_compilation_cache()
        if args.command == "feasibility":
            logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # no GPU probe
        if args.command in DASK_COMMANDS and not getattr(args, "verbose", False):
            _quiet_distributed(logging.ERROR if getattr(args, "quiet", False)
                               else logging.WARNING)
        return int(args.handler(args) or 0)
    except VlmsBayesError as exc:
        msg = textwrap.fill(str(exc), width=88, break_long_words=False, break_on_hyphens=False)
        print(f"vlms-bayes {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of our output went away (e.g. `| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"vlms-bayes {args.command}: interrupted; nothing half-written was published "
              "(`vlms-bayes run` resumes at the unfinished step).",
              file=sys.stderr)
        return 130
    finally:
        if before is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = before


if __name__ == "__main__":
    raise SystemExit(main())
