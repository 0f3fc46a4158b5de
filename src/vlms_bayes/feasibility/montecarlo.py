"""Monte Carlo feasibility map of Kozai–Lidov + tides migration over a perturber grid.

For each cell of a (m_out, a_out) grid and each random draw (outer eccentricity, mutual
inclination, argument of pericentre, initial a and e of the companion) the kernel
evaluates seven criteria, in the order of the physical cascade:

0. ``stable_triple``  Mardling & Aarseth (2001) stability of the triple;
1. ``stable_stype``   the companion's orbit inside the host–perturber binary is stable
   (Quarles et al. 2020 tables, or Holman & Wiegert 1999);
2. ``kl_time``        t_KL <= horizon;
3. ``reach``          e_max (with GR, tidal bulges, the host's rotational bulge and, as an
   option, the companion's) is high enough that the
   angular-momentum-conserving end point a_F = a0 (1 - e_max²) <= a_obs (1 + tol);
4. ``survive``        periastron at e_max outside the disruption distance f r_t, with the
   companion's radius at its first high-eccentricity phase;
5. ``land``           no overshoot: a_F >= a_obs (1 - tol);
6. ``circularise``    the tidal migration time <= horizon: the (a, e) decay at fixed
   a(1 - e²) integrated from a0 to the top of the observed-orbit window, slowed by the
   share of each KL cycle spent near e_max (:mod:`~vlms_bayes.feasibility.migration`).

Radii and tidal lags (issue 16): by default the host's and the companion's radii follow
their tracks with age (:mod:`~vlms_bayes.feasibility.radii`): the KL cycles start at a
drawn disk lifetime and the first high-eccentricity phase comes t_KL later, at t₁; the radii
at t₁ set the tidal bulges of e_max and the disruption distance, and the migration starts
at t₁ with the radii evolving along the way. Both bodies' lags are drawn per draw from
their priors (:class:`~vlms_bayes.feasibility.priors.TidalLagPrior`). The host spins as its
age-dependent prior says (:class:`~vlms_bayes.feasibility.priors.HostSpinPrior`, one quantile
per draw): at t₁ its rotational bulge quenches e_max like GR
(:func:`~vlms_bayes.feasibility.kozai.epsilon_rot_host`) and along the migration its spin
enters its tide (:mod:`~vlms_bayes.feasibility.spin`). ``radii="frozen"``, ``lags="fixed"``
and ``host_spin="none"`` restore today's radii, the fixed Q' values and a non-rotating host
for comparison; :func:`physics_assumptions` states the choice.

A draw is feasible when it passes all seven. Random numbers: every cell has its own,
independent draws from its own stream of the seed (:func:`~vlms_bayes.feasibility.draws.cell_draws`,
``numpy.random.SeedSequence`` spawn keys), so the sampling noise of neighbouring cells is
independent (no bands of shared lucky draws across the grid); the draws are made in
blocks of cells, so memory does not grow with the grid. Both backends take the same draw
arrays:

* ``jax``: the kernel is written for one draw (:func:`_draw_counts`), ``vmap``-ped over
  draws and cells and chunked over cells with ``lax.map``; float64 inside
  ``jax.enable_x64(True)`` (the entry point sets it; the library never flips it globally);
* ``numba``: :mod:`vlms_bayes.feasibility.montecarlo_numba`, parallel over cells.

``backend="auto"`` uses JAX and falls back to numba with one log line; the backend used
and the reason are returned in :class:`MapResult` (and recorded in ``run.json``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility import (
    kozai,
    migration,
    montecarlo_numba,
    radii,
    spin,
    tides,
    triple_stability,
)
from vlms_bayes.feasibility.draws import (  # noqa: F401  (re-exported API)
    CRITERIA,
    DRAW_FIELDS,
    LAG_MODES,
    PARAM_FIELDS,
    R0_TRACK,
    R1_INFL,
    S0_TRACK,
    cell_draws,
    make_draws,
    n_outputs,
)
from vlms_bayes.feasibility.priors import ContractionPrior, HostSpinPrior, TidalLagPrior
from vlms_bayes.feasibility.stability import ac_ratio_jax, holman_wiegert_stype
from vlms_bayes.feasibility.units import G_AU3_MSUN_YR2, MJUP_MSUN, RJUP_AU, RSUN_AU

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("jax", "numba", "auto")
#: The scalar entries of the parameter vector (the radius tracks follow them).
_SCALAR_PARAMS = PARAM_FIELDS[:R0_TRACK]

#: Draws generated and evaluated together (memory: about 50 bytes per draw and field).
BLOCK_DRAWS = 2**21
#: Systems per JAX call of :func:`pair_counts` (one compiled shape for every call).
PAIR_BLOCK = 2**15


def _jax_index(x: Any) -> Any:
    """Floor of ``x`` as an int32 index (JAX), for :func:`radii.track_at`."""
    import jax.numpy as jnp  # heavy: jax

    return jnp.floor(x).astype(jnp.int32)


def _march_jax(a_lo: Any, a_hi: Any, h: Any, kl: bool, t0: Any, ln: Any, idx: Any, p: Any,
               r0_off: int, r1_off: int, m1: Any, m0: Any, lag1: Any, lag0: Any, r1_obs: Any,
               s1: Any, s_off: int, z0: Any, on0: Any, ex: Any) -> Any:
    """:func:`migration.march` with ``jax.lax.fori_loop`` over the same sub-panel steps."""
    import jax  # heavy: jax

    x_lo = a_lo - h
    ratio = (a_hi - h) / x_lo
    width = ln(ratio) / migration.N_SUB
    return jax.lax.fori_loop(0, migration.N_SUB, lambda i, carry: migration._sub_step(
        i, carry, x_lo, ratio, width, h, kl, t0, ln, idx, p, r0_off, r1_off, m1, m0, lag1,
        lag0, r1_obs, s1, s_off, z0, on0, ex), (0.0 * width, 0.0 * width))


@dataclass(frozen=True)
class Target:
    """The companion whose origin is tested (default TOI-6894 b, Bryant et al. 2025)."""

    name: str = "TOI-6894 b"
    m_star_msun: float = 0.207
    r_star_rsun: float = 0.2276
    mass_mj: float = 0.168
    radius_rj: float = 0.855
    a_au: float = 0.02604

    def check(self) -> None:
        """Raise :class:`InputDataError` for a non-physical target."""
        for name in ("m_star_msun", "r_star_rsun", "mass_mj", "radius_rj", "a_au"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise InputDataError(f"Target {self.name!r}: {name} = {v!r} must be a positive "
                                     "number; give it with the matching command option.")


@dataclass(frozen=True)
class FeasibilityConfig:
    """Every setting of the feasibility map (recorded in ``run.json``)."""

    target: Target = field(default_factory=Target)
    n_m_out: int = 100
    n_a_out: int = 100
    m_out_range_msun: tuple[float, float] = (0.01, 0.6)
    a_out_range_au: tuple[float, float] = (5.0, 5000.0)
    n_draws: int = 200
    horizon_gyr: float = 1.0
    disruption_factor: float = 2.7
    a_tol: float = 0.1
    a0_range_au: tuple[float, float] = (0.1, 5.0)
    e0_max: float = 0.1
    tide_model: Literal["ctl", "constant_q"] = "ctl"
    q_prime_planet: float = 1e5
    q_prime_star: float = 1e6
    k2_planet: float = 0.37
    k2_star: float = 0.29
    include_tides: bool = True
    include_rotation: bool = False
    planet_spin_period_hr: float = 10.0
    radii: Literal["evolving", "frozen"] = "evolving"
    lags: Literal["prior", "fixed"] = "prior"
    host_spin: Literal["prior", "none"] = "prior"
    stability: Literal["quarles", "holman_wiegert"] = "quarles"
    quarles_incl_deg: float = 0.0
    sens_horizons_gyr: tuple[float, ...] = (1.0, 3.0, 5.0)
    sens_disruption_factors: tuple[float, ...] = (2.0, 2.7, 3.0)
    sens_seed_rcrit_rstar: tuple[float, ...] = (3.0, 5.0, 7.0)
    chunk_cells: int = 32

    def check(self) -> None:
        """Raise :class:`InputDataError` naming the first bad setting."""
        self.target.check()
        if self.n_m_out < 2 or self.n_a_out < 2 or self.n_draws < 1:
            raise InputDataError("The grid needs at least 2 x 2 cells and 1 draw per cell; got "
                                 f"{self.n_m_out} x {self.n_a_out} x {self.n_draws}.")
        for name in ("m_out_range_msun", "a_out_range_au", "a0_range_au"):
            lo, hi = getattr(self, name)
            if not (0 < lo < hi):
                raise InputDataError(f"{name} = ({lo}, {hi}) must satisfy 0 < low < high.")
        if self.a0_range_au[0] <= self.target.a_au:
            raise InputDataError(
                f"Initial semi-major axes must start outside the observed orbit "
                f"(a = {self.target.a_au} AU); a0_range_au = {self.a0_range_au}.")
        if not 0 <= self.e0_max < 1:
            raise InputDataError(f"e0_max = {self.e0_max} must lie in [0, 1).")
        if self.tide_model not in ("ctl", "constant_q"):
            raise InputDataError(f"tide_model must be 'ctl' or 'constant_q', not "
                                 f"{self.tide_model!r}.")
        if self.radii not in radii.RADIUS_MODES:
            raise InputDataError(f"radii must be one of {', '.join(radii.RADIUS_MODES)}, not "
                                 f"{self.radii!r}.")
        if self.lags not in LAG_MODES:
            raise InputDataError(f"lags must be one of {', '.join(LAG_MODES)}, not "
                                 f"{self.lags!r}.")
        if self.host_spin not in spin.HOST_SPIN_MODES:
            raise InputDataError(f"host_spin must be one of {', '.join(spin.HOST_SPIN_MODES)}"
                                 f", not {self.host_spin!r}.")
        if self.radii == "evolving":
            lo, hi = radii.HOST_MASS_RANGE
            if not lo <= self.target.m_star_msun <= hi:
                raise InputDataError(
                    f"Time-dependent host radii (BHAC15) cover {lo}-{hi} Msun; the host of "
                    f"{self.target.name} has {self.target.m_star_msun} Msun. Use frozen "
                    "radii (--radii frozen).")
        if self.stability not in ("quarles", "holman_wiegert"):
            raise InputDataError(f"stability must be 'quarles' or 'holman_wiegert', not "
                                 f"{self.stability!r}.")
        if not (self.horizon_gyr > 0 and self.disruption_factor > 0 and 0 < self.a_tol < 1):
            raise InputDataError("horizon_gyr and disruption_factor must be positive and "
                                 f"0 < a_tol < 1 (got {self.horizon_gyr}, "
                                 f"{self.disruption_factor}, {self.a_tol}).")

    @property
    def m_out_grid(self) -> np.ndarray:
        """Log-spaced perturber masses (Msun)."""
        return np.geomspace(*self.m_out_range_msun, self.n_m_out)

    @property
    def a_out_grid(self) -> np.ndarray:
        """Log-spaced perturber separations (AU)."""
        return np.geomspace(*self.a_out_range_au, self.n_a_out)

    def disruption_radius_au(self) -> float:
        """r_t = R_p (M⋆/M_p)^(1/3) of the target."""
        t = self.target
        return float(tides.disruption_radius_au(t.radius_rj * RJUP_AU, t.mass_mj * MJUP_MSUN,
                                                t.m_star_msun))


def kernel_params(config: FeasibilityConfig) -> np.ndarray:
    """The float parameter vector (:data:`PARAM_FIELDS`) both kernels read."""
    t = config.target
    m0, m1 = t.m_star_msun, t.mass_mj * MJUP_MSUN
    n_obs = np.sqrt(G_AU3_MSUN_YR2 * (m0 + m1) / t.a_au**3)
    vals = {
        "m0": m0, "m1": m1, "r0_au": t.r_star_rsun * RSUN_AU, "r1_au": t.radius_rj * RJUP_AU,
        "a_obs_au": t.a_au, "k2_1": config.k2_planet, "k2_0": config.k2_star,
        "tide_on": float(config.include_tides), "rot_on": float(config.include_rotation),
        "spin1_per_yr": 2 * np.pi / (config.planet_spin_period_hr / 24.0 / 365.25),
        # the fixed lags at the frequency of the final orbit (tides.lag_from_qprime); the
        # kernels read each draw's lags (draws.physics_from_uniforms), equal to these with
        # lags="fixed"
        "lag1_yr": tides.lag_from_qprime(config.q_prime_planet, n_obs),
        "lag0_yr": tides.lag_from_qprime(config.q_prime_star, n_obs),
        "tide_model": 0.0 if config.tide_model == "ctl" else 1.0,
        "q_prime_1": config.q_prime_planet, "horizon_yr": config.horizon_gyr * 1e9,
        "r_dis_au": config.disruption_factor * config.disruption_radius_au(),
        "a_lo_au": t.a_au * (1 - config.a_tol), "a_hi_au": t.a_au * (1 + config.a_tol),
        "stype_mode": 0.0 if config.stability == "quarles" else 1.0,
        "eps_oct_flag": kozai.EPS_OCT_FLAG, "n_obs_per_yr": n_obs,
        "spin0_on": float(config.host_spin == "prior"),
    }
    r0_track, r1_infl = radii.radius_tracks(config.radii, m0, vals["r0_au"], m1)
    return np.concatenate([np.array([vals[k] for k in _SCALAR_PARAMS], float), r0_track,
                           r1_infl, spin.spin_tracks(config.host_spin)])


def physics_assumptions(config: FeasibilityConfig) -> str:
    """What the radii and the tidal lags of a run assume, in words (summaries, run.json)."""
    t = config.target
    if config.radii == "frozen":
        rad = (f"radii frozen at today's (R_p = {t.radius_rj:g} RJ, R* = {t.r_star_rsun:g} "
               "Rsun)")
    else:
        cp = ContractionPrior()
        note = radii.companion_mass_note(t.mass_mj * MJUP_MSUN)
        rad = (f"radii evolving with age from the first high-e phase on (KL start at the "
               f"disk lifetime, Weibull k={cp.lifetime_weibull[0]:g}, "
               f"{cp.lifetime_weibull[1] / 1e6:g} Myr, plus t_KL): host BHAC15 (Baraffe et "
               f"al. 2015) scaled to R* = {t.r_star_rsun:g} Rsun at 5 Gyr; companion "
               f"{t.radius_rj:g} RJ today inflated as COND03 (Baraffe et al. 2003; {note}) "
               f"times U({cp.amplitude[0]:g}, {cp.amplitude[1]:g})")
    if config.lags == "fixed":
        lag = (f"tidal lags fixed: Q'p = {config.q_prime_planet:g}, Q'* = "
               f"{config.q_prime_star:g} at the observed orbit's frequency")
    else:
        lp = TidalLagPrior()
        lag = (f"tidal lags drawn per draw: companion k2*dt log-uniform "
               f"{lp.planet_k2_lag_s[0]:.3g}-{lp.planet_k2_lag_s[1]:.3g} s (Jupiter, Lainey "
               f"et al. 2009 - Saturn, Lainey et al. 2017), host Q'* log-uniform "
               f"{lp.star_q_prime[0]:.0e}-{lp.star_q_prime[1]:.0e} (Penev et al. 2018)")
    if config.host_spin == "none":
        rot = "host not rotating (no stellar rotational bulge; non-rotating host tide)"
    else:
        sp = HostSpinPrior()
        med = ", ".join(f"{p_d:.2g} d at {age / 1e6:.4g} Myr" for age, p_d, _ in sp.anchors)
        lo, hi = sp.mass_range_msun
        m = config.target.m_star_msun
        out = "" if lo <= m <= hi else (
            f"; the host's {m:g} Msun is outside the prior's fully convective {lo:g}-{hi:g} "
            "Msun: extrapolated")
        rot = (f"host spin from its prior, one quantile per draw, at the age of the first "
               f"high-e phase (log-normal with medians {med}: Upper Sco and Pleiades, "
               f"Rebull et al. 2018; 0.6-3 Gyr, Pass et al. 2024; capped at break-up{out}): its "
               f"rotational bulge (k2* = {config.k2_star:g}, spin along the orbit normal) "
               f"precesses the orbit and its spin enters the host's tide")
    return f"{rad}; {lag}; {rot}; tides {config.tide_model}"


def sensitivity_settings(config: FeasibilityConfig) -> tuple[np.ndarray, ...]:
    """Horizons (yr), survival floors (AU) and the seed's r_crit values (AU) of the study."""
    r_t = config.disruption_radius_au()
    r_star = config.target.r_star_rsun * RSUN_AU
    return (np.asarray(config.sens_horizons_gyr, float) * 1e9,
            np.asarray(config.sens_disruption_factors, float) * r_t,
            np.asarray(config.sens_seed_rcrit_rstar, float) * r_star)


