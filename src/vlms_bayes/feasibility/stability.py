"""Stability limits of S-type (circumstellar) companions in binaries: pure math.

Two prescriptions for the critical semi-major axis a_c of a body orbiting star A of a
binary (A, B) with mass ratio mu = M_B / (M_A + M_B) and eccentricity e_bin:

* **Quarles et al. (2020, AJ 159, 80)**: tables of a_c / a_bin from full three-body
  integrations for planet inclinations 0, 30, 45 and 180 degrees. The published recipe
  maps the scattered table rows onto a regular grid with linear scattered-data
  interpolation (``scipy.interpolate.griddata``, fill value 0 outside the convex hull)
  and then interpolates bilinearly on that grid (the removed ``scipy.interpolate.interp2d``
  with ``kind="linear"``). :func:`build_stability_table` rebuilds the grid exactly;
  :func:`ac_ratio` (NumPy, validated) and :func:`ac_ratio_jax` (JAX, traceable) do the
  bilinear lookup with the same arithmetic.
* **Holman & Wiegert (1999, AJ 117, 621)**: least-squares fits for S-type and P-type
  (circumbinary) orbits, valid for 0.1 <= mu <= 0.9, 0 <= e_bin <= 0.8 (S-type) and
  0.1 <= mu <= 0.5, 0 <= e_bin <= 0.7 (P-type). The fit functions are plain polynomials
  that accept NumPy or JAX arrays; :func:`check_hw99_domain` states the range of validity.

Everything here is a pure function of arrays; the table (:class:`StabilityTable`, its
published grid and :func:`build_stability_table`) and file reading live in
:mod:`vlms_bayes.data_io.quarles` and are re-exported here; inputs in physical units in
:mod:`vlms_bayes.feasibility.stability_limits`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vlms_bayes.data_io.quarles import (  # the table and its grid; re-exported here
    E_NODES,
    MU_NODES,
    TABULATED_INCLINATIONS_DEG,
    StabilityTable,
    blend_tables,
    build_stability_table,
)
from vlms_bayes.errors import InputDataError

__all__ = [
    "E_NODES",
    "HW99_PTYPE_RANGE",
    "HW99_STYPE_RANGE",
    "MU_NODES",
    "TABULATED_INCLINATIONS_DEG",
    "StabilityTable",
    "ac_ratio",
    "ac_ratio_jax",
    "blend_tables",
    "build_stability_table",
    "check_hw99_domain",
    "check_quarles_domain",
    "check_table_grid",
    "holman_wiegert_ptype",
    "holman_wiegert_stype",
    "stability_curves",
]

Array = Any  # a NumPy or JAX array

#: Range of validity of the Holman & Wiegert (1999) S-type fit: (mu_min, mu_max, e_max).
HW99_STYPE_RANGE: tuple[float, float, float] = (0.1, 0.9, 0.8)

#: Range of validity of the Holman & Wiegert (1999) P-type fit: (mu_min, mu_max, e_max).
HW99_PTYPE_RANGE: tuple[float, float, float] = (0.1, 0.5, 0.7)

def _cell_index(nodes: Array, x: Array, xp: Any) -> Array:
    """Lower cell index of ``x`` (already clamped) in increasing ``nodes``, in O(1).

    A guess from uniform spacing between the end nodes, corrected by one cell each way:
    exact when every node lies within one uniform cell of its uniform position (true of
    the published grids, checked by :func:`check_table_grid`). Same arithmetic for NumPy
    and JAX, hence the same cell for the same input.
    """
    n = nodes.shape[0]
    scale = (n - 1) / (nodes[-1] - nodes[0])
    itype = np.intp if xp is np else xp.int32
    g = xp.clip(((x - nodes[0]) * scale).astype(itype), 0, n - 2)
    g = g - ((x < nodes[g]) & (g > 0))
    return g + ((x >= nodes[g + 1]) & (g < n - 2))


def check_table_grid(table: StabilityTable) -> None:
    """Check that a table's grid suits the O(1) cell search of the lookups.

    Raises
    ------
    InputDataError
        If the nodes are not strictly increasing, the shapes disagree, or a node lies a
        whole uniform cell or more away from its uniform position.
    """
    for name, nodes, axis in (("mu", table.mu_nodes, 0), ("e_bin", table.e_nodes, 1)):
        nd = np.asarray(nodes, float)
        if nd.ndim != 1 or nd.size < 2 or np.asarray(table.ratio).shape[axis] != nd.size:
            raise InputDataError(
                f"The {name} nodes of the stability table do not match its ratio array "
                f"(shape {np.shape(table.ratio)})."
            )
        if not np.all(np.diff(nd) > 0):
            raise InputDataError(f"The {name} nodes of the stability table are not increasing.")
        uniform = np.linspace(nd[0], nd[-1], nd.size)
        if np.max(np.abs(nd - uniform)) >= 0.999 * (nd[-1] - nd[0]) / (nd.size - 1):
            raise InputDataError(
                f"The {name} nodes of the stability table are too far from uniform spacing "
                "for the lookup; resample the table onto a near-uniform grid."
            )


def _locate(table: StabilityTable, mu: Array, e_bin: Array, xp: Any) -> tuple[Array, ...]:
    """Cell indices (i, j) and fractional positions (tx, ty) of clamped (mu, e_bin)."""
    mu_nodes, e_nodes = table.mu_nodes, table.e_nodes
    mu_c = xp.clip(mu, mu_nodes[0], mu_nodes[-1])
    e_c = xp.clip(e_bin, e_nodes[0], e_nodes[-1])
    i = _cell_index(mu_nodes, mu_c, xp)
    j = _cell_index(e_nodes, e_c, xp)
    tx = (mu_c - mu_nodes[i]) / (mu_nodes[i + 1] - mu_nodes[i])
    ty = (e_c - e_nodes[j]) / (e_nodes[j + 1] - e_nodes[j])
    return i, j, tx, ty


def _bilinear(table: StabilityTable, mu: Array, e_bin: Array, xp: Any) -> Array:
    """Bilinear interpolation on the grid; identical arithmetic for NumPy and JAX."""
    i, j, tx, ty = _locate(table, mu, e_bin, xp)
    n_e = table.e_nodes.shape[0]
    z = table.ratio.reshape(-1)
    k = i * n_e + j
    z00 = z[k]
    z01 = z[k + 1]
    lo = z00 + ty * (z01 - z00)  # along e_bin at the lower mu node
    k = k + n_e
    z10 = z[k]
    z11 = z[k + 1]
    hi = z10 + ty * (z11 - z10)  # along e_bin at the upper mu node
    return lo + tx * (hi - lo)


def _count(bad: NDArray[np.bool_]) -> str:
    n = int(bad.sum())
    return f" ({n} of {bad.size} values)" if bad.size > 1 else ""


def check_quarles_domain(mu: ArrayLike, e_bin: ArrayLike) -> tuple[NDArray, NDArray]:
    """Validate (mu, e_bin) for a Quarles et al. (2020) lookup and broadcast them.

    Valid: 0 < mu < 1 and 0 <= e_bin <= 0.8, finite. mu below 0.001 or above 0.999 (the
    outermost tabulated nodes) takes the value at the nearest node, as the published
    ``interp2d`` lookup did.

    Returns
    -------
    mu, e_bin : numpy.ndarray
        Broadcast float arrays.

    Raises
    ------
    InputDataError
        Naming the first offending value and the valid range.
    """
    mu_a, e_a = np.broadcast_arrays(np.asarray(mu, float), np.asarray(e_bin, float))
    bad_mu = ~(np.isfinite(mu_a) & (mu_a > 0) & (mu_a < 1))
    if bad_mu.any():
        v = float(mu_a[bad_mu].flat[0])
        raise InputDataError(
            f"Mass ratio mu = M_B/(M_A+M_B) = {v!r} is outside the valid range 0 < mu < 1 "
            f"{_count(bad_mu)}; check the masses (both must be positive) or "
            "the mass quotient q = M_B/M_A > 0."
        )
    bad_e = ~(np.isfinite(e_a) & (e_a >= 0) & (e_a <= E_NODES[-1]))
    if bad_e.any():
        v = float(e_a[bad_e].flat[0])
        raise InputDataError(
            f"Binary eccentricity e_bin = {v!r} is outside the range of the Quarles et al. "
            f"(2020) tables, 0 <= e_bin <= 0.8{_count(bad_e)}; the "
            "stability limit is not tabulated there."
        )
    return mu_a, e_a


def ac_ratio(table: StabilityTable, mu: ArrayLike, e_bin: ArrayLike) -> NDArray[np.float64]:
    """Critical semi-major axis a_c / a_bin from a Quarles et al. (2020) table (NumPy).

    Bilinear interpolation on the regular grid, vectorised over broadcastable ``mu`` and
    ``e_bin``; equal to the published ``interp2d(kind="linear")`` lookup.

    Parameters
    ----------
    table : StabilityTable
        From :func:`build_stability_table` or :func:`load_stability_table`.
    mu : array_like
        Mass ratio M_B / (M_A + M_B) of the binary (star B perturbs the orbit around A),
        0 < mu < 1.
    e_bin : array_like
        Binary eccentricity, 0 <= e_bin <= 0.8.

    Returns
    -------
    numpy.ndarray
        a_c / a_bin, with the broadcast shape of the inputs.

    Raises
    ------
    InputDataError
        For NaN or out-of-domain inputs, or a lookup touching a grid node outside the
        table's convex hull (where the published grid holds the fill value 0).
    """
    mu_a, e_a = check_quarles_domain(mu, e_bin)
    tab = StabilityTable(*(np.asarray(a, float) for a in table[:3]), table.incl_deg)
    check_table_grid(tab)
    out = _bilinear(tab, mu_a, e_a, np)
    z = tab.ratio
    hull = np.ones(out.shape, dtype=bool)
    if not np.all(z > 0):  # some nodes hold the fill value: check the corners used
        i, j, tx, ty = _locate(tab, mu_a, e_a, np)
        for di, dj, w in ((0, 0, (1 - tx) * (1 - ty)), (1, 0, tx * (1 - ty)),
                          (0, 1, (1 - tx) * ty), (1, 1, tx * ty)):
            hull &= (w == 0) | (z[i + di, j + dj] > 0)
    if not np.all(hull):
        k = np.flatnonzero(~hull.ravel())[0]
        raise InputDataError(
            f"(mu, e_bin) = ({mu_a.ravel()[k]!r}, {e_a.ravel()[k]!r}) falls next to a grid "
            f"node outside the data of the {table.incl_deg:g} deg table, where the published "
            "grid holds a fill value of 0, not a stability limit."
        )
    return np.asarray(out, dtype=float)


def ac_ratio_jax(table: StabilityTable, mu: Array, e_bin: Array) -> Array:
    """JAX version of :func:`ac_ratio`: traceable under ``jit``/``vmap``, no validation.

    Inputs are clamped to the tabulated domain (mu to [0.001, 0.999], e_bin to
    [0, 0.8]); NaN propagates. The grid is assumed to pass :func:`check_table_grid` (all
    tables from :func:`build_stability_table` do). Inside the domain the numbers equal
    :func:`ac_ratio` (to the floating-point precision in force: float32 unless
    ``jax_enable_x64`` is set).

    Parameters
    ----------
    table : StabilityTable
        Table whose arrays may be NumPy or JAX arrays (a pytree argument under ``jit``).
    mu, e_bin : jax.Array or array_like
        Mass ratio and binary eccentricity (broadcastable).

    Returns
    -------
    jax.Array
        a_c / a_bin.
    """
    import jax.numpy as jnp  # heavy: JAX

    tab = StabilityTable(
        jnp.asarray(table.mu_nodes), jnp.asarray(table.e_nodes), jnp.asarray(table.ratio),
        table.incl_deg,
    )
    mu_j, e_j = jnp.broadcast_arrays(jnp.asarray(mu), jnp.asarray(e_bin))
    return _bilinear(tab, mu_j, e_j, jnp)


def holman_wiegert_stype(mu: Array, e_bin: Array) -> Array:
    """Holman & Wiegert (1999) S-type critical semi-major axis a_c / a_bin (their eq. 1).

    a_c/a_bin = 0.464 - 0.380 mu - 0.631 e + 0.586 mu e + 0.150 e^2 - 0.198 mu e^2,
    for a test particle on an initially circular, prograde, coplanar orbit around star A,
    mu = M_B / (M_A + M_B). Valid for 0.1 <= mu <= 0.9 and 0 <= e_bin <= 0.8 (see
    :func:`check_hw99_domain`). Plain array arithmetic: works on NumPy and JAX arrays.
    """
    e = e_bin
    return (0.464 - 0.380 * mu - 0.631 * e + 0.586 * mu * e + 0.150 * e * e
            - 0.198 * mu * e * e)


def holman_wiegert_ptype(mu: Array, e_bin: Array) -> Array:
    """Holman & Wiegert (1999) P-type (circumbinary) critical a_c / a_bin (their eq. 3).

    a_c/a_bin = 1.60 + 5.10 e - 2.22 e^2 + 4.12 mu - 4.27 e mu - 5.09 mu^2 + 4.61 e^2 mu^2;
    orbits *outside* a_c are stable. Valid for 0.1 <= mu <= 0.5 and 0 <= e_bin <= 0.7.
    Plain array arithmetic: works on NumPy and JAX arrays.
    """
    e = e_bin
    return (1.60 + 5.10 * e - 2.22 * e * e + 4.12 * mu - 4.27 * e * mu - 5.09 * mu * mu
            + 4.61 * e * e * mu * mu)


def check_hw99_domain(
    mu: ArrayLike, e_bin: ArrayLike, *, kind: Literal["S", "P"] = "S"
) -> NDArray[np.bool_]:
    """Whether (mu, e_bin) lies in the Holman & Wiegert (1999) fit's range of validity.

    Parameters
    ----------
    mu, e_bin : array_like
        Mass ratio and binary eccentricity.
    kind : {"S", "P"}
        S-type (circumstellar) or P-type (circumbinary) fit.

    Returns
    -------
    numpy.ndarray of bool
        True where the fit was calibrated (:data:`HW99_STYPE_RANGE` /
        :data:`HW99_PTYPE_RANGE`).
    """
    if kind not in ("S", "P"):
        raise InputDataError(f"kind must be 'S' or 'P', not {kind!r}.")
    lo, hi, e_max = HW99_STYPE_RANGE if kind == "S" else HW99_PTYPE_RANGE
    mu_a, e_a = np.broadcast_arrays(np.asarray(mu, float), np.asarray(e_bin, float))
    return (mu_a >= lo) & (mu_a <= hi) & (e_a >= 0) & (e_a <= e_max)


def stability_curves(
    tables: Any,
    *,
    mu_values: ArrayLike = (0.1, 0.3, 0.5, 0.7, 0.9),
    e_bin: ArrayLike | None = None,
) -> dict[str, Any]:
    """a_c / a_bin against e_bin at fixed mu, by Quarles et al. and Holman & Wiegert.

    Parameters
    ----------
    tables : mapping of inclination -> StabilityTable
        Tables to evaluate.
    mu_values : array_like
        Mass ratios of the curves.
    e_bin : array_like, optional
        Eccentricities (default: 161 points over [0, 0.8]).

    Returns
    -------
    dict
        ``e_bin`` (n_e,), ``mu`` (n_mu,), ``quarles`` {incl: (n_mu, n_e)}, ``hw99``
        (n_mu, n_e) and ``hw99_valid`` (n_mu, n_e) bool.
    """
    e = np.linspace(0.0, 0.8, 161) if e_bin is None else np.asarray(e_bin, float)
    mu = np.asarray(mu_values, float)
    mu_g, e_g = np.meshgrid(mu, e, indexing="ij")
    return {
        "e_bin": e,
        "mu": mu,
        "quarles": {incl: ac_ratio(t, mu_g, e_g) for incl, t in tables.items()},
        "hw99": np.asarray(holman_wiegert_stype(mu_g, e_g), float),
        "hw99_valid": check_hw99_domain(mu_g, e_g, kind="S"),
    }
