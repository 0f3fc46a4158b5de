"""The three headline numbers of the study, read back from a run's published files.

1. **Population model**: which number of populations the data prefer and by how much:
   PSIS-LOO ELPD differences (``loo_comparison.csv``) beside the GMM's BIC
   (``gmm_summary.json``).
2. **Eccentricities**: whether the populations' eccentricity distributions differ: the
   posterior probability that the binary-like population's mean eccentricity exceeds the
   planet-like one's and the 90% interval of the difference (``comparison.json``), beside the
   KS test of the q split (``ks_test_e.txt``).
3. **Feasibility**: the feasible fraction of perturber space for the reference object and
   where it lies (``feasibility_map.npz``).
4. **Memberships and the model's fit**: the reference object's P(binary-like) with its
   90% interval, the mean P(binary-like) of each discovery method and their range (the
   method split: an origin, not a survey, should not depend on how an object was found),
   and the posterior predictive checks per method in words, failures first
   (``fit_summary.json``, ``memberships.csv``).

:func:`headline_numbers` reads only files, so it works on any output folder of
``vlms-bayes run`` (and the robustness suite reuses it on its refits). A part whose files
are missing is None.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.inference.ppc_report import ppc_verdict_text
from vlms_bayes.report.comparison import _ks_numbers
from vlms_bayes.report.format import fmt_prob
from vlms_bayes.report.selection import MIN_PER_METHOD, method_split, per_method_memberships

#: Cells whose feasible fraction reaches this share of draws count as "feasible" when
#: stating where the feasible region lies (as in the feasibility report).
FEASIBLE_CELL_MIN = 0.01


def _num(x: Any) -> float | None:
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(xf) else xf


def model_choice(run_dir: str | Path) -> dict[str, Any] | None:
    """Headline 1: LOO ELPD differences between K (best first) and the GMM BIC.

    ``elpd_diff_vs_best`` and ``dse_vs_best`` come from the LOO table (ArviZ's difference
    to the best model and the standard error of that difference). ``delta_elpd_2_vs_1`` is
    ELPD(K=2) - ELPD(K=1) with its paired standard error (the table's ``dse_vs_ref``
    column, K = 1 being the reference).
    """
    run_dir = Path(run_dir)
    out: dict[str, Any] = {}
    gmm_path = run_dir / "gmm_summary.json"
    if gmm_path.is_file():
        g = json.loads(gmm_path.read_text(encoding="utf-8"))
        bic = {str(k): float(v) for k, v in g.get("bic", {}).items()  # JSON: str keys
               if v is not None}  # K not fitted (too few objects) are left out
        out["bic"] = bic
        out["bic_winner_K"] = g.get("winner")
        if "1" in bic and "2" in bic:
            out["delta_bic_1_minus_2"] = bic["1"] - bic["2"]
    loo_path = run_dir / "loo_comparison.csv"
    if loo_path.is_file():
        loo = pd.read_csv(loo_path)
        best = str(loo.iloc[0]["model"])
        out["loo_best"] = best
        out["loo"] = [{"model": str(r["model"]), "elpd_loo": float(r["elpd_loo"]),
                       "se": float(r["se"]), "elpd_diff_vs_best": float(r["elpd_diff"]),
                       "dse_vs_best": float(r["dse"]),
                       "n_pareto_k_gt_0.7": int(r.get("n_pareto_k_gt_0.7", 0))}
                      for _, r in loo.iterrows()]
        by = loo.set_index("model")
        if "K=1" in by.index and "K=2" in by.index:
            k2 = by.loc["K=2"]
            out["delta_elpd_2_vs_1"] = float(k2["elpd_loo"] - by.loc["K=1", "elpd_loo"])
            # the paired SE of the difference (loo_compare's reference is K=1 when fitted)
            out["delta_elpd_2_vs_1_se"] = (float(k2["dse_vs_ref"])
                                           if k2.get("reference") == "K=1" else None)
    return out or None


def eccentricity_difference(run_dir: str | Path) -> dict[str, Any] | None:
    """Headline 2: P(mean e binary-like > planet-like), its 90% interval, and the KS test."""
    run_dir = Path(run_dir)
    out: dict[str, Any] = {}
    cmp_path = run_dir / "comparison.json"
    if cmp_path.is_file():
        ecc = json.loads(cmp_path.read_text(encoding="utf-8")).get("eccentricity", {})
        p = _num(ecc.get("posterior_P_mean_e_binary_gt_planet"))
        out["P_mean_e_binary_gt_planet"] = p
        out["n_draws"] = ecc.get("n_draws")
        if p is not None:
            # posterior probability that the two mean eccentricities are ordered one way
            out["P_differ_in_sign"] = max(p, 1.0 - p)
        q = ecc.get("posterior_mean_e_difference_q05_q50_q95")
        out["mean_e_difference_q05_q50_q95"] = None if q is None else [float(v) for v in q]
    ks_path = run_dir / "ks_test_e.txt"
    if ks_path.is_file():
        ks = _ks_numbers(ks_path.read_text(encoding="utf-8"))
        out["ks_D"] = _num(ks.get("D"))
        out["ks_pvalue"] = _num(ks.get("p-value"))
    return out or None


def feasibility_region(run_dir: str | Path) -> dict[str, Any] | None:
    """Headline 3: mean feasible fraction over the perturber grid and where it lies."""
    path = Path(run_dir) / "feasibility_map.npz"
    if not path.is_file():
        return None
    with np.load(path) as z:
        feas = np.asarray(z["feasible_fraction"], float)
        m_out, a_out = np.asarray(z["m_out_msun"], float), np.asarray(z["a_out_au"], float)
        settings = json.loads(str(z["settings_json"])) if "settings_json" in z.files else {}
        ci = np.asarray(z["feasible_ci95"], float) if "feasible_ci95" in z.files else None
    k = np.unravel_index(np.argmax(feas), feas.shape)
    ok = feas >= FEASIBLE_CELL_MIN
    out: dict[str, Any] = {
        "target": settings.get("target", {}).get("name"),
        "mean_feasible_fraction": float(feas.mean()),
        "cells_any_feasible": float((feas > 0).mean()),
        "best_cell_fraction": float(feas[k]),
        "best_m_out_msun": float(m_out[k[0]]), "best_a_out_au": float(a_out[k[1]]),
        "feasible_m_out_range_msun": None, "feasible_a_out_range_au": None,
        "feasible_cell_min": FEASIBLE_CELL_MIN,
    }
    if ok.any():
        mi, ai = np.nonzero(ok)
        out["feasible_m_out_range_msun"] = [float(m_out[mi.min()]), float(m_out[mi.max()])]
        out["feasible_a_out_range_au"] = [float(a_out[ai.min()]), float(a_out[ai.max()])]
    if ci is not None:  # quote the best cell only where its interval excludes the mean
        out["best_cell_ci95"] = [float(ci[0][k]), float(ci[1][k])]
        out["best_cell_excludes_mean"] = bool(ci[0][k] > feas.mean())
    prob = Path(run_dir) / "origin_probability.json"
    if prob.is_file():
        rec = json.loads(prob.read_text(encoding="utf-8"))
        for key, name in (("kozai_lidov", "p_kl"), ("disk", "p_disk")):
            r = rec.get(key) or {}
            out[name] = _num(r.get("probability"))
            out[name + "_ci95"] = [_num(r.get("low")), _num(r.get("high"))]
    return out


def memberships_and_checks(run_dir: str | Path) -> dict[str, Any] | None:
    """Headline 4: the reference object's membership, the method split and the PPC verdict.

    ``per_method``: mean P(binary-like) and count per discovery method; ``method_split``:
    the range of those means over methods with at least
    :data:`~vlms_bayes.report.selection.MIN_PER_METHOD` objects (NaN with fewer than two
    such methods); ``ppc_failing``: the methods whose posterior predictive check fails and
    ``ppc_text`` the verdict in words with the chief reason of each failure.
    """
    run_dir = Path(run_dir)
    path = run_dir / "fit_summary.json"
    if not path.is_file():
        return None
    fit = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, Any] = {"reference": None, "per_method": {}, "method_split": None,
                           "ppc_failing": None, "ppc_text": None}
    ref = fit.get("reference") or []
    if ref:
        r = ref[0]
        out["reference"] = {"name": r.get("name"), "P_binary_like": _num(r.get("P_binary_like")),
                            "lo90": _num(r.get("P_binary_like_lo90")),
                            "hi90": _num(r.get("P_binary_like_hi90"))}
    members_path = run_dir / "memberships.csv"
    if members_path.is_file():
        pm = per_method_memberships(pd.read_csv(members_path))
        out["per_method"] = {str(r["discoverymethod"]): {"n": int(r["n"]),
                                                        "mean_P": float(r["mean_P"])}
                             for _, r in pm.iterrows()}
        out["method_split"] = _num(method_split(pm))
    if fit.get("ppc"):
        out["ppc_failing"] = [m for m, r in fit["ppc"]["methods"].items()
                              if r.get("verdict") == "fail"]
        out["ppc_text"] = ppc_verdict_text(fit["ppc"])
    return out


def headline_numbers(run_dir: str | Path) -> dict[str, Any]:
    """The three headline numbers of a run, from its files.

    Parameters
    ----------
    run_dir : path-like
        An output folder of ``vlms-bayes run``.

    Returns
    -------
    dict
        ``model_choice``, ``eccentricity``, ``feasibility`` and ``memberships`` (each None
        when the files it needs are not there; see the module docstring).
    """
    return {"model_choice": model_choice(run_dir),
            "eccentricity": eccentricity_difference(run_dir),
            "feasibility": feasibility_region(run_dir),
            "memberships": memberships_and_checks(run_dir)}


def _f(x: Any, fmt: str) -> str:
    v = _num(x)
    return "n/a" if v is None else format(v, fmt)


def headline_lines(h: dict[str, Any]) -> list[str]:
    """The three headline numbers as text (the first lines of ``SUMMARY.txt``)."""
    lines = []
    mc = h.get("model_choice")
    if mc is None:
        lines.append("1. Populations: no model comparison in this run.")
    else:
        bic = mc.get("bic", {})
        bic_txt = ", ".join(f"K={k} {v:.2f}"
                            for k, v in sorted(bic.items(), key=lambda kv: int(kv[0])))
        if mc.get("loo_best"):
            se = mc.get("delta_elpd_2_vs_1_se")
            lines.append(f"1. Populations: PSIS-LOO prefers {mc['loo_best']}; "
                         f"ELPD(K=2) - ELPD(K=1) = {_f(mc.get('delta_elpd_2_vs_1'), '.2f')}"
                         + (f" ± {se:.2f}" if se is not None else ""))
            others = mc["loo"][1:]
            if others:
                lines.append("   vs the best: " + "; ".join(
                    f"{r['model']} ΔELPD {r['elpd_diff_vs_best']:.2f} ± {r['dse_vs_best']:.2f}"
                    for r in others))
        else:
            lines.append("1. Populations: no PSIS-LOO comparison in this run (fit left out).")
        lines.append(f"   GMM BIC prefers K={mc.get('bic_winner_K')} ({bic_txt}; "
                     f"BIC(K=1) - BIC(K=2) = {_f(mc.get('delta_bic_1_minus_2'), '.2f')})")
    ec = h.get("eccentricity")
    if ec is None:
        lines.append("2. Eccentricities: no eccentricity comparison in this run.")
    else:
        p = ec.get("P_mean_e_binary_gt_planet")
        if p is not None:
            q = ec.get("mean_e_difference_q05_q50_q95") or [float("nan")] * 3
            lines.append(f"2. Eccentricities: P(mean e binary-like > planet-like) = "
                         f"{fmt_prob(p, ec.get('n_draws'))}; "
                         f"difference {q[1]:.3f} (90% interval {q[0]:.3f} to {q[2]:.3f})")
        else:
            lines.append("2. Eccentricities: no posterior comparison in this run (fit left out).")
        lines.append(f"   KS test of e, low q vs high q: D = {_f(ec.get('ks_D'), '.4f')}, "
                     f"p = {_f(ec.get('ks_pvalue'), '.4g')}")
    fe = h.get("feasibility")
    if fe is None:
        lines.append("3. Feasibility: no feasibility map in this run.")
    else:
        where = "no cell reaches {:.0%} of draws".format(fe["feasible_cell_min"])
        if fe.get("feasible_m_out_range_msun"):
            (m0, m1), (a0, a1) = fe["feasible_m_out_range_msun"], fe["feasible_a_out_range_au"]
            where = (f"cells with >= {fe['feasible_cell_min']:.0%} feasible draws span "
                     f"m_out {m0:.3g}-{m1:.3g} Msun, a_out {a0:.3g}-{a1:.3g} AU")
        if fe.get("p_kl") is not None and fe.get("p_disk") is not None:
            (kl, kh), (dl, dh) = fe["p_kl_ci95"], fe["p_disk_ci95"]
            lines.append(f"3. Origin of {fe.get('target')} (over published priors; "
                         f"origin_probability.json): P(Kozai-Lidov origin) = "
                         f"{fe['p_kl']:.3g} (95% {kl:.3g}-{kh:.3g}), P(disk migration) = "
                         f"{fe['p_disk']:.3g} (95% {dl:.3g}-{dh:.3g})")
            lines.append("   Perturber-grid map: ")
        else:
            lines.append(f"3. Feasibility of {fe.get('target')}: ")
        best = (f"best cell {fe['best_cell_fraction']:.3f} at m_out = "
                f"{fe['best_m_out_msun']:.3g} Msun, a_out = {fe['best_a_out_au']:.3g} AU")
        if fe.get("best_cell_excludes_mean") is False:
            best = "no single cell's 95% interval excludes the grid mean"
        # 3 significant figures, positional: the time-dependent radii make it ~1e-4
        mean = np.format_float_positional(fe["mean_feasible_fraction"], precision=3,
                                          unique=False, fractional=False, trim="-")
        lines[-1] += f"mean feasible fraction of perturber space = {mean}; {where}; {best}"
    lines += membership_lines(h.get("memberships"))
    return lines


def membership_lines(mb: dict[str, Any] | None) -> list[str]:
    """Headline 4 as text: the reference's membership, the method split, the PPC verdict."""
    if mb is None:
        return ["4. Memberships: no Bayesian fit in this run."]
    ref = mb.get("reference")
    first = "4. Memberships: "
    if ref and ref.get("P_binary_like") is not None:
        first += (f"{ref['name']} P(binary-like) = {ref['P_binary_like']:.3g} (90% interval "
                  f"{_f(ref.get('lo90'), '.3g')} to {_f(ref.get('hi90'), '.3g')}); ")
    per = mb.get("per_method") or {}
    if per:
        first += "mean P(binary-like) by discovery method: " + ", ".join(
            f"{m} {v['mean_P']:.2f} (n={v['n']})" for m, v in per.items())
        split = mb.get("method_split")
        first += (f"; method split (range over methods with >= {MIN_PER_METHOD} objects) "
                  f"{_f(split, '.2f')}")
    lines = [first.rstrip("; ")]
    if mb.get("ppc_text"):
        lines.append(f"   Model check: {mb['ppc_text']}")
    return lines
