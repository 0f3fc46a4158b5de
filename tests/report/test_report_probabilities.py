"""Probabilities that print as 0 or 1 get a bound from the number of draws instead.

A posterior probability estimated from S draws is never exactly 0 or 1; the reports
(SUMMARY.txt's headline, comparison.md, report.html) share one formatter, report.fmt_prob.
"""

import json

import pandas as pd
import pytest

from vlms_bayes.report.comparison import _markdown
from vlms_bayes.report.elements import RunFolder
from vlms_bayes.report.headlines import eccentricity_difference, headline_lines
from vlms_bayes.report.sections import eccentricity_text

KS_TEXT = "statistic D = 0.71\np-value = 0.00208\nn_low = 34\nn_high = 7\n"


@pytest.mark.parametrize(("p", "n", "want"), [
    (1.0, 4000, "> 0.999 (0 of 4000 draws otherwise)"),
    (1 - 1 / 4000, 4000, "> 0.999 (1 of 4000 draws otherwise)"),
    (0.0, 4000, "< 0.001 (0 of 4000 draws)"),
    (1 / 4000, 4000, "< 0.001 (1 of 4000 draws)"), (2 / 4000, 4000, "0.001"),
    (0.9994, None, "0.999"), (0.5, 4000, "0.500"), (0.0123, 4000, "0.012"),
    (1.0, None, "> 0.999"), (None, 10, "n/a"), (float("nan"), 10, "n/a"),
])
def test_fmt_prob(p, n, want):
    from vlms_bayes.report.summary import fmt_prob

    assert fmt_prob(p, n) == want


def _comparison(tmp_path, p=1.0, n=4000):
    (tmp_path / "comparison.json").write_text(json.dumps({"eccentricity": {
        "posterior_P_mean_e_binary_gt_planet": p, "n_draws": n,
        "posterior_mean_e_difference_q05_q50_q95": [0.1, 0.2, 0.3]}}))
    (tmp_path / "ks_test_e.txt").write_text(KS_TEXT)
    return tmp_path


def test_summary_headline_prints_a_bound(tmp_path):
    ecc = eccentricity_difference(_comparison(tmp_path))
    lines = headline_lines({"eccentricity": ecc})
    line = next(ln for ln in lines if ln.startswith("2. Eccentricities"))
    assert "P(mean e binary-like > planet-like) = > 0.999 (0 of 4000 draws otherwise)" in line
    assert "= 1.000" not in line


def test_report_html_prints_a_bound(tmp_path):
    text = eccentricity_text(RunFolder(_comparison(tmp_path, p=0.0)))
    assert "planet-like) = <b>&lt; 0.001 (0 of 4000 draws)</b>" in text


def test_comparison_md_prints_a_bound():
    out = {"model_choice": {"bic_winner_K": 2, "bic": {"1": 10.0, "2": 5.0}, "loo_best": None,
                            "loo": None},
           "eccentricity": {"ks": {"D": 0.7, "p-value": 0.002},
                            "posterior_P_mean_e_binary_gt_planet": 1.0, "n_draws": 4000,
                            "posterior_mean_e_difference_q05_q50_q95": [0.1, 0.2, 0.3]},
           "memberships": {"n_common": 1, "spearman_rho": 0.5, "agreement_at_0.5": 1.0,
                           "n_disagree": 0},
           "reference": [{"name": "TOI-6894 b", "P_binary_like": 0.99991,
                          "P_binary_like_lo90": 0.9993, "P_binary_like_hi90": 1.0}],
           "diagnostics": {"passed": True, "max_rhat": 1.001, "divergences": 0}}
    beta = pd.DataFrame(columns=["source", "group", "alpha", "alpha_lo", "alpha_hi", "beta",
                                 "beta_lo", "beta_hi", "mean_e", "n"])
    md = _markdown(out, beta, pd.DataFrame())
    assert "planet-like) = > 0.999 (0 of 4000 draws otherwise)" in md
    assert "P(binary-like) = > 0.999 [0.999, > 0.999]" in md


def test_headline_keeps_three_figures_of_a_small_feasible_fraction():
    """With time-dependent radii the grid mean is ~1e-4: 4 decimals printed 0.0001."""
    fe = {"target": "T b", "mean_feasible_fraction": 1.2345e-4, "feasible_cell_min": 0.01,
          "best_cell_fraction": 0.01, "best_m_out_msun": 0.1, "best_a_out_au": 7.0,
          "p_kl": 2.8e-5, "p_kl_ci95": [2e-5, 6e-4], "p_disk": 0.59,
          "p_disk_ci95": [0.58, 0.6]}
    lines = headline_lines({"feasibility": fe})
    (grid,) = [ln for ln in lines if ln.startswith("   Perturber-grid map: ")]
    assert "mean feasible fraction of perturber space = 0.000123;" in grid
    assert lines[-1] == "4. Memberships: no Bayesian fit in this run."
