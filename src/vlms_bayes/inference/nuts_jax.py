"""NumPyro's NUTS on the hand-written JAX log density (the ``"jax"`` sampler backend).

:func:`sample_density` runs a :class:`~vlms_bayes.models.logdensity.MixtureDensity` with
NumPyro's NUTS through ``potential_fn`` and returns the same ArviZ ``DataTree`` as PyMC's
``pm.sample`` (the same posterior variables, dims and coordinates; ``sample_stats`` with
``diverging``, ``energy``, ``lp``, ``n_steps``, ``tree_depth``, ``acceptance_rate`` and
``step_size``), so everything downstream reads either.

JAX runs in float64 inside a scoped ``jax.enable_x64(True)``. Chains run in parallel when
JAX has at least ``chains`` host devices (the CLI requests them), else vectorised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
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
    progressbar: bool = False,
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
    progressbar : bool
        Show NumPyro's progress bar.

    Returns
    -------
    xarray.DataTree
        ``posterior`` and ``sample_stats`` as ``pymc.sample`` returns them.
    """
    import jax  # heavy: keeps --help fast
    import jax.numpy as jnp  # heavy: jax
    from numpyro.infer import MCMC, NUTS  # heavy: numpyro

    with jax.enable_x64(True):  # scoped: the rest of the process keeps its setting
        if initvals is not None:
            start = density.unconstrain(initvals)
        else:
            start = {v.name: np.zeros(v.n_free) for v in density.free}
        init = {n: jnp.asarray(np.broadcast_to(v, (chains, *np.shape(v))).copy())
                for n, v in start.items()}

        def potential(u: Mapping[str, Any]) -> Any:
            return -density.logp(u)

        kernel = NUTS(potential_fn=potential, target_accept_prob=float(target_accept),
                      max_tree_depth=int(max_tree_depth), dense_mass=bool(dense_mass))
        method = "parallel" if jax.local_device_count() >= chains else "vectorized"
        mcmc = MCMC(kernel, num_warmup=int(tune), num_samples=int(draws),
                    num_chains=int(chains), chain_method=method, progress_bar=progressbar)
        mcmc.run(jax.random.PRNGKey(int(random_seed)),
                 init_params=init if chains > 1 else {n: v[0] for n, v in init.items()},
                 extra_fields=("diverging", "energy", "potential_energy", "num_steps",
                               "accept_prob", "adapt_state.step_size"))
        u = mcmc.get_samples(group_by_chain=True)
        flat = {n: v.reshape(chains * draws, *v.shape[2:]) for n, v in u.items()}
        post = jax.jit(jax.vmap(density.constrained))(flat)
        post = {n: np.asarray(v).reshape(chains, draws, *v.shape[1:]) for n, v in post.items()}
        extra = {n: np.asarray(v) for n, v in mcmc.get_extra_fields(group_by_chain=True).items()}
    return to_datatree(density, post, extra)


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
