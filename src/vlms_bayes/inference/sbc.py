"""Simulation-based calibration: rank statistics, uniformity tests, interval coverage.

If θ̃ ~ p(θ), ỹ ~ p(y | θ̃) and θ_1 … θ_L are independent draws from the posterior
p(θ | ỹ), the rank of θ̃ among the θ_l is uniform on {0, …, L} for every parameter —
whatever the model — exactly when the posterior is computed correctly (Talts et al.
2018, arXiv:1804.06788). MCMC draws are autocorrelated, so each replica's draws are
*thinned* to L roughly independent ones first (Talts et al. §4; Modrák et al. 2023,
Bayesian Analysis, arXiv:2211.02383, recommend L around the effective sample size and
≳ 100 replicas, and testing derived quantities too). Departures have signatures: a
∪-shaped histogram means the posterior is too narrow, ∩ too wide, a slope a bias.

Two tests of uniformity per parameter are reported:

* Pearson's χ² on B equal bins of the ranks (Talts et al.), with B dividing L + 1 so
  that each bin holds the same number of rank values;
* the ECDF simultaneous band of Säilynoja, Bürkner & Vehtari (2022, Statistics and
  Computing 32, 32): under uniformity N·F̂(z_j) ~ Binomial(N, z_j) at z_j = j / (L + 1);
  the band is the pointwise binomial interval whose level γ makes the probability that a
  uniform sample stays inside at every z_j equal to 1 − α, with γ calibrated by
  simulating uniform discrete ranks (exact for ranks, no continuity assumption). The
  test's p-value is the fraction of uniform samples whose most extreme pointwise tail is
  at least as extreme as the observed one.

Coverage: the fraction of replicas whose central c-interval (posterior quantiles
(1 − c)/2 and (1 + c)/2 of all draws) contains θ̃; with exact posteriors it is c, with a
Clopper–Pearson interval from the binomial.

Every function here is pure (arrays in, numbers out); :mod:`vlms_bayes.pipeline.calibrate`
runs the replicas and writes the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from vlms_bayes.errors import InputDataError

#: Default number of thinned draws per replica (L + 1 = 100 possible ranks).
DEFAULT_L: int = 99
#: Central interval levels whose coverage is reported.
COVERAGE_LEVELS: tuple[float, ...] = (0.5, 0.9)


def replica_seed(master_seed: int, index: int) -> int:
    """The seed of replica ``index``: a function of (master seed, index) only.

    Uses :class:`numpy.random.SeedSequence` with the pair as entropy, so replicas get
    independent streams and a replica's results do not depend on how many replicas or
    workers there are, nor on their order.
    """
    if index < 0:
        raise InputDataError(f"A replica index is >= 0, got {index}.")
    ss = np.random.SeedSequence([int(master_seed) & 0xFFFFFFFFFFFFFFFF, int(index)])
    return int(ss.generate_state(1, np.uint32)[0])


def thin_indices(n_draws: int, n_keep: int) -> NDArray[np.int64]:
    """``n_keep`` indices spread evenly over ``n_draws`` draws (ends included)."""
    if n_keep < 1 or n_keep > n_draws:
        raise InputDataError(f"Cannot thin {n_draws} draws to {n_keep}; ask for between 1 "
                             f"and {n_draws} (--thin) or draw more.")
    return np.unique(np.round(np.linspace(0, n_draws - 1, n_keep)).astype(np.int64))


def rank_statistic(draws: ArrayLike, truth: float, *, n_keep: int,
                   rng: np.random.Generator | None = None) -> int:
    """Rank of ``truth`` among ``n_keep`` thinned draws, in {0, …, n_keep}.

    ``draws``: (chains, draws) or (draws,); each chain is thinned evenly and the chains'
    shares are concatenated (L split as evenly as possible). Ties (possible for a
    discrete or clipped quantity) are broken at random with ``rng`` (Talts et al.), or
    counted as half when no generator is given.
    """
    x = np.atleast_2d(np.asarray(draws, float))
    n_chain, n_draw = x.shape
    if n_keep > n_chain * n_draw:
        raise InputDataError(f"Cannot thin {n_chain * n_draw} draws to {n_keep}; ask for "
                             "fewer (--thin) or draw more.")
    per = np.full(n_chain, n_keep // n_chain)
    per[: n_keep % n_chain] += 1
    kept = np.concatenate([x[c, thin_indices(n_draw, int(per[c]))] for c in range(n_chain)
                           if per[c] > 0])
    if kept.size != n_keep:  # rounding duplicates in a short chain: take them in order
        kept = x.ravel()[thin_indices(n_chain * n_draw, n_keep)]
    below = int(np.sum(kept < truth))
    ties = int(np.sum(kept == truth))
    if ties:
        below += int(rng.integers(0, ties + 1)) if rng is not None else ties // 2
    return below


def central_interval_covers(draws: ArrayLike, truth: float, level: float) -> bool:
    """Whether the central ``level`` interval of the draws contains ``truth``."""
    if not 0 < level < 1:
        raise InputDataError(f"An interval level lies in (0, 1), got {level}.")
    lo, hi = np.quantile(np.asarray(draws, float).ravel(), [(1 - level) / 2, (1 + level) / 2])
    return bool(lo <= truth <= hi)


def default_bins(n_keep: int, n_replicas: int, *, min_expected: float = 5.0,
                 max_bins: int = 20) -> int:
    """Most bins B ≤ ``max_bins`` dividing L + 1 with ≥ ``min_expected`` replicas per bin."""
    n_vals = n_keep + 1
    ok = [b for b in range(2, max_bins + 1)
          if n_vals % b == 0 and n_replicas / b >= min_expected]
    return max(ok) if ok else 1


def rank_histogram(ranks: ArrayLike, n_keep: int, n_bins: int) -> NDArray[np.int64]:
    """Counts of the ranks in ``n_bins`` equal bins of {0, …, L} (B must divide L + 1)."""
    n_vals = n_keep + 1
    if n_bins < 1 or n_vals % n_bins:
        raise InputDataError(f"{n_bins} bins do not divide the {n_vals} possible ranks.")
    r = np.asarray(ranks, int)
    if r.size and (r.min() < 0 or r.max() > n_keep):
        raise InputDataError(f"Ranks must lie in 0..{n_keep}.")
    return np.bincount(r // (n_vals // n_bins), minlength=n_bins)


def chi2_uniformity(ranks: ArrayLike, n_keep: int, n_bins: int) -> tuple[float, float]:
    """Pearson χ² statistic and p-value of uniform ranks on ``n_bins`` equal bins."""
    counts = rank_histogram(ranks, n_keep, n_bins)
    if n_bins < 2 or counts.sum() == 0:
        return float("nan"), float("nan")
    res = stats.chisquare(counts)
    return float(res.statistic), float(res.pvalue)


def _min_tail(counts_below: NDArray[np.int64], n: int, z: NDArray[np.float64],
              ) -> NDArray[np.float64]:
    """Smallest two-sided pointwise binomial tail over the z_j, per sample (last axis j)."""
    lower = stats.binom.cdf(counts_below, n, z)
    upper = stats.binom.sf(counts_below - 1, n, z)
    return np.minimum(1.0, 2.0 * np.minimum(lower, upper)).min(axis=-1)


@lru_cache(maxsize=32)
def _null_min_tails(n: int, n_keep: int, n_sim: int, seed: int) -> NDArray[np.float64]:
    """Most extreme pointwise tail of ``n_sim`` uniform rank samples (depends on N, L only)."""
    gen = np.random.default_rng(seed)
    sims = gen.integers(0, n_keep + 1, size=(n_sim, n))
    flat = (sims + (n_keep + 1) * np.arange(n_sim)[:, None]).ravel()
    counts = np.bincount(flat, minlength=n_sim * (n_keep + 1)).reshape(n_sim, n_keep + 1)
    z = np.arange(1, n_keep + 1) / (n_keep + 1)
    out = _min_tail(counts.cumsum(axis=1)[:, :-1], n, z)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class EcdfBand:
    """The simultaneous ECDF band of :func:`ecdf_uniformity` and the test's outcome."""

    z: NDArray[np.float64]
    ecdf: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    gamma: float
    alpha: float
    pvalue: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """The test's numbers (the band's arrays are for the figure)."""
        return {"alpha": self.alpha, "gamma": self.gamma, "pvalue": self.pvalue,
                "passed": self.passed}


