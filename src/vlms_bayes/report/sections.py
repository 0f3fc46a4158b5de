"""The sections of ``report.html``, each explained in sentences computed from the run's files.

Each function takes a :class:`~vlms_bayes.report.html.RunFolder` and returns an HTML
fragment; a missing optional part gives a notice that says how to produce it. Nothing here
states a finding as fixed text: every number and every comparison word ("prefer",
"differ", "inside") comes from the files.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.data_io.files import REGISTRY
from vlms_bayes.data_io.quarles import table_file_name
from vlms_bayes.inference.ppc_report import ppc_verdict_text
from vlms_bayes.report.elements import RunFolder, csv_table, esc, figure, notice, table
from vlms_bayes.report.format import fmt, fmt_prob
from vlms_bayes.report.headlines import memberships_and_checks
from vlms_bayes.report.selection import MIN_PER_METHOD
from vlms_bayes.report.summary import gmm_lines

_NO_FIT = ("No Bayesian fit in this folder: run <code>vlms-bayes run</code> with the fit "
           "enabled (or <code>vlms-bayes fit</code> and <code>vlms-bayes compare</code>) to get "
           "the population model, memberships and the LOO comparison.")
_NO_FEAS = ("No feasibility map in this folder (the run was made with "
            "<code>--skip-feasibility</code>); run without it, or <code>vlms-bayes "
            "feasibility</code>, for the migration question.")


# ----------------------------------------------------------------------------------------
# the three headline numbers
# ----------------------------------------------------------------------------------------
def model_choice_text(run: RunFolder) -> str:
    """Which population model the data prefer, and by how much."""
    fit = run.json("fit_summary.json") or {}
    loo = fit.get("loo") or []
    gmm = run.json("gmm_summary.json") or {}
    degenerate = {int(k) for k in gmm.get("degenerate") or ()}
    bic = {int(k): float(v) for k, v in (gmm.get("bic") or {}).items()
           if v is not None and int(k) not in degenerate}  # unfitted / degenerate K left out
    bic_txt = ""
    if len(bic) >= 2:
        order = sorted(bic, key=bic.get)
        bic_txt = (f"the frequentist GMM/BIC prefers K = {order[0]} by ΔBIC = "
                   f"{fmt(bic[order[1]] - bic[order[0]])} over K = {order[1]}")
    if len(loo) >= 2:
        best, second = loo[0], loo[1]
        d, dse = abs(float(second["elpd_diff"])), float(second["dse"])
        z = d / dse if dse > 0 else float("inf")
        strength = ("decisively" if z > 4 else "clearly" if z > 2 else
                    "only weakly (within 2 standard errors)")
        txt = (f"The data prefer <b>{esc(best['model'])}</b> populations over "
               f"{esc(second['model'])} {strength}: ΔELPD = <b>{fmt(d)} ± {fmt(dse)}</b> "
               f"(PSIS-LOO, {fmt(z, 2)} standard errors)")
        return txt + (f"; {bic_txt}." if bic_txt else ".")
    if fit:
        txt = (f"Only K = {fit.get('n_components')} was fitted (no LOO comparison of K; "
               "fit with <code>--loo-components 1 2 3</code>)")
        return txt + (f"; {bic_txt}." if bic_txt else ".")
    if bic_txt:
        return f"No Bayesian fit: {bic_txt} (frequentist baseline only)."
    return "Neither the Bayesian fit nor the GMM baseline is in this folder."


def eccentricity_text(run: RunFolder) -> str:
    """Whether the populations' eccentricity distributions differ."""
    cmp = run.json("comparison.json") or {}
    ecc = cmp.get("eccentricity") or {}
    p = ecc.get("posterior_P_mean_e_binary_gt_planet")
    q = ecc.get("posterior_mean_e_difference_q05_q50_q95")
    ks = run.text("ks_test_e.txt")
    ks_txt = ""
    if ks:
        vals = dict(line.split(" = ", 1) for line in ks.splitlines() if " = " in line)
        d_ks, p_ks = vals.get("statistic D"), vals.get("p-value")
        ks_txt = (f"the KS test on the q split gives D = {fmt(d_ks)}, p = {fmt(p_ks)} "
                  f"({vals.get('n_low', '?')} low-q vs {vals.get('n_high', '?')} high-q orbits)")
    if p is not None and q:
        verdict = ("differ" if min(p, 1 - p) < 0.05 else "are not clearly different")
        txt = (f"The eccentricity distributions of the populations <b>{verdict}</b>: "
               f"P(mean e of binary-like &gt; planet-like) = "
               f"<b>{esc(fmt_prob(p, ecc.get('n_draws')))}</b>, difference "
               f"of the means {fmt(q[1])} (90% interval {fmt(q[0])} to {fmt(q[2])})")
        return txt + (f"; {ks_txt}." if ks_txt else ".")
    if ks_txt:
        return f"No posterior comparison in this folder: {ks_txt}."
    return "No eccentricity comparison in this folder."