# ----------------------------------------------------------------------------------------
# JAX kernel (one draw), batched at the edge
# ----------------------------------------------------------------------------------------
def _draw_outcome(p: Any, table: Any, m_out: Any, a_out: Any, d: Any) -> dict[str, Any]:
    """Physics of one draw (JAX scalars); ``p`` is the parameter vector, ``d`` the draw."""
    import jax  # heavy: JAX, kept off the numba path
    import jax.numpy as jnp  # heavy: JAX

    P = {k: p[PARAM_FIELDS.index(k)] for k in _SCALAR_PARAMS}
    m0, m1 = P["m0"], P["m1"]
    e_out, a0, e0 = d["e_out"], d["a0_au"], d["e0"]
    t_kl = kozai.kl_timescale_yr(m0, m1, m_out, a0, a_out, e_out)
    # radii at the first high-eccentricity phase: the KL cycles start when the disk is gone
    t1 = d["t_start_yr"] + t_kl
    r0 = radii.track_at(t1, p, R0_TRACK, jnp.log, _jax_index)
    r1 = P["r1_au"] * (1.0 + d["rp_scale"] * radii.track_at(t1, p, R1_INFL, jnp.log,
                                                              _jax_index))
    eps_oct = kozai.epsilon_oct(m0, m1, a0, a_out, e_out)
    eps_gr = kozai.epsilon_gr(m0, m1, m_out, a0, a_out, e_out)
    eps_tide = P["tide_on"] * kozai.epsilon_tide(m0, m1, m_out, a0, a_out, e_out, r1,
                                                 P["k2_1"], r0, P["k2_0"])
    # the host's spin at t1 (its prior, this draw's quantile, capped at break-up)
    spin0 = spin.host_spin_per_yr(t1, p, S0_TRACK, d["spin0_z"], P["spin0_on"], r0, m0,
                                  jnp.log, _jax_index, jnp.exp)
    eps_rot = P["rot_on"] * kozai.epsilon_rot(m0, m1, m_out, a0, a_out, e_out, r1,
                                              P["k2_1"], P["spin1_per_yr"]) \
        + kozai.epsilon_rot_host(m0, m1, m_out, a0, a_out, e_out, r0, P["k2_0"], spin0)
    e_max, ome = kozai.kl_emax(e0, d["cos_i"], d["sin2_omega"], eps_gr, eps_tide, eps_rot,
                               xp=jnp, fori_loop=jax.lax.fori_loop)
    r_p = a0 * ome
    a_f = r_p * (1.0 + e_max)
    # integrated (a, e) decay at fixed a(1 - e^2) from a0 to the top of the window, slowed
    # by the share of each KL cycle spent near e_max until the orbit decouples, with both
    # radii following their tracks from t1 on
    t_ctl = migration.migration_time_evolving_yr(
        a0, a_f, P["a_hi_au"], eps_gr, m1, m0, d["lag1_yr"], d["lag0_yr"], t1, P["r1_au"],
        d["rp_scale"], p, R0_TRACK, R1_INFL, S0_TRACK, d["spin0_z"], P["spin0_on"],
        ln=jnp.log, idx=_jax_index, ex=jnp.exp, march_fn=_march_jax)
    t_cq = tides.circularisation_time_constant_q_yr(
        a_f, m1, m0, r1, 1.5 / (d["lag1_yr"] * P["n_obs_per_yr"]))
    t_tide = jnp.where(P["tide_model"] == 0.0, t_ctl, t_cq)
    stable_triple = triple_stability.ma01_stable(a0, a_out, m_out / (m0 + m1), e_out,
                                                 d["incl_rad"])
    mu = m_out / (m0 + m_out)
    quarles = ac_ratio_jax(table, mu, jnp.minimum(e_out, 0.8)) \
        * jnp.where(e_out > 0.8, (1.0 - e_out) / 0.2, 1.0)
    ratio = jnp.where(P["stype_mode"] == 0.0, quarles,
                      jnp.maximum(holman_wiegert_stype(mu, e_out), 0.0))
    return {"t_kl_yr": t_kl, "eps_oct": eps_oct, "eps_gr": eps_gr, "eps_tide": eps_tide,
            "eps_rot": eps_rot, "spin0_per_yr": spin0, "e_max": e_max, "one_minus_e_max": ome,
            "r_p_au": r_p, "a_f_au": a_f,
            "t_tide_yr": t_tide, "stable_triple": stable_triple,
            "ac_ratio": ratio, "stable_stype": a0 < ratio * a_out, "r1_au": r1, "r0_au": r0,
            "r_dis_au": P["r_dis_au"] * (r1 / P["r1_au"])}


