"""Beta eccentricity distributions by mass-ratio subset: MLE with bootstrap intervals.

The maximum-likelihood Beta(alpha, beta) depends on the sample only through the mean
log e and mean log(1 - e); :func:`beta_mle_from_stats` solves the likelihood equations
by a damped Newton iteration, vectorised over many samples at once, so a 500-resample
bootstrap costs about as much as one fit.

Zeros
-----
A Beta density has no mass at e = 0 (log 0 = -inf), so zeros need a decision:

* ``ecc_status == "fixed_zero"`` (e = 0 given without an uncertainty: a circular orbit that
  was *assumed*) is excluded by default (``fixed_e="exclude"``). ``fixed_e="measured"``
  keeps them as data, as the original system did; this pulls alpha down (towards a pile-up
  at e = 0 that the data do not show), which the tests demonstrate.
* A zero that enters the fit (a measured e = 0, or a fixed zero under "measured") is
  replaced by a floor: half its upper uncertainty when it has one (the data allow
  anything up to about that), otherwise half the smallest positive e of the sample fitted
  (both subsets together). ``e_floor`` overrides this with one value for every zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, digamma, polygamma

from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.baselines._common import (
    MIN_SUBSET_N,
    eccentricity_rows,
    split_by_q,
)

PERCENTILES: tuple[int, int, int] = (5, 50, 95)


def beta_mle_from_stats(
    mean_log_e: ArrayLike,
    mean_log_1me: ArrayLike,
    *,
    alpha0: ArrayLike | None = None,
    beta0: ArrayLike | None = None,
    max_iter: int = 200,
    tol: float = 1e-10,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve the Beta likelihood equations psi(a) - psi(a+b) = s1, psi(b) - psi(a+b) = s2.

    Parameters
    ----------
    mean_log_e, mean_log_1me : array_like
        Sufficient statistics s1 = mean(log e), s2 = mean(log(1 - e)), any shape.
    alpha0, beta0 : array_like, optional
        Starting values (default 1, 1).
    max_iter : int
        Newton iterations.
    tol : float
        Relative step size at which to stop.

    Returns
    -------
    alpha, beta : numpy.ndarray
        The maximum-likelihood parameters; NaN where the iteration did not converge.
    """
    s1 = np.atleast_1d(np.asarray(mean_log_e, float))
    s2 = np.atleast_1d(np.asarray(mean_log_1me, float))
    s1, s2 = np.broadcast_arrays(s1, s2)
    a = np.ones_like(s1) if alpha0 is None else np.broadcast_to(alpha0, s1.shape).astype(float)
    b = np.ones_like(s1) if beta0 is None else np.broadcast_to(beta0, s1.shape).astype(float)
    a, b = a.copy(), b.copy()

    def loglike(a_: NDArray, b_: NDArray, m1: NDArray, m2: NDArray) -> NDArray:
        return (a_ - 1.0) * m1 + (b_ - 1.0) * m2 - betaln(a_, b_)

    done = ~(np.isfinite(s1) & np.isfinite(s2))
    for _ in range(max_iter):
        act = ~done
        if not act.any():
            break
        aa, bb, m1, m2 = a[act], b[act], s1[act], s2[act]
        psab = digamma(aa + bb)
        g1 = m1 - digamma(aa) + psab
        g2 = m2 - digamma(bb) + psab
        tab = polygamma(1, aa + bb)
        h11 = tab - polygamma(1, aa)
        h22 = tab - polygamma(1, bb)
        det = h11 * h22 - tab * tab
        da = -(h22 * g1 - tab * g2) / det
        db = -(-tab * g1 + h11 * g2) / det
        ll0 = loglike(aa, bb, m1, m2)
        t = np.ones_like(aa)
        for _half in range(60):
            na, nb = aa + t * da, bb + t * db
            with np.errstate(invalid="ignore"):
                ok = (na > 0) & (nb > 0)
                ll = loglike(np.where(ok, na, 1.0), np.where(ok, nb, 1.0), m1, m2)
                ok &= np.where(ok, ll, -np.inf) >= ll0 - 1e-12 * np.abs(ll0)
            if ok.all():
                break
            t = np.where(ok, t, 0.5 * t)
        a[act], b[act] = aa + t * da, bb + t * db
        step = np.maximum(np.abs(t * da) / a[act], np.abs(t * db) / b[act])
        done[np.flatnonzero(act)[step < tol]] = True
    bad = ~done | ~(np.isfinite(a) & np.isfinite(b))
    a[bad] = np.nan
    b[bad] = np.nan
    return a, b


