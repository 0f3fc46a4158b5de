"""Random draws of the feasibility Monte Carlo, and the layout both kernels share.

This module is imported by :mod:`~vlms_bayes.feasibility.montecarlo` (JAX) and
:mod:`~vlms_bayes.feasibility.montecarlo_numba` alike, so neither imports the other for
its constants.

Random streams. Every random quantity of a feasibility run derives from the one user seed
through :class:`numpy.random.SeedSequence` spawn keys, one stream per purpose
(:data:`STREAMS`): the map, the Gaia RV exclusion, the secular check and the probability
draws never share random numbers. Within the map every cell has its own stream,
``SeedSequence(seed, spawn_key=(STREAMS["map"], cell))``, so the draws of two cells are
independent: sampling noise is independent from cell to cell (no bands of lucky draws
painted across the grid), and a cell's draws depend on the seed and its flat index only,
not on the chunking or the backend.

Each draw takes :data:`N_UNIFORMS` uniforms for its orbits, then :data:`N_PHYSICS` for its
tidal physics (the lags of both bodies, the companion's contraction amplitude and the age
at which the KL cycles start, :func:`physics_from_uniforms`), then one for the host's spin
quantile (:func:`spin_from_uniforms`), so that the orbits of a seed are the same whatever
the radius, lag and spin settings, and the lags whatever the spin setting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility import tides
from vlms_bayes.feasibility.priors import ContractionPrior, TidalLagPrior, sample_tidal_physics
from vlms_bayes.feasibility.radii import N_TRACK
from vlms_bayes.feasibility.units import G_AU3_MSUN_YR2, MJUP_MSUN

CRITERIA: tuple[str, ...] = ("stable_triple", "stable_stype", "kl_time", "reach", "survive",
                             "land", "circularise")
DRAW_FIELDS: tuple[str, ...] = ("e_out", "cos_i", "incl_rad", "sin2_omega", "a0_au", "e0",
                                "lag1_yr", "lag0_yr", "rp_scale", "t_start_yr", "spin0_z")
#: Index of each kernel parameter in the parameter vector shared by both backends.
PARAM_FIELDS: tuple[str, ...] = (
    "m0", "m1", "r0_au", "r1_au", "a_obs_au", "k2_1", "k2_0", "tide_on", "rot_on",
    "spin1_per_yr", "lag1_yr", "lag0_yr", "tide_model", "q_prime_1", "horizon_yr",
    "r_dis_au", "a_lo_au", "a_hi_au", "stype_mode", "eps_oct_flag", "n_obs_per_yr",
    "spin0_on",
    *(f"r0_track_{k}" for k in range(N_TRACK)), *(f"r1_infl_{k}" for k in range(N_TRACK)),
    *(f"spin0_mu_{k}" for k in range(N_TRACK)), *(f"spin0_sig_{k}" for k in range(N_TRACK)),
)
#: Index in the parameter vector of the host's radius track (AU) and of the companion's
#: inflation track (ρ − 1), :data:`~vlms_bayes.feasibility.radii.N_TRACK` nodes each.
R0_TRACK = PARAM_FIELDS.index("r0_track_0")
R1_INFL = PARAM_FIELDS.index("r1_infl_0")
#: Index of the host spin tracks: mean, then standard deviation, of ln(P/d)
#: (:func:`vlms_bayes.feasibility.spin.spin_tracks`).
S0_TRACK = PARAM_FIELDS.index("spin0_mu_0")
#: Spawn key (first element) of each independent random stream of a feasibility run.
STREAMS: dict[str, int] = {"map": 0, "gaia": 1, "secular": 2, "probability": 3,
                           "disk": 4, "gaia_nss": 5}
#: Uniform variates used per draw (e_out, cos i, omega, a0 or sample index, e0).
N_UNIFORMS = 5
#: Further uniform variates per draw, drawn after those (so the orbits above do not change
#: with them): companion lag, host Q', contraction amplitude, KL start age.
N_PHYSICS = 4
#: Uniform variates per draw after those: the host's spin quantile.
N_SPIN = 1
#: Bound on the spin quantile |z| (keeps exp(σ z) finite for a uniform of exactly 0).
Z_MAX = 8.0
LAG_MODES = ("prior", "fixed")


def n_outputs(n_h: int, n_r: int, n_c: int) -> int:
    """Length of one cell's count vector: 7 marginal, 7 cascade, H·R, H·C, 1 octupole."""
    return 2 * len(CRITERIA) + n_h * n_r + n_h * n_c + 1


