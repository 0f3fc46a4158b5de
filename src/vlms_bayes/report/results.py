"""Sections of ``report.html`` for the Bayesian fit, the comparison and the feasibility map.

Like :mod:`vlms_bayes.report.sections`, every sentence is computed from the run's files.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.feasibility.disk import disk_lifetime_quantile_yr
from vlms_bayes.inference.ppc_report import ppc_table, ppc_verdict_text
from vlms_bayes.report.elements import RunFolder, csv_table, esc, figure, notice, table
from vlms_bayes.report.format import fmt, fmt_prob
from vlms_bayes.report.sections import _NO_FEAS, _NO_FIT, feasibility_numbers


def _pop_table(fit: dict) -> pd.DataFrame:
    rows = []
    for par, by_pop in fit.get("population_parameters", {}).items():
        for pop, s in by_pop.items():
            rows.append({"parameter": par, "population": pop, "median": s.get("q50"),
                         "5%": s.get("q05"), "95%": s.get("q95"), "sd": s.get("sd")})
    return pd.DataFrame(rows)


def reference_text(run: RunFolder, fit: dict) -> str:
    """The reference object's classification by the posterior and by the logistic baseline."""
    out = []
    obj = run.csv("objects_with_probs.csv")
    for r in fit.get("reference") or []:
        txt = (f"<b>{esc(r['name'])}: P(binary-like) = {esc(fmt_prob(r['P_binary_like']))}</b> "
               f"(90% interval {esc(fmt_prob(r['P_binary_like_lo90']))}–"
               f"{esc(fmt_prob(r['P_binary_like_hi90']))})")
        if obj is not None and "P_binary_like_logistic" in obj.columns:
            row = obj[obj["name"] == r["name"]]
            if len(row):
                txt += (f"; the logistic baseline gives "
                        f"{esc(fmt_prob(row['P_binary_like_logistic'].iloc[0]))}")
        width = r["P_binary_like_hi90"] - r["P_binary_like_lo90"]
        txt += (". The interval is wide: the data do not settle its origin." if width > 0.5
                else ".")
        out.append(f"<p>{txt}</p>")
    return "\n".join(out)


