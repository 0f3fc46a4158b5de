"""p-values of excess Gaia RV noise (Chance et al. 2024, eq. 1 and App. A).

Under the null hypothesis (a single star with Gaussian per-transit noise σ) the statistic
ξ² = (N − 1) s² / σ² follows χ² with N − 1 degrees of freedom, so

- plug-in: p = SF_{χ²(N−1)}(ξ²) with σ = exp(``rv_ln_uncert``);
- marginalised (the catalogue's ``rv_pval``): the mean of SF over 50 fixed standard normal
  draws z_j (PCG64 seed 55) of ln σ = μ + s_μ z_j, and ``rv_pval_err`` their std (ddof 0).

The survival function is used throughout (``1 − CDF`` underflows to 0 below 1e-16; the
``one_minus_cdf`` switch reproduces it). p is NaN for N < 3, non-finite ε or ln σ, and 1 when
ε < f (the statistic is clamped at 0).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from vlms_bayes.inference.rv import chi2 as rv_chi2
from vlms_bayes.models.rv_noise.model import eps_to_s2

#: Detection threshold ("excess noise, likely binary").
DETECTION_PVAL = 1e-3
#: Candidates for semi-amplitude inference.
CANDIDATE_PVAL = 1e-2
#: Seed and number of the fixed standard normal draws of the marginalised p-value.
Z_SEED = 55
N_Z = 50


def marginal_z(*, seed: int = Z_SEED, n: int = N_Z) -> NDArray[np.float64]:
    """The fixed standard normal draws z_j of the marginalised p-value (PCG64)."""
    return np.random.default_rng(seed).standard_normal(n)


def _sf(dof: NDArray, x: NDArray, one_minus_cdf: bool) -> NDArray:
    if one_minus_cdf:
        return 1.0 - special.chdtr(dof, x)
    return special.chdtrc(dof, x)


def _prepare(eps_kms: ArrayLike, n_transits: ArrayLike, rv_floor_kms: float
             ) -> tuple[NDArray, NDArray, NDArray]:
    eps = np.asarray(eps_kms, np.float64)
    n = np.asarray(n_transits, np.float64)
    s2 = np.maximum(eps_to_s2(eps, n, rv_floor_kms=rv_floor_kms), 0.0)
    bad = ~np.isfinite(eps) | ~np.isfinite(n) | (n < 3)
    return n, s2, bad


def pvalue_plugin(eps_kms: ArrayLike, n_transits: ArrayLike, ln_sigma: ArrayLike, *,
                  rv_floor_kms: float = 0.11, one_minus_cdf: bool = False,
                  backend: str = "numba") -> NDArray[np.float64]:
    """Plug-in p-value SF_{χ²(N−1)}((N−1) s² / σ²).

    Parameters
    ----------
    eps_kms : array_like
        ``radial_velocity_error`` (km/s).
    n_transits : array_like
        ``rv_nb_transits``.
    ln_sigma : array_like
        ln of the per-transit noise σ (km/s).
    rv_floor_kms : float
        Floor f of the ε formula.
    one_minus_cdf : bool
        Compute 1 − CDF like the reference code (underflows to 0).
    backend : {"numba", "scipy"}
        Closed-form integer-dof SF in numba (default, parallel) or SciPy's ``chdtrc``.

    Returns
    -------
    numpy.ndarray
        p-values (NaN where undefined).
    """
    n, s2, bad = _prepare(eps_kms, n_transits, rv_floor_kms)
    lns = np.asarray(ln_sigma, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        x = (n - 1.0) * s2 * np.exp(-2.0 * lns)
        n, x, bad = np.broadcast_arrays(n, x, bad | ~np.isfinite(lns))
        if one_minus_cdf or backend == "scipy":
            p = _sf(n - 1.0, x, one_minus_cdf)
        else:
            p = np.full(n.shape, np.nan)
            fast = ~bad & (n - 1.0 <= rv_chi2.MAX_DOF) & (n == np.round(n))
            p[fast] = rv_chi2.chi2_sf(n[fast] - 1.0, x[fast])
            slow = ~bad & ~fast
            p[slow] = _sf(n[slow] - 1.0, x[slow], False)
    return np.where(bad, np.nan, p)


def pvalue_marginalised(eps_kms: ArrayLike, n_transits: ArrayLike, ln_sigma: ArrayLike,
                        ln_sigma_err: ArrayLike, *, rv_floor_kms: float = 0.11,
                        z: NDArray | None = None, one_minus_cdf: bool = False,
                        chunk: int = 200_000, backend: str = "numba"
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Marginalised p-value: mean of SF over fixed draws of ln σ ~ N(μ, s_μ).

    Parameters
    ----------
    eps_kms, n_transits : array_like
        ``radial_velocity_error`` and ``rv_nb_transits``.
    ln_sigma, ln_sigma_err : array_like
        ``rv_ln_uncert`` (μ) and ``rv_ln_uncert_err`` (s_μ).
    rv_floor_kms : float
        Floor f of the ε formula.
    z : numpy.ndarray, optional
        Standard normal draws (default: :func:`marginal_z`).
    one_minus_cdf : bool
        Reference-code numerics (1 − CDF).
    chunk : int
        Sources per vectorised block of the SciPy path (bounds memory to
        ``chunk × len(z)`` doubles).
    backend : {"numba", "scipy"}
        Closed-form integer-dof SF in numba (default; parallel, no temporaries) or SciPy.

    Returns
    -------
    pval, pval_err : numpy.ndarray
        ``rv_pval`` and ``rv_pval_err``.
    """
    n, s2, bad = _prepare(eps_kms, n_transits, rv_floor_kms)
    mu, smu = np.broadcast_arrays(np.asarray(ln_sigma, np.float64),
                                  np.asarray(ln_sigma_err, np.float64))
    n, s2, bad, mu, smu = np.broadcast_arrays(n, s2, bad, mu, smu)
    shape = n.shape
    n, s2, bad, mu, smu = (a.ravel() for a in (n, s2, bad, mu, smu))
    zz = marginal_z() if z is None else np.asarray(z, np.float64)
    p = np.full(n.size, np.nan)
    perr = np.full(n.size, np.nan)
    bad = bad | ~np.isfinite(mu) | ~np.isfinite(smu)
    if backend not in ("numba", "scipy"):
        raise ValueError(f"backend must be 'numba' or 'scipy', not {backend!r}")
    todo = np.ones(n.size, bool)
    if backend == "numba" and not one_minus_cdf:
        fast = np.flatnonzero(~bad & (n - 1.0 <= rv_chi2.MAX_DOF) & (n == np.round(n)))
        p[fast], perr[fast] = rv_chi2.marginal_pvalues(n[fast] - 1.0, s2[fast], mu[fast],
                                                       smu[fast], zz)
        todo[fast] = False
    rest = np.flatnonzero(todo & ~bad)
    n, s2, mu, smu = n[rest], s2[rest], mu[rest], smu[rest]
    p_rest = np.empty(rest.size)
    perr_rest = np.empty(rest.size)
    for s in range(0, rest.size, chunk):
        sl = slice(s, s + chunk)
        dof = (n[sl] - 1.0)[:, None]
        with np.errstate(invalid="ignore", over="ignore"):
            x = dof * s2[sl, None] * np.exp(-2.0 * (mu[sl, None] + smu[sl, None] * zz[None, :]))
            terms = _sf(dof, x, one_minus_cdf)
        p_rest[sl] = terms.mean(axis=1)
        perr_rest[sl] = terms.std(axis=1)
    p[rest], perr[rest] = p_rest, perr_rest
    p[bad] = np.nan
    perr[bad] = np.nan
    return p.reshape(shape), perr.reshape(shape)