def stream(seed: int, name: str, *more: int) -> np.random.SeedSequence:
    """The seed sequence of one named stream (and sub-stream ``more``) of ``seed``.

    Parameters
    ----------
    seed : int
        The run's seed.
    name : str
        A key of :data:`STREAMS`.
    *more : int
        Further spawn-key elements (e.g. the cell index).

    Returns
    -------
    numpy.random.SeedSequence
    """
    return np.random.SeedSequence(int(seed), spawn_key=(STREAMS[name], *map(int, more)))


def derived_seed(seed: int, name: str) -> int:
    """A 63-bit integer seed of the named stream (for APIs that record an ``int`` seed)."""
    lo, hi = stream(seed, name).generate_state(2, np.uint32)
    return (int(hi) << 31) ^ int(lo)


def _check_initial_ae(initial_ae: tuple[np.ndarray, np.ndarray],
                      a_obs_au: float) -> tuple[np.ndarray, np.ndarray]:
    a_s, e_s = (np.asarray(x, float).ravel() for x in initial_ae)
    if a_s.shape != e_s.shape:
        raise InputDataError("initial_ae must be two equal-length arrays (a0 in AU, e0); got "
                             f"{a_s.size} and {e_s.size} values.")
    ok = np.isfinite(a_s) & np.isfinite(e_s) & (a_s > a_obs_au) & (e_s >= 0) & (e_s < 1)
    if not ok.any():
        raise InputDataError("initial_ae must be two equal-length arrays (a0 in AU beyond "
                             "the observed orbit, 0 <= e0 < 1) with at least one valid pair.")
    return a_s[ok], e_s[ok]


def draws_from_uniforms(u: np.ndarray, config: Any,
                        initial_ae: tuple[np.ndarray, np.ndarray] | None = None
                        ) -> dict[str, np.ndarray]:
    """Transform uniform variates (last axis :data:`N_UNIFORMS`) into draws.

    e_out thermal (f(e) = 2e, capped at 0.99), isotropic mutual inclination, uniform
    argument of pericentre, a0 log-uniform in ``config.a0_range_au`` and e0 uniform in
    [0, ``config.e0_max``] — or (a0, e0) resampled from ``initial_ae``.

    Parameters
    ----------
    u : numpy.ndarray, shape (..., N_UNIFORMS)
        Uniform variates in [0, 1).
    config : FeasibilityConfig
        Distributions (``a0_range_au``, ``e0_max``, ``target.a_au``).
    initial_ae : (array, array), optional
        Samples of the initial semi-major axis (AU) and eccentricity.

    Returns
    -------
    dict of numpy.ndarray
        Arrays of shape ``u.shape[:-1]`` named as :data:`DRAW_FIELDS` (plus ``omega_rad``).
    """
    e_out = np.minimum(np.sqrt(u[..., 0]), 0.99)
    cos_i = 2.0 * u[..., 1] - 1.0
    omega = 2 * np.pi * u[..., 2]
    if initial_ae is None:
        lo, hi = np.log(config.a0_range_au)
        a0 = np.exp(lo + (hi - lo) * u[..., 3])
        e0 = config.e0_max * u[..., 4]
    else:
        a_s, e_s = _check_initial_ae(initial_ae, config.target.a_au)
        k = np.minimum((u[..., 3] * a_s.size).astype(np.int64), a_s.size - 1)
        a0, e0 = a_s[k], e_s[k]
    return {"e_out": e_out, "cos_i": cos_i, "incl_rad": np.arccos(cos_i),
            "sin2_omega": np.sin(omega) ** 2, "a0_au": a0, "e0": e0, "omega_rad": omega}


def n_obs_per_yr(config: Any) -> float:
    """Mean motion (rad/yr) of the target's observed orbit."""
    t = config.target
    return float(np.sqrt(G_AU3_MSUN_YR2 * (t.m_star_msun + t.mass_mj * MJUP_MSUN) / t.a_au**3))


