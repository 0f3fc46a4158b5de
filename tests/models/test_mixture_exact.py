"""Exact tier: the mixture model's log density against an independent SciPy implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from vlms_bayes.models.data import E_LIMIT, E_MEASURED, E_NONE, ModelData, model_data_from_stacked
from vlms_bayes.models.mixture import MixturePriors, build_mixture_model
from vlms_bayes.models.simulate import ObservationSettings, simulate_catalogue

pm = pytest.importorskip("pymc")
pt = pytest.importorskip("pytensor.tensor")

N_NODES = 32


def _random_params(rng, k, data):
    p = {
        "w": rng.dirichlet(np.full(k, 3.0)),
        "mu_logq": np.sort(rng.normal(-2.5, 1.0, k)),
        "mu_loga": rng.normal(-1.0, 0.7, k),
        "sigma_logq": rng.uniform(0.1, 0.8, k),
        "sigma_loga": rng.uniform(0.1, 0.8, k),
        "rho_beta": rng.uniform(0.2, 0.8, k),
        "e_alpha": rng.uniform(0.3, 5.0, k),
        "e_beta": rng.uniform(0.8, 20.0, k),
    }
    if k == 1:
        p.pop("w")
    return p


def _untransformed_logp(model):
    """logp of the model as a function of the constrained values (no Jacobians)."""
    import pytensor

    fn = model.compile_logp(jacobian=False, mode="FAST_COMPILE")
    ins, outs, names = [], [], []
    for rv in model.free_RVs:
        x = rv.type()
        tr = model.rvs_to_transforms[rv]
        ins.append(x)
        outs.append(x if tr is None else tr.forward(x, *rv.owner.inputs))
        names.append((rv.name, model.rvs_to_values[rv].name))
    fwd = pytensor.function(ins, outs, on_unused_input="ignore", mode="FAST_COMPILE")

    def logp(p):
        vals = fwd(*[np.asarray(p[n], float) for n, _ in names])
        return float(fn({v: val for (_, v), val in zip(names, vals, strict=True)}))

    return logp


def _prior_logp(p, pr: MixturePriors, data, k):
    lp = 0.0
    if k > 1:
        lp += stats.dirichlet.logpdf(p["w"], np.full(k, pr.weight_concentration))
    lp += stats.norm.logpdf(p["mu_logq"], pr.mu_logq_mean, pr.mu_logq_sd).sum()
    lp += stats.norm.logpdf(p["mu_loga"], pr.mu_loga_mean, pr.mu_loga_sd).sum()
    lp += stats.halfnorm.logpdf(p["sigma_logq"], scale=pr.scale_sd).sum()
    lp += stats.halfnorm.logpdf(p["sigma_loga"], scale=pr.scale_sd).sum()
    lp += stats.beta.logpdf(p["rho_beta"], pr.lkj_eta, pr.lkj_eta).sum()
    lp += stats.lognorm.logpdf(p["e_alpha"], s=pr.e_alpha_log_sd, scale=pr.e_alpha_median).sum()
    lp += stats.lognorm.logpdf(p["e_beta"], s=pr.e_beta_log_sd, scale=pr.e_beta_median).sum()
    return lp


def _msini_log_density_quad(y_logq, y_loga, mean, cov):
    """log ∫ N2((y_logq − log10 sin i, y_loga) | mean, cov) over an isotropic inclination,
    by QUADPACK on the defining integral: cos i = c is uniform on (0, 1). With c = 1 − e^τ
    (dc = e^τ dτ, 1 − c² = e^τ (2 − e^τ)) the region c → 1 (sin i → 0, large shifts) is
    resolved; the integrand is scaled by its maximum so that it never underflows."""
    mvn = stats.multivariate_normal(mean, cov)

    def log_f(tau):
        t = np.exp(tau)
        u = -0.5 * np.log10(t * (2.0 - t))
        pts = np.stack(np.broadcast_arrays(y_logq + u, y_loga), axis=-1)
        return tau + mvn.logpdf(pts)

    grid = np.linspace(-120.0, 0.0, 20_001)
    off = np.max(log_f(grid))
    # breakpoint where the shift equals the conditional mean's distance above y
    u0 = mean[0] + cov[0][1] / cov[1][1] * (y_loga - mean[1]) - y_logq
    pts = [-2.0 * np.log(10.0) * u0 - np.log(2.0)] if u0 > 0 else None
    val, _ = integrate.quad(lambda tau: np.exp(log_f(tau) - off), -120.0, 0.0, points=pts,
                            epsabs=0, epsrel=1e-13, limit=2000)
    return np.log(val) + off


def _object_density_k(data, i, p, k):
    """Independent density of object i's (log q, log a) under population k (no e)."""
    sq, sa = p["sigma_logq"][k], p["sigma_loga"][k]
    rho = 2 * p["rho_beta"][k] - 1
    cov = np.array([[sq**2 + data.s_logq[i] ** 2, rho * sq * sa],
                    [rho * sq * sa, sa**2 + data.s_loga[i] ** 2]])
    mean = [p["mu_logq"][k], p["mu_loga"][k]]
    if data.is_projected[i]:  # y_a = log a + log sin φ: the m sin i integral, axes swapped
        return np.exp(_msini_log_density_quad(data.y_loga[i], data.y_logq[i], mean[::-1],
                                              cov[::-1, ::-1]))
    if not data.msini[i]:
        return stats.multivariate_normal(mean, cov).pdf([data.y_logq[i], data.y_loga[i]])
    return np.exp(_msini_log_density_quad(data.y_logq[i], data.y_loga[i], mean, cov))


