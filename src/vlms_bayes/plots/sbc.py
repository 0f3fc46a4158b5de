"""Figure of a simulation-based calibration: rank histograms and ECDF differences.

Per parameter, two stacked panels: the histogram of the ranks in the bins of the χ² test
with the expected count and its pointwise 99 % binomial band (Talts et al. 2018), and
the ECDF difference F̂(z) − z with its simultaneous 1 − α band (Säilynoja et al. 2022;
:func:`vlms_bayes.inference.sbc.ecdf_uniformity`). A ∪-shaped histogram (ECDF
difference dipping then rising past the band) means posteriors too narrow, ∩ too wide,
a slope a bias. Titles are red where the ECDF test rejects uniformity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from vlms_bayes.inference.sbc import ecdf_uniformity, rank_histogram


def plot_sbc(ranks: pd.DataFrame, summary: Mapping[str, Mapping[str, Any]], *, n_keep: int,
             ncols: int = 4) -> Figure:
    """The SBC figure of a ranks table (``sbc_ranks.csv``) and its per-parameter summary.

    Parameters
    ----------
    ranks : pandas.DataFrame
        Columns ``parameter``, ``replica`` and ``rank``.
    summary : mapping
        Per parameter ``n_bins`` and ``ecdf`` (``alpha``, ``pvalue``, ``passed``), as in
        ``sbc.json``'s ``parameters``; its order is the panels' order.
    n_keep : int
        L, the thinned draws per replica.
    ncols : int
        Parameters per row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = [n for n in summary if (ranks["parameter"] == n).any()]
    alpha = float(next(iter(summary.values()))["ecdf"]["alpha"]) if summary else 0.05
    nrows = max(1, -(-len(names) // ncols))
    height = 3.8 * nrows + 0.6
    fig = Figure(figsize=(3.0 * ncols, height))  # no layout engine: it is slow for many panels
    gs = fig.add_gridspec(2 * nrows, ncols, height_ratios=[2, 1] * nrows, hspace=0.6,
                          wspace=0.3, left=0.07, right=0.98, bottom=0.5 / height,
                          top=1 - 0.9 / height)
    for i, name in enumerate(names):
        s = summary[name]
        r = ranks.loc[ranks["parameter"] == name].sort_values("replica")["rank"].to_numpy(int)
        n, b = r.size, int(s["n_bins"])
        row, col = divmod(i, ncols)
        ax = fig.add_subplot(gs[2 * row, col])
        counts = rank_histogram(r, n_keep, b)
        ax.bar(np.arange(b), counts, width=1.0, color="tab:blue", alpha=0.7, align="edge")
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / b)
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(n / b, color="0.4", lw=1)
        ax.set_xlim(0, b)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
        ok = bool(s["ecdf"]["passed"])
        ax.set_title(f"{name}\nECDF p = {s['ecdf']['pvalue']:.2f}", fontsize=8,
                     color="k" if ok else "tab:red")
        band = ecdf_uniformity(r, n_keep, alpha=float(s["ecdf"]["alpha"]))
        ax2 = fig.add_subplot(gs[2 * row + 1, col])
        ax2.fill_between(band.z, band.lower - band.z, band.upper - band.z, color="0.85",
                         step="mid")
        ax2.step(band.z, band.ecdf - band.z, where="mid",
                 color="tab:blue" if ok else "tab:red", lw=1.2)
        ax2.axhline(0, color="0.4", lw=0.8)
        ax2.set_xlim(0, 1)
        ax2.tick_params(labelsize=7)
        if row < nrows - 1 and i + ncols < len(names):
            ax2.set_xticklabels([])
        if col == 0:
            ax.set_ylabel("replicas", fontsize=8)
            ax2.set_ylabel("ECDF − z", fontsize=8)
        if i + ncols >= len(names):  # the lowest panel of its column
            ax2.set_xlabel("fractional rank z", fontsize=8)
    fig.suptitle(f"Simulation-based calibration ({len(np.unique(ranks['replica']))} "
                 f"replicas, L = {n_keep}): grey, 99 % pointwise and {1 - alpha:.0%} "
                 "simultaneous bands under uniformity", fontsize=10, y=1 - 0.25 / height)
    return fig
