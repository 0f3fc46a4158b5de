"""A transparent origin classifier: standardised L2 logistic regression with CV AUROC.

Features are (log q, log a, e, log M_star, [Fe/H], discovery-method dummies). Nothing is
dropped for a missing value: [Fe/H] and e (when missing, an upper limit or fixed at zero
without an uncertainty) are imputed with the training median inside the fitted pipeline,
and a 0/1 indicator column says that they were missing, so brown-dwarf rows without a
metallicity and the reference object are scored like every other row. Only rows without
q, a or M_star cannot be scored (probability NaN).

Labels
------
The original trains on heuristic anchors, label 1 for q >= q_split ("binary-like"), 0
otherwise (:func:`heuristic_labels`). Since log q is also a feature, the classifier then
learns the rule it was given and its AUROC is near 1 by construction: the result is
circular and says so (:attr:`LogisticResult.warning`). Labels from a file
(:func:`labels_from_file`) remove the circularity.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from vlms_bayes.data_io.schema import STACKED_FIX, require_columns
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.baselines._common import as_int_seed, single_threaded

#: Features every scored row must have (never imputed).
CORE_FEATURES: tuple[str, ...] = ("logq", "loga", "log_mstar")

HEURISTIC_WARNING = (
    "The training labels are heuristic (label 1 = q >= {q_split:g}, 0 otherwise) and log q "
    "is also a feature: the classifier re-learns the labelling rule, so its AUROC is near 1 "
    "by construction and P_binary_like_logistic is a smooth version of the q cut, not "
    "evidence for a binary-like origin. Supply real labels with a label file to remove "
    "this circularity."
)


def _slug(method: str) -> str:
    return "method_" + re.sub(r"[^0-9a-z]+", "_", str(method).strip().lower()).strip("_")


def build_features(frame: pd.DataFrame, *, methods: list[str] | None = None) -> pd.DataFrame:
    """Feature table for the logistic classifier, one row per row of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows of the stacked dataset (any view; nothing is dropped).
    methods : list of str, optional
        Discovery methods that get a dummy column (default: those in ``frame``, sorted).

    Returns
    -------
    pandas.DataFrame
        Columns ``logq, loga, log_mstar, e, e_unmeasured, feh, feh_missing`` and
        ``method_<name>`` dummies, with the index of ``frame``. ``e`` is NaN unless
        ``ecc_status == "measured"``; ``feh`` is NaN where unknown; both are imputed by
        the fitted pipeline.
    """
    require_columns(frame, ("logq", "loga", "st_mass", "pl_orbeccen", "ecc_status",
                            "st_metfe", "discoverymethod"),
                    what="The data of the logistic classifier", fix=STACKED_FIX)
    st_mass = pd.to_numeric(frame["st_mass"], errors="coerce").to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_mstar = np.where(st_mass > 0, np.log10(st_mass), np.nan)
    measured = frame["ecc_status"].astype(str).to_numpy() == "measured"
    e = np.where(measured, pd.to_numeric(frame["pl_orbeccen"], errors="coerce"), np.nan)
    feh = pd.to_numeric(frame["st_metfe"], errors="coerce").to_numpy(float)
    out = pd.DataFrame({
        "logq": pd.to_numeric(frame["logq"], errors="coerce").to_numpy(float),
        "loga": pd.to_numeric(frame["loga"], errors="coerce").to_numpy(float),
        "log_mstar": log_mstar,
        "e": e,
        "e_unmeasured": np.isnan(e).astype(float),
        "feh": feh,
        "feh_missing": np.isnan(feh).astype(float),
    }, index=frame.index)
    meth = frame["discoverymethod"].astype("string").fillna("").to_numpy(dtype=object)
    if methods is None:
        methods = sorted({m for m in meth if m})
    for m in methods:
        out[_slug(m)] = (meth == m).astype(float)
    return out


def heuristic_labels(frame: pd.DataFrame, *, q_split: float = 0.01) -> NDArray[np.int64]:
    """The original's anchors: 1 ("binary-like") where q >= q_split, else 0."""
    require_columns(frame, ("q",), what="The data of the heuristic labels", fix=STACKED_FIX)
    q = pd.to_numeric(frame["q"], errors="coerce").to_numpy(float)
    if np.isnan(q).any():
        raise InputDataError(
            f"{int(np.isnan(q).sum())} row(s) have no q; heuristic labels need q for every "
            "training row (use the complete-case view).")
    return (q >= q_split).astype(np.int64)


def _norm_name(s: object) -> str:
    return " ".join(str(s).split()).casefold()