def feasibility_numbers(z: dict[str, Any], threshold: float = 0.01) -> dict[str, Any]:
    """Summary numbers of ``feasibility_map.npz``: mean fraction, share of cells, ranges."""
    f = np.asarray(z["feasible_fraction"], float)
    m, a = np.asarray(z["m_out_msun"], float), np.asarray(z["a_out_au"], float)
    i, j = np.unravel_index(np.nanargmax(f), f.shape)
    ok = f >= threshold
    out = {"mean": float(np.nanmean(f)), "share_cells": float(np.mean(ok)),
           "best": float(f[i, j]), "best_m": float(m[i]), "best_a": float(a[j]),
           "m_range": None, "a_range": None, "threshold": threshold}
    if ok.any():
        mi, aj = np.nonzero(ok)
        out["m_range"] = (float(m[mi].min()), float(m[mi].max()))
        out["a_range"] = (float(a[aj].min()), float(a[aj].max()))
    # maps with per-cell intervals (independent draws per cell, issue 16): is the best cell
    # distinguishable from the grid mean? None for older maps
    ci = z.get("feasible_ci95")
    out["best_excludes_mean"] = None if ci is None else bool(
        float(np.asarray(ci)[0][i, j]) > out["mean"])
    return out


def feasibility_text(run: RunFolder) -> str:
    """The feasible fraction of perturber space and where it lies."""
    z = run.npz("feasibility_map.npz")
    if z is None:
        return "No feasibility map in this folder."
    s = feasibility_numbers(z)
    settings = json.loads(str(z.get("settings_json", "{}")))
    target = settings.get("target", {}).get("name", "the target")
    lead = ""
    prob = run.json("origin_probability.json")  # issue 16: probabilities over priors first
    if prob and prob.get("kozai_lidov") and prob.get("disk"):
        kl, dk = prob["kozai_lidov"], prob["disk"]
        phys = [{"evolving": "radii evolving with age",
                 "frozen": "today's radii at every age"}.get(settings.get("radii"), ""),
                {"prior": "tidal lags drawn from their priors",
                 "fixed": "fixed tidal Q'"}.get(settings.get("lags"), ""),
                {"prior": "the host's spin from its age-dependent prior",
                 "none": "a non-rotating host"}.get(settings.get("host_spin"), ""),
                {"integrated": "the octupole candidates integrated",
                 "analytic": "quadrupole (analytic) verdicts"}.get(
                     prob.get("kozai_lidov_verdicts"), "")]
        with_ = "; ".join(x for x in phys if x)
        lead = (f"Over published priors (M-dwarf companions; disk masses and lifetimes), "
                f"<b>P(Kozai–Lidov origin) = {fmt(kl['probability'])}</b> (95% interval "
                f"{fmt(kl['low'])}–{fmt(kl['high'])}) and <b>P(disk migration) = "
                f"{fmt(dk['probability'])}</b> ({fmt(dk['low'])}–{fmt(dk['high'])})"
                + (f", with {esc(with_)}" if with_ else "") + "; what they assume in full "
                "is in origin_probability.json. On the perturber grid, ")
    txt = lead + (f"Kozai–Lidov cycles plus tides can bring {esc(target)} to its orbit in a "
           f"<b>{fmt(100 * s['mean'], 2)}%</b> mean fraction of draws over the perturber grid; "
           f"{fmt(100 * s['share_cells'], 2)}% of the cells reach ≥ 1% of draws")
    if s["m_range"] is not None:
        best = (f"best cell {fmt(100 * s['best'], 2)}% at {fmt(s['best_m'])} M☉, "
                f"{fmt(s['best_a'])} AU")
        if s["best_excludes_mean"] is False:  # quote it only where it stands out
            best = "no single cell's 95% interval excludes the grid mean"
        txt += (f", for perturbers of {fmt(s['m_range'][0])}–{fmt(s['m_range'][1])} M☉ at "
                f"{fmt(s['a_range'][0])}–{fmt(s['a_range'][1])} AU ({best}).")
    else:
        txt += "; no cell reaches 1% of draws."
    return txt


