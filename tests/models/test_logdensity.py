"""The hand-written JAX log density against the PyMC model it re-implements.

For every variant of the model (K = 1, 2, 3; naive and selection-aware; a two-component
planet-like population; a power-law binary-like population; minimum masses, projected
separations, measured and censored eccentricities, a method without a selection function)
the two must give the same log density and gradient at random points of the unconstrained
space.

PyMC's compiled log density carries a constant offset of ~1e-7 (its normal and log-normal
normalising constants are rounded at the 1e-8 level per term; SciPy agrees with the JAX
density, see ``test_priors_match_scipy``), so log densities are compared as differences
between points — which is all that NUTS uses — and the offset is bounded separately.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from vlms_bayes.models.logdensity import forward_transform, mixture_density
from vlms_bayes.models.mixture import MixturePriors, build_mixture_model
from vlms_bayes.models.selection import SelectionModel

pm = pytest.importorskip("pymc")
jax = pytest.importorskip("jax")

@pytest.fixture(scope="module")
def data(mixed_method_data):
    return mixed_method_data(30)


def _pymc_logp_and_grad(model):
    """PyMC's log density (with Jacobians) and gradient as functions of the value vars."""
    from pymc.sampling.jax import get_jaxified_logp

    logp = get_jaxified_logp(model)
    return jax.jit(jax.value_and_grad(lambda *x: logp(x), argnums=tuple(
        range(len(model.value_vars)))))


SLOW = pytest.mark.slow  # the same code paths as the default cases, other K
# (the power-law cases compile for ~50 s each: slow; the default tier checks the PyMC
# builder's power-law layout and pieces in tests/models/test_binary_powerlaw.py)
CASES = [
    pytest.param(dict(n_components=1, selection=None), id="K1-naive"),
    pytest.param(dict(n_components=2, selection=None), id="K2-naive", marks=SLOW),
    pytest.param(dict(n_components=1, selection=SelectionModel()), id="K1-sel", marks=SLOW),
    pytest.param(dict(n_components=2, selection=SelectionModel()), id="K2-sel"),
    pytest.param(dict(n_components=3, selection=SelectionModel()), id="K3-sel", marks=SLOW),
    pytest.param(dict(n_components=2, selection=SelectionModel(), planet_components=2),
                 id="K2-sel-P2"),
    # the power-law binary-like population (its own kernels, γ with a log1p transform)
    pytest.param(dict(n_components=2, selection=SelectionModel(), binary_shape="powerlaw"),
                 id="K2-sel-powerlaw", marks=SLOW),
    pytest.param(dict(n_components=2, selection=None, binary_shape="powerlaw"),
                 id="K2-naive-powerlaw", marks=SLOW),
    pytest.param(dict(n_components=3, selection=SelectionModel(), planet_components=2,
                      binary_shape="powerlaw"), id="K3-sel-P2-powerlaw", marks=SLOW),
]


@pytest.mark.parametrize("case", CASES)
def test_log_density_and_gradient_match_pymc(data, case):
    model = build_mixture_model(data, **case)
    dens = mixture_density(data, **case)
    assert [v.name.split("_")[0] for v in model.value_vars] == [
        v.name.split("_")[0] for v in dens.free]
    ref = _pymc_logp_and_grad(model)
    with jax.enable_x64(True):
        # the form the sampler runs: the data an argument of the program
        mine = jax.jit(jax.value_and_grad(dens.logp_with))
        rng = np.random.default_rng(7)
        ip = model.initial_point()
        vals, grads = [], []
        for _ in range(4):
            x = [ip[v.name] + 0.5 * rng.standard_normal(np.shape(ip[v.name]))
                 for v in model.value_vars]
            u = {f.name: xi for f, xi in zip(dens.free, x, strict=True)}
            a, ga = ref(*x)
            b, gb = mine(u, dens.data)
            vals.append((float(a), float(b)))
            for f, g1 in zip(dens.free, ga, strict=True):
                grads.append((np.asarray(g1), np.asarray(gb[f.name])))
    vals = np.array(vals)
    offset = vals[:, 0] - vals[:, 1]
    assert np.all(np.isfinite(vals))
    assert np.abs(offset).max() < 1e-6                      # PyMC's rounded constants
    assert np.ptp(offset) < 1e-10 * max(1.0, np.abs(vals).max())  # differences: exact
    for g1, g2 in grads:
        np.testing.assert_allclose(g2, g1, rtol=1e-9, atol=1e-9)