def _e_convolved(e_obs, s_e, a, b):
    """∫ Beta(e | a, b) N(e_obs | e, s_e) de by QUADPACK.

    Endpoint singularities (a or b < 1) use the algebraic weight (QAWS); smooth Betas use
    adaptive quadrature with breakpoints at the Beta mode and the measurement (QAWS loses
    accuracy for large exponents).
    """
    if min(a, b) >= 1:
        pts = [x for x in ((a - 1) / (a + b - 2) if a + b > 2 else 0.5, e_obs) if 0 < x < 1]
        val, _ = integrate.quad(lambda e: stats.beta.pdf(e, a, b) * stats.norm.pdf(e_obs, e, s_e),
                                0, 1, points=pts, epsabs=0, epsrel=1e-13, limit=500)
        return val
    val, _ = integrate.quad(lambda e: stats.norm.pdf(e_obs, e, s_e), 0, 1, weight="alg",
                            wvar=(a - 1, b - 1), epsabs=0, epsrel=1e-13, limit=500)
    return val / special.beta(a, b)


def _scipy_logp(data, p, pr, k):
    lp = _prior_logp(p, pr, data, k)
    w = p.get("w", np.ones(1))
    alpha, beta = p["e_alpha"], p["e_beta"]
    for i in range(data.n):
        dens = 0.0
        for j in range(k):
            f = _object_density_k(data, i, p, j)
            if data.e_kind[i] == E_MEASURED:
                f *= _e_convolved(data.e_obs[i], data.s_e[i], alpha[j], beta[j])
            elif data.e_kind[i] == E_LIMIT:
                f *= stats.beta.cdf(data.e_limit[i], alpha[j], beta[j])
            dens += w[j] * f
        lp += np.log(dens)
    return lp


@pytest.fixture(scope="module")
def sim_data():
    frame = simulate_catalogue(24, random_seed=11,
                               observe=ObservationSettings(projected_methods=("Microlensing",)))
    data, _ = model_data_from_stacked(frame)
    assert data.msini.any() and len(data.idx_measured) and len(data.idx_limit)
    assert (data.e_kind == E_NONE).any()
    assert data.is_projected.any() and data.plain.any()
    return data


