"""Injection–recovery of binaries in Gaia RV noise, completeness maps, perturber detectability.

Two simulation modes (spec §6):

- ``code`` (the reference pipeline): (N, Δt) resampled jointly from a catalogue, ln σ log-uniform
  on [ln 0.1, ln 30] with a 5% mis-estimate (s_lnσ = 0.05), P log-U[1, 800] d, K log-U[0.1, 500]
  km/s, e ~ Beta(0.867, 3.03), ω and φ uniform (``angle_bug=True`` reproduces the reference
  code's exp(uniform) angles);
- ``paper`` (Chance et al. 2024 §2.2): a log-U[1e-2, 1e3] AU, q log-U[1e-4, 1], isotropic i,
  e ~ U(0, e_max), (ln σ, s_lnσ, N, Δt, G) from a random catalogue row, 1038-day span unless
  the row has its own Δt, primary mass m₁ (1 M☉ by default).

Each simulated system gets a synthetic ε = √(π s²/(2N) + f²) from N noisy Keplerian RVs and the
marginalised p-value; ε above ``eps_cull_kms`` is not published (NaN). A system is detected
when p < 0.001. :func:`gaia_detection_probability` answers, for hosts of given mass, G and
colour, how likely Gaia's RV noise would reveal a perturber of mass M_out at a_out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from astropy import constants as const
from astropy import units as u
from numpy.typing import ArrayLike, NDArray

from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.rv import pvalues as rp
from vlms_bayes.inference.rv.kernels import kepler_solve_np
from vlms_bayes.models.rv_noise.model import NoiseModel

#: √(G M☉ / 1 AU) in km/s (≈ 29.78).
V_ORB_KMS: float = float(np.sqrt(const.G * const.M_sun / const.au).to_value(u.km / u.s))
DAYS_PER_YEAR: float = float((1 * u.yr).to_value(u.day))
#: Gaia's non-publication limit on ε (km/s).
EPS_CULL_KMS = 40.0


def semiamplitude_kms(m1_msun: ArrayLike, m2_msun: ArrayLike, a_au: ArrayLike, *,
                      sin_i: ArrayLike = 1.0, ecc: ArrayLike = 0.0) -> NDArray[np.float64]:
    """RV semi-amplitude of body 1, K₁ = m₂ √(G/(M a)) sin i / √(1 − e²), in km/s."""
    m1, m2, a = (np.asarray(x, np.float64) for x in (m1_msun, m2_msun, a_au))
    return (V_ORB_KMS * m2 / np.sqrt((m1 + m2) * a) * np.asarray(sin_i)
            / np.sqrt(1.0 - np.asarray(ecc, np.float64) ** 2))


def period_days(m_tot_msun: ArrayLike, a_au: ArrayLike) -> NDArray[np.float64]:
    """Orbital period P = 1 yr · √(a³/M) in days."""
    return DAYS_PER_YEAR * np.sqrt(np.asarray(a_au, float) ** 3 / np.asarray(m_tot_msun, float))


def synthetic_eps(k_kms: NDArray, per_day: NDArray, ecc: NDArray, omega: NDArray,
                  phase: NDArray, n_transits: NDArray, dt_days: NDArray, sigma_kms: NDArray,
                  rng: np.random.Generator, *, rv_floor_kms: float = 0.11,
                  chunk_elems: int = 4_000_000) -> NDArray[np.float64]:
    """ε Gaia would publish for systems observed N times uniformly over Δt (1-D arrays)."""
    m = k_kms.size
    n = np.asarray(n_transits, np.int64)
    out = np.empty(m)
    nmax = int(n.max()) if m else 0
    step = max(1, chunk_elems // max(nmax, 1))
    for s in range(0, m, step):
        sl = slice(s, s + step)
        nn = n[sl]
        t = rng.uniform(0.0, 1.0, (nn.size, nmax)) * dt_days[sl, None]
        mask = np.arange(nmax)[None, :] < nn[:, None]
        e = ecc[sl, None]
        big_e = kepler_solve_np(2 * np.pi * t / per_day[sl, None] + phase[sl, None],
                                np.broadcast_to(e, t.shape))
        f = 2 * np.arctan2(np.sqrt(1 + e) * np.sin(big_e / 2), np.sqrt(1 - e) * np.cos(big_e / 2))
        v = k_kms[sl, None] * (np.cos(f + omega[sl, None]) + e * np.cos(omega[sl, None]))
        v = v + sigma_kms[sl, None] * rng.standard_normal(t.shape)
        v = np.where(mask, v, 0.0)
        mean = v.sum(axis=1) / nn
        s2 = np.where(mask, (v - mean[:, None]) ** 2, 0.0).sum(axis=1) / (nn - 1)
        out[sl] = np.sqrt(np.pi * s2 / (2.0 * nn) + rv_floor_kms**2)
    return out


def _finish(frame: pd.DataFrame, *, eps_cull_kms: float, rv_floor_kms: float) -> pd.DataFrame:
    eps = frame["radial_velocity_error"].to_numpy()
    frame["radial_velocity_error"] = np.where(eps > eps_cull_kms, np.nan, eps)
    p, perr = rp.pvalue_marginalised(frame["radial_velocity_error"], frame["rv_nb_transits"],
                                     frame["rv_ln_uncert"], frame["rv_ln_uncert_err"],
                                     rv_floor_kms=rv_floor_kms)
    frame["rv_pval"], frame["rv_pval_err"] = p, perr
    frame["detected"] = detection_mask(frame)
    return frame


def detection_mask(frame: pd.DataFrame) -> NDArray[np.bool_]:
    """Finite ε and ln σ, N ≥ 3 and p < 0.001 (spec §6.3)."""
    with np.errstate(invalid="ignore"):
        return (np.isfinite(frame["radial_velocity_error"].to_numpy(float))
                & np.isfinite(frame["rv_ln_uncert"].to_numpy(float))
                & (frame["rv_nb_transits"].to_numpy(float) >= 3)
                & (frame["rv_pval"].to_numpy(float) < rp.DETECTION_PVAL))


def simulate_code_mode(n_sims: int, *, n_transits_pool: ArrayLike, dt_pool_days: ArrayLike,
                       seed: int = 948302, s_ln_sigma: float = 0.05,
                       eps_cull_kms: float = EPS_CULL_KMS, rv_floor_kms: float = 0.11,
                       angle_bug: bool = False) -> pd.DataFrame:
    """Injection–recovery in the reference pipeline's (P, K) mode.

    Parameters
    ----------
    n_sims : int
        Systems to simulate.
    n_transits_pool, dt_pool_days : array_like
        Catalogue (N, Δt) rows, resampled jointly with replacement (rows with N ≥ 3).
    seed : int
        PCG64 seed.
    s_ln_sigma : float
        Assumed uncertainty of ln σ; the true σ is exp(ln σ + s_lnσ z).
    eps_cull_kms : float
        ε above this is not published.
    rv_floor_kms : float
        Floor of the ε formula.
    angle_bug : bool
        Draw ω = exp(U(−π, π)) and φ = exp(U(0, 2π)) like the reference code.

    Returns
    -------
    pandas.DataFrame
        Catalogue-like columns plus ``sim_period``, ``sim_semiamp``, ``sim_ecc``,
        ``sim_omega``, ``sim_phase`` and ``detected``.
    """
    n_pool = np.asarray(n_transits_pool, float)
    dt_pool = np.asarray(dt_pool_days, float)
    ok = np.isfinite(n_pool) & (n_pool >= 3) & np.isfinite(dt_pool) & (dt_pool > 0)
    if not ok.any():
        raise InputDataError("No catalogue row with N >= 3 and a finite rv_time_duration to "
                             "resample (N, Δt) from.")
    rng = np.random.default_rng(seed)
    rows = rng.choice(np.flatnonzero(ok), n_sims)
    n, dt = n_pool[rows].astype(int), dt_pool[rows]
    ln_sig = rng.uniform(np.log(0.1), np.log(30.0), n_sims)
    sig_true = np.exp(ln_sig + s_ln_sigma * rng.standard_normal(n_sims))
    per = np.exp(rng.uniform(0.0, np.log(800.0), n_sims))
    k = np.exp(rng.uniform(np.log(0.1), np.log(500.0), n_sims))
    ecc = rng.beta(0.867, 3.03, n_sims)
    if angle_bug:
        omega = np.exp(rng.uniform(-np.pi, np.pi, n_sims))
        phase = np.exp(rng.uniform(0.0, 2 * np.pi, n_sims))
    else:
        omega = rng.uniform(0.0, 2 * np.pi, n_sims)
        phase = rng.uniform(0.0, 2 * np.pi, n_sims)
    eps = synthetic_eps(k, per, ecc, omega, phase, n, dt, sig_true, rng,
                        rv_floor_kms=rv_floor_kms)
    frame = pd.DataFrame({
        "rv_ln_uncert": ln_sig, "rv_ln_uncert_err": np.full(n_sims, s_ln_sigma),
        "rv_nb_transits": n, "radial_velocity_error": eps, "rv_time_duration": dt,
        "sim_period": per, "sim_semiamp": k, "sim_ecc": ecc, "sim_omega": omega,
        "sim_phase": phase})
    return _finish(frame, eps_cull_kms=eps_cull_kms, rv_floor_kms=rv_floor_kms)


def simulate_paper_mode(n_sims: int, *, catalogue: pd.DataFrame, seed: int = 948302,
                        m1_msun: float = 1.0, e_max: float = 0.99,
                        baseline_days: float = 1038.0, eps_cull_kms: float = EPS_CULL_KMS,
                        rv_floor_kms: float = 0.11) -> pd.DataFrame:
    """Injection–recovery in the paper's (a, q, i) mode.

    Parameters
    ----------
    n_sims : int
        Systems to simulate.
    catalogue : pandas.DataFrame
        Scored rows with ``rv_ln_uncert``, ``rv_ln_uncert_err``, ``rv_nb_transits`` and
        ``phot_g_mean_mag`` (``rv_time_duration`` optional); one is drawn per system.
    seed : int
        PCG64 seed.
    m1_msun : float
        Primary mass.
    e_max : float
        e ~ U(0, e_max).
    baseline_days : float
        Span used where the row has no Δt.
    eps_cull_kms, rv_floor_kms : float
        Publication limit on ε and the ε floor.

    Returns
    -------
    pandas.DataFrame
        Columns as :func:`simulate_code_mode` plus ``sim_a_au``, ``sim_q``, ``sim_sini`` and
        ``phot_g_mean_mag``.
    """
    need = ["rv_ln_uncert", "rv_ln_uncert_err", "rv_nb_transits", "phot_g_mean_mag"]
    missing = [c for c in need if c not in catalogue]
    if missing:
        raise InputDataError(f"Paper-mode simulation needs scored catalogue columns {missing}.")
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(catalogue["rv_ln_uncert"].to_numpy(float))
              & (catalogue["rv_nb_transits"].to_numpy(float) >= 3))
    if not ok.any():
        raise InputDataError("No scored catalogue row with N >= 3 to draw noise from.")
    rng = np.random.default_rng(seed)
    rows = catalogue.iloc[rng.choice(np.flatnonzero(ok), n_sims)]
    a = 10 ** rng.uniform(-2.0, 3.0, n_sims)
    q = 10 ** rng.uniform(-4.0, 0.0, n_sims)
    sini = np.sqrt(1.0 - rng.uniform(0.0, 1.0, n_sims) ** 2)
    ecc = rng.uniform(0.0, e_max, n_sims)
    omega = rng.uniform(0.0, 2 * np.pi, n_sims)
    phase = rng.uniform(0.0, 2 * np.pi, n_sims)
    k = semiamplitude_kms(m1_msun, q * m1_msun, a, sin_i=sini, ecc=ecc)
    per = period_days(m1_msun * (1 + q), a)
    mu = rows["rv_ln_uncert"].to_numpy(float)
    smu = rows["rv_ln_uncert_err"].to_numpy(float)
    sig_true = np.exp(mu + smu * rng.standard_normal(n_sims))
    n = rows["rv_nb_transits"].to_numpy(int)
    dt = (rows["rv_time_duration"].to_numpy(float) if "rv_time_duration" in rows
          else np.full(n_sims, np.nan))
    dt = np.where(np.isfinite(dt) & (dt > 0), dt, baseline_days)
    eps = synthetic_eps(k, per, ecc, omega, phase, n, dt, sig_true, rng,
                        rv_floor_kms=rv_floor_kms)
    frame = pd.DataFrame({
        "rv_ln_uncert": mu, "rv_ln_uncert_err": smu, "rv_nb_transits": n,
        "radial_velocity_error": eps, "rv_time_duration": dt,
        "phot_g_mean_mag": rows["phot_g_mean_mag"].to_numpy(float), "sim_period": per,
        "sim_semiamp": k, "sim_ecc": ecc, "sim_omega": omega, "sim_phase": phase,
        "sim_a_au": a, "sim_q": q, "sim_sini": sini})
    return _finish(frame, eps_cull_kms=eps_cull_kms, rv_floor_kms=rv_floor_kms)


def completeness_map(x: ArrayLike, y: ArrayLike, detected: ArrayLike, *, x_edges: ArrayLike,
                     y_edges: ArrayLike) -> tuple[NDArray, NDArray]:
    """Detected fraction and counts in a 2-D histogram (empty cells: fraction 0).

    Returns
    -------
    fraction, total : numpy.ndarray, shape (len(x_edges) − 1, len(y_edges) − 1)
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    det = np.asarray(detected, bool)
    total, _, _ = np.histogram2d(x, y, bins=[x_edges, y_edges])
    hit, _, _ = np.histogram2d(x[det], y[det], bins=[x_edges, y_edges])
    frac = np.divide(hit, total, out=np.zeros_like(hit), where=total > 0)
    return frac, total


