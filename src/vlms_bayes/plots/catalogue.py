"""Catalogue figures: host mass versus companion mass (fig1) and e versus a (fig2).

Both take the stacked dataset and only draw it: no fitting, no selection beyond what the
flags say. They use the object-oriented matplotlib API (:class:`matplotlib.figure.Figure`,
no pyplot state), so they are safe in threads and notebooks; save them with
:func:`vlms_bayes.data_io.outputs.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from vlms_bayes.data_io.schema import STACKED_FIX, require_columns
from vlms_bayes.orbits import MJUP_PER_MSUN

#: Deuterium-burning limit (MJ) and hydrogen-burning limit (Msun) drawn on fig1.
DEUTERIUM_LIMIT_MJ: float = 13.0
HYDROGEN_LIMIT_MSUN: float = 0.075

SOURCE_STYLE: dict[str, tuple[str, str]] = {  # source -> (marker, colour)
    "PSCompPars": ("o", "tab:blue"),
    "BDcat": ("s", "tab:orange"),
}
METHOD_MARKERS: dict[str, str] = {
    "Transit": "o", "Radial Velocity": "s", "Imaging": "^", "Microlensing": "D",
    "Astrometry": "P", "Eclipse Timing Variations": "v",
}
OTHER_METHOD_MARKER = "X"
REF_STYLE = dict(marker="*", s=260, c="crimson", edgecolors="black", linewidths=0.8, zorder=6)


def _ref_label(ax, x: float, y: float, name: str) -> None:
    ax.annotate(name, (x, y), xytext=(-14, 16), textcoords="offset points", fontsize=9,
                color="crimson", fontweight="bold", zorder=7, ha="right",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8),
                arrowprops=dict(arrowstyle="-", color="crimson", lw=0.8))


def plot_mass_mass(
    stacked: pd.DataFrame,
    *,
    mstar_window: tuple[float, float] = (0.06, 0.20),
    q_lines: Sequence[float] = (0.01,),
) -> Figure:
    """Fig. 1: host mass against companion mass, log–log.

    Parameters
    ----------
    stacked : pandas.DataFrame
        The stacked dataset (all rows; rows outside the host window are drawn faded).
    mstar_window : tuple of float
        Host-mass window of the run (Msun), shaded.
    q_lines : sequence of float
        Mass ratios drawn as dotted diagonals (the e-subset split).

    Returns
    -------
    matplotlib.figure.Figure
        Marker shape and colour by source, filled = true mass, open = minimum mass
        (m sin i), light = from a mass–radius relation; the reference object is a red star.
    """
    require_columns(stacked, ("st_mass", "pl_bmassj", "source", "mass_kind", "in_window",
                              "is_reference"),
                    what="The data of the mass–mass figure", fix=STACKED_FIX)
    fig = Figure(figsize=(8.6, 5.6), layout="constrained")
    ax = fig.add_subplot()
    m = pd.to_numeric(stacked["st_mass"], errors="coerce").to_numpy(float)
    mc = pd.to_numeric(stacked["pl_bmassj"], errors="coerce").to_numpy(float)
    ok = np.isfinite(m) & np.isfinite(mc) & (m > 0) & (mc > 0)
    ref = stacked["is_reference"].fillna(False).astype(bool).to_numpy()
    inwin = stacked["in_window"].fillna(False).astype(bool).to_numpy()
    kind = stacked["mass_kind"].astype(str).to_numpy()
    src = stacked["source"].astype(str).to_numpy()

    ax.axvspan(*mstar_window, color="0.92", zorder=0)
    ax.axhline(DEUTERIUM_LIMIT_MJ, color="0.3", ls="--", lw=1, zorder=1)
    ax.axvline(HYDROGEN_LIMIT_MSUN, color="0.3", ls="-.", lw=1, zorder=1)
    for (s, (marker, colour)) in SOURCE_STYLE.items():
        for k in ("true", "msini", "mass_radius", "other"):
            for inside in (True, False):
                sel = ok & ~ref & (src == s) & (kind == k) & (inwin == inside)
                if not sel.any():
                    continue
                alpha = 0.9 if inside else 0.3
                face = {"true": colour, "msini": "none"}.get(k, _lighten(colour))
                ax.scatter(m[sel], mc[sel], marker=marker, s=36, facecolors=face,
                           edgecolors=colour, linewidths=1.2, alpha=alpha, zorder=3)
    for sel_ref in np.flatnonzero(ok & ref):
        ax.scatter(m[sel_ref], mc[sel_ref], **REF_STYLE)
        _ref_label(ax, m[sel_ref], mc[sel_ref], str(stacked["name"].iloc[sel_ref])
                   if "name" in stacked else "reference")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if ok.any():
        ax.set_xlim(min(m[ok].min(), mstar_window[0]) / 1.3, max(m[ok].max(), 0.25) * 1.3)
        ax.set_ylim(mc[ok].min() / 2, max(mc[ok].max(), DEUTERIUM_LIMIT_MJ) * 2)
    else:
        ax.text(0.5, 0.5, "no companions with host and companion mass", ha="center",
                transform=ax.transAxes)
    xs = np.geomspace(*ax.get_xlim(), 50)
    for q in q_lines:
        ax.plot(xs, q * xs * MJUP_PER_MSUN, color="0.5", ls=":", lw=1, zorder=1)
        ax.annotate(f"q = {q:g}", (xs[3], q * xs[3] * MJUP_PER_MSUN), fontsize=8,
                    color="0.4", rotation=20, xytext=(0, 4), textcoords="offset points")
    ax.set_xlabel(r"host mass $M_\star$ [M$_\odot$]")
    ax.set_ylabel(r"companion mass $M_c$ [M$_J$] (or $M_c \sin i$)")
    n_in = int((ok & inwin & ~ref).sum())
    ax.set_title(f"Companions of very-low-mass stars ({n_in} in the host window, "
                 f"{int((ok & ~inwin & ~ref).sum())} outside, faded)", fontsize=10)
    handles = [Line2D([], [], marker=mk, ls="", color=c, label=s, markersize=7)
               for s, (mk, c) in SOURCE_STYLE.items() if (src == s).any()]
    handles += [
        Line2D([], [], marker="o", ls="", color="0.2", label="true mass", markersize=7),
        Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="0.2",
               label=r"minimum mass ($m \sin i$)", markersize=7),
    ]
    if (kind == "mass_radius").any():
        handles.append(Line2D([], [], marker="o", ls="", markerfacecolor=_lighten("0.2"),
                              markeredgecolor="0.2", label="mass from M–R relation",
                              markersize=7))
    if ref.any():
        handles.append(Line2D([], [], marker="*", ls="", color="crimson", markersize=12,
                              markeredgecolor="black", label="reference object"))
    handles += [
        Line2D([], [], color="0.3", ls="--", label=f"{DEUTERIUM_LIMIT_MJ:g} M$_J$ (deuterium)"),
        Line2D([], [], color="0.3", ls="-.",
               label=f"{HYDROGEN_LIMIT_MSUN:g} M$_\\odot$ (hydrogen)"),
        Patch(color="0.92", label=f"host window {mstar_window[0]:g}–{mstar_window[1]:g} "
                                  r"M$_\odot$"),
    ]
    fig.legend(handles=handles, fontsize=8, loc="outside right upper", frameon=False)
    return fig


def plot_e_vs_a(stacked: pd.DataFrame, *, include_outside: bool = False) -> Figure:
    """Fig. 2: eccentricity against semi-major axis, coloured by log q, shaped by method.

    Parameters
    ----------
    stacked : pandas.DataFrame
        The stacked dataset. Rows inside the host window and the reference object are drawn.
    include_outside : bool
        Also draw rows outside the host window.

    Returns
    -------
    matplotlib.figure.Figure
        Measured e as filled markers, upper limits as open markers with a downward arrow,
        e fixed at 0 without an uncertainty (assumed circular) as grey open markers on the
        e = 0 line; rows without e are counted in the title, not drawn.
    """
    require_columns(stacked, ("pl_orbsmax", "pl_orbeccen", "ecc_status", "logq",
                              "discoverymethod", "in_window", "is_reference"),
                    what="The data of the e–a figure", fix=STACKED_FIX)
    ref = stacked["is_reference"].fillna(False).astype(bool).to_numpy()
    inwin = stacked["in_window"].fillna(False).astype(bool).to_numpy()
    show = ref | inwin | include_outside
    a = pd.to_numeric(stacked["pl_orbsmax"], errors="coerce").to_numpy(float)
    e = pd.to_numeric(stacked["pl_orbeccen"], errors="coerce").to_numpy(float)
    lq = pd.to_numeric(stacked["logq"], errors="coerce").to_numpy(float)
    status = stacked["ecc_status"].astype(str).to_numpy()
    meth = stacked["discoverymethod"].astype("string").fillna("other").to_numpy(dtype=object)
    has_a = np.isfinite(a) & (a > 0)
    drawable = show & has_a & np.isfinite(e) & (status != "missing")

    fig = Figure(figsize=(7.6, 6.0), layout="constrained")
    ax = fig.add_subplot()
    finite_lq = lq[drawable & np.isfinite(lq)]
    norm = Normalize(*(np.percentile(finite_lq, [0, 100]) if finite_lq.size else (-4, -1)))
    cmap = "viridis"
    methods_present = []
    for mname in dict.fromkeys(meth[drawable]):
        marker = METHOD_MARKERS.get(mname, OTHER_METHOD_MARKER)
        methods_present.append((mname, marker))
        base = drawable & ~ref & (meth == mname)
        meas = base & (status == "measured")
        if meas.any():
            ax.scatter(a[meas], e[meas], c=lq[meas], cmap=cmap, norm=norm, marker=marker,
                       s=42, edgecolors="black", linewidths=0.4, zorder=3)
        lim = base & (status == "upper_limit")
        if lim.any():
            cols = _colours(lq[lim], norm, cmap)
            ax.scatter(a[lim], e[lim], marker=marker, s=42, facecolors="none",
                       edgecolors=cols, linewidths=1.3, zorder=3)
            for xi, yi, ci in zip(a[lim], e[lim], cols, strict=True):
                ax.annotate("", xy=(xi, max(yi - 0.09, 0.0)), xytext=(xi, yi),
                            arrowprops=dict(arrowstyle="-|>", color=ci, lw=1.2,
                                            shrinkA=4, shrinkB=0), zorder=3)
        fixed = base & (status == "fixed_zero")
        if fixed.any():
            ax.scatter(a[fixed], np.zeros(fixed.sum()), marker=marker, s=42,
                       facecolors="none", edgecolors="0.55", linewidths=1.1, zorder=2)
    for i in np.flatnonzero(ref & has_a & np.isfinite(e)):
        ax.scatter(a[i], e[i], **REF_STYLE)
        _ref_label(ax, a[i], e[i], str(stacked["name"].iloc[i]) if "name" in stacked
                   else "reference")
    ax.set_xscale("log")
    ax.set_ylim(-0.04, 1.0)
    ax.axhline(0.0, color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel("semi-major axis $a$ [AU]")
    ax.set_ylabel("eccentricity $e$")
    sm = _scalar_mappable(norm, cmap)
    fig.colorbar(sm, ax=ax, label=r"$\log_{10} q$", pad=0.01)
    n_no_e = int((show & ~ref & (~np.isfinite(e) | (status == "missing"))).sum())
    n_no_a = int((show & ~ref & ~has_a & np.isfinite(e)).sum())
    counts = {s: int((drawable & ~ref & (status == s)).sum())
              for s in ("measured", "upper_limit", "fixed_zero")}
    ax.set_title(f"e vs a: {counts['measured']} measured, {counts['upper_limit']} upper limits, "
                 f"{counts['fixed_zero']} fixed at 0; not shown: {n_no_e} without e"
                 + (f", {n_no_a} without a" if n_no_a else ""), fontsize=9.5)
    handles = [Line2D([], [], marker=mk, ls="", color="0.35", label=name, markersize=7)
               for name, mk in methods_present]
    handles += [
        Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="0.35",
               label="upper limit (arrow)", markersize=7),
        Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="0.55",
               label="e fixed at 0 (assumed circular)", markersize=7),
    ]
    if ref.any():
        handles.append(Line2D([], [], marker="*", ls="", color="crimson", markersize=12,
                              markeredgecolor="black", label="reference object"))
    fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncols=4,
               frameon=False)
    if not drawable.any():
        ax.text(0.5, 0.5, "no companions with a and e", ha="center", transform=ax.transAxes)
    return fig


def _lighten(colour: str, amount: float = 0.6) -> tuple[float, float, float]:
    r, g, b = to_rgb(colour)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def _colours(values: np.ndarray, norm: Normalize, cmap: str) -> list:
    cm = colormaps[cmap]
    return [cm(norm(v)) if np.isfinite(v) else (0.5, 0.5, 0.5, 1.0) for v in values]


def _scalar_mappable(norm: Normalize, cmap: str):
    sm = ScalarMappable(norm=norm, cmap=cmap)
    sm.set_array([])
    return sm