@pytest.mark.parametrize("k", [1, 2, 3])
def test_log_density_matches_scipy(sim_data, k):
    pr = MixturePriors()
    model = build_mixture_model(sim_data, n_components=k, priors=pr, n_incl_nodes=N_NODES)
    logp = _untransformed_logp(model)
    rng = np.random.default_rng(100 + k)
    for _ in range(2):
        p = _random_params(rng, k, sim_data)
        got = logp(p)
        want = _scipy_logp(sim_data, p, pr, k)
        assert got == pytest.approx(want, rel=1e-8)


def test_log_density_with_a_two_component_planet_population_matches_scipy(sim_data):
    """Shapes: K = 2 populations, the planet-like one of two Gaussians sharing one e law."""
    from vlms_bayes.models.mixture import component_populations

    pr = MixturePriors()
    model = build_mixture_model(sim_data, n_components=2, priors=pr, n_incl_nodes=N_NODES,
                                planet_components=2)
    assert list(model.coords["population"]) == ["planet_like_1", "planet_like_2",
                                                "binary_like"]
    logp = _untransformed_logp(model)
    rng = np.random.default_rng(7)
    comp_pop = component_populations(2, 2)
    for _ in range(2):
        p = _random_params(rng, 3, sim_data)
        p["e_alpha_pop"], p["e_beta_pop"] = p.pop("e_alpha")[:2], p.pop("e_beta")[:2]
        q = {**p, "e_alpha": p["e_alpha_pop"][comp_pop], "e_beta": p["e_beta_pop"][comp_pop]}
        want = _scipy_logp(sim_data, q, pr, 3)
        # the prior of the shared e parameters counts once per population, not per component
        want -= stats.lognorm.logpdf(q["e_alpha"], s=pr.e_alpha_log_sd,
                                     scale=pr.e_alpha_median).sum()
        want -= stats.lognorm.logpdf(q["e_beta"], s=pr.e_beta_log_sd,
                                     scale=pr.e_beta_median).sum()
        want += stats.lognorm.logpdf(p["e_alpha_pop"], s=pr.e_alpha_log_sd,
                                     scale=pr.e_alpha_median).sum()
        want += stats.lognorm.logpdf(p["e_beta_pop"], s=pr.e_beta_log_sd,
                                     scale=pr.e_beta_median).sum()
        assert logp(p) == pytest.approx(want, rel=1e-8)


def _single_object(kind, *, msini=False, e=0.3, s_e=0.05, limit=0.4):
    return ModelData(
        names=("x",), y_logq=np.array([-2.2]), s_logq=np.array([0.1]),
        y_loga=np.array([-1.1]), s_loga=np.array([0.05]), msini=np.array([msini]),
        e_kind=np.array([kind]), e_obs=np.array([e if kind == E_MEASURED else np.nan]),
        s_e=np.array([s_e if kind == E_MEASURED else np.nan]),
        e_limit=np.array([limit if kind == E_LIMIT else np.nan]),
    )


def _draws_from(p, k):
    out = {n: np.atleast_2d(np.asarray(p[n], float)) for n in ("mu_logq", "mu_loga",
                                                               "sigma_logq", "sigma_loga")}
    out["rho"] = np.atleast_2d(2 * p["rho_beta"] - 1)
    out["e_alpha"] = np.atleast_2d(p["e_alpha"])
    out["e_beta"] = np.atleast_2d(p["e_beta"])
    out["w"] = np.atleast_2d(p.get("w", np.ones(k)))
    return out


