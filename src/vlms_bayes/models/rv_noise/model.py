"""Per (colour, magnitude) bin model of Gaia's per-transit RV noise σ (Chance et al., paired).

Gaia publishes ε = ``radial_velocity_error``, the error of the median of N epoch RVs,
ε² = (π/2N)·s² + f², so the per-transit sample variance is s² = (2N/π)(ε² − f²)
(:func:`eps_to_s2`, floor f = ``rv_floor_kms``). In every (colour, G) bin σ is estimated by
iterative χ² clipping about the median of s² (:func:`estimate_sigma`) on ``num_iter``
bootstrap subsets (:func:`fit_bins`, the reference pipeline's RNG protocol), and a 2-D
Gaussian process smooths the per-bin mean ln σ̂ (:func:`fit_gp`). :class:`NoiseModel`
predicts ln σ and its uncertainty for any source, flags sources outside the calibrated
grid, and is saved as a NumPy ``.npz`` file (format in :meth:`NoiseModel.save`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg, optimize, special
from scipy.interpolate import RegularGridInterpolator
from tqdm.auto import tqdm

from vlms_bayes.data_io.outputs import atomic_write
from vlms_bayes.errors import InputDataError
from vlms_bayes.models.rv_noise.legacy import legacy_fill, legacy_predict

FORMAT_VERSION = 1
#: Largest allowed difference (ln σ and its error) of the tabulated GP from the exact GP.
GRID_TOL = 1e-3


def eps_to_s2(eps_kms: ArrayLike, n_transits: ArrayLike, *, rv_floor_kms: float = 0.11
              ) -> NDArray[np.float64]:
    """Per-transit sample variance s² = (2N/π)(ε² − f²) in km²/s² (negative when ε < f)."""
    eps = np.asarray(eps_kms, np.float64)
    n = np.asarray(n_transits, np.float64)
    return 2.0 * n / np.pi * (eps**2 - rv_floor_kms**2)


def s2_to_eps(s2: ArrayLike, n_transits: ArrayLike, *, rv_floor_kms: float = 0.11
              ) -> NDArray[np.float64]:
    """Inverse of :func:`eps_to_s2`: ε = √(π s² / 2N + f²) in km/s."""
    s2 = np.asarray(s2, np.float64)
    n = np.asarray(n_transits, np.float64)
    return np.sqrt(np.pi * s2 / (2.0 * n) + rv_floor_kms**2)


def estimate_sigma(n_transits: ArrayLike, s2: ArrayLike, *, clip_pval: float = 1e-3,
                   maxiter: int = 100) -> tuple[float, int]:
    """σ̂ of one set of stars by iterative χ² clipping about the median of s².

    Parameters
    ----------
    n_transits, s2 : array_like
        Transit counts and per-transit sample variances of the stars.
    clip_pval : float
        Stars with p ≤ ``clip_pval`` under χ²(N−1) are removed each pass.
    maxiter : int
        Maximum number of passes.

    Returns
    -------
    sigma : float
        √ of the median s² of the last pass (km/s).
    n_kept : int
        Number of stars kept in the last pass.
    """
    n = np.asarray(n_transits, np.float64)
    s2 = np.asarray(s2, np.float64)
    var = np.nan
    for _ in range(maxiter):
        var = float(np.median(s2))
        pv = special.chdtrc(n - 1.0, (n - 1.0) * s2 / var)
        keep = pv > clip_pval
        if keep.all():
            break
        n, s2 = n[keep], s2[keep]
        if n.size == 0:
            return np.nan, 0
    return float(np.sqrt(var)) if var > 0 else np.nan, int(n.size)


def clipped_median_bias(dof: float, clip_pval: float = 1e-3) -> float:
    """Large-sample value of :func:`estimate_sigma`'s variance for unit-variance single stars.

    With X = χ²_ν/ν (ν = N − 1), iterative clipping at p ≤ ``clip_pval`` about the median
    converges to the v that is the median of X below v·c, c = χ²_ν⁻¹(1 − clip_pval)/ν:
    F(v) = F(v c)/2. Without clipping v = median(χ²_ν)/ν; clipping lowers it further
    (−1.2 % at ν = 2 for p = 0.001).

    Parameters
    ----------
    dof : float
        ν = N − 1 (> 0).
    clip_pval : float
        Clipping threshold of :func:`estimate_sigma`.

    Returns
    -------
    float
        v, the factor by which the estimated σ² is low.
    """
    c = special.chdtri(dof, clip_pval) / dof
    cdf = lambda x: special.chdtr(dof, dof * x)  # noqa: E731
    hi = special.chdtri(dof, 0.5) / dof
    # bracket: at hi/c the difference is F(hi/c) − 1/4 < 0, at hi it is (1 − F(hi c))/2 > 0
    return float(optimize.brentq(lambda v: cdf(v) - 0.5 * cdf(v * c), hi / c, hi,
                                 xtol=1e-14, rtol=1e-12))


@dataclass(frozen=True)
class NoiseGridConfig:
    """Grid and estimator settings of the noise model (defaults: the DR3 configuration).

    Attributes
    ----------
    min_color, max_color, num_color : float, float, int
        BP−RP bin edges (``num_color + 1`` equally spaced).
    min_mag, max_mag, num_mag : float, float, int
        G bin edges.
    targets_per_fit : int
        Stars drawn with replacement per subset.
    num_iter : int
        Subsets per bin.
    seed : int
        PCG64 seed, reused for every magnitude row (reference protocol).
    min_nb_transits : int
        Minimum N of calibration stars.
    strict_min_nb_transits : bool
        Use N > ``min_nb_transits`` (reference code) instead of N ≥.
    min_count : int
        Bins with fewer calibration stars are empty.
    rv_floor_kms : float
        Floor f of the ε formula (0.11 DR2/reference code; 0.113 in the paper for DR3).
    clip_pval, maxiter : float, int
        Clipping threshold and maximum passes of :func:`estimate_sigma`.
    median_unbias : bool
        Divide each bin's variance by the large-sample value of the clipped median of
        χ²_{N−1}/(N−1) at the bin's median N (:func:`clipped_median_bias`; default). The
        clipped median of s² underestimates σ² by that factor, so without it the
        false-positive rate of single stars is several times nominal at small N (measured
        8.8× at N = 3, 4.0× at N = 5, 2.2× at N = 10 below p = 0.001; ``docs/gaia_rv.md``).
        ``False`` reproduces the reference catalogue.
    smoothing : {"gp", "legacy"}
        ``gp`` (default): the 2-D Gaussian process of the DR3 pipeline. ``legacy``: the
        pre-DR3 nearest-neighbour + Gaussian-filter fill of empty bins
        (:mod:`vlms_bayes.models.rv_noise.legacy`), with bilinear lookup.
    color_smoothing_scale, mag_smoothing_scale : float
        Filter widths (mag) of the legacy smoothing (0.25 in the reference configuration;
        recorded but unused by the GP, as in the reference code).
    split_method : bool
        Calibrate ``rv_method_used`` = 1 (G_RVS ≤ 12) and 2 separately
        (:mod:`vlms_bayes.models.rv_noise.split`; off by default, spec §2.3 [D12]).
    """

    min_color: float = 0.0
    max_color: float = 5.5
    num_color: int = 45
    min_mag: float = 4.5
    max_mag: float = 16.0
    num_mag: int = 30
    targets_per_fit: int = 1000
    num_iter: int = 50
    seed: int = 11239
    min_nb_transits: int = 3
    strict_min_nb_transits: bool = False
    min_count: int = 50
    rv_floor_kms: float = 0.11
    clip_pval: float = 1e-3
    maxiter: int = 100
    median_unbias: bool = True
    smoothing: str = "gp"
    color_smoothing_scale: float = 0.25
    mag_smoothing_scale: float = 0.25
    split_method: bool = False

    def __post_init__(self) -> None:
        if self.smoothing not in ("gp", "legacy"):
            raise InputDataError(f"Noise-model smoothing must be 'gp' or 'legacy', not "
                                 f"{self.smoothing!r}.")

    @property
    def color_edges(self) -> NDArray[np.float64]:
        """BP−RP bin edges."""
        return np.linspace(self.min_color, self.max_color, self.num_color + 1)

    @property
    def mag_edges(self) -> NDArray[np.float64]:
        """G bin edges."""
        return np.linspace(self.min_mag, self.max_mag, self.num_mag + 1)


#: The reference pipeline's test configuration (spec §3.1, ``tests/noise_model/noise.yaml``),
#: with its estimator (no median unbiasing) so that its numbers are reproduced.
TEST_CONFIG = NoiseGridConfig(min_color=0.2, max_color=1.3, num_color=3, min_mag=6.5,
                              max_mag=7.0, num_mag=2, targets_per_fit=500, num_iter=3,
                              median_unbias=False)


def calibration_mask(g_mag: NDArray, bp_rp: NDArray, eps_kms: NDArray, n_transits: NDArray,
                     config: NoiseGridConfig) -> NDArray[np.bool_]:
    """Stars usable for the noise model (finite values, N cut, strictly inside the colours)."""
    n = np.asarray(n_transits, np.float64)
    ncut = n > config.min_nb_transits if config.strict_min_nb_transits else (
        n >= config.min_nb_transits)
    with np.errstate(invalid="ignore"):
        return (np.isfinite(g_mag) & np.isfinite(bp_rp) & np.isfinite(eps_kms) & ncut
                & (bp_rp > config.min_color) & (bp_rp < config.max_color))


def fit_bins(g_mag: ArrayLike, bp_rp: ArrayLike, eps_kms: ArrayLike, n_transits: ArrayLike,
             *, config: NoiseGridConfig, progress: bool = False
             ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """σ̂ on random subsets of every bin (spec §3.3 protocol).

    Parameters
    ----------
    g_mag, bp_rp, eps_kms, n_transits : array_like
        Columns of the catalogue, in table order.
    config : NoiseGridConfig
        Grid and estimator settings.
    progress : bool
        Show a tqdm bar over magnitude rows.

    Returns
    -------
    sigma_hat : numpy.ndarray, shape (num_mag, num_color, num_iter)
        σ̂ in km/s (NaN for bins with fewer than ``min_count`` stars).
    counts : numpy.ndarray, shape (num_mag, num_color)
        Calibration stars per bin.
    """
    g = np.asarray(g_mag, np.float64)
    c = np.asarray(bp_rp, np.float64)
    eps = np.asarray(eps_kms, np.float64)
    n = np.asarray(n_transits, np.float64)
    base = calibration_mask(g, c, eps, n, config)
    g, c, n = g[base], c[base], n[base]
    s2 = eps_to_s2(eps[base], n, rv_floor_kms=config.rv_floor_kms)
    cedges, medges = config.color_edges, config.mag_edges
    sig = np.full((config.num_mag, config.num_color, config.num_iter), np.nan)
    counts = np.zeros((config.num_mag, config.num_color), np.int64)
    rows = range(config.num_mag)
    if progress:
        rows = tqdm(rows, desc="noise model rows", unit="row")
    for r in rows:
        rng = np.random.default_rng(config.seed)
        idx_row = np.flatnonzero((g > medges[r]) & (g < medges[r + 1]))
        c_row = c[idx_row]
        for m in range(config.num_color):
            idx = idx_row[(c_row >= cedges[m]) & (c_row <= cedges[m + 1])]
            counts[r, m] = idx.size
            if idx.size < config.min_count:
                continue
            for k in range(config.num_iter):
                pick = idx[rng.choice(idx.size, size=config.targets_per_fit)]
                sig[r, m, k], _ = estimate_sigma(n[pick], s2[pick], clip_pval=config.clip_pval,
                                                 maxiter=config.maxiter)
            if config.median_unbias:
                dof = float(max(np.median(n[idx]) - 1.0, 1.0))
                sig[r, m] /= np.sqrt(clipped_median_bias(dof, config.clip_pval))
    return sig, counts


# ---------------------------------------------------------------------------------------
# Gaussian process (squared exponential with a Cholesky metric; spec §3.5)
# ---------------------------------------------------------------------------------------
#: Initial GP parameters [log_amp, ℓ_c, ℓ_m, ρ, log_jitter, mean] of the reference fit.
GP_INIT = np.array([np.log(0.1), np.log(0.1), np.log(0.1), np.log(0.1), np.log(1e-4), 0.0])


def _kernel_parts(theta: NDArray, x1: NDArray, x2: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    a, b, rho = np.exp(theta[1]), np.exp(theta[2]), theta[3]
    d0 = x1[:, None, 0] - x2[None, :, 0]
    d1 = x1[:, None, 1] - x2[None, :, 1]
    r0 = d0 / a
    r1 = (d1 - rho * r0) / b
    expo = -0.5 * (r0**2 + r1**2)
    # below e^-345 the covariance is set to 0: no subnormal numbers (100x slower arithmetic)
    k = np.exp(theta[0]) * np.where(expo > -345.0, np.exp(np.maximum(expo, -345.0)), 0.0)
    return k, r0, r1


def gp_neg_log_likelihood(theta: NDArray, x: NDArray, y: NDArray, e: NDArray
                          ) -> tuple[float, NDArray[np.float64]]:
    """Negative log marginal likelihood of the GP and its analytic gradient.

    Parameters
    ----------
    theta : numpy.ndarray, shape (6,)
        [log_amp, ℓ_c, ℓ_m, ρ (linear), log_jitter, mean].
    x : numpy.ndarray, shape (n, 2)
        Bin centres (colour, G).
    y, e : numpy.ndarray, shape (n,)
        Mean and scatter of ln σ̂ per bin.

    Returns
    -------
    value : float
    grad : numpy.ndarray, shape (6,)
    """
    k, r0, r1 = _kernel_parts(theta, x, x)
    b, rho = np.exp(theta[2]), theta[3]
    jit2 = np.exp(2 * theta[4])
    cov = k + np.diag(e**2 + jit2)
    resid = y - theta[5]
    try:
        chol = linalg.cholesky(cov, lower=True)
    except np.linalg.LinAlgError:
        return 1e25, np.zeros(6)
    alpha = linalg.cho_solve((chol, True), resid)
    nll = 0.5 * resid @ alpha + np.log(np.diag(chol)).sum() + 0.5 * y.size * np.log(2 * np.pi)
    inv_lower, info = linalg.lapack.dpotri(chol, lower=1)  # (K + D)^-1 from its Cholesky factor
    if info != 0:
        return 1e25, np.zeros(6)
    inv = np.tril(inv_lower) + np.tril(inv_lower, -1).T
    outer = np.outer(alpha, alpha) - inv
    dks = [
        k,
        -0.5 * k * (-2 * r0**2 + 2 * r1 * rho * r0 / b),
        k * r1**2,
        k * r1 * r0 / b,
        np.diag(np.full(y.size, 2 * jit2)),
    ]
    grad = np.array([-0.5 * np.sum(outer * dk) for dk in dks] + [-alpha.sum()])
    return float(nll), grad


def fit_gp(x: NDArray, y: NDArray, e: NDArray, *, init: NDArray | None = None,
           method: str = "BFGS") -> tuple[NDArray[np.float64], float]:
    """Maximum-likelihood GP parameters (BFGS from the reference initial values).

    Returns
    -------
    theta : numpy.ndarray, shape (6,)
    nll : float
        Objective at the optimum.
    """
    x0 = GP_INIT if init is None else np.asarray(init, float)
    res = optimize.minimize(gp_neg_log_likelihood, x0, args=(x, y, e), jac=True, method=method)
    return res.x, float(res.fun)


@dataclass
class NoiseModel:
    """A fitted noise model: per-bin σ̂ subsets, GP smoothing and prediction.

    Attributes
    ----------
    config : NoiseGridConfig
    sigma_hat : numpy.ndarray, shape (num_mag, num_color, num_iter)
    counts : numpy.ndarray, shape (num_mag, num_color)
    theta : numpy.ndarray, shape (6,)
        GP parameters [log_amp, ℓ_c, ℓ_m, ρ, log_jitter, mean].
    n_transits_hist : numpy.ndarray
        Counts of calibration-catalogue sources with N = 0, 1, 2, ... (for simulations).
    meta : dict
        Free-form provenance (input files, timings).
    """

    config: NoiseGridConfig
    sigma_hat: NDArray[np.float64]
    counts: NDArray[np.int64]
    theta: NDArray[np.float64]
    n_transits_hist: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x, y, e, _ = self.training_data()
        self._x, self._y, self._e = x, y, e
        if self.config.smoothing == "legacy":
            self._legacy = self._legacy_grids()
            return
        k, _, _ = _kernel_parts(self.theta, x, x)
        cov = k + np.diag(e**2 + np.exp(2 * self.theta[4]))
        self._chol = linalg.cholesky(cov, lower=True)
        self._alpha = linalg.cho_solve((self._chol, True), y - self.theta[5])

    # -- training data ------------------------------------------------------------------
    @property
    def color_centres(self) -> NDArray[np.float64]:
        """BP−RP bin centres."""
        ed = self.config.color_edges
        return 0.5 * (ed[1:] + ed[:-1])

    @property
    def mag_centres(self) -> NDArray[np.float64]:
        """G bin centres."""
        ed = self.config.mag_edges
        return 0.5 * (ed[1:] + ed[:-1])

    def bin_stats(self) -> tuple[NDArray, NDArray, NDArray]:
        """Per-bin mean and std (ddof 0) of ln σ̂, shape (num_mag, num_color), and validity."""
        with np.errstate(invalid="ignore", divide="ignore"):
            ln = np.log(self.sigma_hat)
            y = np.mean(ln, axis=-1)
            e = np.std(ln, axis=-1)
        return y, e, np.isfinite(y) & np.isfinite(e)

    def training_data(self) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """GP inputs x (colour, G), targets y, errors e and the (mag, colour) validity mask."""
        y, e, valid = self.bin_stats()
        gg, cc = np.meshgrid(self.mag_centres, self.color_centres, indexing="ij")
        if not valid.any():
            raise InputDataError(
                "No noise-model bin has enough calibration stars (min_count="
                f"{self.config.min_count}); use a coarser grid or a larger catalogue.")
        x = np.column_stack([cc[valid], gg[valid]])
        return x, y[valid], e[valid], valid

    # -- prediction ---------------------------------------------------------------------
    def _legacy_grids(self) -> tuple[NDArray, NDArray]:
        y, e, valid = self.bin_stats()
        cfg = self.config
        widths = ((cfg.max_mag - cfg.min_mag) / cfg.num_mag,
                  (cfg.max_color - cfg.min_color) / cfg.num_color)
        scales = (cfg.mag_smoothing_scale, cfg.color_smoothing_scale)
        return (legacy_fill(y, valid, bin_widths=widths, scales=scales),
                legacy_fill(e, valid, bin_widths=widths, scales=scales))

    def _predict_exact(self, c: NDArray, g: NDArray, chunk: int) -> tuple[NDArray, NDArray]:
        mu = np.empty(c.size)
        sd = np.empty(c.size)
        amp, jit2 = np.exp(self.theta[0]), np.exp(2 * self.theta[4])
        for s in range(0, c.size, chunk):
            sl = slice(s, s + chunk)
            ks, _, _ = _kernel_parts(self.theta, np.column_stack([c[sl], g[sl]]), self._x)
            mu[sl] = self.theta[5] + ks @ self._alpha
            w = linalg.solve_triangular(self._chol, ks.T, lower=True)
            sd[sl] = np.sqrt(np.maximum(amp - np.sum(w**2, axis=0), 0.0) + jit2)
        return mu, sd

    def _grid_interpolators(self, *, tol: float = GRID_TOL, pad: float = 0.5):
        """Bilinear tables of the exact GP, refined until within ``tol`` (None if never)."""
        if self.config.smoothing == "legacy":
            return None  # the legacy lookup is already a table
        if getattr(self, "_grid", False) is not False:
            return self._grid
        cfg = self.config
        lo = np.array([cfg.min_color - pad, cfg.min_mag - pad])
        hi = np.array([cfg.max_color + pad, cfg.max_mag + pad])
        rng = np.random.default_rng(0)
        test = lo + (hi - lo) * rng.uniform(size=(4000, 2))
        t_mu, t_sd = self._predict_exact(test[:, 0], test[:, 1], 5000)
        self._grid = None
        for step in (0.04, 0.02, 0.01, 0.005, 0.0025, 0.00125):
            axes = [np.linspace(lo[i], hi[i], int(np.ceil((hi[i] - lo[i]) / step)) + 1)
                    for i in range(2)]
            if axes[0].size * axes[1].size > 4_000_000:
                break
            cc, gg = np.meshgrid(*axes, indexing="ij")
            mu, sd = self._predict_exact(cc.ravel(), gg.ravel(), 5000)
            f_mu = RegularGridInterpolator(axes, mu.reshape(cc.shape))
            f_sd = RegularGridInterpolator(axes, sd.reshape(cc.shape))
            err = max(np.abs(f_mu(test) - t_mu).max(), np.abs(f_sd(test) - t_sd).max())
            if err <= tol:
                self._grid = (lo, hi, f_mu, f_sd, float(err), step)
                break
        return self._grid

    def predict(self, bp_rp: ArrayLike, g_mag: ArrayLike, *, chunk: int = 5000,
                method: str = "exact") -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                NDArray[np.bool_]]:
        """Predict ln σ, its uncertainty and an out-of-grid flag for sources.

        Parameters
        ----------
        bp_rp, g_mag : array_like
            Colour and G magnitude (broadcast together).
        chunk : int
            Rows per exact GP evaluation.
        method : {"exact", "grid", "auto"}
            ``exact``: the GP for every source. ``grid``: bilinear interpolation in a table
            of the exact GP over the grid ± 0.5 mag, refined (0.04 → 0.00125 mag, at most 4e6
            nodes) until 4000
            random test points agree within :data:`GRID_TOL` in ln σ and its error (exact
            GP outside the table, or everywhere if no table passes). ``auto``: grid for
            more than 200 000 sources. Ignored with ``smoothing="legacy"`` (bilinear
            lookup of the filled bin grid, :mod:`vlms_bayes.models.rv_noise.legacy`).

        Returns
        -------
        ln_sigma : numpy.ndarray
            GP mean of ln σ (``rv_ln_uncert``), NaN where an input is not finite.
        ln_sigma_err : numpy.ndarray
            √(latent variance + jitter²) (``rv_ln_uncert_err``).
        out_of_grid : numpy.ndarray of bool
            Outside [first, last] bin centre in colour or magnitude (or not finite).
        """
        if method not in ("exact", "grid", "auto"):
            raise InputDataError(f"GP prediction method must be exact, grid or auto, not "
                                 f"{method!r}.")
        c, g = np.broadcast_arrays(np.asarray(bp_rp, np.float64), np.asarray(g_mag, np.float64))
        shape = c.shape
        c, g = c.ravel(), g.ravel()
        ok = np.isfinite(c) & np.isfinite(g)
        cc, mc = self.color_centres, self.mag_centres
        with np.errstate(invalid="ignore"):
            oog = ~ok | (c < cc[0]) | (c > cc[-1]) | (g < mc[0]) | (g > mc[-1])
        if self.config.smoothing == "legacy":
            mu, sd = legacy_predict(mc, cc, *self._legacy, c, g)
            return mu.reshape(shape), sd.reshape(shape), oog.reshape(shape)
        mu = np.full(c.size, np.nan)
        sd = np.full(c.size, np.nan)
        exact = ok
        if method == "grid" or (method == "auto" and ok.sum() > 200_000):
            table = self._grid_interpolators()
            if table is not None:
                lo, hi, f_mu, f_sd = table[:4]
                inside = ok & (c >= lo[0]) & (c <= hi[0]) & (g >= lo[1]) & (g <= hi[1])
                pts = np.column_stack([c[inside], g[inside]])
                mu[inside], sd[inside] = f_mu(pts), f_sd(pts)
                exact = ok & ~inside
        idx = np.flatnonzero(exact)
        mu[idx], sd[idx] = self._predict_exact(c[idx], g[idx], chunk)
        return mu.reshape(shape), sd.reshape(shape), oog.reshape(shape)

    # -- persistence --------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a NumPy ``.npz`` file (written atomically).

        File format (version 1), arrays:

        - ``format_version`` (int), ``config_json`` (str: the :class:`NoiseGridConfig`
          fields), ``meta_json`` (str);
        - ``sigma_hat`` (num_mag, num_color, num_iter) σ̂ subsets in km/s;
        - ``counts`` (num_mag, num_color) calibration stars per bin;
        - ``theta`` (6,) GP parameters [log_amp, ℓ_c, ℓ_m, ρ, log_jitter, mean];
        - ``color_centres``, ``mag_centres``; ``grid_ln_sigma`` and ``grid_ln_sigma_err``
          (num_mag, num_color): GP prediction at the bin centres; ``valid`` mask;
        - ``n_transits_hist``: sources with N = 0, 1, 2, ... in the fitted catalogue.

        The model is rebuilt from ``config_json``, ``sigma_hat``, ``counts`` and ``theta``;
        the grid arrays are for readers in other languages.
        """
        path = Path(path)
        with atomic_write(path, "wb") as fh:
            np.savez_compressed(fh, format_version=FORMAT_VERSION, **self.to_arrays())
        return path

    def to_arrays(self, prefix: str = "") -> dict[str, Any]:
        """The arrays of the file format (see :meth:`save`), names prefixed by ``prefix``."""
        gg, cc = np.meshgrid(self.mag_centres, self.color_centres, indexing="ij")
        grid_mu, grid_sd, _ = self.predict(cc, gg)
        _, _, valid = self.bin_stats()
        arrays = dict(
            config_json=json.dumps(asdict(self.config)),
            meta_json=json.dumps(self.meta, default=str), sigma_hat=self.sigma_hat,
            counts=self.counts, theta=self.theta, color_centres=self.color_centres,
            mag_centres=self.mag_centres, grid_ln_sigma=grid_mu, grid_ln_sigma_err=grid_sd,
            valid=valid, n_transits_hist=self.n_transits_hist)
        return {prefix + k: v for k, v in arrays.items()}

    @classmethod
    def from_arrays(cls, z: Any, prefix: str = "") -> NoiseModel:
        """Rebuild a model from the arrays of :meth:`to_arrays`."""
        return cls(config=NoiseGridConfig(**json.loads(str(z[prefix + "config_json"]))),
                   sigma_hat=z[prefix + "sigma_hat"], counts=z[prefix + "counts"],
                   theta=z[prefix + "theta"], n_transits_hist=z[prefix + "n_transits_hist"],
                   meta=json.loads(str(z[prefix + "meta_json"])))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NoiseModel:
        """Load a model written by :meth:`save`.

        A file of a per-method split model (:mod:`.split`) is refused with a clear error;
        :func:`vlms_bayes.models.rv_noise.io.load_noise_model` reads either kind.
        """
        with open_noise_file(path) as z:
            if "split_methods" in z.files:
                raise InputDataError(
                    f"{path} holds a per-method split noise model; read it with "
                    "vlms_bayes.models.rv_noise.load_noise_model.")
            return cls.from_arrays(z)


