"""Integrated verdicts for the octupole candidates of the map and of P(Kozai–Lidov origin).

The analytic cascade (:mod:`~vlms_bayes.feasibility.montecarlo`) uses the quadrupole
e_max (with GR, tidal and rotational bulges). Where the octupole is strong the long-term
e_max can be higher (flips, extreme eccentricities), so the analytic verdict is not
conservative there.
This module integrates the candidates with the secular equations
(:mod:`~vlms_bayes.feasibility.secular`: quadrupole + octupole + GR + tidal and rotational
bulges + dissipative tides) for

    t_end = min(max(n_kl t_KL, n_oct t_oct), horizon),   t_oct = t_KL / sqrt(ε_oct),

i.e. several octupole timescales (default 5, at least 10 t_KL), and applies the map's
criteria to the eccentricity actually reached: not disrupted (periastron below the
survival floor at any time), a_F = a0 (1 − e_max²) inside the observed-orbit window, and
the migration time from that a_F within the horizon (:func:`draw_migration_time_yr`, as in
the map). Each draw keeps its own physics (issue 16): the radii of both bodies at its first
high-eccentricity phase set the integrator's tidal bulges and the disruption distance, the
companion's drawn lag its dissipation, and the migration time marches the radii along their
tracks with both drawn lags, exactly as the analytic kernel does
(:func:`triple_params`; ``--radii frozen --lags fixed`` give today's radii and fixed Q').

Candidates (two strata):

* **feasible**: every draw the analytic cascade calls feasible;
* **boundary**: draws that are dynamically stable with t_KL within the horizon, fail only
  because the quadrupole e_max is too low (a_F above the window), and have
  ε_oct ≥ :data:`EPS_OCT_ACTIVE` (the octupole can raise e_max). Draws that fail because
  e_max is already too high (disruption, overshoot), are unstable or are too slow keep
  their analytic verdict; so do draws with ε_oct < :data:`EPS_OCT_ACTIVE`, where the
  octupole changes e_max by less than the map's tolerance (the secular check's weak-octupole
  draws agree to a median |Δe_max| < 0.02).

Integrations cost ~50 ms each on one core, so each stratum is capped
(:class:`IntegrationOptions`): above the cap a uniform random subsample is integrated and
the stratum's arriving share is inferred from it (Jeffreys Beta posterior; P(KL origin)
is the posterior median and the interval its central quantiles, one model for both,
:func:`integrated_probability_from_counts`). Every output states how many draws were
integrated and how many each stratum holds. An integration that hits ``max_steps``
before its end time keeps the analytic verdict (counted as ``unfinished``).

The integration covers several octupole cycles, not the whole migration: a draw that
reaches the window early and would circularise before a later octupole excursion disrupts
it is counted as disrupted (conservative for the KL route).

Random numbers: the subsamples and the nodes of the inner orbits (which the test-particle
octupole depends on) come from the ``secular`` stream of the seed with sub-keys 2 (map)
and 3 (probability), independent of the secular check's sub-keys 0 and 1.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility import migration, probability, secular, tides
from vlms_bayes.feasibility import montecarlo as mc
from vlms_bayes.feasibility.attribution import binomial_interval
from vlms_bayes.feasibility.draws import cell_draws, stream
from vlms_bayes.feasibility.priors import multiplicity_prior

#: Below this ε_oct the octupole cannot change the verdict (analytic verdict kept).
EPS_OCT_ACTIVE: float = 1e-3
#: Sub-keys of the ``secular`` stream used here.
MAP_SUBKEY, PROBABILITY_SUBKEY = 2, 3


@dataclass(frozen=True)
class IntegrationOptions:
    """How many candidates are integrated, and how long.

    Attributes
    ----------
    max_feasible : int
        Cap on the analytically feasible systems of P(KL origin) integrated (0: none).
    max_boundary : int
        Cap on the boundary systems of P(KL origin) integrated (0: none).
    max_map : int
        Cap on the map's analytically feasible draws integrated (0: none).
    n_oct : float
        Integration time in octupole timescales t_KL/sqrt(ε_oct).
    n_kl_min : float
        At least this many t_KL.
    rtol : float
        Integrator tolerance.
    max_steps : int
        Step limit per integration.
    chunk : int
        Integrations run together (lanes of one vmapped loop, grouped by difficulty).
    sensitivity_feasible, sensitivity_boundary : int
        Caps of the two strata in every row of the sensitivity study
        (:func:`integrated_kl_sensitivity`); both 0 (default): analytic verdicts there.
    """

    max_feasible: int = 200
    max_boundary: int = 400
    max_map: int = 200
    n_oct: float = 5.0
    n_kl_min: float = 10.0
    rtol: float = 1e-8
    max_steps: int = 40_000
    chunk: int = 64
    sensitivity_feasible: int = 0
    sensitivity_boundary: int = 0

    def check(self) -> None:
        """Raise :class:`InputDataError` naming the first bad setting."""
        if min(self.max_feasible, self.max_boundary, self.max_map) < 0:
            raise InputDataError("The caps on integrated candidates must be >= 0 (0 skips); "
                                 f"got {self.max_feasible}, {self.max_boundary} and "
                                 f"{self.max_map}.")
        if min(self.sensitivity_feasible, self.sensitivity_boundary) < 0:
            raise InputDataError("The caps of --sensitivity-integrate must be >= 0 (0 0 keeps "
                                 f"the analytic verdicts); got {self.sensitivity_feasible} and "
                                 f"{self.sensitivity_boundary}.")
        if not (self.n_oct > 0 and self.n_kl_min > 0 and 0 < self.rtol < 1e-3
                and self.max_steps > 0 and self.chunk > 0):
            raise InputDataError("Integration settings must be positive (n_oct, n_kl_min, "
                                 "max_steps, chunk) with 0 < rtol < 1e-3; got "
                                 f"{self.n_oct}, {self.n_kl_min}, {self.max_steps}, "
                                 f"{self.chunk}, {self.rtol}.")

    @property
    def enabled(self) -> bool:
        """Whether any candidate is integrated."""
        return max(self.max_feasible, self.max_boundary, self.max_map) > 0

    def record(self) -> dict[str, Any]:
        """Plain dict (``run.json``)."""
        return asdict(self)

    @property
    def sensitivity(self) -> IntegrationOptions | None:
        """The options of the sensitivity rows, None when they stay analytic."""
        if self.sensitivity_feasible == 0 and self.sensitivity_boundary == 0:
            return None
        return dataclasses.replace(self, max_feasible=self.sensitivity_feasible,
                                   max_boundary=self.sensitivity_boundary, max_map=0)


def octupole_time_yr(t_kl_yr: Any, eps_oct: Any) -> np.ndarray:
    """Octupole timescale t_KL / sqrt(ε_oct) (inf for ε_oct = 0)."""
    eps = np.asarray(eps_oct, float)
    with np.errstate(divide="ignore"):
        return np.asarray(t_kl_yr, float) / np.sqrt(eps)


def integration_time_yr(t_kl_yr: Any, eps_oct: Any, horizon_yr: float, *, n_oct: float,
                        n_kl_min: float) -> np.ndarray:
    """min(max(n_kl_min t_KL, n_oct t_oct), horizon)."""
    t_kl = np.asarray(t_kl_yr, float)
    t = np.maximum(n_kl_min * t_kl, n_oct * octupole_time_yr(t_kl, eps_oct))
    return np.minimum(t, horizon_yr)


def _params(config: mc.FeasibilityConfig) -> dict[str, float]:
    return dict(zip(mc.PARAM_FIELDS, map(float, mc.kernel_params(config)), strict=True))


def analytic_strata(outcomes: dict[str, np.ndarray], config: mc.FeasibilityConfig
                    ) -> dict[str, np.ndarray]:
    """Masks of the analytic verdict and of the two candidate strata.

    Parameters
    ----------
    outcomes : dict of numpy.ndarray
        Per-draw physics (:func:`~vlms_bayes.feasibility.montecarlo.draw_outcomes` fields).
    config : FeasibilityConfig
        Thresholds.

    Returns
    -------
    dict
        ``stable`` (both stability criteria), ``feasible`` (all seven criteria),
        ``boundary`` (see the module docstring).
    """
    p = _params(config)
    o = outcomes
    stable = o["stable_triple"] & o["stable_stype"]
    kl_ok = stable & (o["t_kl_yr"] <= p["horizon_yr"])
    # each draw's disruption distance (the companion's radius at its first high-e phase)
    feasible = kl_ok & (o["a_f_au"] <= p["a_hi_au"]) & (o["r_p_au"] >= o["r_dis_au"]) \
        & (o["a_f_au"] >= p["a_lo_au"]) & (o["t_tide_yr"] <= p["horizon_yr"])
    boundary = kl_ok & ~feasible & (o["a_f_au"] > p["a_hi_au"]) \
        & (o["eps_oct"] >= EPS_OCT_ACTIVE)
    return {"stable": np.asarray(stable), "feasible": np.asarray(feasible),
            "boundary": np.asarray(boundary)}


#: Systems per call of the per-draw physics (one compiled shape; the last block is padded).
OUTCOME_BLOCK = 2**14
_OUTCOME_JIT: dict[str, Any] = {}


def draw_outcomes_pairs(config: mc.FeasibilityConfig, table: Any, m_out: np.ndarray,
                        a_out: np.ndarray, draws: dict[str, np.ndarray]
                        ) -> dict[str, np.ndarray]:
    """Per-draw physics of the map's kernel, one perturber per draw (JAX, float64).

    Computed in fixed blocks of :data:`OUTCOME_BLOCK` (padded), so every call, whatever
    its length, reuses one compiled function.
    """
    import jax  # heavy: jax
    import jax.numpy as jnp  # heavy: jax

    params = mc.kernel_params(config)
    n = len(m_out)
    with jax.enable_x64(True):
        if "f" not in _OUTCOME_JIT:
            _OUTCOME_JIT["f"] = jax.jit(jax.vmap(
                lambda p, t, m, a, d: mc._draw_outcome(p, t, m, a, d),
                in_axes=(None, None, 0, 0, 0)))
        f = _OUTCOME_JIT["f"]
        parts = []
        for start in range(0, max(n, 1), OUTCOME_BLOCK):
            stop = min(start + OUTCOME_BLOCK, n)
            idx = np.minimum(np.arange(start, start + OUTCOME_BLOCK), max(stop - 1, 0))
            out = f(jnp.asarray(params), table, jnp.asarray(np.asarray(m_out, float)[idx]),
                    jnp.asarray(np.asarray(a_out, float)[idx]),
                    {k: jnp.asarray(np.asarray(draws[k], float)[idx])
                     for k in mc.DRAW_FIELDS})
            parts.append({k: np.asarray(v)[:stop - start] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def triple_params(config: mc.FeasibilityConfig, m_out: np.ndarray, a_out: np.ndarray,
                  draws: dict[str, np.ndarray], outcomes: dict[str, np.ndarray]
                  ) -> secular.TripleParams:
    """Secular-integrator parameters of each draw, with the physics the analytic kernel used.

    Both radii are those of the draw at its first high-eccentricity phase (``outcomes``'
    ``r0_au`` and ``r1_au``: evolving or frozen per ``config.radii``) and the companion's
    tidal lag is the draw's (``draws["lag1_yr"]``: its prior or the fixed Q'), so the
    integrated verdict judges the same system as the analytic one; so do the rotational
    bulges: the host's spin at that phase (``outcomes``' ``spin0_per_yr``, 0 with
    ``host_spin="none"``) and the companion's when ``include_rotation`` is on. The
    integrator's dissipation is the companion's only (the host's lag and spin enter the
    migration time, :func:`draw_migration_time_yr`).

    Parameters
    ----------
    config : FeasibilityConfig
        Target and physics switches.
    m_out, a_out : numpy.ndarray
        Perturber of each draw (Msun, AU).
    draws : dict of numpy.ndarray
        The draws (:data:`~vlms_bayes.feasibility.draws.DRAW_FIELDS`).
    outcomes : dict of numpy.ndarray
        Their analytic physics (:func:`draw_outcomes_pairs`).

    Returns
    -------
    secular.TripleParams
    """
    p = _params(config)
    one = np.ones(len(np.asarray(m_out)))
    return secular.TripleParams(
        p["m0"] * one, p["m1"] * one, np.asarray(m_out, float), np.asarray(a_out, float),
        np.asarray(draws["e_out"], float), np.asarray(outcomes["r0_au"], float),
        np.asarray(outcomes["r1_au"], float), p["k2_0"] * one, p["k2_1"] * one,
        np.asarray(draws["lag1_yr"], float), one, one, p["tide_on"] * one,
        np.asarray(outcomes["spin0_per_yr"], float), p["rot_on"] * p["spin1_per_yr"] * one)


def draw_migration_time_yr(config: mc.FeasibilityConfig, a0: np.ndarray, a_f: np.ndarray,
                           draws: dict[str, np.ndarray], outcomes: dict[str, np.ndarray]
                           ) -> np.ndarray:
    """The map's migration time of each draw from an end point a_F = a0 (1 − e²).

    The same model as the analytic kernel
    (:func:`~vlms_bayes.feasibility.montecarlo._draw_outcome`): with ``tide_model="ctl"``
    the (a, e) decay at fixed a(1 − e²) marched from the first high-eccentricity phase
    (age ``t_start_yr + t_KL``) with both radii following their tracks and the draw's
    lags (:func:`~vlms_bayes.feasibility.migration.migration_time_evolving_yr`); with
    ``"constant_q"`` the constant-Q' circularisation time at a_F with the companion's radius
    at that phase.

    Parameters
    ----------
    config : FeasibilityConfig
        Target, tracks and tide model.
    a0, a_f : numpy.ndarray
        Initial semi-major axis and the end point reached (AU).
    draws : dict of numpy.ndarray
        The draws (lags, contraction amplitude, KL start age).
    outcomes : dict of numpy.ndarray
        Their analytic physics (``t_kl_yr``, ``eps_gr``, ``r1_au``).

    Returns
    -------
    numpy.ndarray
        Years.
    """
    params = mc.kernel_params(config)
    p = _params(config)
    a0, a_f = np.asarray(a0, float), np.asarray(a_f, float)
    if p["tide_model"] != 0.0:
        return np.asarray(tides.circularisation_time_constant_q_yr(
            a_f, p["m1"], p["m0"], np.asarray(outcomes["r1_au"], float),
            1.5 / (np.asarray(draws["lag1_yr"], float) * p["n_obs_per_yr"])), float)
    return np.asarray(migration.migration_time_evolving_yr(
        a0, a_f, p["a_hi_au"], np.asarray(outcomes["eps_gr"], float), p["m1"], p["m0"],
        np.asarray(draws["lag1_yr"], float), np.asarray(draws["lag0_yr"], float),
        np.asarray(draws["t_start_yr"], float) + np.asarray(outcomes["t_kl_yr"], float),
        p["r1_au"], np.asarray(draws["rp_scale"], float), params, mc.R0_TRACK,
        mc.R1_INFL, mc.S0_TRACK, np.asarray(draws["spin0_z"], float), p["spin0_on"]), float)


def integrate_draws(config: mc.FeasibilityConfig, m_out: np.ndarray, a_out: np.ndarray,
                    draws: dict[str, np.ndarray], outcomes: dict[str, np.ndarray],
                    node_rad: np.ndarray, options: IntegrationOptions) -> pd.DataFrame:
    """Integrate the given draws and apply the map's criteria to what they reach.

    Parameters
    ----------
    config : FeasibilityConfig
        Target, physics and thresholds.
    m_out, a_out : numpy.ndarray
        Perturber of each draw (Msun, AU).
    draws : dict of numpy.ndarray
        The draws (``e_out``, ``incl_rad``, ``omega_rad``, ``a0_au``, ``e0`` and the
        physics ``lag1_yr``, ``lag0_yr``, ``rp_scale``, ``t_start_yr``).
    outcomes : dict of numpy.ndarray
        Their analytic physics (same length; :func:`draw_outcomes_pairs`): the radii at
        the first high-eccentricity phase and the disruption distance of each draw are
        used by the integration (:func:`triple_params`), and the migration time follows
        :func:`draw_migration_time_yr`, so both verdicts judge the same physics.
    node_rad : numpy.ndarray
        Longitude of the inner orbit's node measured from the outer pericentre.
    options : IntegrationOptions
        Tolerance, step limit, durations.

    Returns
    -------
    pandas.DataFrame
        One row per draw: inputs, ``eps_oct``, ``t_kl_yr``, ``t_oct_yr``, ``t_end_yr``,
        the draw's ``r1_au``, ``r_dis_au`` and ``lag1_yr``, analytic and integrated
        ``e_max``, ``disrupted_int``, ``finished``,
        ``analytic_feasible``, ``integrated_feasible`` and ``verdict`` (integrated where
        the run finished, else analytic).
    """
    n = len(m_out)
    p = _params(config)
    T = p["horizon_yr"]
    cols = ["m_out_msun", "a_out_au", "a0_au", "e0", "e_out", "incl_deg", "eps_oct",
            "t_kl_yr", "t_oct_yr", "t_end_yr", "r1_au", "r_dis_au", "lag1_yr", "e_max",
            "e_max_int", "disrupted_int",
            "n_steps", "finished", "analytic_feasible", "integrated_feasible", "verdict"]
    if n == 0:
        return pd.DataFrame({c: [] for c in cols})
    y0 = secular.initial_state(draws["e0"], draws["incl_rad"], draws["omega_rad"], node_rad,
                               draws["a0_au"])
    tp = triple_params(config, m_out, a_out, draws, outcomes)
    r_dis = np.asarray(outcomes["r_dis_au"], float)
    t_end = integration_time_yr(outcomes["t_kl_yr"], outcomes["eps_oct"], T,
                                n_oct=options.n_oct, n_kl_min=options.n_kl_min)
    # lanes of a vmapped while_loop run until the slowest is done: group by difficulty
    # (expected steps ~ t_end / t_KL / sqrt(1 - e_max)), one compiled shape per chunk
    cost = t_end / outcomes["t_kl_yr"] / np.sqrt(np.maximum(outcomes["one_minus_e_max"],
                                                            1e-12))
    order = np.argsort(-cost)
    k = options.chunk
    res_fields: list[np.ndarray | None] = [None] * len(secular.SecularOutcome._fields)
    sels = [order[start:start + k] for start in range(0, n, k)]
    sels = [np.concatenate([sel, np.full(k - len(sel), sel[-1])]) for sel in sels]
    outs = secular.integrate_batches(
        [(y0[sel], secular.TripleParams(*(x[sel] for x in tp)), t_end[sel], r_dis[sel])
         for sel in sels], rtol=options.rtol, max_steps=options.max_steps)
    for sel, r in zip(sels, outs, strict=True):
        for f, arr in enumerate(r):
            if res_fields[f] is None:
                res_fields[f] = np.empty((n, *arr.shape[1:]), arr.dtype)
            res_fields[f][sel] = arr
    res = secular.SecularOutcome(*res_fields)
    a0 = np.asarray(draws["a0_au"], float)
    e_int = res.e_max
    a_f = a0 * (1 - e_int) * (1 + e_int)
    t_tide = draw_migration_time_yr(config, a0, a_f, draws, outcomes)
    finished = (res.t_yr >= t_end * (1 - 1e-12)) | res.disrupted
    integ = (~res.disrupted) & (a_f <= p["a_hi_au"]) & (a_f >= p["a_lo_au"]) & (t_tide <= T)
    ana = analytic_strata(outcomes, config)["feasible"]
    return pd.DataFrame({
        "m_out_msun": m_out, "a_out_au": a_out, "a0_au": a0, "e0": draws["e0"],
        "e_out": draws["e_out"], "incl_deg": np.degrees(draws["incl_rad"]),
        "eps_oct": outcomes["eps_oct"], "t_kl_yr": outcomes["t_kl_yr"],
        "t_oct_yr": octupole_time_yr(outcomes["t_kl_yr"], outcomes["eps_oct"]),
        "t_end_yr": t_end, "r1_au": tp.r1_au, "r_dis_au": r_dis, "lag1_yr": tp.lag1_yr,
        "e_max": outcomes["e_max"], "e_max_int": e_int,
        "disrupted_int": res.disrupted, "n_steps": res.n_steps, "finished": finished,
        "analytic_feasible": ana, "integrated_feasible": integ & finished,
        "verdict": np.where(finished, integ, ana)})


def _subsample(rng: np.random.Generator, idx: np.ndarray, cap: int) -> np.ndarray:
    if len(idx) <= cap:
        return np.sort(idx)
    return np.sort(rng.choice(idx, cap, replace=False))


# ----------------------------------------------------------------------------------------
# P(KL origin) with integrated verdicts
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StratumCounts:
    """Systems of one candidate stratum, those integrated and those arriving among them."""

    n: int
    integrated: int
    arrive: int
    unfinished: int

    def share_arriving(self) -> float:
        """Estimated fraction of the stratum that arrives (ratio estimator)."""
        return self.arrive / self.integrated if self.integrated else float("nan")


def _kl_prob(fr: Any, ps: Any, pa: Any) -> Any:
    return fr * pa / (1.0 - fr + fr * ps)


def ratio_estimate(n: int, n_stable: int, feasible: StratumCounts, boundary: StratumCounts,
                   f: float) -> float:
    """The plug-in P(KL) with each stratum's observed arriving share k/m (before 2026-12).

    Kept for comparison (``origin_probability.json``): with few or no arrivals in a
    subsample of a large stratum it sits at the bottom of the interval of
    :func:`integrated_probability_from_counts` (0 of 400 integrated boundary systems gives
    a share of exactly 0), so it is not the reported estimate.
    """
    def share(s: StratumCounts, default: float) -> float:
        return s.arrive / s.integrated if s.integrated else default

    pa = (feasible.n * share(feasible, 1.0) + boundary.n * share(boundary, 0.0)) / n
    return float(_kl_prob(f, n_stable / n, pa))


def integrated_probability_from_counts(n: int, n_stable: int, feasible: StratumCounts,
                                       boundary: StratumCounts, f: float, f_err: float, *,
                                       rng: np.random.Generator, n_samples: int = 20000,
                                       level: float = 0.95, extrapolation: bool = True
                                       ) -> tuple[float, float, float]:
    """P(KL) = f p_a / (1 − f + f p_s) from the integrated strata: posterior median and interval.

    One model gives both the estimate and the interval, so the estimate cannot sit at an
    end of its interval:

    * the shares of the N systems that are unstable, stable and in neither stratum, in the
      feasible stratum (F) and in the boundary stratum (B): Jeffreys Dirichlet
      (counts + 1/2);
    * the arriving share r of each stratum, of which m systems were integrated and k
      arrive: Jeffreys Beta(k + 1/2, m − k + 1/2), whether the stratum was subsampled or
      integrated whole (even then r is a share of the prior's systems, known only to
      binomial precision); a stratum with no integration keeps its analytic verdict
      (F: r = 1, B: r = 0);
    * the companion frequency f: normal, clipped to [0, 1];

    and p_a = π_F r_F + π_B r_B, p_s = 1 − π_unstable. The estimate is the posterior
    median of P and the interval its central ``level`` quantiles (Monte Carlo, ``n_samples``
    draws), with the modification of Brown, Cai & DasGupta (2001, Stat. Sci. 16, 101) for
    the ends: where no integrated system of a stratum arrives (k = 0), the lower end is
    computed with that stratum's r at 0, and where all arrive (k = m) the upper end with r
    at 1 (a Jeffreys interval otherwise never contains a true share of exactly 0). The
    plug-in with r = k/m (:func:`ratio_estimate`) agrees with the median for large counts
    but gives r = 0 for 0 arrivals in a subsample of a large stratum, below almost the
    whole interval. A simulation with known truth holds the interval's coverage near
    ``level`` (``tests/feasibility/test_feasibility_integrated.py``).

    Parameters
    ----------
    n, n_stable : int
        Systems drawn with a perturber; those stable (⊇ both strata).
    feasible, boundary : StratumCounts
        The two strata.
    f, f_err : float
        Multiplicity and its error.
    rng : numpy.random.Generator
        For the posterior samples.
    n_samples : int
        Posterior samples.
    level : float
        Interval level.
    extrapolation : bool
        False: the arriving shares of subsampled strata are held at their posterior
        medians, so that the interval has the count noise and the error of f only (how much
        of the full interval the extrapolation of the subsamples makes, see
        :meth:`IntegratedProbability.lines`).

    Returns
    -------
    p, low, high : float
        Posterior median and the interval.
    """
    n_f, n_b = feasible.n, boundary.n
    if not (n >= 1 and 0 <= n_f + n_b <= n_stable <= n):
        raise ValueError("need n >= 1 and n_feasible + n_boundary <= n_stable <= n")

    def share(s: StratumCounts, default: float) -> tuple[Any, Any, Any]:
        """Samples of r, and r at the ends where k = 0 or k = m (modified Jeffreys)."""
        if s.integrated == 0:
            r = np.full(n_samples, default)
            return r, r, r
        a, b = s.arrive + 0.5, s.integrated - s.arrive + 0.5
        if s.integrated < s.n and not extrapolation:
            r = np.full(n_samples, stats.beta.median(a, b))
            return r, r, r
        r = rng.beta(a, b, n_samples)
        return (np.zeros(n_samples) if s.arrive == 0 else r, r,
                np.ones(n_samples) if s.arrive == s.integrated else r)

    lo_f, rs_f, hi_f = share(feasible, 1.0)
    lo_b, rs_b, hi_b = share(boundary, 0.0)
    w = rng.dirichlet([n - n_stable + 0.5, n_stable - n_f - n_b + 0.5, n_f + 0.5, n_b + 0.5],
                      size=n_samples)
    fr = np.clip(f + f_err * rng.standard_normal(n_samples), 0.0, 1.0)
    ps = w[:, 1] + w[:, 2] + w[:, 3]
    a = (1.0 - level) / 2
    med = np.median(_kl_prob(fr, ps, w[:, 2] * rs_f + w[:, 3] * rs_b))
    lo = np.quantile(_kl_prob(fr, ps, w[:, 2] * lo_f + w[:, 3] * lo_b), a)
    hi = np.quantile(_kl_prob(fr, ps, w[:, 2] * hi_f + w[:, 3] * hi_b), 1 - a)
    return float(med), float(lo), float(hi)


@dataclass(frozen=True)
class IntegratedProbability:
    """P(KL origin) with the analytic and the integrated verdicts, and the integrations."""

    analytic: Any  # OriginProbability
    integrated: Any  # OriginProbability
    feasible: StratumCounts
    boundary: StratumCounts
    table: pd.DataFrame
    wall_s: float
    options: IntegrationOptions
    count_noise_ci95: tuple[float, float] = (float("nan"), float("nan"))
    ratio_estimate: float = float("nan")

    def extrapolation_record(self) -> dict[str, Any]:
        """What the subsampling adds to the interval (for ``origin_probability.json``)."""
        lo, hi = self.count_noise_ci95
        return {"estimator": "posterior median (Jeffreys Dirichlet on the strata, Jeffreys "
                             "Beta on each integrated arriving share, normal f)",
                "p_ratio_estimator": self.ratio_estimate,
                "ci95_count_noise": [lo, hi],
                "feasible_share_upper95": share_upper_bound(self.feasible),
                "boundary_share_upper95": share_upper_bound(self.boundary),
                "extrapolated_share_of_width": self.extrapolated_share_of_width()}

    def extrapolated_share_of_width(self) -> float:
        """Fraction of the 95 % interval's width added by extrapolating the subsamples."""
        i = self.integrated
        width = i.high - i.low
        lo, hi = self.count_noise_ci95
        if not (width > 0 and np.isfinite(lo) and np.isfinite(hi)):
            return float("nan")
        return float(max(0.0, 1.0 - (hi - lo) / width))

    def lines(self, target: str) -> list[str]:
        """Summary lines (computed)."""
        f, b = self.feasible, self.boundary
        a = self.analytic
        return [*self._interval_lines(),
            f"    uses the integrated verdicts of the octupole candidates "
            f"({self.options.n_oct:g} t_oct, >= {self.options.n_kl_min:g} t_KL); with the "
            f"quadrupole (analytic) verdicts alone: {a.probability:.3g} "
            f"({a.low:.3g}-{a.high:.3g})",
            f"    integrated {f.integrated} of {f.n} analytically feasible systems (cap "
            f"{self.options.max_feasible}; {f.arrive} confirmed) and {b.integrated} of {b.n} "
            f"boundary systems (eps_oct >= {EPS_OCT_ACTIVE:g}, quadrupole e_max too low; cap "
            f"{self.options.max_boundary}; {b.arrive} arrive); {f.unfinished + b.unfinished} "
            f"runs hit the step limit and kept the analytic verdict; {self.wall_s:.0f} s"]

    def _interval_lines(self) -> list[str]:
        """Where the interval's width comes from, when a stratum was subsampled."""
        share = self.extrapolated_share_of_width()
        sub = [(name, s) for name, s in (("feasible", self.feasible),
                                          ("boundary", self.boundary))
               if 0 < s.integrated < s.n]
        if not sub or not np.isfinite(share):
            return []
        lo, hi = self.count_noise_ci95
        parts = "; ".join(
            f"{name}: {s.arrive} of {s.integrated} integrated arrive, extrapolated to its "
            f"{s.n} systems: 95% upper bound on their arriving share "
            f"{share_upper_bound(s):.2g}, up to {share_upper_bound(s) * s.n:.0f} arriving"
            for name, s in sub)
        return [f"    {100 * share:.0f}% of the interval's width is the extrapolation of "
                f"subsampled candidates ({parts}); with their arriving shares held at their "
                f"posterior medians (count noise and the companion frequency only) it is "
                f"{lo:.3g}-{hi:.3g}; higher caps (--integrate-candidates) narrow it; the "
                f"estimate is the posterior median of the interval's model (the plug-in with "
                f"the observed shares would be {self.ratio_estimate:.3g})"]


