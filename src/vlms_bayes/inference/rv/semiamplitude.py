"""Semi-amplitude K posteriors from Gaia's RV noise by prior importance sampling.

Spec §5 (Chance et al. 2024, App. C). For a candidate with statistic x = (N−1) s², prior
samples θ_i = (K, P, φ, e, ω) with their own observation times t_n = Δt·u_{n,i} give the
non-centrality λ_i = K_i² · λ1_i, λ1_i = Σ_n (μ(t_n) − μ̄)² for a unit-K Keplerian, and the
weight w_i · ncχ²(x w_i | N−1, λ_i w_i) with w_i = exp(−2 ln σ_i), ln σ_i ~ N(μ, s_μ)
(noise-model uncertainty marginalised). The factor w_i is the Jacobian of x ↦ x w_i: since
x w ~ ncχ²(N−1, λ w), the density of the data x itself is w · f(x w); the reference code and
the spec's §5.2 leave it out, which biases K low when s_μ is large: for simulated
candidates with K < 2σ, including it raises the median K by 0.5–0.7 % at s_μ = 0.05,
3–4 % at 0.1, 33–63 % at 0.3 and 82–108 % at 0.5 (N = 5 and 20; docs/gaia_rv.md).
``jacobian=False`` reproduces the reference's weights. K percentiles (5, 16, 50, 84, 95)
and the effective sample size ESS = (ΣW)²/ΣW² are reported.

Implementation: S prior samples (PCG64 seed 0, spec §5.4 order, ln K sorted) are shared by
all targets. Unit times u are drawn in JAX from a key folded with (N, n), so every target
with the same N sees the same times whatever its batch, bucket or partition. The expensive
part, λ1 (one Kepler solve per prior sample and transit, independent of K), is computed
once per distinct (N, Δt) in a chunk; weights and quantiles are then vmapped over targets.
Transit counts are padded to a few bucket sizes and batch sizes to powers of two, so XLA
compiles a handful of times. :func:`semiamplitude_reference` is the plain NumPy/SciPy
reference for one target.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special
from tqdm.auto import tqdm

from vlms_bayes.inference.rv.kernels import _LN2, _log_ive, kepler_sincos, kepler_solve_np
from vlms_bayes.models.rv_noise.model import eps_to_s2

QUANTILES = (0.05, 0.16, 0.50, 0.84, 0.95)
COLUMNS = ("rv_semiamp_p5", "rv_semiamp_p16", "rv_semiamp_p50", "rv_semiamp_p84",
           "rv_semiamp_p95")
#: Padded transit-count sizes (larger N are rounded up to a multiple of 64).
BUCKETS = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)


@dataclass(frozen=True)
class PriorSamples:
    """Shared prior draws (spec §5.3–5.4): ln K sorted ascending, then ln P, φ, e, ω, z."""

    ln_k: NDArray[np.float64]
    ln_p: NDArray[np.float64]
    phase: NDArray[np.float64]
    ecc: NDArray[np.float64]
    omega: NDArray[np.float64]
    z: NDArray[np.float64]
    seed: int

    @property
    def size(self) -> int:
        """Number of prior samples S."""
        return self.ln_k.size


def draw_prior(n_samples: int = 5000, *, seed: int = 0, k_range_kms: tuple[float, float] = (
        0.05, 500.0), p_range_days: tuple[float, float] = (1.0, 800.0),
        e_max: float = 0.9) -> PriorSamples:
    """Draw the shared prior samples with the reference RNG protocol (PCG64)."""
    rng = np.random.default_rng(seed)
    ln_k = np.sort(rng.uniform(np.log(k_range_kms[0]), np.log(k_range_kms[1]), n_samples))
    ln_p = rng.uniform(np.log(p_range_days[0]), np.log(p_range_days[1]), n_samples)
    phase = rng.uniform(-np.pi, np.pi, n_samples)
    ecc = rng.uniform(0.0, e_max, n_samples)
    omega = rng.uniform(-np.pi, np.pi, n_samples)
    z = rng.standard_normal(n_samples)
    return PriorSamples(ln_k, ln_p, phase, ecc, omega, z, seed)


def bucket_size(n: int) -> int:
    """Padded size for N transits."""
    for b in BUCKETS:
        if n <= b:
            return b
    return int(-(-n // 64) * 64)


def _unit_time_rows(key: jax.Array, n: jax.Array, rows: int, s: int, dtype) -> jax.Array:
    kn = jax.random.fold_in(key, n)
    return jax.vmap(lambda j: jax.random.uniform(jax.random.fold_in(kn, j), (s,), dtype))(
        jnp.arange(rows))


def unit_times(n_transits: int, n_samples: int, *, seed: int = 0, dtype=jnp.float64
               ) -> NDArray:
    """The (N, S) unit observation times used for every target with N transits."""
    key = jax.random.key(seed)
    return np.asarray(_unit_time_rows(key, n_transits, n_transits, n_samples, dtype))


def _lambda1_one(n, dt, key, freq, phase, ecc, cos_w, b_sin_w, e_cos_w, *, rows: int):
    u = _unit_time_rows(key, n, rows, freq.size, freq.dtype)
    mask = (jnp.arange(rows) < n)[:, None]
    mean_anom = u * (dt * freq)[None, :] + phase[None, :]
    sin_e, cos_e = kepler_sincos(mean_anom, ecc[None, :])
    # cos(f + ω) = [(cos E − e) cos ω − √(1 − e²) sin E sin ω] / (1 − e cos E)
    mu = (cos_e * cos_w - e_cos_w - sin_e * b_sin_w) / (1.0 - ecc * cos_e)
    mu = jnp.where(mask, mu, 0.0)
    mbar = mu.sum(axis=0) / n
    return jnp.sum(jnp.where(mask, (mu - mbar) ** 2, 0.0), axis=0)


@partial(jax.jit, static_argnames=("rows",))
def _lambda1_batch(n, dt, key, per, phase, ecc, omega, *, rows: int):
    # per-sample factors, hoisted out of the (key, transit) loops
    freq = 2.0 * np.pi / per
    cos_w = jnp.cos(omega)
    b_sin_w = jnp.sqrt(1.0 - ecc * ecc) * jnp.sin(omega)
    f = partial(_lambda1_one, rows=rows)
    return jax.vmap(f, in_axes=(0, 0, None, None, None, None, None, None, None))(
        n, dt, key, freq, phase, ecc, cos_w, b_sin_w, ecc * cos_w)


def _posterior_one(xstat, dof, mu, smu, ln_lam, sqrt_lam, k, z, q, jacobian):
    # w · ncχ²(x w | dof, λ w) with w = e^{−2a}, a = μ + s_μ z (ln w = −2a is the Jacobian of
    # x ↦ x w; ``jacobian=False`` drops it as the reference code does): the logarithms and
    # square roots of λ = K² λ1 come from the per-key table, so each sample costs one exp
    a = mu + smu * z
    g = jnp.exp(-a)
    ln_x = jnp.log(xstat)
    v = 0.5 * dof - 1.0
    sx, sl = jnp.sqrt(xstat) * g, sqrt_lam * g
    log_z = 0.5 * (ln_x + ln_lam) - 2.0 * a
    ll = (-_LN2 + 0.5 * v * (ln_x - ln_lam) - 0.5 * (sx - sl) ** 2
          + _log_ive(v, sx * sl, log_z))
    if jacobian:
        ll = ll - 2.0 * a
    ll = jnp.where(jnp.isnan(ll), -jnp.inf, ll)
    wt = jnp.exp(ll - jnp.max(ll))
    cum = jnp.cumsum(wt)
    idx = jnp.clip(jnp.searchsorted(cum, q * cum[-1], side="left") - 1, 0, k.size - 1)
    ess = cum[-1] ** 2 / jnp.sum(wt * wt)
    return k[idx], ess


@partial(jax.jit, static_argnames=("jacobian",))
def _posterior_batch(xstat, dof, mu, smu, key_idx, lam1_table, k2, k, z, q, *,
                     jacobian: bool = True):
    lam = k2[None, :] * lam1_table.astype(k2.dtype)
    ln_lam, sqrt_lam = jnp.log(lam), jnp.sqrt(lam)

    def one(xs, d, m, sm, i):
        return _posterior_one(xs, d, m, sm, ln_lam[i], sqrt_lam[i], k, z, q, jacobian)

    return jax.vmap(one)(xstat, dof, mu, smu, key_idx)


def _pow2(n: int, lo: int = 8) -> int:
    return max(lo, 1 << (int(n) - 1).bit_length())


def infer_semiamplitudes(
    eps_kms: ArrayLike, n_transits: ArrayLike, dt_days: ArrayLike, ln_sigma: ArrayLike,
    ln_sigma_err: ArrayLike, *, prior: PriorSamples | None = None, n_samples: int = 5000,
    seed: int = 0, rv_floor_kms: float = 0.11, batch_size: int = 1024,
    kepler_dtype: str = "float64", dt_round_days: float | None = None, progress: bool = False,
    jacobian: bool = True,
) -> dict[str, NDArray[np.float64]]:
    """K percentiles and ESS for many targets (JAX, vmapped, bucketed).

    Runs inside ``jax.enable_x64(True)`` (weights and cumulative sums are float64); the
    process-wide setting is left as it was.

    Parameters
    ----------
    eps_kms, n_transits, dt_days, ln_sigma, ln_sigma_err : array_like
        ``radial_velocity_error``, ``rv_nb_transits``, ``rv_time_duration``,
        ``rv_ln_uncert``, ``rv_ln_uncert_err`` of the targets.
    prior : PriorSamples, optional
        Shared prior draws (default :func:`draw_prior` with ``n_samples`` and ``seed``).
    n_samples, seed : int
        Prior size and seed (the same seed keys the unit times).
    rv_floor_kms : float
        Floor f of the ε formula.
    batch_size : int
        Targets per chunk (bounds memory to about ``batch_size × S`` doubles).
    kepler_dtype : {"float64", "float32"}
        Precision of the Kepler/λ1 stage ([C] used float32).
    dt_round_days : float, optional
        Round Δt to this resolution so that λ1 is shared between targets (an approximation;
        off by default, exact sharing of identical Δt is always done).
    progress : bool
        tqdm bar over chunks.
    jacobian : bool
        Include the Jacobian w = σ⁻² of the data density (default). ``False`` reproduces the
        reference pipeline's weights, which omit it (K biased low when s_lnσ is large).

    Returns
    -------
    dict
        ``rv_semiamp_p5`` … ``rv_semiamp_p95`` (km/s) and ``rv_semiamp_ess``; NaN for
        targets with N < 3, s² ≤ 0 or non-finite inputs.
    """
    with jax.enable_x64(True):
        return _infer_semiamplitudes(
            eps_kms, n_transits, dt_days, ln_sigma, ln_sigma_err, prior=prior,
            n_samples=n_samples, seed=seed, rv_floor_kms=rv_floor_kms, batch_size=batch_size,
            kepler_dtype=kepler_dtype, dt_round_days=dt_round_days, progress=progress,
            jacobian=jacobian)


def _infer_semiamplitudes(
    eps_kms: ArrayLike, n_transits: ArrayLike, dt_days: ArrayLike, ln_sigma: ArrayLike,
    ln_sigma_err: ArrayLike, *, prior: PriorSamples | None, n_samples: int, seed: int,
    rv_floor_kms: float, batch_size: int, kepler_dtype: str, dt_round_days: float | None,
    progress: bool, jacobian: bool,
) -> dict[str, NDArray[np.float64]]:
    """Body of :func:`infer_semiamplitudes`; call it with x64 enabled."""
    prior = prior or draw_prior(n_samples, seed=seed)
    n = np.asarray(n_transits, np.float64)
    eps, dt, mu, smu = (np.asarray(a, np.float64) for a in (eps_kms, dt_days, ln_sigma,
                                                            ln_sigma_err))
    n, eps, dt, mu, smu = np.broadcast_arrays(n, eps, dt, mu, smu)
    s2 = eps_to_s2(eps, n, rv_floor_kms=rv_floor_kms)
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(n) & (n >= 3) & np.isfinite(s2) & (s2 > 0) & np.isfinite(dt) & (dt > 0)
              & np.isfinite(mu) & np.isfinite(smu))
    if dt_round_days:
        dt = np.maximum(np.round(dt / dt_round_days), 1.0) * dt_round_days
    out = {c: np.full(n.shape, np.nan) for c in (*COLUMNS, "rv_semiamp_ess")}
    idx_ok = np.flatnonzero(ok.ravel())
    if idx_ok.size == 0:
        return out
    kdt = jnp.float32 if kepler_dtype == "float32" else jnp.float64
    per = jnp.asarray(np.exp(prior.ln_p), kdt)
    phase, ecc, omega = (jnp.asarray(a, kdt) for a in (prior.phase, prior.ecc, prior.omega))
    kvals = jnp.asarray(np.exp(prior.ln_k))
    k2, zz, qq = kvals**2, jnp.asarray(prior.z), jnp.asarray(QUANTILES)
    key = jax.random.key(prior.seed)
    nf, dtf, xf = n.ravel(), dt.ravel(), ((n - 1.0) * s2).ravel()
    muf, smuf = mu.ravel(), smu.ravel()
    # sort by N so that chunks share buckets and (N, Δt) keys
    order = idx_ok[np.lexsort((dtf[idx_ok], nf[idx_ok]))]
    chunks = range(0, order.size, batch_size)
    if progress:
        chunks = tqdm(chunks, desc="K inference", unit="chunk")
    res = np.full((nf.size, len(QUANTILES)), np.nan)
    ess = np.full(nf.size, np.nan)
    max_elems = 1 << 23
    for start in chunks:
        sel = order[start:start + batch_size]
        keys, inv = np.unique(np.column_stack([nf[sel], dtf[sel]]), axis=0, return_inverse=True)
        lam1 = np.empty((keys.shape[0], prior.size))
        kb_sizes = np.array([bucket_size(int(v)) for v in keys[:, 0]])
        for rows in np.unique(kb_sizes):
            kidx = np.flatnonzero(kb_sizes == rows)
            kb = max(1, 1 << (int(max_elems // (int(rows) * prior.size)).bit_length() - 1))
            for s0 in range(0, kidx.size, kb):
                part = kidx[s0:s0 + kb]
                pad = min(_pow2(part.size, 1), kb)
                nn = np.full(pad, keys[part[0], 0])
                dd = np.full(pad, keys[part[0], 1])
                nn[:part.size], dd[:part.size] = keys[part, 0], keys[part, 1]
                lam1[part] = np.asarray(_lambda1_batch(
                    jnp.asarray(nn.astype(np.int32)), jnp.asarray(dd, kdt), key, per, phase,
                    ecc, omega, rows=int(rows)))[:part.size]
        pad = _pow2(sel.size)
        fill = np.concatenate([np.arange(sel.size), np.zeros(pad - sel.size, int)])
        src = sel[fill]
        kpad = _pow2(lam1.shape[0], 1)  # pad the key table: few distinct shapes to compile
        table = np.zeros((kpad, prior.size))
        table[:lam1.shape[0]] = lam1
        kq, e = _posterior_batch(jnp.asarray(xf[src]), jnp.asarray(nf[src] - 1.0),
                                 jnp.asarray(muf[src]), jnp.asarray(smuf[src]),
                                 jnp.asarray(inv.ravel()[fill]), jnp.asarray(table), k2, kvals,
                                 zz, qq, jacobian=bool(jacobian))
        res[sel] = np.asarray(kq)[:sel.size]
        ess[sel] = np.asarray(e)[:sel.size]
    for j, c in enumerate(COLUMNS):
        out[c] = res[:, j].reshape(n.shape)
    out["rv_semiamp_ess"] = ess.reshape(n.shape)
    return out


def semiamplitude_reference(eps_kms: float, n_transits: int, dt_days: float, ln_sigma: float,
                            ln_sigma_err: float, *, prior: PriorSamples, u: NDArray,
                            rv_floor_kms: float = 0.11, jacobian: bool = True
                            ) -> tuple[NDArray, float]:
    """Plain NumPy/SciPy K percentiles and ESS of one target (the reference of the JAX path).

    Parameters
    ----------
    eps_kms, n_transits, dt_days, ln_sigma, ln_sigma_err : float
        The target.
    prior : PriorSamples
        Shared prior draws.
    u : numpy.ndarray, shape (N, S)
        Unit observation times (see :func:`unit_times`).
    rv_floor_kms : float
        Floor of the ε formula.
    jacobian : bool
        Include the Jacobian w = σ⁻² (default); ``False``: the reference pipeline's weights.

    Returns
    -------
    percentiles : numpy.ndarray, shape (5,)
    ess : float
    """
    x = (n_transits - 1.0) * eps_to_s2(eps_kms, n_transits, rv_floor_kms=rv_floor_kms)
    t = dt_days * u
    per, e = np.exp(prior.ln_p), prior.ecc
    big_e = kepler_solve_np(2 * np.pi * t / per + prior.phase, np.broadcast_to(e, t.shape))
    f = 2.0 * np.arctan2(np.sqrt(1 + e) * np.sin(big_e / 2), np.sqrt(1 - e) * np.cos(big_e / 2))
    mu = np.cos(f + prior.omega)
    lam = np.exp(2 * prior.ln_k) * np.sum((mu - mu.mean(axis=0)) ** 2, axis=0)
    logp = log_weights_np(x, n_transits - 1.0, lam, ln_sigma + ln_sigma_err * prior.z,
                          jacobian=jacobian)
    wt = np.exp(logp - logp.max())
    cum = np.cumsum(wt)
    idx = np.clip(np.searchsorted(cum, np.asarray(QUANTILES) * cum[-1], side="left") - 1, 0,
                  prior.size - 1)
    return np.exp(prior.ln_k)[idx], float(cum[-1] ** 2 / np.sum(wt**2))


def log_weights_np(xstat: ArrayLike, dof: float, lam: ArrayLike, ln_sigma: ArrayLike, *,
                   jacobian: bool = True) -> NDArray[np.float64]:
    """Log density ln p(x | λ, σ) of the statistic x = (N−1) s² (NumPy/SciPy reference).

    x/σ² follows ncχ²(N−1, λ/σ²), so p(x | λ, σ) = w · f(x w; N−1, λ w) with w = σ⁻².

    Parameters
    ----------
    xstat : array_like
        The statistic x (km²/s²).
    dof : float
        N − 1.
    lam : array_like
        Non-centrality λ = K² λ1 (km²/s²).
    ln_sigma : array_like
        ln σ (km/s).
    jacobian : bool
        Include ln w (default); ``False`` gives the reference pipeline's form.

    Returns
    -------
    numpy.ndarray
        Log densities (−inf where SciPy's ``ive`` underflows).
    """
    w = np.exp(-2.0 * np.asarray(ln_sigma, np.float64))
    xx, ll = np.asarray(xstat, np.float64) * w, np.asarray(lam, np.float64) * w
    v = dof / 2 - 1
    with np.errstate(divide="ignore"):
        logp = (-np.log(2) + v / 2 * np.log(xx / ll) - 0.5 * (np.sqrt(xx) - np.sqrt(ll)) ** 2
                + np.log(special.ive(v, np.sqrt(ll * xx))))
    return logp + np.log(w) if jacobian else logp
