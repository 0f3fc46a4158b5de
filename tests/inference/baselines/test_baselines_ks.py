import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from vlms_bayes.data_io.schema import complete_case
from vlms_bayes.inference.baselines import ks_test_by_q_split
from vlms_bayes.inference.baselines.synthetic import synthetic_stacked


@pytest.fixture(scope="module")
def cc():
    return complete_case(synthetic_stacked(150, seed=21))


def test_matches_scipy_on_manual_split(cc):
    res = ks_test_by_q_split(cc, q_split=0.01, fixed_e="exclude")
    m = cc["ecc_status"] == "measured"
    lo = cc.loc[m & (cc["q"] < 0.01), "pl_orbeccen"]
    hi = cc.loc[m & (cc["q"] >= 0.01), "pl_orbeccen"]
    ref = ks_2samp(lo, hi, method="exact")
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.pvalue == pytest.approx(ref.pvalue)
    assert (res.n_low, res.n_high) == (len(lo), len(hi))
    assert res.method == "exact"
    assert res.pvalue < 1e-3  # the two synthetic populations differ in e


def test_measured_mode_adds_fixed_zeros(cc):
    a = ks_test_by_q_split(cc, q_split=0.01, fixed_e="exclude")
    b = ks_test_by_q_split(cc, q_split=0.01, fixed_e="measured")
    n_fixed = int((cc["ecc_status"] == "fixed_zero").sum())
    assert n_fixed > 0
    assert b.n_low + b.n_high == a.n_low + a.n_high + n_fixed
    assert a.n_excluded_fixed == n_fixed


def test_empty_and_tiny_subsets():
    f = pd.DataFrame({"q": [1e-3] * 5, "pl_orbeccen": [0.1, 0.2, 0.05, 0.3, 0.0],
                      "ecc_status": ["measured"] * 4 + ["fixed_zero"]})
    empty = ks_test_by_q_split(f)
    assert np.isnan(empty.statistic) and np.isnan(empty.pvalue)
    assert "empty" in empty.note and "nan" in empty.to_text()
    tiny = ks_test_by_q_split(f.assign(q=[1e-3, 1e-3, 1e-3, 0.05, 0.05]))
    assert tiny.n_high == 1 and "little power" in tiny.note
    assert np.isfinite(tiny.pvalue)


def test_to_text_carries_numbers(cc):
    res = ks_test_by_q_split(cc, q_split=0.01)
    text = res.to_text()
    assert f"n_low = {res.n_low}" in text and f"n_high = {res.n_high}" in text
    assert f"statistic D = {res.statistic:.6g}" in text
    assert f"p-value = {res.pvalue:.6g}" in text
    assert "exclude" in text