def physics_from_uniforms(v: np.ndarray, config: Any) -> dict[str, np.ndarray]:
    """Per-draw tidal lags, contraction amplitude and KL start age (last axis :data:`N_PHYSICS`).

    With ``config.lags == "fixed"`` both lags are the constants of ``q_prime_planet`` and
    ``q_prime_star`` at the observed orbit's frequency (the old behaviour); with
    ``config.radii == "frozen"`` the amplitude is 0 (the host's track is flat anyway,
    :func:`vlms_bayes.feasibility.radii.radius_tracks`).

    Returns
    -------
    dict of numpy.ndarray
        ``lag1_yr``, ``lag0_yr``, ``rp_scale``, ``t_start_yr`` of shape ``v.shape[:-1]``.
    """
    lags = getattr(config, "lags", "prior")
    if lags not in LAG_MODES:
        raise InputDataError(f"lags must be one of {', '.join(LAG_MODES)}; got {lags!r}.")
    n_obs = n_obs_per_yr(config)
    out = sample_tidal_physics(TidalLagPrior(), ContractionPrior(), n_obs, v)
    if lags == "fixed":
        out["lag1_yr"] = np.full(v.shape[:-1], tides.lag_from_qprime(config.q_prime_planet,
                                                                     n_obs))
        out["lag0_yr"] = np.full(v.shape[:-1], tides.lag_from_qprime(config.q_prime_star,
                                                                     n_obs))
    if getattr(config, "radii", "evolving") == "frozen":
        out["rp_scale"] = np.zeros(v.shape[:-1])
    return out


def spin_from_uniforms(w: np.ndarray) -> dict[str, np.ndarray]:
    """The host's spin quantile z (standard normal, |z| <= :data:`Z_MAX`) from uniforms.

    One z per draw, kept at every age (:class:`~vlms_bayes.feasibility.priors.HostSpinPrior`).
    """
    z = special.ndtri(np.asarray(w, float))
    return {"spin0_z": np.clip(z, -Z_MAX, Z_MAX)}


def make_draws(config: Any, seed: int | np.random.Generator | np.random.SeedSequence,
               initial_ae: tuple[np.ndarray, np.ndarray] | None = None, *,
               n: int | None = None) -> dict[str, np.ndarray]:
    """One set of ``n`` (default ``config.n_draws``) draws from one generator.

    Parameters
    ----------
    config : FeasibilityConfig
        Settings (``n_draws`` and the distributions, :func:`draws_from_uniforms`).
    seed : int, SeedSequence or numpy.random.Generator
        The source of randomness.
    initial_ae : (array, array), optional
        Samples of the companion's initial semi-major axis (AU) and eccentricity.
    n : int, optional
        Number of draws.

    Returns
    -------
    dict of numpy.ndarray
        Arrays of length ``n`` named as :data:`DRAW_FIELDS` (the orbit from the first
        :data:`N_UNIFORMS` variates of each draw, then :func:`physics_from_uniforms`, then
        :func:`spin_from_uniforms`).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if initial_ae is not None:
        _check_initial_ae(initial_ae, config.target.a_au)
    n = config.n_draws if n is None else n
    u = rng.random((n, N_UNIFORMS))
    v = rng.random((n, N_PHYSICS))
    w = rng.random(n)
    return draws_from_uniforms(u, config, initial_ae) | physics_from_uniforms(v, config) \
        | spin_from_uniforms(w)


def cell_draws(config: Any, seed: int, cells: np.ndarray,
               initial_ae: tuple[np.ndarray, np.ndarray] | None = None
               ) -> dict[str, np.ndarray]:
    """Independent draws for each of the given cells (flat indices of the grid).

    Cell ``c`` uses its own stream ``SeedSequence(seed, spawn_key=(STREAMS["map"], c))``,
    so its draws are independent of every other cell's and the same whichever block of
    cells it is computed in.

    Parameters
    ----------
    config : FeasibilityConfig
        Settings (``n_draws`` and the distributions).
    seed : int
        The run's seed.
    cells : numpy.ndarray of int
        Flat cell indices (row-major over (m_out, a_out)).
    initial_ae : (array, array), optional
        Initial (a0, e0) samples.

    Returns
    -------
    dict of numpy.ndarray
        Arrays of shape (len(cells), n_draws) named as :data:`DRAW_FIELDS`.
    """
    cells = np.asarray(cells, np.int64).ravel()
    u = np.empty((cells.size, config.n_draws, N_UNIFORMS))
    v = np.empty((cells.size, config.n_draws, N_PHYSICS))
    w = np.empty((cells.size, config.n_draws))
    for i, c in enumerate(cells):
        gen = np.random.Generator(np.random.PCG64(stream(seed, "map", int(c))))
        gen.random(out=u[i])
        gen.random(out=v[i])
        gen.random(out=w[i])
    return draws_from_uniforms(u, config, initial_ae) | physics_from_uniforms(v, config) \
        | spin_from_uniforms(w)
