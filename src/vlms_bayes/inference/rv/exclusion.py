"""Perturbers that Gaia's RV noise would have revealed, over the feasibility grid.

For a host with Gaia RVS data whose own excess-noise p-value is *not* significant
(``rv_pval`` ≥ 0.001), a perturber that Gaia would have detected with probability ≥ 99%
is excluded. The detection probability of each (M_out, a_out) cell is a Monte Carlo over
orbits (isotropic inclination, e ~ U(0, e_max), uniform ω and phase) observed N times
uniformly over the baseline, with the host's per-transit noise σ = exp(μ + s_μ z) (μ, s_μ
from the noise model at the host's colour and G, or given). The draws are *common random
numbers*: every cell sees the same inclinations, eccentricities, angles, times and noise
realisations, so the map is smooth and monotone up to the period dependence.

A draw counts as detected when its marginalised p-value (spec §4.2) is below 0.001 and its
ε is publishable (≤ 40 km/s). Because that p-value falls monotonically with the sample
variance s² for a fixed host, detection is the exact threshold s² > s²_crit(N), with
s²_crit found once per N by root finding; only s² is computed per draw (numba, parallel
over cells). Most very-low-mass hosts (TOI-6894 included) are too faint for Gaia RVS and
have no RV at all: then nothing can be excluded and this module does not apply.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.rv import pvalues as rp
from vlms_bayes.inference.rv.detectability import (
    EPS_CULL_KMS,
    V_ORB_KMS,
    _draw_n_transits,
    period_days,
)
from vlms_bayes.models.rv_noise.io import load_noise_model

#: Detection probability above which a perturber counts as excluded.
MIN_PROBABILITY = 0.99


@numba.njit(cache=False)
def _kepler_sincos(m: float, e: float) -> tuple[float, float]:
    """(sin E, cos E) for M in [0, π]: the four Halley steps of ``rv_kernels.kepler_sincos``."""
    big_e = m + 0.85 * e
    s = c = 0.0
    for it in range(4):
        if it < 2:
            s, c = math.sin(big_e), math.cos(big_e)
        f0 = big_e - e * s - m
        f1 = 1.0 - e * c
        d = -2.0 * f0 * f1 / (2.0 * f1 * f1 - f0 * e * s)
        big_e += d
        if it >= 1:
            d2 = d * d
            sd = d * (1.0 - d2 / 6.0 * (1.0 - d2 / 20.0 * (1.0 - d2 / 42.0)))
            cd = 1.0 - d2 / 2.0 * (1.0 - d2 / 12.0 * (1.0 - d2 / 30.0 * (1.0 - d2 / 56.0)))
            s, c = s * cd + c * sd, c * cd - s * sd
    return s, c


@numba.njit(parallel=True, cache=False)
def _s2_grid(k_unit: NDArray, per: NDArray, k_fac: NDArray, ecc: NDArray, omega: NDArray,
             phase: NDArray, sig: NDArray, n: NDArray, t: NDArray, z: NDArray) -> NDArray:
    """Sample variance (ddof 1) of N noisy Keplerian RVs for every (cell, draw)."""
    n_cells, n_draws = k_unit.size, ecc.size
    out = np.empty((n_cells, n_draws))
    two_pi = 2.0 * math.pi
    for c in numba.prange(n_cells):
        for d in range(n_draws):
            e = ecc[d]
            amp = k_unit[c] * k_fac[d]
            co, so = math.cos(omega[d]), math.sin(omega[d])
            sq = math.sqrt(1.0 - e * e)
            mean = 0.0
            m2 = 0.0
            for j in range(n[d]):
                m = (two_pi * t[d, j] / per[c] + phase[d]) % two_pi
                flip = m > math.pi
                if flip:
                    m = two_pi - m
                se, ce = _kepler_sincos(m, e)
                if flip:
                    se = -se
                den = 1.0 - e * ce
                v = amp * ((ce - e) / den * co - sq * se / den * so) + sig[d] * z[d, j]
                delta = v - mean
                mean += delta / (j + 1)
                m2 += delta * (v - mean)
            out[c, d] = m2 / (n[d] - 1)
    return out


def critical_s2(n_transits: int, ln_sigma: float, ln_sigma_err: float, *,
                detect_pval: float = rp.DETECTION_PVAL, z: NDArray | None = None) -> float:
    """The s² above which the marginalised p-value of a host falls below ``detect_pval``.

    p(s²) = mean_j SF_{χ²(N−1)}((N−1) s² e^{−2(μ + s_μ z_j)}) decreases strictly in s², so
    the threshold is the unique root of p(s²) = ``detect_pval`` (found in ln s²).
    """
    zz = rp.marginal_z() if z is None else np.asarray(z, float)
    dof = n_transits - 1.0
    w = np.exp(-2.0 * (ln_sigma + ln_sigma_err * zz))

    def f(ln_s2: float) -> float:
        return float(np.log(np.mean(special.chdtrc(dof, dof * np.exp(ln_s2) * w)))
                     - np.log(detect_pval))

    lo, hi = 2.0 * ln_sigma - 30.0, 2.0 * ln_sigma + 30.0
    with np.errstate(divide="ignore"):
        return float(np.exp(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12)))


def detection_probability_grid(
    m_host_msun: float, m_out_msun: ArrayLike, a_out_au: ArrayLike, *, ln_sigma: float,
    ln_sigma_err: float, n_transits: int | None = None, noise_model: Any = None,
    baseline_days: float = 1038.0, e_max: float = 0.9, n_draws: int = 300, seed: int = 0,
    rv_floor_kms: float = 0.11, detect_pval: float = rp.DETECTION_PVAL,
    eps_cull_kms: float = EPS_CULL_KMS,
) -> NDArray[np.float64]:
    """Probability that Gaia's RV noise reveals each perturber of a mass × separation grid.

    Parameters
    ----------
    m_host_msun : float
        Mass of what the perturber orbits (host star plus inner companion), M☉.
    m_out_msun, a_out_au : array_like, 1-D
        Perturber masses (M☉) and semi-major axes (AU): the grid axes.
    ln_sigma, ln_sigma_err : float
        The host's ``rv_ln_uncert`` and ``rv_ln_uncert_err`` (ln km/s).
    n_transits : int, optional
        The host's ``rv_nb_transits``; default: drawn per orbit from ``noise_model``'s
        catalogue distribution.
    noise_model : NoiseModel, optional
        Needed only when ``n_transits`` is None.
    baseline_days : float
        Span of the observation times (DR3: 1038 d).
    e_max : float
        e ~ U(0, e_max).
    n_draws : int
        Orbits (common to every cell).
    seed : int
        PCG64 seed.
    rv_floor_kms, detect_pval, eps_cull_kms : float
        ε floor, detection threshold and publication limit on ε.

    Returns
    -------
    numpy.ndarray, shape (len(m_out_msun), len(a_out_au))
        Detection probability.
    """
    m_out = np.atleast_1d(np.asarray(m_out_msun, float))
    a_out = np.atleast_1d(np.asarray(a_out_au, float))
    if not (m_host_msun > 0 and np.all(m_out >= 0) and np.all(a_out > 0)):
        raise InputDataError("Host mass and a_out must be positive and m_out non-negative.")
    if not (np.isfinite(ln_sigma) and np.isfinite(ln_sigma_err) and ln_sigma_err >= 0):
        raise InputDataError(f"The host's ln sigma ({ln_sigma}) and its error "
                             f"({ln_sigma_err}) must be finite, the error >= 0.")
    if n_draws < 1 or not baseline_days > 0 or not 0 <= e_max < 1:
        raise InputDataError(f"Need n_draws >= 1, baseline_days > 0 and 0 <= e_max < 1 "
                             f"(got {n_draws}, {baseline_days}, {e_max}).")
    rng = np.random.default_rng(seed)
    if n_transits is None:
        if noise_model is None:
            raise InputDataError("Give the host's number of Gaia RV transits (or a noise "
                                 "model to draw it from).")
        n = _draw_n_transits(noise_model, (n_draws,), rng)
    else:
        n = np.full(n_draws, int(n_transits))
    if np.any(n < 3):
        raise InputDataError(f"n_transits must be >= 3 (got {int(n.min())}); Gaia scores no "
                             "source with fewer.")
    sini = np.sqrt(1.0 - rng.uniform(0.0, 1.0, n_draws) ** 2)
    ecc = rng.uniform(0.0, e_max, n_draws)
    omega = rng.uniform(0.0, 2 * np.pi, n_draws)
    phase = rng.uniform(0.0, 2 * np.pi, n_draws)
    sig = np.exp(ln_sigma + ln_sigma_err * rng.standard_normal(n_draws))
    nmax = int(n.max())
    t = rng.uniform(0.0, baseline_days, (n_draws, nmax))
    z = rng.standard_normal((n_draws, nmax))
    mm, aa = np.meshgrid(m_out, a_out, indexing="ij")
    k_unit = (V_ORB_KMS * mm / np.sqrt((m_host_msun + mm) * aa)).ravel()
    per = period_days(m_host_msun + mm, aa).ravel()
    s2 = _s2_grid(k_unit, per, sini / np.sqrt(1.0 - ecc**2), ecc, omega, phase, sig,
                  n.astype(np.int64), t, z)
    crit = {int(v): critical_s2(int(v), ln_sigma, ln_sigma_err, detect_pval=detect_pval)
            for v in np.unique(n)}
    s2_crit = np.array([crit[int(v)] for v in n])
    s2_cull = 2.0 * n / np.pi * (eps_cull_kms**2 - rv_floor_kms**2)
    det = (s2 > s2_crit[None, :]) & (s2 <= s2_cull[None, :])
    return det.mean(axis=1).reshape(mm.shape)


@dataclass(frozen=True)
class GaiaHost:
    """A host's Gaia RV data, for marking perturbers Gaia would have revealed.

    Attributes
    ----------
    host_pval : float
        The host's ``rv_pval``; must not be significant (≥ 0.001).
    n_transits : int
        ``rv_nb_transits`` (≥ 3).
    g_mag, bp_rp : float, optional
        G and BP−RP, to predict ln σ from ``noise_model``.
    noise_model : str, optional
        Path of a ``noise_model.npz`` (``vlms-bayes gaia-rv fit-noise``).
    ln_sigma, ln_sigma_err : float, optional
        The host's ``rv_ln_uncert`` and ``rv_ln_uncert_err`` (instead of the noise model).
    baseline_days, e_max : float
        Observation span and eccentricity bound of the perturber orbits.
    n_draws : int
        Orbits per cell (common to every cell).
    min_probability : float
        Detection probability above which a perturber is excluded.
    rv_floor_kms : float, optional
        ε floor (default: the noise model's, else 0.11 km/s).
    rv_method_used : int, optional
        The host's ``rv_method_used``, needed with a per-method noise model.
    """

    host_pval: float
    n_transits: int
    g_mag: float | None = None
    bp_rp: float | None = None
    noise_model: str | None = None
    ln_sigma: float | None = None
    ln_sigma_err: float | None = None
    baseline_days: float = 1038.0
    e_max: float = 0.9
    n_draws: int = 300
    min_probability: float = MIN_PROBABILITY
    rv_floor_kms: float | None = None
    rv_method_used: int | None = None

    def check(self) -> None:
        """Raise :class:`InputDataError` for unusable host data (with what to do)."""
        p = self.host_pval
        if p is None or not np.isfinite(p) or not 0 <= p <= 1:
            raise InputDataError(
                f"Host p-value {p!r} must be a number in [0, 1] (the host's rv_pval from "
                "`vlms-bayes gaia-rv score`). A host without Gaia RVs — most very-low-mass "
                "stars, TOI-6894 included, are too faint for Gaia RVS — excludes nothing; "
                "leave out the --gaia-* options.")
        if p < rp.DETECTION_PVAL:
            raise InputDataError(
                f"The host's Gaia RV p-value {p:g} is significant (< {rp.DETECTION_PVAL:g}): "
                "its excess RV noise may be caused by a perturber, so Gaia cannot exclude "
                "any perturber around it. The exclusion only applies to hosts whose noise "
                "is consistent with a single star (rv_pval >= 0.001).")
        if self.n_transits is None or self.n_transits < 3:
            raise InputDataError(f"Give the host's rv_nb_transits (>= 3), not "
                                 f"{self.n_transits!r}.")
        direct = self.ln_sigma is not None
        if direct and (self.ln_sigma_err is None or self.ln_sigma_err < 0):
            raise InputDataError("Give both rv_ln_uncert and rv_ln_uncert_err (>= 0).")
        if not direct and (self.noise_model is None or self.g_mag is None
                           or self.bp_rp is None):
            raise InputDataError(
                "Give the host's per-transit noise: either a noise model with the host's G and "
                "BP-RP (--gaia-noise-model, --gaia-g, --gaia-bp-rp) or its rv_ln_uncert and "
                "rv_ln_uncert_err (--gaia-ln-sigma MU ERR).")
        if not 0 < self.min_probability <= 1:
            raise InputDataError(f"min_probability = {self.min_probability} must be in (0, 1].")

    def noise(self) -> tuple[float, float, float, bool]:
        """(ln σ, its error, ε floor, out-of-grid flag) of the host."""
        self.check()
        if self.ln_sigma is not None:
            floor = 0.11 if self.rv_floor_kms is None else self.rv_floor_kms
            return float(self.ln_sigma), float(self.ln_sigma_err), floor, False
        model = load_noise_model(Path(self.noise_model))
        split = {} if not getattr(model, "split_methods", None) else {
            "rv_method_used": self.rv_method_used}
        mu, smu, oog = model.predict(self.bp_rp, self.g_mag, **split)
        if not np.isfinite(mu):
            raise InputDataError(f"The noise model {self.noise_model} gives no ln sigma for "
                                 f"the host (G = {self.g_mag}, BP-RP = {self.bp_rp}, "
                                 f"rv_method_used = {self.rv_method_used}).")
        floor = model.config.rv_floor_kms if self.rv_floor_kms is None else self.rv_floor_kms
        return float(mu), float(smu), floor, bool(oog)


@dataclass(frozen=True)
class GaiaExclusion:
    """Detection probability and exclusion mask over the feasibility grid."""

    detect_prob: NDArray[np.float64]
    excluded: NDArray[np.bool_]
    host: GaiaHost
    ln_sigma: float
    ln_sigma_err: float
    rv_floor_kms: float
    out_of_grid: bool
    seed: int

    def settings(self) -> dict[str, Any]:
        """Settings and the resolved host noise (for run.json and the map file)."""
        return {**asdict(self.host), "resolved_ln_sigma": self.ln_sigma,
                "resolved_ln_sigma_err": self.ln_sigma_err,
                "resolved_rv_floor_kms": self.rv_floor_kms,
                "host_out_of_noise_grid": self.out_of_grid, "seed": self.seed}

    def excluded_share(self, feasible: NDArray) -> tuple[float, float]:
        """(feasible-fraction-weighted share, share of cells with ≥ 1% feasible) excluded."""
        feas = np.asarray(feasible, float)
        tot = feas.sum()
        w = float((feas * self.excluded).sum() / tot) if tot > 0 else float("nan")
        ok = feas >= 0.01
        c = float(self.excluded[ok].mean()) if ok.any() else float("nan")
        return w, c

    def summary_lines(self, feasible: NDArray) -> list[str]:
        """Plain-text lines for the console and SUMMARY.txt (computed)."""
        w, c = self.excluded_share(feasible)
        h = self.host
        lines = [
            f"  Gaia RV (host rv_pval {h.host_pval:.3g}, N = {h.n_transits}, "
            f"sigma = {np.exp(self.ln_sigma):.3g} km/s): {100 * self.excluded.mean():.1f}% "
            f"of grid cells would have been detected with >= {100 * h.min_probability:g}% "
            "probability (excluded)",
            f"  excluded share of the feasible region: {100 * w:.1f}% (weighted by feasible "
            f"fraction), {100 * c:.1f}% of cells with >= 1% feasible",
        ]
        if self.out_of_grid:
            lines.append("  (host outside the noise model's calibrated grid: extrapolated, "
                         "conservative sigma)")
        return lines


def gaia_exclusion(host: GaiaHost, *, m_host_msun: float, m_out_msun: ArrayLike,
                   a_out_au: ArrayLike, seed: int) -> GaiaExclusion:
    """Detection probability and exclusion mask of a host over a perturber grid.

    Parameters
    ----------
    host : GaiaHost
        The host's Gaia RV data (checked: an error if its p-value is significant).
    m_host_msun : float
        Mass the perturber orbits (star plus inner companion).
    m_out_msun, a_out_au : array_like
        Grid axes.
    seed : int
        Seed of the orbit draws.

    Returns
    -------
    GaiaExclusion
    """
    mu, smu, floor, oog = host.noise()
    prob = detection_probability_grid(
        m_host_msun, m_out_msun, a_out_au, ln_sigma=mu, ln_sigma_err=smu,
        n_transits=host.n_transits, baseline_days=host.baseline_days, e_max=host.e_max,
        n_draws=host.n_draws, seed=seed, rv_floor_kms=floor)
    return GaiaExclusion(detect_prob=prob, excluded=prob >= host.min_probability, host=host,
                         ln_sigma=mu, ln_sigma_err=smu, rv_floor_kms=floor, out_of_grid=oog,
                         seed=seed)