def bayes_section(run: RunFolder) -> str:
    """Diagnostics, population parameters, LOO, memberships and the sampler figures."""
    parts = ['<h2 id="bayes">Bayesian mixture</h2>']
    fit = run.json("fit_summary.json")
    if fit is None:
        return parts[0] + notice(_NO_FIT)
    d = fit.get("diagnostics", {})
    pops = fit.get("populations", [])
    parts.append(
        f"<p>K = {fit.get('n_components')} populations ({esc(', '.join(pops))}) fitted to "
        f"{fit.get('n_objects')} objects with {d.get('n_draws_total')} posterior draws. "
        f"Diagnostics {'passed' if d.get('passed') else '<b>failed</b>'}: max R-hat "
        f"{fmt(d.get('max_rhat'), 4)}, min bulk/tail ESS {fmt(d.get('min_ess_bulk'))}/"
        f"{fmt(d.get('min_ess_tail'))}, {fmt(d.get('divergences'))} divergences, min BFMI "
        f"{fmt(d.get('min_bfmi'))}.</p>")
    pp = fit.get("population_parameters", {})
    em = pp.get("e_mean", {})
    if em:
        parts.append("<p>Mean eccentricity by population: " + "; ".join(
            f"{esc(p)} {fmt(s['q50'])} [{fmt(s['q05'])}, {fmt(s['q95'])}]"
            for p, s in em.items()) + " (median [5%, 95%]).</p>")
    parts.append(reference_text(run, fit))
    parts.append("<h3>fit_summary.json: population parameters</h3>"
                 + table(_pop_table(fit), max_rows=12))
    loo = run.csv("loo_comparison.csv")
    if loo is not None:
        parts.append("<h3>loo_comparison.csv</h3><p>PSIS-LOO by K, best first; "
                     f"{int(loo['n_pareto_k_gt_0.7'].sum())} observations with Pareto k &gt; "
                     "0.7 in total (k &gt; 0.7 makes the estimate unreliable).</p>" + table(loo))
    mem = run.csv("memberships.csv")
    if mem is not None:
        wide = ((mem["P_binary_like_hi90"] - mem["P_binary_like_lo90"]) > 0.5).sum()
        parts.append(f"<h3>memberships.csv</h3><p>P(binary-like) for {len(mem)} objects: "
                     f"{int((mem['P_binary_like'] > 0.5).sum())} above 0.5, "
                     f"{int((mem['P_binary_like'] > 0.9).sum())} above 0.9, {int(wide)} with "
                     "a 90% interval wider than 0.5.</p>"
                     + table(mem.sort_values("P_binary_like", ascending=False), max_rows=12))
    parts.append(csv_table(run, "stacked_used.csv", "the rows the model was fitted to.",
                           max_rows=5))
    left = run.csv("left_out.csv")
    if left is not None and len(left):
        parts.append(f"<h3>left_out.csv</h3><p>{len(left)} object(s) of the host-mass window "
                     "that the model could not use, each with the reason.</p>"
                     + table(left, max_rows=10))
    elif left is not None:
        parts.append("<p><code>left_out.csv</code> is empty: the model used every object "
                     "of the host-mass window.</p>")
    if run.has("posterior.nc"):
        run.shown.add("posterior.nc")
        size = (run.path / "posterior.nc").stat().st_size
        parts.append(f"<p><code>posterior.nc</code> ({size:,} bytes) holds every draw "
                     "(ArviZ, NetCDF); <code>vlms-bayes classify --posterior DIR</code> scores "
                     "new objects with it.</p>")
    parts.append(figure(run, "fig_bayes_rank.png",
                        f"rank plots of the chains (uniform ranks mean the chains agree); max "
                        f"R-hat {fmt(d.get('max_rhat'), 4)} "
                        f"(worst: {esc(d.get('worst_variables', {}).get('rhat', '?'))})."))
    parts.append(figure(run, "fig_bayes_corner.png",
                        "joint posterior of the population parameters."))
    parts.append(figure(run, "fig_bayes_ecc_ppc.png",
                        "posterior predictive eccentricity distribution of each population "
                        "against the measured eccentricities; mean e " + ", ".join(
                            f"{esc(p)} {fmt(s['q50'])}" for p, s in em.items()) + "."))
    if fit.get("ppc"):
        parts.append('<h3 id="ppc">Posterior predictive checks per discovery method</h3>'
                     f"<p>{esc(ppc_verdict_text(fit['ppc']))} p-values per dimension: mean / "
                     "sd / KS distance to the pooled predictive / LOO-PIT uniformity.</p>"
                     + table(pd.DataFrame(ppc_table(fit["ppc"]))))
        parts.append(figure(run, "fig_ppc.png",
                            "observed ECDF of each method's objects (black) against the "
                            "replicates of the same objects under the posterior (band: 90% "
                            "of the draws), per dimension."))
    parts.append(figure(run, "fig_bayes_prior_predictive.png",
                        "what the priors alone predict, to show they are weak against the "
                        "data."))
    return "\n".join(p for p in parts if p)


