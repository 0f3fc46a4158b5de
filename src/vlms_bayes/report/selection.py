"""Naive vs selection-aware fits side by side, and observed vs intrinsic populations.

Reads two ``vlms-bayes fit`` folders of the same data, one with ``--selection none`` and
one with ``--selection methods`` (either order), and computes:

* the population parameters of both (median and 90% interval);
* the reference object's (TOI-6894 b's) P(binary-like) under both;
* per-method memberships: the mean P(binary-like) and the number of objects with
  P > 0.5 for each discovery method, under both;
* the *method split*: the range (max − min over methods with ≥ 3 objects) of the
  per-method mean P(binary-like). A two-population signal that is only survey selection
  makes that range large in the naive fit; ``method_split_removed`` = 1 − split(selection)
  / split(naive) is the share of it that the selection correction removes.

:func:`method_densities` evaluates, for the selection-aware fit, the intrinsic mixture
density and each method's predicted *observed* density p(x | detected by m) ∝ f(x)
p̄_det,m(x), averaged over posterior draws, for the per-method figure
(:func:`vlms_bayes.plots.selection.plot_observed_vs_intrinsic`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.classify import load_posterior
from vlms_bayes.inference.membership import draws_from_posterior
from vlms_bayes.models.likelihood import powerlaw_lambda
from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.selection_norm import host_groups, host_nodes
from vlms_bayes.report.format import fmt

PARAMS = ("w", "mu_logq", "mu_loga", "sigma_logq", "sigma_loga", "e_mean")
MIN_PER_METHOD = 3


def fit_mode(summary: dict[str, Any]) -> str:
    """``"methods"`` or ``"none"`` from a fit_summary.json (older fits: ``"none"``)."""
    return (summary.get("selection") or {}).get("mode", "none")


def per_method_memberships(members: pd.DataFrame) -> pd.DataFrame:
    """Mean P(binary-like) and count with P > 0.5 per discovery method."""
    if "discoverymethod" not in members.columns:
        return pd.DataFrame(columns=["discoverymethod", "n", "mean_P", "n_P_gt_0.5"])
    g = members.groupby("discoverymethod")["P_binary_like"]
    return pd.DataFrame({"n": g.size(), "mean_P": g.mean(),
                         "n_P_gt_0.5": g.apply(lambda v: int((v > 0.5).sum()))}).reset_index()


def method_split(per_method: pd.DataFrame) -> float:
    """Range of the per-method mean P(binary-like) over methods with ≥ 3 objects."""
    ok = per_method.loc[per_method["n"] >= MIN_PER_METHOD, "mean_P"]
    return float(ok.max() - ok.min()) if len(ok) >= 2 else float("nan")


def compare_selection(dir_a: str | Path, dir_b: str | Path) -> dict[str, Any]:
    """Side-by-side numbers of a naive and a selection-aware fit of the same data.

    Raises
    ------
    InputDataError
        When the two folders are not one naive and one selection-aware fit.
    """
    fits = {}
    for d in (Path(dir_a), Path(dir_b)):
        dt, summary = load_posterior(d)
        fits[fit_mode(summary)] = {"dir": d, "dt": dt, "summary": summary,
                                   "members": pd.read_csv(d / "memberships.csv")}
    if set(fits) != {"none", "methods"}:
        raise InputDataError(
            f"{dir_a} and {dir_b} must be one fit with --selection none and one with "
            "--selection methods of the same data; got "
            f"{[fit_mode(f['summary']) for f in fits.values()]}.")
    naive, sel = fits["none"], fits["methods"]
    params = []
    for name in PARAMS:
        pn = naive["summary"]["population_parameters"].get(name, {})
        ps = sel["summary"]["population_parameters"].get(name, {})
        for pop in pn:
            if pop in ps:
                params.append({"parameter": name, "population": pop,
                               **{f"naive_{q}": pn[pop][q] for q in ("q05", "q50", "q95")},
                               **{f"selection_{q}": ps[pop][q] for q in ("q05", "q50", "q95")}})
    ref = []
    rn = {r["name"]: r for r in naive["summary"].get("reference") or []}
    for r in sel["summary"].get("reference") or []:
        if r["name"] in rn:
            ref.append({"name": r["name"], "naive": rn[r["name"]]["P_binary_like"],
                        "naive_lo90": rn[r["name"]]["P_binary_like_lo90"],
                        "naive_hi90": rn[r["name"]]["P_binary_like_hi90"],
                        "selection": r["P_binary_like"], "selection_lo90": r["P_binary_like_lo90"],
                        "selection_hi90": r["P_binary_like_hi90"]})
    pm_n, pm_s = (per_method_memberships(f["members"]) for f in (naive, sel))
    per_method = pm_n.merge(pm_s, on=["discoverymethod", "n"], suffixes=("_naive", "_selection"))
    split_n, split_s = method_split(pm_n), method_split(pm_s)
    both = naive["members"][["name", "P_binary_like"]].merge(
        sel["members"][["name", "P_binary_like"]], on="name", suffixes=("_naive", "_selection"))
    flips = int(((both["P_binary_like_naive"] > 0.5) != (both["P_binary_like_selection"] > 0.5))
                .sum())
    out = {
        "parameters": params, "reference": ref,
        "per_method": per_method.to_dict(orient="records"),
        "method_split_naive": split_n, "method_split_selection": split_s,
        "method_split_removed": (1 - split_s / split_n) if split_n > 0 else None,
        "n_binary_like_naive": int((both["P_binary_like_naive"] > 0.5).sum()),
        "n_binary_like_selection": int((both["P_binary_like_selection"] > 0.5).sum()),
        "n_label_changes": flips, "n_objects": len(both),
        "selection_model": sel["summary"]["selection"],
        "diagnostics": {"naive": naive["summary"]["diagnostics"]["passed"],
                        "selection": sel["summary"]["diagnostics"]["passed"]},
    }
    return {"json": out, "markdown": selection_markdown(out), "selection_fit": sel,
            "naive_fit": naive}


def _pct(x: Any) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{round(100 * x):d}%"


def selection_lines(out: dict[str, Any]) -> list[str]:
    """The findings of :func:`compare_selection` as sentences (Markdown and SUMMARY.txt)."""
    lines = [f"{r['name']}: P(binary-like) naive {fmt(r['naive'])} [{fmt(r['naive_lo90'])}, "
             f"{fmt(r['naive_hi90'])}], selection-aware {fmt(r['selection'])} "
             f"[{fmt(r['selection_lo90'])}, {fmt(r['selection_hi90'])}]"
             for r in out["reference"]]
    return [*lines,
            f"objects with P(binary-like) > 0.5: naive {out['n_binary_like_naive']}, "
            f"selection-aware {out['n_binary_like_selection']} of {out['n_objects']} "
            f"({out['n_label_changes']} change label)",
            f"method split (range of per-method mean P(binary-like)): naive "
            f"{fmt(out['method_split_naive'])}, selection-aware "
            f"{fmt(out['method_split_selection'])}; share removed by the selection "
            f"correction: {_pct(out['method_split_removed'])}",
            f"diagnostics passed: naive {out['diagnostics']['naive']}, selection-aware "
            f"{out['diagnostics']['selection']}"]


def selection_markdown(out: dict[str, Any]) -> str:
    """Markdown section of :func:`compare_selection`'s numbers."""
    lines = ["## Selection: naive vs selection-aware fit", "",
             "The naive fit describes the *detected* sample; the selection-aware fit divides "
             "each discovery method's detection probability out, so its populations are "
             "intrinsic (docs/selection.md).", "",
             *(f"- {ln}" for ln in selection_lines(out)),
             "", "| method | n | mean P naive | mean P selection | n P>0.5 naive | "
             "n P>0.5 selection |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['discoverymethod']} | {r['n']} | {fmt(r['mean_P_naive'])} | "
              f"{fmt(r['mean_P_selection'])} | {r['n_P_gt_0.5_naive']} | "
              f"{r['n_P_gt_0.5_selection']} |" for r in out["per_method"]]
    lines += ["", "| parameter | population | naive median [90%] | selection-aware median [90%] |",
              "|---|---|---|---|"]
    lines += [f"| {p['parameter']} | {p['population']} | {fmt(p['naive_q50'])} "
              f"[{fmt(p['naive_q05'])}, {fmt(p['naive_q95'])}] | {fmt(p['selection_q50'])} "
              f"[{fmt(p['selection_q05'])}, {fmt(p['selection_q95'])}] |"
              for p in out["parameters"]]
    notes = out["selection_model"].get("notes") or []
    if notes:
        lines += ["", *[f"- note: {n}" for n in notes]]
    return "\n".join([*lines, ""])


