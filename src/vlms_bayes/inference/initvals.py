"""Data-driven starting values for the mixture sampler.

A K-component Gaussian mixture (scikit-learn, full covariances) fitted to the observed
(log q, log a), with its components sorted by mean log q, gives the populations' starting
means, scales, correlations and weights. Without such a start the chains of a mixture can
settle in different modes (label swaps, or splits along log a), which the R-hat gate
catches but cannot repair.

The order of the *observed* mean log q need not be the intrinsic one: selection can
detect mostly the high-q tail of a broad population, so the observed cluster with the
lower mean log q may belong to the population with the higher intrinsic mean, and two
clusters of the observed sample can have almost the same mean log q, so that 0.03 dex
decides which one starts as binary-like. Sorting the mixture's components by observed
log q then can start the chain in a lower local mode of the posterior (measured on a
simulation-based calibration replica: 45 nats below the mode the truth lies in;
docs/bayes.md, "Simulation-based calibration"). :func:`start_candidates`
therefore offers the mixture's components under every assignment to the ordered
populations (the log q means stay sorted), and :func:`best_start` keeps the one whose
short ascent of the log posterior ends highest.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from vlms_bayes.models.data import ModelData

log = logging.getLogger(__name__)

#: Most assignments tried (all K! up to K = 4; beyond, the identity, every swap of two
#: components and the reversal).
MAX_ASSIGNMENTS = 24
#: A candidate replaces the observed-order start only if its optimum is higher by more
#: than this (nats): smaller differences are the same mode reached to the optimiser's
#: tolerance.
MODE_TOLERANCE = 0.1


@dataclass(frozen=True)
class _Gmm:
    """A Gaussian mixture on the observed (log q, log a), components by mean log q."""

    means: NDArray[np.float64]        # (K, 2)
    covariances: NDArray[np.float64]  # (K, 2, 2)
    weights: NDArray[np.float64]      # (K,)


def _fit_gmm(data: ModelData, k: int, random_seed: int) -> _Gmm:
    from sklearn.mixture import GaussianMixture  # heavy: scikit-learn

    x = np.c_[data.y_logq, data.y_loga]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny samples
        gmm = GaussianMixture(k, covariance_type="full", n_init=5, reg_covar=1e-3,
                              random_state=int(random_seed)).fit(x)
    order = np.argsort(gmm.means_[:, 0])
    return _Gmm(gmm.means_[order], gmm.covariances_[order], gmm.weights_[order])


def _start(gmm: _Gmm, assignment: Sequence[int], weight_name: str) -> dict[str, Any]:
    """Population j takes component ``assignment[j]``'s parameters; mean log q stays sorted."""
    k = len(assignment)
    perm = np.asarray(assignment, int)
    cov = gmm.covariances[perm]
    sd_q = np.sqrt(cov[:, 0, 0])
    sd_a = np.sqrt(cov[:, 1, 1])
    rho = np.clip(cov[:, 0, 1] / (sd_q * sd_a), -0.8, 0.8)
    mu_q = gmm.means[:, 0] + 1e-3 * np.arange(k)  # strictly increasing for the ordered transform
    out: dict[str, Any] = {
        "mu_logq": mu_q, "mu_loga": gmm.means[perm, 1],
        "sigma_logq": np.clip(sd_q, 0.05, 3.0), "sigma_loga": np.clip(sd_a, 0.05, 3.0),
        "rho_beta": (rho + 1.0) / 2.0,
    }
    if k > 1:
        w = np.clip(gmm.weights[perm], 0.02, None)
        out[weight_name] = w / w.sum()
    return out


def _assignments(k: int) -> list[tuple[int, ...]]:
    """The identity first, then the other assignments of K components (module constants)."""
    if math.factorial(k) <= MAX_ASSIGNMENTS:
        return list(itertools.permutations(range(k)))
    ident = tuple(range(k))
    out = [ident]
    for i, j in itertools.combinations(range(k), 2):
        p = list(ident)
        p[i], p[j] = j, i
        out.append(tuple(p))
    out.append(tuple(reversed(ident)))
    return list(dict.fromkeys(out))


def _weight_name(model: Any, weight_name: str | None) -> str:
    return weight_name or ("f_det" if model is not None and "f_det" in model.named_vars
                           else "w")


def initial_values(data: ModelData, n_components: int, *, random_seed: int,
                   model: Any = None, weight_name: str | None = None) -> dict[str, Any]:
    """Starting values (constrained space) for :func:`vlms_bayes.inference.sampling.sample`.

    The mixture's components in the order of their observed mean log q (the first of
    :func:`start_candidates`).

    Parameters
    ----------
    data : ModelData
        The fitted objects.
    n_components : int
        K.
    random_seed : int
        Seed of the Gaussian-mixture initialisation.
    model : pymc.Model, optional
        The model to start: a selection-aware one has its Dirichlet prior on the detected
        fractions ``f_det`` (the weights of a mixture fitted to the observed sample are
        exactly a start for those); otherwise the weights are ``w``.
    weight_name : str, optional
        The weights' variable name when there is no PyMC model (the JAX density's).

    Returns
    -------
    dict
        ``mu_logq`` (strictly increasing), ``mu_loga``, ``sigma_logq``, ``sigma_loga``,
        ``rho_beta`` and, for K > 1, ``w`` or ``f_det``.
    """
    gmm = _fit_gmm(data, int(n_components), random_seed)
    return _start(gmm, tuple(range(int(n_components))), _weight_name(model, weight_name))


