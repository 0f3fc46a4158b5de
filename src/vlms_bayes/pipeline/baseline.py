"""``vlms-bayes baseline``: the frequentist baselines of the original analysis."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
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
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference import baselines as bl
from vlms_bayes.pipeline.data import DataConfig, load_data, write_stacked
from vlms_bayes.pipeline.result import CommandResult, StepTimer
from vlms_bayes.report.summary import baseline_report

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
    with timer.step("baselines"):
        results = compute_baselines(data.frame, config, seed=seed)
        report = baseline_report(results)  # before anything is published
    with StagedOutputDir(outdir) as staging:
        write_stacked(staging, data)
        write_baselines(staging, results)
        write_json(staging / "run.json", run_record(
            command="baseline", config={"data": asdict(data_config), "baseline": asdict(config)},
            seeds={"baseline": seed}, inputs=data.inputs, timings_s=timer.timings_s))
    return CommandResult(Path(outdir), report, {})
