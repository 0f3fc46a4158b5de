"""Figure of the stability limits: a_c/a_bin against e_bin, Quarles et al. vs HW99."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D


def plot_stability_curves(curves: dict[str, Any]) -> Any:
    """One panel per planet inclination: Quarles et al. (2020) solid, HW99 dashed.

    Parameters
    ----------
    curves : dict
        Output of :func:`vlms_bayes.feasibility.stability.stability_curves`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not saved; use :func:`vlms_bayes.data_io.outputs.save_figure`).
    """
    incls = sorted(curves["quarles"])
    ncol = 2 if len(incls) > 1 else 1
    nrow = int(np.ceil(len(incls) / ncol))
    fig = Figure(figsize=(5.2 * ncol, 3.9 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol, sharex=True, sharey=True)).ravel()
    e = curves["e_bin"]
    colours = [f"C{k}" for k in range(len(curves["mu"]))]
    ymax = max(float(np.max(v)) for v in curves["quarles"].values())
    ymax = max(ymax, float(np.max(np.where(curves["hw99_valid"], curves["hw99"], 0.0))))
    for ax, incl in zip(axes, incls, strict=False):
        for k, mu in enumerate(curves["mu"]):
            ax.plot(e, curves["quarles"][incl][k], color=colours[k], lw=1.6,
                    label=f"μ = {mu:g}")
            hw = np.where(curves["hw99_valid"][k], curves["hw99"][k], np.nan)
            ax.plot(e, hw, color=colours[k], lw=1.1, ls="--")
        ax.set_title(f"planet inclination {incl:g}°")
        ax.set_xlim(0, e.max())
        ax.set_ylim(0, 1.05 * ymax)
        ax.grid(alpha=0.3)
    for ax in axes[len(incls):]:
        ax.set_visible(False)
    for ax in axes[(nrow - 1) * ncol:]:
        ax.set_xlabel("binary eccentricity $e_{bin}$")
    for ax in axes[::ncol]:
        ax.set_ylabel("$a_c / a_{bin}$")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="k", lw=1.6), Line2D([], [], color="k", lw=1.1, ls="--")]
    labels += ["Quarles et al. (2020)", "Holman & Wiegert (1999, prograde, coplanar)"]
    axes[0].legend(handles, labels, fontsize=7, loc="upper right")
    fig.suptitle("Critical semi-major axis of an S-type orbit around star A "
                 r"($\mu = M_B / (M_A + M_B)$)", fontsize=10)
    return fig