def share_upper_bound(s: StratumCounts, level: float = 0.95) -> float:
    """Upper end of the central ``level`` Jeffreys interval of a stratum's arriving share.

    The same Beta(k + 1/2, m - k + 1/2) posterior as the interval's samples (m
    integrated, k arriving); NaN when none was integrated.
    """
    if s.integrated == 0:
        return float("nan")
    return float(stats.beta.ppf(1 - (1 - level) / 2, s.arrive + 0.5,
                                s.integrated - s.arrive + 0.5))


def integrated_kl_probability(config: mc.FeasibilityConfig, table: Any, *, seed: int,
                              n_systems: int, options: IntegrationOptions | None = None,
                              prior: Any = None, backend: str = "numba",
                              initial_ae: tuple[np.ndarray, np.ndarray] | None = None
                              ) -> IntegratedProbability:
    """P(KL origin) with the octupole candidates among its systems integrated.

    The systems are those of :func:`~vlms_bayes.feasibility.probability.kl_probability`
    (same seed and streams); the analytic result is returned alongside.

    Parameters
    ----------
    config : FeasibilityConfig
        Target and physics settings.
    table : StabilityTable
        Quarles et al. (2020) table.
    seed : int
        The run's seed.
    n_systems : int
        Systems drawn.
    options : IntegrationOptions, optional
        Caps and durations.
    prior : MultiplicityPrior, optional
        Perturber statistics (by host mass if omitted).
    backend : {"jax", "numba"}
        Backend of the analytic probability.
    initial_ae : (array, array), optional
        Birth (a0, e0) samples.

    Returns
    -------
    IntegratedProbability
    """
    options = options or IntegrationOptions()
    options.check()
    prior = prior or multiplicity_prior(config.target.m_star_msun)
    ana = probability.kl_probability(config, table, seed=seed, n_systems=n_systems,
                                     prior=prior, backend=backend,  # type: ignore[arg-type]
                                     initial_ae=initial_ae)
    draws, pert = probability.probability_systems(config, seed=seed, n_systems=n_systems,
                                                  prior=prior, initial_ae=initial_ae)
    o = draw_outcomes_pairs(config, table, pert["m_out_msun"], pert["a_out_au"], draws)
    st = analytic_strata(o, config)
    n_stable = int(st["stable"].sum())
    if n_stable != ana.counts["stable"] or int(st["feasible"].sum()) != ana.counts["arrive"]:
        raise RuntimeError("The per-system outcomes disagree with the probability's counts "
                           f"(stable {n_stable} vs {ana.counts['stable']}, arrive "
                           f"{int(st['feasible'].sum())} vs {ana.counts['arrive']}).")
    rng = np.random.default_rng(stream(seed, "secular", PROBABILITY_SUBKEY))
    pick_f = _subsample(rng, np.flatnonzero(st["feasible"]), options.max_feasible)
    pick_b = _subsample(rng, np.flatnonzero(st["boundary"]), options.max_boundary)
    pick = np.concatenate([pick_f, pick_b])
    node = rng.uniform(0.0, 2 * np.pi, len(pick))
    t0 = time.perf_counter()
    tab = integrate_draws(config, pert["m_out_msun"][pick], pert["a_out_au"][pick],
                          {k: v[pick] for k, v in draws.items()},
                          {k: v[pick] for k, v in o.items()}, node, options)
    wall = time.perf_counter() - t0
    tab.insert(0, "system", pick)
    tab.insert(1, "stratum", np.r_[np.full(len(pick_f), "feasible"),
                                   np.full(len(pick_b), "boundary")])
    verdict = tab["verdict"].to_numpy(bool)
    unfinished = ~tab["finished"].to_numpy(bool)
    nf = len(pick_f)
    sf = StratumCounts(int(st["feasible"].sum()), nf, int(verdict[:nf].sum()),
                       int(unfinished[:nf].sum()))
    sb = StratumCounts(int(st["boundary"].sum()), len(pick_b), int(verdict[nf:].sum()),
                       int(unfinished[nf:].sum()))
    p, lo, hi = integrated_probability_from_counts(
        n_systems, n_stable, sf, sb, prior.frequency, prior.frequency_err,
        rng=np.random.default_rng(stream(seed, "probability", 3)))
    _, lo_c, hi_c = integrated_probability_from_counts(
        n_systems, n_stable, sf, sb, prior.frequency, prior.frequency_err,
        rng=np.random.default_rng(stream(seed, "probability", 3)), extrapolation=False)
    assumptions = ana.assumptions.split("; quadrupole e_max")[0] + (
        f"; octupole candidates integrated with the secular equations (quadrupole + "
        f"octupole + GR + tides) for max({options.n_oct:g} t_oct, {options.n_kl_min:g} t_KL)"
        f": {sf.integrated} of {sf.n} analytically feasible and {sb.integrated} of {sb.n} "
        f"boundary systems (eps_oct >= {EPS_OCT_ACTIVE:g}), a random subsample above the "
        "caps whose arriving share is extrapolated to its stratum; other systems keep the "
        "analytic verdict")
    integ = dataclasses.replace(
        ana, route="Kozai-Lidov origin", probability=p, low=lo, high=hi,
        counts={**ana.counts, "feasible_stratum": sf.n, "feasible_integrated": sf.integrated,
                "feasible_confirmed": sf.arrive, "boundary_stratum": sb.n,
                "boundary_integrated": sb.integrated, "boundary_arrive": sb.arrive,
                "unfinished": sf.unfinished + sb.unfinished},
        assumptions=assumptions)
    return IntegratedProbability(ana, integ, sf, sb, tab, wall, options, (lo_c, hi_c),
                                 ratio_estimate(n_systems, n_stable, sf, sb, prior.frequency))


