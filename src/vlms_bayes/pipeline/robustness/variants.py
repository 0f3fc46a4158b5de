"""The analysis choices that the robustness suite varies, as pure functions of the data.

Each variant is the default analysis with one choice changed:

``methods``
    leave out each discovery method in turn (methods with fewer than ``min_method_rows``
    fitted objects are not refitted, and the suite says so);
``true_mass``
    true masses only: rows whose mass is a minimum mass (``msini``) or comes from a
    mass–radius relation are dropped;
``e_limits``
    eccentricity upper limits excluded (the row keeps its log q and log a, its e becomes
    missing) instead of censored;
``fixed_e``
    circular orbits fixed at e = 0 without an uncertainty treated the other way round from
    the default (measured at e = 0 if the default treats them as unknown, and vice versa),
    in the Bayesian model and in the baselines' e fits alike;
``errors``
    homoscedastic errors: every object gets the sample-median error of each quantity
    (log q, log a, e) instead of its own;
``window``
    the host-mass window widened to include TOI-6894 b's host (0.207 Msun);
``selection``
    each method's key selection parameter (those with ``sensitivity = true`` in the
    selection priors, :mod:`vlms_bayes.models.selection_priors`: the RV threshold, the
    transit depth threshold, the microlensing zone width, the imaging contrast, the
    astrometric threshold) at the low and at the high end of its plausible range, one
    refit each, from the same priors file as the fit (methods with fewer than
    ``min_method_rows`` fitted objects are not varied; a naive fit has no selection
    variants).

The reference object (TOI-6894 b) is never dropped: it is scored under every variant's
posterior (and fitted where its host lies inside the window, as in ``window``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.data_io.schema import model_view
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.fit import FitConfig
from vlms_bayes.models.data import MeasurementConfig
from vlms_bayes.models.selection_priors import TARGETS, load_selection_priors
from vlms_bayes.pipeline.baseline import BaselineConfig
from vlms_bayes.pipeline.data import DataConfig

#: Groups of variants, in the order they are run and shown (``feasibility`` is the
#: horizon × periastron-threshold sensitivity grid of the feasibility map).
GROUPS: tuple[str, ...] = ("methods", "true_mass", "e_limits", "fixed_e", "errors", "window",
                           "selection", "feasibility")
#: Quantities whose errors the homoscedastic variant replaces (stacked column stems).
ERROR_QUANTITIES: tuple[str, ...] = ("logq", "loga", "pl_orbeccen")
#: Upper edge of the widened host-mass window (includes TOI-6894 b's 0.207 Msun host).
WIDE_MSTAR_MAX: float = 0.25


@dataclass(frozen=True)
class Variant:
    """One refit of the suite: its data and settings.

    Attributes
    ----------
    name : str
        Short identifier (``default``, ``without-microlensing``, ...), used in file names.
    group : str
        One of :data:`GROUPS` (``default`` for the reference analysis).
    label : str
        What changed, in words (figure and report).
    frame : pandas.DataFrame
        The stacked rows of this variant.
    baseline : Any
        Its :class:`vlms_bayes.pipeline.BaselineConfig`.
    fit : Any
        Its :class:`vlms_bayes.inference.fit.FitConfig`.
    """

    name: str
    group: str
    label: str
    frame: pd.DataFrame
    baseline: Any
    fit: Any


def slug(text: str) -> str:
    """Lower-case file-name-safe form of a label (``"Radial Velocity"`` -> ``radial-velocity``)."""
    return re.sub(r"[^a-z0-9.]+", "-", str(text).lower()).strip("-")


def _not_reference(frame: pd.DataFrame) -> pd.Series:
    return ~frame["is_reference"].fillna(False).astype(bool)


def method_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Objects per discovery method among the rows the Bayesian model fits."""
    rows = model_view(frame)
    return {str(k): int(v) for k, v in rows["discoverymethod"].value_counts().sort_index().items()}


