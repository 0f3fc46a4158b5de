"""Which criterion loses the draws, and how well a cell's feasible fraction is known.

Pure functions on the cascade pass fractions of the feasibility map
(:meth:`vlms_bayes.feasibility.montecarlo.MapResult.fractions`):

* :func:`absolute_losses`: the fraction of *all* draws of a cell that each criterion
  removes (the draws that passed every earlier criterion and fail this one). The losses
  and the feasible fraction add up to 1.
* :func:`limiting_by_loss`: the criterion with the largest absolute loss. (The earlier
  rule, the stage with the smallest pass ratio of the survivors, blamed whichever stage
  removed the last few survivors: at a_out = 5000 AU the KL timescale removed 92 % of the
  draws yet the cell said "reach".)
* :func:`grid_loss_share`: the grid-wide split of the lost draws between criteria.
* :func:`binomial_interval`: Clopper–Pearson (exact) interval on a fraction of k out of n
  draws, vectorised; identical to ``scipy.stats.binomtest(k, n).proportion_ci()``.
* :func:`best_cell`: the best cell and whether its interval excludes the grid mean (only
  then is it worth quoting).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def absolute_losses(cascade: ArrayLike) -> np.ndarray:
    """Fraction of all draws removed by each criterion of the cascade.

    Parameters
    ----------
    cascade : array, shape (n_criteria, ...)
        Fractions passing criteria 0..k, for each k (non-increasing in k).

    Returns
    -------
    numpy.ndarray, shape (n_criteria, ...)
        ``loss[k] = cascade[k-1] - cascade[k]`` (with ``cascade[-1] = 1``); the losses
        plus ``cascade[-1]`` (the feasible fraction) sum to 1 in every cell.
    """
    c = np.asarray(cascade, float)
    prev = np.concatenate([np.ones_like(c[:1]), c[:-1]], axis=0)
    return prev - c


def limiting_by_loss(cascade: ArrayLike) -> np.ndarray:
    """Index of the criterion that removes the largest fraction of a cell's draws.

    Ties go to the earlier criterion; a cell where every draw is feasible gets 0.
    """
    return np.argmax(absolute_losses(cascade), axis=0)


def grid_loss_share(cascade: ArrayLike) -> np.ndarray:
    """Share of all lost draws of the grid (every cell weighted equally) per criterion."""
    loss = absolute_losses(cascade)
    tot = loss.reshape(loss.shape[0], -1).sum(axis=1)
    return tot / tot.sum() if tot.sum() > 0 else np.zeros_like(tot)


def binomial_interval(k: ArrayLike, n: ArrayLike, level: float = 0.95
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson interval of a binomial fraction k/n (vectorised).

    Parameters
    ----------
    k, n : array of int
        Successes and trials (broadcast together).
    level : float
        Confidence level.

    Returns
    -------
    low, high : numpy.ndarray
        The exact interval of ``scipy.stats.binomtest(k, n).proportion_ci(level)``:
        low = Beta(α/2; k, n − k + 1) (0 for k = 0), high = Beta(1 − α/2; k + 1, n − k)
        (1 for k = n).
    """
    k, n = np.broadcast_arrays(np.asarray(k, float), np.asarray(n, float))
    if np.any(n < 1) or np.any(k < 0) or np.any(k > n):
        raise ValueError("binomial_interval needs 0 <= k <= n and n >= 1.")
    a = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, stats.beta.ppf(a / 2, np.maximum(k, 1), n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - a / 2, k + 1, np.maximum(n - k, 1)), 1.0)
    return low, high


@dataclass(frozen=True)
class BestCell:
    """The cell with the largest feasible fraction and its interval."""

    index: tuple[int, int]
    fraction: float
    low: float
    high: float
    grid_mean: float
    excludes_mean: bool


def best_cell(feasible_counts: ArrayLike, n_draws: int, level: float = 0.95) -> BestCell:
    """The best cell and whether its interval excludes the grid's mean fraction.

    Parameters
    ----------
    feasible_counts : array of int, shape (M, A)
        Feasible draws per cell.
    n_draws : int
        Draws per cell.
    level : float
        Confidence level of the interval.

    Returns
    -------
    BestCell
    """
    k = np.asarray(feasible_counts)
    i = np.unravel_index(int(np.argmax(k)), k.shape)
    lo, hi = binomial_interval(k[i], n_draws, level)
    mean = float(k.mean() / n_draws)
    return BestCell(index=(int(i[0]), int(i[1])), fraction=float(k[i] / n_draws),
                    low=float(lo), high=float(hi), grid_mean=mean,
                    excludes_mean=bool(lo > mean or hi < mean))
