"""Figures of the feasibility study: the map, the sensitivity study, the disk band.

Each function draws already computed arrays (a :class:`MapResult` and its fractions, the
disk table) and returns the figure; the caller saves it
(:func:`vlms_bayes.data_io.outputs.save_figure`). Nothing is recomputed here.
"""

from __future__ import annotations

import sys
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from vlms_bayes.feasibility.disk import disk_lifetime_quantile_yr
from vlms_bayes.feasibility.montecarlo import CRITERIA, FeasibilityConfig

_LIMIT_COLOURS = ("#7f7f7f", "#bcbd22", "#1f77b4", "#d62728", "#9467bd", "#ff7f0e", "#2ca02c")


def _pyplot() -> Any:
    if "matplotlib.pyplot" not in sys.modules:  # a command: no display needed; a session
        matplotlib.use("Agg")                   # (notebook) keeps its own backend
    import matplotlib.pyplot as plt  # heavy: pyplot picks its backend when first imported

    return plt


def _title(res: Any) -> str:
    t = res.config.target
    c = res.config
    return (f"{t.name}: M* = {t.m_star_msun:g} Msun, Mp = {t.mass_mj:g} MJ, "
            f"Rp = {t.radius_rj:g} RJ, a = {t.a_au:g} AU\n"
            f"KL + tides, horizon {c.horizon_gyr:g} Gyr, survival r_p >= "
            f"{c.disruption_factor:g} r_t, {c.n_draws} draws/cell, a0 {c.a0_range_au[0]:g}-"
            f"{c.a0_range_au[1]:g} AU")


def plot_feasibility_map(res: Any, limiting: np.ndarray, *,
                         gaia_excluded: np.ndarray | None = None,
                         integrated: pd.DataFrame | None = None,
                         perturbers: pd.DataFrame | None = None) -> Figure:
    """fig3: feasible fraction with contours, unstable region hatched, limiting criterion.

    Parameters
    ----------
    res : MapResult
        The computed map.
    limiting : numpy.ndarray of int
        Limiting criterion per cell (:func:`vlms_bayes.pipeline.feasibility.limiting_criterion`).
    gaia_excluded : numpy.ndarray of bool, optional
        Perturbers Gaia's RV noise would have revealed: cross-hatched and outlined in orange
        on both panels.
    integrated : pandas.DataFrame, optional
        Integrated feasible draws (:func:`vlms_bayes.feasibility.integrated.integrate_map`
        table: ``m_out_msun``, ``a_out_au``, ``verdict``): cyan circles where the
        integration confirms the analytic verdict, magenta crosses where it does not.
    perturbers : pandas.DataFrame, optional
        Known perturbers (``m_out_msun``, ``a_out_au``, optional ``m_out_err``,
        ``a_out_err`` and ``label``): stars with error bars on the left panel.
    """
    plt = _pyplot()
    f = res.fractions()
    a, m = res.config.a_out_grid, res.config.m_out_grid
    feas = f["feasible"]
    stable = f["cascade"][1]  # both stability criteria
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), sharey=True, constrained_layout=True)
    ax = axes[0]
    vmax = max(float(feas.max()), 1e-3)
    pc = ax.pcolormesh(a, m, feas, shading="nearest", cmap="viridis", vmin=0, vmax=vmax)
    fig.colorbar(pc, ax=ax, label="feasible fraction of draws")
    floor = 2.0 / res.config.n_draws  # contours below two draws per cell are noise
    levels = [lv for lv in (0.01, 0.03, 0.1, 0.3) if floor <= lv < feas.max()]
    if levels:
        cs = ax.contour(a, m, feas, levels=levels, colors="white", linewidths=0.8)
        ax.clabel(cs, fmt="%g", fontsize=7)
    if (stable < 0.5).any():
        ax.contourf(a, m, (stable < 0.5).astype(float), levels=[0.5, 1.5], colors="none",
                    hatches=["///"])
        ax.contour(a, m, stable, levels=[0.5], colors="red", linewidths=1.0)
    title = "feasible fraction (hatched: dynamically unstable for > half the draws)"
    if gaia_excluded is not None and gaia_excluded.any():
        for axis in axes:
            axis.contourf(a, m, gaia_excluded.astype(float), levels=[0.5, 1.5],
                          colors="none", hatches=["xx"])
            axis.contour(a, m, gaia_excluded.astype(float), levels=[0.5], colors="orange",
                         linewidths=1.2)
        title += "\ncross-hatched, orange: Gaia RV would have detected (>= 99%)"
    if integrated is not None and len(integrated):
        ok = integrated["verdict"].to_numpy(bool)
        ax.scatter(integrated["a_out_au"][ok], integrated["m_out_msun"][ok], s=22,
                   facecolors="none", edgecolors="cyan", linewidths=1.0,
                   label=f"integrated, confirmed ({int(ok.sum())})")
        ax.scatter(integrated["a_out_au"][~ok], integrated["m_out_msun"][~ok], s=22,
                   marker="x", color="magenta", linewidths=1.0,
                   label=f"integrated, rejected ({int((~ok).sum())})")
        title += "\nmarks: feasible draws integrated with the octupole (secular equations)"
    if perturbers is not None and len(perturbers):
        for _, row in perturbers.iterrows():
            ax.errorbar(row["a_out_au"], row["m_out_msun"],
                        xerr=row.get("a_out_err", None), yerr=row.get("m_out_err", None),
                        marker="*", ms=12, color="gold", mec="black", ecolor="black",
                        capsize=2, lw=0.8,
                        label=str(row.get("label") or "known perturber"))
    if (integrated is not None and len(integrated)) or (perturbers is not None
                                                        and len(perturbers)):
        ax.legend(loc="lower left", fontsize=7, framealpha=0.85)
    ax.set(xscale="log", yscale="log", xlabel="perturber separation a_out [AU]",
           ylabel="perturber mass m_out [Msun]", title=title)
    ax2 = axes[1]
    cmap = ListedColormap(_LIMIT_COLOURS)
    norm = BoundaryNorm(np.arange(len(CRITERIA) + 1) - 0.5, cmap.N)
    ax2.pcolormesh(a, m, limiting, shading="nearest", cmap=cmap, norm=norm)
    ax2.set(xscale="log", xlabel="perturber separation a_out [AU]",
            title="limiting criterion (largest loss in the cascade)")
    handles = [Patch(color=_LIMIT_COLOURS[i], label=c) for i, c in enumerate(CRITERIA)
               if (limiting == i).any()]
    ax2.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.85)
    fig.suptitle(_title(res), fontsize=9)
    return fig


