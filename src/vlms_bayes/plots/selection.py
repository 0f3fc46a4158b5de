"""Figure of observed vs intrinsic populations per discovery method (from computed densities)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _levels(z: np.ndarray, fractions: tuple[float, ...] = (0.9, 0.5)) -> list[float]:
    """Density levels enclosing the given probability fractions (highest-density regions)."""
    v = np.sort(z.ravel())[::-1]
    c = np.cumsum(v) / v.sum()
    return sorted({float(v[min(np.searchsorted(c, f), v.size - 1)]) for f in fractions})


def plot_observed_vs_intrinsic(dens: dict[str, Any]) -> Any:
    """One panel per method: its objects, the intrinsic mixture and its predicted detections.

    Parameters
    ----------
    dens : dict
        Output of :func:`vlms_bayes.report.selection.method_densities`.
    """
    import matplotlib.pyplot as plt  # heavy: pyplot

    methods = list(dens["points"])
    n = len(methods)
    ncol = min(n, 3)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.8 * nrow), squeeze=False,
                             sharex=True, sharey=True, constrained_layout=True)
    q, a = dens["logq"], dens["loga"]
    for ax, m in zip(axes.ravel(), methods, strict=False):
        zi = dens["intrinsic"]
        ax.contour(q, a, zi.T, levels=_levels(zi), colors="0.3", linestyles="--",
                   linewidths=1)
        if m in dens["observed"]:
            zo = dens["observed"][m]
            ax.contourf(q, a, zo.T, levels=[*_levels(zo), zo.max()], cmap="Blues", alpha=0.6)
        x, y = dens["points"][m]
        ax.plot(x, y, "o", ms=3, color="C3", mec="k", mew=0.3)
        ax.set_title(f"{m} ({len(x)})" + ("" if m in dens["observed"] else " — no p_det"),
                     fontsize=9)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("log10 a [AU]")
    for ax in axes[-1, :]:
        ax.set_xlabel("log10 q")
    axes[0, 0].set_xlim(-6.5, 0.5)
    axes[0, 0].set_ylim(-2.8, 3.5)
    fig.suptitle("Detected objects (points), predicted detections of each method (shaded, "
                 "50/90%) and the intrinsic populations (dashed)", fontsize=9)
    return fig
