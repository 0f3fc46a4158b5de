"""Two-sample Kolmogorov–Smirnov test of e between the low-q and high-q subsets.

The KS test uses the empirical CDFs, so e = 0 needs no floor: with ``fixed_e="measured"``
(the original's behaviour) assumed-circular orbits enter as e = 0; with the default
``"exclude"`` they are left out. A subset with no object gives NaN and a note; with very
few objects the test runs but has almost no power, which the note says.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from vlms_bayes.inference.baselines._common import MIN_SUBSET_N, eccentricity_rows, split_by_q


@dataclass(frozen=True)
class KsResult:
    """Result of the two-sample KS test on e (low q versus high q)."""

    statistic: float
    pvalue: float
    n_low: int
    n_high: int
    method: str
    q_split: float
    fixed_e: str
    n_excluded_fixed: int
    note: str = ""

    def to_text(self) -> str:
        """The content of ``ks_test_e.txt``."""

        def fmt(x: float) -> str:
            return "nan" if not np.isfinite(x) else f"{x:.6g}"

        lines = [
            "Two-sample Kolmogorov-Smirnov test of eccentricity: low q vs high q",
            f"split: q < {self.q_split:g} (low) / q >= {self.q_split:g} (high)",
            f"fixed-circular orbits (e = 0 without uncertainty): {self.fixed_e}"
            + (f" ({self.n_excluded_fixed} left out)" if self.fixed_e == "exclude" else ""),
            f"n_low = {self.n_low}",
            f"n_high = {self.n_high}",
            f"statistic D = {fmt(self.statistic)}",
            f"p-value = {fmt(self.pvalue)}",
            f"method = {self.method}",
        ]
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines) + "\n"


def ks_test_by_q_split(
    frame: pd.DataFrame, *, q_split: float = 0.01, fixed_e: str = "exclude"
) -> KsResult:
    """KS two-sample test comparing e for q < q_split and q >= q_split.

    Parameters
    ----------
    frame : pandas.DataFrame
        The complete-case view of the stacked dataset.
    q_split : float
        Mass-ratio split.
    fixed_e : {"exclude", "measured"}
        Treatment of e = 0 given without an uncertainty (see :mod:`.beta_ecc`).

    Returns
    -------
    KsResult
        Statistic, p-value (SciPy's exact method for small samples, asymptotic otherwise),
        subset sizes and a note on small samples.
    """
    rows, excluded = eccentricity_rows(frame, fixed_e=fixed_e)
    sub = split_by_q(rows, q_split=q_split)
    lo = sub["low_q"]["pl_orbeccen"].to_numpy(float)
    hi = sub["high_q"]["pl_orbeccen"].to_numpy(float)
    common = dict(n_low=lo.size, n_high=hi.size, q_split=float(q_split), fixed_e=fixed_e,
                  n_excluded_fixed=len(excluded))
    if lo.size == 0 or hi.size == 0:
        return KsResult(statistic=np.nan, pvalue=np.nan, method="not run",
                        note="not run: a subset is empty", **common)
    method = "exact" if max(lo.size, hi.size) <= 10000 else "asymp"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            res = ks_2samp(lo, hi, method=method)
        except RuntimeWarning:  # SciPy could not compute the exact p-value
            method = "asymp"
            res = ks_2samp(lo, hi, method=method)
    note = ""
    if min(lo.size, hi.size) < MIN_SUBSET_N:
        note = (f"a subset has fewer than {MIN_SUBSET_N} objects: the test has little "
                "power and its p-value rests on those few objects; do not read it as "
                "evidence of a difference")
    return KsResult(statistic=float(res.statistic), pvalue=float(res.pvalue),
                    method=str(method), note=note, **common)
