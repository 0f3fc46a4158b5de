"""Text reports composed from computed results: ``SUMMARY.txt`` and command read-outs.

Every sentence here is built from numbers passed in; nothing is fixed text about findings.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def fmt(x: Any, nd: int = 3) -> str:
    """A number with ``nd`` significant digits for the text and HTML reports.

    ``n/a`` for NaN/None, integers as integers, ``∞`` for infinity; other values as text.
    """
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return str(x)
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(xf):
        return "n/a"
    if math.isinf(xf):
        return "∞" if xf > 0 else "-∞"
    if xf == int(xf) and abs(xf) < 1e6:
        return str(int(xf))
    return f"{xf:.{nd}g}"


def fmt_prob(p: Any, n_draws: int | None = None, nd: int = 3) -> str:
    """A probability to ``nd`` decimals, or a bound where it shows as 0 or 1.

    A posterior probability estimated from draws is never exactly 0 or 1: where it would
    print as 0 or 1 at ``nd`` decimals, a bound is printed instead, with (when the
    probability is a fraction of ``n_draws`` posterior draws) how many draws fell on the
    other side, e.g. ``"> 0.999 (0 of 4000 draws otherwise)"`` or ``"< 0.001 (2 of 4000
    draws)"``. Without ``n_draws`` (e.g. a mean of per-draw probabilities) only the bound.
    ``n/a`` for None/NaN.
    """
    if p is None:
        return "n/a"
    pf = float(p)
    if math.isnan(pf):
        return "n/a"
    shown = f"{pf:.{nd}f}"
    step = 10.0**-nd
    if 0.0 < float(shown) < 1.0:
        return shown
    high = float(shown) >= 1.0
    txt = f"> {1.0 - step:.{nd}f}" if high else f"< {step:.{nd}f}"
    if n_draws:
        k = round((1.0 - pf if high else pf) * n_draws)
        txt += f" ({k} of {n_draws} draws{' otherwise' if high else ''})"
    return txt


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
    import json
    from pathlib import Path

    from vlms_bayes import __version__
    from vlms_bayes.pipeline import format_counts
    from vlms_bayes.report.headlines import headline_lines

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
            from vlms_bayes.report.selection import selection_lines

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
        from vlms_bayes.data_io.files import REGISTRY

        for name, entry in REGISTRY.items():
            if name.startswith("quarles2020/"):
                lines.append(f"  {name}: {entry.description}")
                lines.append(f"    sha256 {entry.sha256}, url {entry.url}")
    lines += ["", f"seed {seed}; host window {config['data']['mstar_min']}–"
                  f"{config['data']['mstar_max']} Msun; see run.json for every setting."]
    return "\n".join(lines) + "\n"