def integrated_kl_sensitivity(config: mc.FeasibilityConfig, table: Any, *, seed: int,
                              n_systems: int, options: IntegrationOptions,
                              backend: str = "numba",
                              values: dict[str, tuple[float, ...]] | None = None,
                              initial_ae: tuple[np.ndarray, np.ndarray] | None = None
                              ) -> pd.DataFrame:
    """The sensitivity study of P(KL origin) with integrated verdicts in every row.

    The rows of :func:`~vlms_bayes.feasibility.probability.kl_sensitivity` (same systems,
    same parameter values), each through :func:`integrated_kl_probability` with the caps of
    ``options`` (``max_map`` is not used). Small caps keep it affordable; the subsampled
    strata are then extrapolated from few integrations, which the rows' intervals carry.

    Returns
    -------
    pandas.DataFrame
        The columns of ``kl_sensitivity`` plus ``p_kl_analytic``, ``p_kl_ratio_estimator``
        and the strata counts (``feasible_stratum``, ``feasible_integrated``,
        ``feasible_confirmed``, ``boundary_stratum``, ``boundary_integrated``,
        ``boundary_arrive``).
    """
    rows = []
    keys = ("feasible_stratum", "feasible_integrated", "feasible_confirmed",
            "boundary_stratum", "boundary_integrated", "boundary_arrive")
    for name, v, cfg, lags, ref in probability.sensitivity_configs(config, values):
        r = integrated_kl_probability(cfg, table, seed=seed, n_systems=n_systems,
                                      options=options, backend=backend, initial_ae=initial_ae)
        row = probability.sensitivity_row(name, v, r.integrated, lags=lags, reference=ref)
        row["n_arrive"] = r.analytic.counts["arrive"]
        rows.append({**row, "p_kl_analytic": r.analytic.probability,
                     "p_kl_ratio_estimator": r.ratio_estimate,
                     **{k: r.integrated.counts[k] for k in keys}})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------
