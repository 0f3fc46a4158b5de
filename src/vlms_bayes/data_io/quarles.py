"""Read the Quarles et al. (2020) stability tables and build their regular grids.

The four tables (planet inclinations 0, 30, 45 and 180 degrees) are registered data files
(``quarles2020/a_crit_Incl[I].txt``, pinned URL and sha256 in
:data:`vlms_bayes.data_io.files.REGISTRY`); they are found in the data folder, the cache,
or downloaded once. Each has a ``#`` header and comma-separated rows ``mu, e_bin,
a_crit/a_bin``. Source: github.com/saturnaxis/ThreeBody_Stability (Zenodo
doi:10.5281/zenodo.3579202).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vlms_bayes.data_io.files import fetch_data_file, resolve_data_file
from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility.stability import (
    TABULATED_INCLINATIONS_DEG,
    StabilityTable,
    blend_tables,
    build_stability_table,
)

PathLike = str | os.PathLike[str]


def table_file_name(incl_deg: int) -> str:
    """Registered name of the table for a tabulated inclination (e.g. 30 -> ...[30].txt)."""
    return f"quarles2020/a_crit_Incl[{int(incl_deg)}].txt"


def read_quarles_table(path: PathLike) -> NDArray[np.float64]:
    """Read one Quarles et al. (2020) table file.

    Parameters
    ----------
    path : path-like
        A file with a ``#`` header and rows ``mu, e_bin, a_crit/a_bin``.

    Returns
    -------
    numpy.ndarray, shape (n, 3)
        The rows.

    Raises
    ------
    InputDataError
        If the file cannot be parsed as three comma-separated numeric columns with
        0 <= mu <= 1, 0 <= e_bin < 1 and a_crit/a_bin >= 0.
    """
    path = Path(path)
    try:
        data = np.loadtxt(path, delimiter=",", comments="#", ndmin=2, dtype=float)
    except ValueError as exc:
        raise InputDataError(
            f"Cannot read the Quarles et al. (2020) table {path}: {exc}. Expected a '#' "
            "header and comma-separated rows 'mu, e_bin, a_crit/a_bin'."
        ) from exc
    if data.shape[1] != 3 or data.shape[0] < 3:
        raise InputDataError(
            f"The Quarles et al. (2020) table {path} has shape {data.shape}; expected at "
            "least 3 rows of 3 columns 'mu, e_bin, a_crit/a_bin'."
        )
    mu, e, a = data.T
    ok = (
        np.isfinite(data).all(axis=1) & (mu >= 0) & (mu <= 1) & (e >= 0) & (e < 1) & (a >= 0)
    )
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        raise InputDataError(
            f"Row {k + 1} of the Quarles et al. (2020) table {path} ({data[k].tolist()}) is "
            "not a valid (mu in [0, 1], e_bin in [0, 1), a_crit/a_bin >= 0) triple; use "
            "the published file."
        )
    return data


@functools.lru_cache(maxsize=16)
def _table_from_file(path: str, mtime_ns: int, incl_deg: int) -> StabilityTable:
    del mtime_ns  # part of the cache key only
    table = build_stability_table(read_quarles_table(path), incl_deg)
    for arr in table[:3]:
        arr.setflags(write=False)
    return table


def table_path(incl_deg: int, *, data_dir: PathLike | None = None) -> Path:
    """Local path of the table for a tabulated inclination (data folder, cache, download)."""
    return fetch_data_file(table_file_name(incl_deg), data_dir_=data_dir)


def load_stability_table(
    incl_deg: float = 0,
    *,
    data_dir: PathLike | None = None,
    interpolate: bool = False,
) -> StabilityTable:
    """Load the Quarles et al. (2020) table for a planet inclination, on its regular grid.

    Parameters
    ----------
    incl_deg : float
        Planet inclination relative to the binary plane, degrees. Tabulated: 0, 30, 45,
        180.
    data_dir : path-like, optional
        Data folder searched first (else ``$VLMS_BAYES_DATA_DIR``, the cache, a download).
    interpolate : bool
        For an inclination between 0 and 45 degrees that is not tabulated, interpolate
        linearly in inclination between the two neighbouring tables (with a
        :class:`UserWarning`: the tables are N-body results, not a smooth law). Never
        done between 45 and 180 degrees, where the Lidov–Kozai regime makes a linear
        blend meaningless.

    Returns
    -------
    StabilityTable
        a_c / a_bin on the published grid (read-only NumPy arrays; cached per file).

    Raises
    ------
    InputDataError
        For an untabulated inclination (unless ``interpolate`` and 0 < i < 45) or a bad
        file.
    DataUnavailableError
        If a table is neither local nor downloadable.
    """
    incl = float(incl_deg)
    if not np.isfinite(incl):
        raise InputDataError(f"Planet inclination {incl_deg!r} deg is not a number.")
    if incl in TABULATED_INCLINATIONS_DEG:
        path = table_path(int(incl), data_dir=data_dir)
        return _table_from_file(str(path.resolve()), path.stat().st_mtime_ns, int(incl))
    tab = ", ".join(str(i) for i in TABULATED_INCLINATIONS_DEG)
    if not interpolate:
        raise InputDataError(
            f"Quarles et al. (2020) tabulate planet inclinations {tab} deg only, not "
            f"{incl:g} deg. Pick one of them, or ask for a linear interpolation between "
            "the neighbouring tables (interpolate=True, command option --incl-interp) for "
            "0 < inclination < 45 deg."
        )
    if not 0 < incl < 45:
        raise InputDataError(
            f"Planet inclination {incl:g} deg cannot be interpolated: interpolation "
            "between tables is offered only for 0 < inclination < 45 deg (beyond 45 deg "
            "the Lidov–Kozai regime makes a blend of the 45 and 180 deg tables "
            f"meaningless). Tabulated: {tab} deg."
        )
    lo, hi = (0, 30) if incl < 30 else (30, 45)
    warnings.warn(
        f"Planet inclination {incl:g} deg is not tabulated by Quarles et al. (2020); "
        f"a_c/a_bin is interpolated linearly between the {lo} and {hi} deg tables.",
        UserWarning,
        stacklevel=2,
    )
    return blend_tables(
        load_stability_table(lo, data_dir=data_dir),
        load_stability_table(hi, data_dir=data_dir),
        incl,
    )


def load_all_stability_tables(
    *, data_dir: PathLike | None = None
) -> dict[int, StabilityTable]:
    """All four tabulated inclinations: ``{0: table, 30: ..., 45: ..., 180: ...}``."""
    return {i: load_stability_table(i, data_dir=data_dir) for i in TABULATED_INCLINATIONS_DEG}


def tables_provenance(
    incls: Sequence[float], *, data_dir: PathLike | None = None
) -> dict[str, Any]:
    """``run.json`` records of the tables used for these planet inclinations.

    An untabulated inclination between 0 and 45 degrees uses its two neighbouring tables.
    Each record has the path, its origin (data folder, cache, download or the embedded
    snapshot), sha256 and pinned sha256.
    """
    used: set[int] = set()
    for i in incls:
        if i in TABULATED_INCLINATIONS_DEG:
            used.add(int(i))
        elif 0 < i < 30:
            used.update((0, 30))
        elif 30 < i < 45:
            used.update((30, 45))
    rec = {}
    for incl in sorted(used):
        resolved = resolve_data_file(table_file_name(incl), data_dir_=data_dir)
        rec[table_file_name(incl)] = {**resolved.provenance(), "url": resolved.entry.url}
    return rec
