"""Figure of the robustness suite: whether each headline number is stable across variants.

One panel per headline number; the variants on the y axis, the value as a dot with its
interval, the default analysis as a vertical line. Dots are blue where the variant keeps
the default's conclusion, red where it changes it, grey where no conclusion applies (or
the refit failed, marked with an x at the default). Plots only what the table holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

COLOURS = {True: "tab:blue", False: "tab:red", None: "0.5"}


def _panel(ax: Any, sub: pd.DataFrame, desc: str, *, labels_right: bool = False,
           show_labels: bool = True) -> None:
    y = np.arange(len(sub))[::-1]
    default = sub["default_value"].iloc[0] if len(sub) else np.nan
    if np.isfinite(default):
        ax.axvline(default, color="k", ls="--", lw=1, zorder=1)
    for yi, (_, r) in zip(y, sub.iterrows(), strict=True):
        same = r["same_conclusion"]
        same = None if same is None or (isinstance(same, float) and np.isnan(same)) \
            else bool(same)
        if r["status"] != "ok" or not np.isfinite(r["value"]):
            if np.isfinite(default):
                ax.plot(default, yi, marker="x", color="0.5", ms=7, zorder=3)
            continue
        colour = "k" if r["variant"] == "default" else COLOURS[same]
        if np.isfinite(r["lo"]) and np.isfinite(r["hi"]):
            ax.hlines(yi, r["lo"], r["hi"], color=colour, lw=1.5, zorder=2)
        ax.plot(r["value"], yi, "o", color=colour, ms=5, zorder=3)
    ax.set_yticks(y)
    ax.set_yticklabels(sub["label"].tolist() if show_labels else [""] * len(sub),
                       fontsize=7)
    if labels_right:
        ax.yaxis.tick_right()
    ax.set_ylim(-0.7, len(sub) - 0.3)
    ax.set_title(desc, fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", alpha=0.3)


def plot_robustness(table: pd.DataFrame, numbers: Mapping[str, str]) -> Any:
    """The robustness figure of a ``robustness.csv`` table.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns of :data:`vlms_bayes.pipeline.robustness.table.TABLE_COLUMNS`.
    numbers : mapping of str to str
        The numbers to show, in order, and their descriptions
        (:data:`vlms_bayes.pipeline.robustness.table.NUMBERS`); passed in so that the
        plots do not import the pipeline.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt  # heavy: pyplot

    shown = [k for k in numbers if (table["number"] == k).any()]
    refit = [k for k in shown if k != "feasible_fraction"]
    n_var = table.loc[table["number"].isin(refit), "variant"].nunique() if refit else 0
    n_feas = int((table["number"] == "feasible_fraction").sum())
    ncols = 4
    nrows = int(np.ceil(len(shown) / ncols))
    height = max(2.5, 0.22 * max(n_var, n_feas) + 1.2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols + 2.5, height * nrows),
                             squeeze=False)
    flat = axes.ravel()
    for i, key in enumerate(shown):
        sub = table.loc[table["number"] == key]
        if key in refit:
            _panel(flat[i], sub, numbers[key], show_labels=i % ncols == 0)
        else:
            _panel(flat[i], sub, numbers[key], labels_right=True)
        if key.startswith(("p_", "reference_p", "ks_p")):
            flat[i].set_xlim(-0.03, 1.03)
        if key == "ks_p_value":
            flat[i].axvline(0.05, color="0.6", lw=0.8, ls=":")
        if key in ("bic_winner_k", "n_objects"):
            flat[i].xaxis.set_major_locator(MaxNLocator(integer=True))
            if key == "bic_winner_k":
                flat[i].set_xlim(0.5, max(3.5, float(np.nanmax(sub["value"])) + 0.5)
                                 if sub["value"].notna().any() else 3.5)
        if key == "delta_elpd_k2_k1":
            flat[i].axvline(0.0, color="0.6", lw=0.8, ls=":")
    for ax in flat[len(shown):]:
        ax.set_visible(False)
    fig.suptitle("Robustness of the headline numbers (dashed: default analysis; blue: same "
                 "conclusion, red: changed, grey: none / failed)", fontsize=9)
    fig.tight_layout()
    return fig