def test_priors_and_jacobians_match_scipy(data, log_abs_jacobian):
    """The prior and Jacobian part against SciPy's densities and numerical Jacobians."""
    pr = MixturePriors()
    dens = mixture_density(data, n_components=2)
    rng = np.random.default_rng(3)
    p = {"mu_logq": np.sort(rng.normal(-2.5, 1.0, 2)), "mu_loga": rng.normal(-1, 1, 2),
         "sigma_logq": rng.uniform(0.1, 1, 2), "sigma_loga": rng.uniform(0.1, 1, 2),
         "rho_beta": rng.uniform(0.2, 0.8, 2), "e_alpha": rng.uniform(0.5, 3, 2),
         "e_beta": rng.uniform(1, 10, 2), "w": rng.dirichlet([2.0, 2.0])}
    u = dens.unconstrain(p)
    with jax.enable_x64(True):
        back = {k: np.asarray(v) for k, v in dens.constrained(u).items()}
        mine = float(dens.log_prior(u))

        def constrain(name):
            return lambda x: np.asarray(dens.constrained({**u, name: x})[name])

        log_jac = sum(log_abs_jacobian(constrain(f.name), np.asarray(u[f.name], float),
                                        f.n_free) for f in dens.free)
    for k, v in p.items():
        np.testing.assert_allclose(back[k], v, rtol=1e-12)
    lp = (stats.dirichlet.logpdf(p["w"], [pr.weight_concentration] * 2)
          + stats.norm.logpdf(p["mu_logq"], pr.mu_logq_mean, pr.mu_logq_sd).sum()
          + stats.norm.logpdf(p["mu_loga"], pr.mu_loga_mean, pr.mu_loga_sd).sum()
          + stats.halfnorm.logpdf(p["sigma_logq"], scale=pr.scale_sd).sum()
          + stats.halfnorm.logpdf(p["sigma_loga"], scale=pr.scale_sd).sum()
          + stats.beta.logpdf(p["rho_beta"], pr.lkj_eta, pr.lkj_eta).sum()
          + stats.lognorm.logpdf(p["e_alpha"], s=pr.e_alpha_log_sd,
                                 scale=pr.e_alpha_median).sum()
          + stats.lognorm.logpdf(p["e_beta"], s=pr.e_beta_log_sd, scale=pr.e_beta_median).sum())
    assert mine == pytest.approx(lp + log_jac, abs=1e-7)


def test_forward_and_backward_transforms_invert():
    rng = np.random.default_rng(0)
    x = {"none": rng.normal(size=3), "log": rng.uniform(0.1, 3, 3),
         "ordered": np.sort(rng.normal(size=3)), "logodds": rng.uniform(0.05, 0.95, 3),
         "simplex": rng.dirichlet(np.ones(3))}
    from vlms_bayes.models.logdensity import FreeVar, MixtureDensity

    free = tuple(FreeVar(k, 3, k, "population") for k in x)
    dens = MixtureDensity(free, logp=lambda u: 0.0, log_prior=lambda u: 0.0,
                          constrained=lambda u: {}, dims={}, coords={}, defaults={})
    u = dens.unconstrain(x)
    assert u["simplex"].shape == (2,)
    for k, v in x.items():
        if k != "simplex":
            np.testing.assert_allclose(forward_transform(v, k), u[k])


def _random_points(dens, n, seed):
    """``n`` unconstrained points around the density's starting values."""
    rng = np.random.default_rng(seed)
    u0 = dens.unconstrain({})
    return [{k: v + 0.5 * rng.standard_normal(v.shape) for k, v in u0.items()}
            for _ in range(n)]


@pytest.mark.parametrize("case", [c if c.id != "K2-sel" else pytest.param(*c.values, id=c.id,
                                                                            marks=SLOW)
                                  for c in CASES])
def test_padded_data_argument_density_equals_the_unpadded_one(data, case):
    """Data as an argument, padded to buckets: the same log density as the unpadded
    density with its data in the program (gradients: against PyMC, above)."""
    exact = mixture_density(data, pad=False, **case)
    padded = mixture_density(data, pad=True, **case)
    masks = [padded.data["row_mask"], padded.data["e_limit"]["mask"]]
    assert all(m.size > m.sum() for m in masks)   # padded rows really are there
    assert exact.data["row_mask"].all()
    with jax.enable_x64(True):
        ref = jax.jit(exact.logp)              # data in the program, exact shapes
        mine = jax.jit(padded.logp_with)       # data an argument, padded
        for u in _random_points(exact, 4, 11):
            a, b = float(ref(u)), float(mine(u, padded.data))
            assert np.isfinite(a)
            assert abs(b - a) <= 1e-10 * max(1.0, abs(a))


def test_one_bucket_of_datasets_compiles_once(data):
    """Two datasets with the same padded shapes (an SBC replica: the design's objects with
    new values) run one compiled log density, and a fresh function of the same shapes — as
    a new process would build — is served by the persistent compilation cache."""
    from vlms_bayes.inference.nuts_jax import (
        CACHE_HIT_EVENT,
        COMPILE_EVENT,
        compile_events,
    )

    rng = np.random.default_rng(1)
    other = replace(data, y_logq=data.y_logq + 0.3 * rng.standard_normal(data.n),
                    y_loga=data.y_loga - 0.2, e_obs=np.clip(data.e_obs + 0.05, 0.0, 0.95))
    case = dict(n_components=1, selection=SelectionModel())
    d1, d2 = mixture_density(data, **case), mixture_density(other, **case)
    assert jax.tree.map(np.shape, d1.data) == jax.tree.map(np.shape, d2.data)
    assert d1.logp_with is d2.logp_with
    u = _random_points(d1, 1, 2)[0]
    prev = jax.config.jax_persistent_cache_min_compile_time_secs
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # cache every one
    try:
        with jax.enable_x64(True):
            fn = jax.jit(jax.value_and_grad(d1.logp_with))
            with compile_events() as seen:
                v1, _ = fn(u, d1.data)
                v2, _ = fn(u, d2.data)
            assert seen[COMPILE_EVENT] == 1 and fn._cache_size() == 1
            assert float(v1) != float(v2)   # the second dataset's values, not the first's
            assert float(v2) == pytest.approx(float(d2.logp(u)), rel=1e-12)
            with compile_events() as fresh:
                jax.jit(jax.value_and_grad(d1.logp_with))(u, d2.data)
    finally:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", prev)
    assert fresh[CACHE_HIT_EVENT] == 1
