"""Every frequentist baseline on the stacked rows, in one pure call.

:class:`BaselineConfig` holds the settings of the baselines and :func:`compute_baselines`
runs them (GMM/BIC, Beta MLE, KS, logistic) on the stacked dataset and returns the results;
writing them is the caller's job (:func:`vlms_bayes.pipeline.baseline.write_baselines`).
Both are re-exported by :mod:`vlms_bayes.pipeline`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from vlms_bayes.data_io.schema import complete_case
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.baselines.beta_ecc import fit_beta_by_q_split
from vlms_bayes.inference.baselines.gmm import fit_gmm_bic
from vlms_bayes.inference.baselines.ks import ks_test_by_q_split
from vlms_bayes.inference.baselines.logistic import (
    build_features,
    fit_logistic,
    heuristic_labels,
    labels_from_file,
)

__all__ = ["GMM_ROWS", "BaselineConfig", "compute_baselines"]

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
    gmm = fit_gmm_bic(X, ks=config.gmm_ks, n_init=config.gmm_n_init, seed=seed,
                         features=("logq", "loga"))
    gmm_summary = {**gmm.summary(), "rows": config.gmm_rows,
                   "rows_description": GMM_ROWS[config.gmm_rows]}
    beta = fit_beta_by_q_split(cc, q_split=config.q_split, fixed_e=config.fixed_e,
                                  n_boot=config.n_boot, seed=seed)
    ks = ks_test_by_q_split(cc, q_split=config.q_split, fixed_e=config.fixed_e)

    # train on every in-window companion with log q, log a and M* (e and [Fe/H] may be
    # missing: the classifier imputes them with indicators), score every object
    in_win = (frame["in_window"] & np.isfinite(frame[["logq", "loga", "st_mass"]]).all(axis=1)
              ).to_numpy(bool)
    feats_all = build_features(frame)
    train = frame.loc[in_win].reset_index(drop=True)
    feats_train = feats_all.loc[in_win].reset_index(drop=True)
    if config.label_file:
        labels = labels_from_file(train, config.label_file, column=config.label_column)
        label_source = f"file {config.label_file} (column {config.label_column})"
    else:
        labels = heuristic_labels(train, q_split=config.q_split)
        label_source = "heuristic"
    logistic = fit_logistic(feats_train, labels, C=config.logistic_c, seed=seed,
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
