"""Attribution by absolute loss and binomial intervals of the feasibility map."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vlms_bayes.feasibility import attribution as at
from vlms_bayes.feasibility.draws import CRITERIA
from vlms_bayes.pipeline.feasibility import limiting_criterion


def _cascade(*passes: float) -> np.ndarray:
    return np.array(passes, float)[:, None]


def test_the_stage_that_removes_most_draws_is_blamed():
    # the audit's a_out = 5000 AU cell: KL timescale removes 92 % of the draws, 'reach'
    # the last 8 %; the old pass-ratio rule blamed 'reach' (its ratio is 0)
    casc = _cascade(1.0, 1.0, 0.08, 0.0, 0.0, 0.0, 0.0)
    assert CRITERIA[int(limiting_criterion(casc)[0])] == "kl_time"
    loss = at.absolute_losses(casc)[:, 0]
    np.testing.assert_allclose(loss, [0, 0, 0.92, 0.08, 0, 0, 0])


def test_losses_and_feasible_fraction_add_up_to_one():
    rng = np.random.default_rng(1)
    casc = np.cumprod(rng.uniform(0.3, 1.0, size=(7, 5, 6)), axis=0)
    loss = at.absolute_losses(casc)
    np.testing.assert_allclose(loss.sum(axis=0) + casc[-1], 1.0)
    share = at.grid_loss_share(casc)
    assert share.sum() == pytest.approx(1.0) and np.all(share >= 0)


@pytest.mark.parametrize(("k", "n"), [(0, 200), (1, 200), (9, 200), (200, 200), (3, 50),
                                      (117, 1000)])
def test_interval_is_scipys_exact_binomial_interval(k, n):
    lo, hi = at.binomial_interval(k, n)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert float(lo) == pytest.approx(ref.low, abs=1e-12)
    assert float(hi) == pytest.approx(ref.high, abs=1e-12)


def test_best_cell_is_quoted_only_when_it_stands_out():
    flat = np.full((4, 4), 2)
    flat[1, 2] = 5  # 5/200 vs mean 0.011: the interval (0.008, 0.057) holds the mean
    b = at.best_cell(flat, 200)
    assert b.index == (1, 2) and not b.excludes_mean
    flat[1, 2] = 30  # 15 %: far above the mean
    assert at.best_cell(flat, 200).excludes_mean
    with pytest.raises(ValueError, match="0 <= k <= n"):
        at.binomial_interval(3, 2)