def test_numpy_twin_matches_model_terms(sim_data):
    """Memberships/LOO (NumPy, exact Beta CDF) use the model's own per-object terms."""
    import pytensor

    from vlms_bayes.inference.membership import object_log_terms
    from vlms_bayes.models.mixture import component_log_terms

    k = 2
    p = _random_params(np.random.default_rng(21), k, sim_data)
    d = _draws_from(p, k)
    params = {"log_w": np.log(d["w"][0]), "mu_logq": d["mu_logq"][0],
              "mu_loga": d["mu_loga"][0], "sigma_logq": d["sigma_logq"][0],
              "sigma_loga": d["sigma_loga"][0], "rho": d["rho"][0],
              "e_alpha": pt.as_tensor(d["e_alpha"][0]), "e_beta": pt.as_tensor(d["e_beta"][0])}
    params = {n: pt.as_tensor(v) for n, v in params.items()}
    model_terms = pytensor.function([], component_log_terms(sim_data, params),
                                    mode="FAST_COMPILE")()
    np.testing.assert_allclose(object_log_terms(sim_data, d)[0], model_terms, rtol=1e-8)


@pytest.mark.parametrize(("alpha", "beta", "limit"), [
    (0.4, 3.0, 0.1), (0.9, 2.0, 0.5), (5.0, 20.0, 0.3), (2.0, 0.7, 0.95), (30.0, 200.0, 0.12),
])
def test_censored_term_matches_beta_cdf(alpha, beta, limit):
    from vlms_bayes.models.likelihood import limit_e_constants, limit_e_logterm

    c = limit_e_constants(np.array([limit]))
    got = limit_e_logterm(c, np.array([alpha]), np.array([beta]), log=np.log,
                          gammaln=special.gammaln, logsumexp=special.logsumexp)[0, 0]
    assert got == pytest.approx(np.log(special.betainc(alpha, beta, limit)), rel=1e-8, abs=1e-10)


