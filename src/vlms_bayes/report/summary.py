"""Text reports composed from computed results: ``SUMMARY.txt`` and command read-outs.

Every sentence here is built from numbers passed in; nothing is fixed text about findings.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from vlms_bayes import __version__
from vlms_bayes.data_io.files import REGISTRY
from vlms_bayes.report.format import fmt, fmt_prob
from vlms_bayes.report.headlines import headline_lines
from vlms_bayes.report.selection import selection_lines

__all__ = [
    "baseline_report",
    "beta_lines",
    "fmt",
    "fmt_prob",
    "format_counts",
    "gmm_lines",
    "summary_text",
]


def format_counts(counts: dict[str, Any], *, window: tuple[float, float]) -> str:
    """Human-readable version of :func:`vlms_bayes.pipeline.data.count_table`."""
    lines = [
        f"Host-mass window {window[0]:g}–{window[1]:g} Msun: {counts['in_window']} companions "
        f"({counts['rows']} rows incl. the reference object).",
    ]
    for key, title in (("by_source", "source"), ("by_method", "discovery method"),
                       ("by_mass_kind", "mass kind"), ("by_ecc_status", "eccentricity")):
        parts = ", ".join(f"{k} {v}" for k, v in counts[key].items())
        lines.append(f"  by {title}: {parts}")
    lines.append(f"  semi-major axis derived from the period: {counts['a_from_period']}")
    lines.append(f"  companion-mass upper limits: {counts['mass_upper_limits']}")
    lines.append(f"  complete case (M*, Mc, a, e; no e limits) for the baselines: "
                 f"{counts['complete_case']}")
    return "\n".join(lines)


def gmm_lines(gmm_summary: dict[str, Any]) -> list[str]:
    """Lines describing the GMM/BIC comparison (unfitted K say why, in words)."""
    bic = {str(k): v for k, v in (gmm_summary.get("bic") or {}).items()}
    notes = gmm_summary.get("notes") or {}
    winner = gmm_summary.get("winner")
    degenerate = {str(k) for k in gmm_summary.get("degenerate") or ()}
    fitted = {k: float(v) for k, v in bic.items() if v is not None and math.isfinite(float(v))
              and k not in degenerate}
    parts = ", ".join(f"K={k}: {fmt(v, 6)}" + (" (degenerate)" if k in degenerate else "")
                      if v is not None else f"K={k}: not fitted" for k, v in bic.items())
    rows = gmm_summary.get("rows")
    lines = [f"GMM in (log q, log a), n = {gmm_summary.get('n')}"
             + (f" ({'all rows with q and a' if rows == 'all' else 'complete-case view'})"
                if rows else "")
             + f": BIC {parts}; "
             + (f"preferred K = {winner}" if winner is not None else "no K could be fitted")]
    if len(fitted) >= 2:
        vals = sorted(fitted.values())
        lines.append(f"  BIC margin between the best two: {vals[1] - vals[0]:.2f}")
    if set(sorted(fitted, key=fitted.get)[:2]) != {"1", "2"} and "1" in fitted and "2" in fitted:
        lines.append(f"  K = 1 vs 2 (the original question): K = "
                     f"{gmm_summary.get('winner_1_vs_2')} preferred, BIC(1) - BIC(2) = "
                     f"{fitted['1'] - fitted['2']:.2f}")
    lines += [f"  K={k}: {notes[k]}" for k in bic if k not in fitted and notes.get(k)]
    lines += [f"  K={k}: {notes[k]}" for k in fitted if notes.get(k)]  # e.g. no convergence
    return lines


def beta_lines(beta: pd.DataFrame) -> list[str]:
    """Lines describing the Beta eccentricity fits per subset."""
    lines = []
    for _, r in beta.iterrows():
        note = f" [{r['note']}]" if isinstance(r.get("note"), str) and r["note"] else ""
        lines.append(
            f"  {r['subset']}: n = {int(r['n'])}, alpha = {fmt(r['alpha'])} "
            f"[{fmt(r.get('alpha_p5'))}, {fmt(r.get('alpha_p95'))}], beta = {fmt(r['beta'])} "
            f"[{fmt(r.get('beta_p5'))}, {fmt(r.get('beta_p95'))}], "
            f"fitted mean e = α/(α+β) = {fmt(r.get('mean_e_beta'))} "
            f"[{fmt(r.get('mean_e_beta_p5'))}, {fmt(r.get('mean_e_beta_p95'))}] "
            f"(sample mean {fmt(r.get('sample_mean_e'))}){note}"
        )
    return lines


def baseline_report(results: dict[str, Any]) -> str:
    """Short read-out of the baselines for the terminal."""
    gmm = results.get("gmm_summary") or results["gmm"].summary()
    ks = results["ks"]
    lg = results["logistic"].summary()
    lines = gmm_lines(gmm)
    tab = results.get("gmm_methods")
    if tab is not None:
        for comp in tab.columns:
            parts = ", ".join(f"{m} {int(n)}" for m, n in tab[comp].items() if n)
            lines.append(f"  K=2 component with {comp.replace('_', ' ')}: {parts}")
    lines.append("Beta MLE of e by q subset (5–95% bootstrap):")
    lines += beta_lines(results["beta"])
    lines.append(f"KS two-sample test on e: D = {fmt(ks.statistic)}, p = {fmt(ks.pvalue)} "
                 f"(n = {ks.n_low} low-q, {ks.n_high} high-q)")
    lines.append(f"Logistic classifier (n = {lg['n_train']}, {lg['n_positive']} positive): "
                 f"{results['logistic'].auroc_text()}")
    return "\n".join(lines)


def summary_text(
    *,
    data: Any,
    counts: dict[str, Any],
    headlines: dict[str, Any],
    payloads: dict[str, dict[str, Any]],
    outdir: Any,
    seed: int,
    config: dict[str, Any],
) -> str:
    """Compose ``SUMMARY.txt`` from the published files and the steps' recorded reports.

    Parameters
    ----------
    data : vlms_bayes.pipeline.LoadedData
        The stacked dataset with its provenance.
    counts : dict
        :func:`vlms_bayes.pipeline.count_table` of the stacked rows.
    headlines : dict
        :func:`vlms_bayes.report.headlines.headline_numbers` of the output folder.
    payloads : dict
        Step name -> the ``payload`` of its record in ``run.json`` (report text of the
        baselines, the fit and the feasibility map, computed when the step ran).
    outdir : path-like
        The output folder (``objects_with_probs.csv``, ``comparison.json`` are read).
    seed : int
        Seed of the run.
    config : dict
        The run's settings (``run.json``'s ``config``).
    """
    outdir = Path(outdir)
    lines = [
        f"vlms-bayes {__version__} — summary",
        "=" * 60,
        "",
        "HEADLINE NUMBERS",
        *headline_lines(headlines),
        "",
        "DATA",
        format_counts(counts, window=data.stacked.window),
    ]
    if len(data.stacked.duplicates):
        lines.append(f"  duplicates dropped (BD catalogue rows also in PSCompPars): "
                     f"{len(data.stacked.duplicates)}")
    lines += [f"  note: {n}" for n in data.stacked.notes]
    base = payloads.get("baselines", {})
    lines += ["", "FREQUENTIST BASELINES (e fits: complete-case view)"]
    lines += str(base.get("report", "")).splitlines()
    if base.get("logistic_warning"):
        lines.append(f"  caution: {base['logistic_warning']}")
    objects = pd.read_csv(outdir / "objects_with_probs.csv")
    ref = objects.loc[objects["is_reference"].astype(bool)]
    if len(ref):
        r = ref.iloc[0]
        lines += [
            "",
            f"REFERENCE OBJECT: {r['name']}",
            f"  host {r['st_mass']:.3g} Msun ({'inside' if r['in_window'] else 'outside'} the "
            f"window), Mc = {r['pl_bmassj']:.3g} MJ, q = {r['q']:.3g}, a = "
            f"{r['pl_orbsmax']:.4g} AU, e = {fmt(r['pl_orbeccen'])}",
            f"  P(binary-like), logistic baseline: {fmt_prob(r['P_binary_like_logistic'])}",
        ]
    fit = payloads.get("fit")
    if fit:
        lines += ["", "BAYESIAN MIXTURE (hierarchical, measurement errors, m sin i, e limits)"]
        lines += [f"  {ln}" if ln else "" for ln in str(fit.get("report", "")).splitlines()]
    cmp_path = outdir / "comparison.json"
    if "comparison" in payloads and cmp_path.is_file():
        lines += ["", "BAYESIAN vs FREQUENTIST (details in comparison.md)"]
        cj = json.loads(cmp_path.read_text(encoding="utf-8"))
        mc = cj.get("model_choice", {})
        lines.append(f"  number of populations: BIC prefers K = {mc.get('bic_winner_K')}, "
                     f"PSIS-LOO prefers {mc.get('loo_best') or 'n/a (no LOO fits)'}")
        for key in ("eccentricity", "memberships"):
            sec = cj.get(key, {})
            scalars = {k: v for k, v in sec.items() if isinstance(v, int | float | str | bool)}
            if scalars:
                lines.append(f"  {key}: " + ", ".join(f"{k} = {fmt(v)}"
                                                      for k, v in scalars.items()))
        if cj.get("selection"):
            lines += ["", "SELECTION: NAIVE vs SELECTION-AWARE FIT (naive_fit/, comparison.md)"]
            sel = cj["selection"]
            lines += [f"  {ln}" for ln in selection_lines(sel)]
            lines += [f"    {r['discoverymethod']} (n = {r['n']}): mean P(binary-like) naive "
                      f"{fmt(r['mean_P_naive'])}, selection-aware {fmt(r['mean_P_selection'])}"
                      for r in sel.get("per_method", [])]
    naive = payloads.get("fit_naive") or {}
    if naive.get("rejected"):
        lines += ["", "SELECTION: the naive fit failed its diagnostics gate ("
                  + "; ".join(naive.get("failures", [])) + "), so the naive vs "
                  "selection-aware comparison is left out; its draws and verdict are in "
                  "naive_fit/rejected/"]
    feas = payloads.get("feasibility")
    if feas:
        lines += ["", "MIGRATION FEASIBILITY (Kozai-Lidov + tides; details in feasibility files)"]
        lines += [f"  {ln}" for ln in feas.get("summary_lines", [])]
    rob = payloads.get("robustness")
    if rob:
        lines += ["", "ROBUSTNESS (refits under each analysis choice; robustness/robustness.csv)"]
        lines += [f"  {ln}" for ln in str(rob.get("report", "")).splitlines()]
    lines += ["", "DATA SOURCES"]
    for key, prov in data.inputs.items():
        lines.append(f"  {key}: {prov.get('origin')} {prov.get('path') or ''}")
        lines.append(f"    date {prov.get('date')}, sha256 {prov.get('sha256')}, "
                     f"{prov.get('rows')} rows")
        if prov.get("url"):
            lines.append(f"    url {prov['url']}")
        if prov.get("adql"):
            lines.append(f"    adql {prov['adql']}")
    if "feasibility" in payloads:
        for name, entry in REGISTRY.items():
            if name.startswith("quarles2020/"):
                lines.append(f"  {name}: {entry.description}")
                lines.append(f"    sha256 {entry.sha256}, url {entry.url}")
    lines += ["", f"seed {seed}; host window {config['data']['mstar_min']}–"
                  f"{config['data']['mstar_max']} Msun; see run.json for every setting."]
    return "\n".join(lines) + "\n"
