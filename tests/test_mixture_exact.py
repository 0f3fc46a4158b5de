"""Exact tier: the mixture model's log density against an independent SciPy implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from vlms_bayes.models.data import E_LIMIT, E_MEASURED, E_NONE, ModelData, model_data_from_stacked
from vlms_bayes.models.mixture import MixturePriors, build_mixture_model
from vlms_bayes.models.simulate import simulate_catalogue

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
        "e_mean": rng.uniform(0.1, 0.6, k),
        "e_conc": rng.uniform(0.8, 20.0, k),
    }
    if len(data.idx_measured):
        p["e_true"] = rng.uniform(0.01, 0.95, len(data.idx_measured))
    if len(data.idx_limit):
        p["e_true_limit"] = rng.uniform(0.05, 0.95) * data.e_limit[data.idx_limit]
    if k == 1:
        p.pop("w")
    return p


def _untransformed_logp(model):
    """logp of the model as a function of the constrained values (no Jacobians)."""
    import pytensor

    fn = model.compile_logp(jacobian=False)
    ins, outs, names = [], [], []
    for rv in model.free_RVs:
        x = rv.type()
        tr = model.rvs_to_transforms[rv]
        ins.append(x)
        outs.append(x if tr is None else tr.forward(x, *rv.owner.inputs))
        names.append((rv.name, model.rvs_to_values[rv].name))
    fwd = pytensor.function(ins, outs, on_unused_input="ignore")

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
    lp += stats.beta.logpdf(p["e_mean"], pr.e_mean_a, pr.e_mean_b).sum()
    lp += stats.lognorm.logpdf(p["e_conc"], s=pr.e_conc_log_sd, scale=pr.e_conc_median).sum()
    if len(data.idx_limit):
        lp -= np.log(data.e_limit[data.idx_limit]).sum()
    return lp


def _object_density_k(data, i, p, k):
    """Independent density of object i's (log q, log a) under population k (no e)."""
    sq, sa = p["sigma_logq"][k], p["sigma_loga"][k]
    rho = 2 * p["rho_beta"][k] - 1
    cov = np.array([[sq**2 + data.s_logq[i] ** 2, rho * sq * sa],
                    [rho * sq * sa, sa**2 + data.s_loga[i] ** 2]])
    mvn = stats.multivariate_normal([p["mu_logq"][k], p["mu_loga"][k]], cov)
    if not data.msini[i]:
        return mvn.pdf([data.y_logq[i], data.y_loga[i]])
    x, wt = special.roots_legendre(N_NODES)
    inc = np.pi / 4 * (x + 1)
    wt = np.pi / 4 * wt * np.sin(inc)
    wt /= wt.sum()
    return sum(w_j * mvn.pdf([data.y_logq[i] - np.log10(np.sin(i_j)), data.y_loga[i]])
               for i_j, w_j in zip(inc, wt, strict=True))


def _scipy_logp(data, p, pr, k):
    lp = _prior_logp(p, pr, data, k)
    w = p.get("w", np.ones(1))
    alpha, beta = p["e_mean"] * p["e_conc"], (1 - p["e_mean"]) * p["e_conc"]
    e_lat = np.full(data.n, np.nan)
    e_lat[data.idx_measured] = p.get("e_true", [])
    e_lat[data.idx_limit] = p.get("e_true_limit", [])
    for i in range(data.n):
        dens = 0.0
        for j in range(k):
            f = _object_density_k(data, i, p, j)
            if data.e_kind[i] != E_NONE:
                f *= stats.beta.pdf(e_lat[i], alpha[j], beta[j])
            dens += w[j] * f
        lp += np.log(dens)
    idx = data.idx_measured
    lp += stats.norm.logpdf(data.e_obs[idx], e_lat[idx], data.s_e[idx]).sum()
    return lp


@pytest.fixture(scope="module")
def sim_data():
    frame = simulate_catalogue(30, random_seed=11)
    data, _ = model_data_from_stacked(frame)
    assert data.msini.any() and len(data.idx_measured) and len(data.idx_limit)
    assert (data.e_kind == E_NONE).any()
    return data