def method_densities(fit: dict[str, Any], *, n_draws: int = 100, step_dex: float = 0.05,
                     random_seed: int = 0) -> dict[str, Any]:
    """Intrinsic and per-method predicted observed densities on a (log q, log a) grid.

    Parameters
    ----------
    fit : dict
        ``selection_fit`` of :func:`compare_selection` (or ``{"dir", "dt", "summary"}``).
    n_draws : int
        Posterior draws averaged.
    step_dex : float
        Display grid step.
    random_seed : int
        Which draws.

    Returns
    -------
    dict
        ``logq``, ``loga`` (1-D axes), ``intrinsic`` (2-D density), ``observed`` (method →
        2-D predicted density of that method's detections), ``points`` (method → (log q,
        log a) of its fitted objects).
    """
    model = SelectionModel.from_dict(fit["summary"]["selection"]["parameters"])
    rows = pd.read_csv(Path(fit["dir"]) / "stacked_used.csv")
    draws = draws_from_posterior(fit["dt"]["posterior"])
    rng = np.random.default_rng(random_seed)
    pick = rng.choice(draws["mu_logq"].shape[0], size=min(n_draws, draws["mu_logq"].shape[0]),
                      replace=False)
    gq = np.arange(model.logq_range[0], model.logq_range[1] + 1e-9, step_dex)
    ga = np.arange(model.loga_range[0], model.loga_range[1] + 1e-9, step_dex)
    qq, aa = np.meshgrid(gq, ga, indexing="ij")
    dens = np.zeros((len(pick), *qq.shape))
    for j, s in enumerate(pick):
        for k in range(draws["mu_logq"].shape[1]):
            if "gamma_q" in draws and k == draws["mu_logq"].shape[1] - 1:
                # power-law binary-like population (binary_shape="powerlaw")
                lam = float(powerlaw_lambda(draws["gamma_q"][s]))
                p_q = np.where(qq <= 0.0, lam * np.exp(lam * np.minimum(qq, 0.0)), 0.0)
                sa = draws["sigma_loga"][s, k]
                za = (aa - draws["mu_loga"][s, k]) / sa
                dens[j] += (draws["w"][s, k] * p_q * np.exp(-0.5 * za**2)
                            / (np.sqrt(2 * np.pi) * sa))
                continue
            sq, sa = draws["sigma_logq"][s, k], draws["sigma_loga"][s, k]
            r = draws["rho"][s, k]
            zq = (qq - draws["mu_logq"][s, k]) / sq
            za = (aa - draws["mu_loga"][s, k]) / sa
            quad = (zq**2 - 2 * r * zq * za + za**2) / (1 - r**2)
            dens[j] += (draws["w"][s, k] * np.exp(-0.5 * quad)
                        / (2 * np.pi * sq * sa * np.sqrt(1 - r**2)))
    observed, points = {}, {}
    meth = rows["discoverymethod"].astype(str)
    for m in dict.fromkeys(meth):
        sel = (meth == m).to_numpy()
        points[m] = (rows.loc[sel, "logq"].to_numpy(float), rows.loc[sel, "loga"].to_numpy(float))
        if model.kind(m) is None:
            continue
        m_star = rows.loc[sel, "st_mass"].to_numpy(float)
        if model.host_mode == "quantiles":
            hosts, counts = host_nodes(m_star, model.n_host_nodes), None
        else:  # the method's detections: a mixture over its hosts, each normalised
            grp, host_arr, _ = host_groups(m_star, model.host_bin_dex)
            hosts, counts = list(host_arr), np.bincount(grp).astype(float)
        obs = np.zeros_like(dens)
        for h, c in zip(hosts, np.ones(len(hosts)) if counts is None else counts, strict=True):
            part = dens * model.p_det(m, qq, aa, m_star_msun=h)
            obs += c * part / (part.sum(axis=(1, 2), keepdims=True) * step_dex**2)
        observed[m] = (obs / obs.sum(axis=(1, 2), keepdims=True) / step_dex**2).mean(axis=0)
    return {"logq": gq, "loga": ga, "intrinsic": dens.mean(axis=0), "observed": observed,
            "points": points}
