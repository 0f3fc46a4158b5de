"""Run a built PyMC model with a chosen NUTS backend and return ArviZ data.

``sample(model, backend=...)`` is the one entry point for a PyMC model; backends are
imported lazily:

* ``"jax"`` (the fits' default; not through this function): the same model written
  directly in JAX (:mod:`vlms_bayes.models.logdensity`, held to PyMC's log density by a
  test) and sampled by NumPyro's NUTS (:mod:`vlms_bayes.inference.nuts_jax`); 2.4×
  faster sampling than PyMC's JAX translation on the real sample (docs/bayes.md, Speed).
* ``"numpyro"``: PyMC's model compiled to JAX and sampled by NumPyro's NUTS.
  JAX runs in float64 inside a scoped ``jax.enable_x64(True)`` (the process-wide setting
  is left alone). Chains run in parallel when JAX has at least ``chains`` host "devices"
  (the command line asks for them through ``XLA_FLAGS`` before JAX starts, see
  :func:`xla_flags_with_host_devices`), else vectorised on one device.
* ``"pymc"``: PyMC's own NUTS (C backend), chains in parallel processes.
* ``"nutpie"``: nutpie, if installed.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Literal, get_args

from vlms_bayes.errors import VlmsBayesError

log = logging.getLogger(__name__)

Backend = Literal["jax", "numpyro", "pymc", "nutpie"]
BACKENDS: tuple[str, ...] = get_args(Backend)


@dataclass(frozen=True)
class SampleTiming:
    """Wall time of one sampling call, seconds (compile and sampling not separable here)."""

    total_s: float


def check_backend(backend: str) -> str:
    """Return ``backend`` or raise a :class:`VlmsBayesError` listing the valid choices."""
    if backend not in BACKENDS:
        raise VlmsBayesError(
            f"Unknown sampler backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    return backend


def xla_flags_with_host_devices(flags: str, n_devices: int) -> str:
    """``XLA_FLAGS`` that ask for ``n_devices`` host devices (one CPU core each).

    Pure: the command line sets the environment variable with it before JAX starts
    (:func:`vlms_bayes.cli.request_jax_host_devices`); flags that already choose a device
    count are returned unchanged. With at least ``chains`` devices NumPyro runs the chains
    in parallel, otherwise vectorized.
    """
    if "xla_force_host_platform_device_count" in flags:
        return flags
    return f"{flags} --xla_force_host_platform_device_count={int(n_devices)}".strip()


def sample(
    model: Any,
    *,
    backend: Backend = "numpyro",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int = 0,
    target_accept: float = 0.9,
    initvals: dict[str, Any] | None = None,
    jitter: bool = False,
    progressbar: bool = False,
    max_tree_depth: int = 10,
) -> Any:
    """Sample a PyMC model with NUTS.

    Parameters
    ----------
    model : pymc.Model
        A model from :func:`vlms_bayes.models.mixture.build_mixture_model`.
    backend : {"numpyro", "pymc", "nutpie"}
        Which NUTS implementation runs it ("jax" is for
        :func:`vlms_bayes.inference.nuts_jax.sample_density`).
    draws, tune, chains : int
        Posterior draws and warm-up steps per chain, and the number of chains.
    random_seed : int
        Seed of the sampler (initial jitter and the chains).
    target_accept : float
        NUTS target acceptance probability (higher: smaller steps, fewer divergences).
    initvals : dict, optional
        Starting values by variable name (constrained space).
    jitter : bool
        Jitter the starting point of each chain (PyMC's uniform(-1, 1) in the
        unconstrained space). Off by default: with a data-driven start (see
        :func:`vlms_bayes.inference.initvals.initial_values`) jitter of that size can push chains
        into the label-swapped or method-split modes of a mixture.
    progressbar : bool
        Show the sampler's progress bar.
    max_tree_depth : int
        Largest NUTS tree depth (at most 2**depth − 1 leapfrog steps per draw; 10 is the
        samplers' default; nutpie keeps its own). A lower cap bounds the cost of a posterior
        with flat, weakly identified directions, at the price of slower mixing there.

    Returns
    -------
    xarray.DataTree
        ArviZ data with ``posterior`` and ``sample_stats`` (``diverging``, ``energy``).

    Raises
    ------
    VlmsBayesError
        An unknown backend, or one that is not installed.
    """
    check_backend(backend)
    if backend == "jax":
        raise VlmsBayesError("The 'jax' backend samples a MixtureDensity "
                             "(vlms_bayes.inference.nuts_jax.sample_density), not a PyMC model.")
    import pymc as pm  # heavy: PyMC

    kwargs: dict[str, Any] = dict(
        draws=int(draws), tune=int(tune), chains=int(chains), random_seed=int(random_seed),
        progressbar=progressbar, model=model, initvals=initvals,
        compute_convergence_checks=False,
    )
    t0 = time.perf_counter()
    if backend == "numpyro":
        import jax  # heavy: JAX

        method = "parallel" if jax.local_device_count() >= chains else "vectorized"
        with jax.enable_x64(True):  # scoped: the rest of the process keeps its setting
            dt = pm.sample(nuts_sampler="numpyro",
                           nuts={"chain_method": method, "target_accept": target_accept,
                                 "jitter": jitter, "max_tree_depth": int(max_tree_depth)},
                           **kwargs)
    elif backend == "pymc":
        dt = pm.sample(nuts={"target_accept": target_accept,
                             "max_treedepth": int(max_tree_depth)},
                       init="jitter+adapt_diag" if jitter else "adapt_diag",
                       cores=min(chains, os.cpu_count() or 1), **kwargs)
    else:
        try:
            import nutpie  # noqa: F401  # heavy: optional nutpie
        except ImportError as exc:
            raise VlmsBayesError(
                "The 'nutpie' backend needs the nutpie package (pip install nutpie); "
                f"or choose one of {', '.join(b for b in BACKENDS if b != 'nutpie')}."
            ) from exc
        dt = pm.sample(nuts_sampler="nutpie", nuts={"target_accept": target_accept}, **kwargs)
    log.info("sampled %d chains x %d draws with %s in %.1f s", chains, draws, backend,
             time.perf_counter() - t0)
    return dt