@pytest.mark.parametrize("k", [1, 2, 3])
def test_log_density_matches_scipy(sim_data, k):
    pr = MixturePriors()
    model = build_mixture_model(sim_data, n_components=k, priors=pr, n_incl_nodes=N_NODES)
    logp = _untransformed_logp(model)
    rng = np.random.default_rng(100 + k)
    for _ in range(3):
        p = _random_params(rng, k, sim_data)
        got = logp(p)
        want = _scipy_logp(sim_data, p, pr, k)
        assert got == pytest.approx(want, rel=1e-8)


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
    out["e_alpha"] = np.atleast_2d(p["e_mean"] * p["e_conc"])
    out["e_beta"] = np.atleast_2d((1 - p["e_mean"]) * p["e_conc"])
    out["w"] = np.atleast_2d(p.get("w", np.ones(k)))
    return out


@pytest.mark.parametrize(("kind", "latent"), [(E_LIMIT, "e_true_limit"),
                                              (E_MEASURED, "e_true")])
def test_latent_eccentricity_integrates_to_marginal(kind, latent):
    """∫ exp(model logp) over the latent e equals the censored / convolved marginal term."""
    from vlms_bayes.inference.membership import object_log_terms, pointwise_loglik

    data = _single_object(kind, msini=True)
    k = 2
    pr = MixturePriors()
    model = build_mixture_model(data, n_components=k, priors=pr)
    logp = _untransformed_logp(model)
    p = _random_params(np.random.default_rng(5), k, data)
    upper = data.e_limit[0] if kind == E_LIMIT else 1.0

    def integrand(e):
        q = dict(p)
        q[latent] = np.array([e])
        return np.exp(logp(q) - prior)

    prior = _prior_logp(p, pr, data, k)  # includes the latent's Uniform(0, limit) density
    val, _ = integrate.quad(integrand, 0.0, upper, epsabs=0, epsrel=1e-11, limit=200)
    marginal = pointwise_loglik(object_log_terms(data, _draws_from(p, k)))[0, 0]
    assert np.log(val) == pytest.approx(marginal, rel=1e-7)


@pytest.mark.parametrize(("alpha", "beta", "e_obs", "s_e"), [
    (0.7, 3.0, 0.05, 0.02), (2.0, 2.0, 0.5, 0.1), (30.0, 200.0, 0.2, 0.05),
    (1.2, 0.6, 0.97, 0.03), (0.5, 5.0, 0.0, 0.02), (3.0, 8.0, -0.05, 0.08),
])
def test_measured_e_term_matches_quad(alpha, beta, e_obs, s_e):
    from vlms_bayes.inference.membership import e_measured_logterm

    def f(e):
        return stats.norm.pdf(e_obs, e, s_e)

    # QUADPACK's algebraic weight handles the Beta's endpoint singularities exactly
    val, _ = integrate.quad(f, 0, 1, weight="alg", wvar=(alpha - 1, beta - 1),
                            epsabs=0, epsrel=1e-12, limit=500)
    val /= special.beta(alpha, beta)
    got = e_measured_logterm(np.array([e_obs]), np.array([s_e]), np.array([alpha]),
                             np.array([beta]))[0, 0]
    assert got == pytest.approx(np.log(val), rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("y_logq", [-3.0, -2.2, -1.0])
def test_msini_quadrature_matches_quad(y_logq):
    from vlms_bayes.inference.membership import object_log_terms

    data = _single_object(E_NONE, msini=True)
    data = ModelData(**{**data.__dict__, "y_logq": np.array([y_logq])})
    p = _random_params(np.random.default_rng(9), 1, data)
    got = object_log_terms(data, _draws_from(p, 1))[0, 0, 0]
    sq, sa = p["sigma_logq"][0], p["sigma_loga"][0]
    rho = 2 * p["rho_beta"][0] - 1
    cov = [[sq**2 + 0.1**2, rho * sq * sa], [rho * sq * sa, sa**2 + 0.05**2]]
    mvn = stats.multivariate_normal([p["mu_logq"][0], p["mu_loga"][0]], cov)

    def f(cos_i):  # isotropic: cos i uniform on (0, 1)
        return mvn.pdf([y_logq - 0.5 * np.log10(1 - cos_i**2), -1.1])

    val, _ = integrate.quad(f, 0, 1, epsabs=0, epsrel=1e-12, limit=500)
    assert got == pytest.approx(np.log(val), rel=1e-7)


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
