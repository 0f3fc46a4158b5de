"""Figures of the Bayesian mixture fit (from the posterior and the membership tables)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


def _figure(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt  # heavy: pyplot

    fig, ax = plt.subplots(*args, **kwargs)
    return fig, ax


def plot_memberships(merged: pd.DataFrame) -> Any:
    """(log q, log a) plane coloured by the posterior and the logistic P(binary-like)."""
    fig, axes = _figure(1, 2, figsize=(11, 4.5), sharex=True, sharey=True,
                        constrained_layout=True)
    for ax, col, title in ((axes[0], "P_binary_like", "posterior mixture"),
                           (axes[1], "P_binary_like_logistic", "logistic baseline")):
        sc = ax.scatter(merged["logq"], merged["loga"], c=merged[col], cmap="coolwarm",
                        vmin=0, vmax=1, s=28, edgecolor="k", linewidth=0.3)
        ax.set_xlabel("log10 q")
        ax.set_title(f"P(binary-like): {title}")
    axes[0].set_ylabel("log10 a [AU]")
    fig.colorbar(sc, ax=axes, label="P(binary-like)")
    return fig


def plot_ecc_predictive(dt: Any, members: pd.DataFrame) -> Any:
    """Posterior predictive Beta density of e per population against the measured e.

    The measured eccentricities are histogrammed with each object weighted by its
    posterior mean membership of the population.
    """
    post = dt["posterior"]
    pops = [str(p) for p in post["population"].values]
    a = np.asarray(post["e_alpha"].values, float).reshape(-1, len(pops))
    b = np.asarray(post["e_beta"].values, float).reshape(-1, len(pops))
    cd = dt["constant_data"]
    names = [str(n) for n in cd["object"].values]
    e_kind = np.asarray(cd["e_kind"].values)
    e_obs = np.asarray(cd["e_obs_all"].values, float)
    mem = members.set_index("name").reindex(names)
    grid = np.linspace(0.001, 0.999, 300)
    fig, axes = _figure(1, len(pops), figsize=(4.5 * len(pops), 3.8), squeeze=False,
                        constrained_layout=True)
    rng = np.random.default_rng(0)
    pick = rng.choice(a.shape[0], size=min(400, a.shape[0]), replace=False)
    for j, (ax, pop) in enumerate(zip(axes[0], pops, strict=True)):
        dens = stats.beta.pdf(grid[None, :], a[pick, j][:, None], b[pick, j][:, None])
        lo, med, hi = np.quantile(dens, [0.05, 0.5, 0.95], axis=0)
        ax.fill_between(grid, lo, hi, alpha=0.3, label="posterior predictive 90%")
        ax.plot(grid, med, lw=1.5)
        sel = e_kind == 1
        wts = mem[f"P_{pop}"].to_numpy(float)[sel]
        if sel.any():
            ax.hist(np.clip(e_obs[sel], 0, 1), bins=np.linspace(0, 1, 16), weights=wts,
                    density=True, histtype="step", color="k",
                    label="measured e (membership-weighted)")
        ax.set_xlabel("e")
        ax.set_title(pop)
        ax.set_ylim(0, min(12.0, float(np.nanmax(hi)) * 1.2 + 0.5))
    axes[0][0].set_ylabel("density")
    axes[0][0].legend(fontsize=8)
    return fig


def _scalar_columns(post: Any, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    cols = {}
    for name in names:
        if name not in post:
            continue
        v = np.asarray(post[name].values, float)  # (chain, draw, K)
        # its own coordinate: "population", or with a power-law binary-like population
        # "gaussian" (mu_logq, sigma_logq, rho) and "power_law" (gamma_q)
        for j, p in enumerate(post[name][post[name].dims[-1]].values):
            cols[f"{name}[{p}]"] = v[..., j]
    return cols


def plot_rank(dt: Any, names: tuple[str, ...] = ("mu_logq", "mu_loga", "e_mean")) -> Any:
    """Rank histograms per chain (uniform when the chains agree)."""
    cols = _scalar_columns(dt["posterior"], names)
    n = len(cols)
    ncol = 3
    nrow = int(np.ceil(n / ncol))
    fig, axes = _figure(nrow, ncol, figsize=(4 * ncol, 2.6 * nrow), squeeze=False,
                        constrained_layout=True)
    for ax, (label, v) in zip(axes.ravel(), cols.items(), strict=False):
        ranks = stats.rankdata(v.ravel()).reshape(v.shape)
        bins = np.linspace(0, ranks.size, 21)
        for c in range(v.shape[0]):
            ax.hist(ranks[c], bins=bins, histtype="step", label=f"chain {c}")
        ax.set_title(label, fontsize=9)
        ax.set_yticks([])
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    axes[0][0].legend(fontsize=7)
    return fig


def plot_corner(dt: Any, names: tuple[str, ...] = ("w", "mu_logq", "mu_loga", "e_mean")) -> Any:
    """Pairwise posterior scatter of the population parameters."""
    cols = {k: v.ravel() for k, v in _scalar_columns(dt["posterior"], names).items()}
    labels = list(cols)
    n = len(labels)
    fig, axes = _figure(n, n, figsize=(1.7 * n, 1.7 * n), squeeze=False)
    for i, li in enumerate(labels):
        for j, lj in enumerate(labels):
            ax = axes[i][j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(cols[li], bins=30, color="0.4")
            else:
                ax.plot(cols[lj][::4], cols[li][::4], ".", ms=1, alpha=0.3, color="C0")
            ax.tick_params(labelsize=5)
            if i == n - 1:
                ax.set_xlabel(lj, fontsize=6)
            if j == 0 and i > 0:
                ax.set_ylabel(li, fontsize=6)
    return fig


def plot_prior_predictive(draws: dict[str, np.ndarray]) -> Any:
    """Prior-predictive true (log q, log a) and e of one population (from ``prior_draws``)."""
    fig, axes = _figure(1, 3, figsize=(13, 3.8), constrained_layout=True)
    axes[0].plot(draws["logq"], draws["loga"], ".", ms=2, alpha=0.3)
    axes[0].set_xlabel("log10 q")
    axes[0].set_ylabel("log10 a [AU]")
    axes[0].set_xlim(-7, 1)
    axes[0].set_ylim(-4, 3)
    axes[1].hist(draws["e"], bins=40, density=True, color="0.4")
    axes[1].set_xlabel("e (prior predictive)")
    grid = np.linspace(0.001, 0.999, 200)
    for a, b in zip(draws["e_alpha"][:40], draws["e_beta"][:40], strict=True):
        axes[2].plot(grid, stats.beta.pdf(grid, a, b), lw=0.6, alpha=0.5)
    axes[2].set_ylim(0, 8)
    axes[2].set_xlabel("e")
    axes[2].set_title("40 prior Beta(α, β) densities")
    fig.suptitle("Prior predictive of one population")
    return fig
