"""Fast χ² survival function for integer degrees of freedom (numba), for catalogue p-values.

For k degrees of freedom and y = x/2 the upper regularised incomplete gamma Q(k/2, y) has
closed forms: for even k = 2m, Q = e^{−y} Σ_{j<m} y^j / j!; for odd k = 2m + 1,
Q = erfc(√y) + e^{−y} Σ_{j<m} y^{j+1/2} / Γ(j + 3/2). All terms are positive (no
cancellation); above y = 600 the sum is taken backwards from its largest term in log space, so
tail values down to ~1e-300 keep full relative precision. The marginalised p-value kernel
loops over sources in parallel (``numba.prange``). SciPy's ``chdtrc`` is the reference.
"""

from __future__ import annotations

import math
import threading

import numba
import numpy as np
from numpy.typing import NDArray

_SQRT_PI = math.sqrt(math.pi)
#: The parallel kernels use every core; calls from several Python threads (Dask threaded
#: workers) are serialised, since numba's fallback ``workqueue`` layer is not thread-safe.
_KERNEL_LOCK = threading.Lock()
MAX_DOF = 2000


@numba.njit(cache=False, fastmath=False)
def chi2_sf_int(k: int, x: float) -> float:
    """SF of χ² with integer k ≥ 1 degrees of freedom at x (NaN in, NaN out)."""
    if not x == x:
        return np.nan
    if x <= 0.0:
        return 1.0
    y = 0.5 * x
    odd = k % 2 == 1
    m = (k - 1) // 2 if odd else k // 2
    base = math.erfc(math.sqrt(y)) if odd else 0.0
    if m == 0:
        return base
    if y < 600.0:
        if odd:
            term = math.exp(-y) * 2.0 * math.sqrt(y) / _SQRT_PI
            s = term
            for j in range(1, m):
                term *= y / (j + 0.5)
                s += term
        else:
            term = math.exp(-y)
            s = term
            for j in range(1, m):
                term *= y / j
                s += term
        return base + s
    # large y: backward from the last (largest) term, in log space
    if odd:
        log_last = -y + (m - 0.5) * math.log(y) - math.lgamma(m + 0.5)
        r = 1.0
        acc = 1.0
        for j in range(m - 1, 0, -1):
            r *= (j + 0.5) / y
            acc += r
    else:
        log_last = -y + (m - 1) * math.log(y) - math.lgamma(m)
        r = 1.0
        acc = 1.0
        for j in range(m - 1, 0, -1):
            r *= j / y
            acc += r
    return base + math.exp(log_last) * acc


@numba.njit(parallel=True, cache=False)
def _marginal_kernel(dof, s2, mu, smu, z, out_p, out_err):
    n = dof.size
    nz = z.size
    for i in numba.prange(n):
        k = int(dof[i])
        mean = 0.0
        m2 = 0.0
        for j in range(nz):  # Welford: no cancellation in the spread
            x = dof[i] * s2[i] * math.exp(-2.0 * (mu[i] + smu[i] * z[j]))
            p = chi2_sf_int(k, x)
            d = p - mean
            mean += d / (j + 1)
            m2 += d * (p - mean)
        out_p[i] = mean
        out_err[i] = math.sqrt(max(m2 / nz, 0.0))


@numba.njit(parallel=True, cache=False)
def _sf_kernel(dof, x, out):
    for i in numba.prange(dof.size):
        out[i] = chi2_sf_int(int(dof[i]), x[i])


def chi2_sf(dof: NDArray, x: NDArray) -> NDArray[np.float64]:
    """Vectorised :func:`chi2_sf_int` (1-D float arrays; dof integral in [1, MAX_DOF])."""
    dof = np.ascontiguousarray(dof, np.float64)
    x = np.ascontiguousarray(x, np.float64)
    out = np.empty(dof.size)
    with _KERNEL_LOCK:
        _sf_kernel(dof, x, out)
    return out


def marginal_pvalues(dof: NDArray, s2: NDArray, mu: NDArray, smu: NDArray, z: NDArray
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and std (ddof 0) of SF over the draws ln σ = μ + s_μ z_j (1-D arrays)."""
    args = [np.ascontiguousarray(a, np.float64) for a in (dof, s2, mu, smu, z)]
    p = np.empty(args[0].size)
    err = np.empty(args[0].size)
    with _KERNEL_LOCK:
        _marginal_kernel(*args, p, err)
    return p, err