def ecdf_uniformity(ranks: ArrayLike, n_keep: int, *, alpha: float = 0.05,
                    n_sim: int = 2000, seed: int = 0) -> EcdfBand:
    """ECDF of the ranks with its simultaneous 1 − ``alpha`` band under uniformity.

    Parameters
    ----------
    ranks : array_like
        Ranks in {0, …, L} of N replicas.
    n_keep : int
        L, the thinned draws per replica.
    alpha : float
        Simultaneous level of the band (the test's size).
    n_sim : int
        Uniform rank samples that calibrate γ and the p-value.
    seed : int
        Seed of that calibration (fixed by default: the band is a property of N and L, not
        of the data, and is computed once per (N, L)).

    Returns
    -------
    EcdfBand
        Evaluation points z_j = j / (L + 1), j = 1 … L, the ECDF there, the band, γ,
        the p-value and whether the ECDF stays inside the band.
    """
    r = np.asarray(ranks, int)
    n = r.size
    if n < 1:
        raise InputDataError("The ECDF test needs at least one replica.")
    z = np.arange(1, n_keep + 1) / (n_keep + 1)
    below = (r[:, None] < np.arange(1, n_keep + 1)[None, :]).sum(axis=0)
    null_tail = _null_min_tails(n, n_keep, n_sim, seed)
    gamma = float(np.quantile(null_tail, alpha, method="lower"))
    obs_tail = float(_min_tail(below[None, :], n, z)[0])
    lower = stats.binom.ppf(gamma / 2, n, z) / n
    upper = stats.binom.ppf(1 - gamma / 2, n, z) / n
    pvalue = float(np.mean(null_tail <= obs_tail))
    return EcdfBand(z, below / n, lower, upper, gamma, alpha, pvalue, bool(obs_tail > gamma))


