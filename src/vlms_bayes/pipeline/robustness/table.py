"""Headline numbers of one refit, their conclusions, and the ``robustness.csv`` table.

:func:`_variant_headlines` reads the in-memory results of one variant (the baselines of
:func:`vlms_bayes.pipeline.compute_baselines` and the :class:`~vlms_bayes.inference.fit.
FitResult` of a K = 2 fit with the K = 1 LOO fit) and returns the study's headline
numbers. :func:`conclusion` turns a number into the verdict a reader would draw from it,
so the table and the figure can say whether a variant changes the conclusion, not only
the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.report.selection import method_split, per_method_memberships

#: Headline numbers: key -> description (in the order of the table and the figure).
NUMBERS: dict[str, str] = {
    "delta_elpd_k2_k1": "ΔELPD-LOO (K=2 − K=1) ± SE",
    "bic_winner_k": "GMM/BIC winner K",
    "p_mean_e_binary_gt_planet": "P(mean e binary-like > planet-like)",
    "ks_p_value": "KS p-value of e (q split)",
    "reference_p_binary_posterior": "reference P(binary-like), posterior [90%]",
    "reference_p_binary_logistic": "reference P(binary-like), logistic",
    "method_split": "method split (range of per-method mean P(binary-like))",
    "n_objects": "objects fitted",
    "feasible_fraction": "mean feasible fraction of the perturber grid",
}

TABLE_COLUMNS: tuple[str, ...] = (
    "variant", "group", "label", "number", "description", "value", "lo", "hi",
    "default_value", "conclusion", "default_conclusion", "same_conclusion", "status",
    "diagnostics_passed", "seed",
)


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


#: Headline numbers that come from the Bayesian fit (NaN when its refit failed the gate).
FIT_NUMBERS: tuple[str, ...] = ("delta_elpd_k2_k1", "p_mean_e_binary_gt_planet",
                                "reference_p_binary_posterior", "method_split", "n_objects")
#: Method split at or above which the populations are said to follow the methods.
METHOD_SPLIT_LEVEL: float = 0.5


def _variant_headlines(baselines: Mapping[str, Any],
                       fit: Any | None) -> dict[str, dict[str, float]]:
    """The headline numbers of one variant (pure: reads only the objects given).

    Parameters
    ----------
    baselines : mapping
        Output of :func:`vlms_bayes.pipeline.compute_baselines` (``gmm``, ``ks``,
        ``objects``).
    fit : FitResult or None
        A K = 2 fit whose ``loo`` table holds K = 1 and K = 2; None when the fit was
        rejected by the diagnostics gate (its numbers, :data:`FIT_NUMBERS`, are then
        left out).

    Returns
    -------
    dict
        Number key (:data:`NUMBERS`) -> ``{"value", "lo", "hi"}`` (NaN where the number
        has no interval or could not be computed).
    """
    nan = float("nan")

    def rec(v: float, lo: float = nan, hi: float = nan) -> dict[str, float]:
        return {"value": _num(v), "lo": _num(lo), "hi": _num(hi)}

    out: dict[str, dict[str, float]] = {}
    winner = baselines["gmm"].winner
    out["bic_winner_k"] = rec(nan if winner is None else winner)
    out["ks_p_value"] = rec(baselines["ks"].pvalue)
    objs = baselines["objects"]
    lg = objs.loc[objs["is_reference"].fillna(False).astype(bool), "P_binary_like_logistic"]
    out["reference_p_binary_logistic"] = rec(lg.iloc[0] if len(lg) else nan)
    if fit is None:
        return {k: out[k] for k in NUMBERS if k in out}
    loo = fit.loo
    if loo is not None and {"K=1", "K=2"} <= set(loo["model"]):
        t = loo.set_index("model")
        d = float(t.loc["K=2", "elpd_loo"] - t.loc["K=1", "elpd_loo"])
        worse = "K=1" if d >= 0 else "K=2"
        se = float(t.loc[worse, "dse"])
        out["delta_elpd_k2_k1"] = rec(d, d - se, d + se)
    else:
        out["delta_elpd_k2_k1"] = rec(nan)
    post = fit.posterior["posterior"]
    em = np.asarray(post["e_mean"].values, float)
    em = em.reshape(-1, em.shape[-1])
    if em.shape[-1] > 1:
        out["p_mean_e_binary_gt_planet"] = rec(np.mean(em[:, -1] > em[:, 0]))
    else:
        out["p_mean_e_binary_gt_planet"] = rec(nan)
    ref = fit.reference
    if ref is not None and len(ref):
        r = ref.iloc[0]
        out["reference_p_binary_posterior"] = rec(r["P_binary_like"], r["P_binary_like_lo90"],
                                                  r["P_binary_like_hi90"])
    else:
        out["reference_p_binary_posterior"] = rec(nan)
    members = getattr(fit, "memberships", None)
    if members is not None and "discoverymethod" in members.columns:
        out["method_split"] = rec(method_split(per_method_memberships(members)))
    else:
        out["method_split"] = rec(nan)
    out["n_objects"] = rec(fit.data.n)
    return {k: out[k] for k in NUMBERS if k in out}


def conclusion(number: str, value: float, lo: float = float("nan"),
               hi: float = float("nan")) -> str:
    """The verdict a reader draws from one headline number ("" when there is none).

    ΔELPD: K=2 or K=1 preferred when the difference exceeds 2 SE, else indistinguishable;
    probabilities of the e comparison: decided beyond 0.95 / below 0.05; KS: p < 0.05;
    the reference's memberships: above or below 0.5; method split: at or above
    :data:`METHOD_SPLIT_LEVEL` the populations follow the discovery methods; feasible
    fraction: any feasibility.
    """
    if not np.isfinite(value):
        return "n/a"
    if number == "delta_elpd_k2_k1":
        se = 0.5 * (hi - lo) if np.isfinite(hi) and np.isfinite(lo) else 0.0
        if value > 2 * se:
            return "K=2 preferred"
        if value < -2 * se:
            return "K=1 preferred"
        return "K=2 and K=1 indistinguishable"
    if number == "bic_winner_k":
        return f"K={round(value)}"
    if number == "p_mean_e_binary_gt_planet":
        if value > 0.95:
            return "binary-like more eccentric"
        if value < 0.05:
            return "planet-like more eccentric"
        return "no clear difference"
    if number == "ks_p_value":
        return "e differ (p < 0.05)" if value < 0.05 else "no significant difference"
    if number.startswith("reference_p_binary"):
        return "binary-like" if value > 0.5 else "planet-like"
    if number == "method_split":
        return ("populations follow the methods" if value >= METHOD_SPLIT_LEVEL
                else "methods mixed")
    if number == "feasible_fraction":
        return "feasible somewhere" if value > 0 else "nowhere feasible"
    return ""


def headline_rows(name: str, group: str, label: str, headlines: Mapping[str, Mapping[str, float]],
                  *, status: str = "ok", diagnostics_passed: bool | None = None,
                  seed: int | None = None) -> list[dict[str, Any]]:
    """Rows of the robustness table for one variant (default columns filled later)."""
    rows = []
    for key, desc in NUMBERS.items():
        if key not in headlines:
            continue
        h = headlines[key]
        rows.append({"variant": name, "group": group, "label": label, "number": key,
                     "description": desc, "value": h["value"], "lo": h["lo"], "hi": h["hi"],
                     "conclusion": conclusion(key, h["value"], h["lo"], h["hi"]),
                     "status": status, "diagnostics_passed": diagnostics_passed,
                     "seed": seed})
    return rows


def failed_rows(name: str, group: str, label: str, reason: str,
                numbers: Sequence[str], *, seed: int | None = None,
                diagnostics_passed: bool | None = None,
                prefix: str = "failed") -> list[dict[str, Any]]:
    """Rows of a variant whose refit failed (values NaN, the reason in ``status``).

    ``prefix`` starts the status: ``failed`` for an error, ``gate failed`` for a fit
    rejected by the diagnostics gate (with ``diagnostics_passed=False``).
    """
    nan = float("nan")
    heads = {k: {"value": nan, "lo": nan, "hi": nan} for k in numbers}
    return headline_rows(name, group, label, heads, status=f"{prefix}: {reason}", seed=seed,
                         diagnostics_passed=diagnostics_passed)


def finish_table(rows: list[dict[str, Any]], *, default_variant: Mapping[str, str]) -> pd.DataFrame:
    """Add each number's default value and conclusion, and whether the variant keeps it.

    Parameters
    ----------
    rows : list of dict
        From :func:`headline_rows` / :func:`failed_rows`.
    default_variant : mapping
        Number key -> name of the variant that holds its default (``default`` for the
        refits; the default horizon and threshold for the feasibility grid).
    """
    table = pd.DataFrame(rows)
    ref = {}
    for key, var in default_variant.items():
        hit = table.loc[(table["number"] == key) & (table["variant"] == var)]
        if len(hit):
            ref[key] = (hit["value"].iloc[0], hit["conclusion"].iloc[0])
    table["default_value"] = [ref.get(k, (np.nan, ""))[0] for k in table["number"]]
    table["default_conclusion"] = [ref.get(k, (np.nan, ""))[1] for k in table["number"]]
    ok = table["status"].eq("ok") & table["conclusion"].ne("n/a") \
        & table["default_conclusion"].ne("n/a") & table["conclusion"].ne("")
    same = table["conclusion"] == table["default_conclusion"]
    table["same_conclusion"] = np.where(ok, same, None)
    for col in TABLE_COLUMNS:
        if col not in table.columns:
            table[col] = None
    return table.loc[:, list(TABLE_COLUMNS)]
