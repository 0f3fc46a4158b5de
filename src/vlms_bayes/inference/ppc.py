"""Posterior predictive checks of the fitted populations, per discovery method.

What is replicated
------------------
For each of ``n_draws`` posterior draws θ_s (a seeded subsample) and each observed object
i, found by method m(i) around a host of mass M_i, one replicate ỹ_i^s is drawn from the
distribution of what that method would *detect* around that host if the populations
were θ_s, observed as the model observes object i:

1. true (log q, log a) from the population mixture with the intrinsic weights w_s
   (:func:`vlms_bayes.models.likelihood.log_weights`), a population label k with it (a
   power-law binary-like population, ``gamma_q`` in the draws: log q = ln U / λ with U
   uniform on (0, 1], log a normal);
2. kept with probability p_det,m(log q, log a; M_i)
   (:meth:`vlms_bayes.models.selection.SelectionModel.p_det`, 0 outside the selection
   model's quadrature box, as in the fit's normalisation). The first kept candidate of
   an i.i.d. stream is taken (rejection sampling), so the replicate follows
   p_det · p(x | θ_s) / ξ exactly, whatever the batch sizes. Radial velocity is decided at
   the candidate's own inclination (K sin i, ``rv_at_inclination``; a survey sees
   K sin i) and that sin i is the one its m sin i is observed with. Without a selection
   model (a naive fit) and for methods without a selection function, p_det ≡ 1;
3. observed: log q + log10 sin i for minimum masses (cos i uniform), log a + log10 sin φ
   for projected separations (cos φ uniform), Gaussian noise with the object's σ(log q)
   and σ(log a); for objects whose e is measured, e ~ Beta(α_k, β_k) plus Gaussian noise
   with the object's σ(e) (not clipped to [0, 1): the model's measurement term).
   Eccentricity limits and unknown e are not replicated.

Discrepancies and p-values
--------------------------
Per method and per dimension (log q, log a, e) the observed values y of the method's
objects are compared, draw by draw, with their replicate ỹ^s:

* the mean and the standard deviation, two-sided: p = 2 min(P(T(ỹ) ≥ T(y)), P(T(ỹ) ≤ T(y)))
  (capped at 1);
* the Kolmogorov–Smirnov distance D to the pooled predictive distribution of the method
  (all replicates of all draws): p = P(D(ỹ^s) ≥ D(y)), one-sided (a large distance is
  a misfit);
* LOO-PIT (:func:`arviz_stats.loo_pit`, PSIS weights from each object's marginal
  log-likelihood in the subsampled draws, including the selection normalisation of a
  selection-aware fit): P(ỹ_i ≤ y_i | y_−i) for each object, which a calibrated model
  makes uniform; the method's PIT values are compared with U(0, 1) by a KS test. The
  model's likelihood takes p_det constant over each object's errors and, for RV, averaged
  over the inclination (docs/selection.md), so the LOO weights are those of that
  approximation, while the replicates follow the selection exactly.

Verdict
-------
A method with fewer than :data:`~vlms_bayes.inference.ppc_report.MIN_OBJECTS` objects
(or a dimension with fewer values) is "too few to judge". Otherwise it *fails* when any
of its p-values falls below α / n_tests (Bonferroni over that method's tests, α = 0.05 by
default), else it passes.
A method whose replicates the model does not detect within ``max_candidates`` candidates
in more than 5% of the draws fails too (it predicts that the method finds nothing there).
A replicate whose detected fraction the fit itself puts below 1/``max_candidates``
(Σ_k w_k ξ_g,k of the object's normalisation group) is counted as undetected without
drawing, and at most ``max_mean_candidates`` candidates per replicate on average are
drawn per method (once one object of a draw is undetected, the draw's other objects of
that method are not drawn further: the check discards that draw's replicates). A
selection-aware fit may put a method's detected fraction at 10⁻¹² (it is conditional on
the detections), and drawing 2²⁰ candidates through the imaging p_det (~10 µs each) for
each of thousands of replicates took hours. Notes in the result say when either happened.
Posterior predictive p-values are conservative (under the true model they concentrate
toward 1/2 rather than being uniform), so the per-method false-alarm rate is at most α;
across M methods at most M α. With draws at the truth (no posterior spread, the least
conservative case) 7 of 118 method checks failed over 30 simulated catalogues (6%;
slow tier of tests/inference/test_ppc.py). A two-sided p-value from S draws is 0 or at least
2/S, so S ≥ 2 n_tests / α (500 draws for 12 tests at α = 0.05) keeps the threshold above
that step; with fewer draws a test fails only when no replicate is as extreme (a note
says so).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.membership import object_log_terms, pointwise_loglik
from vlms_bayes.inference.ppc_report import DIMENSIONS, MIN_OBJECTS, STATISTICS
from vlms_bayes.models.data import E_MEASURED, ModelData
from vlms_bayes.models.likelihood import log_weights, powerlaw_lambda
from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.selection_norm import object_selection_logterms, selection_terms

#: Default number of posterior draws replicated.
N_DRAWS: int = 500
#: Default host mass (Msun) of a method none of whose objects has one.
_DEFAULT_HOST_MSUN: float = 0.15
_POP_KEYS = ("mu_logq", "mu_loga", "sigma_logq", "sigma_loga", "rho", "e_alpha", "e_beta")


@dataclass(frozen=True)
class Replicates:
    """Replicated observations of every object, shape (S, N) each (NaN: not replicated).

    Attributes
    ----------
    logq, loga, e : numpy.ndarray
        Observed-as-the-model-observes replicates (``e`` only for measured e).
    true_logq, true_loga : numpy.ndarray
        The true values behind them.
    population : numpy.ndarray of int
        Population label of each replicate.
    n_candidates : numpy.ndarray of int
        Candidates drawn until one was detected (its mean estimates 1/ξ).
    draw_index : numpy.ndarray of int
        Which of the given draws each row replicates, shape (S,).
    unsampled : dict
        Per method, (pairs skipped because the fit predicts a detected fraction below
        1/max_candidates, pairs stopped by the total candidate budget); methods with
        neither are absent.
    """

    logq: NDArray[np.float64]
    loga: NDArray[np.float64]
    e: NDArray[np.float64]
    true_logq: NDArray[np.float64]
    true_loga: NDArray[np.float64]
    population: NDArray[np.int64]
    n_candidates: NDArray[np.int64]
    draw_index: NDArray[np.int64]
    unsampled: dict[str, tuple[int, int]] = field(default_factory=dict)


def _hosts(data: ModelData) -> NDArray[np.float64]:
    """Each object's host mass; missing ones take the median host of their method."""
    methods = np.asarray(data.methods if data.methods else [""] * data.n, dtype=object)
    m = (np.asarray(data.m_star_msun, float) if len(data.m_star_msun) == data.n
         else np.full(data.n, np.nan))
    out = m.copy()
    for meth in set(methods.tolist()):
        sel = methods == meth
        ok = sel & np.isfinite(m) & (m > 0)
        fill = float(np.median(m[ok])) if ok.any() else _DEFAULT_HOST_MSUN
        out[sel & ~(np.isfinite(m) & (m > 0))] = fill
    return out


