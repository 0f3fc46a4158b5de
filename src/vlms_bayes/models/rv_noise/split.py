"""Noise models calibrated separately for Gaia's two RV methods (spec §2.3, [D12]).

For ``rv_method_used`` = 1 (G_RVS ≤ 12) ε is built from the scatter of the epoch RVs and the
ε → s² inversion is exact; for method 2 (fainter stars) ε comes from the combined
cross-correlation function and s² is a pseudo-variance. Bins in G around 12.5–13.5 mix the
two. With ``split_method`` the per-bin σ̂ and their smoothing are fitted on each method's
stars alone, and every source is looked up in its own method's model. Sources without a
method (e.g. Gaia DR2 tables) get no prediction (NaN, flagged out of grid). Off by default,
as in the reference pipeline. Saved in the noise-model ``.npz`` format with the arrays of
each method prefixed ``method1_`` / ``method2_`` and a ``split_methods`` array.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vlms_bayes.data_io.outputs import atomic_write
from vlms_bayes.errors import InputDataError
from vlms_bayes.models.rv_noise.model import (
    FORMAT_VERSION,
    NoiseGridConfig,
    NoiseModel,
    fit_noise_model,
)

#: Gaia DR3 ``rv_method_used`` values.
METHODS: tuple[int, ...] = (1, 2)


@dataclass
class MethodSplitNoiseModel:
    """One :class:`NoiseModel` per ``rv_method_used``.

    Attributes
    ----------
    models : dict of int to NoiseModel
        The model of each method (same grid and settings).
    """

    models: dict[int, NoiseModel]

    @property
    def split_methods(self) -> tuple[int, ...]:
        """The methods with a model."""
        return tuple(sorted(self.models))

    @property
    def config(self) -> NoiseGridConfig:
        """The shared grid and estimator settings."""
        return self.models[self.split_methods[0]].config

    @property
    def n_transits_hist(self) -> NDArray[np.int64]:
        """Sources with N = 0, 1, 2, ... over both methods (for simulations)."""
        hists = [m.n_transits_hist for m in self.models.values()]
        out = np.zeros(max(h.size for h in hists), np.int64)
        for h in hists:
            out[:h.size] += h
        return out

    @property
    def meta(self) -> dict[str, Any]:
        """Provenance of each method's model."""
        return {f"method{k}": m.meta for k, m in self.models.items()}

    def predict(self, bp_rp: ArrayLike, g_mag: ArrayLike, *,
                rv_method_used: ArrayLike | None = None, chunk: int = 5000,
                method: str = "exact") -> tuple[NDArray, NDArray, NDArray]:
        """Predict ln σ, its error and the out-of-grid flag, each from its method's model.

        See :meth:`NoiseModel.predict`; ``rv_method_used`` (broadcast with the inputs) is
        required. Sources with another or no method: NaN and flagged.
        """
        if rv_method_used is None:
            raise InputDataError("This noise model is calibrated per rv_method_used; the "
                                 "sources need an rv_method_used column (Gaia DR3).")
        c, g, meth = np.broadcast_arrays(np.asarray(bp_rp, np.float64),
                                         np.asarray(g_mag, np.float64),
                                         np.asarray(rv_method_used, np.float64))
        mu = np.full(c.shape, np.nan)
        sd = np.full(c.shape, np.nan)
        oog = np.ones(c.shape, bool)
        for k, model in self.models.items():
            sel = meth == k
            if sel.any():
                mu[sel], sd[sel], oog[sel] = model.predict(c[sel], g[sel], chunk=chunk,
                                                           method=method)
        return mu, sd, oog

    def _grid_interpolators(self) -> None:
        for model in self.models.values():
            model._grid_interpolators()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save in the noise-model ``.npz`` format (arrays prefixed ``method{k}_``)."""
        arrays: dict[str, Any] = {}
        for k, model in self.models.items():
            arrays.update(model.to_arrays(prefix=f"method{k}_"))
        path = Path(path)
        with atomic_write(path, "wb") as fh:
            np.savez_compressed(fh, format_version=FORMAT_VERSION,
                                split_methods=np.array(self.split_methods), **arrays)
        return path

    @classmethod
    def from_arrays(cls, z: Any) -> MethodSplitNoiseModel:
        """Rebuild from an opened ``.npz`` written by :meth:`save`."""
        return cls({int(k): NoiseModel.from_arrays(z, prefix=f"method{int(k)}_")
                    for k in z["split_methods"]})


def fit_split_noise_model(g_mag: ArrayLike, bp_rp: ArrayLike, eps_kms: ArrayLike,
                          n_transits: ArrayLike, rv_method_used: ArrayLike, *,
                          config: NoiseGridConfig, progress: bool = False,
                          meta: dict[str, Any] | None = None) -> MethodSplitNoiseModel:
    """Fit one noise model per ``rv_method_used`` on that method's sources.

    Parameters
    ----------
    g_mag, bp_rp, eps_kms, n_transits, rv_method_used : array_like
        Catalogue columns in table order.
    config : NoiseGridConfig
        Shared settings (``split_method`` is recorded as True).
    progress : bool
        Progress bars over magnitude rows.
    meta : dict, optional
        Provenance stored with each model.

    Returns
    -------
    MethodSplitNoiseModel

    Raises
    ------
    InputDataError
        If a method has no calibrated bin (too few stars of that method).
    """
    cols = [np.asarray(a, np.float64) for a in (g_mag, bp_rp, eps_kms, n_transits,
                                                  rv_method_used)]
    meth = cols[4]
    config = replace(config, split_method=True)
    models = {}
    for k in METHODS:
        sel = meth == k
        if not sel.any():
            continue
        try:
            models[k] = fit_noise_model(*(a[sel] for a in cols[:4]), config=config,
                                        progress=progress,
                                        meta={**(meta or {}), "rv_method_used": k,
                                              "n_rows": int(sel.sum())})
        except InputDataError as exc:
            raise InputDataError(f"rv_method_used = {k} ({int(sel.sum())} sources): {exc} "
                                 "Calibrate the methods together (no --split-method).") from exc
    if not models:
        raise InputDataError("No source has rv_method_used 1 or 2; --split-method needs the "
                             "Gaia DR3 rv_method_used column.")
    return MethodSplitNoiseModel(models)
