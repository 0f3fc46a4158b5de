"""P(Kozai–Lidov origin) and P(disk migration) of a companion, with Monte Carlo intervals.

Unlike the map's feasible fraction (a share of an arbitrary log-uniform perturber grid),
these are probabilities over published priors (:mod:`vlms_bayes.feasibility.priors`):

**KL + tides.** A system is drawn as: the companion at its birth orbit (a0 log-uniform in
``a0_range_au``, e0 uniform below ``e0_max``); with probability f (the host class's
multiplicity) a stellar companion with mass ratio q ∝ q^γ and log-normal separation,
thermal e_out, isotropic inclination. Each system runs through the map's cascade
(:func:`vlms_bayes.feasibility.montecarlo.pair_counts`, same kernels, either backend).
A system must be able to contain the companion, so systems whose triple or S-type orbit
is unstable are excluded (they cannot host the companion at its birth orbit); among the
rest, single stars never migrate by KL:

    P(KL) = f p_a / (1 − f + f p_s),

with p_s = n_stable / N and p_a = n_arrive / N over N drawn perturbers. The interval
(95 %) combines the Monte Carlo noise (Jeffreys Dirichlet posterior of the three counts
unstable / stable-not-arriving / arriving) and the error of f (normal, clipped to [0, 1]).

**Disk.** The companion migrates from the same birth orbits in a disk whose mass ratio
and lifetime are drawn from :class:`~vlms_bayes.feasibility.priors.DiskPrior`
(Σ ∝ 1/r to 30 AU, h = 0.05, α_ν = 1e-3: the settings of ``disk_migration.csv``); the
regime (Type I or Type II of Kanagawa et al. 2018) follows the Crida et al. (2006) gap
criterion; it arrives when the migration time to the observed orbit is shorter than the
disk's lifetime (formation at t = 0, a stop at the observed orbit, e.g. at the
magnetospheric cavity, assumed). Interval: Clopper–Pearson on the count.

Both are conditional on the companion's existence at its birth orbit and on the radii and
tidal settings of the configuration (by default radii evolving with age and tidal lags
drawn from their priors; :func:`~vlms_bayes.feasibility.montecarlo.physics_assumptions`
states them with the result).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from vlms_bayes.feasibility import disk
from vlms_bayes.feasibility.attribution import absolute_losses, binomial_interval
from vlms_bayes.feasibility.draws import CRITERIA, make_draws, stream
from vlms_bayes.feasibility.montecarlo import FeasibilityConfig, pair_counts, physics_assumptions
from vlms_bayes.feasibility.priors import (
    DiskPrior,
    MultiplicityPrior,
    multiplicity_prior,
    sample_disks,
    sample_perturbers,
)
from vlms_bayes.feasibility.units import MJUP_MSUN

#: Systems drawn for P(KL) and P(disk) by default.
N_SYSTEMS = 200_000


@dataclass(frozen=True)
class OriginProbability:
    """A probability with its 95 % interval, counts and what it assumes."""

    route: str
    probability: float
    low: float
    high: float
    n_systems: int
    counts: dict[str, int]
    assumptions: str
    prior: dict[str, Any] = field(default_factory=dict)
    loss_share: dict[str, float] | None = None

    def line(self, target: str) -> str:
        """One summary line (computed)."""
        return (f"P({self.route}) of {target} = {self.probability:.3g} "
                f"(95% interval {self.low:.3g}-{self.high:.3g}; {self.n_systems} systems)")

    def record(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def kl_probability_from_counts(n: int, n_stable: int, n_arrive: int, f: float, f_err: float,
                               *, rng: np.random.Generator, n_samples: int = 20000,
                               level: float = 0.95) -> tuple[float, float, float]:
    """P(KL) = f p_a / (1 − f + f p_s) and its interval (see the module docstring).

    Parameters
    ----------
    n, n_stable, n_arrive : int
        Systems drawn with a perturber, those stable, those arriving (⊂ stable).
    f, f_err : float
        Multiplicity and its error.
    rng : numpy.random.Generator
        For the interval's samples.
    n_samples : int
        Samples of the interval.
    level : float
        Interval level.

    Returns
    -------
    p, low, high : float
    """
    if not 0 <= n_arrive <= n_stable <= n or n < 1:
        raise ValueError("need 0 <= n_arrive <= n_stable <= n and n >= 1")

    def prob(fr: Any, ps: Any, pa: Any) -> Any:
        return fr * pa / (1.0 - fr + fr * ps)

    p = float(prob(f, n_stable / n, n_arrive / n))
    w = rng.dirichlet([n - n_stable + 0.5, n_stable - n_arrive + 0.5, n_arrive + 0.5],
                      size=n_samples)
    fr = np.clip(f + f_err * rng.standard_normal(n_samples), 0.0, 1.0)
    s = prob(fr, w[:, 1] + w[:, 2], w[:, 2])
    a = (1.0 - level) / 2
    lo, hi = np.quantile(s, [a, 1 - a])
    return p, float(min(lo, p)), float(max(hi, p))


def probability_systems(config: FeasibilityConfig, *, seed: int, n_systems: int,
                        prior: MultiplicityPrior,
                        initial_ae: tuple[np.ndarray, np.ndarray] | None = None
                        ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The systems of :func:`kl_probability`: one draw and one perturber each.

    Draws from the seed's ``probability`` stream (sub-key 0), perturbers from sub-key 1,
    so that the integrated verdicts (:mod:`~vlms_bayes.feasibility.integrated`) see the
    same systems.

    Returns
    -------
    draws, perturbers : dict of numpy.ndarray
        :data:`~vlms_bayes.feasibility.draws.DRAW_FIELDS` (plus ``omega_rad``) and
        :func:`~vlms_bayes.feasibility.priors.sample_perturbers`' fields.
    """
    t = config.target
    draws = make_draws(config, stream(seed, "probability", 0), initial_ae, n=n_systems)
    rng = np.random.default_rng(stream(seed, "probability", 1))
    pert = sample_perturbers(prior, t.m_star_msun, rng.random((n_systems, 2)),
                             rng.standard_normal((n_systems, 2)))
    return draws, pert


