"""The SBC machinery on a conjugate toy: exact posteriors pass, miscalibrated ones fail.

θ ~ N(0, 1), y_1..m ~ N(θ, 1): the posterior is N(Σy / (m + 1), 1 / (m + 1)), so exact
posterior draws cost nothing and the rank statistics, uniformity tests and coverage can
be checked without MCMC (the negative control of issue 20).
"""

from __future__ import annotations

import numpy as np
import pytest

from vlms_bayes.errors import InputDataError
from vlms_bayes.inference import sbc

L = 99


def _toy_ranks(n_rep: int, *, seed: int, shift_sd: float = 0.0, scale: float = 1.0,
               ) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """Ranks and coverage flags of the conjugate normal with a (mis)computed posterior."""
    rng = np.random.default_rng(seed)
    m = 5
    ranks = np.empty(n_rep, int)
    cov = {lvl: np.empty(n_rep, bool) for lvl in sbc.COVERAGE_LEVELS}
    for i in range(n_rep):
        theta = rng.standard_normal()
        y = theta + rng.standard_normal(m)
        mean, sd = y.sum() / (m + 1), np.sqrt(1.0 / (m + 1))
        draws = mean + shift_sd * sd + scale * sd * rng.standard_normal((2, 500))
        ranks[i] = sbc.rank_statistic(draws, theta, n_keep=L)
        for lvl in cov:
            cov[lvl][i] = sbc.central_interval_covers(draws, theta, lvl)
    return ranks, cov


def test_exact_posterior_passes_and_covers() -> None:
    ranks, cov = _toy_ranks(200, seed=11)
    s = sbc.summarise_parameter(ranks, cov, n_keep=L)
    assert s["passed"] and s["ecdf"]["pvalue"] > 0.05
    assert s["chi2_pvalue"] > 0.05
    for lvl, flags in cov.items():  # a 99.9 % interval: 4 coverages x tests stay safe
        c = sbc.coverage(flags, lvl, confidence=0.999)
        assert c["lo"] <= lvl <= c["hi"]
        assert s["coverage"][f"{lvl:g}"]["coverage"] == c["coverage"]


@pytest.mark.parametrize(("shift_sd", "scale", "what"), [
    (0.0, 0.5, "too narrow"), (0.0, 2.0, "too wide"), (0.8, 1.0, "biased")])
def test_miscalibrated_posterior_fails(shift_sd: float, scale: float, what: str) -> None:
    ranks, cov = _toy_ranks(200, seed=11, shift_sd=shift_sd, scale=scale)
    s = sbc.summarise_parameter(ranks, cov, n_keep=L)
    assert not s["passed"], what
    assert s["chi2_pvalue"] < 0.01, what


def test_narrow_posterior_undercovers() -> None:
    _, cov = _toy_ranks(200, seed=5, scale=0.5)
    c = sbc.coverage(cov[0.9], 0.9)
    assert c["hi"] < 0.9  # a posterior half as wide covers ~ 0.59 of the time


def test_ecdf_test_has_its_size() -> None:
    """Uniform ranks fail the 5 % band about 5 % of the time (not 0, not 30 %)."""
    rng = np.random.default_rng(0)
    fails = sum(not sbc.ecdf_uniformity(rng.integers(0, L + 1, 100), L, n_sim=1000,
                                        seed=1).passed for _ in range(120))
    assert 1 <= fails <= 15


def test_rank_statistic_counts_and_thins() -> None:
    draws = np.arange(1000.0).reshape(2, 500)
    assert sbc.rank_statistic(draws, -1.0, n_keep=L) == 0
    assert sbc.rank_statistic(draws, 1e9, n_keep=L) == L
    # thinned evenly: half of the kept draws of each chain lie below each chain's middle
    r = sbc.rank_statistic(np.arange(500.0), 249.5, n_keep=L)
    assert abs(r - 50) <= 1
    assert sbc.rank_statistic(np.zeros(200), 0.0, n_keep=10) == 5  # ties count half
    with pytest.raises(InputDataError, match="thin"):
        sbc.rank_statistic(np.zeros((1, 50)), 0.0, n_keep=L)


def test_bins_divide_the_ranks_and_chi2_is_pearson() -> None:
    assert sbc.default_bins(L, 100) == 20
    assert sbc.default_bins(L, 30) == 5
    ranks = np.r_[np.zeros(10, int), np.full(30, 99)]
    counts = sbc.rank_histogram(ranks, L, 4)
    assert counts.tolist() == [10, 0, 0, 30]
    stat, _ = sbc.chi2_uniformity(ranks, L, 4)
    assert stat == pytest.approx(((10 - 10) ** 2 + 10 ** 2 + 10 ** 2 + 20 ** 2) / 10)
    with pytest.raises(InputDataError, match="divide"):
        sbc.rank_histogram(ranks, L, 7)


def test_replica_seeds_depend_on_master_and_index_only() -> None:
    seeds = [sbc.replica_seed(42, i) for i in range(50)]
    assert len(set(seeds)) == 50
    assert sbc.replica_seed(42, 7) == seeds[7]
    assert sbc.replica_seed(43, 7) != seeds[7]
