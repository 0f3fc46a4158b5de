"""numba backend of the feasibility map: the JAX kernel's physics, parallel over cells.

The formulas are the very functions of :mod:`~vlms_bayes.feasibility.kozai`,
:mod:`~vlms_bayes.feasibility.tides` and :mod:`~vlms_bayes.feasibility.triple_stability`
compiled with ``numba.njit``; the e_max search (same grid, same bisections) and the
bilinear stability lookup (same arithmetic as
:func:`vlms_bayes.feasibility.stability.ac_ratio_jax`) are restated here as scalar loops.
A test holds this backend to the JAX one on the same draws.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from vlms_bayes.feasibility import kozai, migration, radii, spin, tides, triple_stability
from vlms_bayes.feasibility.draws import (
    DRAW_FIELDS,
    PARAM_FIELDS,
    R0_TRACK,
    R1_INFL,
    S0_TRACK,
    n_outputs,
)

# error_model="numpy": float division by zero gives inf/nan as in NumPy and JAX instead of
# a Python exception, which leaves the draw loops free of branches so LLVM vectorises them.
# fastmath stays off: the arithmetic is IEEE, in the written order, as in the JAX kernel.
# No on-disk cache (it would save ~6 s of compilation): numba keys a cached kernel on its own
# file only, so an edit of kozai.py or tides.py, whose formulas the kernels inline, would
# leave a stale kernel in use.
_nj = numba.njit(cache=False, error_model="numpy")
_kl_time = _nj(kozai.kl_timescale_yr)
_eps_oct = _nj(kozai.epsilon_oct)
_eps_gr = _nj(kozai.epsilon_gr)
_eps_tide = _nj(kozai.epsilon_tide)
_eps_rot = _nj(kozai.epsilon_rot)
_eps_rot0 = _nj(kozai.epsilon_rot_host)
_spin0 = _nj(spin.host_spin_per_yr)
_gap_terms = _nj(kozai.kl_gap_terms)
_gap = _nj(kozai.kl_gap_from_terms)
_migrate = _nj(migration.migration_time_evolving_yr)
_march = _nj(migration.march)
_track = _nj(radii.track_at)
_tcirc_q = _nj(tides.circularisation_time_constant_q_yr)
_ma01 = _nj(triple_stability.ma01_stable)


@_nj
def _ln(x: float) -> float:
    return math.log(x)


@_nj
def _idx(x: float) -> int:
    return math.floor(x)


@_nj
def _exp(x: float) -> float:
    return math.exp(x)


#: Rows of the per-draw outcome matrix (as the keys of the JAX ``draw_outcomes``).
_OUT_KEYS = ("t_kl_yr", "eps_oct", "eps_gr", "eps_tide", "e_max", "one_minus_e_max",
             "r_p_au", "a_f_au", "t_tide_yr", "stable_triple", "ac_ratio", "stable_stype",
             "r1_au", "r0_au", "r_dis_au", "eps_rot", "spin0_per_yr")
_N_OUT = len(_OUT_KEYS)
_N_SCAN = 32
_N_BISECT = 50
_P = {k: i for i, k in enumerate(PARAM_FIELDS)}
_I = (_P["m0"], _P["m1"], _P["r0_au"], _P["r1_au"], _P["k2_1"], _P["k2_0"], _P["tide_on"],
      _P["rot_on"], _P["spin1_per_yr"], _P["lag1_yr"], _P["lag0_yr"], _P["tide_model"],
      _P["q_prime_1"], _P["stype_mode"])
(_M0, _M1, _R0, _R1, _K21, _K20, _TIDE, _ROT, _SPIN, _LAG1, _LAG0, _TMODEL, _QP1,
 _STYPE) = _I
_T, _RD, _ALO, _AHI, _OCT = (_P["horizon_yr"], _P["r_dis_au"], _P["a_lo_au"], _P["a_hi_au"],
                             _P["eps_oct_flag"])
_NOBS = _P["n_obs_per_yr"]
_SPIN0_ON = _P["spin0_on"]
#: Rows of the draw matrix: the draws (DRAW_FIELDS), then the draw-only constants of the
#: e_max search (:func:`vlms_bayes.feasibility.kozai.kl_emax_grid`), the bisection factors
#: exp(step / 2^(m+1)) and the scan grid.
_NDR = len(DRAW_FIELDS)
_D = {k: i for i, k in enumerate(DRAW_FIELDS)}
_EOUT, _INCL, _S2W, _A0 = _D["e_out"], _D["incl_rad"], _D["sin2_omega"], _D["a0_au"]
_E0, _COSI = _D["e0"], _D["cos_i"]
_LAG1D, _LAG0D, _SCALE, _TSTART = (_D["lag1_yr"], _D["lag0_yr"], _D["rp_scale"],
                                   _D["t_start_yr"])
_Z0 = _D["spin0_z"]
_J20, _E20, _KK, _X0, _XEND, _STEP = range(_NDR, _NDR + 6)
_Q = _NDR + 6
_XG = _Q + _N_BISECT


@_nj
def _grid_rows(d: np.ndarray) -> np.ndarray:
    """The draws ``d`` (rows :data:`DRAW_FIELDS`) and their draw-only e_max grid, one matrix.

    Restates :func:`vlms_bayes.feasibility.kozai.kl_emax_grid` (same formulas) followed by
    the bisection factors exp(step / 2^(m+1)) (one exponential, then square roots, as
    :func:`~vlms_bayes.feasibility.kozai.kl_emax_solve`); computed per cell, since every
    cell has its own draws.
    """
    n = d.shape[1]
    out = np.empty((_XG + _N_SCAN, n))
    out[:_NDR] = d
    for i in range(n):
        e0, cos_i0 = d[_E0, i], d[_COSI, i]
        e2_0 = e0 * e0
        j2_0 = (1.0 - e0) * (1.0 + e0)
        kk = j2_0**0.5 * cos_i0
        y0 = math.log(max(e2_0, kozai.E2_FLOOR) / j2_0)
        j2_end = min(max(kk * kk, kozai.J_FLOOR * kozai.J_FLOOR), j2_0)
        y_end = max(math.log(max(1.0 - j2_end, kozai.E2_FLOOR) / j2_end), y0)
        step = (y_end - y0) / _N_SCAN
        out[_J20, i], out[_E20, i], out[_KK, i] = j2_0, e2_0, kk
        x0 = math.exp(y0)
        out[_X0, i], out[_XEND, i], out[_STEP, i] = x0, math.exp(y_end), step
        q = math.exp(0.5 * step)
        for m in range(_N_BISECT):
            out[_Q + m, i] = q
            q = math.sqrt(q)
        r = math.exp(step)
        pk = 1.0
        for k in range(_N_SCAN):
            pk = pk * r
            out[_XG + k, i] = x0 * pk
    return out


@_nj
def _emax_batch(dr: np.ndarray, eg: np.ndarray, et: np.ndarray, er: np.ndarray,
                e_max: np.ndarray, ome: np.ndarray) -> None:
    """Restatement of :func:`vlms_bayes.feasibility.kozai.kl_emax_solve` over the draws.

    ``dr`` is the draw matrix (:func:`_draw_matrix`, with the draw-only grid). The draws
    advance in lockstep (scan point by scan point, bisection by bisection) through
    branch-free loops, which LLVM turns into SIMD code (the gap is called directly in the
    loops so that LLVM inlines it; a wrapper around it would stay a call); e_max and
    1 - e_max are written into the output arrays.
    """
    n = eg.size
    lo = dr[_X0].copy()
    found = np.zeros(n)
    j2_0, e2_0 = dr[_J20], dr[_E20]
    t = np.empty((7, n))  # the e-independent factors of the gap, once per draw
    for i in range(n):
        t[0, i], t[1, i], t[2, i], t[3, i], t[4, i], t[5, i], t[6, i] = _gap_terms(
            j2_0[i], e2_0[i], dr[_KK, i], dr[_S2W, i], et[i], er[i])
    for k in range(_N_SCAN):
        xg = dr[_XG + k]
        for i in range(n):
            x = xg[i]
            neg = _gap(1.0 / (1.0 + x), x / (1.0 + x), j2_0[i], e2_0[i], eg[i], t[0, i],
                       t[1, i], t[2, i], t[3, i], t[4, i], t[5, i], t[6, i]) < 0.0
            done = found[i] > 0.5
            lo[i] = lo[i] if (neg or done) else x
            found[i] = 1.0 if (neg or done) else 0.0
    for m in range(_N_BISECT):
        q = dr[_Q + m]
        for i in range(n):
            mid = lo[i] * q[i]
            below = _gap(1.0 / (1.0 + mid), mid / (1.0 + mid), j2_0[i], e2_0[i], eg[i],
                         t[0, i], t[1, i], t[2, i], t[3, i], t[4, i], t[5, i], t[6, i]) < 0.0
            lo[i] = lo[i] if below else mid
    x_end = dr[_XEND]
    for i in range(n):
        x = lo[i] if found[i] > 0.5 else x_end[i]
        e_max[i] = math.sqrt(x / (1.0 + x))
        ome[i] = 1.0 / (1.0 + x) / (1.0 + e_max[i])


@_nj
def _lookup(mu_nodes: np.ndarray, e_nodes: np.ndarray, z: np.ndarray, mu: float,
            e: float) -> float:
    """Bilinear lookup with the arithmetic of ``stability._bilinear``."""
    mu_c = min(max(mu, mu_nodes[0]), mu_nodes[-1])
    e_c = min(max(e, e_nodes[0]), e_nodes[-1])
    i = min(max(np.searchsorted(mu_nodes, mu_c, side="right") - 1, 0), mu_nodes.size - 2)
    j = min(max(np.searchsorted(e_nodes, e_c, side="right") - 1, 0), e_nodes.size - 2)
    tx = (mu_c - mu_nodes[i]) / (mu_nodes[i + 1] - mu_nodes[i])
    ty = (e_c - e_nodes[j]) / (e_nodes[j + 1] - e_nodes[j])
    return (1 - tx) * ((1 - ty) * z[i, j] + ty * z[i, j + 1]) \
        + tx * ((1 - ty) * z[i + 1, j] + ty * z[i + 1, j + 1])


@_nj
def _cell_outcomes(p: np.ndarray, mu_nodes: np.ndarray, e_nodes: np.ndarray, z: np.ndarray,
                   m_out: float, a_out: float, dr: np.ndarray) -> np.ndarray:
    """Per-draw physics of one cell, rows as :data:`_OUT_KEYS` (booleans as 0/1)."""
    m0, m1 = p[_M0], p[_M1]
    n = dr.shape[1]
    out = np.empty((_N_OUT, n))
    eg = np.empty(n)
    et = np.empty(n)
    er = np.empty(n)
    for k in range(n):
        e_out, a0 = dr[_EOUT, k], dr[_A0, k]
        t_kl = _kl_time(m0, m1, m_out, a0, a_out, e_out)
        # radii at the first high-eccentricity phase (as the JAX kernel)
        t1 = dr[_TSTART, k] + t_kl
        r0 = _track(t1, p, R0_TRACK, _ln, _idx)
        r1 = p[_R1] * (1.0 + dr[_SCALE, k] * _track(t1, p, R1_INFL, _ln, _idx))
        out[0, k] = t_kl
        out[1, k] = _eps_oct(m0, m1, a0, a_out, e_out)
        out[12, k], out[13, k] = r1, r0
        out[14, k] = p[_RD] * (r1 / p[_R1])
        eg[k] = _eps_gr(m0, m1, m_out, a0, a_out, e_out)
        et[k] = p[_TIDE] * _eps_tide(m0, m1, m_out, a0, a_out, e_out, r1, p[_K21], r0,
                                     p[_K20])
        # the host's spin at t1 (as the JAX kernel)
        spin0 = _spin0(t1, p, S0_TRACK, dr[_Z0, k], p[_SPIN0_ON], r0, m0, _ln, _idx, _exp)
        er[k] = p[_ROT] * _eps_rot(m0, m1, m_out, a0, a_out, e_out, r1, p[_K21], p[_SPIN]) \
            + _eps_rot0(m0, m1, m_out, a0, a_out, e_out, r0, p[_K20], spin0)
        out[15, k], out[16, k] = er[k], spin0
    e_max = np.empty(n)
    ome = np.empty(n)
    _emax_batch(dr, eg, et, er, e_max, ome)
    for k in range(n):
        e_out, incl, a0 = dr[_EOUT, k], dr[_INCL, k], dr[_A0, k]
        r_p = a0 * ome[k]
        a_f = r_p * (1.0 + e_max[k])
        lag1 = dr[_LAG1D, k]
        if p[_TMODEL] == 0.0:
            t_tide = _migrate(a0, a_f, p[_AHI], eg[k], m1, m0, lag1, dr[_LAG0D, k],
                              dr[_TSTART, k] + out[0, k], p[_R1], dr[_SCALE, k], p, R0_TRACK,
                              R1_INFL, S0_TRACK, dr[_Z0, k], p[_SPIN0_ON], _ln, _idx, _exp,
                              _march)
        else:
            t_tide = _tcirc_q(a_f, m1, m0, out[12, k], 1.5 / (lag1 * p[_NOBS]))
        mu = m_out / (m0 + m_out)
        if p[_STYPE] == 0.0:
            ratio = _lookup(mu_nodes, e_nodes, z, mu, min(e_out, 0.8))
            if e_out > 0.8:
                ratio = ratio * ((1.0 - e_out) / 0.2)
        else:
            ratio = max(0.464 - 0.380 * mu - 0.631 * e_out + 0.586 * mu * e_out
                        + 0.150 * e_out * e_out - 0.198 * mu * e_out * e_out, 0.0)
        out[2, k], out[3, k], out[4, k], out[5, k] = eg[k], et[k], e_max[k], ome[k]
        out[6, k], out[7, k], out[8, k] = r_p, a_f, t_tide
        out[9, k] = 1.0 if _ma01(a0, a_out, m_out / (m0 + m1), e_out, incl) else 0.0
        out[10, k] = ratio
        out[11, k] = 1.0 if a0 < ratio * a_out else 0.0
    return out


@numba.njit(parallel=True, cache=False, error_model="numpy")
def _map(p: np.ndarray, horizons: np.ndarray, r_dis: np.ndarray, r_crit: np.ndarray,
         mu_nodes: np.ndarray, e_nodes: np.ndarray, z: np.ndarray, m_cells: np.ndarray,
         a_cells: np.ndarray, draws: np.ndarray, n_out: int) -> np.ndarray:
    """Counts of each cell; ``draws`` is (DRAW_FIELDS, cells, draws), one set per cell."""
    n_cells = m_cells.size
    nh, nr, nc = horizons.size, r_dis.size, r_crit.size
    out = np.zeros((n_cells, n_out), dtype=np.int32)
    flags = np.zeros((n_cells, 7), dtype=np.bool_)
    for c in numba.prange(n_cells):
        dr = _grid_rows(draws[:, c, :])
        o = _cell_outcomes(p, mu_nodes, e_nodes, z, m_cells[c], a_cells[c], dr)
        for k in range(dr.shape[1]):
            t_kl, eps_oct, r_p, a_f, t_tide = o[0, k], o[1, k], o[6, k], o[7, k], o[8, k]
            grow = o[12, k] / p[_R1]  # the companion's radius then / now (as JAX)
            flags[c, 0] = o[9, k] > 0.5
            flags[c, 1] = o[11, k] > 0.5
            flags[c, 2] = t_kl <= p[_T]
            flags[c, 3] = a_f <= p[_AHI]
            flags[c, 4] = r_p >= p[_RD] * grow
            flags[c, 5] = a_f >= p[_ALO]
            flags[c, 6] = t_tide <= p[_T]
            alive = True
            for q in range(7):
                out[c, q] += flags[c, q]
                alive = alive and flags[c, q]
                out[c, 7 + q] += alive
            base = flags[c, 0] and flags[c, 1] and flags[c, 3] and flags[c, 5]
            off = 14
            for h in range(nh):
                t_ok = t_kl <= horizons[h] and t_tide <= horizons[h]
                for r in range(nr):
                    out[c, off + h * nr + r] += base and t_ok and r_p >= r_dis[r] * grow
            off += nh * nr
            for h in range(nh):
                for r in range(nc):
                    out[c, off + h * nc + r] += t_kl <= horizons[h] and r_p <= r_crit[r]
            out[c, n_out - 1] += alive and eps_oct > p[_OCT]
    return out


def _draw_matrix(draws: dict[str, np.ndarray]) -> np.ndarray:
    """Draws (rows :data:`DRAW_FIELDS`) and the draw-only e_max grid, one matrix."""
    return _grid_rows(np.ascontiguousarray(np.vstack([np.asarray(draws[k], float)
                                                      for k in DRAW_FIELDS])))


def _table_arrays(table: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.ascontiguousarray(np.asarray(a, float)) for a in table[:3])


def map_counts(params: np.ndarray, settings: tuple[np.ndarray, ...], table: Any,
               m_cells: np.ndarray, a_cells: np.ndarray,
               draws: dict[str, np.ndarray]) -> np.ndarray:
    """Count vectors of all cells, shape (n_cells, n_outputs) (see ``montecarlo``).

    ``draws`` holds one set of draws per cell: arrays of shape (n_cells, n_draws).
    """
    h, r, c = (np.ascontiguousarray(np.asarray(s, float)) for s in settings)
    n_out = n_outputs(h.size, r.size, c.size)
    d = np.ascontiguousarray(np.stack([np.asarray(draws[k], float) for k in DRAW_FIELDS]))
    return _map(np.asarray(params, float), h, r, c, *_table_arrays(table),
                np.ascontiguousarray(m_cells, float), np.ascontiguousarray(a_cells, float),
                d, n_out)


def draw_outcomes(params: np.ndarray, table: Any, m_out: float, a_out: float,
                  draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-draw physics of one cell (same keys as the JAX ``draw_outcomes``)."""
    arr = _cell_outcomes(np.asarray(params, float), *_table_arrays(table), float(m_out),
                    float(a_out), _draw_matrix(draws))
    out = dict(zip(_OUT_KEYS, arr, strict=True))
    for k in ("stable_triple", "stable_stype"):
        out[k] = out[k].astype(bool)
    return out
