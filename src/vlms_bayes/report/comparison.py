"""Side-by-side comparison of the Bayesian fit with the frequentist baselines.

Reads only files: the output folder of ``vlms-bayes fit`` (``posterior.nc``,
``fit_summary.json``, ``memberships.csv``) and that of ``vlms-bayes baseline``
(``gmm_summary.json``, ``beta_e_params.csv``, ``ks_test_e.txt``,
``objects_with_probs.csv`` with ``P_binary_like_logistic``), so the two stay decoupled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from scipy import stats

from vlms_bayes.data_io.outputs import save_figure, write_csv, write_json, write_text
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.classify import load_posterior
from vlms_bayes.inference.ppc_report import ppc_markdown
from vlms_bayes.plots import bayes as bp
from vlms_bayes.plots.selection import plot_observed_vs_intrinsic
from vlms_bayes.report.format import fmt, fmt_prob
from vlms_bayes.report.selection import compare_selection, method_densities

BASELINE_FILES = ("gmm_summary.json", "beta_e_params.csv", "ks_test_e.txt",
                  "objects_with_probs.csv")


def _read_baselines(folder: Path) -> dict[str, Any]:
    missing = [f for f in BASELINE_FILES if not (folder / f).is_file()]
    if missing:
        raise InputDataError(
            f"The baseline folder {folder} lacks {', '.join(missing)}; run 'vlms-bayes "
            "baseline' (or 'vlms-bayes run') with the same data options first.")
    objs = pd.read_csv(folder / "objects_with_probs.csv")
    if "P_binary_like_logistic" not in objs.columns:
        raise InputDataError(f"{folder / 'objects_with_probs.csv'} has no "
                             "'P_binary_like_logistic' column; rerun 'vlms-bayes baseline'.")
    return {
        "gmm": json.loads((folder / "gmm_summary.json").read_text(encoding="utf-8")),
        "beta": pd.read_csv(folder / "beta_e_params.csv"),
        "ks_text": (folder / "ks_test_e.txt").read_text(encoding="utf-8"),
        "objects": objs,
    }


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _ks_numbers(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if "=" not in line:
            continue
        key, _, val = line.partition("=")
        key = key.strip().replace("statistic ", "")
        try:
            out[key] = float(val.split()[0])
        except (ValueError, IndexError):
            continue
    return out


def _why(row: pd.Series) -> str:
    """Computed reasons why the two classifiers may differ on one object."""
    reasons = []
    if row["P_binary_like_lo90"] < 0.5 < row["P_binary_like_hi90"]:
        reasons.append("posterior membership uncertain (90% interval spans 0.5)")
    if row.get("mass_kind") == "msini":
        reasons.append("minimum mass: the model marginalises sin i, raising true q")
    if row.get("ecc_status") in ("measured", "upper_limit"):
        reasons.append(f"eccentricity {row.get('pl_orbeccen')} ({row['ecc_status']}) informs "
                       "the model, not the logistic classifier")
    if not reasons:
        reasons.append("different decision boundary in (log q, log a): the model weighs "
                       "population widths and measurement errors")
    return "; ".join(reasons)


def build_comparison(posterior_dir: str | Path, baseline_dir: str | Path, *,
                     q_split: float = 0.01,
                     other_posterior_dir: str | Path | None = None) -> dict[str, Any]:
    """Compute the comparison tables and the Markdown report.

    With ``other_posterior_dir`` (a fit of the same data with the other ``--selection``
    setting), the naive and selection-aware answers are added side by side
    (:func:`vlms_bayes.report.selection.compare_selection`).

    Returns
    -------
    dict
        ``json`` (everything numeric), ``disagreements`` (DataFrame), ``markdown`` (str)
        and the inputs needed by the figures.
    """
    post_dir, base_dir = Path(posterior_dir), Path(baseline_dir)
    dt, fit = load_posterior(post_dir)
    base = _read_baselines(base_dir)
    members = pd.read_csv(post_dir / "memberships.csv")
    post = dt["posterior"]
    pops = [str(p) for p in post["population"].values]
    k = len(pops)

    # 1. number of populations: BIC vs LOO
    loo = fit.get("loo")
    loo_best = loo[0]["model"] if loo else None
    gmm = base["gmm"]
    model_choice = {"bic_winner_K": gmm.get("winner"), "bic": gmm.get("bic"),
                    "loo_best": loo_best, "loo": loo,
                    "agree": (loo_best == f"K={gmm.get('winner')}") if loo_best else None}

    # 2. Beta per q split vs posterior Beta per population
    pp = fit["population_parameters"]
    beta_rows = []
    for _, r in base["beta"].iterrows():
        beta_rows.append({"source": "baseline MLE", "group": r["subset"], "alpha": r["alpha"],
                          "alpha_lo": r.get("alpha_p5"), "alpha_hi": r.get("alpha_p95"),
                          "beta": r["beta"], "beta_lo": r.get("beta_p5"),
                          "beta_hi": r.get("beta_p95"), "mean_e": r.get("mean_e_beta"),
                          "n": r.get("n")})
    for p in pops:
        a, b, m = pp["e_alpha"][p], pp["e_beta"][p], pp["e_mean"][p]
        beta_rows.append({"source": "posterior", "group": p, "alpha": a["q50"],
                          "alpha_lo": a["q05"], "alpha_hi": a["q95"], "beta": b["q50"],
                          "beta_lo": b["q05"], "beta_hi": b["q95"], "mean_e": m["q50"],
                          "n": float((members[f"P_{p}"]).sum())})
    beta_table = pd.DataFrame(beta_rows)

    # 3. KS vs posterior probability that the mean eccentricities differ
    em = np.asarray(post["e_mean"].values, float).reshape(-1, k)
    diff = em[:, -1] - em[:, 0]
    ecc = {"ks": _ks_numbers(base["ks_text"]),
           "posterior_P_mean_e_binary_gt_planet": float(np.mean(diff > 0)) if k > 1 else None,
           "n_draws": int(diff.size),
           "posterior_mean_e_difference_q05_q50_q95":
               np.quantile(diff, [0.05, 0.5, 0.95]).tolist() if k > 1 else None}

    # 4. logistic vs posterior memberships
    objs = base["objects"]
    cols = [c for c in ("name", "P_binary_like_logistic", "mass_kind", "ecc_status",
                        "pl_orbeccen", "logq", "loga", "discoverymethod") if c in objs.columns]
    merged = members.drop(columns=["discoverymethod"], errors="ignore").merge(
        objs[cols], on="name", how="inner")
    merged = merged.dropna(subset=["P_binary_like_logistic"])
    if len(merged) >= 3:
        rho, p_rho = stats.spearmanr(merged["P_binary_like"], merged["P_binary_like_logistic"])
    else:
        rho, p_rho = np.nan, np.nan
    lab_b = merged["P_binary_like"] > 0.5
    lab_l = merged["P_binary_like_logistic"] > 0.5
    dis = merged.loc[lab_b != lab_l].copy()
    dis["why"] = [_why(r) for _, r in dis.iterrows()]
    memb = {"n_common": len(merged), "spearman_rho": float(rho), "spearman_p": float(p_rho),
            "agreement_at_0.5": float(np.mean(lab_b == lab_l)) if len(merged) else None,
            "n_disagree": len(dis)}

    out = {"populations": pops, "model_choice": model_choice,
           "beta": beta_table.to_dict(orient="records"), "eccentricity": ecc,
           "memberships": memb, "reference": fit.get("reference"),
           "diagnostics": fit["diagnostics"]}
    md = _markdown(out, beta_table, dis)
    selection = None
    if other_posterior_dir is not None:
        selection = compare_selection(post_dir, other_posterior_dir)
        out["selection"] = selection["json"]
        md = md + "\n" + selection["markdown"]
    if fit.get("ppc"):  # posterior predictive checks per method (inference/ppc.py)
        other = (None if other_posterior_dir is None else
                 (_read_json(Path(other_posterior_dir) / "fit_summary.json") or {}).get("ppc"))
        out["ppc"] = fit["ppc"]
        md = md + "\n" + ppc_markdown(fit["ppc"], other=other)
    return {"json": out, "disagreements": dis, "markdown": md, "merged": merged,
            "dt": dt, "members": members, "q_split": q_split,
            "fit_config": fit.get("config", {}), "selection": selection}


def _markdown(out: dict[str, Any], beta: pd.DataFrame, dis: pd.DataFrame) -> str:
    mc, ecc, mb = out["model_choice"], out["eccentricity"], out["memberships"]
    lines = ["# Bayesian mixture vs frequentist baselines", "",
             "## Number of populations", "",
             f"- GMM/BIC winner: K = {mc['bic_winner_K']} (BIC {mc['bic']})",
             f"- PSIS-LOO best: {mc['loo_best'] or 'not computed (fit with --loo-components)'}"]
    if mc["loo"]:
        lines += ["", "| model | elpd_loo | se | elpd_diff | dse | Pareto k > 0.7 |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {fmt(r['elpd_loo'], 5)} | {fmt(r['se'])} | "
                  f"{fmt(r['elpd_diff'])} | {fmt(r['dse'])} | {r['n_pareto_k_gt_0.7']} |"
                  for r in mc["loo"]]
    lines += ["", "## Eccentricity distributions (Beta)", "",
              "| source | group | alpha [90%] | beta [90%] | mean e = α/(α+β) | n |",
              "|---|---|---|---|---|---|"]
    for _, r in beta.iterrows():
        lines.append(f"| {r['source']} | {r['group']} | {fmt(r['alpha'])} "
                     f"[{fmt(r['alpha_lo'])}, {fmt(r['alpha_hi'])}] | {fmt(r['beta'])} "
                     f"[{fmt(r['beta_lo'])}, {fmt(r['beta_hi'])}] | {fmt(r['mean_e'])} | "
                     f"{fmt(r['n'])} |")
    ks = ecc["ks"]
    lines += ["", "## Do the eccentricities differ?", "",
              f"- KS test (q split): D = {fmt(ks.get('D'))}, p = {fmt(ks.get('p-value'))}",
              f"- Posterior P(mean e of binary-like > planet-like) = "
              f"{fmt_prob(ecc['posterior_P_mean_e_binary_gt_planet'], ecc.get('n_draws'))}; "
              "difference (5/50/95%) "
              f"{[round(v, 3) for v in ecc['posterior_mean_e_difference_q05_q50_q95'] or []]}",
              "", "## Memberships: logistic vs posterior", "",
              f"- objects in both: {mb['n_common']}; Spearman rank correlation "
              f"{fmt(mb['spearman_rho'])}; agreement at 0.5: {fmt(mb['agreement_at_0.5'])}; "
              f"disagreements: {mb['n_disagree']}"]
    if len(dis):
        lines += ["", "| name | P logistic | P posterior [90%] | why |", "|---|---|---|---|"]
        lines += [f"| {r['name']} | {fmt_prob(r['P_binary_like_logistic'])} | "
                  f"{fmt_prob(r['P_binary_like'])} [{fmt_prob(r['P_binary_like_lo90'])}, "
                  f"{fmt_prob(r['P_binary_like_hi90'])}] | {r['why']} |"
                  for _, r in dis.iterrows()]
    for r in out.get("reference") or []:
        lines += ["", f"Reference {r['name']}: P(binary-like) = {fmt_prob(r['P_binary_like'])} "
                  f"[{fmt_prob(r['P_binary_like_lo90'])}, {fmt_prob(r['P_binary_like_hi90'])}]"]
    d = out["diagnostics"]
    lines += ["", f"Diagnostics: {'passed' if d['passed'] else 'FAILED'} (max R-hat "
              f"{d['max_rhat']:.3f}, divergences {d['divergences']})", ""]
    return "\n".join(lines)


def write_comparison(folder: Path, cmp: dict[str, Any], *, figures: bool = True,
                     posterior_dir: Path | None = None) -> None:
    """Write ``comparison.json``, ``comparison.md``, ``membership_disagreements.csv``, figures."""
    write_json(folder / "comparison.json", cmp["json"])
    write_text(folder / "comparison.md", cmp["markdown"])
    write_csv(folder / "membership_disagreements.csv", cmp["disagreements"])
    if cmp.get("selection") is not None:
        write_csv(folder / "selection_per_method.csv",
                  pd.DataFrame(cmp["selection"]["json"]["per_method"]))
    if not figures:
        return
    matplotlib.use("Agg", force=False)
    save_figure(folder / "fig_bayes_memberships.png", bp.plot_memberships(cmp["merged"]))
    save_figure(folder / "fig_bayes_ecc_ppc.png",
                bp.plot_ecc_predictive(cmp["dt"], cmp["members"]))
    save_figure(folder / "fig_bayes_rank.png", bp.plot_rank(cmp["dt"]))
    save_figure(folder / "fig_bayes_corner.png", bp.plot_corner(cmp["dt"]))
    # PyMC (seconds to import) only where the prior draws are made, not for the report
    from vlms_bayes.models.mixture import MixturePriors, prior_draws  # heavy: PyMC

    priors = MixturePriors(**cmp["fit_config"].get("priors", {}))
    save_figure(folder / "fig_bayes_prior_predictive.png",
                bp.plot_prior_predictive(prior_draws(priors, random_seed=0)))
    if cmp.get("selection") is not None:
        save_figure(folder / "fig_selection_methods.png", plot_observed_vs_intrinsic(
            method_densities(cmp["selection"]["selection_fit"])))
