"""Frequentist baselines of the original analysis, with correct data handling.

* :func:`fit_gmm_bic` — Gaussian mixtures (K = 1, 2) in (log q, log a), BIC winner.
* :func:`fit_beta_by_q_split` / :func:`fit_beta_mle` — Beta MLE of e per q subset with
  bootstrap percentiles; explicit treatment of assumed-circular orbits and of e = 0.
* :func:`ks_test_by_q_split` — two-sample KS test of e, low q versus high q.
* :func:`build_features`, :func:`heuristic_labels`, :func:`labels_from_file`,
  :func:`fit_logistic` — the logistic origin classifier with stratified CV AUROC.
* :class:`BaselineConfig`, :func:`compute_baselines` — all of them on the stacked rows.

All functions are pure functions of frames/arrays (except :func:`labels_from_file`, which
reads the user's label file); writing outputs is the caller's job. Subsets with fewer than
three objects give NaN parameters and a note rather than an error.
"""

from vlms_bayes.inference.baselines.beta_ecc import (
    beta_mle_from_stats,
    fit_beta_by_q_split,
    fit_beta_mle,
    floor_zero_eccentricities,
)
from vlms_bayes.inference.baselines.compute import GMM_ROWS, BaselineConfig, compute_baselines
from vlms_bayes.inference.baselines.gmm import GmmResult, fit_gmm_bic
from vlms_bayes.inference.baselines.ks import KsResult, ks_test_by_q_split
from vlms_bayes.inference.baselines.logistic import (
    HEURISTIC_WARNING,
    LogisticResult,
    build_features,
    fit_logistic,
    heuristic_labels,
    labels_from_file,
)

__all__ = [
    "GMM_ROWS",
    "HEURISTIC_WARNING",
    "BaselineConfig",
    "GmmResult",
    "KsResult",
    "LogisticResult",
    "beta_mle_from_stats",
    "build_features",
    "compute_baselines",
    "fit_beta_by_q_split",
    "fit_beta_mle",
    "fit_gmm_bic",
    "fit_logistic",
    "floor_zero_eccentricities",
    "heuristic_labels",
    "ks_test_by_q_split",
    "labels_from_file",
]