# the map with integrated verdicts
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapIntegration:
    """Integrated verdicts of a random subsample of the map's feasible draws."""

    table: pd.DataFrame
    n_feasible_draws: int
    integrated_cells: np.ndarray  # (n_m, n_a) draws integrated per cell
    confirmed_cells: np.ndarray  # (n_m, n_a) verdicts "feasible" among them
    wall_s: float
    options: IntegrationOptions

    def feasible_fraction(self, analytic_counts: np.ndarray, n_draws: int) -> np.ndarray:
        """Per-cell feasible fraction with the integrated verdict where it exists."""
        return (analytic_counts - self.integrated_cells + self.confirmed_cells) / n_draws

    def confirmation(self) -> tuple[float, float, float]:
        """Share of integrated feasible draws that the integration confirms, with 95% CI."""
        n, k = int(self.integrated_cells.sum()), int(self.confirmed_cells.sum())
        if n == 0:
            return float("nan"), float("nan"), float("nan")
        lo, hi = binomial_interval(k, n)
        return k / n, float(lo), float(hi)

    def lines(self, mean_analytic: float) -> list[str]:
        """Summary lines (computed)."""
        n = int(self.integrated_cells.sum())
        if n == 0:
            return ["  map: no feasible draw to integrate"]
        r, lo, hi = self.confirmation()
        return [f"  map: {n} of {self.n_feasible_draws} analytically feasible draws integrated "
                f"({self.options.n_oct:g} t_oct, >= {self.options.n_kl_min:g} t_KL; cap "
                f"{self.options.max_map}, random over the grid); the integration "
                f"confirms {100 * r:.0f}% (95% CI {100 * lo:.0f}-{100 * hi:.0f}%), so the "
                f"grid-mean feasible fraction {mean_analytic:.3g} becomes "
                f"{mean_analytic * r:.3g} ({mean_analytic * lo:.3g}-{mean_analytic * hi:.3g})"
                f"; {self.wall_s:.0f} s"]


