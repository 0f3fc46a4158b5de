"""Load a fitted posterior and score new objects: P(binary-like) with its interval.

A new object's host mass, companion mass, semi-major axis and (optional) eccentricity
are turned into (log q, log a, e) observations with their uncertainties exactly like the
catalogue rows (:mod:`vlms_bayes.orbits` log-space errors, the fit's error floors), and
its responsibilities are evaluated for every posterior draw of the fit
(:mod:`vlms_bayes.inference.membership`), so its measurement errors and the population
uncertainty both propagate into the interval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.membership import (
    Membership,
    draws_from_posterior,
    object_log_terms,
    responsibilities,
    summarise_memberships,
)
from vlms_bayes.models.data import E_LIMIT, E_MEASURED, E_NONE, MeasurementConfig, ModelData
from vlms_bayes.orbits import log10_errors, logq_errors, mass_ratio

#: Attribute that marks a posterior file as written by ``vlms-bayes fit``.
MODEL_TAG = "vlms_bayes.mixture/1"


def load_posterior(folder: str | Path) -> tuple[Any, dict[str, Any]]:
    """Open ``posterior.nc`` and ``fit_summary.json`` of a ``vlms-bayes fit`` folder.

    Raises
    ------
    InputDataError
        When the folder or files are missing or were not written by ``vlms-bayes fit``,
        or when they hold a fit rejected by the diagnostics gate (``rejected/``).
    """
    import xarray as xr  # heavy: xarray

    folder = Path(folder)
    nc, summ = folder / "posterior.nc", folder / "fit_summary.json"
    if not nc.is_file() or not summ.is_file():
        raise InputDataError(
            f"{folder} does not hold posterior.nc and fit_summary.json; give the output "
            "folder of 'vlms-bayes fit'.")
    try:
        dt = xr.open_datatree(nc, engine="h5netcdf")
        summary = json.loads(summ.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputDataError(f"Cannot read the posterior in {folder}: {exc}") from exc
    if dt.attrs.get("vlms_bayes_model") != MODEL_TAG or "posterior" not in dt.children:
        raise InputDataError(
            f"{nc} was not written by 'vlms-bayes fit' (no '{MODEL_TAG}' tag); give the "
            "output folder of a vlms-bayes fit.")
    if summary.get("rejected") or dt.attrs.get("gate") == "failed":
        raise InputDataError(
            f"{folder} holds a fit that failed the diagnostics gate (rejected; see "
            f"{folder / 'VERDICT.txt'}); its posterior is not used for results. Refit with "
            "the changes the verdict names, or with --allow-bad-diagnostics to publish a "
            "failed fit knowingly.")
    return dt, summary


def observation_from_values(
    *, name: str, m_star_msun: float, mass_mj: float, a_au: float,
    m_star_err: float | None = None, mass_err: float | None = None,
    a_err: float | None = None, e: float | None = None, e_err: float | None = None,
    e_upper_limit: float | None = None, msini: bool = False,
    measurement: MeasurementConfig | None = None,
) -> ModelData:
    """One object's observation in the model's terms (errors are 1-sigma, linear units)."""
    cfg = measurement or MeasurementConfig()
    for label, v in (("host mass", m_star_msun), ("companion mass", mass_mj), ("a", a_au)):
        if v is None or not np.isfinite(v) or v <= 0:
            raise InputDataError(f"The {label} must be a positive number, got {v!r}.")
    nan = np.nan
    sq_mc = log10_errors(mass_mj, mass_err or nan, mass_err or nan)
    sq_ms = log10_errors(m_star_msun, m_star_err or nan, m_star_err or nan)
    sq_hi, sq_lo = logq_errors(sq_mc[0], sq_mc[1], sq_ms[0], sq_ms[1])
    sa_hi, sa_lo = log10_errors(a_au, a_err or nan, a_err or nan)

    def sig(hi: Any, lo: Any, floor: float) -> float:
        v = 0.5 * (float(hi) + float(lo))
        return max(v, floor) if np.isfinite(v) else floor

    kind, e_obs, s_e, e_lim = E_NONE, nan, nan, nan
    if e is not None and e_upper_limit is not None:
        raise InputDataError("Give either an eccentricity or an upper limit, not both.")
    if e is not None:
        kind, e_obs = E_MEASURED, float(e)
        s_e = max(float(e_err), cfg.e_err_floor) if e_err else cfg.e_err_floor
    elif e_upper_limit is not None:
        if not 0 < e_upper_limit < 1:
            raise InputDataError(f"An eccentricity limit must lie in (0, 1), got {e_upper_limit}.")
        kind, e_lim = E_LIMIT, float(e_upper_limit)
    return ModelData(
        names=(name,),
        y_logq=np.log10(np.atleast_1d(mass_ratio(mass_mj, m_star_msun))),
        s_logq=np.array([sig(sq_hi, sq_lo, cfg.logq_err_floor)]),
        y_loga=np.array([np.log10(a_au)]), s_loga=np.array([sig(sa_hi, sa_lo, cfg.loga_err_floor)]),
        msini=np.array([bool(msini)]), e_kind=np.array([kind]), e_obs=np.array([e_obs]),
        s_e=np.array([s_e]), e_limit=np.array([e_lim]),
    )


def classify_data(posterior: Any, data: ModelData, *, interval: float = 0.9) -> Membership:
    """Membership of the objects in ``data`` under a fitted posterior."""
    draws = draws_from_posterior(posterior)
    return summarise_memberships(data.names, responsibilities(object_log_terms(data, draws)),
                                 interval=interval)
