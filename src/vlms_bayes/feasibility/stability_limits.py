"""Stability limits from the quantities a user has: masses or mass ratios, a_bin or P_bin.

:func:`stability_limits` turns (M_A, M_B) or mu or q = M_B/M_A, and the binary's
semi-major axis or period (Kepler's law, astropy constants), into the critical
semi-major axis of a body orbiting star A by Quarles et al. (2020) and by Holman &
Wiegert (1999). :func:`stability_limits_frame` does the same for a table of binaries
(the ``vlms-bayes stability --table`` command). Every input is validated with a message
that names the value and the valid range.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from astropy import units as u
from numpy.typing import ArrayLike, NDArray

from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility.stability import (
    StabilityTable,
    _count,
    ac_ratio,
    check_hw99_domain,
    check_quarles_domain,
    holman_wiegert_stype,
)
from vlms_bayes.orbits import semimajor_axis_au

DAYS_PER_YEAR = 365.25  # Julian year, as astropy's ``u.yr``


def _positive(name: str, value: Any, unit: str) -> NDArray[np.float64]:
    arr = _to_float(name, value, unit)
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        v = float(arr[bad].flat[0])
        raise InputDataError(
            f"{name} = {v!r} is not a positive, finite number{_count(bad)}; "
            f"give it in {unit}."
        )
    return arr


def _to_float(name: str, value: Any, unit: str) -> NDArray[np.float64]:
    """Plain float array; an astropy Quantity is converted to ``unit`` first."""
    if hasattr(value, "unit"):
        try:
            value = value.to_value(u.Unit(unit))
        except u.UnitConversionError as exc:
            raise InputDataError(f"{name} has unit {value.unit}, not convertible to {unit}.") \
                from exc
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputDataError(f"{name} = {value!r} is not a number.") from exc


def mass_ratio_mu(
    *,
    m_a_msun: ArrayLike | None = None,
    m_b_msun: ArrayLike | None = None,
    mu: ArrayLike | None = None,
    q: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """The dynamical mass ratio mu = M_B / (M_A + M_B) from exactly one form of input.

    Parameters
    ----------
    m_a_msun, m_b_msun : array_like, optional
        Masses of the host star A (the companion orbits it) and of the perturbing star B.
    mu : array_like, optional
        mu itself, 0 < mu < 1.
    q : array_like, optional
        Mass quotient q = M_B / M_A > 0 (mu = q / (1 + q)).

    Returns
    -------
    numpy.ndarray
        mu.

    Raises
    ------
    InputDataError
        If not exactly one of (both masses), mu, q is given, or a value is out of range.
    """
    given = [m_a_msun is not None or m_b_msun is not None, mu is not None, q is not None]
    if sum(given) != 1:
        raise InputDataError(
            "Give the binary's mass ratio in exactly one form: both masses M_A and M_B, "
            "or mu = M_B/(M_A+M_B), or q = M_B/M_A."
        )
    if given[0]:
        if m_a_msun is None or m_b_msun is None:
            raise InputDataError("Give both masses M_A and M_B (solar masses), not just one.")
        m_a = _positive("M_A", m_a_msun, "Msun")
        m_b = _positive("M_B", m_b_msun, "Msun")
        return m_b / (m_a + m_b)
    if q is not None:
        qq = _positive("q = M_B/M_A", q, "")
        return qq / (1.0 + qq)
    mu_a = _to_float("mu", mu, "")
    bad = ~(np.isfinite(mu_a) & (mu_a > 0) & (mu_a < 1))
    if bad.any():
        raise InputDataError(
            f"mu = M_B/(M_A+M_B) = {float(mu_a[bad].flat[0])!r} is outside the valid range "
            "0 < mu < 1."
        )
    return mu_a


def binary_semimajor_axis_au(
    *,
    a_bin_au: ArrayLike | None = None,
    p_bin_yr: ArrayLike | None = None,
    p_bin_day: ArrayLike | None = None,
    m_tot_msun: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Binary semi-major axis in AU, given directly or from the period by Kepler's law.

    Parameters
    ----------
    a_bin_au : array_like or Quantity, optional
        Semi-major axis (AU, or any length Quantity).
    p_bin_yr, p_bin_day : array_like or Quantity, optional
        Period in years (Julian) or days; needs ``m_tot_msun``.
    m_tot_msun : array_like, optional
        Total binary mass M_A + M_B in solar masses.

    Returns
    -------
    numpy.ndarray
        a_bin in AU.
    """
    given = [a_bin_au is not None, p_bin_yr is not None, p_bin_day is not None]
    if sum(given) != 1:
        raise InputDataError(
            "Give the binary's size in exactly one form: the semi-major axis a_bin (AU) or "
            "the period P_bin (years or days)."
        )
    if a_bin_au is not None:
        return _positive("a_bin", a_bin_au, "AU")
    if m_tot_msun is None:
        raise InputDataError(
            "A binary period needs the total mass M_A + M_B for Kepler's law: give both "
            "masses (or the total mass) together with mu or q."
        )
    period_day = (_positive("P_bin", p_bin_yr, "yr") * DAYS_PER_YEAR if p_bin_yr is not None
                  else _positive("P_bin", p_bin_day, "day"))
    return semimajor_axis_au(period_day, _positive("M_A + M_B", m_tot_msun, "Msun"))


