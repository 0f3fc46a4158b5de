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


def _fmt_p(p: Any) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return "0" if p == 0 else f"{p:.2g}"


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
                     "so its populations do not describe those objects.")
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
    lines += [f"| {r['method']} | {r['n']} | {r['verdict']} | {r['logq']} | {r['loga']} | "
              f"{r['e']} | {r['failed']} |" for r in ppc_table(ppc)]
    lines += [f"- note: {n}" for n in ppc.get("notes", [])]
    if other is not None:
        naive = other.get("selection") == "none"
        lines += ["", f"The same data fitted {'without' if naive else 'with'} the selection "
                  "correction: " + ppc_verdict_text(
                      other, model="The naive fit's populations" if naive
                      else "The selection-aware fit's populations")]
    return "\n".join(lines) + "\n"
