"""The exchangeable twin of the ordered mixture density (inference.exchangeable)."""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest

from vlms_bayes.inference.exchangeable import exchangeable_density, is_exchangeable
from vlms_bayes.models.data import model_data_from_stacked
from vlms_bayes.models.logdensity import mixture_density
from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.simulate import ObservationSettings, simulate_catalogue

pytestmark = pytest.mark.usefixtures("jax_test_cache")


@pytest.fixture(scope="module")
def data():
    frame = simulate_catalogue(40, random_seed=11, observe=ObservationSettings(
        projected_methods=("Microlensing",)))
    rng = np.random.default_rng(11)
    frame["discoverymethod"] = rng.choice(["Radial Velocity", "Transit", "Microlensing",
                                           "Imaging"], size=len(frame))
    frame["sy_vmag"] = rng.uniform(9.0, 16.0, len(frame))
    d, _ = model_data_from_stacked(frame)
    return d


def _values(k, weight, rng):
    return {"mu_logq": np.sort(rng.normal(-2.5, 1.0, k)), "mu_loga": rng.normal(-1.0, 1.0, k),
            "sigma_logq": rng.uniform(0.2, 1.0, k), "sigma_loga": rng.uniform(0.2, 1.0, k),
            "rho_beta": rng.uniform(0.2, 0.8, k), "e_alpha": rng.uniform(0.5, 2.0, k),
            "e_beta": rng.uniform(1.0, 4.0, k), weight: rng.dirichlet(np.ones(k))}


@pytest.mark.parametrize(("k", "selection"), [(2, None), (3, SelectionModel())])
def test_twin_is_the_ordered_density_at_sorted_points_and_symmetric(data, k, selection):
    dens = mixture_density(data, n_components=k, selection=selection)
    weight = next(v.name for v in dens.free if v.transform == "simplex")
    twin = exchangeable_density(dens)
    rng = np.random.default_rng(k)
    with jax.enable_x64(True):
        logp, twin_logp = jax.jit(dens.logp), jax.jit(twin.logp)
        twin_con = jax.jit(twin.constrained)
        for _ in range(2):
            vals = _values(k, weight, rng)
            ordered = float(logp(dens.unconstrain(vals)))
            # the ordered transform's log-Jacobian is the log increments of the sorted means
            expected = ordered - np.sum(np.log(np.diff(vals["mu_logq"])))
            ref = dens.constrained(dens.unconstrain(vals))
            for perm in itertools.permutations(range(k)):
                shuffled = {n: np.asarray(v)[list(perm)] for n, v in vals.items()}
                u = twin.unconstrain(shuffled)
                assert float(twin_logp(u)) == pytest.approx(expected, abs=1e-8)
                got = twin_con(u)
                for name in ("mu_logq", "mu_loga", "w", "f_det", "e_alpha"):
                    if name in ref:
                        np.testing.assert_allclose(got[name], ref[name], rtol=1e-10)


def test_only_exchangeable_variants_qualify(data):
    assert is_exchangeable(mixture_density(data, n_components=2))
    assert not is_exchangeable(mixture_density(data, n_components=1))
    assert not is_exchangeable(mixture_density(data, n_components=2, planet_components=2))
    assert not is_exchangeable(mixture_density(data, n_components=2, binary_shape="powerlaw"))
    with pytest.raises(ValueError, match="per-population"):
        exchangeable_density(mixture_density(data, n_components=2, planet_components=2))


def test_twin_takes_the_data_as_an_argument_and_shares_its_program(data):
    """The twin keeps the data-argument form (one compiled sampler for every dataset of a
    design): ``logp_with(u, data)`` is ``logp(u)``, and twins of two datasets with the
    same settings are the same function objects."""
    from dataclasses import replace

    other = replace(data, y_logq=data.y_logq + 0.2)
    case = dict(n_components=2, selection=SelectionModel())
    t1, t2 = (exchangeable_density(mixture_density(d, **case)) for d in (data, other))
    assert t1.logp_with is not None and t1.logp_with is t2.logp_with
    assert t1.constrained_with is t2.constrained_with
    rng = np.random.default_rng(3)
    u = {v.name: rng.normal(0.0, 0.3, v.n_free) for v in t1.free}
    with jax.enable_x64(True):
        for t in (t1, t2):
            assert float(t.logp_with(u, t.data)) == pytest.approx(float(t.logp(u)), rel=1e-12)
        c1, c2 = t1.constrained_with(u, t1.data), t1.constrained(u)
        np.testing.assert_allclose(np.asarray(c1["mu_logq"]), np.asarray(c2["mu_logq"]))