def membership_text(run: RunFolder) -> str:
    """The reference object's P(binary-like), the per-method means and the method split."""
    mb = memberships_and_checks(run.path)  # reads fit_summary.json and memberships.csv
    if mb is None:
        return "No Bayesian fit in this run."
    run.shown.update(n for n in ("fit_summary.json", "memberships.csv") if run.has(n))
    parts = []
    ref = mb.get("reference")
    if ref and ref.get("P_binary_like") is not None:
        parts.append(f"<b>{esc(ref['name'])}</b>: P(binary-like) = "
                     f"<b>{fmt(ref['P_binary_like'])}</b> (90% interval {fmt(ref.get('lo90'))}"
                     f" to {fmt(ref.get('hi90'))}).")
    per = mb.get("per_method") or {}
    if per:
        parts.append("Mean P(binary-like) by discovery method: " + ", ".join(
            f"{esc(m)} {fmt(v['mean_P'], 2)} (n = {v['n']})" for m, v in per.items())
            + f"; their range (the method split, methods with ≥ {MIN_PER_METHOD} objects) is "
            f"<b>{fmt(mb.get('method_split'), 2)}</b>. An origin does not depend on how a "
            "companion was found, so a large split means the second population also tracks "
            "what each survey can detect (docs/bayes.md, Ablation).")
    return " ".join(parts) or "The fit names no reference object."


def headlines(run: RunFolder) -> str:
    """The three headline numbers of the study, and a warning if the sampler failed its gate."""
    items = [("Which population model do the data prefer?", model_choice_text(run)),
             ("Do the populations' eccentricity distributions differ?", eccentricity_text(run)),
             ("Could an outer perturber have brought the companion in?", feasibility_text(run)),
             ("Which population is the reference object in, and does membership depend on "
              "the survey?", membership_text(run))]
    out = ['<section class="headlines"><h2 id="headlines">Headline numbers</h2><ol>']
    out += [f"<li><b>{esc(q)}</b><br>{a}</li>" for q, a in items]
    out.append("</ol></section>")
    fit = run.json("fit_summary.json")
    if fit and not fit.get("diagnostics", {}).get("passed", True):
        fails = "; ".join(fit["diagnostics"].get("failures", []))
        out.append(notice(f"The Bayesian sampler did <b>not</b> pass its diagnostics gate "
                          f"({esc(fails)}); its numbers are provisional. Re-run with more "
                          "draws/tuning before quoting them.", kind="warning"))
    if fit and fit.get("ppc"):  # a method whose PPC fails is said so here, in words
        out.append(notice(esc(ppc_verdict_text(fit["ppc"])) + " Details: fig_ppc.png and the "
                          "posterior predictive section below.",
                          kind="warning" if fit["ppc"].get("failing") else "notice"))
    return "\n".join(out)