def _draw_n_transits(noise_model: NoiseModel, size: tuple[int, ...],
                     rng: np.random.Generator) -> NDArray[np.int64]:
    hist = np.asarray(noise_model.n_transits_hist, float).copy()
    hist[:3] = 0.0
    if hist.sum() <= 0:
        raise InputDataError("The noise model stores no N >= 3 distribution; pass n_transits.")
    return rng.choice(hist.size, size=size, p=hist / hist.sum())


def gaia_detection_probability(
    m_host_msun: ArrayLike, g_mag: ArrayLike, bp_rp: ArrayLike, m_out_msun: ArrayLike,
    a_out_au: ArrayLike, *, noise_model: NoiseModel, n_transits: ArrayLike | None = None,
    baseline_days: float = 1038.0, e_max: float = 0.9, n_draws: int = 200, seed: int = 0,
    detect_pval: float = rp.DETECTION_PVAL, eps_cull_kms: float = EPS_CULL_KMS,
) -> NDArray[np.float64]:
    """Probability that Gaia's RV noise reveals a companion (p < ``detect_pval``).

    For each host (mass, G, BP−RP) and perturber (mass, semi-major axis), ``n_draws``
    orbits with isotropic inclination, e ~ U(0, e_max) and uniform angles are observed N
    times uniformly over ``baseline_days`` with the host's per-transit noise from the noise
    model (σ_true = exp(μ + s_μ z)); the synthetic ε is scored with the marginalised
    p-value. All inputs broadcast together.

    Parameters
    ----------
    m_host_msun, g_mag, bp_rp : array_like
        Host mass (M☉), G magnitude and colour.
    m_out_msun, a_out_au : array_like
        Perturber mass (M☉) and semi-major axis (AU).
    noise_model : NoiseModel
        Fitted noise model (hosts outside its grid get its extrapolated, wider σ).
    n_transits : array_like, optional
        Gaia RV transits; default: drawn from the noise model's catalogue distribution.
    baseline_days : float
        Time span (DR3: 1038 d).
    e_max : float
        Upper bound of the uniform eccentricity distribution.
    n_draws : int
        Orbits per input element.
    seed : int
        PCG64 seed.
    detect_pval : float
        Detection threshold.
    eps_cull_kms : float
        ε above this is not published: counted as not revealed by the RV-noise test.

    Returns
    -------
    numpy.ndarray
        Detection probability, with the broadcast shape of the inputs.
    """
    arrays = [np.asarray(a, float) for a in (m_host_msun, g_mag, bp_rp, m_out_msun, a_out_au)]
    if n_transits is not None:
        arrays.append(np.asarray(n_transits, float))
    arrays = np.broadcast_arrays(*arrays)
    shape = arrays[0].shape
    flat = [a.ravel() for a in arrays]
    mh, g, c, mo, ao = flat[:5]
    if np.any(mh <= 0) or np.any(ao <= 0) or np.any(mo < 0):
        raise InputDataError("Host mass and a_out must be positive and m_out non-negative.")
    rng = np.random.default_rng(seed)
    b = mh.size
    mu, smu, _ = noise_model.predict(c, g)
    if n_transits is None:
        n = _draw_n_transits(noise_model, (b, n_draws), rng)
    else:
        n = np.broadcast_to(flat[5][:, None], (b, n_draws)).astype(int)
    if np.any(n < 3):
        raise InputDataError("n_transits must be >= 3 (Gaia scores no source with fewer).")
    sini = np.sqrt(1.0 - rng.uniform(0, 1, (b, n_draws)) ** 2)
    ecc = rng.uniform(0, e_max, (b, n_draws))
    omega = rng.uniform(0, 2 * np.pi, (b, n_draws))
    phase = rng.uniform(0, 2 * np.pi, (b, n_draws))
    k = semiamplitude_kms(mh[:, None], mo[:, None], ao[:, None], sin_i=sini, ecc=ecc)
    per = period_days(mh[:, None] + mo[:, None], ao[:, None]) + 0 * k
    sig = np.exp(mu[:, None] + smu[:, None] * rng.standard_normal((b, n_draws)))
    floor = noise_model.config.rv_floor_kms
    eps = synthetic_eps(k.ravel(), per.ravel(), ecc.ravel(), omega.ravel(), phase.ravel(),
                        n.ravel(), np.full(k.size, baseline_days), sig.ravel(), rng,
                        rv_floor_kms=floor).reshape(b, n_draws)
    p, _ = rp.pvalue_marginalised(eps, n, mu[:, None], smu[:, None], rv_floor_kms=floor)
    with np.errstate(invalid="ignore"):
        det = (p < detect_pval) & (eps <= eps_cull_kms)
    prob = det.mean(axis=1)
    prob[~np.isfinite(mu)] = np.nan
    return prob.reshape(shape)


def gaia_excluded(detection_probability: ArrayLike, host_pval: float | None, *,
                  min_probability: float = 0.99,
                  detect_pval: float = rp.DETECTION_PVAL) -> NDArray[np.bool_]:
    """Perturbers that Gaia RV would have revealed although the host shows no excess noise.

    Parameters
    ----------
    detection_probability : array_like
        From :func:`gaia_detection_probability` (e.g. over a perturber grid).
    host_pval : float or None
        The host's own ``rv_pval``. None or NaN when the host has no Gaia RV (most VLMS
        hosts, TOI-6894 included, are too faint for Gaia RVS): then nothing is excluded.
    min_probability : float
        Detection probability above which a perturber counts as excluded.
    detect_pval : float
        Threshold below which the host's noise is significant (then nothing is excluded:
        the excess may be the perturber).

    Returns
    -------
    numpy.ndarray of bool
        True where the perturber is excluded by Gaia.
    """
    prob = np.asarray(detection_probability, float)
    if host_pval is None or not np.isfinite(host_pval) or host_pval < detect_pval:
        return np.zeros(prob.shape, bool)
    with np.errstate(invalid="ignore"):
        return prob >= min_probability