def kl_probability(config: FeasibilityConfig, table: Any, *, seed: int,
                   n_systems: int = N_SYSTEMS, prior: MultiplicityPrior | None = None,
                   backend: Literal["jax", "numba"] = "numba",
                   initial_ae: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> OriginProbability:
    """P(Kozai–Lidov origin) of ``config.target`` over the perturber prior.

    Parameters
    ----------
    config : FeasibilityConfig
        Target, physics settings, birth-orbit distribution (the grid is not used).
    table : StabilityTable
        Quarles et al. (2020) table.
    seed : int
        The run's seed (its "probability" stream).
    n_systems : int
        Systems drawn (each with a perturber).
    prior : MultiplicityPrior, optional
        Perturber statistics; chosen by host mass if omitted
        (:func:`~vlms_bayes.feasibility.priors.multiplicity_prior`).
    backend : {"jax", "numba"}
        Kernel backend.
    initial_ae : (array, array), optional
        Birth (a0, e0) samples instead of the configured distribution.

    Returns
    -------
    OriginProbability
    """
    t = config.target
    prior = prior or multiplicity_prior(t.m_star_msun)
    draws, pert = probability_systems(config, seed=seed, n_systems=n_systems, prior=prior,
                                      initial_ae=initial_ae)
    counts = pair_counts(config, table, pert["m_out_msun"], pert["a_out_au"], draws,
                         backend=backend)
    k = len(CRITERIA)
    casc = counts[:, k:2 * k]
    n_stable = int(casc[:, 1].sum())
    n_arrive = int(casc[:, -1].sum())
    n_oct = int(counts[:, -1].sum())  # arriving systems with eps_oct above the flag
    p, lo, hi = kl_probability_from_counts(
        n_systems, n_stable, n_arrive, prior.frequency, prior.frequency_err,
        rng=np.random.default_rng(stream(seed, "probability", 2)))
    loss = absolute_losses(casc.mean(axis=0))
    share = loss / loss.sum() if loss.sum() > 0 else loss
    a0_lo, a0_hi = config.a0_range_au
    birth = ("birth (a0, e0) from the given samples" if initial_ae is not None else
             f"birth orbit a0 log-uniform {a0_lo:g}-{a0_hi:g} AU, e0 < {config.e0_max:g}")
    assumptions = (
        f"perturbers: {prior.name}, companion frequency {prior.frequency:.3f} +/- "
        f"{prior.frequency_err:.3f}, log10(a_out/AU) ~ N({prior.log10_a_mu}, "
        f"{prior.log10_a_sigma}), q^{prior.gamma:g}+/-{prior.gamma_err:g} on "
        f"[{prior.q_min:g}, 1], thermal e_out, isotropic i ({prior.source}); {birth}; "
        f"systems unstable at birth excluded; horizon {config.horizon_gyr:g} Gyr; "
        f"{physics_assumptions(config)}; quadrupole e_max (octupole not integrated: "
        f"{n_oct} of {n_arrive} arriving systems have eps_oct > 0.01, where the quadrupole "
        "verdict is not conservative)")
    return OriginProbability(
        route="Kozai-Lidov origin", probability=p, low=lo, high=hi, n_systems=n_systems,
        counts={"systems_with_perturber": n_systems, "stable": n_stable,
                "arrive": n_arrive, "arrive_eps_oct_gt_0.01": n_oct},
        assumptions=assumptions, prior=prior.record(),
        loss_share=dict(zip(CRITERIA, map(float, share), strict=True)))


def disk_unit_time_yr(a0_au: np.ndarray, config: FeasibilityConfig, *, h: float = 0.05,
                      alpha: float = 1.0, alpha_visc: float = 1e-3,
                      r_out_au: float = 30.0) -> tuple[np.ndarray, str]:
    """Migration time from a0 to the observed orbit in a disk of M_disk = M⋆ (yr).

    Every migration time here scales as 1/Σ, so a disk of mass ratio r takes this time
    divided by r. The regime (Type II where the Crida et al. 2006 parameter is ≤ 1, else
    Type I) does not depend on Σ.
    """
    t = config.target
    ms, mp = t.m_star_msun, t.mass_mj * MJUP_MSUN
    gap = float(disk.gap_opening_parameter(mp / ms, h=h, alpha_visc=alpha_visc))
    s0 = disk.sigma0_msun_au2(ms, 1.0, alpha=alpha, r_out_au=r_out_au)

    def tau(r: np.ndarray) -> np.ndarray:
        sig = s0 * r ** (-alpha)
        if gap <= 1:
            return disk.type2_time_yr(r, ms, mp, sig, h=h, alpha=alpha, alpha_visc=alpha_visc)
        return disk.type1_time_yr(r, ms, mp, sig, h=h, alpha=alpha)

    a0 = np.asarray(a0_au, float)
    grid = np.geomspace(max(a0.min(), t.a_au * (1 + 1e-9)), a0.max(), 256)
    tg = disk.migration_time_to_yr(grid, t.a_au, tau)
    out = np.exp(np.interp(np.log(a0), np.log(grid), np.log(np.maximum(tg, 1e-300))))
    return out, "Type II (Kanagawa et al. 2018)" if gap <= 1 else "Type I (Tanaka et al. 2002)"


def disk_probability(config: FeasibilityConfig, *, seed: int, n_systems: int = N_SYSTEMS,
                     prior: DiskPrior | None = None,
                     initial_ae: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> OriginProbability:
    """P(disk migration): the companion reaches its orbit before its disk disperses.

    Parameters
    ----------
    config : FeasibilityConfig
        Target and birth-orbit distribution.
    seed : int
        The run's seed (its "disk" stream).
    n_systems : int
        Disks drawn.
    prior : DiskPrior, optional
        Disk masses and lifetimes.
    initial_ae : (array, array), optional
        Birth (a0, e0) samples instead of the configured distribution.

    Returns
    -------
    OriginProbability
    """
    prior = prior or DiskPrior()
    t = config.target
    a0 = make_draws(config, stream(seed, "disk", 0), initial_ae, n=n_systems)["a0_au"]
    rng = np.random.default_rng(stream(seed, "disk", 1))
    d = sample_disks(prior, t.m_star_msun, rng.random((n_systems, 3)),
                     rng.standard_normal(n_systems))
    unit, regime = disk_unit_time_yr(a0, config)
    ok = unit / d["disk_to_star"] <= d["lifetime_yr"]
    k = int(ok.sum())
    lo, hi = binomial_interval(k, n_systems)
    a0_lo, a0_hi = config.a0_range_au
    assumptions = (
        f"disks: {prior.source}; Sigma ~ 1/r to 30 AU, h = 0.05, alpha_visc = 1e-3, "
        f"{regime}; birth orbit a0 log-uniform {a0_lo:g}-{a0_hi:g} AU (or the given "
        "samples); formation at t = 0 and a stop at the observed orbit assumed")
    return OriginProbability(
        route="disk migration", probability=k / n_systems, low=float(lo), high=float(hi),
        n_systems=n_systems, counts={"disks": n_systems, "arrive": k},
        assumptions=assumptions, prior=prior.record())


#: Values of the sensitivity study of P(KL): companion radius (RJ), planet Q', horizon (Gyr).
SENSITIVITY: dict[str, tuple[float, ...]] = {
    "radius_rj": (0.855, 0.95, 1.05, 1.2, 1.4),
    "q_prime_planet": (1e4, 1e5, 1e6, 1e7),
    "horizon_gyr": (0.1, 1.0, 3.0, 5.0),
}


def kl_sensitivity(config: FeasibilityConfig, table: Any, *, seed: int,
                   n_systems: int = 50_000, backend: Literal["jax", "numba"] = "numba",
                   values: dict[str, tuple[float, ...]] | None = None,
                   initial_ae: tuple[np.ndarray, np.ndarray] | None = None) -> Any:
    """P(KL origin) as a function of R_p, Q'_p and the horizon, one at a time.

    Every row uses the same systems (same seed), so differences between rows are the
    effect of the parameter, not sampling noise. With the lags drawn from their priors
    (``lags="prior"``) Q'_p would not enter the kernel, so the Q'_p rows fix both lags
    (the planet's at Q'_p, the host's at ``q_prime_star``) and say so in ``lags``; none
    of them is then the run's setting.

    Parameters
    ----------
    config : FeasibilityConfig
        The reference settings (the other parameters keep their values).
    table : StabilityTable
        Quarles et al. (2020) table.
    seed : int
        The run's seed.
    n_systems : int
        Systems per row.
    backend : {"jax", "numba"}
        Kernel backend.
    values : dict, optional
        Parameter name (:data:`SENSITIVITY` keys) → values.
    initial_ae : (array, array), optional
        Birth (a0, e0) samples.

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter``, ``value``, ``p_kl``, ``low``, ``high``, ``n_stable``,
        ``n_arrive``, ``n_systems``, ``reference`` (the row of the configuration's value),
        ``lags`` (how the row's tidal lags were set).
    """
    rows = []
    for name, v, cfg, lags, ref in sensitivity_configs(config, values):
        r = kl_probability(cfg, table, seed=seed, n_systems=n_systems, backend=backend,
                           initial_ae=initial_ae)
        rows.append(sensitivity_row(name, v, r, lags=lags, reference=ref))
    return pd.DataFrame(rows)


def sensitivity_configs(config: FeasibilityConfig,
                        values: dict[str, tuple[float, ...]] | None = None
                        ) -> list[tuple[str, float, FeasibilityConfig, str, bool]]:
    """The configurations of the sensitivity study, one parameter changed at a time.

    Returns
    -------
    list of (name, value, config, lags, reference)
        ``lags`` says how the row's tidal lags are set; ``reference`` marks the row of the
        configuration's own value (and lag setting).
    """
    out = []
    ref = {"radius_rj": config.target.radius_rj, "q_prime_planet": config.q_prime_planet,
           "horizon_gyr": config.horizon_gyr}
    for name, vals in (values or SENSITIVITY).items():
        for v in vals:
            if name == "radius_rj":
                cfg = replace(
                    config, target=replace(config.target, radius_rj=float(v)))
            elif name == "q_prime_planet" and config.lags == "prior":
                cfg = replace(config, q_prime_planet=float(v), lags="fixed")
            else:
                cfg = replace(config, **{name: float(v)})
            lags = ("prior" if cfg.lags == "prior" else
                    f"fixed: Q'p = {cfg.q_prime_planet:g}, Q'* = {cfg.q_prime_star:g}")
            out.append((name, float(v), cfg, lags,
                        bool(np.isclose(v, ref[name])) and cfg.lags == config.lags))
    return out


def sensitivity_row(name: str, value: float, result: OriginProbability, *, lags: str,
                    reference: bool) -> dict[str, Any]:
    """One row of the sensitivity table from a probability."""
    return {"parameter": name, "value": value, "p_kl": result.probability,
            "low": result.low, "high": result.high, "n_stable": result.counts["stable"],
            "n_arrive": result.counts["arrive"], "n_systems": result.n_systems,
            "reference": reference, "lags": lags}