def comparison_section(run: RunFolder) -> str:
    """Bayesian mixture against the baselines (``comparison.json`` and its figures)."""
    parts = ['<h2 id="comparison">Bayesian vs frequentist</h2>']
    cmp = run.json("comparison.json")
    if cmp is None:
        return parts[0] + notice(_NO_FIT)
    mc, mb = cmp.get("model_choice", {}), cmp.get("memberships", {})
    agree = mc.get("agree")
    parts.append(
        f"<h3>comparison.json</h3><p>BIC prefers K = {mc.get('bic_winner_K')}, PSIS-LOO prefers "
        f"{esc(mc.get('loo_best') or 'n/a (no LOO fits)')}"
        + ("" if agree is None else f": they {'agree' if agree else '<b>disagree</b>'}")
        + f". Memberships: {mb.get('n_common')} objects in both, Spearman ρ = "
        f"{fmt(mb.get('spearman_rho'))}, the two agree at 0.5 for "
        f"{fmt(100 * (mb.get('agreement_at_0.5') or float('nan')), 2)}% of them and disagree "
        f"for {mb.get('n_disagree')}.</p>")
    beta = pd.DataFrame(cmp.get("beta", []))
    if len(beta):
        parts.append("<h3>Eccentricity distributions: baseline Beta MLE vs posterior</h3>"
                     + table(beta))
    run.text("comparison.md")
    parts.append("<p>The same comparison as Markdown is in <code>comparison.md</code>.</p>")
    parts.append(csv_table(run, "membership_disagreements.csv",
                           "objects that the two methods put on opposite sides of 0.5, with "
                           "the reason.", max_rows=10,
                           columns=["name", "P_binary_like", "P_binary_like_logistic",
                                    "discoverymethod", "why"]))
    parts.append(figure(run, "fig_bayes_memberships.png",
                        f"posterior P(binary-like) against the logistic baseline's (Spearman ρ "
                        f"= {fmt(mb.get('spearman_rho'))})."))
    parts.append(selection_part(run, cmp.get("selection")))
    return "\n".join(p for p in parts if p)


def selection_part(run: RunFolder, sel: dict[str, Any] | None) -> str:
    """How much of the naive two-population signal was detection-method selection."""
    fit = run.json("fit_summary.json") or {}
    mode = (fit.get("selection") or {}).get("mode", "none")
    if sel is None:
        if mode == "none":
            return ("<h3>Detection-method selection</h3>" + notice(
                "This fit is <b>naive</b> (<code>--selection none</code>): its populations "
                "describe the detected sample, so P(binary-like) partly measures how each "
                "object was found. Run with the default <code>--selection methods</code> to "
                "get intrinsic populations and the side-by-side comparison."))
        if run.has("naive_fit/rejected/VERDICT.txt"):
            return ("<h3>Detection-method selection</h3>" + notice(
                "The naive fit of the same rows failed its diagnostics gate, so the naive vs "
                "selection-aware comparison is left out; its draws and verdict are in "
                "<code>naive_fit/rejected/</code>.", kind="warning"))
        return ""
    removed = sel.get("method_split_removed")
    share = "n/a" if removed is None else f"{fmt(100 * removed, 2)}%"
    ref = "".join(
        f" {esc(r['name'])}'s P(binary-like) is <b>{fmt(r['selection'])}</b> "
        f"[{fmt(r['selection_lo90'])}, {fmt(r['selection_hi90'])}] with the correction and "
        f"{fmt(r['naive'])} [{fmt(r['naive_lo90'])}, {fmt(r['naive_hi90'])}] without."
        for r in sel.get("reference", []))
    text = (
        "<h3>Detection-method selection: naive vs selection-aware</h3><p>The fit above divides "
        "each discovery method's detection probability out (docs/selection.md), so its "
        "populations are intrinsic; the naive fit of the same rows (<code>naive_fit/</code>) "
        "describes the detected sample. A two-population signal that is only survey "
        "selection sorts objects by method: the range over methods of the mean "
        f"P(binary-like) is {fmt(sel.get('method_split_naive'))} naive and "
        f"{fmt(sel.get('method_split_selection'))} selection-aware, so <b>{share}</b> of the "
        f"naive method split was selection.{ref} Objects with P(binary-like) > 0.5: "
        f"{sel.get('n_binary_like_naive')} naive, {sel.get('n_binary_like_selection')} "
        f"selection-aware ({sel.get('n_label_changes')} change label).</p>")
    per = run.csv("selection_per_method.csv")  # the file of this table (marks it shown)
    if per is None:
        per = pd.DataFrame(sel.get("per_method", []))
    return "\n".join([
        text, ("<p>Per discovery method (<code>selection_per_method.csv</code>):</p>"
               + table(per)) if len(per) else "",
        figure(run, "fig_selection_methods.png",
               "per discovery method: its detected objects, the distribution of that method's "
               "detections predicted by the selection-aware posterior, and the intrinsic "
               "populations.")])


