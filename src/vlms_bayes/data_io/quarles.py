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
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.interpolate import griddata

from vlms_bayes.data_io.files import fetch_data_file, resolve_data_file, sha256_of
from vlms_bayes.errors import InputDataError

PathLike = str | os.PathLike[str]

#: Planet inclinations (degrees) for which Quarles et al. (2020) publish tables.
TABULATED_INCLINATIONS_DEG: tuple[int, ...] = (0, 30, 45, 180)

#: Regular mu grid of the published method: 0.001, 0.01, 0.02, ..., 0.99, 0.999.
MU_NODES: NDArray[np.float64] = np.concatenate(([0.001], np.arange(1, 100) / 100.0, [0.999]))

#: Regular e_bin grid of the published method: 0, 0.01, ..., 0.80.
E_NODES: NDArray[np.float64] = np.arange(0, 81) / 100.0

Array = Any  # a NumPy or JAX array


class StabilityTable(NamedTuple):
    """Quarles et al. (2020) a_c / a_bin on the published regular grid.

    A NamedTuple, hence a JAX pytree: it can be passed through ``jax.jit`` and
    ``jax.vmap`` as an argument (its ``incl_deg`` leaf is a plain float).

    Attributes
    ----------
    mu_nodes : array, shape (n_mu,)
        Increasing mass-ratio nodes mu = M_B / (M_A + M_B).
    e_nodes : array, shape (n_e,)
        Increasing binary-eccentricity nodes.
    ratio : array, shape (n_mu, n_e)
        a_c / a_bin at the nodes (0 where the node lies outside the data's convex hull).
    incl_deg : float
        Planet inclination of the table, degrees.
    """

    mu_nodes: Array
    e_nodes: Array
    ratio: Array
    incl_deg: float


def build_stability_table(raw: ArrayLike, incl_deg: float) -> StabilityTable:
    """Map scattered (mu, e_bin, a_c/a_bin) rows onto the published regular grid.

    Reproduces ``griddata((mu, e), a, (mu_grid, e_grid), method="linear", fill_value=0)``
    of Quarles et al. (2020): Delaunay-based linear interpolation, 0 outside the convex
    hull of the rows (equal to the notebook's call to ~3e-16 for all four tables). Nodes
    that carry a table row take its value directly (what linear interpolation returns
    there); griddata runs only for the nodes without one, which is hundreds of times
    faster on this degenerate grid.

    Parameters
    ----------
    raw : array_like, shape (n, 3)
        Table rows: mu, e_bin, a_c / a_bin.
    incl_deg : float
        Planet inclination of the table, degrees (recorded, not used in the math).

    Returns
    -------
    StabilityTable
        NumPy arrays on :data:`MU_NODES` x :data:`E_NODES`.

    Raises
    ------
    InputDataError
        If ``raw`` is not an (n, 3) array of finite numbers with at least 3 rows.
    """
    data = np.asarray(raw, dtype=float)
    if data.ndim != 2 or data.shape[1] != 3 or data.shape[0] < 3:
        raise InputDataError(
            f"A Quarles et al. (2020) table must have rows of 3 columns (mu, e_bin, "
            f"a_crit/a_bin); got an array of shape {data.shape}."
        )
    if not np.all(np.isfinite(data)):
        bad = int(np.argmax(~np.all(np.isfinite(data), axis=1)))
        raise InputDataError(
            f"The Quarles et al. (2020) table for inclination {incl_deg} deg has a "
            f"non-finite value in row {bad} ({data[bad].tolist()}); use the published file."
        )
    # Linear interpolation at a data point returns that point's value, so nodes that
    # carry a table row take it directly; griddata (whose point location is very slow on
    # this degenerate, cocircular grid) is run only for the nodes without a row.
    ratio = np.full((MU_NODES.size, E_NODES.size), np.nan)
    i = np.searchsorted(MU_NODES, data[:, 0] - 1e-9)
    j = np.searchsorted(E_NODES, data[:, 1] - 1e-9)
    i_ok, j_ok = np.minimum(i, MU_NODES.size - 1), np.minimum(j, E_NODES.size - 1)
    on_node = (np.abs(MU_NODES[i_ok] - data[:, 0]) < 1e-9) & (np.abs(E_NODES[j_ok] - data[:, 1])
                                                               < 1e-9)
    ratio[i_ok[on_node], j_ok[on_node]] = data[on_node, 2]
    missing = np.isnan(ratio)
    if missing.any():
        mu_g, e_g = np.meshgrid(MU_NODES, E_NODES, indexing="ij")
        ratio[missing] = griddata(
            (data[:, 0], data[:, 1]), data[:, 2], (mu_g[missing], e_g[missing]),
            method="linear", fill_value=0.0,
        )
    return StabilityTable(MU_NODES.copy(), E_NODES.copy(), np.asarray(ratio, float),
                          float(incl_deg))


def blend_tables(lo: StabilityTable, hi: StabilityTable, incl_deg: float) -> StabilityTable:
    """Linear interpolation in inclination between two tables on the same grid.

    Parameters
    ----------
    lo, hi : StabilityTable
        Tables at inclinations ``lo.incl_deg < hi.incl_deg``.
    incl_deg : float
        Target inclination, within [lo.incl_deg, hi.incl_deg].

    Returns
    -------
    StabilityTable
        (1 - w) lo.ratio + w hi.ratio with w = (i - i_lo) / (i_hi - i_lo); nodes where
        either table holds the fill value 0 stay 0.
    """
    i_lo, i_hi = float(lo.incl_deg), float(hi.incl_deg)
    if not (i_lo < i_hi and i_lo <= incl_deg <= i_hi):
        raise InputDataError(
            f"Cannot interpolate to {incl_deg} deg between tables at {i_lo} and {i_hi} deg."
        )
    if not (np.array_equal(lo.mu_nodes, hi.mu_nodes) and np.array_equal(lo.e_nodes, hi.e_nodes)):
        raise InputDataError("The two stability tables are not on the same grid.")
    w = (incl_deg - i_lo) / (i_hi - i_lo)
    z_lo, z_hi = np.asarray(lo.ratio, float), np.asarray(hi.ratio, float)
    ratio = np.where((z_lo > 0) & (z_hi > 0), (1 - w) * z_lo + w * z_hi, 0.0)
    return StabilityTable(np.asarray(lo.mu_nodes), np.asarray(lo.e_nodes), ratio,
                          float(incl_deg))




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


#: Built tables by (sha256 of the file, inclination): the same published table found at
#: another path (the data folder, the cache, the unpacked embedded snapshot) is built once
#: per process (the 45 deg table's griddata alone takes tens of seconds).
_TABLES_BY_CONTENT: dict[tuple[str, int], StabilityTable] = {}


@functools.lru_cache(maxsize=16)
def _table_from_file(path: str, mtime_ns: int, incl_deg: int) -> StabilityTable:
    del mtime_ns  # part of the cache key only
    key = (sha256_of(path), int(incl_deg))
    table = _TABLES_BY_CONTENT.get(key)
    if table is None:
        table = build_stability_table(read_quarles_table(path), incl_deg)
        for arr in table[:3]:
            arr.setflags(write=False)
        _TABLES_BY_CONTENT[key] = table
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
        a_c / a_bin on the published grid (read-only NumPy arrays; cached per file
        content).

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
