"""The hierarchical K-population mixture over (log q, log a, e) as a PyMC model.

This module only *builds* the model; :func:`vlms_bayes.inference.sampling.sample` runs it.

Model
-----
For object i and population k = 1..K (weights w ~ Dirichlet(a_w)):

* true (log10 q, log10 a) ~ N2(μ_k, Σ_k), Σ_k from scales σ_q,k, σ_a,k ~ HalfNormal and a
  correlation ρ_k with the 2-D LKJ(η) prior (equivalently (ρ_k + 1)/2 ~ Beta(η, η));
  means μ_q ~ N(m_q, s_q) *ordered* (μ_q,1 < … < μ_q,K: the last population is the
  binary-like one, so the labels cannot switch), μ_a ~ N(m_a, s_a);
* true e ~ Beta(α_k, β_k) with log-normal priors on α and β (medians 1 and 3, centred near
  Kipping 2013's α = 0.87, β = 3.0; log sd 0.5 for α, 1 for β, i.e. α ∈ [0.37, 2.7] and
  β ∈ [0.4, 21] at 95% prior mass); the mean m = α/(α+β) and concentration κ = α + β are
  reported as deterministics. The tighter prior on α is deliberate: α sets the shape of
  the distribution *near e = 0*, which the data cannot resolve (most close-in
  eccentricities are 0 ± 0.05 after the error floor). With log sd 1 the planet-like
  population of the real sample spread along a ridge from Beta(0.03, 1) to Beta(5, 270)
  — all with mean e ≈ 0.02 — and NUTS diverged on it (30–40 divergences in 4000 draws,
  not cured by a dense mass matrix); with log sd 0.5 the ridge is bounded, the posterior
  mean e is unchanged (0.025 vs 0.023) and the sampler reports no divergences.
  (A mean–concentration parametrisation with m ~ Beta, κ ~ LogNormal let the same
  population collapse to α → 0 along a ridge that NUTS could not sample: R-hat > 2 and
  hundreds of divergences.)

Shapes
------
``planet_components`` P > 1 gives the planet-like population P Gaussian components
(ordered with the others by mean log q) that share one eccentricity distribution.
``binary_shape="powerlaw"`` (K ≥ 2) replaces the last, binary-like, bivariate normal by
the forms measured for very-low-mass binaries: mass ratios dN/dq ∝ q^γ on (0, 1]
(γ > −1; in x = log10 q, p(x) = λ e^(λx) for x ≤ 0 with λ = (γ + 1) ln 10), rising toward
q = 1 for γ > 0, and an independent log-normal separation, log10 a ~ N(μ_a, σ_a²) with the
Gaussian populations' priors on μ_a and σ_a; eccentricities Beta(α, β) as for the others.
It has no correlation parameter, and the ordering of ``mu_logq`` then orders the
Gaussian components only. The prior on γ is in :class:`MixturePriors`. Both the JAX log
density (:mod:`vlms_bayes.models.logdensity`, the default sampler backend) and the PyMC
builder here have it, from the same kernels
(:func:`vlms_bayes.models.likelihood.powerlaw_qa_logpdf`,
:func:`vlms_bayes.models.selection_norm.log_xi_powerlaw`); ``tests/models/test_logdensity.py``
holds the two to each other as for the other variants. Here γ is the free variable
``gamma_q`` (γ + 1 log-normal, sampled as log(1 + γ)).

Observation model (:mod:`vlms_bayes.models.data`): the Gaussian measurement errors of log
q and log a are convolved analytically with the population normals; minimum masses are
marginalised over an isotropic inclination, and projected separations over the projection
of a circular orbit, by quadrature (:mod:`vlms_bayes.models.likelihood`); each measured
eccentricity contributes ∫ Beta(e | α_k, β_k) N(e_obs | e, s_e) de and each upper limit
the Beta CDF at the limit (a censored term), both integrated numerically in logit e so
that no latent true e is sampled (latent e's with a hierarchical Beta make a funnel that
NUTS cannot cross when a population has few eccentricities). The discrete membership is
marginalised: the potential ``mixture`` adds Σ_i log Σ_k w_k p_k(data_i).

Selection-aware fits (``selection=``, :mod:`vlms_bayes.models.selection_norm`) put the
Dirichlet prior on the *detected* fractions f_k (free variable ``f_det``) instead of the
intrinsic weights, and w_k ∝ f_k / ξ̄_k follows (a deterministic), with ξ̄_k the fraction
of population k that the sample's methods would detect, averaged over the fitted objects.
With the prior on w, a population the data do not need could move where no method detects
anything: its weight then cancels between each object's density and the normalisation, so
it is free over (0, 1) with all its prior mass, and NUTS wandered along that ridge (R-hat 3
on a one-population simulation). With the prior on f, an invisible population needs
f_k → 0, which has as little prior mass as an empty population in the naive model. The
two priors differ only through ξ̄, i.e. where the populations can be seen. A soft wall
(potential ``visibility``) also keeps ξ̄_k above 10⁻³: a population that the methods
cannot see is not constrained by the data at all, and one whose ξ underflows to the
quadrature's floor gains without bound from an object next to it (a narrow population
just outside the box, next to an object there, gained 3·10⁴ in log density on a
simulation before the wall).

The selection term does not touch :func:`component_log_terms`: p_det at each object is
a constant of the parameters (it drops out of the posterior and of the memberships), and
the normalisation −Σ_g N_g log Σ_k w_k ξ_g,k(θ) is the separate potential ``selection``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from vlms_bayes.errors import VlmsBayesError
from vlms_bayes.models import selection_norm as seln
from vlms_bayes.models.data import ModelData
from vlms_bayes.models.likelihood import (
    N_INCL_NODES,
    grid_steps,
    limit_e_constants,
    limit_e_logterm,
    measured_e_constants,
    measured_e_logterm,
    msini_qa_logpdf,
    node_arrays,
    powerlaw_lambda,
    powerlaw_qa_logpdf,
    projected_qa_logpdf,
    qa_component_logpdf,
)
from vlms_bayes.models.selection import SelectionModel


def pt_log_ndtr(z: Any) -> Any:
    """Log Φ(z) in PyTensor, accurate in both tails (as ``scipy.special.log_ndtr``).

    Below z = −1 the scaled complementary error function (erfc(x) = erfcx(x) e^(−x²))
    keeps the far left tail from underflowing; above, log1p of −erfc/2. Each branch gets
    an argument clipped to its side, so the unused branch of the switch is finite and its
    zero cotangent cannot make the gradient NaN.
    """
    lo = pt.minimum(z, -1.0)
    hi = pt.maximum(z, -1.0)
    r2 = float(np.sqrt(2.0))
    return pt.switch(z < -1.0, pt.log(0.5 * pt.erfcx(-lo / r2)) - 0.5 * lo * lo,
                     pt.log1p(-0.5 * pt.erfc(hi / r2)))


#: PyTensor backend of :func:`vlms_bayes.models.likelihood.msini_qa_logpdf` and the
#: power-law kernels.
PT_OPS = {"log": pt.log, "sqrt": pt.sqrt, "expm1": pt.expm1, "maximum": pt.maximum,
          "minimum": pt.minimum, "abs": pt.abs, "where": pt.switch, "logsumexp": pt.logsumexp,
          "logaddexp": pt.logaddexp, "log_ndtr": pt_log_ndtr}


class _Log1pTransform(pm.distributions.transforms.Transform):
    """u = log(1 + x) for x > −1 (the power-law index γ; the JAX density's ``log1p``)."""

    name = "log1p"

    def forward(self, value: Any, *inputs: Any) -> Any:
        return pt.log1p(value)

    def backward(self, value: Any, *inputs: Any) -> Any:
        return pt.expm1(value)

    def log_jac_det(self, value: Any, *inputs: Any) -> Any:
        return value


def _shifted_lognormal(mu: Any, sigma: Any, size: Any) -> Any:
    """γ = X − 1 with X ~ LogNormal(μ, σ): the prior of the power-law index."""
    return pm.LogNormal.dist(mu, sigma, size=size) - 1.0


@dataclass(frozen=True, kw_only=True)
class MixturePriors:
    """Hyper-parameters of the priors (weakly informative; see module docstring).

    ``gamma_q_median`` and ``gamma_q_log_sd`` set the prior of the power-law index γ of
    the binary-like population's mass ratios, dN/dq ∝ q^γ (``binary_shape="powerlaw"``):
    γ + 1 ~ LogNormal(ln(1 + gamma_q_median), gamma_q_log_sd), i.e. with the defaults
    γ + 1 has median 4 and 95 % of its prior mass in [0.56, 28.4] (γ from −0.44 to 27).
    The published indices for very-low-mass and brown-dwarf binaries lie well inside:
    γ = 1.8 ± 0.6 (Allen 2007, ApJ 668, 492, Bayesian analysis of ultracool-dwarf imaging
    surveys) and γ = 6.1 (+4.0/−2.7)
    (Fontanive et al. 2018, MNRAS 479, 2702, T5–Y0 dwarfs), as does the concentration of
    known VLM pairs at q ≥ 0.8 (77 %; Burgasser et al. 2007, Protostars and Planets V,
    427); a flat q distribution (γ = 0,
    as for field M dwarfs, Reggiani & Meyer 2013) is 1.4 prior standard deviations below
    the median. The prior is not centred on any one survey.
    """

    weight_concentration: float = 1.5
    mu_logq_mean: float = -2.5
    mu_logq_sd: float = 1.5
    mu_loga_mean: float = -1.0
    mu_loga_sd: float = 1.5
    scale_sd: float = 1.0
    lkj_eta: float = 2.0
    e_alpha_median: float = 1.0
    e_beta_median: float = 3.0
    e_alpha_log_sd: float = 0.5
    e_beta_log_sd: float = 1.0
    #: Selection-aware fits only: below this detected fraction ξ̄_k a population meets a
    #: soft wall (:func:`vlms_bayes.models.selection_norm.visibility_logp`) ...
    visibility_floor: float = 1e-3
    #: ... of this width in ln ξ̄ (1: e^-3 below the floor costs 4.5 in log density).
    visibility_scale: float = 1.0
    #: Prior of the binary-like power-law index (binary_shape="powerlaw"; class docstring).
    gamma_q_median: float = 3.0
    gamma_q_log_sd: float = 1.0

    def to_dict(self) -> dict[str, float]:
        """Plain dict for run.json."""
        return asdict(self)


def population_names(k: int, planet_components: int = 1) -> list[str]:
    """Names of the mixture's Gaussian components, in increasing mean log q.

    With ``planet_components`` = 1 each population is one component and the names are the
    populations' (``all``; ``planet_like, binary_like``; ``pop0, pop1, binary_like``...).
    With P > 1 the planet-like population is the first P components,
    ``planet_like_1 … planet_like_P``, followed by the other K − 1 populations.
    """
    if planet_components == 1:
        if k == 1:
            return ["all"]
        if k == 2:
            return ["planet_like", "binary_like"]
        return [f"pop{j}" for j in range(k - 1)] + ["binary_like"]
    planets = [f"planet_like_{j + 1}" for j in range(planet_components)]
    others = [f"pop{j + 1}" for j in range(k - 2)] + ["binary_like"] if k > 1 else []
    return planets + others


def group_names(k: int) -> list[str]:
    """Names of the K populations (of their eccentricity distributions)."""
    if k == 1:
        return ["planet_like"]
    return ["planet_like", *population_names(k, 2)[2:]]


def component_populations(k: int, planet_components: int = 1) -> np.ndarray:
    """Index of the population (0 … K − 1) that each Gaussian component belongs to."""
    return np.r_[np.zeros(planet_components, int), np.arange(1, k)].astype(int)


def n_gaussians(k: int, planet_components: int = 1) -> int:
    """Number of Gaussian components of a K-population model."""
    return int(k) - 1 + int(planet_components)


def ordered_initial_means(y_logq: np.ndarray, k: int) -> np.ndarray:
    """Strictly increasing starting means of log q from the data's quantiles."""
    qs = np.quantile(np.asarray(y_logq, float), (np.arange(k) + 0.5) / k)
    return qs + 1e-3 * np.arange(k)


def component_log_terms(data: ModelData, params: dict[str, Any], *,
                        n_nodes: int = N_INCL_NODES) -> Any:
    """PyTensor (N, K) matrix of log w_k + log p_k(data_i), true values integrated out.

    With ``gamma_q`` in ``params`` the last column is the power-law population's
    (:func:`~vlms_bayes.models.likelihood.powerlaw_qa_logpdf`); ``mu_logq``,
    ``sigma_logq`` and ``rho`` then belong to the other (Gaussian) columns.
    """
    # true-mass objects need one node, minimum-mass objects the adaptive inclination
    # quadrature (nodes placed per object and population)
    parts, order = [], []
    pl = "gamma_q" in params
    gs = slice(None, -1) if pl else slice(None)
    pop = (params["mu_logq"], params["mu_loga"][gs], params["sigma_logq"],
           params["sigma_loga"][gs], params["rho"])
    pl_pop = ((powerlaw_lambda(params["gamma_q"]), params["mu_loga"][-1:],
               params["sigma_loga"][-1:]) if pl else ())

    def with_powerlaw(gauss: Any, idx: np.ndarray, kind: str) -> Any:
        if not pl:
            return gauss
        raw = (pt.as_tensor(v[idx]) for v in (data.y_logq, data.y_loga, data.s_logq,
                                              data.s_loga))
        return pt.concatenate([gauss, powerlaw_qa_logpdf(*raw, *pl_pop, kind=kind, ops=PT_OPS,
                                                         n_nodes=n_nodes)], axis=1)

    idx = np.flatnonzero(data.plain)
    if len(idx):
        nodes, logw_nodes = node_arrays(data.y_logq[idx], data.msini[idx], 1)
        parts.append(with_powerlaw(qa_component_logpdf(
            pt.as_tensor(nodes), pt.as_tensor(logw_nodes), pt.as_tensor(data.y_loga[idx]),
            pt.as_tensor(data.s_logq[idx]), pt.as_tensor(data.s_loga[idx]), *pop,
            log=pt.log, logsumexp=pt.logsumexp), idx, "plain"))
        order.append(idx)
    idx = np.flatnonzero(data.msini)
    if len(idx):
        parts.append(with_powerlaw(msini_qa_logpdf(
            *(pt.as_tensor(v[idx]) for v in (data.y_logq, data.y_loga, data.s_logq,
                                             data.s_loga)), *pop, ops=PT_OPS, n_nodes=n_nodes),
            idx, "msini"))
        order.append(idx)
    idx = np.flatnonzero(data.is_projected)
    if len(idx):  # projected separations: the same kernel with log q and log a swapped
        parts.append(with_powerlaw(projected_qa_logpdf(
            *(pt.as_tensor(v[idx]) for v in (data.y_logq, data.y_loga, data.s_logq,
                                             data.s_loga)), *pop, ops=PT_OPS, n_nodes=n_nodes),
            idx, "projected"))
        order.append(idx)
    inverse = np.argsort(np.concatenate(order))
    terms = parts[0] if len(parts) == 1 else pt.concatenate(parts, axis=0)[inverse]
    terms = terms + params["log_w"][None, :]
    alpha, beta = params["e_alpha"], params["e_beta"]
    ops = {"log": pt.log, "gammaln": pt.gammaln, "logsumexp": pt.logsumexp}
    steps = grid_steps(data.s_e[data.idx_measured])
    for h in np.unique(steps):  # one logit grid per error scale (cost ∝ Σ objects × nodes)
        idx = data.idx_measured[steps == h]
        c = measured_e_constants(data.e_obs[idx], data.s_e[idx], h=h)
        terms = pt.inc_subtensor(terms[idx], measured_e_logterm(c, alpha, beta, **ops))
    idx = data.idx_limit
    if len(idx):
        c = limit_e_constants(data.e_limit[idx])
        terms = pt.inc_subtensor(terms[idx], limit_e_logterm(c, alpha, beta, **ops))
    return terms


#: Shapes of the binary-like population (``binary_shape``).
BINARY_SHAPES: tuple[str, ...] = ("gaussian", "powerlaw")


def check_binary_shape(binary_shape: str, n_components: int) -> bool:
    """Whether the model has a power-law binary-like population; validates the option.

    ``"gaussian"``: every population is a bivariate normal in (log q, log a).
    ``"powerlaw"``: for K ≥ 2 the last (binary-like) population is dN/dq ∝ q^γ on
    (0, 1] times an independent normal in log a (module docstring, "Shapes"); with K = 1
    there is no binary-like population and the model is the Gaussian one.

    Raises
    ------
    VlmsBayesError
        For an unknown shape.
    """
    if binary_shape not in BINARY_SHAPES:
        raise VlmsBayesError(f"binary_shape must be one of {', '.join(BINARY_SHAPES)}; got "
                             f"{binary_shape!r}.")
    return binary_shape == "powerlaw" and int(n_components) >= 2


def check_sizes(n_components: int, planet_components: int) -> tuple[int, int]:
    """K and P as ints, or a :class:`VlmsBayesError` naming the bad one."""
    kp = int(n_components)
    if kp < 1 or kp != n_components:
        raise VlmsBayesError(f"The number of populations must be an integer >= 1, got "
                             f"{n_components!r}.")
    if int(planet_components) != planet_components or planet_components < 1:
        raise VlmsBayesError(f"planet_components must be an integer >= 1, got "
                             f"{planet_components!r}.")
    return kp, int(planet_components)


def build_mixture_model(
    data: ModelData,
    *,
    n_components: int = 2,
    priors: MixturePriors | None = None,
    n_incl_nodes: int = N_INCL_NODES,
    selection: SelectionModel | None = None,
    planet_components: int = 1,
    binary_shape: str = "gaussian",
) -> pm.Model:
    """Build the K-population mixture model for one sample (no sampling).

    Parameters
    ----------
    data : ModelData
        The fitted objects (:func:`vlms_bayes.models.data.model_data_from_stacked`).
    n_components : int
        Number of populations K ≥ 1 (2: planet-like and binary-like).
    priors : MixturePriors, optional
        Prior hyper-parameters.
    n_incl_nodes : int
        Quadrature nodes over the inclination of minimum-mass objects.
    selection : SelectionModel, optional
        Per-method detection probabilities: adds the potential ``selection``,
        −Σ_g N_g log Σ_k w_k ξ_g,k(θ) (:mod:`vlms_bayes.models.selection_norm`), so that
        the population parameters describe the intrinsic populations, and (K > 1) moves the
        Dirichlet prior to the detected fractions ``f_det``. None: no correction.
    planet_components : int
        Gaussian components of the planet-like population (module docstring, "Shapes"):
        1 is one bivariate normal per population; P > 1 gives the planet-like population
        P components (ordered with the others by mean log q, all below the binary-like
        one) sharing one eccentricity distribution. The coordinate ``population`` then
        lists the components (:func:`population_names`); ``e_alpha_pop`` and
        ``e_beta_pop`` are the populations' free eccentricity parameters.

    binary_shape : {"gaussian", "powerlaw"}
        Shape of the binary-like population (:func:`check_binary_shape`). With the power
        law (K ≥ 2) ``mu_logq``, ``sigma_logq``, ``rho_beta`` and ``rho`` belong to the
        K − 1 Gaussian components (coordinate ``gaussian``), ``mu_loga``, ``sigma_loga``
        and the rest to every population, and ``gamma_q`` (coordinate ``power_law``) is
        the index γ: the layout of :func:`vlms_bayes.models.logdensity.mixture_density`.

    Returns
    -------
    pymc.Model
        Free variables ``w`` (K > 1; when selection-aware ``f_det``, with ``w`` and
        ``log_w`` deterministics: an invisible population's weight can underflow ``w``),
        ``mu_logq``, ``mu_loga``, ``sigma_logq``,
        ``sigma_loga``, ``rho_beta``, ``e_mean``, ``e_conc``; deterministics ``rho``,
        ``e_alpha``, ``e_beta``; potential ``mixture`` (the marginal likelihood); with the
        power law also ``gamma_q``.

    Raises
    ------
    VlmsBayesError
        If ``n_components`` < 1 or the shape is unknown.
    """
    kp, npl = check_sizes(n_components, planet_components)
    pl = check_binary_shape(binary_shape, kp)
    k = n_gaussians(kp, npl)  # components: Gaussians, plus the power law when pl
    kg = k - 1 if pl else k   # Gaussian components
    gdim = "gaussian" if pl else "population"
    pr = priors or MixturePriors()
    idx_m, idx_l = data.idx_measured, data.idx_limit
    coords = {"population": population_names(kp, npl), "object": list(data.names),
              "e_measured": [data.names[i] for i in idx_m],
              "e_limit": [data.names[i] for i in idx_l]}
    if npl > 1:
        coords["e_population"] = group_names(kp)
    if pl:
        coords["gaussian"] = coords["population"][:kg]
        coords["power_law"] = coords["population"][kg:]
    # the weights' prior: on the detected fractions when some method has a p_det
    sel_terms = seln.selection_terms(data, selection) if selection is not None else None
    selective = sel_terms is not None and bool(sel_terms.methods)
    with pm.Model(coords=coords) as model:
        if kg > 1:
            mu_q = pm.Normal("mu_logq", pr.mu_logq_mean, pr.mu_logq_sd, dims=gdim,
                             transform=pm.distributions.transforms.ordered,
                             initval=ordered_initial_means(data.y_logq, kg))
        else:
            mu_q = pm.Normal("mu_logq", pr.mu_logq_mean, pr.mu_logq_sd, dims=gdim)
        mu_a = pm.Normal("mu_loga", pr.mu_loga_mean, pr.mu_loga_sd, dims="population",
                         initval=np.full(k, float(np.median(data.y_loga))))
        sd_q = pm.HalfNormal("sigma_logq", pr.scale_sd, dims=gdim,
                             initval=np.full(kg, 0.5))
        sd_a = pm.HalfNormal("sigma_loga", pr.scale_sd, dims="population",
                             initval=np.full(k, 0.5))
        rho_b = pm.Beta("rho_beta", pr.lkj_eta, pr.lkj_eta, dims=gdim)
        rho = pm.Deterministic("rho", 2.0 * rho_b - 1.0, dims=gdim)
        if npl == 1:
            alpha = pm.LogNormal("e_alpha", np.log(pr.e_alpha_median), pr.e_alpha_log_sd,
                                 dims="population")
            beta = pm.LogNormal("e_beta", np.log(pr.e_beta_median), pr.e_beta_log_sd,
                                dims="population")
        else:  # one eccentricity distribution per population, shared by its components
            comp_pop = component_populations(kp, npl)
            a_pop = pm.LogNormal("e_alpha_pop", np.log(pr.e_alpha_median), pr.e_alpha_log_sd,
                                 dims="e_population")
            b_pop = pm.LogNormal("e_beta_pop", np.log(pr.e_beta_median), pr.e_beta_log_sd,
                                 dims="e_population")
            alpha = pm.Deterministic("e_alpha", a_pop[comp_pop], dims="population")
            beta = pm.Deterministic("e_beta", b_pop[comp_pop], dims="population")
        pm.Deterministic("e_mean", alpha / (alpha + beta), dims="population")
        pm.Deterministic("e_conc", alpha + beta, dims="population")
        weights = None
        if k > 1:  # free before γ, as in the JAX density's layout
            weights = pm.Dirichlet("f_det" if selective else "w",
                                   a=np.full(k, pr.weight_concentration), dims="population")
        params = {"mu_logq": mu_q, "mu_loga": mu_a, "sigma_logq": sd_q,
                  "sigma_loga": sd_a, "rho": rho, "e_alpha": alpha, "e_beta": beta}
        if pl:  # γ + 1 ~ LogNormal, sampled as log(1 + γ)
            params["gamma_q"] = pm.CustomDist(
                "gamma_q", float(np.log1p(pr.gamma_q_median)), pr.gamma_q_log_sd,
                dist=_shifted_lognormal, transform=_Log1pTransform(), dims="power_law",
                initval=np.full(1, pr.gamma_q_median))
        lxi = None
        if selective:
            assert sel_terms is not None and selection is not None
            sel_terms, lxi = seln.selection_log_xi(data, selection, params,
                                                   log_ndtr=pt_log_ndtr)
        if lxi is not None:  # keep every population where some method can see it
            log_xibar = seln.log_mean_xi(sel_terms, lxi)
            pm.Potential("visibility", seln.visibility_logp(log_xibar, pr.visibility_floor,
                                                           pr.visibility_scale))
        if k == 1:
            params["log_w"] = pt.zeros(1)
        elif lxi is None:
            params["log_w"] = pt.log(weights)
        else:  # the prior is on the detected fractions; w follows (see module docstring)
            f = weights
            params["log_w"] = pm.Deterministic(
                "log_w", seln.intrinsic_log_weights(pt.log(f), log_xibar), dims="population")
            pm.Deterministic("w", pt.exp(params["log_w"]), dims="population")
        terms = component_log_terms(data, params, n_nodes=n_incl_nodes)
        pm.Potential("mixture", pt.logsumexp(terms, axis=1).sum())
        if lxi is not None:
            pm.Potential("selection", seln.selection_loglik(
                sel_terms, params["log_w"], lxi, logsumexp=pt.logsumexp, as_tensor=pt.as_tensor))
    return model


def prior_draws(priors: MixturePriors | None = None, *, n: int = 2000,
                random_seed: int | np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Draws of one population's parameters from the priors (for the prior-predictive figure).

    Returns
    -------
    dict
        ``mu_logq, mu_loga, sigma_logq, sigma_loga, rho, e_alpha, e_beta`` (each shape (n,))
        and prior-predictive true values ``logq, loga, e`` of one object per draw.
    """
    pr = priors or MixturePriors()
    rng = np.random.default_rng(random_seed)
    d = {
        "mu_logq": rng.normal(pr.mu_logq_mean, pr.mu_logq_sd, n),
        "mu_loga": rng.normal(pr.mu_loga_mean, pr.mu_loga_sd, n),
        "sigma_logq": np.abs(rng.normal(0, pr.scale_sd, n)),
        "sigma_loga": np.abs(rng.normal(0, pr.scale_sd, n)),
        "rho": 2 * rng.beta(pr.lkj_eta, pr.lkj_eta, n) - 1,
    }
    d["e_alpha"] = np.exp(rng.normal(np.log(pr.e_alpha_median), pr.e_alpha_log_sd, n))
    d["e_beta"] = np.exp(rng.normal(np.log(pr.e_beta_median), pr.e_beta_log_sd, n))
    z1, z2 = rng.standard_normal((2, n))
    d["logq"] = d["mu_logq"] + d["sigma_logq"] * z1
    d["loga"] = d["mu_loga"] + d["sigma_loga"] * (d["rho"] * z1 + np.sqrt(1 - d["rho"]**2) * z2)
    d["e"] = rng.beta(d["e_alpha"], d["e_beta"])
    return d