def stripes_text(n_draws: Any) -> str:
    """Why the feasibility map shows diagonal stripes (shared draws), for ``n_draws`` draws."""
    n = int(n_draws) if n_draws else None
    quantum = "" if not n else (f" Each draw is worth 1/{n} = {fmt(100 / n, 3)}% of a cell, "
                                "the colour step of one stripe.")
    return ("Why the map can show diagonal stripes: every cell uses the same "
            f"{n or 'set of'} random draws (common random numbers, so that differences "
            "between cells are physical, not sampling noise). A draw's Kozai–Lidov timescale "
            "and its e<sub>max</sub> (with GR and tidal precession) depend on the perturber "
            "only through a<sub>out</sub>³ (1 − e<sub>out</sub>²)<sup>3/2</sup> / "
            "m<sub>out</sub>, so a draw that succeeds does so along a band of constant "
            "m<sub>out</sub> / a<sub>out</sub>³ — a diagonal of slope 3 on these log–log "
            "axes, cut off where the triple becomes unstable. The stripes are single lucky "
            f"draws, not physical structure.{quantum} They smooth out with more draws "
            "(<code>--draws</code> for <code>vlms-bayes feasibility</code>, "
            "<code>--mc-draws</code> for <code>vlms-bayes run</code>).")


def independent_draws_text(n_draws: Any) -> str:
    """The map's sampling noise when every cell has its own draws (issue 16)."""
    n = int(n_draws) if n_draws else None
    per = "" if not n else f" of {n} draws (one draw is {fmt(100 / n, 3)}% of a cell)"
    return ("Every cell has its own independent random draws (one random stream per cell), "
            "so the cell-to-cell scatter is binomial sampling noise" + per + ", not "
            "physical structure; feasibility_map.npz holds each cell's exact 95% interval "
            "(feasible_ci95), and the probabilities over published priors "
            "(origin_probability.json) are the numbers to quote.")


def horizon_text(z: dict[str, Any]) -> str:
    """Why the feasible fraction does (or does not) change with the time horizon.

    Computed from ``feasibility_map.npz``: the survival-floor sensitivity maps of each
    horizon, the share of draws whose Kozai–Lidov timescale exceeds the map's horizon, and
    the share of landed draws that circularise too slowly.
    """
    sens = z.get("sensitivity_fraction")
    hz = z.get("sensitivity_horizons_gyr")
    if sens is None or hz is None or len(hz) < 2:
        return ""
    sens = np.asarray(sens, float)
    hz = [float(h) for h in np.asarray(hz).ravel()]
    h_txt = ", ".join(fmt(h) for h in hz)
    if not all(np.array_equal(sens[0], sens[k]) for k in range(1, len(hz))):
        return (f"The map changes with the horizon ({h_txt} Gyr): some draws need longer than "
                f"{fmt(hz[0])} Gyr for their Kozai–Lidov cycle or tidal circularisation, so "
                "the system's age limits this channel.")
    if not np.any(sens > 0):
        return (f"No draw lands in any cell at any of the horizons ({h_txt} Gyr), so the "
                "maps are identical trivially: this map cannot tell whether the system's age "
                "limits the channel (more draws per cell would).")
    crit = [str(c) for c in z.get("criteria", [])]
    marg = np.asarray(z.get("marginal_pass", []), float)
    casc = np.asarray(z.get("cascade_pass", []), float)
    settings = json.loads(str(z.get("settings_json", "{}")))
    horizon = settings.get("horizon_gyr")
    slow = circ = None
    if "kl_time" in crit and marg.ndim == 3:
        slow = 1.0 - float(np.mean(marg[crit.index("kl_time")]))
    if "circularise" in crit and casc.ndim == 3:
        k = crit.index("circularise")
        landed = float(np.sum(casc[k - 1]))
        circ = 1.0 - float(np.sum(casc[k])) / landed if landed > 0 else None
    txt = (f"With our criteria the maps for horizons of {h_txt} Gyr are identical, cell by "
           "cell: the age of the system does not limit this channel. No draw that stays "
           "stable, reaches the observed orbit, survives and lands there needs between "
           f"{fmt(hz[0])} and {fmt(hz[-1])} Gyr for its Kozai–Lidov cycle or its tidal "
           "circularisation")
    if circ is not None and horizon is not None:
        txt += (f"; tidal circularisation removes {fmt(100 * circ, 2)}% of the landed draws "
                f"at the map's {fmt(horizon)} Gyr horizon"
                + ("." if circ > 0 else ": those that get there do so in time."))
    else:
        txt += "."
    if slow is not None and slow > 0:
        txt += (f" The {fmt(100 * slow, 2)}% of draws whose Kozai–Lidov timescale exceeds "
                f"{fmt(horizon)} Gyr have perturbers too weak or too distant to matter: the "
                "precession from GR and tides then rivals or outpaces the Kozai–Lidov cycle "
                "(their ratio grows with the same a<sub>out</sub>³ / m<sub>out</sub>) and "
                "quenches e<sub>max</sub>, so those draws do not reach the observed orbit "
                "at any of these horizons.")
    seed = z.get("seed_rule_fraction")
    if seed is not None and len(seed) == len(hz):
        seed = np.asarray(seed, float)
        same = all(np.array_equal(seed[0], seed[k]) for k in range(1, len(hz)))
        txt += (" The seed rule (r<sub>p</sub> ≤ r<sub>crit</sub> within the horizon) "
                + ("is identical across the horizons too." if same else
                   f"does change: its mean fraction goes from {fmt(100 * seed[0].mean(), 2)}% "
                   f"at {fmt(hz[0])} Gyr to {fmt(100 * seed[-1].mean(), 2)}% at "
                   f"{fmt(hz[-1])} Gyr."))
    return txt


