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


def loo_summary(dt: Any) -> dict[str, Any]:
    """ELPD-LOO of one fit with its standard error and Pareto-k diagnostics."""
    import arviz as az

    with warnings.catch_warnings():  # Pareto-k warnings: reported as numbers instead
        warnings.simplefilter("ignore", UserWarning)
        res = az.loo(dt, pointwise=True, var_name="obs")
    k = np.asarray(res.pareto_k, float).ravel()
    return {
        "elpd_loo": float(res.elpd), "se": float(res.se), "p_loo": float(res.p),
        "pareto_k_max": float(np.nanmax(k)),
        "n_pareto_k_gt_0.7": int(np.sum(k > 0.7)),
        "n_objects": int(k.size),
    }


def loo_compare(fits: dict[str, Any]) -> pd.DataFrame:
    """Rank fits by ELPD-LOO with differences and their standard errors.

    Parameters
    ----------
    fits : dict
        Label (e.g. ``"K=2"``) -> DataTree with a ``log_likelihood`` group.

    Returns
    -------
    pandas.DataFrame
        One row per fit, best first: ``elpd_loo, se, p_loo, elpd_diff, dse, weight``, plus
        the Pareto-k counts of :func:`loo_summary`.
    """
    import arviz as az

    with warnings.catch_warnings():  # Pareto-k warnings: reported as numbers instead
        warnings.simplefilter("ignore", UserWarning)
        cmp = az.compare(fits, var_name="obs", round_to="none")  # raw numbers
    cmp = cmp.rename(columns={"elpd": "elpd_loo", "p": "p_loo"})
    keep = [c for c in ("rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse",
                        "warning") if c in cmp.columns]
    out = cmp[keep].copy()
    extra = pd.DataFrame({name: loo_summary(dt) for name, dt in fits.items()}).T
    out["pareto_k_max"] = extra.loc[out.index, "pareto_k_max"].astype(float)
    out["n_pareto_k_gt_0.7"] = extra.loc[out.index, "n_pareto_k_gt_0.7"].astype(int)
    out.index.name = "model"
    return out.reset_index()