def _moment_start(e: NDArray) -> tuple[NDArray, NDArray]:
    m = e.mean(axis=-1)
    v = e.var(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = m * (1 - m) / v - 1.0
    good = np.isfinite(c) & (c > 0)
    return np.where(good, m * c, 1.0), np.where(good, (1 - m) * c, 1.0)


def _fit_many(e: NDArray) -> tuple[NDArray, NDArray]:
    """MLE for each row of a (m, n) array; NaN where all values are equal (no MLE)."""
    a0, b0 = _moment_start(e)
    a, b = beta_mle_from_stats(np.log(e).mean(-1), np.log1p(-e).mean(-1), alpha0=a0, beta0=b0)
    degenerate = np.ptp(e, axis=-1) <= 0
    a[degenerate] = np.nan
    b[degenerate] = np.nan
    return a, b


def fit_beta_mle(
    e: ArrayLike, *, n_boot: int = 500, seed: int | np.random.Generator
) -> dict[str, Any]:
    """Maximum-likelihood Beta fit of eccentricities in (0, 1) with bootstrap percentiles.

    Parameters
    ----------
    e : array_like
        Eccentricities, all strictly between 0 and 1 (see :func:`floor_zero_eccentricities`).
    n_boot : int
        Nonparametric bootstrap resamples (0 for none).
    seed : int or numpy.random.Generator
        Randomness of the bootstrap.

    Returns
    -------
    dict
        ``alpha, beta, n, loglike``, ``mean_e_beta`` (the fitted mean α/(α+β)),
        ``sample_mean_e`` (the plain mean of the values fitted), ``alpha_p5/p50/p95``,
        ``beta_p5/p50/p95``, ``mean_e_beta_p5/p50/p95``, ``n_boot``, ``n_boot_failed`` and
        ``note`` (why parameters are NaN, if they are).
        Fewer than 3 values, or values all equal, give NaN parameters and a note.
    """
    e = np.asarray(e, float).ravel()
    if np.any(~np.isfinite(e)) or np.any((e <= 0) | (e >= 1)):
        raise InputDataError(
            "fit_beta_mle needs eccentricities strictly between 0 and 1 (a Beta density has "
            f"no mass at e = 0); got min {np.nanmin(e) if e.size else 'n/a'}. Replace zeros "
            "with floor_zero_eccentricities or leave fixed circular orbits out.")
    n = e.size
    out: dict[str, Any] = {"alpha": np.nan, "beta": np.nan, "n": n, "loglike": np.nan,
                           "mean_e_beta": np.nan,
                           "sample_mean_e": float(e.mean()) if n else np.nan}
    for par in ("alpha", "beta", "mean_e_beta"):
        for p in PERCENTILES:
            out[f"{par}_p{p}"] = np.nan
    out.update(n_boot=int(n_boot), n_boot_failed=0, note="")
    if n < MIN_SUBSET_N:
        out["note"] = f"not estimated: n = {n} < {MIN_SUBSET_N}"
        return out
    a, b = _fit_many(e[None, :])
    if not np.isfinite(a[0]):
        out["note"] = "not estimated: all eccentricities are equal (no finite MLE)"
        return out
    out["alpha"], out["beta"] = float(a[0]), float(b[0])
    out["mean_e_beta"] = float(a[0] / (a[0] + b[0]))
    out["loglike"] = float(np.sum((a[0] - 1) * np.log(e) + (b[0] - 1) * np.log1p(-e))
                           - n * betaln(a[0], b[0]))
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=(int(n_boot), n))
        ba, bb = _fit_many(e[idx])
        failed = ~np.isfinite(ba)
        out["n_boot_failed"] = int(failed.sum())
        if (~failed).any():
            ok = ~failed
            for par, vals in (("alpha", ba[ok]), ("beta", bb[ok]),
                              ("mean_e_beta", ba[ok] / (ba[ok] + bb[ok]))):
                for p, v in zip(PERCENTILES, np.percentile(vals, PERCENTILES), strict=True):
                    out[f"{par}_p{p}"] = float(v)
        if failed.any():
            out["note"] = (f"{int(failed.sum())} of {n_boot} bootstrap resamples had no finite "
                           "MLE and were left out")
    return out