def start_candidates(data: ModelData, n_components: int, *, random_seed: int,
                     model: Any = None, weight_name: str | None = None,
                     ) -> list[dict[str, Any]]:
    """Starts from one Gaussian mixture under each assignment of its components.

    Population j (ordered by mean log q) takes component π(j)'s log a mean, scales,
    correlation and weight, for every permutation π of the K components (all K! up to
    K = 4, else the identity, the swaps of two and the reversal); the log q means stay the
    mixture's, sorted, as the ordered transform needs. The first candidate (π the
    identity) is :func:`initial_values`. Arguments as for :func:`initial_values`.
    """
    k = int(n_components)
    gmm = _fit_gmm(data, k, random_seed)
    name = _weight_name(model, weight_name)
    return [_start(gmm, p, name) for p in _assignments(k)]


@dataclass(frozen=True)
class StartChoice:
    """What :func:`best_start` chose, and why."""

    #: Index of the chosen candidate (0: the observed order).
    index: int
    #: Log density (unconstrained space, as the sampler sees it) at each candidate.
    logp_start: tuple[float, ...]
    #: Log density at the end of each candidate's optimisation (−inf if it failed).
    logp_optimised: tuple[float, ...]
    #: Candidates whose optimum is a different point within ``MODE_TOLERANCE`` + 3 nats
    #: of the best: competing modes one chain cannot move between.
    competing: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"index": self.index, "logp_start": list(self.logp_start),
                "logp_optimised": list(self.logp_optimised), "competing": list(self.competing)}


def best_start(density: Any, candidates: Sequence[dict[str, Any]], *, max_iter: int = 200,
               ) -> tuple[dict[str, Any], StartChoice]:
    """The candidate whose short L-BFGS ascent of the log posterior ends highest.

    Each candidate is moved uphill by at most ``max_iter`` L-BFGS iterations (SciPy, the
    gradient by JAX) in the sampler's unconstrained space; the candidate — its own
    starting values, not the optimum — whose optimum is highest is returned. The first
    candidate is kept unless another ends more than :data:`MODE_TOLERANCE` higher.

    Parameters
    ----------
    density : MixtureDensity
        The model's JAX log density (:func:`vlms_bayes.models.logdensity.mixture_density`).
    candidates : sequence of dict
        Constrained starting values of the density's free variables
        (:func:`start_candidates`, possibly through :func:`powerlaw_initial_values`).
    max_iter : int
        L-BFGS iterations per candidate.

    Returns
    -------
    start : dict
        The chosen candidate.
    choice : StartChoice
        Its index and every candidate's log density before and after the ascent.
    """
    if len(candidates) == 1:
        return dict(candidates[0]), StartChoice(0, (np.nan,), (np.nan,), ())
    import jax  # heavy: keeps --help fast
    import jax.numpy as jnp  # heavy: jax

    names = [v.name for v in density.free]
    sizes = [v.n_free for v in density.free]
    cuts = np.cumsum(sizes)[:-1]

    def unflat(x: Any) -> dict[str, Any]:
        return dict(zip(names, jnp.split(x, cuts), strict=True))

    starts, ends, points = [], [], []
    with jax.enable_x64(True):
        if density.logp_with is not None:  # compiled once per model and data shapes
            with_data = _neg_logp_and_grad(density.logp_with, tuple(names), tuple(sizes))

            def neg(x: Any) -> Any:
                return with_data(x, density.data)
        else:
            neg = jax.jit(jax.value_and_grad(lambda x: -density.logp(unflat(x))))

        def fun(x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            v, g = neg(jnp.asarray(x))
            v, g = float(v), np.asarray(g, float)
            if not np.isfinite(v) or not np.all(np.isfinite(g)):
                return np.inf, np.zeros_like(x)  # refuse the step: the line search backs off
            return v, g

        for cand in candidates:
            u = density.unconstrain(cand)
            x0 = np.concatenate([u[n] for n in names])
            v0 = fun(x0)[0]
            starts.append(-v0)
            if not np.isfinite(v0):
                ends.append(-np.inf)
                points.append(x0)
                continue
            res = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                    options={"maxiter": int(max_iter)})
            ends.append(-float(res.fun) if np.isfinite(res.fun) else -np.inf)
            points.append(np.asarray(res.x, float))
    best = int(np.argmax(ends))
    if ends[best] <= ends[0] + MODE_TOLERANCE:
        best = 0
    competing = tuple(
        j for j in range(len(candidates))
        if j != best and ends[j] >= ends[best] - 3.0 - MODE_TOLERANCE
        and np.max(np.abs(points[j] - points[best])) > 0.1)
    return dict(candidates[best]), StartChoice(best, tuple(starts), tuple(ends), competing)


@lru_cache(maxsize=32)
def _neg_logp_and_grad(logp_with: Callable[[Any, Any], Any], names: tuple[str, ...],
                       sizes: tuple[int, ...]) -> Callable[[Any, Any], Any]:
    """−log density and its gradient at a flat point, the data an argument.

    Jitted once per model settings, as the sampler is: a new dataset of the same shapes
    (an SBC replica) reuses the compiled function.
    """
    import jax  # heavy: keeps --help fast
    import jax.numpy as jnp  # heavy: jax

    cuts = np.cumsum(sizes)[:-1]

    def neg(x: Any, data: Any) -> Any:
        return -logp_with(dict(zip(names, jnp.split(x, cuts), strict=True)), data)

    return jax.jit(jax.value_and_grad(neg))


def powerlaw_initial_values(init: dict[str, Any]) -> dict[str, Any]:
    """Starting values for a power-law binary-like population (``binary_shape="powerlaw"``).

    The Gaussian-mixture start of :func:`initial_values` (K components by mean log q)
    loses its last component's log q mean, scale and correlation: that population has
    none. Its log a mean and scale stay; ``gamma_q`` starts at its prior median (the
    density's default).
    """
    out = dict(init)
    for name in ("mu_logq", "sigma_logq", "rho_beta"):
        out[name] = np.asarray(init[name])[:-1]
    return out
