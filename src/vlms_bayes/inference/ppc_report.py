"""Words and tables of the posterior predictive checks, from their JSON record.

Light (NumPy only), so that ``comparison.md``, ``report.html`` and ``SUMMARY.txt`` can say
what :mod:`vlms_bayes.inference.ppc` found from ``fit_summary.json`` (key ``"ppc"``)
without importing the model stack.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Fewest objects (or values of a dimension) of a method that the check judges.
MIN_OBJECTS: int = 5
#: Dimensions compared.
DIMENSIONS: tuple[str, ...] = ("logq", "loga", "e")
#: Statistics compared per dimension.
STATISTICS: tuple[str, ...] = ("mean", "sd", "ks", "loo_pit")
#: Words for the dimensions.
LABELS: dict[str, str] = {"logq": "log q", "loga": "log a", "e": "e"}


def _fmt_p(p: Any) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return "0" if p == 0 else f"{p:.2g}"


def _pit_pattern(pit: list[float]) -> str:
    """What a non-uniform set of LOO-PIT values says about the predictive distributions."""
    v = np.asarray(pit, float)
    lo, hi = float(np.mean(v < 0.1)), float(np.mean(v > 0.9))
    if lo + hi > 0.4:
        return (f"{lo + hi:.0%} of the objects fall in the outer 10 % tails of their own "
                "predictive distributions (expected 20 %): the predictive is too narrow or "
                "centred in the wrong place for them")
    if np.mean(v) < 0.35:
        return (f"{np.mean(v < 0.5):.0%} of the objects lie below the median of their "
                "predictive distributions: the model predicts values too high for them")
    if np.mean(v) > 0.65:
        return (f"{np.mean(v > 0.5):.0%} of the objects lie above the median of their "
                "predictive distributions: the model predicts values too low for them")
    mid = float(np.mean((v > 0.25) & (v < 0.75)))
    if mid > 0.7:
        return (f"{mid:.0%} of the objects sit in the central half of their predictive "
                "distributions (expected 50 %): the predictive is too broad")
    return "the objects' places in their predictive distributions are not uniform"


def failure_reason(dim: str, stat: str, d: dict[str, Any]) -> str:
    """One sentence on what a failed test compared.

    The observed statistic against the model's detected replicates (their median), in the
    dimension's units.

    Parameters
    ----------
    dim : str
        ``logq``, ``loga`` or ``e``.
    stat : str
        ``mean``, ``sd``, ``ks`` or ``loo_pit``.
    d : dict
        That dimension's record (``fit_summary.json["ppc"]["methods"][m]["dimensions"]``).
    """
    lab = LABELS.get(dim, dim)
    if stat == "mean" and "obs_mean" in d:
        o, r = d["obs_mean"], d["rep_mean"]
        return (f"{lab}: the observed mean {o:.2f} is {'below' if o < r else 'above'} the "
                f"{r:.2f} the model predicts for this method's detections")
    if stat == "sd" and "obs_sd" in d:
        o, r = d["obs_sd"], d["rep_sd"]
        text = (f"{lab}: observed spread (sd) {o:.2f} against {r:.2f} predicted, so the "
                f"model's detections are {'more spread out' if r > o else 'more concentrated'}"
                " than the data")
        err = d.get("err_rms")
        if err is not None and o < r and o < err:
            text += (f"; the data scatter less than the measurement errors the fit assumes "
                     f"(rms {err:.2g}, floors included), so those errors (or their floor) "
                     "are too wide for these objects, whatever the populations")
        return text
    if stat == "ks" and "obs_ks" in d:
        return (f"{lab}: the distribution's shape differs (KS distance {d['obs_ks']:.2f} to "
                f"the predictive; {d['rep_ks']:.2f} is typical of the model's own replicates)")
    if stat == "loo_pit" and d.get("loo_pit_values"):
        return f"{lab}: {_pit_pattern(d['loo_pit_values'])}"
    return f"{lab}: {stat} differs"


def failure_reasons(rec: dict[str, Any]) -> list[str]:
    """Why a method's check fails: one sentence per failed test, strongest first.

    ``rec`` is one method's record of ``fit_summary.json["ppc"]["methods"]``; a method that
    passes gives an empty list.
    """
    if rec.get("verdict") != "fail":
        return []
    thr = rec.get("threshold") or 0.0
    tests = []
    for dim, d in rec.get("dimensions", {}).items():
        if d.get("status") != "judged":
            continue
        for stat in STATISTICS:
            p = d.get(stat)
            if p is not None and np.isfinite(p) and p < thr:
                tests.append((p, failure_reason(dim, stat, d)))
    out = [t for _, t in sorted(tests, key=lambda x: x[0])]
    out += [t for t in rec.get("failed_tests", []) if t.split(" ")[0] not in LABELS]
    return out


def ppc_table(ppc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per method: n, verdict and the p-values (mean/sd/KS/LOO-PIT) per dimension."""
    rows = []
    for meth, r in ppc["methods"].items():
        row: dict[str, Any] = {"method": meth, "n": r["n_objects"], "verdict": r["verdict"]}
        for dim in DIMENSIONS:
            d = r["dimensions"].get(dim)
            row[dim] = ("–" if d is None or "mean" not in d else
                        f"n={d['n']}: " + " / ".join(_fmt_p(d.get(s)) for s in STATISTICS))
        row["failed"] = "; ".join(r["failed_tests"]) or "–"
        row["why"] = "; ".join(failure_reasons(r)) or "–"
        rows.append(row)
    return rows


