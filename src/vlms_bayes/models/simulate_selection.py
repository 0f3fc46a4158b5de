"""Simulate what detection-method selection does to an intrinsic catalogue.

:func:`simulate_detected` draws an intrinsic catalogue with
:func:`vlms_bayes.models.simulate.simulate_catalogue` (each companion searched by one
method, drawn with the given probabilities), then keeps each object with probability
p_det,m(true log q, true log a, its own host mass)
(:class:`vlms_bayes.models.selection.SelectionModel`). The kept rows are a catalogue whose
method mix and (log q, log a) distribution are shaped by selection; the intrinsic
parameters are known, so a fit can be checked for recovering them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.simulate import (
    ObservationSettings,
    PopulationTruth,
    apply_method_errors,
    project_separations,
    restrict_msini,
    simulate_catalogue,
)

#: The recovery tests' (and the fit benchmark's) intrinsic truth: a planet-like population
#: of small companions close in and a binary-like one at AU scales ...
RECOVERY_TRUTH = PopulationTruth(w=(0.75, 0.25), mu_logq=(-4.6, -1.8), mu_loga=(-1.3, 0.3),
                                 sigma_logq=(0.5, 0.5), sigma_loga=(0.4, 0.5), rho=(0.0, 0.0))
#: ... searched by RV 40%, transit 30%, microlensing 20%, imaging 10% ...
RECOVERY_METHOD_PROBS: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)
#: ... with measurement errors like the real sample's RV and transit rows (median
#: 0.05–0.08 dex in log q): the likelihood takes p_det as constant over each object's
#: error (docs/selection.md), which holds when errors are small against the soft cuts.
RECOVERY_OBSERVE = ObservationSettings(clip_e=False, logq_err=(0.03, 0.1))


def detection_probability(frame: pd.DataFrame, selection: SelectionModel, *,
                          rv_at_inclination: bool = True) -> np.ndarray:
    """p_det of each simulated row at its true (log q, log a) and its host, shape (N,).

    ``rv_at_inclination``: radial velocity sees K sin i, so a row's RV detection uses its
    own ``true_sin_i`` (as real surveys do; detected m sin i objects then favour edge-on
    orbits), and microlensing and imaging see the projected separation, so their rows use
    their own ``true_sin_phi``; False uses the orientation-averaged p_det for every row.
    """
    out = np.empty(len(frame))
    meth = frame["discoverymethod"].astype(str).to_numpy()
    tq, ta = frame["true_logq"].to_numpy(float), frame["true_loga"].to_numpy(float)
    ms = frame["st_mass"].to_numpy(float)
    mag = (frame["sy_vmag"].to_numpy(float) if "sy_vmag" in frame.columns
           else np.full(len(frame), np.nan))
    sin_i = frame["true_sin_i"].to_numpy(float) if rv_at_inclination else None
    sin_phi = (frame["true_sin_phi"].to_numpy(float)
               if rv_at_inclination and "true_sin_phi" in frame.columns else None)
    for m in np.unique(meth):  # the p_det forms broadcast a host array like the others
        sel = meth == m
        out[sel] = selection.p_det(m, tq[sel], ta[sel], m_star_msun=ms[sel],
                                   sin_i=None if sin_i is None else sin_i[sel],
                                   host_mag=mag[sel],
                                   sin_phi=None if sin_phi is None else sin_phi[sel])
    return out


def simulate_detected(
    n_intrinsic: int,
    *,
    truth: PopulationTruth | None = None,
    selection: SelectionModel | None = None,
    methods: tuple[str, ...] = ("Radial Velocity", "Transit", "Microlensing", "Imaging"),
    method_probs: tuple[float, ...] | None = None,
    observe: ObservationSettings | None = None,
    random_seed: int | np.random.Generator | None = None,
    rv_at_inclination: bool = True,
    host_vmag_range: tuple[float, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An intrinsic catalogue and the subset the methods detect.

    Parameters
    ----------
    n_intrinsic : int
        Companions in the intrinsic catalogue (each searched by one method).
    truth : PopulationTruth, optional
        Intrinsic populations.
    selection : SelectionModel, optional
        Detection probabilities (default parameters).
    methods, method_probs : tuple
        Methods searching and the fraction of companions each searches (default: equal).
    observe : ObservationSettings, optional
        Measurement settings; its ``methods`` are replaced by ``methods``.
    random_seed : int or numpy.random.Generator, optional
        Randomness.
    rv_at_inclination : bool
        Radial-velocity detection at each row's own inclination (default; see
        :func:`detection_probability`).
    host_vmag_range : tuple of float, optional
        Draw each host's V magnitude (``sy_vmag``) uniformly in this range (default: no
        magnitudes, i.e. every host at the selection functions' reference magnitude).

    Returns
    -------
    detected : pandas.DataFrame
        The detected rows (stacked schema plus ``true_*`` columns and ``p_det``).
    intrinsic : pandas.DataFrame
        All rows with ``p_det`` and ``detected``.
    """
    rng = np.random.default_rng(random_seed)
    sel = selection or SelectionModel()
    ob = replace(observe or ObservationSettings(), methods=tuple(methods))
    frame = simulate_catalogue(n_intrinsic, truth=truth, observe=replace(ob, projected_methods=()),
                               random_seed=rng)
    probs = np.full(len(methods), 1 / len(methods)) if method_probs is None else (
        np.asarray(method_probs, float) / np.sum(method_probs))
    frame["discoverymethod"] = rng.choice(list(methods), size=len(frame), p=probs)
    frame = restrict_msini(frame, ob.msini_methods)
    frame = project_separations(frame, ob.projected_methods)
    frame = apply_method_errors(frame, ob.method_errors, rng)
    if host_vmag_range is not None:
        frame["sy_vmag"] = rng.uniform(*host_vmag_range, len(frame))
    frame["p_det"] = detection_probability(frame, sel, rv_at_inclination=rv_at_inclination)
    frame["detected"] = rng.random(len(frame)) < frame["p_det"].to_numpy()
    return frame.loc[frame["detected"]].reset_index(drop=True), frame
