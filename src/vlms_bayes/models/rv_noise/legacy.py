"""The pre-DR3 "Gaussian-filter fill" smoothing of the noise grid (spec §3.5, [D5]).

Before the DR3 pipeline switched to a Gaussian process, empty bins of the (G, colour) grid of
mean ln σ̂ were filled by nearest-neighbour extrapolation and then replaced by a Gaussian
filter of that filled grid, with widths ``color_smoothing_scale`` and ``mag_smoothing_scale``
in magnitudes (σ in bins = scale / bin width; both 0.25 in the reference configuration).
Calibrated bins keep their own values. Sources are looked up by bilinear interpolation
between bin centres, clamped to the outermost centres (the nearest-neighbour rule beyond
them). The uncertainty of ln σ is the per-bin subset scatter, filled the same way.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage
from scipy.interpolate import RegularGridInterpolator

from vlms_bayes.errors import InputDataError


def legacy_fill(values: ArrayLike, valid: ArrayLike, *, bin_widths: tuple[float, float],
                scales: tuple[float, float]) -> NDArray[np.float64]:
    """Fill invalid bins: nearest valid bin (distances in magnitudes), then Gaussian filter.

    Parameters
    ----------
    values : array_like, shape (num_mag, num_color)
        Per-bin values (ignored where not valid).
    valid : array_like of bool, same shape
        Calibrated bins (kept unchanged).
    bin_widths : (float, float)
        Bin widths in G and in colour (mag).
    scales : (float, float)
        Filter widths in G and in colour (mag).

    Returns
    -------
    numpy.ndarray
        The grid with every bin finite.
    """
    arr = np.asarray(values, np.float64)
    ok = np.asarray(valid, bool) & np.isfinite(arr)
    if not ok.any():
        raise InputDataError("No calibrated noise-model bin to fill the grid from.")
    _, idx = ndimage.distance_transform_edt(~ok, sampling=bin_widths, return_indices=True)
    filled = arr[tuple(idx)]
    sigma_pix = [s / w for s, w in zip(scales, bin_widths, strict=True)]
    smooth = ndimage.gaussian_filter(filled, sigma=sigma_pix, mode="nearest")
    return np.where(ok, arr, smooth)


def legacy_predict(mag_centres: NDArray, color_centres: NDArray, grid_mu: NDArray,
                   grid_err: NDArray, bp_rp: NDArray, g_mag: NDArray
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bilinear lookup of the filled grids at (colour, G), clamped to the bin centres."""
    axes = []
    for centres in (mag_centres, color_centres):
        # a single bin along an axis: a flat second node so that interpolation is defined
        axes.append(centres if centres.size > 1 else np.array([centres[0], centres[0] + 1.0]))
    mu, err = (g if g.shape == (axes[0].size, axes[1].size)
               else np.broadcast_to(g, (axes[0].size, axes[1].size)) for g in (grid_mu, grid_err))
    pts = np.column_stack([np.clip(g_mag, axes[0][0], axes[0][-1]),
                           np.clip(bp_rp, axes[1][0], axes[1][-1])])
    out_mu = np.full(len(pts), np.nan)
    out_err = np.full(len(pts), np.nan)
    ok = np.all(np.isfinite(pts), axis=1)
    out_mu[ok] = RegularGridInterpolator(axes, mu)(pts[ok])
    out_err[ok] = RegularGridInterpolator(axes, err)(pts[ok])
    return out_mu, out_err
