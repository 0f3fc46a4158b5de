"""Figure of the posterior predictive checks per discovery method (callers save it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from vlms_bayes.inference.ppc import PPCResult

#: Panels, left to right, and their axis labels.
_LABELS = {"logq": "log10 q (as observed)", "loga": "log10 a [AU] (as observed)",
           "e": "e (measured)"}
DIMENSIONS = tuple(_LABELS)


def _ecdf(sorted_rows: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """ECDF of each sorted row at the grid points, shape (R, G)."""
    n = sorted_rows.shape[-1]
    return np.stack([np.searchsorted(r, grid, side="right") / n for r in sorted_rows])


def plot_ppc(result: PPCResult, *, band: float = 0.9, n_grid: int = 200) -> Any:
    """Observed ECDF of each method and dimension against the replicates' band.

    One row per method, one column per dimension (log q, log a, e). The shaded band is
    the pointwise central ``band`` interval of the replicate ECDFs over the posterior
    draws, the thin line their median; the step line is the observed ECDF. Each panel's
    title gives the number of values and the p-values of the mean, sd, KS distance and
    LOO-PIT; each row is labelled with the method's verdict.

    Parameters
    ----------
    result : PPCResult
        From :func:`vlms_bayes.inference.ppc.posterior_predictive_check`.
    band : float
        Central interval of the shaded band.
    n_grid : int
        Points at which the ECDFs are drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt  # heavy: pyplot

    methods = list(result.methods)
    obj_methods = np.asarray(result.object_methods, dtype=object)
    replic = {"logq": result.replicates.logq, "loga": result.replicates.loga,
              "e": result.replicates.e}
    fig, axes = plt.subplots(len(methods), len(DIMENSIONS),
                             figsize=(4.2 * len(DIMENSIONS), 2.9 * len(methods)),
                             squeeze=False, constrained_layout=True)
    lo_q, hi_q = 0.5 - band / 2, 0.5 + band / 2
    for i, meth in enumerate(methods):
        rec = result.methods[meth]
        cols = np.flatnonzero(obj_methods == meth)
        for j, dim in enumerate(DIMENSIONS):
            ax = axes[i, j]
            yo = result.observed[dim][cols]
            keep = np.isfinite(yo)
            d = rec["dimensions"].get(dim)
            if not keep.any() or d is None or "mean" not in d:
                ax.text(0.5, 0.5, "no values", ha="center", va="center",
                        transform=ax.transAxes)
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                yo = np.sort(yo[keep])
                yr = replic[dim][:, cols][:, keep]
                yr = np.sort(yr[np.isfinite(yr).all(axis=1)], axis=1)
                lo, hi = np.nanquantile(np.concatenate([yr.ravel(), yo]), [0.005, 0.995])
                pad = 0.05 * (hi - lo) + 1e-9
                grid = np.linspace(lo - pad, hi + pad, n_grid)
                e_rep = _ecdf(yr, grid)
                q = np.quantile(e_rep, [lo_q, 0.5, hi_q], axis=0)
                ax.fill_between(grid, q[0], q[2], step="post", alpha=0.3, color="C0",
                                label=f"replicates {band:.0%}")
                ax.step(grid, q[1], where="post", color="C0", lw=0.8)
                ax.step(np.r_[grid[0], yo, grid[-1]],
                        np.r_[0.0, np.arange(1, yo.size + 1) / yo.size, 1.0],
                        where="post", color="k", lw=1.5, label="observed")
                ax.set_ylim(0, 1)
                pit = f", PIT {d['loo_pit']:.2g}" if "loo_pit" in d else ""
                ax.set_title(f"n={d['n']}: p mean {d['mean']:.2g}, sd {d['sd']:.2g}, "
                             f"KS {d['ks']:.2g}{pit}", fontsize=8)
            if i == len(methods) - 1:
                ax.set_xlabel(_LABELS[dim])
            if j == 0:
                ax.set_ylabel(f"{meth}\n({rec['verdict']})\nECDF")
    # the legend on the first panel that has replicates (a method the model does not
    # detect in most draws has none, and an empty legend warns)
    drawn = [ax for ax in axes.ravel() if ax.get_legend_handles_labels()[0]]
    if drawn:
        drawn[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Posterior predictive checks of the detected objects per method "
                 f"({result.n_draws} draws; selection: {result.selection})", fontsize=10)
    return fig
