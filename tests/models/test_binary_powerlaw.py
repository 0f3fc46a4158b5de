"""Exact tier: the binary-like power-law population's kernels against SciPy quadrature."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import integrate, special, stats

from vlms_bayes.inference.membership import (
    draws_from_posterior,
    e_measured_logterm,
    object_log_terms,
    pointwise_loglik,
)
from vlms_bayes.models.data import model_data_from_stacked
from vlms_bayes.models.likelihood import (
    NUMPY_OPS,
    inclination_gauss_logint,
    msini_qa_logpdf,
    powerlaw_lambda,
    powerlaw_logq_logpdf,
    powerlaw_msini_logq_logpdf,
    powerlaw_qa_logpdf,
    projected_qa_logpdf,
)
from vlms_bayes.models.logdensity import mixture_density
from vlms_bayes.models.mixture import MixturePriors
from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.selection_norm import (
    log_xi_powerlaw,
    object_selection_logterms,
    selection_terms,
)
from vlms_bayes.models.simulate import simulate_catalogue

LN10 = np.log(10.0)


def _f_ref(y, s, lam):
    """Observed log q of a true-mass object: x = −E with E ~ Exp(λ), plus N(0, s²) noise,
    so −y follows SciPy's exponentially modified normal (independent closed form)."""
    return stats.exponnorm.logpdf(-y, 1.0 / (lam * s), scale=s)


def _log_pu(u):
    """Isotropic-inclination law of u = −log10 sin i (from cos i uniform)."""
    return np.log(LN10) - 2 * LN10 * u - 0.5 * np.log(-np.expm1(-2 * LN10 * u))


def _log_quad(log_f, breaks):
    """log ∫_0^∞ exp(log_f(u)) du by QUADPACK on panels in w = √u (u = w² removes the
    1/√u singularity of the inclination law at 0), scaled by the integrand's maximum on a
    fine grid (so that nothing underflows)."""
    grid = np.concatenate([np.geomspace(1e-12, 1e-3, 200), np.linspace(1e-3, 60.0, 30001)])
    vals = log_f(grid)
    m = np.max(vals[np.isfinite(vals)])
    u_peak = grid[np.nanargmax(vals)]
    edges = sorted({0.0, *[b for b in (*breaks, u_peak) if 0 < b < 60.0], 60.0})
    total = 0.0
    for a, b in itertools.pairwise(np.sqrt(edges)):
        v, _ = integrate.quad(lambda w: np.exp(log_f(w * w) + np.log(2 * w) - m), a, b,
                              limit=500, epsabs=0, epsrel=1e-11)
        total += v
    return m + np.log(total)


def _msini_ref(y, s, lam):
    ustar = -y - lam * s * s
    return _log_quad(lambda u: _log_pu(u) + _f_ref(y + u, s, lam),
                     [ustar - 5 * s, ustar, ustar + 5 * s])


def _projected_ref(y, mu, var):
    sd = np.sqrt(var)
    u0 = mu - y
    return _log_quad(lambda u: _log_pu(u) + stats.norm.logpdf(y + u, mu, sd),
                     [u0 - 5 * sd, u0, u0 + 5 * sd])


def test_lambda_is_the_exponent_of_a_power_law_in_q():
    gamma = 1.8
    lam = powerlaw_lambda(gamma)
    q = np.array([0.1, 0.5, 1.0])
    # density in q: p(x) |dx/dq| = λ e^{λ log10 q} / (q ln 10) = (γ + 1) q^γ
    np.testing.assert_allclose(lam * np.exp(lam * np.log10(q)) / (q * LN10),
                               (gamma + 1) * q**gamma, rtol=1e-14)