@pytest.mark.parametrize(("alpha", "beta", "e_obs", "s_e"), [
    (0.7, 3.0, 0.05, 0.02), (2.0, 2.0, 0.5, 0.1), (30.0, 200.0, 0.2, 0.05),
    (1.2, 0.6, 0.97, 0.03), (0.5, 5.0, 0.0, 0.02), (3.0, 8.0, -0.05, 0.08),
    (30.0, 200.0, 0.3, 0.3), (4.0, 40.0, 0.1, 0.12), (0.3, 1.5, 0.6, 0.5),
])
def test_measured_e_term_matches_quad(alpha, beta, e_obs, s_e):
    from vlms_bayes.inference.membership import e_measured_logterm
    from vlms_bayes.models.likelihood import (
        grid_steps,
        measured_e_constants,
        measured_e_logterm,
    )

    want = np.log(_e_convolved(e_obs, s_e, alpha, beta))
    got = e_measured_logterm(np.array([e_obs]), np.array([s_e]), np.array([alpha]),
                             np.array([beta]))[0, 0]
    assert got == pytest.approx(want, rel=1e-8, abs=1e-10)
    c = measured_e_constants(np.array([e_obs]), np.array([s_e]),
                             h=grid_steps(np.array([s_e]))[0])
    got_model = measured_e_logterm(c, np.array([alpha]), np.array([beta]), log=np.log,
                                   gammaln=special.gammaln, logsumexp=special.logsumexp)[0, 0]
    assert got_model == pytest.approx(want, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("sigma_logq", [0.02, 0.1, 0.5, 1.5])
def test_msini_quadrature_matches_quad_within_4_dex(sigma_logq):
    """Minimum masses from 1 dex above to 4 dex below a population (narrow to wide): the
    model's PyTensor terms and the NumPy twin agree with QUADPACK to 1e-7 in log density.
    The former fixed 32 nodes in i reached only 2.67 dex below y."""
    import pytensor

    from vlms_bayes.inference.membership import object_log_terms
    from vlms_bayes.models.mixture import component_log_terms

    offsets = np.array([-1.0, -0.3, 0.0, 0.3, 0.7, 1.0, 1.5, 2.0, 2.5, 2.67, 3.0, 3.5, 4.0])
    n = offsets.size
    mu_q, mu_a, sa, rho = -1.5, -1.0, 0.4, 0.5
    s_q = np.full(n, 0.05)
    y_a = np.full(n, -1.1)
    # place each object so that the conditional mean of true log q is `offset` above y
    cond = mu_q + rho * sigma_logq * sa / (sa**2 + 0.05**2) * (y_a - mu_a)
    data = ModelData(
        names=tuple(f"o{j}" for j in range(n)), y_logq=cond - offsets, s_logq=s_q,
        y_loga=y_a, s_loga=np.full(n, 0.05), msini=np.ones(n, bool),
        e_kind=np.full(n, E_NONE), e_obs=np.full(n, np.nan), s_e=np.full(n, np.nan),
        e_limit=np.full(n, np.nan))
    p = {"mu_logq": np.array([mu_q]), "mu_loga": np.array([mu_a]),
         "sigma_logq": np.array([sigma_logq]), "sigma_loga": np.array([sa]),
         "rho_beta": np.array([(rho + 1) / 2]), "e_alpha": np.array([1.0]),
         "e_beta": np.array([3.0])}
    cov = [[sigma_logq**2 + 0.05**2, rho * sigma_logq * sa], [rho * sigma_logq * sa,
                                                                sa**2 + 0.05**2]]
    want = np.array([_msini_log_density_quad(data.y_logq[j], -1.1, [mu_q, mu_a], cov)
                     for j in range(n)])
    twin = object_log_terms(data, _draws_from(p, 1))[0, :, 0]
    np.testing.assert_allclose(twin, want, rtol=0, atol=1e-7)
    params = {"log_w": np.zeros(1), "mu_logq": p["mu_logq"], "mu_loga": p["mu_loga"],
              "sigma_logq": p["sigma_logq"], "sigma_loga": p["sigma_loga"],
              "rho": np.array([rho]), "e_alpha": p["e_alpha"], "e_beta": p["e_beta"]}
    params = {k: pt.as_tensor(v) for k, v in params.items()}
    model = pytensor.function([], component_log_terms(data, params), mode="FAST_COMPILE")()
    np.testing.assert_allclose(model[:, 0], want, rtol=0, atol=1e-7)


def test_memberships_sum_to_one(sim_data):
    from vlms_bayes.inference.membership import object_log_terms, responsibilities

    rng = np.random.default_rng(3)
    for k in (1, 2, 3):
        draws = [_draws_from(_random_params(rng, k, sim_data), k) for _ in range(5)]
        stacked = {n: np.concatenate([d[n] for d in draws]) for n in draws[0]}
        r = responsibilities(object_log_terms(sim_data, stacked))
        assert r.shape == (5, sim_data.n, k)
        np.testing.assert_allclose(r.sum(axis=-1), 1.0, rtol=1e-12)
        assert np.all((r >= 0) & (r <= 1))


def test_logp_gradient_is_finite_and_matches_finite_differences(sim_data):
    """The adaptive m sin i nodes move with the parameters: the gradient NUTS uses must be
    finite (a √ at the clipped lower end once made it NaN everywhere) and agree with
    central differences of the log density."""
    model = build_mixture_model(sim_data, n_components=2, n_incl_nodes=N_NODES)
    fn = model.logp_dlogp_function(ravel_inputs=True, mode="FAST_COMPILE")
    fn.set_extra_values({})
    x0 = np.concatenate([np.ravel(v) for v in model.initial_point().values()])
    rng = np.random.default_rng(4)
    for _ in range(3):
        x = x0 + rng.normal(0.0, 0.7, x0.size)
        val, grad = fn(x)
        assert np.isfinite(val) and np.isfinite(grad).all()
        for j in rng.choice(x.size, 4, replace=False):
            h = np.zeros_like(x)
            h[j] = 1e-5
            fd = (fn(x + h)[0] - fn(x - h)[0]) / 2e-5
            assert grad[j] == pytest.approx(fd, rel=1e-4, abs=1e-4)