def feasibility_section(run: RunFolder) -> str:
    """The feasibility map, the sensitivity study, the disk band and the secular check."""
    parts = ['<h2 id="feasibility">Migration feasibility</h2>']
    z = run.npz("feasibility_map.npz")
    if z is None:
        return parts[0] + notice(_NO_FEAS)
    settings = json.loads(str(z.get("settings_json", "{}")))
    tgt = settings.get("target", {})
    s = feasibility_numbers(z)
    crit = [str(c) for c in z.get("criteria", [])]
    lim = np.asarray(z.get("limiting_criterion", [])).ravel()
    share = {crit[k]: float(np.mean(lim == k)) for k in np.unique(lim) if 0 <= k < len(crit)}
    lim_txt = ", ".join(f"{esc(k)} {fmt(100 * v, 2)}%"
                        for k, v in sorted(share.items(), key=lambda kv: -kv[1])) or "n/a"
    f = np.asarray(z["feasible_fraction"])
    parts.append(
        f"<h3>feasibility_map.npz</h3><p>Target {esc(tgt.get('name'))} (M★ = "
        f"{fmt(tgt.get('m_star_msun'))} M☉, M<sub>c"
        f"</sub> = {fmt(tgt.get('mass_mj'))} M<sub>J</sub>, a = {fmt(tgt.get('a_au'), 4)} AU); "
        f"grid of {f.shape[0]} × {f.shape[1]} perturbers (mass × separation) with "
        f"{settings.get('n_draws')} draws per cell, horizon {fmt(settings.get('horizon_gyr'))} "
        f"Gyr, backend {esc(z.get('backend', '?'))}. Mean feasible fraction "
        f"{fmt(100 * s['mean'], 2)}%, "
        + ("no single cell's 95% interval excludes it" if s["best_excludes_mean"] is False
           else f"best cell {fmt(100 * s['best'], 2)}%")
        + f". The criterion that stops most draws, by share of cells: {lim_txt}.</p>")
    parts.append(figure(run, "fig3_feasibility.png",
                        f"feasible fraction over perturber mass and separation; "
                        f"{fmt(100 * s['share_cells'], 2)}% of cells reach ≥ 1% of draws."))
    parts.append(f"<p>{stripes_text(settings.get('n_draws'))}</p>" if "feasible_ci95" not in z
                 else f"<p>{independent_draws_text(settings.get('n_draws'))}</p>")
    sens = run.csv("feasibility_sensitivity.csv")
    if sens is not None:
        lo, hi = sens["mean_fraction"].min(), sens["mean_fraction"].max()
        parts.append(f"<h3>feasibility_sensitivity.csv</h3><p>Over horizons "
                     f"{esc(sorted(set(sens['horizon_gyr'])))} Gyr and the periastron "
                     f"thresholds, the mean feasible fraction ranges from {fmt(100 * lo, 2)}% "
                     f"to {fmt(100 * hi, 2)}%. {horizon_text(z)}</p>" + table(sens))
        parts.append(figure(run, "fig_feasibility_sensitivity.png",
                            f"mean feasible fraction per horizon and threshold, "
                            f"{fmt(100 * lo, 2)}–{fmt(100 * hi, 2)}%."))
    disk = run.csv("disk_migration.csv")
    if disk is not None:
        a1 = disk["a_au"].iloc[(disk["a_au"] - 1.0).abs().argmin()]
        from1 = disk[np.isclose(disk["a_au"], a1)]
        t1 = float(from1["t_migrate_to_target_yr"].min())
        life = float(disk_lifetime_quantile_yr(0.5))
        rel = ("well within" if t1 < 0.1 * life else "within" if t1 < life
               else "<b>longer than</b>")
        n2 = int(disk["gap_opens"].astype(str).str.lower().eq("true").sum())
        parts.append(f"<h3>disk_migration.csv</h3><p>Disk migration over {len(disk)} (start a, "
                     f"disk mass) cases; the companion opens a gap (Type II) in {n2} of them. "
                     f"From a = {fmt(a1)} AU the fastest delivery to the observed orbit takes "
                     f"{fmt(t1)} yr, {rel} "
                     f"the median disk lifetime of very-low-mass stars ({fmt(life)} yr).</p>"
                     + table(disk, max_rows=8))
        parts.append(figure(run, "fig_disk_migration.png",
                            f"migration timescales against the starting a; from {fmt(a1)} AU "
                            f"the fastest delivery takes {fmt(t1)} yr."))
    parts.extend(_octupole_and_perturbers(run))
    chk = run.csv("secular_check.csv")
    if chk is not None:
        parts.append(f"<h3>secular_check.csv</h3><p>{len(chk)} draws integrated with the "
                     "secular equations to check the analytic criteria.</p>"
                     + table(chk, max_rows=10))
    return "\n".join(p for p in parts if p)