@contextmanager
def open_noise_file(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Open a noise-model ``.npz`` file and check its format version.

    Errors raised while the file is open (a missing array, a bad value) become an
    :class:`InputDataError` that names the file and says how to make a new one.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            version = int(z["format_version"])
            if version != FORMAT_VERSION:
                raise InputDataError(f"{path}: noise-model format {version} is not "
                                     f"supported (expected {FORMAT_VERSION}).")
            yield z
    except (OSError, KeyError, ValueError) as exc:
        raise InputDataError(f"Could not read the noise model {path}: {exc}. Fit one with "
                             "`vlms-bayes gaia-rv fit-noise`.") from exc


def fit_noise_model(g_mag: ArrayLike, bp_rp: ArrayLike, eps_kms: ArrayLike,
                    n_transits: ArrayLike, *, config: NoiseGridConfig = NoiseGridConfig(),
                    progress: bool = False, meta: dict[str, Any] | None = None) -> NoiseModel:
    """Fit the per-bin σ̂ and the smoothing GP in one call.

    Parameters
    ----------
    g_mag, bp_rp, eps_kms, n_transits : array_like
        Catalogue columns in table order.
    config : NoiseGridConfig
        Grid and estimator settings.
    progress : bool
        Progress bar over magnitude rows.
    meta : dict, optional
        Provenance stored with the model.

    Returns
    -------
    NoiseModel
    """
    sig, counts = fit_bins(g_mag, bp_rp, eps_kms, n_transits, config=config, progress=progress)
    n = np.asarray(n_transits, np.float64)
    n = n[np.isfinite(n)].astype(np.int64)
    hist = np.bincount(np.clip(n, 0, 1000)) if n.size else np.zeros(0, np.int64)
    tmp = NoiseModel(config, sig, counts, GP_INIT.copy(), hist)
    if config.smoothing == "legacy":  # no GP: theta is stored but unused
        return NoiseModel(config, sig, counts, GP_INIT.copy(), hist,
                          {**(meta or {}), "gp_nll": None})
    x, y, e, _ = tmp.training_data()
    theta, nll = fit_gp(x, y, e)
    return NoiseModel(config, sig, counts, theta, hist, {**(meta or {}), "gp_nll": nll})