@pytest.mark.parametrize("gamma", [-0.9, 0.0, 1.0, 1.8, 6.0, 30.0])
def test_true_mass_kernel_matches_exponnorm(gamma):
    lam = powerlaw_lambda(gamma)
    y = np.array([-6.0, -3.0, -1.0, -0.3, -0.05, 0.0, 0.05, 0.3, 1.0, 3.0])
    for s in (0.005, 0.05, 0.3, 1.5):
        got = powerlaw_logq_logpdf(y, s, lam, ops=NUMPY_OPS)
        np.testing.assert_allclose(got, _f_ref(y, s, lam), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("gamma", [-0.9, 0.0, 1.0, 1.8, 6.0, 30.0])
def test_minimum_mass_kernel_matches_quad(gamma):
    lam = powerlaw_lambda(gamma)
    cases = [(y, s) for s in (0.01, 0.1, 0.5, 1.5) for y in (-5.0, -1.5, -0.2, 0.0, 0.1, 0.8)]
    y = np.array([c[0] for c in cases])[:, None, None]  # node axis −2
    s = np.array([c[1] for c in cases])[:, None, None]
    got = powerlaw_msini_logq_logpdf(y, s, np.full(1, lam), ops=NUMPY_OPS)[:, 0]
    want = np.array([_msini_ref(yy, ss, lam) for yy, ss in cases])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def test_projection_kernel_matches_quad():
    cases = [(y, mu, v) for v in (0.02**2, 0.2**2, 1.0) for mu in (-1.0, 0.5)
             for y in (-3.0, -1.2, 0.0, 0.6, 2.0)]
    y = np.array([c[0] for c in cases])
    mu = np.array([c[1] for c in cases])
    var = np.array([c[2] for c in cases])
    got = inclination_gauss_logint((mu - y)[:, None, None], var[:, None, None],
                                   ops=NUMPY_OPS)[:, 0]
    want = np.array([_projected_ref(*c) for c in cases])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def test_population_kernel_factorises_by_observation_kind():
    rng = np.random.default_rng(3)
    n = 5
    yq, ya = rng.uniform(-3, 0.2, n), rng.uniform(-1.5, 2.0, n)
    sq, sa = rng.uniform(0.02, 0.4, n), rng.uniform(0.02, 0.3, n)
    gamma, mu_a, sd_a = 2.3, 0.7, 0.4
    lam = powerlaw_lambda(gamma)
    p = {"lam": np.array([lam]), "mu_a": np.array([mu_a]), "sd_a": np.array([sd_a])}
    va = sd_a**2 + sa**2
    la = stats.norm.logpdf(ya, mu_a, np.sqrt(va))
    plain = powerlaw_qa_logpdf(yq, ya, sq, sa, p["lam"], p["mu_a"], p["sd_a"], kind="plain",
                               ops=NUMPY_OPS)
    np.testing.assert_allclose(plain[:, 0], _f_ref(yq, sq, lam) + la, atol=1e-10)
    msini = powerlaw_qa_logpdf(yq, ya, sq, sa, p["lam"], p["mu_a"], p["sd_a"], kind="msini",
                               ops=NUMPY_OPS)
    want = [_msini_ref(yq[i], sq[i], lam) + la[i] for i in range(n)]
    np.testing.assert_allclose(msini[:, 0], want, atol=1e-8)
    proj = powerlaw_qa_logpdf(yq, ya, sq, sa, p["lam"], p["mu_a"], p["sd_a"],
                              kind="projected", ops=NUMPY_OPS)
    want = [_f_ref(yq[i], sq[i], lam) + _projected_ref(ya[i], mu_a, va[i]) for i in range(n)]
    np.testing.assert_allclose(proj[:, 0], want, atol=1e-8)
    # parameters with leading draw axes broadcast to (S, N, 1)
    batch = {k: np.stack([v, v])[:, None, None, :] for k, v in p.items()}
    out = powerlaw_qa_logpdf(yq, ya, sq, sa, batch["lam"], batch["mu_a"], batch["sd_a"],
                             kind="msini", ops=NUMPY_OPS)
    assert out.shape == (2, n, 1)
    np.testing.assert_allclose(out[1], msini, atol=1e-12)


@pytest.mark.parametrize("method", ["Radial Velocity", "Transit", "Microlensing", "Imaging"])
def test_xi_of_the_power_law_against_brute_force(method):
    """ξ_g on the selection grid (the power law and p_det smoothed by τ) against
    (i) a 2-D trapezoid on a grid 5× finer (0.02 dex) of p_det × SciPy's exponnorm density and
    (ii) Monte Carlo from the population (x = ln U / λ, plus the τ smoothing)."""
    model = SelectionModel()
    frame = simulate_catalogue(20, random_seed=1)
    frame["discoverymethod"] = method
    data, _ = model_data_from_stacked(frame)
    terms = selection_terms(data, model)
    host = terms.group_host_msun[0]
    mag = terms.group_host_mag[0]
    tau = np.sqrt(terms.smooth_var)
    (lo_q, hi_q), (lo_a, hi_a) = model.logq_range, model.loga_range
    rng = np.random.default_rng(7)
    for gamma, mu_a, sd_a in ((1.8, 0.5, 0.4), (6.0, -0.5, 0.8), (-0.5, 1.5, 0.3)):
        lam = powerlaw_lambda(gamma)
        lx = float(log_xi_powerlaw(terms, np.array([lam]), np.array([mu_a]),
                                   np.array([sd_a]), log=np.log,
                                   log_ndtr=special.log_ndtr)[0, 0])
        gq = np.linspace(lo_q, hi_q, 376)
        ga = np.linspace(lo_a, hi_a, 351)
        qq, aa = np.meshgrid(gq, ga, indexing="ij")
        dens = (np.exp(_f_ref(qq, tau, lam))
                * stats.norm.pdf(aa, mu_a, np.sqrt(sd_a**2 + tau**2)))
        pdet = model.p_det(method, qq, aa, m_star_msun=host,
                           host_mag=None if not np.isfinite(mag) else mag)
        fine = integrate.trapezoid(integrate.trapezoid(dens * pdet, ga, axis=1), gq)
        np.testing.assert_allclose(np.exp(lx), fine, rtol=2e-3, atol=1e-6)
        n = 100_000
        x = np.log(rng.uniform(size=n)) / lam + tau * rng.standard_normal(n)
        a = rng.normal(mu_a, np.sqrt(sd_a**2 + tau**2), n)
        inside = (x >= lo_q) & (x <= hi_q) & (a >= lo_a) & (a <= hi_a)
        p = np.where(inside, model.p_det(method, x, a, m_star_msun=host,
                                         host_mag=None if not np.isfinite(mag) else mag), 0.0)
        assert abs(np.exp(lx) - p.mean()) < 5 * p.std() / np.sqrt(n) + 1e-4


# ----------------------------------------------------------------------------------------
# the JAX log density with binary_shape="powerlaw"
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(mixed_method_data):
    return mixed_method_data(24)


def _random_point(rng, kg, k, n_e):
    return {"mu_logq": np.sort(rng.normal(-2.5, 1.0, kg)), "mu_loga": rng.normal(-0.5, 1, k),
            "sigma_logq": rng.uniform(0.2, 1, kg), "sigma_loga": rng.uniform(0.2, 1, k),
            "rho_beta": rng.uniform(0.2, 0.8, kg), "e_alpha_pop": rng.uniform(0.5, 3, n_e),
            "e_beta_pop": rng.uniform(1, 10, n_e), "f_det": rng.dirichlet(np.full(k, 2.0)),
            "gamma_q": rng.uniform(0.0, 6.0, 1)}


def _scipy_prior(p, pr):
    k = p["mu_loga"].size
    return (stats.dirichlet.logpdf(p["f_det"], [pr.weight_concentration] * k)
            + stats.norm.logpdf(p["mu_logq"], pr.mu_logq_mean, pr.mu_logq_sd).sum()
            + stats.norm.logpdf(p["mu_loga"], pr.mu_loga_mean, pr.mu_loga_sd).sum()
            + stats.halfnorm.logpdf(p["sigma_logq"], scale=pr.scale_sd).sum()
            + stats.halfnorm.logpdf(p["sigma_loga"], scale=pr.scale_sd).sum()
            + stats.beta.logpdf(p["rho_beta"], pr.lkj_eta, pr.lkj_eta).sum()
            + stats.lognorm.logpdf(p["e_alpha_pop"], s=pr.e_alpha_log_sd,
                                   scale=pr.e_alpha_median).sum()
            + stats.lognorm.logpdf(p["e_beta_pop"], s=pr.e_beta_log_sd,
                                   scale=pr.e_beta_median).sum()
            + stats.lognorm.logpdf(p["gamma_q"] + 1.0, s=pr.gamma_q_log_sd,
                                   scale=1.0 + pr.gamma_q_median).sum())


def _as_posterior(dens, values):
    """A one-chain, one-draw posterior Dataset of the density's constrained values."""
    from arviz_base import from_dict

    post = {k: np.asarray(v)[None, None] for k, v in values.items()}
    dt = from_dict({"posterior": post}, dims={n: list(d) for n, d in dens.dims.items()},
                   coords=dens.coords, check_conventions=False)
    return dt["posterior"]


def _scipy_likelihood(data, p, selection, pr, planet_components, wall_only=False):
    """The selection-aware mixture likelihood, written independently: the power law by
    SciPy's exponnorm and QUADPACK, the Gaussian components by SciPy (true masses) or the
    inclination kernels tested against QUADPACK in test_mixture_exact, the normalisation
    by SciPy densities on the selection grid."""
    kg = p["mu_logq"].size
    rho = 2 * p["rho_beta"] - 1
    lam = powerlaw_lambda(p["gamma_q"][0])
    comp_pop = np.r_[np.zeros(planet_components, int), np.arange(1, kg - planet_components + 2)]
    alpha, beta = p["e_alpha_pop"][comp_pop], p["e_beta_pop"][comp_pop]
    n, k = data.n, kg + 1
    lt = np.empty((n, k))
    for i in range(n):
        yq, ya, sq, sa = data.y_logq[i], data.y_loga[i], data.s_logq[i], data.s_loga[i]
        for j in range(kg):
            sdq, sda = p["sigma_logq"][j], p["sigma_loga"][j]
            args = (np.array([yq]), np.array([ya]), np.array([sq]), np.array([sa]),
                    p["mu_logq"][j:j + 1], p["mu_loga"][j:j + 1], np.array([sdq]),
                    np.array([sda]), rho[j:j + 1])
            if data.msini[i]:
                lt[i, j] = msini_qa_logpdf(*args, ops=NUMPY_OPS)[0, 0]
            elif data.is_projected[i]:
                lt[i, j] = projected_qa_logpdf(*args, ops=NUMPY_OPS)[0, 0]
            else:
                c = rho[j] * sdq * sda
                lt[i, j] = stats.multivariate_normal.logpdf(
                    [yq, ya], [p["mu_logq"][j], p["mu_loga"][j]],
                    [[sdq**2 + sq**2, c], [c, sda**2 + sa**2]])
        mu_a, va = p["mu_loga"][-1], p["sigma_loga"][-1] ** 2 + sa**2
        if data.msini[i]:
            lt[i, -1] = _msini_ref(yq, sq, lam) + stats.norm.logpdf(ya, mu_a, np.sqrt(va))
        elif data.is_projected[i]:
            lt[i, -1] = _f_ref(yq, sq, lam) + _projected_ref(ya, mu_a, va)
        else:
            lt[i, -1] = _f_ref(yq, sq, lam) + stats.norm.logpdf(ya, mu_a, np.sqrt(va))
    idx = data.idx_measured
    lt[idx] += e_measured_logterm(data.e_obs[idx], data.s_e[idx], alpha, beta)
    idx = data.idx_limit
    lt[idx] += np.log(special.betainc(alpha[None, :], beta[None, :],
                                      data.e_limit[idx][:, None]))
    # normalisation on the selection grid, SciPy densities
    terms = selection_terms(data, selection)
    t2 = terms.smooth_var
    gq, ga = terms.grid_logq, terms.grid_loga
    dens = []
    for j in range(kg):
        c = rho[j] * p["sigma_logq"][j] * p["sigma_loga"][j]
        dens.append(stats.multivariate_normal.pdf(
            np.c_[gq, ga], [p["mu_logq"][j], p["mu_loga"][j]],
            [[p["sigma_logq"][j] ** 2 + t2, c], [c, p["sigma_loga"][j] ** 2 + t2]]))
    dens.append(np.exp(_f_ref(gq, np.sqrt(t2), lam))
                * stats.norm.pdf(ga, p["mu_loga"][-1], np.sqrt(p["sigma_loga"][-1] ** 2 + t2)))
    xi = terms.weights @ np.array(dens).T                                     # (Gr, K)
    n_flat = int(np.sum(terms.object_group < 0))
    xibar = (terms.counts @ xi + n_flat) / (terms.counts.sum() + n_flat)
    z = np.minimum(0.0, (np.log(xibar) - np.log(pr.visibility_floor)) / pr.visibility_scale)
    if wall_only:
        return -0.5 * np.sum(z**2)
    w = p["f_det"] / xibar
    w = w / w.sum()
    return (-0.5 * np.sum(z**2) + special.logsumexp(lt + np.log(w), axis=1).sum()
            - terms.counts @ np.log(xi @ w))


@pytest.mark.parametrize("planet_components", [pytest.param(1, marks=pytest.mark.slow), 2])
def test_log_density_matches_an_independent_scipy_evaluation(data, planet_components,
                                                            log_abs_jacobian):
    jax = pytest.importorskip("jax")
    pr = MixturePriors()
    sel = SelectionModel()
    dens = mixture_density(data, n_components=2, selection=sel, binary_shape="powerlaw",
                           planet_components=planet_components)
    kg = planet_components
    names = [v.name for v in dens.free]
    assert "gamma_q" in names and dens.coords["power_law"] == ["binary_like"]
    rng = np.random.default_rng(11 + planet_components)
    # compiled once, with the data as an argument, as the sampler runs them: the numerical
    # Jacobian below calls the transform dozens of times, which op by op (eager) cost more
    # than the compilation (~2x the test's CPU time)
    logp_jit, constrained_jit = jax.jit(dens.logp_with), jax.jit(dens.constrained_with)
    for _ in range(2):
        p = _random_point(rng, kg, kg + 1, 2)
        if planet_components == 1:
            p["e_alpha"], p["e_beta"] = p.pop("e_alpha_pop"), p.pop("e_beta_pop")
        u = dens.unconstrain(p)
        with jax.enable_x64(True):
            def constrained(v):
                return constrained_jit(v, dens.data)

            back = {k_: np.asarray(v) for k_, v in constrained(u).items()}
            lp_all = float(logp_jit(u, dens.data))
            lp_prior = float(dens.log_prior(u))

            def constrain(name, u=u, constrained=constrained):
                return lambda x: np.asarray(constrained({**u, name: x})[name])

            log_jac = sum(log_abs_jacobian(constrain(f.name), np.asarray(u[f.name], float),
                                            f.n_free) for f in dens.free)
        for name, v in p.items():
            np.testing.assert_allclose(back[name], v, rtol=1e-12)
        if planet_components == 1:
            p["e_alpha_pop"], p["e_beta_pop"] = p.pop("e_alpha"), p.pop("e_beta")
        assert lp_prior == pytest.approx(_scipy_prior(p, pr) + log_jac, abs=1e-6)
        want = _scipy_likelihood(data, p, sel, pr, planet_components)
        assert lp_all - lp_prior == pytest.approx(want, abs=1e-7)
        # the NumPy twin (memberships, LOO) from the posterior variables at this point
        draws = draws_from_posterior(_as_posterior(dens, back))
        assert np.isnan(draws["mu_logq"][:, -1]).all()   # no Gaussian binary-like q
        terms = object_log_terms(data, draws)
        loo = pointwise_loglik(terms) + object_selection_logterms(
            selection_terms(data, sel), draws)
        wall = _scipy_likelihood(data, p, sel, pr, planet_components, wall_only=True)
        assert loo.sum() + wall == pytest.approx(want, abs=1e-7)


def test_pymc_builder_has_the_jax_densitys_layout_and_pieces(data):
    """The PyMC model with the power law: the JAX density's free variables in its order
    and shapes, γ's prior and log1p transform against SciPy, and PyTensor's log Φ against
    SciPy's over both tails (value and finite gradient). The full log density and gradient
    are held to the JAX density's to 1e-10 in tests/models/test_logdensity.py (slow tier)."""
    pm = pytest.importorskip("pymc")
    import pytensor.tensor as pt

    from vlms_bayes.errors import VlmsBayesError
    from vlms_bayes.models.mixture import build_mixture_model, pt_log_ndtr

    sel = SelectionModel()
    model = build_mixture_model(data, n_components=2, selection=sel, binary_shape="powerlaw")
    dens = mixture_density(data, n_components=2, selection=sel, binary_shape="powerlaw")
    ip = model.initial_point()
    assert [v.name for v in model.value_vars][-1] == "gamma_q_log1p__"
    assert [v.name.split("_")[0] for v in model.value_vars] == [
        v.name.split("_")[0] for v in dens.free]
    assert [ip[v.name].size for v in model.value_vars] == [v.n_free for v in dens.free]
    assert model.named_vars_to_dims["mu_logq"] == ("gaussian",)
    assert model.named_vars_to_dims["mu_loga"] == ("population",)
    assert model.coords["power_law"] == ("binary_like",)
    pr = MixturePriors()
    g = np.array([-0.5, 30.0])
    got = [float(pm.logp(model["gamma_q"], np.array([x])).eval()[0]) for x in g]
    np.testing.assert_allclose(got, stats.lognorm.logpdf(
        g + 1.0, s=pr.gamma_q_log_sd, scale=1.0 + pr.gamma_q_median), rtol=1e-12)
    np.testing.assert_allclose(ip["gamma_q_log1p__"], np.log1p(pr.gamma_q_median))
    z = np.r_[-60.0, -38.5, -10.0, -1.5, -1.0, -0.3, 0.0, 2.0, 9.0, 40.0]
    zt = pt.dvector("z")
    val = pt_log_ndtr(zt)
    grad = pt.grad(val.sum(), zt)
    v, gr = (f.eval({zt: z}) for f in (val, grad))
    np.testing.assert_allclose(v, special.log_ndtr(z), rtol=1e-13, atol=1e-300)
    assert np.isfinite(gr).all()
    with pytest.raises(VlmsBayesError, match="binary_shape must be one of"):
        mixture_density(data, n_components=2, binary_shape="lognormal")
    # K = 1 has no binary-like population: the shape changes nothing
    one = mixture_density(data, n_components=1, binary_shape="powerlaw")
    assert "gamma_q" not in [v.name for v in one.free]


@pytest.mark.slow
def test_gradient_is_finite_and_matches_finite_differences(data):
    """Compiles the gradient (tens of seconds): every component finite and equal to
    central differences, at points where γ crosses 1 (c = λ − 2 ln 10 changes sign)."""
    jax = pytest.importorskip("jax")
    dens = mixture_density(data, n_components=2, selection=SelectionModel(),
                           binary_shape="powerlaw")
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        vg = jax.jit(jax.value_and_grad(dens.logp))
        for gamma in (0.5, 1.0, 3.0):
            p = _random_point(rng, 1, 2, 2)
            p["e_alpha"], p["e_beta"] = p.pop("e_alpha_pop"), p.pop("e_beta_pop")
            p["gamma_q"] = np.array([gamma])
            u = dens.unconstrain(p)
            _, g = vg(u)
            for name, x in u.items():
                for j in range(x.size):
                    e = np.zeros(x.size)
                    e[j] = 1e-5
                    fd = (float(vg({**u, name: x + e})[0])
                          - float(vg({**u, name: x - e})[0])) / 2e-5
                    assert np.isfinite(float(g[name][j]))
                    assert float(g[name][j]) == pytest.approx(fd, rel=1e-5, abs=1e-5)