def labels_from_file(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    column: str = "label",
    allow_missing: bool = False,
) -> NDArray[np.float64]:
    """User-supplied 0/1 labels for the rows of ``frame``, matched by object name.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows to label (column ``name``).
    path : path-like
        CSV file with a ``name`` column and the label column.
    column : str
        Name of the label column.
    allow_missing : bool
        Give NaN (unlabelled, not used for training) to rows the file does not name,
        instead of raising.

    Returns
    -------
    numpy.ndarray
        Labels as floats 0.0/1.0 (NaN for unlabelled rows when ``allow_missing``).

    Raises
    ------
    InputDataError
        When the file is missing or not CSV, lacks the columns, names an object twice,
        has values other than 0/1, or (unless ``allow_missing``) misses a row of ``frame``.
        Names match after collapsing whitespace, ignoring case.
    """
    require_columns(frame, ("name",), what="The data that labels are matched to",
                    fix=STACKED_FIX)
    path = os.fspath(path)
    try:
        table = pd.read_csv(path, comment=None)
    except FileNotFoundError:
        raise InputDataError(f"label file {path} does not exist.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputDataError(f"label file {path} is not a readable CSV file: {exc}.") from None
    require_columns(table, ("name", column), what=f"label file {path}",
                    fix=f"Expected columns: 'name' and '{column}' (0 = planet-like, "
                        "1 = binary-like).")
    vals = pd.to_numeric(table[column], errors="coerce")
    bad = ~vals.isin([0, 1])
    if bad.any():
        shown = ", ".join(f"{n!r}: {v!r}" for n, v in
                          zip(table.loc[bad, "name"][:5], table.loc[bad, column][:5], strict=True))
        raise InputDataError(
            f"label column '{column}' of {path} must hold only 0 or 1; {int(bad.sum())} row(s) "
            f"do not ({shown}).")
    keys = table["name"].map(_norm_name)
    dup = keys[keys.duplicated()]
    if len(dup):
        raise InputDataError(f"label file {path} names these objects more than once: "
                             f"{', '.join(sorted(set(dup))[:5])}.")
    lookup = dict(zip(keys, vals.astype(float), strict=True))
    names = frame["name"].map(_norm_name)
    labels = names.map(lookup).to_numpy(float)
    absent = np.isnan(labels)
    if absent.any() and not allow_missing:
        shown = ", ".join(map(str, frame["name"][absent][:8]))
        raise InputDataError(
            f"label file {path} has no label for {int(absent.sum())} of {len(frame)} objects "
            f"(e.g. {shown}). Add them, or allow unlabelled objects.")
    return labels


@dataclass(frozen=True)
class LogisticResult:
    """A fitted logistic classifier and its cross-validated AUROC."""

    feature_names: tuple[str, ...]
    n_train: int
    n_positive: int
    C: float
    n_splits: int
    label_source: str
    auroc_folds: tuple[float, ...]
    auroc_mean: float
    auroc_sd: float
    auroc_reason: str
    coefficients: pd.DataFrame
    fit_reason: str = ""
    warning: str = ""
    _pipeline: Any = field(default=None, repr=False)

    def predict_proba(self, features: pd.DataFrame) -> NDArray[np.float64]:
        """P(label = 1) for each row; NaN where log q, log a or log M_star is missing.

        ``features`` comes from :func:`build_features`; missing dummy columns count as 0,
        an extra method column with ones in it is an error (that method was never seen).
        """
        extra = [c for c in features.columns if c not in self.feature_names]
        used = [c for c in extra if c.startswith("method_") and features[c].fillna(0).any()]
        if used:
            raise InputDataError(
                f"the classifier was trained without the discovery method(s) {used}; build "
                "the training and scoring features with the same methods= list.")
        x = features.reindex(columns=list(self.feature_names), fill_value=0.0)
        prob = np.full(len(x), np.nan)
        if self._pipeline is None:
            return prob
        ok = x.loc[:, list(CORE_FEATURES)].notna().all(axis=1).to_numpy()
        if ok.any():
            with single_threaded():
                prob[ok] = self._pipeline.predict_proba(x.loc[ok])[:, 1]
        return prob

    def summary(self) -> dict[str, Any]:
        """Plain-type record of the fit (for SUMMARY.txt / run.json)."""
        def num(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        return {
            "model": "StandardScaler + L2 LogisticRegression (median imputation, missing "
                     "indicators for e and [Fe/H])",
            "label_source": self.label_source,
            "warning": self.warning,
            "n_train": self.n_train,
            "n_positive": self.n_positive,
            "C": self.C,
            "cv": f"{self.n_splits}-fold stratified",
            "auroc_mean": num(self.auroc_mean),
            "auroc_sd": num(self.auroc_sd),
            "auroc_folds": [float(v) for v in self.auroc_folds],
            "auroc_reason": self.auroc_reason,
            "fit_reason": self.fit_reason,
            "features": list(self.feature_names),
            "coefficients": [
                {k: (num(v) if isinstance(v, float) else v) for k, v in row.items()}
                for row in self.coefficients.to_dict(orient="records")
            ],
        }

    def auroc_text(self) -> str:
        """One line: 'AUROC (5-fold stratified) = mean ± sd' or NaN with the reason."""
        if np.isfinite(self.auroc_mean):
            txt = (f"AUROC ({self.n_splits}-fold stratified CV) = {self.auroc_mean:.3f} "
                   f"± {self.auroc_sd:.3f}")
        else:
            txt = f"AUROC ({self.n_splits}-fold stratified CV) = nan ({self.auroc_reason})"
        return txt + f"; labels: {self.label_source}"


def _make_pipeline(C: float, seed: int) -> Any:
    from sklearn.impute import SimpleImputer  # heavy: scikit-learn
    from sklearn.linear_model import LogisticRegression  # heavy: scikit-learn
    from sklearn.pipeline import make_pipeline  # heavy: scikit-learn
    from sklearn.preprocessing import StandardScaler  # heavy: scikit-learn

    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=C, max_iter=5000, random_state=seed),
    )