# ----------------------------------------------------------------------------------------
# data and baselines
# ----------------------------------------------------------------------------------------
def data_section(run: RunFolder, record: dict[str, Any]) -> str:
    """The stacked sample: counts and the two catalogue figures."""
    st = run.csv("vlms_companions_stacked.csv")
    parts = ['<h2 id="data">The sample</h2>']
    if st is None:
        return parts[0] + notice("vlms_companions_stacked.csv is missing from this folder.")
    win = st[st["in_window"].astype(bool)]
    cfg = record.get("config", {}).get("data", {})
    by_src = ", ".join(f"{k} {v}" for k, v in win["source"].value_counts().items())
    by_m = ", ".join(f"{k} {v}" for k, v in win["discoverymethod"].value_counts().items())
    ecc = win["ecc_status"].value_counts()
    parts.append(
        f"<p>{len(win)} companions orbit hosts of {fmt(cfg.get('mstar_min'))}–"
        f"{fmt(cfg.get('mstar_max'))} M☉ (by source: {esc(by_src)}; by method: {esc(by_m)}). "
        f"{int((win['mass_kind'] == 'msini').sum())} masses are minimum masses and "
        f"{int((win['mass_kind'] == 'mass_radius').sum())} come from a mass–radius relation; "
        f"{int(ecc.get('measured', 0))} eccentricities are measured, "
        f"{int(ecc.get('upper_limit', 0))} are upper limits, {int(ecc.get('fixed_zero', 0))} "
        f"are an assumed e = 0 and {int(ecc.get('missing', 0))} are missing.</p>")
    ref = st[st["is_reference"].astype(bool)]
    if len(ref):
        r = ref.iloc[0]
        parts.append(f"<p>Reference object {esc(r['name'])}: host {fmt(r['st_mass'])} M☉ "
                     f"({'inside' if bool(r['in_window']) else 'outside'} the window), "
                     f"M<sub>c</sub> = {fmt(r['pl_bmassj'])} M<sub>J</sub>, q = {fmt(r['q'])},"
                     f" a = {fmt(r['pl_orbsmax'], 4)} AU, e = {fmt(r['pl_orbeccen'])}.</p>")
    n_bd = int((win["pl_bmassj"] >= 13).sum())
    parts.append(figure(run, "fig1_massmass.png",
                        f"host mass against companion mass; {n_bd} of {len(win)} companions lie "
                        f"above 13 M<sub>J</sub> and the median mass ratio is "
                        f"q = {fmt(win['q'].median())}."))
    shown = int(win["pl_orbeccen"].notna().sum())
    parts.append(figure(run, "fig2_ae.png",
                        f"eccentricity against log a, coloured by log q; {shown} companions "
                        f"have an e value ({int(ecc.get('upper_limit', 0))} of them upper "
                        f"limits, drawn as arrows, and {int(ecc.get('fixed_zero', 0))} assumed "
                        "circular, drawn distinctly)."))
    parts.append(csv_table(run, "vlms_companions_stacked.csv",
                           "one row per companion with uncertainties and flags.", max_rows=10))
    parts.append(csv_table(run, "duplicates_dropped.csv",
                           "Brown Dwarf catalogue rows dropped as duplicates of PSCompPars."))
    return "\n".join(p for p in parts if p)


def baseline_section(run: RunFolder) -> str:
    """GMM/BIC, Beta fits, KS test and the logistic classifier."""
    parts = ['<h2 id="baselines">Frequentist baselines</h2>']
    gmm = run.json("gmm_summary.json")
    if gmm:
        notes = gmm.get("notes") or {}
        bic = pd.DataFrame({"K": list(gmm["bic"]), "BIC": list(gmm["bic"].values()),
                            "note": [notes.get(k, "") for k in gmm["bic"]]})
        rows = gmm.get("rows_description")
        parts.append("<h3>gmm_summary.json</h3><p>Gaussian mixtures in (log q, log a) on "
                     f"{gmm.get('n')} objects" + (f" ({esc(rows)})" if rows else "") + ": "
                     + esc(" ".join(ln.strip() for ln in gmm_lines(gmm)[1:]) or
                           f"preferred K = {gmm.get('winner')}.") + "</p>" + table(bic))
    beta = run.csv("beta_e_params.csv")
    if beta is not None:
        lines = [f"{esc(r['subset'])} (n = {fmt(r['n'])}): fitted mean e = "
                 f"{fmt(r.get('mean_e_beta'))} (sample mean {fmt(r.get('sample_mean_e'))}), "
                 f"α = {fmt(r['alpha'])} [{fmt(r['alpha_p5'])}, {fmt(r['alpha_p95'])}]"
                 for _, r in beta.iterrows()]
        parts.append("<h3>beta_e_params.csv</h3><p>Beta maximum-likelihood fits of e with 5–95% "
                     "bootstrap intervals: " + "; ".join(lines) + ".</p>"
                     + table(beta.drop(columns=["note"], errors="ignore")))
    ks = run.text("ks_test_e.txt")
    if ks:
        parts.append(f"<h3>ks_test_e.txt</h3><pre>{esc(ks)}</pre>")
    lg = run.json("logistic_summary.json")
    if lg:
        parts.append(f"<h3>logistic_summary.json</h3><p>{esc(lg.get('model', ''))} on "
                     f"{lg.get('n_train')} objects ({lg.get('n_positive')} positive, labels "
                     f"{esc(lg.get('label_source'))}): cross-validated AUROC "
                     f"{fmt(lg.get('auroc_mean'))} ± {fmt(lg.get('auroc_sd'))} (also in "
                     "<code>logistic_auroc.txt</code>).</p>")
        if lg.get("warning"):
            parts.append(notice(esc(lg["warning"])))
        run.text("logistic_auroc.txt")
    parts.append(csv_table(run, "logistic_coefficients.csv",
                           "coefficients on standardised and original feature scales."))
    obj = run.csv("objects_with_probs.csv")
    if obj is not None:
        col = "P_binary_like" if "P_binary_like" in obj.columns else "P_binary_like_logistic"
        obj = obj.sort_values(col, ascending=False)
        n_hi = int((obj[col] > 0.5).sum())
        parts.append(f"<h3>objects_with_probs.csv</h3><p>Every object with its membership "
                     f"probabilities; {n_hi} of {len(obj)} have {esc(col)} &gt; 0.5 (sorted "
                     "by it).</p>" + table(obj, max_rows=15))
    return "\n".join(p for p in parts if p)


