"""The diagnostics gate on synthetic draws (no sampling)."""

from __future__ import annotations

import numpy as np
from arviz_base import from_dict

from vlms_bayes.inference.diagnostics import GateConfig, diagnose


def _tree(mu_by_chain, n_draws=2000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.stack([rng.normal(m, 1.0, n_draws) for m in mu_by_chain])
    return from_dict({"posterior": {"mu_logq": x},
                      "sample_stats": {"diverging": np.zeros_like(x, bool),
                                       "energy": rng.normal(size=x.shape)}})


def test_one_chain_is_judged_without_r_hat():
    gate = GateConfig(min_ess_bulk=100, min_ess_tail=100)
    d = diagnose(_tree([0.0]), gate=gate)
    assert d.passed, d.failures
    assert not any("R-hat" in f for f in d.failures)


def test_disagreeing_chains_still_fail_on_r_hat():
    gate = GateConfig(min_ess_bulk=100, min_ess_tail=100)
    d = diagnose(_tree([0.0, 3.0]), gate=gate)
    assert not d.passed
    assert any("R-hat" in f for f in d.failures)
