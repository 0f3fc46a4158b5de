"""Check the analytic criteria of the map against secular integrations of the same draws.

A random subset of (cell, draw) pairs that are dynamically stable and have t_KL within the
horizon (where the analytic and the secular verdicts can differ) is integrated with
:mod:`vlms_bayes.feasibility.secular` (quadrupole + octupole, GR, tidal bulges, dissipative
tides) for ``n_kl`` quadrupole timescales. The integrated verdict applies the map's
criteria to the eccentricity actually reached (and to disruption during the run); the
confusion matrix compares it with the analytic verdict. Feasible pairs are rare, so up to
half of the subset is drawn from the analytically feasible pairs (stated in the output).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.feasibility import integrated, kozai, secular
from vlms_bayes.feasibility import montecarlo as mc
from vlms_bayes.feasibility.draws import make_draws, stream


@dataclass(frozen=True)
class SecularCheck:
    """Confusion matrix of analytic vs integrated verdicts, and the per-triple table."""

    table: pd.DataFrame
    confusion: dict[str, int]
    agreement: float
    n_feasible_stratum: int
    wall_s: float
    n_kl: float

    def summary_lines(self) -> list[str]:
        """Plain-text summary."""
        c = self.confusion
        return [f"Secular cross-check of {len(self.table)} stable draws ({self.n_feasible_stratum}"
                f" from the analytically feasible stratum), {self.n_kl:g} t_KL each:",
                f"  analytic feasible & integrated feasible {c['both']}, analytic only "
                f"{c['analytic_only']}, integrated only {c['integrated_only']}, neither "
                f"{c['neither']}; agreement {100 * self.agreement:.1f}%",
                f"  median |e_max(analytic) - e_max(integrated)| = "
                f"{np.median(np.abs(self.table.e_max - self.table.e_max_int)):.2e}; "
                f"{100 * self.table.finished.mean():.1f}% of the runs reached their end time",
                *self._octupole_lines()]

    def _octupole_lines(self) -> list[str]:
        t = self.table[self.table.analytic_feasible]
        weak = t[t.eps_oct < kozai.EPS_OCT_FLAG]
        strong = t[t.eps_oct >= kozai.EPS_OCT_FLAG]
        if t.empty:
            return []
        return [f"  analytic-feasible draws confirmed by the integration: "
                f"{100 * weak.integrated_feasible.mean() if len(weak) else np.nan:.0f}% of "
                f"{len(weak)} with eps_oct < {kozai.EPS_OCT_FLAG:g}, "
                f"{100 * strong.integrated_feasible.mean() if len(strong) else np.nan:.0f}% of "
                f"{len(strong)} with eps_oct >= {kozai.EPS_OCT_FLAG:g} (octupole-driven "
                "disruption: the quadrupole verdict is not conservative there)"]


def run_secular_check(config: mc.FeasibilityConfig, table: Any, *, seed: int,
                      n_triples: int = 1000, n_kl: float = 10.0, n_candidates: int = 40_000,
                      rtol: float = 1e-8, max_steps: int = 40_000,
                      chunk: int = 100) -> SecularCheck:
    """Integrate a random subset of stable draws and compare verdicts.

    Parameters
    ----------
    config : FeasibilityConfig
        Map settings (target, horizon, thresholds, tides).
    table : StabilityTable
        Quarles et al. (2020) table.
    seed : int
        Seed of the subset and of the nodes (the draws themselves are the map's).
    n_triples : int
        Number of triples to integrate.
    n_kl : float
        Integration time in units of t_KL (capped at the horizon).
    n_candidates : int
        Random (cell, draw) pairs screened for stability.
    rtol, max_steps : float, int
        Integrator tolerance and step limit.
    chunk : int
        Triples integrated together (grouped by difficulty).

    Returns
    -------
    SecularCheck
    """
    # its own random stream: random cells, each with a fresh draw of the map's distributions
    rng = np.random.default_rng(stream(seed, "secular", 0))
    ci = rng.integers(0, config.n_m_out, n_candidates)
    ca = rng.integers(0, config.n_a_out, n_candidates)
    m_out, a_out = config.m_out_grid[ci], config.a_out_grid[ca]
    sub = make_draws(config, stream(seed, "secular", 1), n=n_candidates)
    o = integrated.draw_outcomes_pairs(config, table, m_out, a_out, sub)
    p = dict(zip(mc.PARAM_FIELDS, mc.kernel_params(config), strict=True))
    T = p["horizon_yr"]
    ok = o["stable_triple"] & o["stable_stype"] & (o["t_kl_yr"] <= T)
    feas = integrated.analytic_strata(o, config)["feasible"]
    idx_f = np.flatnonzero(feas)
    n_f = min(len(idx_f), n_triples // 2)
    pick_f = rng.choice(idx_f, n_f, replace=False) if n_f else np.array([], int)
    rest = np.setdiff1d(np.flatnonzero(ok), pick_f)
    pick = np.concatenate([pick_f, rng.choice(rest, min(len(rest), n_triples - n_f),
                                              replace=False)])
    node = rng.uniform(0, 2 * np.pi, len(pick))
    y0 = secular.initial_state(sub["e0"][pick], sub["incl_rad"][pick],
                               sub["omega_rad"][pick], node, sub["a0_au"][pick])
    n = len(pick)
    # each draw's radii at its first high-e phase, its lags and disruption distance: the
    # same physics as the analytic kernel and the integrated candidates
    sub_p = {k: v[pick] for k, v in sub.items()}
    o_p = {k: v[pick] for k, v in o.items()}
    tp = integrated.triple_params(config, m_out[pick], a_out[pick], sub_p, o_p)
    t_end = np.minimum(n_kl * o["t_kl_yr"][pick], T)
    t0 = time.perf_counter()
    # lanes of a vmapped while_loop run until the slowest is done: group triples of similar
    # difficulty (analytic 1 - e_max, hardest first) into chunks
    order = np.argsort(o["one_minus_e_max"][pick])
    sels = []
    for k in range(0, n, chunk):
        sel = order[k:k + chunk]
        sels.append(np.concatenate([sel, np.full(chunk - len(sel), sel[-1])]))  # one shape
    outs = secular.integrate_batches(
        [(y0[sel], secular.TripleParams(*(x[sel] for x in tp)), t_end[sel],
          o_p["r_dis_au"][sel]) for sel in sels], rtol=rtol, max_steps=max_steps)
    parts = list(zip(sels, outs, strict=True))
    fields = []
    for f in range(len(secular.SecularOutcome._fields)):
        arr = np.empty((n, *parts[0][1][f].shape[1:]), parts[0][1][f].dtype)
        for sel, r in parts:
            arr[sel] = r[f]
        fields.append(arr)
    res = secular.SecularOutcome(*fields)
    wall = time.perf_counter() - t0
    a0 = sub["a0_au"][pick]
    e_int = res.e_max
    a_f_int = a0 * (1 - e_int) * (1 + e_int)
    # the map's migration time (integrated decay at fixed a(1 - e^2), KL duty cycle, radii
    # and lags of each draw), from the integrated e_max
    t_tide = integrated.draw_migration_time_yr(config, a0, a_f_int, sub_p, o_p)
    integ = (~res.disrupted) & (a_f_int <= p["a_hi_au"]) & (a_f_int >= p["a_lo_au"]) \
        & (t_tide <= T)
    ana = feas[pick]
    frame = pd.DataFrame({
        "m_out_msun": m_out[pick], "a_out_au": a_out[pick], "a0_au": a0,
        "e0": sub["e0"][pick], "e_out": sub["e_out"][pick],
        "incl_deg": np.degrees(sub["incl_rad"][pick]), "eps_oct": o["eps_oct"][pick],
        "t_kl_yr": o["t_kl_yr"][pick], "e_max": o["e_max"][pick], "e_max_int": e_int,
        "disrupted_int": res.disrupted, "t_end_yr": t_end, "t_reached_yr": res.t_yr,
        "n_steps": res.n_steps, "finished": (res.t_yr >= t_end * (1 - 1e-12)) | res.disrupted,
        "analytic_feasible": ana, "integrated_feasible": integ,
        "stratum": np.r_[np.full(n_f, "analytic_feasible"), np.full(n - n_f, "random_stable")]})
    conf = {"both": int((ana & integ).sum()), "analytic_only": int((ana & ~integ).sum()),
            "integrated_only": int((~ana & integ).sum()), "neither": int((~ana & ~integ).sum())}
    return SecularCheck(frame, conf, float((ana == integ).mean()), n_f, wall, n_kl)