def _draw_counts(p: Any, settings: tuple[Any, Any, Any], table: Any, m_out: Any, a_out: Any,
                 d: Any) -> Any:
    """Count vector (:func:`n_outputs`) of one draw: 0/1 for each output."""
    import jax.numpy as jnp  # heavy: JAX

    horizons, r_dis, r_crit = settings
    o = _draw_outcome(p, table, m_out, a_out, d)
    T, rd = p[PARAM_FIELDS.index("horizon_yr")], p[PARAM_FIELDS.index("r_dis_au")]
    a_lo, a_hi = p[PARAM_FIELDS.index("a_lo_au")], p[PARAM_FIELDS.index("a_hi_au")]
    base = o["stable_triple"] & o["stable_stype"] & (o["a_f_au"] <= a_hi) \
        & (o["a_f_au"] >= a_lo)
    grow = o["r1_au"] / p[PARAM_FIELDS.index("r1_au")]  # the companion's radius then / now
    flags = jnp.stack([o["stable_triple"], o["stable_stype"], o["t_kl_yr"] <= T,
                       o["a_f_au"] <= a_hi, o["r_p_au"] >= rd * grow, o["a_f_au"] >= a_lo,
                       o["t_tide_yr"] <= T])
    cascade = jnp.cumprod(flags.astype(jnp.int32))
    t_ok = (o["t_kl_yr"] <= horizons) & (o["t_tide_yr"] <= horizons)
    sens = base & t_ok[:, None] & (o["r_p_au"] >= r_dis * grow)[None, :]
    seed = (o["t_kl_yr"] <= horizons)[:, None] & (o["r_p_au"] <= r_crit)[None, :]
    octu = cascade[-1].astype(bool) \
        & (o["eps_oct"] > p[PARAM_FIELDS.index("eps_oct_flag")])
    return jnp.concatenate([flags.astype(jnp.int32), cascade, sens.ravel().astype(jnp.int32),
                            seed.ravel().astype(jnp.int32), octu[None].astype(jnp.int32)])