def _octupole_and_perturbers(run: RunFolder) -> list[str]:
    """The integrated octupole candidates and the known perturbers (issue 16 outputs)."""
    parts = []
    for name, what in (("octupole_candidates_probability.csv", "systems of P(KL origin)"),
                       ("octupole_candidates_map.csv", "feasible draws of the map")):
        cand = run.csv(name)
        if cand is None or cand.empty:
            continue
        v = cand["verdict"].astype(str).str.lower().eq("true")
        parts.append(f"<h3>{name}</h3><p>{len(cand)} {what} integrated with the secular "
                     f"equations (quadrupole + octupole + GR + tides) over several octupole "
                     f"timescales; {int(v.sum())} reach the observed orbit without "
                     "disruption. The probability and the map's integrated fraction use "
                     "these verdicts where they exist.</p>" + table(cand, max_rows=8))
    known = run.csv("known_perturbers.csv")
    if known is not None:
        has = known[known["perturber"] != "none known"]
        parts.append(f"<h3>known_perturbers.csv</h3><p>Known stellar companions of the "
                     f"hosts of {len(known)} companions: {len(has)} have one (PSCompPars "
                     "sy_snum or a user table); for them P(KL origin | that perturber) is "
                     "computed where the companion's orbit allows. The others have no known "
                     "stellar perturber.</p>"
                     + (table(has, max_rows=20) if len(has) else ""))
    return parts