# ----------------------------------------------------------------------------------------
# provenance
# ----------------------------------------------------------------------------------------
QUARLES_CITATION = ("Quarles et al. 2020, AJ 159, 80: N-body stability limits of "
                    "circumstellar planets in binaries")


def _step_table_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for the Quarles et al. (2020) tables that steps read (recorded as step inputs).

    The feasibility map and the robustness suite read them through the data registry, so
    they appear among the steps' inputs of ``run.json`` rather than its ``inputs``.
    """
    seen = set(record.get("inputs") or {})
    incl = ((record.get("config") or {}).get("feasibility") or {}).get("quarles_incl_deg")
    # a tabulated inclination reads one table; an interpolated one its neighbours
    only = (table_file_name(incl) if incl is not None and float(incl) in (0, 30, 45, 180)
            else None)
    rows: dict[str, dict[str, Any]] = {}
    for step in (record.get("steps") or {}).values():
        for name, sha in ((step or {}).get("inputs") or {}).items():
            if not name.startswith("quarles2020/") or name in seen or name in rows \
                    or (only is not None and name != only):
                continue
            entry = REGISTRY.get(name)
            rows[name] = {"source": name, "origin": QUARLES_CITATION, "date": None,
                          "rows": None, "sha256": sha,
                          "location": entry.url if entry is not None else None}
    return [rows[k] for k in sorted(rows)]


def sources_section(run: RunFolder, record: dict[str, Any]) -> str:
    """The data sources with dates, hashes and row counts (from ``run.json``)."""
    rows = [{"source": k, "origin": v.get("origin"), "date": v.get("date"),
             "rows": v.get("rows"), "sha256": v.get("sha256"),
             "location": v.get("url") or v.get("path")}
            for k, v in (record.get("inputs") or {}).items()]
    quarles = _step_table_rows(record)
    rows += quarles
    out = ['<h2 id="sources">Data sources</h2>']
    if not rows:
        return out[0] + notice("run.json records no input files.")
    out.append("<p>The catalogues this run read, with their dates and SHA-256 hashes (a "
               "different hash means different data).</p>")
    out.append(table(pd.DataFrame(rows)))
    if quarles:
        names = ", ".join(f"<code>{esc(r['source'])}</code>" for r in quarles)
        out.append(f"<p>The stability of the companion's orbit in the host–perturber binary "
                   f"(feasibility map) comes from {names} of {esc(QUARLES_CITATION)}, pinned "
                   "by SHA-256.</p>")
    for k, v in (record.get("inputs") or {}).items():
        if v.get("adql"):
            out.append(f"<p>{esc(k)} query: <code>{esc(v['adql'])}</code></p>")
    return "\n".join(out)


def run_section(run: RunFolder, record: dict[str, Any]) -> str:
    """Timings, seeds, environment and every setting (collapsed)."""
    t = record.get("timings_s") or {}
    out = ['<h2 id="run">How this run was made</h2>']
    if t:
        out.append(f"<p>{len(t)} steps in {fmt(sum(t.values()))} s; seeds "
                   f"{esc(json.dumps(record.get('seeds', {})))}.</p>")
        out.append(table(pd.DataFrame({"step": list(t), "seconds": list(t.values())})))
    env = record.get("environment", {})
    pk = ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items())
    out.append(f"<p class=\"meta\">Python {esc(env.get('python', '?'))} on "
               f"{esc(env.get('platform', '?'))}; {esc(pk)}.</p>")
    out.append("<details><summary>every setting (run.json)</summary><pre>"
               f"{esc(json.dumps(record.get('config', {}), indent=1))}</pre></details>")
    summary = run.text("SUMMARY.txt")
    if summary:
        out.append("<details><summary>SUMMARY.txt</summary><pre>"
                   f"{esc(summary)}</pre></details>")
    return "\n".join(out)
