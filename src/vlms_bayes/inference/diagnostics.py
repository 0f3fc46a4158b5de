"""The sampler-diagnostics gate: R-hat, bulk/tail ESS, divergences and BFMI.

:func:`diagnose` computes the numbers over every posterior variable (latent
eccentricities included) and says whether each passes; :func:`sample_with_gate` runs a
sampler and, if the gate fails, retries once with a higher target acceptance.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class GateConfig:
    """Thresholds of the gate.

    Parameters
    ----------
    max_rhat : float
        Largest rank-normalised split R-hat allowed (Vehtari et al. 2021 recommend 1.01).
    min_ess_bulk, min_ess_tail : float
        Smallest bulk and tail effective sample sizes allowed (capped at 10% of the total
        number of draws, so that tiny test runs are judged on their own scale).
    max_divergences : int
        Largest number of divergent transitions allowed after warm-up.
    min_bfmi : float
        Smallest Bayesian fraction of missing information of any chain.
    """

    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    min_ess_tail: float = 400.0
    max_divergences: int = 0
    min_bfmi: float = 0.3

    def to_dict(self) -> dict[str, float]:
        """Plain dict for fit_summary.json."""
        return asdict(self)


@dataclass
class Diagnostics:
    """Outcome of the gate for one posterior."""

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    min_bfmi: float
    n_draws_total: int
    passed: bool
    failures: list[str] = field(default_factory=list)
    worst_variables: dict[str, str] = field(default_factory=dict)
    #: Population → chains where it is empty (:func:`empty_populations`).
    empty_populations: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for fit_summary.json."""
        return asdict(self)


def _extreme(tree: Any, fn: Callable[[np.ndarray], float]) -> tuple[float, str]:
    best, name = None, ""
    ds = tree.to_dataset() if hasattr(tree, "to_dataset") else tree
    for var, da in ds.data_vars.items():
        vals = np.asarray(da.values, float)
        if not vals.size:
            continue
        v = fn(vals)
        if best is None or fn(np.array([best, v])) == v:
            best, name = v, var
    return float(best if best is not None else np.nan), name


def stuck_chains(post: Any, *, var_names: list[str] | None = None) -> list[int]:
    """Chains whose draws never move (every variable constant over the draws).

    A chain that sticks — NUTS with a step size collapsed to ~0, e.g. in a funnel — gives
    NaN or infinite R-hat and ESS with warnings from ArviZ; this names it directly.
    """
    names = var_names or list(post.data_vars)
    n_chain = int(post.sizes["chain"])
    moving = np.zeros(n_chain, bool)
    for name in names:
        v = np.asarray(post[name].values, float).reshape(n_chain, post.sizes["draw"], -1)
        moving |= np.any(np.ptp(v, axis=1) > 0, axis=-1)
    return [int(c) for c in np.flatnonzero(~moving)]


#: A population whose median detected share in a chain is below this is empty there.
EMPTY_SHARE: float = 0.01


def empty_populations(post: Any, *, threshold: float = EMPTY_SHARE) -> dict[str, list[int]]:
    """Populations that hold (almost) none of the sample in some chain.

    The share is the detected fraction ``f_det`` of a selection-aware fit, else the weight
    ``w``. An empty population's parameters are unconstrained by the data (only its
    prior), so its chains cannot agree: the R-hat failure that follows says the sample
    supports fewer populations than K, not that the sampler needs tuning.

    Returns
    -------
    dict
        Population name → chains in which its median share is below ``threshold``.
    """
    name = "f_det" if "f_det" in post else "w"
    if name not in post:
        return {}
    v = np.asarray(post[name].values, float)              # (chain, draw, K)
    med = np.median(v, axis=1)
    pops = [str(p) for p in post[name]["population"].values]
    return {pops[k]: [int(c) for c in np.flatnonzero(med[:, k] < threshold)]
            for k in range(len(pops)) if np.any(med[:, k] < threshold)}


def ess_needed(gate: GateConfig, n_draws_total: int) -> tuple[float, float]:
    """Bulk and tail ESS the gate asks for: its thresholds, capped at 10% of the draws."""
    return (min(gate.min_ess_bulk, 0.1 * n_draws_total),
            min(gate.min_ess_tail, 0.1 * n_draws_total))