def coverage(covered: ArrayLike, level: float, *, confidence: float = 0.95,
             ) -> dict[str, float]:
    """Observed coverage of a central ``level`` interval with its Clopper–Pearson interval."""
    c = np.asarray(covered, bool)
    if not c.size:
        return {"level": level, "coverage": float("nan"), "lo": float("nan"),
                "hi": float("nan"), "n": 0}
    ci = stats.binomtest(int(c.sum()), c.size, level).proportion_ci(confidence)
    return {"level": level, "coverage": float(c.mean()), "lo": float(ci.low),
            "hi": float(ci.high), "n": int(c.size)}


def summarise_parameter(ranks: ArrayLike, covered: dict[float, ArrayLike], *, n_keep: int,
                        n_bins: int | None = None, alpha: float = 0.05) -> dict[str, Any]:
    """Both uniformity tests and the coverages of one parameter (for ``sbc.json``).

    ``passed`` is the ECDF test's verdict at level ``alpha`` (it uses every rank value; the
    χ² test on bins is reported beside it).
    """
    r = np.asarray(ranks, int)
    b = n_bins or default_bins(n_keep, r.size)
    chi2, p_chi2 = chi2_uniformity(r, n_keep, b)
    band = ecdf_uniformity(r, n_keep, alpha=alpha)
    return {
        "n_replicas": int(r.size), "n_keep": n_keep, "n_bins": b,
        "histogram": rank_histogram(r, n_keep, b).tolist(),
        "chi2": chi2, "chi2_pvalue": p_chi2,
        "ecdf": band.to_dict(), "passed": band.passed,
        "coverage": {f"{lvl:g}": coverage(cov, lvl) for lvl, cov in covered.items()},
    }