def integrate_map(result: mc.MapResult, table: Any, *, seed: int,
                  options: IntegrationOptions | None = None,
                  initial_ae: tuple[np.ndarray, np.ndarray] | None = None) -> MapIntegration:
    """Integrate a random subsample of the map's analytically feasible draws.

    A uniform subsample of at most ``options.max_map`` draws over the whole grid. The
    draws are regenerated from the cells' own streams
    (:func:`~vlms_bayes.feasibility.draws.cell_draws`), only for the cells picked.

    Parameters
    ----------
    result : MapResult
        The computed map (its counts locate the feasible draws).
    table : StabilityTable
        Quarles et al. (2020) table.
    seed : int
        The map's seed.
    options : IntegrationOptions, optional
        Cap (``max_map``) and durations.
    initial_ae : (array, array), optional
        The map's initial (a0, e0) samples.

    Returns
    -------
    MapIntegration
    """
    options = options or IntegrationOptions()
    options.check()
    cfg = result.config
    k = len(mc.CRITERIA)
    feas_counts = np.asarray(result.counts[..., 2 * k - 1], np.int64).ravel()
    total = int(feas_counts.sum())
    shape = (cfg.n_m_out, cfg.n_a_out)
    empty = np.zeros(shape, np.int64)
    rng = np.random.default_rng(stream(seed, "secular", MAP_SUBKEY))
    m = min(total, options.max_map)
    if m == 0:
        return MapIntegration(integrate_draws(cfg, np.array([]), np.array([]), {}, {},
                                              np.array([]), options), total, empty,
                              empty.copy(), 0.0, options)
    ranks = np.sort(rng.choice(total, m, replace=False))
    cum = np.cumsum(feas_counts)
    cell_of = np.searchsorted(cum, ranks, side="right")
    within = ranks - (cum[cell_of] - feas_counts[cell_of])
    cells = np.unique(cell_of)
    d = cell_draws(cfg, seed, cells, initial_ae)
    mg, ag = np.meshgrid(cfg.m_out_grid, cfg.a_out_grid, indexing="ij")
    n_d = cfg.n_draws
    m_flat = np.repeat(mg.ravel()[cells], n_d)
    a_flat = np.repeat(ag.ravel()[cells], n_d)
    flat = {kk: np.asarray(v).reshape(-1) for kk, v in d.items()}
    o = draw_outcomes_pairs(cfg, table, m_flat, a_flat, flat)
    feas = analytic_strata(o, cfg)["feasible"].reshape(len(cells), n_d)
    got = feas.sum(axis=1)
    if not np.array_equal(got, feas_counts[cells]):
        raise RuntimeError("The regenerated draws do not reproduce the map's feasible counts "
                           f"in {int((got != feas_counts[cells]).sum())} cells.")
    rows = []
    for c, w in zip(cell_of, within, strict=True):
        ci = int(np.searchsorted(cells, c))
        rows.append(ci * n_d + int(np.flatnonzero(feas[ci])[w]))
    pick = np.asarray(rows)
    node = rng.uniform(0.0, 2 * np.pi, len(pick))
    t0 = time.perf_counter()
    tab = integrate_draws(cfg, m_flat[pick], a_flat[pick], {kk: v[pick] for kk, v in
                                                            flat.items()},
                          {kk: v[pick] for kk, v in o.items()}, node, options)
    wall = time.perf_counter() - t0
    tab.insert(0, "cell", cell_of)
    n_int = np.bincount(cell_of, minlength=feas_counts.size).reshape(shape)
    n_ok = np.bincount(cell_of, weights=tab["verdict"].to_numpy(float),
                       minlength=feas_counts.size).reshape(shape).astype(np.int64)
    return MapIntegration(tab, total, n_int, n_ok, wall, options)
