"""Model comparison of K = 1, 2, 3 populations with PSIS-LOO (ArviZ 1.x).

The pointwise log-likelihood is the *marginal* likelihood of each object (membership and
latent eccentricity integrated out; :mod:`vlms_bayes.inference.membership`), stored in
the ``log_likelihood`` group as ``obs`` with dims (chain, draw, object).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd


def _loo(dt: Any) -> Any:
    import arviz as az  # heavy: ArviZ

    with warnings.catch_warnings():  # Pareto-k warnings: reported as numbers instead
        warnings.simplefilter("ignore", UserWarning)
        return az.loo(dt, pointwise=True, var_name="obs")


def loo_summary(dt: Any) -> dict[str, Any]:
    """ELPD-LOO of one fit with its standard error and Pareto-k diagnostics."""
    res = _loo(dt)
    k = np.asarray(res.pareto_k, float).ravel()
    return {
        "elpd_loo": float(res.elpd), "se": float(res.se), "p_loo": float(res.p),
        "pareto_k_max": float(np.nanmax(k)),
        "n_pareto_k_gt_0.7": int(np.sum(k > 0.7)),
        "n_objects": int(k.size),
    }


def paired_elpd_difference(dt_a: Any, dt_b: Any) -> tuple[float, float]:
    """ELPD-LOO(a) − ELPD-LOO(b) and its standard error from the paired pointwise terms.

    SE = sqrt(n · Var_i(elpd_a,i − elpd_b,i)) (Vehtari, Gelman & Gabry 2017, eq. 23; the
    population variance, as ArviZ's ``dse``): the same objects enter both fits, so the
    difference is far better determined than the two ELPDs' own standard errors suggest.
    """
    a = np.asarray(_loo(dt_a).elpd_i, float).ravel()
    b = np.asarray(_loo(dt_b).elpd_i, float).ravel()
    if a.shape != b.shape:
        raise ValueError("the two fits must share their objects for a paired difference")
    d = a - b
    return float(d.sum()), float(np.sqrt(d.size * np.var(d)))  # ddof 0, as ArviZ's dse


def loo_compare(fits: dict[str, Any], *, reference: str | None = None) -> pd.DataFrame:
    """Rank fits by ELPD-LOO with differences and their standard errors.

    Parameters
    ----------
    fits : dict
        Label (e.g. ``"K=2"``) -> DataTree with a ``log_likelihood`` group.
    reference : str, optional
        Label of the model every fit is also compared with in pairs (default: the first
        label in sorted order, i.e. ``"K=1"``): ``elpd_diff_vs_ref`` = ELPD(model) −
        ELPD(reference) and ``dse_vs_ref``, its paired standard error. (ArviZ's
        ``elpd_diff``/``dse`` are relative to the *best* model, which may be neither.)

    Returns
    -------
    pandas.DataFrame
        One row per fit, best first: ``elpd_loo, se, p_loo, elpd_diff, dse, weight``, plus
        the Pareto-k counts of :func:`loo_summary`.
    """
    import arviz as az  # heavy: ArviZ

    with warnings.catch_warnings():  # Pareto-k warnings: reported as numbers instead
        warnings.simplefilter("ignore", UserWarning)
        # "none" (a string) returns raw numbers; round_to=None means "rcParams rounding"
        # in ArviZ 1.x and gave ELPDs like -220.0 for -218.43
        cmp = az.compare(fits, var_name="obs", round_to="none")
    cmp = cmp.rename(columns={"elpd": "elpd_loo", "p": "p_loo"})
    keep = [c for c in ("rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse",
                        "warning") if c in cmp.columns]
    out = cmp[keep].copy()
    extra = pd.DataFrame({name: loo_summary(dt) for name, dt in fits.items()}).T
    out["pareto_k_max"] = extra.loc[out.index, "pareto_k_max"].astype(float)
    out["n_pareto_k_gt_0.7"] = extra.loc[out.index, "n_pareto_k_gt_0.7"].astype(int)
    ref = reference if reference is not None else sorted(fits)[0]
    pairs = {name: paired_elpd_difference(dt, fits[ref]) if name != ref else (0.0, 0.0)
             for name, dt in fits.items()}
    out["elpd_diff_vs_ref"] = [pairs[n][0] for n in out.index]
    out["dse_vs_ref"] = [pairs[n][1] for n in out.index]
    out["reference"] = ref
    out.index.name = "model"
    return out.reset_index()