def _p_det(selection: SelectionModel | None, method: str, logq: NDArray[np.float64],
           loga: NDArray[np.float64], host: NDArray[np.float64], sin_i: NDArray[np.float64],
           rv_at_inclination: bool, host_mag: NDArray[np.float64] | None = None,
           ) -> NDArray[np.float64]:
    """p_det of candidates (P, B) of one method around hosts (P, 1); 0 outside the box.

    ``host_mag`` (P, 1): the hosts' magnitudes, for methods whose p_det uses one (radial
    velocity's threshold; NaN or None: the reference magnitude), as the fit's
    normalisation does.
    """
    if selection is None or selection.kind(method) is None:
        return np.ones(logq.shape)
    use_i = rv_at_inclination and selection.kind(method) == "rv"
    p = selection.p_det(method, logq, loga, m_star_msun=host,
                        sin_i=sin_i if use_i else None, host_mag=host_mag)
    (q0, q1), (a0, a1) = selection.logq_range, selection.loga_range
    inside = (logq >= q0) & (logq <= q1) & (loga >= a0) & (loga <= a1)
    return np.where(inside, p, 0.0)


def sample_detected_replicates(
    draws: dict[str, NDArray[np.float64]],
    *,
    method: str,
    host_msun: NDArray[np.float64],
    draw_index: NDArray[np.int64],
    selection: SelectionModel | None,
    rng: np.random.Generator,
    rv_at_inclination: bool = True,
    first_batch: int = 64,
    max_candidates: int = 2**20,
    max_chunk: int = 2**21,
    log_accept: NDArray[np.float64] | None = None,
    max_mean_candidates: int = 2**13,
    prune_draws: bool = False,
    host_mag: NDArray[np.float64] | None = None,
) -> dict[str, NDArray[Any]]:
    """True values of detected companions, one per (draw, host) pair, by rejection.

    Parameters
    ----------
    draws : dict
        Population parameters, arrays (S, K) (:func:`~vlms_bayes.inference.membership.
        draws_from_posterior`).
    method : str
        The discovery method (its p_det).
    host_msun, draw_index : numpy.ndarray, shape (P,)
        Host mass and posterior draw of each pair.
    selection : SelectionModel or None
        Detection probabilities (None: every candidate is detected).
    rng : numpy.random.Generator
        Randomness.
    rv_at_inclination : bool
        Radial velocity detects at the candidate's own sin i (else inclination-averaged).
    first_batch, max_candidates, max_chunk : int
        Candidates per pair in the first round (each later round draws 4× more), the
        most per pair before giving up, and the most drawn at once.
    log_accept : numpy.ndarray, shape (P,), optional
        Each pair's predicted detected fraction, log Σ_k w_k ξ_k (the fit's
        normalisation, :func:`~vlms_bayes.models.selection_norm.object_selection_logterms`).
        A pair below 1/``max_candidates`` is not sampled: it would need more candidates
        than allowed on average (10⁶ candidates of a slow p_det take seconds per pair, and
        a model that puts a method's detected fraction at 10⁻¹² would otherwise draw
        ``max_candidates`` for every pair), so it counts as undetected at once.
    max_mean_candidates : int
        The most candidates drawn in all, per pair: max(``max_candidates``,
        ``max_mean_candidates`` × P). The pairs still undetected when a round would pass
        it stop there, undetected (``n_stopped``). Bounds the time of a call; the real
        sample's fits need 3–820 candidates per detection on average (a round can
        overshoot that by a few times).
    prune_draws : bool
        Stop drawing for every pair of a draw once one of its pairs is undetected
        (skipped or out of candidates): a check that discards the draw's replicates
        when any is missing (:func:`posterior_predictive_check`) needs no more of them.
    host_mag : numpy.ndarray, shape (P,), optional
        Each pair's host magnitude (the band of
        :data:`~vlms_bayes.models.selection.MAG_KINDS`: V for radial velocity, whose
        threshold scales with it; NaN or None: the reference magnitude). Other methods
        ignore it.

    Returns
    -------
    dict
        ``logq, loga, sin_i, population`` (P,) of the first detected candidate of each
        pair, ``e_true`` (P,), and ``n_candidates`` (P,): candidates drawn up to and
        including it (``max_candidates`` and NaN values where none was detected, also for
        a pair skipped by ``log_accept``); ``n_skipped`` and ``n_stopped`` (ints): pairs
        skipped by ``log_accept`` and pairs stopped by ``max_mean_candidates``.
    """
    host = np.asarray(host_msun, float)
    mags = None if host_mag is None else np.broadcast_to(np.asarray(host_mag, float), host.shape)
    didx = np.asarray(draw_index, np.int64)
    n_pairs = host.size
    lw = log_weights(draws)[didx]
    cum_w = np.cumsum(np.exp(lw - lw.max(axis=1, keepdims=True)), axis=1)
    cum_w /= cum_w[:, -1:]
    k_max = cum_w.shape[1] - 1
    out = {"logq": np.full(n_pairs, np.nan), "loga": np.full(n_pairs, np.nan),
           "sin_i": np.full(n_pairs, np.nan), "population": np.full(n_pairs, -1, np.int64),
           "n_candidates": np.zeros(n_pairs, np.int64)}
    pending = np.arange(n_pairs)
    n_skipped = n_stopped = total = 0
    if log_accept is not None:
        hopeless = np.asarray(log_accept, float) < -np.log(max_candidates)
        out["n_candidates"][hopeless] = max_candidates
        pending = pending[~hopeless]
        n_skipped = int(hopeless.sum())

    def prune(pending: NDArray[np.int64]) -> NDArray[np.int64]:
        if not prune_draws:
            return pending
        lost = np.ones(n_pairs, bool)
        lost[pending] = False
        lost &= out["population"] < 0          # neither detected nor still being drawn
        return pending[~np.isin(didx[pending], np.unique(didx[lost]))]

    pending = prune(pending)
    batch = int(first_batch)
    while pending.size:
        if total + pending.size * batch > max(max_candidates, max_mean_candidates * n_pairs):
            n_stopped = int(pending.size)
            break
        total += pending.size * batch
        step = max(1, max_chunk // batch)
        still: list[NDArray[np.int64]] = []
        for lo in range(0, pending.size, step):
            pairs = pending[lo:lo + step]
            d = didx[pairs][:, None]
            comp = np.minimum((rng.random((pairs.size, batch))[..., None]
                               > cum_w[pairs][:, None, :]).sum(axis=-1), k_max)
            par = {key: draws[key][d, comp] for key in _POP_KEYS[:5]}
            z1, z2 = rng.standard_normal((2, pairs.size, batch))
            logq = par["mu_logq"] + par["sigma_logq"] * z1
            loga = par["mu_loga"] + par["sigma_loga"] * (
                par["rho"] * z1 + np.sqrt(1.0 - par["rho"] ** 2) * z2)
            if "gamma_q" in draws:  # power-law binary-like population: x = ln U / λ ≤ 0
                pl = comp == k_max
                lam = powerlaw_lambda(draws["gamma_q"][didx[pairs]])[:, None]
                logq = np.where(pl, np.log1p(-rng.random(comp.shape)) / lam, logq)
                loga = np.where(pl, par["mu_loga"] + par["sigma_loga"] * z2, loga)
            sin_i = np.sqrt(1.0 - rng.random((pairs.size, batch)) ** 2)
            p = _p_det(selection, method, logq, loga, host[pairs][:, None], sin_i,
                       rv_at_inclination, None if mags is None else mags[pairs][:, None])
            hit = rng.random((pairs.size, batch)) < p
            found = hit.any(axis=1)
            first = np.argmax(hit, axis=1)
            rows = np.flatnonzero(found)
            got, col = pairs[rows], first[rows]
            out["logq"][got] = logq[rows, col]
            out["loga"][got] = loga[rows, col]
            out["sin_i"][got] = sin_i[rows, col]
            out["population"][got] = comp[rows, col]
            out["n_candidates"][got] += col + 1
            out["n_candidates"][pairs[~found]] += batch
            still.append(pairs[~found])
        pending = np.concatenate(still) if still else np.empty(0, np.int64)
        pending = prune(pending[out["n_candidates"][pending] < max_candidates])
        batch = int(min(4 * batch, max(1, max_candidates - (out["n_candidates"][pending].min()
                                                               if pending.size else 0))))
    ok = out["population"] >= 0
    e_true = np.full(n_pairs, np.nan)
    if ok.any():
        k = out["population"][ok]
        a = draws["e_alpha"][didx[ok], k]
        b = draws["e_beta"][didx[ok], k]
        e_true[ok] = rng.beta(a, b)
    out["e_true"] = e_true
    out["n_skipped"], out["n_stopped"] = n_skipped, n_stopped
    return out


def replicate_observations(
    draws: dict[str, NDArray[np.float64]],
    data: ModelData,
    selection: SelectionModel | None,
    *,
    n_draws: int = N_DRAWS,
    random_seed: int | np.random.Generator | None = None,
    rv_at_inclination: bool = True,
    max_candidates: int = 2**20,
    max_mean_candidates: int = 2**13,
) -> Replicates:
    """One detected replicate of every object for each of ``n_draws`` posterior draws.

    Parameters
    ----------
    draws : dict
        Posterior population parameters (S, K).
    data : ModelData
        The fitted objects (methods, hosts, kernels and errors).
    selection : SelectionModel or None
        The fit's detection probabilities (None: a naive fit, p_det ≡ 1).
    n_draws : int
        Draws replicated (a seeded subsample without replacement; all when fewer).
    random_seed : int or numpy.random.Generator, optional
        Randomness.
    rv_at_inclination, max_candidates : bool, int
        See :func:`sample_detected_replicates`. With a selection model each (draw,
        object) pair's predicted detected fraction is the fit's own,
        Σ_k w_k ξ_g(i),k (:func:`~vlms_bayes.models.selection_norm.object_selection_logterms`),
        and pairs below 1/``max_candidates`` are counted as undetected without drawing;
        once one object of a draw is undetected, the draw's other objects of that method
        are not drawn further (the check discards the draw's replicates of the method).
    max_mean_candidates : int
        The most candidates drawn per method, per replicate on average
        (:func:`sample_detected_replicates`).

    Returns
    -------
    Replicates
    """
    rng = np.random.default_rng(random_seed)
    s_all = draws["mu_logq"].shape[0]
    if n_draws < 1:
        raise InputDataError(f"n_draws must be at least 1, got {n_draws}.")
    pick = np.sort(rng.choice(s_all, size=min(n_draws, s_all), replace=False))
    s = pick.size
    n = data.n
    methods = np.asarray(data.methods if data.methods else [""] * n, dtype=object)
    hosts = _hosts(data)
    vmag = (np.asarray(data.host_vmag, float) if len(data.host_vmag) == n
            else np.full(n, np.nan))  # the RV threshold's V (NaN: the reference magnitude)
    shape = (s, n)
    true_q, true_a, sin_i = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    e_true = np.full(shape, np.nan)
    pop = np.full(shape, -1, np.int64)
    ncand = np.zeros(shape, np.int64)
    log_acc = None
    if selection is not None:  # the fit's predicted detected fraction of each pair
        log_acc = -object_selection_logterms(selection_terms(data, selection),
                                             {k: v[pick] for k, v in draws.items()})
    unsampled: dict[str, tuple[int, int]] = {}
    for meth in dict.fromkeys(methods.tolist()):
        cols = np.flatnonzero(methods == meth)
        ii, cc = np.meshgrid(np.arange(s), cols, indexing="ij")
        res = sample_detected_replicates(
            draws, method=str(meth), host_msun=hosts[cc.ravel()], draw_index=pick[ii.ravel()],
            selection=selection, rng=rng, rv_at_inclination=rv_at_inclination,
            max_candidates=max_candidates, max_mean_candidates=max_mean_candidates,
            prune_draws=True, host_mag=vmag[cc.ravel()],
            log_accept=None if log_acc is None else log_acc[ii.ravel(), cc.ravel()])
        if res["n_skipped"] or res["n_stopped"]:
            unsampled[str(meth)] = (int(res["n_skipped"]), int(res["n_stopped"]))
        for arr, key in ((true_q, "logq"), (true_a, "loga"), (sin_i, "sin_i"),
                         (e_true, "e_true"), (pop, "population"), (ncand, "n_candidates")):
            arr[:, cols] = res[key].reshape(s, cols.size)
    msini = np.asarray(data.msini, bool)[None, :]
    proj = data.is_projected[None, :]
    noise = rng.standard_normal((3, s, n))
    sin_phi = np.sqrt(1.0 - rng.random(shape) ** 2)
    obs_q = true_q + np.where(msini, np.log10(sin_i), 0.0) + data.s_logq[None, :] * noise[0]
    obs_a = true_a + np.where(proj, np.log10(sin_phi), 0.0) + data.s_loga[None, :] * noise[1]
    measured = (data.e_kind == E_MEASURED)[None, :]
    obs_e = np.where(measured, e_true + np.nan_to_num(data.s_e)[None, :] * noise[2], np.nan)
    return Replicates(obs_q, obs_a, obs_e, true_q, true_a, pop, ncand, pick, unsampled)


# ----------------------------------------------------------------------------------------
# discrepancies
# ----------------------------------------------------------------------------------------
def two_sided_p(t_obs: float, t_rep: NDArray[np.float64]) -> float:
    """2 min(P(T_rep ≥ T_obs), P(T_rep ≤ T_obs)), capped at 1."""
    t_rep = np.asarray(t_rep, float)
    return float(min(1.0, 2.0 * min(np.mean(t_rep >= t_obs), np.mean(t_rep <= t_obs))))


def ks_distance(samples: NDArray[np.float64], ref_sorted: NDArray[np.float64],
                ) -> NDArray[np.float64]:
    """KS distance of each row of ``samples`` (R, n) to the ECDF of ``ref_sorted``."""
    x = np.sort(np.atleast_2d(samples), axis=-1)
    n = x.shape[-1]
    m = ref_sorted.size
    f_hi = np.searchsorted(ref_sorted, x, side="right") / m
    f_lo = np.searchsorted(ref_sorted, x, side="left") / m
    i = np.arange(1, n + 1)
    return np.maximum((i / n - f_lo).max(axis=-1), (f_hi - (i - 1) / n).max(axis=-1))


def discrepancy_pvalues(y_obs: NDArray[np.float64], y_rep: NDArray[np.float64],
                        ) -> dict[str, float]:
    """Posterior predictive p-values of the mean, the sd and the KS distance.

    Parameters
    ----------
    y_obs : numpy.ndarray, shape (n,)
        Observed values.
    y_rep : numpy.ndarray, shape (S, n)
        Replicates, one row per draw (rows with NaN are dropped).

    Returns
    -------
    dict
        ``mean, sd, ks`` p-values and the observed statistics ``obs_mean, obs_sd, obs_ks``
        with the replicates' medians ``rep_mean, rep_sd, rep_ks``.
    """
    y_obs = np.asarray(y_obs, float)
    y_rep = np.asarray(y_rep, float)
    y_rep = y_rep[np.isfinite(y_rep).all(axis=1)]
    ddof = 1 if y_obs.size > 1 else 0
    pooled = np.sort(y_rep.ravel())
    d_obs = float(ks_distance(y_obs[None, :], pooled)[0])
    d_rep = ks_distance(y_rep, pooled)
    m_rep, s_rep = y_rep.mean(axis=1), y_rep.std(axis=1, ddof=ddof)
    return {
        "mean": two_sided_p(float(y_obs.mean()), m_rep),
        "sd": two_sided_p(float(y_obs.std(ddof=ddof)), s_rep) if y_obs.size > 1 else np.nan,
        "ks": float(np.mean(d_rep >= d_obs)),
        "obs_mean": float(y_obs.mean()), "rep_mean": float(np.median(m_rep)),
        "obs_sd": float(y_obs.std(ddof=ddof)), "rep_sd": float(np.median(s_rep)),
        "obs_ks": d_obs, "rep_ks": float(np.median(d_rep)),
    }


def loo_pit_values(y_obs: NDArray[np.float64], y_rep: NDArray[np.float64],
                   loglik: NDArray[np.float64]) -> tuple[NDArray[np.float64], list[str]]:
    """LOO-PIT of each object with :func:`arviz_stats.loo_pit`.

    Parameters
    ----------
    y_obs : numpy.ndarray, shape (n,)
        Observed values.
    y_rep : numpy.ndarray, shape (S, n)
        Replicates of the same objects in the same draws.
    loglik : numpy.ndarray, shape (S, n)
        Each object's marginal log-likelihood in those draws (its PSIS weights).

    Returns
    -------
    pit : numpy.ndarray, shape (n,)
        LOO-PIT values.
    warnings : list of str
        What ArviZ warned about (e.g. high Pareto k), for the record.
    """
    from arviz_base import from_dict  # heavy: ArviZ
    from arviz_stats import loo_pit  # heavy: ArviZ

    s = y_rep.shape[0]
    dt = from_dict({"posterior": {"draw_id": np.arange(s, dtype=float)[None, :]},
                    "posterior_predictive": {"y": np.asarray(y_rep, float)[None]},
                    "observed_data": {"y": np.asarray(y_obs, float)},
                    "log_likelihood": {"y": np.asarray(loglik, float)[None]}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            pit = np.asarray(loo_pit(dt, var_names=["y"])["y"].values, float)
        except (ValueError, IndexError) as exc:
            # PSIS needs draws whose likelihoods differ, and enough of them for a tail
            # (arviz_stats raises IndexError when too few draws leave the tail empty)
            return np.full(np.size(y_obs), np.nan), [
                f"LOO-PIT not computed from {s} draws: {type(exc).__name__}: {exc}"]
    return pit, sorted({str(w.message).splitlines()[0] for w in caught})


def uniformity_p(pit: NDArray[np.float64]) -> float:
    """KS test p-value of PIT values against U(0, 1) (exact for small samples)."""
    return float(stats.kstest(np.asarray(pit, float), "uniform").pvalue)


# ----------------------------------------------------------------------------------------
# the check
# ----------------------------------------------------------------------------------------
@dataclass
class PPCResult:
    """Posterior predictive checks of one fit (JSON part in :meth:`to_dict`)."""

    methods: dict[str, dict[str, Any]]
    alpha: float
    n_draws: int
    selection: str
    replicates: Replicates = field(repr=False)
    observed: dict[str, NDArray[np.float64]] = field(repr=False)
    object_methods: tuple[str, ...] = field(repr=False, default=())
    notes: list[str] = field(default_factory=list)

    @property
    def failing(self) -> list[str]:
        """Methods whose check fails."""
        return [m for m, r in self.methods.items() if r["verdict"] == "fail"]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for fit_summary.json (key ``"ppc"``)."""
        return {"methods": self.methods, "alpha": self.alpha, "n_draws": self.n_draws,
                "selection": self.selection, "min_objects": MIN_OBJECTS,
                "failing": self.failing, "notes": list(self.notes),
                "rule": (f"a method with >= {MIN_OBJECTS} objects fails when any of its "
                         f"p-values is below alpha / n_tests (Bonferroni within the method, "
                         f"alpha = {self.alpha:g})")}


def posterior_predictive_check(
    draws: dict[str, NDArray[np.float64]],
    data: ModelData,
    selection: SelectionModel | None,
    *,
    n_draws: int = N_DRAWS,
    alpha: float = 0.05,
    random_seed: int | np.random.Generator | None = 0,
    rv_at_inclination: bool = True,
    loo_pit: bool = True,
    loglik: NDArray[np.float64] | None = None,
    max_candidates: int = 2**20,
    max_mean_candidates: int = 2**13,
) -> PPCResult:
    """Posterior predictive checks of (log q, log a, e) per discovery method.

    Parameters
    ----------
    draws : dict
        Posterior population parameters (S, K) (:func:`~vlms_bayes.inference.membership.
        draws_from_posterior`).
    data : ModelData
        The fitted objects.
    selection : SelectionModel or None
        The fit's selection model (None: naive fit, p_det ≡ 1).
    n_draws : int
        Posterior draws replicated (seeded subsample).
    alpha : float
        Family-wise level of each method's verdict (module docstring).
    random_seed : int or numpy.random.Generator, optional
        Randomness (the check is deterministic given it).
    rv_at_inclination : bool
        Radial velocity detects at the replicate's own inclination.
    loo_pit : bool
        Also compute LOO-PIT (needs the pointwise log-likelihood of the draws).
    loglik : numpy.ndarray, shape (S, N), optional
        The fit's pointwise log-likelihood of all draws (its ``log_likelihood`` group,
        chains stacked in the order of ``draws``); computed when not given.
    max_candidates : int
        Candidates drawn per replicate before the model is taken to detect nothing there
        (a method that detects nothing in > 5% of the draws fails); a replicate whose
        predicted detected fraction (the fit's) is below 1/``max_candidates`` counts as
        undetected without drawing.
    max_mean_candidates : int
        The most candidates drawn per method, per replicate on average (bounds the time
        of the check); replicates left when it is reached count as undetected and a note
        says so.

    Returns
    -------
    PPCResult
    """
    if not 0 < alpha < 1:
        raise InputDataError(f"alpha must lie in (0, 1), got {alpha}.")
    rep = replicate_observations(draws, data, selection, n_draws=n_draws,
                                 random_seed=random_seed, rv_at_inclination=rv_at_inclination,
                                 max_candidates=max_candidates,
                                 max_mean_candidates=max_mean_candidates)
    s = rep.draw_index.size
    notes: list[str] = []
    for meth, (n_skip, n_stop) in rep.unsampled.items():
        if n_skip:
            notes.append(f"{meth}: {n_skip} replicate(s) not drawn: the fit predicts that "
                         f"this method detects fewer than 1 in {max_candidates} companions "
                         "there (counted as undetected)")
        if n_stop:
            notes.append(f"{meth}: {n_stop} replicate(s) still undetected when the "
                         f"candidates allowed per method ({max_mean_candidates} per "
                         "replicate on average) were drawn (counted as undetected)")
    if loo_pit and loglik is None:
        loglik = _pointwise_loglik(draws, data, selection, rep.draw_index)
    elif loo_pit:
        loglik = np.asarray(loglik, float)
        if loglik.shape != (draws["mu_logq"].shape[0], data.n):
            raise InputDataError(
                f"loglik has shape {loglik.shape}; the draws and objects need "
                f"{(draws['mu_logq'].shape[0], data.n)}.")
        loglik = loglik[rep.draw_index]
    else:
        loglik = None
    methods = np.asarray(data.methods if data.methods else [""] * data.n, dtype=object)
    observed = {"logq": data.y_logq, "loga": data.y_loga,
                "e": np.where(data.e_kind == E_MEASURED, data.e_obs, np.nan)}
    replic = {"logq": rep.logq, "loga": rep.loga, "e": rep.e}
    # the measurement errors the fit assumes (floors included): a spread the data do not
    # reach may be the errors', not the populations' (ppc_report.failure_reason)
    errors = {"logq": data.s_logq, "loga": data.s_loga, "e": data.s_e}
    out: dict[str, dict[str, Any]] = {}
    for meth in dict.fromkeys(methods.tolist()):
        cols = np.flatnonzero(methods == meth)
        undetectable = ~np.isfinite(rep.true_logq[:, cols]).all(axis=1)
        rec: dict[str, Any] = {"n_objects": int(cols.size), "dimensions": {},
                               "n_draws_undetectable": int(undetectable.sum()),
                               "mean_candidates_per_detection": float(
                                   np.mean(rep.n_candidates[:, cols]))}
        n_tests, p_all, tests = 0, [], []
        for dim in DIMENSIONS:
            yo = observed[dim][cols]
            keep = np.isfinite(yo)
            if not keep.any():
                continue
            yo = yo[keep]
            yr = replic[dim][:, cols][:, keep]
            good = np.isfinite(yr).all(axis=1)
            if not good.any():
                rec["dimensions"][dim] = {"n": int(yo.size), "status": "not replicated"}
                continue
            dres: dict[str, Any] = {"n": int(yo.size), **discrepancy_pvalues(yo, yr[good])}
            err = np.asarray(errors[dim], float)[cols][keep]
            if np.isfinite(err).all():
                dres["err_rms"] = float(np.sqrt(np.mean(err ** 2)))
            if loglik is not None and good.sum() >= 2:
                ll = loglik[:, cols][:, keep][good]
                pit, warn = loo_pit_values(yo, yr[good], ll)
                if np.isfinite(pit).all():
                    dres["loo_pit"] = uniformity_p(pit)
                    dres["loo_pit_values"] = [float(v) for v in pit]
                if warn:
                    dres["loo_pit_warnings"] = warn
            judged = yo.size >= MIN_OBJECTS
            dres["status"] = "judged" if judged else "too few to judge"
            if judged:
                for stat in STATISTICS:
                    pv = dres.get(stat)
                    if pv is not None and np.isfinite(pv):
                        n_tests += 1
                        p_all.append(pv)
                        tests.append((dim, stat, pv))
            rec["dimensions"][dim] = dres
        failed = []
        if undetectable.mean() > 0.05:
            failed.append(f"the model detects nothing around this method's hosts in "
                          f"{undetectable.sum()} of {s} draws")
        if cols.size < MIN_OBJECTS or (n_tests == 0 and not failed):
            rec["verdict"] = "too few to judge"
            rec["threshold"] = None
            rec["failed_tests"] = []
        else:
            thr = alpha / max(n_tests, 1)
            rec["threshold"] = thr
            rec["n_tests"] = n_tests
            rec["min_p"] = float(min(p_all)) if p_all else None
            rec["failed_tests"] = [f"{d} {st} (p = {pv:.3g})" for d, st, pv in tests
                                   if pv < thr] + failed
            if n_tests and s < 2.0 * n_tests / alpha:
                notes.append(f"{meth}: with {s} draws a two-sided p-value is 0 or at least "
                             f"{2 / s:.3g}, above the threshold {thr:.3g}: a test fails only "
                             "when no replicate is as extreme; use more draws")
            rec["verdict"] = "fail" if rec["failed_tests"] else "pass"
        out[str(meth)] = rec
    return PPCResult(out, float(alpha), int(s), "none" if selection is None else "methods",
                     rep, observed, tuple(str(m) for m in methods), notes)


def _pointwise_loglik(draws: dict[str, NDArray[np.float64]], data: ModelData,
                      selection: SelectionModel | None, pick: NDArray[np.int64],
                      ) -> NDArray[np.float64]:
    """Each object's marginal log-likelihood (with the selection term) in the picked draws."""
    sub = {k: v[pick] for k, v in draws.items()}
    ll = pointwise_loglik(object_log_terms(data, sub))
    if selection is not None:
        ll = ll + object_selection_logterms(selection_terms(data, selection), sub)
    return ll
