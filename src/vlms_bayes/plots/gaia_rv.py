"""Figures of the Gaia RV binarity analysis: noise model, p-values, completeness, K recovery.

Every function takes computed results and returns a matplotlib Figure; saving is the
caller's job (:func:`vlms_bayes.data_io.outputs.save_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike


def _figure(ncols: int = 1, *, width: float = 5.5, height: float = 4.5):
    import matplotlib  # heavy: matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # heavy: matplotlib

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def plot_noise_model(color_edges: ArrayLike, mag_edges: ArrayLike, bin_ln_sigma: ArrayLike,
                     grid_ln_sigma: ArrayLike, counts: ArrayLike):
    """Per-bin mean ln σ̂, GP-smoothed ln σ and calibration counts over (BP−RP, G)."""
    fig, axes = _figure(3)
    data = ((bin_ln_sigma, "per-bin mean ln σ̂ [ln km/s]"),
            (grid_ln_sigma, "GP ln σ at bin centres [ln km/s]"),
            (np.log10(np.maximum(np.asarray(counts, float), 0.5)), "log10 calibration stars"))
    for ax, (arr, label) in zip(axes, data, strict=True):
        mesh = ax.pcolormesh(color_edges, mag_edges, np.ma.masked_invalid(arr), shading="flat")
        ax.set_xlabel("BP − RP [mag]")
        ax.set_ylabel("G [mag]")
        ax.invert_yaxis()
        fig.colorbar(mesh, ax=ax, label=label)
    fig.suptitle("Gaia per-transit RV noise model")
    return fig


def plot_pvalue_distribution(pval: ArrayLike, *, detect: float = 1e-3, candidate: float = 1e-2):
    """Histogram of log10 p (p = 0 shown at the left edge) with the two thresholds."""
    p = np.asarray(pval, float)
    p = p[np.isfinite(p)]
    fig, axes = _figure(1)
    ax = axes[0]
    lp = np.log10(np.clip(p, 1e-30, 1.0))
    ax.hist(lp, bins=80, color="0.4")
    for thr, name in ((detect, "detection"), (candidate, "K candidate")):
        ax.axvline(np.log10(thr), ls="--", label=f"{name} p < {thr:g}")
    ax.set_xlabel("log10 p (excess RV noise)")
    ax.set_ylabel("sources")
    frac = (p < detect).mean() if p.size else np.nan
    ax.set_title(f"{p.size} sources; {100 * frac:.1f}% with p < {detect:g}")
    ax.legend()
    return fig


def plot_completeness(maps: Sequence[Mapping], *, contours: Mapping[str, Mapping] | None = None):
    """Completeness panels; each map has ``fraction``, ``x_edges``, ``y_edges``, labels.

    ``contours`` maps a label (e.g. a G slice) to a map dict whose 99% level is drawn on
    the first panel.
    """
    fig, axes = _figure(len(maps))
    for i, (ax, m) in enumerate(zip(axes, maps, strict=True)):
        mesh = ax.pcolormesh(m["x_edges"], m["y_edges"], np.asarray(m["fraction"]).T,
                             vmin=0, vmax=1, shading="flat", cmap="viridis")
        ax.set_xlabel(m["x_label"])
        ax.set_ylabel(m["y_label"])
        fig.colorbar(mesh, ax=ax, label="recovered fraction (p < 0.001)")
        if i == 0 and contours:
            for j, (label, cm) in enumerate(contours.items()):
                xc = 0.5 * (np.asarray(cm["x_edges"])[1:] + np.asarray(cm["x_edges"])[:-1])
                yc = 0.5 * (np.asarray(cm["y_edges"])[1:] + np.asarray(cm["y_edges"])[:-1])
                frac = np.asarray(cm["fraction"]).T
                if np.nanmax(frac) >= 0.99:
                    cs = ax.contour(xc, yc, frac, levels=[0.99], colors=f"C{j}")
                    cs.set_label(f"99% {label}")
            ax.legend(loc="lower left", fontsize="small")
    return fig


def plot_k_recovery(k_true: ArrayLike, k_p16: ArrayLike, k_p50: ArrayLike, k_p84: ArrayLike,
                    ecc: ArrayLike):
    """Inferred K median (with 16–84% bars) against the injected K, coloured by e."""
    fig, axes = _figure(1, width=5.5)
    ax = axes[0]
    kt, p16, p50, p84 = (np.asarray(a, float) for a in (k_true, k_p16, k_p50, k_p84))
    ax.errorbar(kt, p50, yerr=[p50 - p16, p84 - p50], fmt="none", ecolor="0.8", lw=0.5)
    sc = ax.scatter(kt, p50, c=ecc, s=4, cmap="plasma", vmin=0, vmax=1)
    lim = [np.nanmin(kt), np.nanmax(kt)] if kt.size else [0.1, 500]
    ax.plot(lim, lim, "k--", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="injected K [km/s]",
           ylabel="inferred K p50 [km/s]")
    fig.colorbar(sc, ax=ax, label="injected e")
    return fig