def plot_sensitivity(res: Any) -> Figure:
    """Small multiples of the feasible fraction: horizon (rows) × periastron rule (columns)."""
    plt = _pyplot()
    c = res.config
    f = res.fractions()
    panels = [(f["sensitivity"][:, i], f"r_p >= {k:g} r_t") for i, k in
              enumerate(c.sens_disruption_factors)]
    panels += [(f["seed_rule"][:, i], f"seed: r_p <= {k:g} R*") for i, k in
               enumerate(c.sens_seed_rcrit_rstar)]
    nh = len(c.sens_horizons_gyr)
    vmax = max(max(float(p[0].max()) for p in panels), 1e-3)
    fig, axes = plt.subplots(nh, len(panels), figsize=(2.3 * len(panels), 2.1 * nh),
                             sharex=True, sharey=True, constrained_layout=True, squeeze=False)
    a, m = c.a_out_grid, c.m_out_grid
    for ih, h in enumerate(c.sens_horizons_gyr):
        for ip, (arr, label) in enumerate(panels):
            ax = axes[ih, ip]
            pc = ax.pcolormesh(a, m, arr[ih], shading="nearest", cmap="viridis", vmin=0,
                               vmax=vmax)
            ax.set(xscale="log", yscale="log")
            ax.set_title(f"T = {h:g} Gyr, {label}\nmean {arr[ih].mean():.3g}", fontsize=7)
            if ih == nh - 1:
                ax.set_xlabel("a_out [AU]", fontsize=7)
            if ip == 0:
                ax.set_ylabel("m_out [Msun]", fontsize=7)
            ax.tick_params(labelsize=6)
    fig.colorbar(pc, ax=axes, label="feasible fraction", shrink=0.8)
    fig.suptitle(f"{c.target.name}: sensitivity to horizon and periastron threshold "
                 "(left: survival floor; right: the seed's r_crit rule)", fontsize=9)
    return fig


def plot_disk(table: pd.DataFrame, config: FeasibilityConfig) -> Figure:
    """Disk-migration timescales vs a for a band of disk masses, against disk lifetimes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.8), constrained_layout=True)
    colours = plt.get_cmap("plasma")(np.linspace(0.1, 0.8, table["disk_to_star"].nunique()))
    for col, (fd, g) in zip(colours, table.groupby("disk_to_star"), strict=True):
        ax.plot(g["a_au"], g["tau_type1_yr"], ls=":", color=col)
        ax.plot(g["a_au"], g["tau_type2_kanagawa_yr"], ls="-", color=col,
                label=f"M_disk/M* = {fd:g}")
        ax.plot(g["a_au"], g["t_migrate_to_target_yr"], ls="--", color=col, lw=0.9)
    q1, q2, q3 = disk_lifetime_quantile_yr(np.array([0.25, 0.5, 0.75]))
    ax.axhspan(q1, q3, color="grey", alpha=0.25, label="VLMS disk lifetime (IQR)")
    ax.axhline(q2, color="grey", lw=1)
    ax.axvline(config.target.a_au, color="k", lw=0.8)
    regime = table["regime"].iloc[0]
    ax.set(xscale="log", yscale="log", xlabel="a [AU]", ylabel="time [yr]",
           title=f"{config.target.name}: disk migration ({regime} applies; solid Type II "
                 "(Kanagawa+18), dotted Type I (TTW02), dashed: time to reach the observed a)")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    return fig