def leave_out_method(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    """The stacked rows without the (non-reference) rows discovered by ``method``.

    Raises
    ------
    InputDataError
        If no row has that discovery method.
    """
    hit = frame["discoverymethod"].astype(str) == method
    if not hit.any():
        raise InputDataError(
            f"No row has discovery method {method!r}; present: "
            f"{sorted(frame['discoverymethod'].dropna().astype(str).unique())}.")
    return frame.loc[~(hit & _not_reference(frame))].reset_index(drop=True)


def true_masses_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The stacked rows whose companion mass is a true mass (``mass_kind == "true"``).

    Minimum masses (``msini``), masses from a mass–radius relation and other kinds are
    dropped; the reference row is kept (it is scored, whatever its mass kind).
    """
    keep = (frame["mass_kind"].astype(str) == "true") | ~_not_reference(frame)
    return frame.loc[keep].reset_index(drop=True)


def exclude_e_limits(frame: pd.DataFrame) -> pd.DataFrame:
    """Eccentricity upper limits become missing eccentricities (rows kept for log q, log a)."""
    out = frame.copy()
    lim = out["ecc_status"].astype(str) == "upper_limit"
    out.loc[lim, "ecc_status"] = "missing"
    for col in ("pl_orbeccen", "pl_orbeccen_err_hi", "pl_orbeccen_err_lo"):
        if col in out.columns:
            out.loc[lim, col] = np.nan
    return out


def symmetric_error(frame: pd.DataFrame, stem: str) -> np.ndarray:
    """Mean of the upper and lower error of ``stem`` per row (one of them if only one; NaN)."""
    hi = pd.to_numeric(frame.get(f"{stem}_err_hi"), errors="coerce").to_numpy(float)
    lo = pd.to_numeric(frame.get(f"{stem}_err_lo"), errors="coerce").to_numpy(float)
    return np.where(np.isnan(hi), np.abs(lo),
                    np.where(np.isnan(lo), np.abs(hi), 0.5 * (np.abs(hi) + np.abs(lo))))


def median_errors(frame: pd.DataFrame,
                  quantities: Sequence[str] = ERROR_QUANTITIES) -> dict[str, float]:
    """Median error of each quantity over the fitted sample (rows that have an error).

    The eccentricity's median is taken over rows with a measured eccentricity only.

    Raises
    ------
    InputDataError
        If no fitted row has an error for a quantity.
    """
    rows = model_view(frame)
    out = {}
    for stem in quantities:
        sub = rows.loc[rows["ecc_status"].astype(str) == "measured"] if stem == "pl_orbeccen" \
            else rows
        err = symmetric_error(sub, stem)
        err = err[np.isfinite(err) & (err > 0)]
        if err.size == 0:
            raise InputDataError(f"No fitted row has an uncertainty of {stem}; the "
                                 "homoscedastic variant needs at least one.")
        out[stem] = float(np.median(err))
    return out


def homoscedastic_errors(frame: pd.DataFrame,
                         quantities: Sequence[str] = ERROR_QUANTITIES) -> pd.DataFrame:
    """Every object gets the sample-median error of each quantity (both error columns).

    Medians come from :func:`median_errors`. Log q and log a errors are replaced on every
    row; the eccentricity error only on rows with a measured eccentricity (the others
    have no e measurement for an error to describe).
    """
    med = median_errors(frame, quantities)
    out = frame.copy()
    for stem, value in med.items():
        rows = (out["ecc_status"].astype(str) == "measured").to_numpy() \
            if stem == "pl_orbeccen" else np.ones(len(out), bool)
        for side in ("hi", "lo"):
            col = f"{stem}_err_{side}"
            out[col] = pd.to_numeric(out.get(col), errors="coerce").astype(float)
            out.loc[rows, col] = value
    return out


def widened_data_config(data_config: DataConfig, *,
                        mstar_max: float = WIDE_MSTAR_MAX) -> DataConfig:
    """The data settings with the upper host-mass edge raised to ``mstar_max`` (never lowered)."""
    return dataclasses.replace(data_config, mstar_max=max(float(data_config.mstar_max),
                                                          float(mstar_max)))


def flipped_fixed_e(baseline: BaselineConfig,
                    fit: FitConfig) -> tuple[BaselineConfig, FitConfig, str, str]:
    """Baseline and fit settings with fixed-circular orbits treated the other way round.

    Returns
    -------
    baseline, fit, name, label
    """
    to_measured = fit.measurement.fixed_zero == "unknown"
    new_fz = "measured" if to_measured else "unknown"
    meas = MeasurementConfig(**{**fit.measurement.to_dict(), "fixed_zero": new_fz})
    bl = dataclasses.replace(baseline, fixed_e="measured" if to_measured else "exclude")
    label = ("fixed-circular orbits measured (e = 0)" if to_measured
             else "fixed-circular orbits unknown")
    return bl, dataclasses.replace(fit, measurement=meas), f"fixed-e-{new_fz}", label


def selection_variants(frame: pd.DataFrame, baseline: Any, fit: Any, *,
                       min_method_rows: int = 5) -> tuple[list[Variant], list[str]]:
    """Refits with one selection parameter at the low or high end of its prior.

    The parameters are those with ``sensitivity = true`` in the priors file the fit's
    selection model came from (``fit.selection.priors_file``; the package's defaults when
    None), so the list follows the priors.

    Returns
    -------
    variants : list of Variant
        Two per varied parameter (``selection-<key>-low`` and ``-high``).
    notes : list of str
        Why a parameter was not varied.
    """
    if fit.selection is None:
        return [], ["selection variants skipped: the fit has no selection model "
                    "(--selection none)"]
    priors = load_selection_priors(fit.selection.priors_file)
    counts = method_counts(frame)
    out: list[Variant] = []
    notes: list[str] = []
    for key in priors.sensitivity_keys():
        kind = TARGETS[key].kind
        n = sum(c for m, c in counts.items() if fit.selection.kind(m) == kind)
        if n < min_method_rows:
            notes.append(f"selection variants of {key} skipped: only {n} fitted object(s) "
                         f"of that method (fewer than {min_method_rows})")
            continue
        prior = priors[key]
        for end in ("low", "high"):
            model = priors.model(fit.selection, at={key: end})
            label = (f"{key} {end}: {prior.describe(end)} (default "
                     f"{prior.describe()})")
            out.append(Variant(f"selection-{slug(key)}-{end}", "selection", label, frame,
                               baseline, dataclasses.replace(fit, selection=model)))
    return out, notes


def check_groups(groups: Sequence[str] | None) -> tuple[str, ...]:
    """Validated variant groups (all of :data:`GROUPS` when None)."""
    if groups is None:
        return GROUPS
    bad = [g for g in groups if g not in GROUPS]
    if bad:
        raise InputDataError(f"Unknown robustness variant(s) {bad}; choose from "
                             f"{', '.join(GROUPS)}.")
    return tuple(g for g in GROUPS if g in groups)


def build_variants(
    frame: pd.DataFrame,
    baseline: Any,
    fit: Any,
    *,
    groups: Sequence[str] | None = None,
    wide_frame: pd.DataFrame | None = None,
    wide_label: str = "host-mass window widened",
    min_method_rows: int = 5,
) -> tuple[list[Variant], list[str]]:
    """The default analysis and its variants (pure: no files, no fits).

    Parameters
    ----------
    frame : pandas.DataFrame
        Stacked dataset of the default data settings.
    baseline, fit : BaselineConfig, FitConfig
        Default settings.
    groups : sequence of str, optional
        Which groups of :data:`GROUPS` to build (``feasibility`` is not a refit and is
        ignored here); None builds all.
    wide_frame : pandas.DataFrame, optional
        Stacked dataset loaded with the widened window (needed for ``window``).
    wide_label : str
        Label of the widened-window variant.
    min_method_rows : int
        Fewest fitted objects of a discovery method for its leave-out variant.

    Returns
    -------
    variants : list of Variant
        ``default`` first.
    notes : list of str
        Why any variant was not built (e.g. a method with too few objects).
    """
    chosen = check_groups(groups)
    out = [Variant("default", "default", "default analysis", frame, baseline, fit)]
    notes: list[str] = []
    if "methods" in chosen:
        for method, n in method_counts(frame).items():
            if n < min_method_rows:
                notes.append(f"leave-out of {method} skipped: only {n} fitted object(s) "
                             f"(fewer than {min_method_rows})")
                continue
            out.append(Variant(f"without-{slug(method)}", "methods", f"without {method} ({n})",
                               leave_out_method(frame, method), baseline, fit))
    if "true_mass" in chosen:
        out.append(Variant("true-masses-only", "true_mass", "true masses only",
                           true_masses_only(frame), baseline, fit))
    if "e_limits" in chosen:
        out.append(Variant("e-limits-excluded", "e_limits", "e upper limits excluded",
                           exclude_e_limits(frame), baseline, fit))
    if "fixed_e" in chosen:
        bl, ft, name, label = flipped_fixed_e(baseline, fit)
        out.append(Variant(name, "fixed_e", label, frame, bl, ft))
    if "errors" in chosen:
        out.append(Variant("homoscedastic", "errors", "homoscedastic errors (sample medians)",
                           homoscedastic_errors(frame), baseline, fit))
    if "window" in chosen:
        if wide_frame is None:
            raise InputDataError("The widened-window variant needs the stacked data loaded "
                                 "with the widened window (wide_frame).")
        ref = wide_frame.loc[~_not_reference(wide_frame)]
        if not ref.empty and not ref["in_window"].astype(bool).any():
            notes.append(f"the widened window does not include the reference object's host "
                         f"({float(ref['st_mass'].iloc[0]):.3g} Msun)")
        out.append(Variant("window-widened", "window", wide_label, wide_frame, baseline, fit))
    if "selection" in chosen:
        sel, sel_notes = selection_variants(frame, baseline, fit,
                                            min_method_rows=min_method_rows)
        out += sel
        notes += sel_notes
    return out, notes
