"""Gaussian mixtures with K = 1, 2 (, 3, ...) in (log q, log a), chosen by BIC.

This reproduces the original system's demographic baseline (scikit-learn
``GaussianMixture``, full covariances, several initialisations) with a fixed seed and with
the components in a stable order: ascending mean log q (else of the first feature), so that the
last column of :attr:`GmmResult.responsibilities` is always "the component with the larger
log q". A K is fitted only when there are more objects than free parameters; otherwise its
BIC is NaN and the reason is recorded, so a tiny sample gives an honest, not a crashed, result.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from vlms_bayes.data_io.schema import require_columns
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.baselines._common import as_int_seed, single_threaded

DEFAULT_FEATURES: tuple[str, ...] = ("logq", "loga")


def n_free_parameters(k: int, d: int) -> int:
    """Free parameters of a full-covariance mixture: means, covariances and weights."""
    return k * d + k * d * (d + 1) // 2 + (k - 1)


@dataclass(frozen=True)
class GmmResult:
    """BIC comparison of Gaussian mixtures and the winner's responsibilities.

    Attributes
    ----------
    features : tuple of str
        Feature names (columns of the input).
    n : int
        Number of objects fitted.
    bic : dict
        K -> BIC (NaN where K was not fitted).
    winner : int or None
        K with the lowest BIC among the non-degenerate fits; None when there is none.
    components : dict
        K -> {"weights", "means", "covariances", "converged", "n_iter"} in component order.
    notes : dict
        K -> why it was not fitted or a convergence remark ("" when none).
    responsibilities : numpy.ndarray
        (n, winner) membership probabilities, columns in ascending mean ``logq`` (the first
        feature when there is no ``logq``); shape (n, 0) when nothing was fitted.
    """

    features: tuple[str, ...]
    n: int
    bic: dict[int, float]
    winner: int | None
    components: dict[int, dict[str, Any]]
    notes: dict[int, str]
    responsibilities: NDArray[np.float64]
    degenerate: frozenset[int] = frozenset()
    _models: dict[int, Any] = field(default_factory=dict, repr=False)
    _orders: dict[int, NDArray[np.intp]] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """The content of ``gmm_summary.json`` (plain Python types, NaN for unfitted K)."""
        out: dict[str, Any] = {
            "method": "sklearn GaussianMixture, full covariance, BIC",
            "features": list(self.features),
            "n": self.n,
            "bic": {str(k): _nan_to_none(v) for k, v in self.bic.items()},
            "ks_compared": [int(k) for k in self.bic],
            "winner": self.winner,
            "winner_1_vs_2": self.winner_among((1, 2)),
            "degenerate": sorted(int(k) for k in self.degenerate),
            "delta_bic_1_minus_2": _nan_to_none(
                self.bic.get(1, np.nan) - self.bic.get(2, np.nan)),
            "component_order": "ascending mean "
                               + ("logq" if "logq" in self.features else self.features[0]),
            "models": {},
            "notes": {str(k): v for k, v in self.notes.items() if v},
        }
        for k, comp in self.components.items():
            out["models"][str(k)] = {
                "weights": np.asarray(comp["weights"]).tolist(),
                "means": np.asarray(comp["means"]).tolist(),
                "covariances": np.asarray(comp["covariances"]).tolist(),
                "converged": bool(comp["converged"]),
                "n_iter": int(comp["n_iter"]),
            }
        return out

    def winner_among(self, ks: Sequence[int]) -> int | None:
        """The K of ``ks`` with the lowest BIC among the non-degenerate fits (or None)."""
        fitted = {k: self.bic[k] for k in ks
                  if np.isfinite(self.bic.get(k, np.nan)) and k not in self.degenerate}
        return min(fitted, key=fitted.__getitem__) if fitted else None

    def predict_responsibilities(self, X: ArrayLike, *, k: int | None = None) -> NDArray:
        """Responsibilities of new points under the model with ``k`` components (default winner).

        Rows with a non-finite feature get NaN.
        """
        k = self.winner if k is None else k
        if k is None or k not in self._models:
            raise InputDataError(f"no fitted mixture with K={k} (notes: {self.notes}).")
        arr, _ = _as_matrix(X, self.features, allow_nan=True)
        out = np.full((arr.shape[0], k), np.nan)
        ok = np.isfinite(arr).all(axis=1)
        if ok.any():
            with single_threaded():
                out[ok] = self._models[k].predict_proba(arr[ok])[:, self._orders[k]]
        return out

    def prob_larger_logq(self) -> NDArray[np.float64]:
        """Responsibility of the component with the larger mean log q (NaN unless winner ≥ 2)."""
        if self.winner is None or self.winner < 2:
            return np.full(self.n, np.nan)
        return self.responsibilities[:, -1].copy()


def _nan_to_none(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _as_matrix(
    X: ArrayLike | pd.DataFrame, features: Sequence[str] | None, *, allow_nan: bool = False
) -> tuple[NDArray[np.float64], tuple[str, ...]]:
    if isinstance(X, pd.DataFrame):
        cols = tuple(features) if features is not None else tuple(map(str, X.columns))
        require_columns(X, cols, what="The data of the GMM",
                        fix="Pass a frame with the feature columns, or an array.")
        arr = X.loc[:, list(cols)].to_numpy(dtype=float)
    else:
        arr = np.asarray(X, dtype=float)
        if arr.ndim == 1:
            arr = arr[:, None]
        cols = tuple(features) if features is not None else tuple(
            f"x{i}" for i in range(arr.shape[1]))
    if arr.ndim != 2 or arr.shape[1] != len(cols):
        raise InputDataError(f"the GMM needs an (n, {len(cols)}) array, got shape {arr.shape}.")
    if not allow_nan and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr).all(axis=1)).sum())
        raise InputDataError(
            f"{bad} row(s) passed to the GMM have a missing or infinite {'/'.join(cols)}; "
            "pass the complete-case view of the stacked dataset.")
    return arr, cols


def fit_gmm_bic(
    X: ArrayLike | pd.DataFrame,
    *,
    ks: Sequence[int] = (1, 2),
    n_init: int = 10,
    seed: int | np.random.Generator,
    features: Sequence[str] | None = None,
    max_iter: int = 1000,
) -> GmmResult:
    """Fit full-covariance Gaussian mixtures for each K and pick the lowest BIC.

    Parameters
    ----------
    X : array_like or pandas.DataFrame
        (n, d) features. With a DataFrame, ``features`` picks the columns (default: all
        columns; pass ``features=("logq", "loga")`` for the stacked dataset).
    ks : sequence of int
        Numbers of components to compare.
    n_init : int
        Initialisations per K (scikit-learn keeps the best likelihood).
    seed : int or numpy.random.Generator
        Randomness of the initialisations.
    features : sequence of str, optional
        Feature names (column selection for a DataFrame, labels for an array).
    max_iter : int
        EM iterations per initialisation.

    Returns
    -------
    GmmResult
        BIC per K, winner, component parameters and the winner's responsibilities.

    Notes
    -----
    A K is fitted only when ``n > n_free_parameters(K, d)`` (11 for K = 2 in two
    dimensions); otherwise its BIC is NaN and ``notes[K]`` says why. A fit in which a
    component holds fewer than d + 1 objects (weight × n) is degenerate (a singular
    covariance makes the likelihood unbounded): its BIC is kept but it cannot win, and
    ``notes[K]`` says so.
    """
    from sklearn.exceptions import ConvergenceWarning  # heavy: scikit-learn
    from sklearn.mixture import GaussianMixture  # heavy: scikit-learn

    arr, cols = _as_matrix(X, features)
    n, d = arr.shape
    rs = as_int_seed(seed)
    sort_col = cols.index("logq") if "logq" in cols else 0
    bic: dict[int, float] = {}
    comps: dict[int, dict[str, Any]] = {}
    notes: dict[int, str] = {}
    models: dict[int, Any] = {}
    orders: dict[int, NDArray[np.intp]] = {}
    degenerate: set[int] = set()
    for k in ks:
        k = int(k)
        n_par = n_free_parameters(k, d)
        if k < 1 or n <= n_par:
            bic[k] = np.nan
            notes[k] = (f"not fitted: n = {n} objects is not more than the {n_par} free "
                        f"parameters of a {k}-component full-covariance mixture in {d} "
                        "dimensions")
            continue
        gm = GaussianMixture(n_components=k, covariance_type="full", n_init=n_init,
                             random_state=rs, max_iter=max_iter)
        with warnings.catch_warnings(record=True) as caught, single_threaded():
            warnings.simplefilter("always", ConvergenceWarning)
            gm.fit(arr)
        order = np.argsort(gm.means_[:, sort_col], kind="stable")
        models[k], orders[k] = gm, order
        bic[k] = float(gm.bic(arr))
        comps[k] = {"weights": gm.weights_[order], "means": gm.means_[order],
                    "covariances": gm.covariances_[order], "converged": bool(gm.converged_),
                    "n_iter": int(gm.n_iter_)}
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        notes[k] = "EM did not converge" if (warned or not gm.converged_) else ""
        held = gm.weights_ * n
        if k > 1 and held.min() < d + 1:
            # a component on fewer than d + 1 objects has a singular covariance (only
            # reg_covar keeps it finite): its likelihood, hence its BIC, is unbounded
            notes[k] = (f"degenerate: a component holds {held.min():.1f} of the {n} objects, "
                        f"fewer than the {d + 1} a {d}-dimensional covariance needs; its BIC "
                        "is reported but not used to choose K")
            degenerate.add(k)
    fitted = {k: v for k, v in bic.items() if np.isfinite(v) and k not in degenerate}
    winner = min(fitted, key=fitted.__getitem__) if fitted else None
    if winner is None:
        resp = np.zeros((n, 0))
    else:
        with single_threaded():
            resp = models[winner].predict_proba(arr)[:, orders[winner]]
    return GmmResult(features=cols, n=n, bic=bic, winner=winner, components=comps,
                     notes=notes, responsibilities=resp, degenerate=frozenset(degenerate),
                     _models=models, _orders=orders)