def _map_jax(params: np.ndarray, settings: tuple[np.ndarray, ...], table: Any,
             m_cells: np.ndarray, a_cells: np.ndarray, draws: dict[str, np.ndarray],
             chunk: int) -> np.ndarray:
    """Counts of the given cells; ``draws`` has shape (n_cells, n_draws) per field."""
    import jax  # heavy: JAX
    import jax.numpy as jnp  # heavy: JAX

    with jax.enable_x64(True):
        n_dev = jax.local_device_count()
        n_cells = m_cells.size
        n_chunks = -(-n_cells // chunk)
        n_chunks = -(-n_chunks // n_dev) * n_dev  # a whole number of chunks per device
        pad = n_chunks * chunk - n_cells

        def padded(x: np.ndarray) -> np.ndarray:
            x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
            return x.reshape(n_chunks, chunk, *x.shape[1:])

        out = _jitted_map(n_dev)(jnp.asarray(params), tuple(jnp.asarray(s) for s in settings),
                                 table, jnp.asarray(padded(m_cells)),
                                 jnp.asarray(padded(a_cells)),
                                 {k: jnp.asarray(padded(draws[k])) for k in DRAW_FIELDS})
        return np.asarray(out).reshape(n_chunks * chunk, -1)[:n_cells]


_JIT_CACHE: dict[Any, Any] = {}


def _jitted_map(n_dev: int = 1) -> Any:
    """The compiled map over chunks of cells, split over ``n_dev`` local devices.

    Each cell has its own draws (:func:`~vlms_bayes.feasibility.draws.cell_draws`). JAX
    runs one CPU device on one core; with several host devices (XLA flag
    ``--xla_force_host_platform_device_count``, set by the command line before JAX starts)
    each device takes an equal share of the chunks (``shard_map``) and the shares run in
    parallel. Every cell is computed alone, so the counts do not depend on the split.
    """
    if n_dev not in _JIT_CACHE:
        import jax  # heavy: JAX
        import jax.numpy as jnp  # heavy: JAX

        def cell(p, settings, table, m_out, a_out, draws):
            per_draw = jax.vmap(lambda d: _draw_counts(p, settings, table, m_out, a_out, d))
            return per_draw(draws).sum(axis=0, dtype=jnp.int32)  # as numba; halves memory

        def run(p, settings, table, m_chunks, a_chunks, draw_chunks):
            chunk_fn = jax.vmap(cell, in_axes=(None, None, None, 0, 0, 0))
            return jax.lax.map(lambda mad: chunk_fn(p, settings, table, *mad),
                               (m_chunks, a_chunks, draw_chunks))

        if n_dev > 1:
            from jax.sharding import Mesh  # heavy: JAX
            from jax.sharding import PartitionSpec as P  # heavy: JAX

            mesh = Mesh(np.array(jax.local_devices()), ("cells",))
            run = jax.shard_map(run, mesh=mesh, out_specs=P("cells"),
                                in_specs=(P(), P(), P(), P("cells"), P("cells"), P("cells")))
        _JIT_CACHE[n_dev] = jax.jit(run)
    return _JIT_CACHE[n_dev]


def draw_outcomes(config: FeasibilityConfig, table: Any, m_out: float, a_out: float,
                  draws: dict[str, np.ndarray], *,
                  backend: Literal["jax", "numba"] = "jax") -> dict[str, np.ndarray]:
    """Per-draw physics (t_KL, e_max, periastron, a_F, tidal time, stability) in one cell.

    For inspection and for holding the two backends to the same numbers.
    """
    params = kernel_params(config)
    if backend == "numba":
        return montecarlo_numba.draw_outcomes(params, table, m_out, a_out, draws)
    import jax  # heavy: JAX
    import jax.numpy as jnp  # heavy: JAX

    with jax.enable_x64(True):
        f = jax.jit(jax.vmap(lambda d: _draw_outcome(jnp.asarray(params), table, m_out, a_out,
                                                     d)))
        out = f({k: jnp.asarray(v) for k, v in draws.items()})
        return {k: np.asarray(v) for k, v in out.items()}


@dataclass
class MapResult:
    """Counts of the feasibility map and how they were computed.

    ``counts`` has shape (n_m_out, n_a_out, n_outputs); :meth:`fractions` splits it.
    """

    config: FeasibilityConfig
    counts: np.ndarray
    backend: str
    fallback_reason: str | None
    wall_s: float
    seed: int | None

    def fractions(self) -> dict[str, np.ndarray]:
        """Pass fractions: marginal and cascade (n_crit, M, A), sensitivity, seed, octupole."""
        c = self.config
        nh, nr, nc = (len(c.sens_horizons_gyr), len(c.sens_disruption_factors),
                      len(c.sens_seed_rcrit_rstar))
        f = self.counts / c.n_draws
        k = len(CRITERIA)
        mv = np.moveaxis
        return {
            "marginal": mv(f[..., :k], -1, 0),
            "cascade": mv(f[..., k:2 * k], -1, 0),
            "feasible": f[..., 2 * k - 1],
            "sensitivity": mv(f[..., 2 * k:2 * k + nh * nr], -1, 0).reshape(nh, nr, *f.shape[:2]),
            "seed_rule": mv(f[..., 2 * k + nh * nr:2 * k + nh * (nr + nc)], -1, 0).reshape(
                nh, nc, *f.shape[:2]),
            "octupole_flag": f[..., -1],
        }


def feasibility_map(config: FeasibilityConfig, *, seed: int, table: Any,
                    backend: Literal["jax", "numba", "auto"] = "auto",
                    initial_ae: tuple[np.ndarray, np.ndarray] | None = None) -> MapResult:
    """Compute the feasibility map (entry point; runs JAX in float64).

    Parameters
    ----------
    config : FeasibilityConfig
        Grid, draws, physics settings.
    seed : int
        The run's seed; cell ``c`` draws from its stream ``(seed, map, c)``
        (:func:`~vlms_bayes.feasibility.draws.cell_draws`).
    table : StabilityTable
        Quarles et al. (2020) table for ``config.quarles_incl_deg``, loaded by the caller
        (:func:`vlms_bayes.pipeline.feasibility.map_stability_table`): tables are passed
        in, never loaded here.
    backend : {"jax", "numba", "auto"}
        Kernel backend; "auto" tries JAX, then numba (logged, recorded).
    initial_ae : (array, array), optional
        Initial (a0, e0) samples, e.g. from a fitted posterior.

    Returns
    -------
    MapResult
    """
    if backend not in BACKENDS:
        raise InputDataError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}.")
    config.check()
    params = kernel_params(config)
    settings = sensitivity_settings(config)
    mg, ag = np.meshgrid(config.m_out_grid, config.a_out_grid, indexing="ij")
    m_cells, a_cells = mg.ravel(), ag.ravel()
    n_cells = m_cells.size
    # blocks of whole chunks, small enough that a block's draws stay near 100 MB
    step = max(config.chunk_cells, BLOCK_DRAWS // config.n_draws // config.chunk_cells
               * config.chunk_cells)
    t0 = time.perf_counter()
    reason = None
    used = backend if backend != "auto" else "jax"
    parts = []
    for start in range(0, n_cells, step):
        sl = slice(start, min(start + step, n_cells))
        draws = cell_draws(config, seed, np.arange(sl.start, sl.stop), initial_ae)
        if used == "jax":
            try:
                parts.append(_map_jax(params, settings, table, m_cells[sl], a_cells[sl],
                                      draws, config.chunk_cells))
                continue
            except Exception as exc:
                if backend == "jax":
                    raise
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("JAX backend failed (%s); falling back to numba.", reason)
                used = "numba"
        parts.append(montecarlo_numba.map_counts(params, settings, table, m_cells[sl],
                                                 a_cells[sl], draws))
    counts = np.concatenate(parts, axis=0)
    wall = time.perf_counter() - t0
    counts = np.asarray(counts).reshape(config.n_m_out, config.n_a_out, -1)
    return MapResult(config, counts, used, reason, wall,
                     seed if isinstance(seed, int | np.integer) else None)


def pair_counts(config: FeasibilityConfig, table: Any, m_out: np.ndarray, a_out: np.ndarray,
                draws: dict[str, np.ndarray], *, backend: Literal["jax", "numba"] = "numba",
                chunk: int = 512) -> np.ndarray:
    """Count vectors of single systems, each with its own perturber and one draw.

    The map's kernels with one draw per "cell": system i has perturber (``m_out[i]``,
    ``a_out[i]``) and draw i. Used for probabilities over a prior on the perturber
    (:mod:`vlms_bayes.feasibility.probability`).

    Parameters
    ----------
    config : FeasibilityConfig
        Target and physics settings (the grid is not used).
    table : StabilityTable
        Quarles et al. (2020) table.
    m_out, a_out : numpy.ndarray
        Perturber mass (Msun) and separation (AU) of each system.
    draws : dict of numpy.ndarray
        One draw per system (:data:`DRAW_FIELDS`, length n).
    backend : {"jax", "numba"}
        Kernel backend (same numbers).
    chunk : int
        Systems per JAX chunk.

    Returns
    -------
    numpy.ndarray of int32, shape (n, n_outputs)
        0/1 per output (columns as in :meth:`MapResult.fractions`).
    """
    params = kernel_params(config)
    settings = sensitivity_settings(config)
    m_out = np.ascontiguousarray(m_out, float)
    a_out = np.ascontiguousarray(a_out, float)
    d = {k: np.asarray(draws[k], float)[:, None] for k in DRAW_FIELDS}
    if backend == "numba":
        return np.asarray(montecarlo_numba.map_counts(params, settings, table, m_out, a_out,
                                                      d))
    if backend != "jax":
        raise InputDataError(f"backend must be 'jax' or 'numba'; got {backend!r}.")
    # fixed-size blocks (the last one padded), so that every call compiles one shape
    n = m_out.size
    parts = []
    for start in range(0, n, PAIR_BLOCK):
        stop = min(start + PAIR_BLOCK, n)
        idx = np.minimum(np.arange(start, start + PAIR_BLOCK), stop - 1)
        out = _map_jax(params, settings, table, m_out[idx], a_out[idx],
                       {k: v[idx] for k, v in d.items()}, chunk)
        parts.append(out[:stop - start])
    return np.concatenate(parts, axis=0)