def fit_logistic(
    features: pd.DataFrame,
    labels: ArrayLike,
    *,
    C: float = 1.0,
    n_splits: int = 5,
    seed: int | np.random.Generator,
    label_source: str = "heuristic",
    q_split: float = 0.01,
) -> LogisticResult:
    """Fit a standardised L2 logistic regression and estimate its AUROC by stratified CV.

    Parameters
    ----------
    features : pandas.DataFrame
        From :func:`build_features` (training rows).
    labels : array_like
        0/1 per row; NaN marks an unlabelled row (left out of the fit).
    C : float
        Inverse L2 regularisation strength (in standardised units).
    n_splits : int
        Folds of the stratified cross-validation.
    seed : int or numpy.random.Generator
        Randomness of the fold assignment.
    label_source : str
        Where the labels come from: ``"heuristic"`` (adds the circularity warning) or a
        description such as ``"file labels.csv, column label"``.
    q_split : float
        The q cut of the heuristic labels (for the warning text).

    Returns
    -------
    LogisticResult
        Coefficients (standardised and original units), AUROC mean ± sd over folds (NaN
        with ``auroc_reason`` when a class has fewer than ``n_splits`` members) and the
        fitted pipeline for :meth:`LogisticResult.predict_proba`.
    """
    from sklearn.base import clone  # heavy: scikit-learn
    from sklearn.exceptions import ConvergenceWarning  # heavy: scikit-learn
    from sklearn.metrics import roc_auc_score  # heavy: scikit-learn
    from sklearn.model_selection import StratifiedKFold  # heavy: scikit-learn

    y = np.asarray(labels, float).ravel()
    if y.size != len(features):
        raise InputDataError(f"{y.size} labels for {len(features)} feature rows.")
    lab = ~np.isnan(y)
    if not np.isin(y[lab], (0.0, 1.0)).all():
        raise InputDataError("labels must be 0 or 1 (or NaN for unlabelled rows).")
    x = features.loc[lab]
    y = y[lab].astype(int)
    core_bad = x.loc[:, list(CORE_FEATURES)].isna().any(axis=1)
    if core_bad.any():
        raise InputDataError(
            f"{int(core_bad.sum())} training row(s) lack log q, log a or log M_star; train on "
            "the complete-case view.")
    rs = as_int_seed(seed)
    names = tuple(map(str, x.columns))
    counts = np.bincount(y, minlength=2)
    warn = HEURISTIC_WARNING.format(q_split=q_split) if label_source == "heuristic" else ""
    base = dict(feature_names=names, n_train=int(y.size), n_positive=int(counts[1]), C=float(C),
                n_splits=int(n_splits), label_source=label_source, warning=warn)
    if counts.min() == 0:
        reason = (f"not fitted: all {y.size} training labels are {int(np.argmax(counts))}; "
                  "a classifier needs both classes")
        coef = pd.DataFrame({"feature": [*names, "(intercept)"]}).assign(
            coef_standardised=np.nan, coef_original=np.nan, mean=np.nan, scale=np.nan)
        return LogisticResult(auroc_folds=(), auroc_mean=np.nan, auroc_sd=np.nan,
                              auroc_reason=reason, coefficients=coef, fit_reason=reason, **base)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught, single_threaded():
        warnings.simplefilter("always", ConvergenceWarning)
        pipe = _make_pipeline(C, rs).fit(x, y)
        folds: list[float] = []
        reason = ""
        if counts.min() < n_splits:
            reason = (f"not computed: the smaller class has {int(counts.min())} member(s), "
                      f"fewer than n_splits = {n_splits}")
        else:
            cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=rs)
            for tr, te in cv.split(x, y):
                m = clone(pipe).fit(x.iloc[tr], y[tr])
                folds.append(float(roc_auc_score(y[te], m.predict_proba(x.iloc[te])[:, 1])))
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        notes.append("the optimiser reported non-convergence")
    _, scaler, clf = pipe.named_steps.values()
    cstd = clf.coef_.ravel()
    scale = scaler.scale_
    mean = scaler.mean_
    coef = pd.DataFrame({
        "feature": [*names, "(intercept)"],
        "coef_standardised": [*cstd, float(clf.intercept_[0])],
        "coef_original": [*(cstd / scale), float(clf.intercept_[0] - np.sum(cstd * mean / scale))],
        "mean": [*mean, np.nan],
        "scale": [*scale, np.nan],
    })
    arr = np.asarray(folds)
    return LogisticResult(
        auroc_folds=tuple(folds),
        auroc_mean=float(arr.mean()) if arr.size else np.nan,
        auroc_sd=float(arr.std(ddof=1)) if arr.size > 1 else np.nan,
        auroc_reason=reason, coefficients=coef, fit_reason="; ".join(notes),
        _pipeline=pipe, **base)