def ppc_verdict_text(ppc: dict[str, Any], *, model: str = "The fitted populations") -> str:
    """Plain sentences: which methods fail their check, which pass, which are too few.

    Computed from a ``fit_summary.json`` ``ppc`` record (:meth:`PPCResult.to_dict`).
    """
    meth = ppc["methods"]
    fail = [m for m, r in meth.items() if r["verdict"] == "fail"]
    ok = [m for m, r in meth.items() if r["verdict"] == "pass"]
    few = [f"{m} ({r['n_objects']})" for m, r in meth.items()
           if r["verdict"] == "too few to judge"]
    parts = []
    if fail:
        what = "; ".join(f"{m}: {', '.join(meth[m]['failed_tests'])}" for m in fail)
        parts.append(f"{model} FAIL their posterior predictive check for {', '.join(fail)} "
                     f"({what}): the model does not reproduce what "
                     f"{'this method detects' if len(fail) == 1 else 'these methods detect'}, "
                     "so its populations (or the measurement errors it assumes) do not "
                     "describe those objects. Chiefly: "
                     + "; ".join(f"{m}, {(failure_reasons(meth[m]) or ['–'])[0]}"
                                 for m in fail) + ".")
    if ok:
        parts.append(f"{'They pass' if fail else f'{model} pass their posterior predictive check'}"
                     f" for {', '.join(ok)}.")
    if few:
        parts.append(f"Too few objects to judge (< {ppc.get('min_objects', MIN_OBJECTS)}): "
                     f"{', '.join(few)}.")
    parts.append(f"(Per method: fail when any p-value < α / number of tests, α = "
                 f"{ppc['alpha']:g}; {ppc['n_draws']} posterior draws.)")
    return " ".join(parts)


def ppc_markdown(ppc: dict[str, Any], *, other: dict[str, Any] | None = None) -> str:
    """The ``comparison.md`` section of the posterior predictive checks.

    ``other``: the ``ppc`` record of the same data fitted with the other selection
    setting (the naive fit beside a selection-aware one), summarised in words.
    """
    lines = ["## Posterior predictive checks per discovery method", "",
             ppc_verdict_text(ppc), "",
             "Replicates of every object from the posterior populations, detected by its own "
             "method around its own host and observed with its own errors and kernels "
             "(m sin i, projection). p-values per dimension: mean / sd / KS distance to the "
             "pooled predictive / LOO-PIT uniformity (0: no replicate as extreme). "
             f"Rule: {ppc['rule']}; across methods the chance that a correct model fails "
             "some method grows with their number (≤ α per method).", "",
             "| method | n | verdict | log q | log a | e | failed tests |",
             "|---|---|---|---|---|---|---|"]
    rows = ppc_table(ppc)
    lines += [f"| {r['method']} | {r['n']} | {r['verdict']} | {r['logq']} | {r['loga']} | "
              f"{r['e']} | {r['failed']} |" for r in rows]
    why = [f"- **{r['method']}**: {r['why']}." for r in rows if r["why"] != "–"]
    if why:
        lines += ["", "Why the failing methods fail (observed against the model's detected "
                  "replicates):", "", *why]
    lines += [f"- note: {n}" for n in ppc.get("notes", [])]
    if other is not None:
        naive = other.get("selection") == "none"
        lines += ["", f"The same data fitted {'without' if naive else 'with'} the selection "
                  "correction: " + ppc_verdict_text(
                      other, model="The naive fit's populations" if naive
                      else "The selection-aware fit's populations")]
    return "\n".join(lines) + "\n"