def floor_zero_eccentricities(
    e: ArrayLike, e_err_hi: ArrayLike | None = None, *, e_floor: float | None = None
) -> tuple[NDArray[np.float64], int]:
    """Replace e = 0 by a small positive value so that it can enter a Beta likelihood.

    Parameters
    ----------
    e : array_like
        Eccentricities in [0, 1).
    e_err_hi : array_like, optional
        Upper uncertainties (NaN or missing where none).
    e_floor : float, optional
        One value for every zero; overrides the rule below.

    Returns
    -------
    e : numpy.ndarray
        Copy with zeros replaced: by ``e_err_hi / 2`` where that is finite and positive,
        else by half the smallest positive e (1e-3 if there is none).
    n_floored : int
        How many zeros were replaced.
    """
    e = np.array(e, float)
    zero = e == 0
    if not zero.any():
        return e, 0
    if e_floor is not None:
        if not 0 < e_floor < 1:
            raise InputDataError(f"e_floor must lie in (0, 1), not {e_floor!r}.")
        e[zero] = e_floor
        return e, int(zero.sum())
    pos = e[e > 0]
    default = 0.5 * pos.min() if pos.size else 1e-3
    fill = np.full(e.shape, default)
    if e_err_hi is not None:
        err = np.asarray(e_err_hi, float)
        use = np.isfinite(err) & (err > 0)
        fill = np.where(use, 0.5 * np.minimum(err, 1.0), fill)
    e[zero] = fill[zero]
    return e, int(zero.sum())


def fit_beta_by_q_split(
    frame: pd.DataFrame,
    *,
    q_split: float = 0.01,
    fixed_e: str = "exclude",
    n_boot: int = 500,
    seed: int | np.random.Generator,
    e_floor: float | None = None,
) -> pd.DataFrame:
    """Beta MLE of e in the subsets q < q_split (``low_q``) and q >= q_split (``high_q``).

    Parameters
    ----------
    frame : pandas.DataFrame
        The complete-case view of the stacked dataset (``complete_case(stacked)``); upper
        limits and missing e are never used.
    q_split : float
        Mass-ratio split.
    fixed_e : {"exclude", "measured"}
        ``"exclude"`` (default) leaves out e = 0 orbits given without an uncertainty;
        ``"measured"`` keeps them as data, like the original system (biases alpha low).
    n_boot : int
        Bootstrap resamples per subset.
    seed : int or numpy.random.Generator
        Randomness of the bootstrap (each subset gets its own child stream).
    e_floor : float, optional
        Value for zeros that enter the fit (default: see :func:`floor_zero_eccentricities`).

    Returns
    -------
    pandas.DataFrame
        One row per subset: ``subset, q_range, fixed_e, alpha, beta, n, n_excluded_fixed,
        n_zero_floored, loglike, alpha_p5, alpha_p50, alpha_p95, beta_p5, beta_p50,
        beta_p95, mean_e_beta, mean_e_beta_p5, mean_e_beta_p95, sample_mean_e, n_boot,
        n_boot_failed, note`` (the content of
        ``beta_e_params.csv``).
    """
    rows, excluded = eccentricity_rows(frame, fixed_e=fixed_e)
    err = (rows["pl_orbeccen_err_hi"].to_numpy(float) if "pl_orbeccen_err_hi" in rows
           else None)
    e_all, _ = floor_zero_eccentricities(rows["pl_orbeccen"].to_numpy(float), err,
                                         e_floor=e_floor)
    rows = rows.assign(_e_fit=e_all, _zero=rows["pl_orbeccen"].to_numpy(float) == 0)
    subsets = split_by_q(rows, q_split=q_split)
    excl = split_by_q(excluded, q_split=q_split) if len(excluded) else None
    streams = np.random.default_rng(seed).spawn(len(subsets))
    ranges = {"low_q": f"q < {q_split:g}", "high_q": f"q >= {q_split:g}"}
    records = []
    for (name, sub), rng in zip(subsets.items(), streams, strict=True):
        res = fit_beta_mle(sub["_e_fit"].to_numpy(float), n_boot=n_boot, seed=rng)
        n_zero = int(sub["_zero"].sum())
        notes = [res.pop("note")] if res.get("note") else []
        if n_zero:
            notes.append(f"{n_zero} zero eccentricit{'y' if n_zero == 1 else 'ies'} "
                         "replaced by a floor")
        n_excl = 0 if excl is None else len(excl[name])
        if n_excl:
            notes.append(f"{n_excl} fixed e = 0 (assumed circular) left out")
        records.append({"subset": name, "q_range": ranges[name], "fixed_e": fixed_e,
                        **res, "n_excluded_fixed": n_excl, "n_zero_floored": n_zero,
                        "note": "; ".join(notes)})
    cols = ["subset", "q_range", "fixed_e", "alpha", "beta", "n", "n_excluded_fixed",
            "n_zero_floored", "loglike", "alpha_p5", "alpha_p50", "alpha_p95", "beta_p5",
            "beta_p50", "beta_p95", "mean_e_beta", "mean_e_beta_p5", "mean_e_beta_p95",
            "sample_mean_e", "n_boot", "n_boot_failed", "note"]
    return pd.DataFrame.from_records(records)[cols]
