"""NumPyro's NUTS on the hand-written JAX log density (the ``"jax"`` sampler backend).

:func:`sample_density` runs a :class:`~vlms_bayes.models.logdensity.MixtureDensity` with
NumPyro's NUTS through ``potential_fn`` and returns the same ArviZ ``DataTree`` as PyMC's
``pm.sample`` (the same posterior variables, dims and coordinates; ``sample_stats`` with
``diverging``, ``energy``, ``lp``, ``n_steps``, ``tree_depth``, ``acceptance_rate`` and
``step_size``), so everything downstream reads either.

JAX runs in float64 inside a scoped ``jax.enable_x64(True)``. Chains run in parallel when
JAX has at least ``chains`` host devices (the CLI requests them), else vectorised.

The sampler is compiled once per model settings, sampler settings and data shapes, not
once per dataset (:func:`chain_runner`): NumPyro's NUTS kernel runs through its
functional interface with the density's data pytree and the target acceptance as
arguments of the program, so calibration replicas, refits and the gate's retry at a
higher target acceptance reuse it, in the same process and — through JAX's persistent
compilation cache — in the next. (``numpyro.infer.MCMC`` with a ``potential_fn`` closes
over the data, and its ``jit_model_args`` does not apply to parallel chains.) The draws
are those ``MCMC`` gives for the same seed up to floating-point rounding: the kernel, key
split and warm-up are the same, but XLA arranges arithmetic on arguments slightly
differently from arithmetic on constants, so long chains of a multimodal posterior can
drift apart after many steps (``share_compiled=False`` runs the former path).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np

from vlms_bayes.models.logdensity import MixtureDensity

log = logging.getLogger(__name__)


def sample_density(
    density: MixtureDensity,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int = 0,
    target_accept: float = 0.9,
    initvals: Mapping[str, Any] | None = None,
    max_tree_depth: int = 10,
    dense_mass: bool = False,
    share_compiled: bool = True,
) -> Any:
    """Sample a JAX mixture density with NumPyro's NUTS.

    Parameters
    ----------
    density : MixtureDensity
        From :func:`vlms_bayes.models.logdensity.mixture_density`.
    draws, tune, chains : int
        Posterior draws and warm-up steps per chain, and the number of chains.
    random_seed : int
        Seed of the chains.
    target_accept : float
        NUTS target acceptance probability.
    initvals : mapping, optional
        Constrained starting values of the free variables (every chain starts there, as
        the PyMC backends do without jitter); None: the prior's centre (all zeros in the
        unconstrained space).
    max_tree_depth : int
        Largest NUTS tree depth.
    dense_mass : bool
        Adapt a dense mass matrix instead of a diagonal one.
    share_compiled : bool
        Run the sampler compiled once per model settings and data shapes, with the data
        as its argument (module docstring); False compiles a program with this density's
        data in it (the former behaviour, for comparisons).

    Returns
    -------
    xarray.DataTree
        ``posterior`` and ``sample_stats`` as ``pymc.sample`` returns them.
    """
    import jax  # heavy: keeps --help fast
    import jax.numpy as jnp  # heavy: jax

    with jax.enable_x64(True):  # scoped: the rest of the process keeps its setting
        if initvals is not None:
            start = density.unconstrain(initvals)
        else:
            start = {v.name: np.zeros(v.n_free) for v in density.free}
        init = {n: jnp.asarray(np.broadcast_to(v, (chains, *np.shape(v))).copy())
                for n, v in start.items()}
        method = "parallel" if jax.local_device_count() >= chains else "vectorized"
        if chains == 1:
            method = "single"
            init = {n: v[0] for n, v in init.items()}
        settings = dict(tune=int(tune), draws=int(draws), method=method,
                        max_tree_depth=int(max_tree_depth), dense_mass=bool(dense_mass))
        key = jax.random.PRNGKey(int(random_seed))
        if chains > 1:  # as numpyro's MCMC.run: one key per chain
            key = jax.random.split(key, chains)
        shared = share_compiled and density.logp_with is not None
        if shared:
            runner = chain_runner(density.logp_with, **settings)
            z, extra = runner(key, init, density.data, jnp.float64(target_accept))
        else:  # the data in the program: compiled for this dataset alone
            z, extra = _mcmc_run(density, key, init, chains=chains,
                                 target_accept=target_accept, **settings)
        if chains == 1:
            z, extra = jax.tree.map(lambda v: v[None], (z, extra))
        flat = {n: v.reshape(chains * draws, *v.shape[2:]) for n, v in z.items()}
        if shared and density.constrained_with is not None:
            post = _constrainer(density.constrained_with)(flat, density.data)
        else:
            post = jax.jit(jax.vmap(density.constrained))(flat)
        post = {n: np.asarray(v).reshape(chains, draws, *v.shape[1:]) for n, v in post.items()}
        extra = {n: np.asarray(v) for n, v in extra.items()}
    return to_datatree(density, post, extra)


#: The per-draw fields of NumPyro's ``HMCState`` kept (``to_datatree`` names them as PyMC).
EXTRA_FIELDS = ("diverging", "energy", "potential_energy", "num_steps", "accept_prob",
                "adapt_state.step_size")


def _mcmc_run(density: MixtureDensity, key: Any, init: Any, *, chains: int,
              target_accept: float, tune: int, draws: int, method: str,
              max_tree_depth: int, dense_mass: bool) -> tuple[Any, Any]:
    """The former path: ``numpyro.infer.MCMC`` on ``density.logp`` (data in the program)."""
    from numpyro.infer import MCMC, NUTS  # heavy: numpyro

    def potential(u: Mapping[str, Any]) -> Any:
        return -density.logp(u)

    kernel = NUTS(potential_fn=potential, target_accept_prob=float(target_accept),
                  max_tree_depth=max_tree_depth, dense_mass=dense_mass)
    mcmc = MCMC(kernel, num_warmup=tune, num_samples=draws, num_chains=chains,
                chain_method="vectorized" if method == "vectorized" else "parallel",
                progress_bar=False)
    mcmc.run(key, init_params=init, extra_fields=EXTRA_FIELDS)
    z = mcmc.get_samples(group_by_chain=True)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    if chains == 1:  # the caller adds the chain axis back
        z, extra = ({n: v[0] for n, v in d.items()} for d in (z, extra))
    return z, extra


@lru_cache(maxsize=32)
def chain_runner(logp_with: Callable[[Any, Any], Any], *, tune: int, draws: int,
                 method: str, max_tree_depth: int, dense_mass: bool) -> Callable[..., Any]:
    """NUTS chains as one compiled function of (keys, starting points, data, target accept).

    NumPyro's NUTS kernel through its functional interface (``numpyro.infer.hmc.hmc`` with
    ``potential_fn_gen``), run as ``numpyro.infer.MCMC`` runs it — the same key split, the
    same warm-up, one kernel step per draw — so a seed gives the draws ``MCMC`` gives. The
    data and the target acceptance are *arguments*, not constants of the program: the
    function is cached per log density (one object per model settings, see
    :func:`vlms_bayes.models.logdensity.mixture_density`) and sampler settings, and JAX
    compiles it once per data shape in a process and keeps it in the persistent
    compilation cache for the next process (``MCMC`` with ``potential_fn`` builds and
    compiles a new program per dataset; its ``jit_model_args`` does not apply to parallel
    chains).

    ``method``: ``"single"`` (one chain, no chain axis), ``"parallel"`` (``pmap`` over the
    host devices) or ``"vectorized"`` (``vmap``). Returns ``(z, extra)``: the unconstrained
    draws and :data:`EXTRA_FIELDS`, with a leading chain axis unless ``"single"``.
    """
    import jax  # heavy: keeps --help fast
    from numpyro.infer.hmc import hmc  # heavy: numpyro

    def potential_gen(data: Any) -> Callable[[Any], Any]:
        return lambda u: -logp_with(u, data)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_gen, algo="NUTS")

    def one_chain(key: Any, init: Any, data: Any, target_accept: Any) -> Any:
        key, _ = jax.random.split(key)  # as NUTS.init (its second key seeds a model's init)
        # NUTS' defaults, as numpyro.infer.NUTS passes them
        state = init_kernel(init, num_warmup=tune, step_size=1.0, inverse_mass_matrix=None,
                            adapt_step_size=True, adapt_mass_matrix=True,
                            dense_mass=dense_mass, target_accept_prob=target_accept,
                            num_steps=None, trajectory_length=None,
                            max_tree_depth=max_tree_depth, find_heuristic_step_size=False,
                            forward_mode_differentiation=False,
                            regularize_mass_matrix=True, model_args=(data,), rng_key=key)

        def step(s: Any, _x: Any) -> tuple[Any, Any]:
            s = sample_kernel(s, model_args=(data,))
            return s, (s.z, {"diverging": s.diverging, "energy": s.energy,
                             "potential_energy": s.potential_energy,
                             "num_steps": s.num_steps, "accept_prob": s.accept_prob,
                             "adapt_state.step_size": s.adapt_state.step_size})

        # one loop over warm-up and draws (as MCMC's fori_collect): the kernel is compiled
        # once; the warm-up's outputs are dropped
        out = jax.lax.scan(step, state, None, length=tune + draws)[1]
        return jax.tree.map(lambda v: v[tune:], out)

    if method == "single":
        return jax.jit(one_chain)
    if method == "parallel":
        return jax.pmap(one_chain, in_axes=(0, 0, None, None))
    if method == "vectorized":
        return jax.jit(jax.vmap(one_chain, in_axes=(0, 0, None, None)))
    raise ValueError(f"Unknown chain method {method!r}.")


@lru_cache(maxsize=32)
def _constrainer(constrained_with: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """``constrained_with`` over a batch of points, compiled once per density and shape."""
    import jax  # heavy: keeps --help fast

    return jax.jit(jax.vmap(constrained_with, in_axes=(0, None)))


#: JAX's monitoring events counted by :func:`compile_events`: XLA compilation requests
#: (in-memory misses, whether the persistent cache then serves them or not) and the
#: persistent cache's hits and misses.
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"
CACHE_MISS_EVENT = "/jax/compilation_cache/cache_misses"


@contextmanager
def compile_events() -> Iterator[Counter[str]]:
    """Count JAX's compilation events inside the block (``jax.monitoring`` listeners).

    Yields a :class:`collections.Counter` keyed by :data:`COMPILE_EVENT`,
    :data:`CACHE_HIT_EVENT` and :data:`CACHE_MISS_EVENT`, filled as the block runs.
    """
    from jax import monitoring  # heavy: keeps --help fast

    seen: Counter[str] = Counter()
    wanted = (COMPILE_EVENT, CACHE_HIT_EVENT, CACHE_MISS_EVENT)

    def on_event(event: str, **_kw: Any) -> None:
        if event in wanted:
            seen[event] += 1

    def on_duration(event: str, _secs: float, **_kw: Any) -> None:
        on_event(event)

    monitoring.register_event_listener(on_event)
    monitoring.register_event_duration_secs_listener(on_duration)
    try:
        yield seen
    finally:
        monitoring.unregister_event_listener(on_event)
        monitoring.unregister_event_duration_listener(on_duration)


def to_datatree(density: MixtureDensity, post: dict[str, np.ndarray],
                extra: dict[str, np.ndarray]) -> Any:
    """ArviZ ``DataTree`` of constrained draws and NumPyro's extra fields (PyMC's names)."""
    from arviz_base import from_dict  # heavy: keeps --help fast

    n_steps = extra["num_steps"].astype(np.int64)
    stats = {
        "diverging": extra["diverging"].astype(bool),
        "energy": extra["energy"],
        "lp": -extra["potential_energy"],
        "n_steps": n_steps,
        "tree_depth": (np.log2(np.maximum(n_steps, 1)).astype(int) + 1),
        "acceptance_rate": extra["accept_prob"],
        "step_size": extra["adapt_state.step_size"],
    }
    import xarray as xr  # heavy: keeps --help fast

    dt = from_dict({"posterior": post, "sample_stats": stats},
                   dims={n: list(d) for n, d in density.dims.items()}, coords=density.coords,
                   check_conventions=False)  # its chain-vs-draw guess trips on draws < chains
    dt["observed_data"] = xr.DataTree(xr.Dataset())  # as pm.sample (the model observes none)
    dt["posterior"].attrs["inference_library"] = "numpyro (vlms_bayes.models.logdensity)"
    return dt