def parameter_diagnostics(dt: Any, *, gate: GateConfig | None = None) -> Any:
    """R-hat and bulk/tail ESS of every posterior parameter (each population separately).

    The gate (:func:`diagnose`) reports only the extremes; this table names every
    parameter that fails a threshold, so that a rejected fit says *which* part of the
    model did not converge.

    Parameters
    ----------
    dt : xarray.DataTree
        A sampled posterior.
    gate : GateConfig, optional
        Thresholds (the ESS ones capped at 10% of the draws, as in :func:`diagnose`).

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter`` (e.g. ``mu_logq[binary_like]``), ``r_hat``, ``ess_bulk``,
        ``ess_tail`` and ``fails`` (the failed checks, "" when none); failing parameters
        first, then by decreasing R-hat.
    """
    import arviz as az  # heavy: ArviZ
    g = gate or GateConfig()
    post = dt["posterior"]
    n_total = int(post.sizes["chain"] * post.sizes["draw"])
    need_b, need_t = ess_needed(g, n_total)
    with warnings.catch_warnings():  # constant (stuck) chains: NaN, reported in `fails`
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        stats = {"r_hat": az.rhat(dt), "ess_bulk": az.ess(dt, method="bulk"),
                 "ess_tail": az.ess(dt, method="tail")}
    stats = {k: v.to_dataset() if hasattr(v, "to_dataset") else v for k, v in stats.items()}
    rows = []
    for var in post.data_vars:
        da = stats["r_hat"][var]
        labels = [""]
        if da.ndim:
            coords = [[str(c) for c in da[d].values] if d in da.coords
                      else [str(i) for i in range(da.sizes[d])] for d in da.dims]
            labels = ["[" + ",".join(t) + "]" for t in itertools.product(*coords)]
        vals = {k: np.asarray(stats[k][var].values, float).ravel() for k in stats}
        for i, lab in enumerate(labels):
            r, eb, et = vals["r_hat"][i], vals["ess_bulk"][i], vals["ess_tail"][i]
            fails = [f"R-hat > {g.max_rhat}" if not r <= g.max_rhat else "",
                     f"bulk ESS < {need_b:.0f}" if not eb >= need_b else "",
                     f"tail ESS < {need_t:.0f}" if not et >= need_t else ""]
            rows.append({"parameter": f"{var}{lab}", "r_hat": r, "ess_bulk": eb,
                         "ess_tail": et, "fails": "; ".join(f for f in fails if f)})
    table = pd.DataFrame(rows, columns=["parameter", "r_hat", "ess_bulk", "ess_tail", "fails"])
    order = np.lexsort((-np.nan_to_num(table["r_hat"].to_numpy(float), nan=np.inf),
                        table["fails"].eq("").to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def diagnose(dt: Any, *, gate: GateConfig | None = None,
             var_names: list[str] | None = None) -> Diagnostics:
    """Compute the gate's diagnostics of a sampled DataTree.

    Parameters
    ----------
    dt : xarray.DataTree
        Output of :func:`vlms_bayes.inference.sampling.sample`.
    gate : GateConfig, optional
        Thresholds.
    var_names : list of str, optional
        Posterior variables to check (default: all).

    Returns
    -------
    Diagnostics
    """
    import arviz as az  # heavy: ArviZ

    g = gate or GateConfig()
    post = dt["posterior"]
    n_total = int(post.sizes["chain"] * post.sizes["draw"])
    kw = {"var_names": var_names} if var_names else {}
    with warnings.catch_warnings():
        # a stuck (constant) chain makes ArviZ warn about R-hat/ESS; it is reported below
        # as a gate failure of its own instead
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        rhat, rhat_var = _extreme(az.rhat(dt, **kw), np.nanmax)
        ess_b, ess_b_var = _extreme(az.ess(dt, method="bulk", **kw), np.nanmin)
        ess_t, ess_t_var = _extreme(az.ess(dt, method="tail", **kw), np.nanmin)
        bfmi = float(np.min(np.asarray(az.bfmi(dt)["energy"].values)))
    div = int(np.asarray(dt["sample_stats"]["diverging"].values).sum())
    need_b, need_t = ess_needed(g, n_total)
    fails = []
    stuck = stuck_chains(post, var_names=var_names)
    if stuck:
        fails.append(f"chain(s) {', '.join(map(str, stuck))} stuck (constant draws)")
    # one chain has no between-chain R-hat (ArviZ gives NaN): the other checks still apply
    single_chain = int(post.sizes["chain"]) == 1 and not np.isfinite(rhat)
    if not rhat <= g.max_rhat and not single_chain:
        fails.append(f"R-hat {rhat:.3f} > {g.max_rhat} ({rhat_var})")
    if not ess_b >= need_b:
        fails.append(f"bulk ESS {ess_b:.0f} < {need_b:.0f} ({ess_b_var})")
    if not ess_t >= need_t:
        fails.append(f"tail ESS {ess_t:.0f} < {need_t:.0f} ({ess_t_var})")
    if div > g.max_divergences:
        fails.append(f"{div} divergent transitions > {g.max_divergences}")
    if not bfmi >= g.min_bfmi:
        fails.append(f"BFMI {bfmi:.2f} < {g.min_bfmi}")
    empty = empty_populations(post)
    if fails and empty:  # name the cause of the failure (a passed fit just has a rare one)
        fails.append("population(s) " + ", ".join(
            f"{p} (chain(s) {', '.join(map(str, c))})" for p, c in empty.items())
            + f" hold < {EMPTY_SHARE:.0%} of the sample: the data support fewer populations "
            "than K (compare K with LOO); a higher target acceptance will not help")
    return Diagnostics(
        max_rhat=rhat, min_ess_bulk=ess_b, min_ess_tail=ess_t, divergences=div,
        min_bfmi=bfmi, n_draws_total=n_total, passed=not fails, failures=fails,
        worst_variables={"rhat": rhat_var, "ess_bulk": ess_b_var, "ess_tail": ess_t_var},
        empty_populations=empty,
    )


def sample_with_gate(
    run: Callable[[float], Any], *, target_accept: float = 0.9,
    retry_target_accept: float = 0.98, gate: GateConfig | None = None,
) -> tuple[Any, Diagnostics, list[dict[str, Any]]]:
    """Run ``run(target_accept)``; if the gate fails, retry once with a higher target.

    No retry when a population is empty (:func:`empty_populations`): that failure is the
    model's number of populations, which a smaller step size does not change.

    Returns
    -------
    dt : xarray.DataTree
        The last run's posterior.
    diagnostics : Diagnostics
        Its gate outcome.
    attempts : list of dict
        Target acceptance and gate outcome of every attempt (for fit_summary.json).
    """
    attempts = []
    dt = run(target_accept)
    diag = diagnose(dt, gate=gate)
    attempts.append({"target_accept": target_accept, **diag.to_dict()})
    if not diag.passed and retry_target_accept > target_accept and not diag.empty_populations:
        log.warning("diagnostics failed (%s); retrying once with target_accept=%.3f",
                    "; ".join(diag.failures), retry_target_accept)
        dt = run(retry_target_accept)
        diag = diagnose(dt, gate=gate)
        attempts.append({"target_accept": retry_target_accept, **diag.to_dict()})
    return dt, diag, attempts