def stability_limits(
    *,
    e_bin: ArrayLike,
    table: StabilityTable,
    m_a_msun: ArrayLike | None = None,
    m_b_msun: ArrayLike | None = None,
    mu: ArrayLike | None = None,
    q: ArrayLike | None = None,
    m_tot_msun: ArrayLike | None = None,
    a_bin_au: ArrayLike | None = None,
    p_bin_yr: ArrayLike | None = None,
    p_bin_day: ArrayLike | None = None,
) -> dict[str, NDArray[Any]]:
    """Critical semi-major axes of S-type orbits around star A, by both prescriptions.

    Parameters
    ----------
    e_bin : array_like
        Binary eccentricity, 0 <= e_bin <= 0.8.
    table : StabilityTable
        Quarles et al. (2020) table of the planet inclination wanted
        (:func:`vlms_bayes.data_io.quarles.load_stability_table`).
    m_a_msun, m_b_msun, mu, q : array_like, optional
        Mass ratio, in one form (see :func:`mass_ratio_mu`).
    m_tot_msun : array_like, optional
        Total mass, when the mass ratio is given as mu or q and the size as a period.
    a_bin_au, p_bin_yr, p_bin_day : array_like, optional
        Binary size, in one form (see :func:`binary_semimajor_axis_au`).

    Returns
    -------
    dict of numpy.ndarray
        ``mu``, ``e_bin``, ``a_bin_au``, ``a_c_ratio`` and ``a_c_au`` (Quarles et al.),
        ``a_c_ratio_hw99`` and ``a_c_au_hw99`` (Holman & Wiegert), ``hw99_in_range``
        (whether (mu, e_bin) is inside the HW99 fit's calibrated range) and
        ``incl_deg``, broadcast to a common shape.
    """
    mu_a = mass_ratio_mu(m_a_msun=m_a_msun, m_b_msun=m_b_msun, mu=mu, q=q)
    if m_tot_msun is None and m_a_msun is not None and m_b_msun is not None:
        m_tot_msun = np.asarray(m_a_msun, float) + np.asarray(m_b_msun, float)
    a_bin = binary_semimajor_axis_au(a_bin_au=a_bin_au, p_bin_yr=p_bin_yr,
                                     p_bin_day=p_bin_day, m_tot_msun=m_tot_msun)
    mu_a, e_a = check_quarles_domain(mu_a, _to_float("e_bin", e_bin, ""))
    mu_a, e_a, a_bin = np.broadcast_arrays(mu_a, e_a, a_bin)
    ratio = ac_ratio(table, mu_a, e_a)
    ratio_hw = np.asarray(holman_wiegert_stype(mu_a, e_a), float)
    return {
        "mu": mu_a.astype(float),
        "e_bin": e_a.astype(float),
        "a_bin_au": a_bin.astype(float),
        "incl_deg": np.full(mu_a.shape, float(table.incl_deg)),
        "a_c_ratio": ratio,
        "a_c_au": ratio * a_bin,
        "a_c_ratio_hw99": ratio_hw,
        "a_c_au_hw99": ratio_hw * a_bin,
        "hw99_in_range": check_hw99_domain(mu_a, e_a, kind="S"),
    }


# --------------------------------------------------------------------------------------
# tables of binaries
# --------------------------------------------------------------------------------------
#: Accepted column names of a binaries table (lower-cased) -> keyword of stability_limits.
COLUMN_ALIASES: Mapping[str, str] = {
    "m_a_msun": "m_a_msun", "ma": "m_a_msun", "m_a": "m_a_msun",
    "m_b_msun": "m_b_msun", "mb": "m_b_msun", "m_b": "m_b_msun",
    "mu": "mu", "q": "q",
    "m_tot_msun": "m_tot_msun", "mtot": "m_tot_msun",
    "e_bin": "e_bin", "ebin": "e_bin",
    "a_bin_au": "a_bin_au", "abin_au": "a_bin_au", "abin": "a_bin_au",
    "p_bin_yr": "p_bin_yr", "pbin_yr": "p_bin_yr",
    "p_bin_day": "p_bin_day", "pbin_day": "p_bin_day",
    "incl_deg": "incl_deg", "incl": "incl_deg",
}

