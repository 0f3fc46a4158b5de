"""The Python API behind the commands: load data, run the baselines, run everything.

Each public function mirrors a subcommand (``vlms-bayes data``, ``baseline``, ``run``),
so that a notebook can do what the command line does::

    from vlms_bayes import pipeline
    cfg = pipeline.DataConfig(ps="pscomppars.csv", data_dir="data/")
    stacked = pipeline.load_dataset(cfg)
    result = pipeline.run_all(cfg, pipeline.BaselineConfig(), outdir="results", seed=1)

Every command writes into a staging folder that is published only when it succeeds
(:class:`~vlms_bayes.data_io.outputs.StagedOutputDir`), with a ``run.json`` recording the
configuration, seeds, input hashes and timings.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from vlms_bayes.data_io.outputs import (
    StagedOutputDir,
    run_record,
    write_csv,
    write_json,
    write_text,
)
from vlms_bayes.data_io.schema import complete_case
from vlms_bayes.data_io.stack import StackedDataset
from vlms_bayes.errors import InputDataError

log = logging.getLogger("vlms_bayes")

STACKED_FILE = "vlms_companions_stacked.csv"


@dataclass(frozen=True)
class DataConfig:
    """Where the catalogues come from and which hosts are selected.

    Attributes
    ----------
    ps : path, optional
        Local PSCompPars CSV; None queries the archive (cached).
    bd : path, optional
        Local Brown Dwarf catalogue CSV; None uses the pinned 2023-11-20 file.
    use_bd : bool
        Whether to use the Brown Dwarf catalogue at all.
    data_dir : path, optional
        Data folder searched before any download (else ``$VLMS_BAYES_DATA_DIR``).
    refresh : bool
        Re-query the archive.
    mstar_min, mstar_max : float
        Host-mass window in solar masses.
    reference : str
        Reference object scored everywhere (TOI-6894 b).
    toi_mstar, toi_mc_mj, toi_a_au : float, optional
        Overrides of the reference object's host mass, companion mass and a.
    """

    ps: str | None = None
    bd: str | None = None
    use_bd: bool = True
    data_dir: str | None = None
    refresh: bool = False
    mstar_min: float = 0.06
    mstar_max: float = 0.20
    reference: str = "TOI-6894 b"
    toi_mstar: float | None = None
    toi_mc_mj: float | None = None
    toi_a_au: float | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DataConfig:
        """Build from the parsed data options of the command line."""
        s = lambda p: None if p is None else str(p)  # noqa: E731
        return cls(
            ps=s(args.ps), bd=s(args.bd), use_bd=not args.no_bd, data_dir=s(args.data_dir),
            refresh=args.refresh, mstar_min=args.mstar_min, mstar_max=args.mstar_max,
            reference=args.reference, toi_mstar=args.toi_mstar, toi_mc_mj=args.toi_mc_mj,
            toi_a_au=args.toi_a_au,
        )


#: Row choices of the Gaussian mixture and what they mean (``gmm_summary.json``'s ``rows``).
GMM_ROWS: dict[str, str] = {
    "all": "every in-window row with log q and log a (e is not used by the mixture)",
    "complete_case": "the complete-case view: in-window rows with M_star, M_c, a and a "
                     "usable e (the original analysis)",
}


@dataclass(frozen=True)
class BaselineConfig:
    """Settings of the frequentist baselines.

    Attributes
    ----------
    q_split : float
        Mass-ratio split of the eccentricity subsets.
    fixed_e : {"exclude", "measured"}
        How eccentricities fixed at zero without an uncertainty enter the e fits.
    n_boot : int
        Bootstrap resamples for the Beta parameters.
    gmm_n_init : int
        Initialisations of each Gaussian mixture.
    logistic_c : float
        Inverse L2 regularisation strength of the logistic classifier.
    label_file, label_column : str, optional
        User-supplied training labels instead of the heuristic ones.
    gmm_rows : {"all", "complete_case"}
        Rows of the Gaussian mixture: every in-window row with log q and log a (default; the
        mixture does not use e) or the complete-case view (rows with e as well, the
        original's choice, for parity).
    gmm_ks : tuple of int
        Numbers of components compared by BIC (K = 1 versus 2 is the original question and
        is reported separately).
    """

    q_split: float = 0.01
    fixed_e: Literal["exclude", "measured"] = "exclude"
    n_boot: int = 500
    gmm_n_init: int = 10
    logistic_c: float = 1.0
    label_file: str | None = None
    label_column: str = "label"
    gmm_rows: Literal["all", "complete_case"] = "all"
    gmm_ks: tuple[int, ...] = (1, 2, 3)

    def __post_init__(self) -> None:
        if self.gmm_rows not in GMM_ROWS:
            raise InputDataError(f"gmm_rows must be one of {', '.join(GMM_ROWS)}, not "
                                 f"{self.gmm_rows!r}.")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BaselineConfig:
        """Build from the parsed baseline options of the command line."""
        return cls(
            q_split=args.q_split, n_boot=args.n_boot,
            fixed_e="measured" if args.fixed_e == "measured" else "exclude",
            label_file=None if args.label_file is None else str(args.label_file),
            label_column=args.label_column,
            gmm_rows=getattr(args, "gmm_rows", "all").replace("-", "_"),
        )


@dataclass
class LoadedData:
    """The stacked dataset with the provenance of its inputs."""

    stacked: StackedDataset
    inputs: dict[str, Any]

    @property
    def frame(self) -> pd.DataFrame:
        """The stacked rows."""
        return self.stacked.frame


@dataclass
class StepTimer:
    """Wall time per named step, logged as each step ends."""

    timings_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a step and log one line when it ends."""
        t0 = time.perf_counter()
        yield
        dt = time.perf_counter() - t0
        self.timings_s[name] = round(dt, 4)
        log.info("[%s] done in %.2f s", name, dt)


def load_data(config: DataConfig) -> LoadedData:
    """Load, validate and stack the catalogues.

    Parameters
    ----------
    config : DataConfig
        Data settings.

    Returns
    -------
    LoadedData
        The stacked dataset and the provenance of every input (path, sha256, date).
    """
    from vlms_bayes.data_io.bdcat import load_bdcat
    from vlms_bayes.data_io.pscomppars import load_pscomppars
    from vlms_bayes.data_io.stack import stack_catalogues

    ps = load_pscomppars(
        path=config.ps, mstar_min=config.mstar_min, mstar_max=config.mstar_max,
        reference=config.reference, data_dir_=config.data_dir, refresh=config.refresh,
    )
    bd = load_bdcat(path=config.bd, data_dir_=config.data_dir) if config.use_bd else None
    overrides = {"st_mass": config.toi_mstar, "pl_bmassj": config.toi_mc_mj,
                 "pl_orbsmax": config.toi_a_au}
    stacked = stack_catalogues(
        ps.frame, bd.frame if bd is not None else None,
        window=(config.mstar_min, config.mstar_max), reference=config.reference,
        reference_overrides=overrides if any(v is not None for v in overrides.values()) else None,
    )
    inputs = {"pscomppars": ps.provenance()}
    if bd is not None:
        inputs["bd_catalogue"] = bd.provenance()
    return LoadedData(stacked, inputs)


def load_dataset(config: DataConfig) -> pd.DataFrame:
    """The stacked dataset as a DataFrame (see :mod:`vlms_bayes.data_io.schema`)."""
    return load_data(config).frame


def count_table(frame: pd.DataFrame) -> dict[str, Any]:
    """Counts of the stacked rows by source, method and flag (for reports and tests)."""
    win = frame.loc[frame["in_window"]]
    cc = complete_case(frame)

    def vc(s: pd.Series) -> dict[str, int]:
        return {str(k): int(v) for k, v in s.value_counts().sort_index().items()}

    return {
        "rows": len(frame),
        "in_window": len(win),
        "reference_in_window": bool(frame.loc[frame["is_reference"], "in_window"].any()),
        "by_source": vc(win["source"]),
        "by_method": vc(win["discoverymethod"]),
        "by_mass_kind": vc(win["mass_kind"]),
        "by_ecc_status": vc(win["ecc_status"]),
        "a_from_period": int(win["a_from_period"].sum()),
        "mass_upper_limits": int(win["mass_is_limit"].sum()),
        "complete_case": len(cc),
        "complete_case_by_method": vc(cc["discoverymethod"]),
    }


def format_counts(counts: dict[str, Any], *, window: tuple[float, float]) -> str:
    """Human-readable version of :func:`count_table`."""
    lines = [
        f"Host-mass window {window[0]:g}–{window[1]:g} Msun: {counts['in_window']} companions "
        f"({counts['rows']} rows incl. the reference object).",
    ]
    for key, title in (("by_source", "source"), ("by_method", "discovery method"),
                       ("by_mass_kind", "mass kind"), ("by_ecc_status", "eccentricity")):
        parts = ", ".join(f"{k} {v}" for k, v in counts[key].items())
        lines.append(f"  by {title}: {parts}")
    lines.append(f"  semi-major axis derived from the period: {counts['a_from_period']}")
    lines.append(f"  companion-mass upper limits: {counts['mass_upper_limits']}")
    lines.append(f"  complete case (M*, Mc, a, e; no e limits) for the baselines: "
                 f"{counts['complete_case']}")
    return "\n".join(lines)


@dataclass
class CommandResult:
    """What a command produced: its output folder, report text and key numbers."""

    outdir: Path
    report: str
    numbers: dict[str, Any] = field(default_factory=dict)


def _write_stacked(staging: Path, data: LoadedData) -> None:
    write_csv(staging / STACKED_FILE, data.frame, float_format="%.10g")


def run_data(config: DataConfig, *, outdir: str | os.PathLike[str]) -> CommandResult:
    """``vlms-bayes data``: stack the catalogues, write the stacked CSV, report counts."""
    timer = StepTimer()
    with timer.step("data"):
        data = load_data(config)
    counts = count_table(data.frame)
    report = format_counts(counts, window=data.stacked.window)
    with StagedOutputDir(outdir) as staging:
        _write_stacked(staging, data)
        if len(data.stacked.duplicates):
            write_csv(staging / "duplicates_dropped.csv", data.stacked.duplicates)
        write_json(staging / "run.json", run_record(
            command="data", config={"data": asdict(config)}, inputs=data.inputs,
            timings_s=timer.timings_s, extra={"counts": counts, "notes": data.stacked.notes}))
    return CommandResult(Path(outdir), report, {"counts": counts})


def compute_baselines(
    frame: pd.DataFrame, config: BaselineConfig, *, seed: int
) -> dict[str, Any]:
    """Run every frequentist baseline on the stacked rows (pure; no files).

    Returns
    -------
    dict
        ``gmm`` (GmmResult), ``beta`` (DataFrame), ``ks`` (KsResult), ``logistic``
        (LogisticResult), ``objects`` (DataFrame for ``objects_with_probs.csv``).
    """
    from vlms_bayes.inference import baselines as bl

    cc = complete_case(frame)
    if config.gmm_rows == "complete_case":
        gmm_frame = cc
    else:
        ok = frame["in_window"].astype(bool) & np.isfinite(
            frame[["logq", "loga"]].to_numpy(float)).all(axis=1)
        gmm_frame = frame.loc[ok].reset_index(drop=True)
    X = gmm_frame[["logq", "loga"]].to_numpy(float)
    gmm = bl.fit_gmm_bic(X, ks=config.gmm_ks, n_init=config.gmm_n_init, seed=seed,
                         features=("logq", "loga"))
    gmm_summary = {**gmm.summary(), "rows": config.gmm_rows,
                   "rows_description": GMM_ROWS[config.gmm_rows]}
    beta = bl.fit_beta_by_q_split(cc, q_split=config.q_split, fixed_e=config.fixed_e,
                                  n_boot=config.n_boot, seed=seed)
    ks = bl.ks_test_by_q_split(cc, q_split=config.q_split, fixed_e=config.fixed_e)

    # train on every in-window companion with log q, log a and M* (e and [Fe/H] may be
    # missing: the classifier imputes them with indicators), score every object
    in_win = (frame["in_window"] & np.isfinite(frame[["logq", "loga", "st_mass"]]).all(axis=1)
              ).to_numpy(bool)
    feats_all = bl.build_features(frame)
    train = frame.loc[in_win].reset_index(drop=True)
    feats_train = feats_all.loc[in_win].reset_index(drop=True)
    if config.label_file:
        labels = bl.labels_from_file(train, config.label_file, column=config.label_column)
        label_source = f"file {config.label_file} (column {config.label_column})"
    else:
        labels = bl.heuristic_labels(train, q_split=config.q_split)
        label_source = "heuristic"
    logistic = bl.fit_logistic(feats_train, labels, C=config.logistic_c, seed=seed,
                               label_source=label_source, q_split=config.q_split)

    objects = frame[["name", "hostname", "source", "discoverymethod", "st_mass", "pl_bmassj",
                     "mass_kind", "q", "logq", "pl_orbsmax", "loga", "pl_orbeccen",
                     "ecc_status", "st_metfe", "in_window", "is_reference"]].copy()
    objects["P_binary_like_logistic"] = logistic.predict_proba(feats_all)
    if 2 in gmm.components:
        # responsibility of the larger-log-q component of the K = 2 mixture, for every
        # object with log q and log a (the reference object too), whichever K won
        objects["gmm2_resp_high_logq"] = gmm.predict_responsibilities(
            frame[["logq", "loga"]].to_numpy(float), k=2)[:, -1]
    else:
        objects["gmm2_resp_high_logq"] = np.nan
    # which discovery methods each K = 2 component holds (hard assignment): the naive split
    # in (log q, log a) can follow the surveys rather than origin
    gmm_methods = None
    if 2 in gmm.components:
        comp = np.where(gmm.predict_responsibilities(X, k=2)[:, -1] >= 0.5, "high_logq",
                        "low_logq")
        gmm_methods = pd.crosstab(gmm_frame["discoverymethod"].to_numpy(), comp)
    return {"gmm": gmm, "gmm_summary": gmm_summary, "beta": beta, "ks": ks,
            "logistic": logistic, "objects": objects, "gmm_methods": gmm_methods,
            "n_complete_case": len(cc), "n_gmm": len(gmm_frame), "n_train": len(train)}


def write_baselines(staging: Path, results: dict[str, Any]) -> None:
    """Write the baseline output files into a (staged) folder."""
    write_json(staging / "gmm_summary.json", results["gmm_summary"])
    write_csv(staging / "beta_e_params.csv", results["beta"], float_format="%.6g")

    write_text(staging / "ks_test_e.txt", results["ks"].to_text())
    lg = results["logistic"]
    write_json(staging / "logistic_summary.json", lg.summary())
    write_text(staging / "logistic_auroc.txt", lg.auroc_text() + "\n")
    write_csv(staging / "logistic_coefficients.csv", lg.coefficients, float_format="%.6g")
    write_csv(staging / "objects_with_probs.csv", results["objects"], float_format="%.6g")


def run_baseline(
    data_config: DataConfig, config: BaselineConfig, *, outdir: str | os.PathLike[str],
    seed: int = 42,
) -> CommandResult:
    """``vlms-bayes baseline``: the frequentist baselines of the original analysis."""
    timer = StepTimer()
    with timer.step("data"):
        data = load_data(data_config)
    from vlms_bayes.report.summary import baseline_report

    with timer.step("baselines"):
        results = compute_baselines(data.frame, config, seed=seed)
        report = baseline_report(results)  # before anything is published
    with StagedOutputDir(outdir) as staging:
        _write_stacked(staging, data)
        write_baselines(staging, results)
        write_json(staging / "run.json", run_record(
            command="baseline", config={"data": asdict(data_config), "baseline": asdict(config)},
            seeds={"baseline": seed}, inputs=data.inputs, timings_s=timer.timings_s))
    return CommandResult(Path(outdir), report, {})


@dataclass(frozen=True)
class FeasibilityOptions:
    """Settings of the feasibility map that ``run`` makes for the reference object.

    Attributes
    ----------
    grid : int
        Cells per axis of the (M_out, a_out) grid.
    draws : int
        Monte Carlo draws per cell.
    horizon_gyr : float
        Time horizon in Gyr.
    backend : {"jax", "numba", "auto"}
        Kernel backend.
    secular_triples : int
        Draws integrated with the secular equations to check the analytic criteria.
    """

    grid: int = 100
    draws: int = 200
    horizon_gyr: float = 1.0
    backend: str = "auto"
    secular_triples: int = 200


def reference_target(frame: pd.DataFrame) -> Any:
    """The feasibility :class:`~vlms_bayes.feasibility.montecarlo.Target` of the reference row.

    Host mass, companion mass, a and host radius come from the stacked row (with the
    user's overrides); the companion's radius, which the stacked dataset does not carry,
    keeps the default of :class:`Target` (TOI-6894 b's 0.855 R_J).
    """
    from vlms_bayes.feasibility.montecarlo import Target

    ref = frame.loc[frame["is_reference"]]
    if ref.empty:
        return Target()
    r = ref.iloc[0]
    kw: dict[str, Any] = {"name": str(r["name"]), "m_star_msun": float(r["st_mass"]),
                          "mass_mj": float(r["pl_bmassj"]), "a_au": float(r["pl_orbsmax"])}
    if np.isfinite(r["st_rad"]):
        kw["r_star_rsun"] = float(r["st_rad"])
    return Target(**kw)


def run_all(
    data_config: DataConfig,
    config: BaselineConfig,
    *,
    outdir: str | os.PathLike[str],
    seed: int = 42,
    fit_config: Any = None,
    feasibility: FeasibilityOptions | None = None,
    force: bool = False,
    robustness: dict[str, Any] | None = None,
) -> CommandResult:
    """``vlms-bayes run``: everything into one folder, step by step.

    Stacked data, frequentist baselines, catalogue figures, then (unless None) the Bayesian
    fit with memberships and the comparison report, then (unless None) the feasibility map
    of the reference object, and finally ``SUMMARY.txt`` (led by the three headline numbers,
    :mod:`vlms_bayes.report.headlines`) and ``run.json``. Each step is skipped when its inputs and
    settings are unchanged since the last run into ``outdir`` and publishes its files
    atomically (:mod:`vlms_bayes.pipeline.steps`, :mod:`vlms_bayes.pipeline.run`).

    Parameters
    ----------
    data_config, config : DataConfig, BaselineConfig
        Data and baseline settings.
    outdir : path-like
        Output folder.
    seed : int
        Seed of every random step (the fit and the map use it too).
    fit_config : vlms_bayes.inference.fit.FitConfig, optional
        Settings of the Bayesian fit; None leaves the fit and the comparison out.
    feasibility : FeasibilityOptions, optional
        Settings of the feasibility map; None leaves it out.
    force : bool
        Recompute every step, changed or not.
    robustness : dict, optional
        Keyword arguments of :func:`vlms_bayes.pipeline.robustness.run_robustness` (``variants``,
        ``n_jobs``, ...) to run the robustness suite into ``outdir/robustness``; None
        leaves it out.

    Returns
    -------
    CommandResult
        ``numbers`` holds ``counts``, ``headlines`` and ``steps_ran``.
    """
    from vlms_bayes.pipeline.run import run_steps

    return run_steps(data_config, config, outdir=outdir, seed=seed, fit_config=fit_config,
                     feasibility=feasibility, force=force, robustness=robustness)
