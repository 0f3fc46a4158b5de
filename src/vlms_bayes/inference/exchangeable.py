"""Sampling the ordered mixture through its exchangeable twin, draws sorted by mean log q.

The model identifies its populations by ordering their mean log q (PyMC's ``ordered``
transform: the first mean, then the logs of the increments). When the posterior of two
means overlaps, the label-invariant posterior is one ridge that runs through
μ_q,j = μ_q,j+1; the ordered parametrisation cuts it into two halves with the other
parameters' labels exchanged, and a chain cannot pass from one to the other (the
increment's log goes to −∞ at the cut, and across it every label changes at once).
One chain then sees only one half of the posterior, which simulation-based calibration
of the default model caught (docs/bayes.md, "Simulation-based calibration").

With exchangeable priors — every per-population prior the same, a symmetric Dirichlet,
the visibility wall a sum over populations, which holds for ``planet_components = 1``
and Gaussian populations — the ordered posterior is exactly the exchangeable (unordered)
posterior folded onto μ_q,1 < … < μ_q,K: sorting each draw of the unordered model by
mean log q, every per-population parameter along, gives draws of the model's posterior.
The unordered density has no wall at ties, so a chain moves between the halves.
:func:`exchangeable_density` writes that density from the model's own
:class:`~vlms_bayes.models.logdensity.MixtureDensity` (it is the same function of the
sorted point, less the ordered transform's log-Jacobian); its ``constrained`` returns the
sorted draws, so everything downstream reads the model's variables unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from vlms_bayes.models.logdensity import FreeVar, MixtureDensity

#: Transforms of per-population free variables that act elementwise (a permutation of the
#: constrained values permutes the unconstrained ones).
_ELEMENTWISE = ("none", "log", "logodds", "log1p")


def is_exchangeable(density: MixtureDensity) -> bool:
    """Whether ``density``'s populations can be exchanged (see the module docstring).

    True when ``mu_logq`` is ordered over K > 1 populations and every free variable is a
    per-population vector of that length on the ``population`` dimension (so no shared
    eccentricity groups, no power-law population).
    """
    mu = next((v for v in density.free if v.name == "mu_logq"), None)
    if mu is None or mu.transform != "ordered" or mu.size < 2:
        return False
    return all(v.size == mu.size and v.dim == "population"
               and (v.transform in (*_ELEMENTWISE, "simplex") or v is mu)
               for v in density.free)


def exchangeable_density(density: MixtureDensity) -> MixtureDensity:
    """The unordered twin of an ordered mixture density (module docstring).

    Parameters
    ----------
    density : MixtureDensity
        From :func:`vlms_bayes.models.logdensity.mixture_density`; must pass
        :func:`is_exchangeable`.

    Returns
    -------
    MixtureDensity
        ``mu_logq`` unconstrained (transform ``"none"``); ``logp(u)`` the exchangeable log
        density; ``constrained(u)`` the model's variables at ``u`` sorted by mean log q.

    Raises
    ------
    ValueError
        If the density is not exchangeable.
    """
    if not is_exchangeable(density):
        raise ValueError("exchangeable_density needs an ordered mixture whose free variables "
                         "are all per-population vectors (planet_components = 1, Gaussian "
                         "populations).")
    free = tuple(FreeVar(v.name, v.size, "none", v.dim) if v.name == "mu_logq" else v
                 for v in density.free)
    ordered = tuple(density.free)

    def logp(u: Any) -> Any:
        uo, log_inc = _ordered_point(ordered, u)
        return density.logp(uo) - _sum(log_inc)

    def log_prior(u: Any) -> Any:
        uo, log_inc = _ordered_point(ordered, u)
        return density.log_prior(uo) - _sum(log_inc)

    def constrained(u: Any) -> dict[str, Any]:
        return density.constrained(_ordered_point(ordered, u)[0])

    logp_with = constrained_with = None
    if density.logp_with is not None and density.constrained_with is not None:
        # one function object per model settings, as the density's own: the compiled
        # sampler (inference.nuts_jax.chain_runner, cached on it) serves every dataset
        logp_with, constrained_with = _with_data(density.logp_with,
                                                 density.constrained_with, ordered)
    return MixtureDensity(free, logp, log_prior, constrained, dict(density.dims),
                          dict(density.coords), defaults=dict(density.defaults),
                          notes=list(density.notes), data=density.data,
                          logp_with=logp_with, constrained_with=constrained_with)


def _sum(x: Any) -> Any:
    import jax.numpy as jnp  # heavy: keeps --help fast

    return jnp.sum(x)


def _ordered_point(ordered: tuple[FreeVar, ...], u: Any) -> tuple[dict[str, Any], Any]:
    """The ordered density's unconstrained point of the sorted ``u``, and log increments."""
    import jax.numpy as jnp  # heavy: keeps --help fast

    mu = u["mu_logq"]
    perm = jnp.argsort(mu)
    srt = mu[perm]
    log_inc = jnp.log(jnp.diff(srt))
    out = {}
    for v in ordered:
        x = u[v.name]
        if v.name == "mu_logq":
            out[v.name] = jnp.concatenate([srt[:1], log_inc])
        elif v.transform == "simplex":  # centred log-ratios: permute the full vector
            full = jnp.concatenate([x, -jnp.sum(x, keepdims=True)])
            out[v.name] = full[perm][:-1]
        else:
            out[v.name] = x[perm]
    return out, log_inc


@lru_cache(maxsize=32)
def _with_data(logp_with: Callable[[Any, Any], Any],
               constrained_with: Callable[[Any, Any], Any], ordered: tuple[FreeVar, ...],
               ) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    """The exchangeable (u, data) functions of an ordered density's, one pair per model."""

    def logp(u: Any, data: Any) -> Any:
        uo, log_inc = _ordered_point(ordered, u)
        return logp_with(uo, data) - _sum(log_inc)

    def constrained(u: Any, data: Any) -> dict[str, Any]:
        return constrained_with(_ordered_point(ordered, u)[0], data)

    return logp, constrained