#: Columns added to a binaries table by :func:`stability_limits_frame`.
OUTPUT_COLUMNS: tuple[str, ...] = (
    "mu", "e_bin", "a_bin_au", "incl_deg", "a_c_ratio", "a_c_au",
    "a_c_ratio_hw99", "a_c_au_hw99", "hw99_in_range",
)


def read_binaries_csv(path: str | os.PathLike[str]) -> Any:
    """Read a CSV of binaries (one per row) into a DataFrame, with a clear error."""
    try:
        frame = pd.read_csv(path, comment="#", skipinitialspace=True)
    except (OSError, ValueError) as exc:
        raise InputDataError(f"Cannot read the binaries table {path}: {exc}") from exc
    if frame.empty:
        raise InputDataError(f"The binaries table {path} has no rows.")
    return frame


def stability_limits_frame(
    frame: Any,
    *,
    tables: Mapping[float, StabilityTable] | None = None,
    incl_deg: float = 0,
    load_table: Any = None,
    source: str = "the table",
) -> Any:
    """Stability limits for every row of a DataFrame of binaries.

    Columns (case-insensitive; aliases in :data:`COLUMN_ALIASES`): the mass ratio as
    ``m_a_msun`` + ``m_b_msun``, or ``mu``, or ``q``; ``e_bin``; the size as
    ``a_bin_au``, ``p_bin_yr`` or ``p_bin_day`` (a period needs the masses or
    ``m_tot_msun``); optionally ``incl_deg`` per row (else ``incl_deg``). Other columns
    (e.g. ``name``) are kept.

    Parameters
    ----------
    frame : pandas.DataFrame
        The binaries.
    tables : mapping, optional
        Ready tables by inclination.
    incl_deg : float
        Inclination for rows without an ``incl_deg`` column.
    load_table : callable, optional
        ``load_table(incl_deg) -> StabilityTable`` for inclinations not in ``tables``.
    source : str
        Name of the table for error messages (e.g. the file name).

    Returns
    -------
    pandas.DataFrame
        The input columns followed by :data:`OUTPUT_COLUMNS` (input columns of the same
        name are replaced).

    Raises
    ------
    InputDataError
        Naming the first bad row (1-based data row) and the problem.
    """
    cols: dict[str, str] = {}
    for c in frame.columns:
        key = COLUMN_ALIASES.get(str(c).strip().lower())
        if key is not None:
            if key in cols:
                raise InputDataError(
                    f"Columns {cols[key]!r} and {c!r} of {source} both give {key}; keep one."
                )
            cols[key] = c
    if "e_bin" not in cols:
        raise InputDataError(
            f"{source} has no e_bin column; columns found: {list(frame.columns)}. Expected "
            "m_a_msun + m_b_msun (or mu, or q), e_bin, and a_bin_au (or p_bin_yr / p_bin_day)."
        )
    tables = dict(tables or {})
    incl = (pd.to_numeric(frame[cols["incl_deg"]], errors="coerce").to_numpy(float)
            if "incl_deg" in cols else np.full(len(frame), float(incl_deg)))
    values = {key: pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
              for key, col in cols.items() if key != "incl_deg"}
    present = np.column_stack([~np.isnan(v) for k, v in values.items() if k != "e_bin"]) \
        if len(values) > 1 else np.zeros((len(frame), 0), dtype=bool)
    out = {k: np.empty(len(frame)) for k in OUTPUT_COLUMNS}
    out["hw99_in_range"] = np.zeros(len(frame), dtype=bool)
    # rows with the same inclination and the same inputs present are done in one call
    keys = [k for k in values if k != "e_bin"]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for row in range(len(frame)):
        groups.setdefault((incl[row], *present[row]), []).append(row)

    def run(rows: list[int], incl_row: float) -> dict[str, NDArray[Any]]:
        table = tables.get(incl_row)
        if table is None:
            if load_table is None:
                raise InputDataError(f"no stability table for inclination {incl_row} deg")
            table = tables[incl_row] = load_table(incl_row)
        kwargs = {k: values[k][rows] for k in keys if not np.isnan(values[k][rows[0]])}
        return stability_limits(table=table, e_bin=values["e_bin"][rows], **kwargs)

    for (incl_g, *_), rows in groups.items():
        try:
            res = run(rows, incl_g)
        except InputDataError:
            for row in rows:  # find the first bad row and name it
                try:
                    run([row], incl_g)
                except InputDataError as exc:
                    raise InputDataError(f"Row {row + 1} of {source}: {exc}") from exc
            raise
        for k in OUTPUT_COLUMNS:
            out[k][rows] = res[k]
    result = frame.drop(columns=[c for c in OUTPUT_COLUMNS if c in frame.columns]).copy()
    for k in OUTPUT_COLUMNS:
        result[k] = out[k]
    return result
