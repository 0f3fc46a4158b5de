"""The SBC generator draws from the shipped model's prior and its own likelihood."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest
from scipy import special, stats

from vlms_bayes.errors import InputDataError
from vlms_bayes.models import selection_norm as seln
from vlms_bayes.models import simulate_prior as sp
from vlms_bayes.models.mixture import MixturePriors
from vlms_bayes.models.selection import SelectionModel

SEL = SelectionModel()


@pytest.fixture(scope="module")
def design():
    return sp.design_from_scenario(40, seed=2, selection=SEL)


def test_design_has_the_scenarios_methods_and_kinds(design):
    assert design.n == 40
    assert set(design.methods) <= {"Radial Velocity", "Transit", "Microlensing", "Imaging"}
    rv = np.asarray(design.methods) == "Radial Velocity"
    assert design.msini[rv].all() and not design.msini[~rv].any()
    assert design.is_projected[np.isin(design.methods, ["Microlensing", "Imaging"])].all()


def test_numpy_twins_equal_the_models_pytensor_terms(design):
    terms = sp.model_terms(design, SEL)
    rng = np.random.default_rng(0)
    for _ in range(1):  # each .eval() compiles a PyTensor graph (~3 s)
        p = sp.draw_base_prior(MixturePriors(), n_components=2, planet_components=1,
                               selection_aware=True, rng=rng)
        lxi = sp.log_xi_of(terms, p)
        ref = seln.log_mean_xi(terms, pt.as_tensor(lxi)).eval()
        np.testing.assert_allclose(sp.log_mean_xi_np(terms, lxi), ref, rtol=1e-12)
        lxb = sp.log_mean_xi_np(terms, lxi) - 5.0  # some populations below the floor
        np.testing.assert_allclose(sp.visibility_logp_np(lxb, 1e-3, 1.0),
                                   seln.visibility_logp(pt.as_tensor(lxb), 1e-3, 1.0).eval())
        full = sp.complete_parameters(p, terms)
        np.testing.assert_allclose(
            full["log_w"], seln.intrinsic_log_weights(pt.as_tensor(np.log(p["f_det"])),
                                                      pt.as_tensor(lxb + 5.0)).eval())
        # a truth given as w gets back the f_det it came from
        back = sp.complete_parameters({k: v for k, v in full.items()
                                       if k not in ("f_det", "log_w")}, terms)
        np.testing.assert_allclose(back["f_det"], p["f_det"])


def test_prior_draws_follow_the_priors(design):
    rng = np.random.default_rng(1)
    draws = [sp.draw_base_prior(MixturePriors(), n_components=2, planet_components=1,
                                selection_aware=False, rng=rng) for _ in range(2000)]
    mu = np.array([d["mu_logq"] for d in draws])
    assert (np.diff(mu, axis=1) > 0).all()  # ordered
    # the ordered pair is the order statistics of two N(-2.5, 1.5): its mean is known
    assert mu[:, 0].mean() == pytest.approx(-2.5 - 1.5 / np.sqrt(np.pi), abs=0.1)
    assert stats.kstest(np.array([d["sigma_loga"][1] for d in draws]),
                        stats.halfnorm(scale=1.0).cdf).pvalue > 0.01
    assert stats.kstest(np.array([d["w"][0] for d in draws]),
                        stats.beta(1.5, 1.5).cdf).pvalue > 0.01


def test_wall_rejects_invisible_populations(design):
    rng = np.random.default_rng(3)
    terms = sp.model_terms(design, SEL)
    pr = MixturePriors(visibility_floor=0.5)  # a demanding wall: many rejections
    tries = []
    for _ in range(30):
        p, t = sp.draw_prior(design, priors=pr, selection=SEL, rng=rng, terms=terms)
        tries.append(t)
        assert sp.visibility_logp_np(sp.log_mean_xi_np(terms, sp.log_xi_of(terms, p)),
                                     0.5, 1.0) > -np.inf
    assert max(tries) > 1


def _truth(design, terms):
    t = sp.truth_from_mapping({
        "w": [0.6, 0.4], "mu_logq": [-3.5, -1.5], "mu_loga": [-1.0, 0.5],
        "sigma_logq": [0.6, 0.5], "sigma_loga": [0.5, 0.6], "rho": [0.2, -0.3],
        "e_alpha": [1.0, 2.0], "e_beta": [5.0, 3.0]}, source="test", n_components=2)
    return sp.complete_parameters(t, terms)


def test_components_per_group_follow_w_xi(design):
    """An object of group g belongs to k with probability w_k ξ_g,k / Σ_j w_j ξ_g,j."""
    terms = sp.model_terms(design, SEL)
    p = _truth(design, terms)
    lxi = sp.log_xi_of(terms, p)
    post = np.exp(p["log_w"] + lxi - special.logsumexp(p["log_w"] + lxi, axis=1,
                                                       keepdims=True))
    expected = post[terms.object_group, 1].sum()
    rng = np.random.default_rng(4)
    n_bin = [sp.simulate_replica(design, p, selection=SEL, rng=rng, terms=terms)[1][
        "component"].sum() for _ in range(40)]
    sd = np.sqrt((post[terms.object_group, 1] * post[terms.object_group, 0]).sum() / 40)
    assert np.mean(n_bin) == pytest.approx(expected, abs=4 * sd)


def test_fine_grid_sampler_matches_rejection(design, monkeypatch):
    """The low-acceptance path draws the same detected population as plain rejection."""
    terms = sp.model_terms(design, SEL)
    p = _truth(design, terms)
    g = int(np.argmax(terms.counts))
    w = np.exp(p["log_w"])
    acc = float(np.exp(special.logsumexp(p["log_w"] + sp.log_xi_of(terms, p)[g])))
    rej = sp._detected_by_rejection(SEL, terms, g, 600, w, p, acc,
                                    np.random.default_rng(5), 10**8)
    grid = sp._detected_on_fine_grid(SEL, terms, g, 600, w, p, np.random.default_rng(6),
                                     10**8)
    for j in (1, 2, 3):  # log q, log a, sin i
        assert stats.ks_2samp(rej[:, j], grid[:, j]).pvalue > 0.001, j
    assert abs(rej[:, 0].mean() - grid[:, 0].mean()) < 0.1


def test_replica_observes_with_the_designs_errors(design):
    terms = sp.model_terms(design, SEL)
    p = _truth(design, terms)
    data, truth = sp.simulate_replica(design, p, selection=SEL,
                                      rng=np.random.default_rng(7), terms=terms)
    assert data.names == design.names and (data.s_logq == design.s_logq).all()
    ms = design.msini
    resid = data.y_logq - truth["true_logq"].to_numpy() - np.where(
        ms, np.log10(truth["true_sin_i"].to_numpy()), 0.0)
    assert np.abs(resid / design.s_logq).max() < 5
    assert not (data.e_kind == 2).any()  # limits are simulated as missing
    meas = data.e_kind == 1
    assert np.isfinite(data.e_obs[meas]).all() and np.isnan(data.e_obs[~meas]).all()


@pytest.mark.parametrize(("values", "match"), [
    ({"mu_logq": [-3, -1]}, "missing key 'w'"),
    ({"w": [0.5, 0.5], "mu_logq": [-1, -3]}, "mu_logq"),
    ({"w": [0.5, 0.5], "mu_logq": [-3, -1], "mu_loga": [0.0]}, "mu_loga.*2 finite"),
    ({"wrong": 1}, "unknown key"),
])
def test_truth_errors_name_key_and_file(values, match):
    full = {"w": [0.6, 0.4], "mu_logq": [-3.0, -1.0], "mu_loga": [0, 0],
            "sigma_logq": [0.5, 0.5], "sigma_loga": [0.5, 0.5], "rho": [0, 0],
            "e_alpha": [1, 1], "e_beta": [3, 3]}
    if "wrong" in values or "w" not in values:
        full = {k: v for k, v in full.items() if k not in ("w",)} | values
    else:
        full |= values
    with pytest.raises(InputDataError, match=f"truth.toml.*{match}|{match}.*truth.toml|"
                                             f"truth.toml: .*{match}"):
        sp.truth_from_mapping(full, source="truth.toml", n_components=2)


# ----------------------------------------------------------------------------------------
# binary_shape="powerlaw": dN/dq ∝ q^γ on q ≤ 1 for the last population
# ----------------------------------------------------------------------------------------
def _powerlaw_truth(terms, gamma=1.8):
    t = sp.truth_from_mapping({
        "w": [0.5, 0.5], "mu_logq": [-3.0], "mu_loga": [-1.0, 0.6],
        "sigma_logq": [0.6], "sigma_loga": [0.5, 0.4], "rho": [0.2],
        "e_alpha": [1.0, 2.0], "e_beta": [5.0, 3.0], "gamma_q": gamma},
        source="test", n_components=2, binary_shape="powerlaw")
    return sp.complete_parameters(t, terms)


def _powerlaw_cdf(gamma):
    """CDF of x = log10 q when dN/dq ∝ q^γ on (0, 1]: P(x ≤ t) = q^(γ+1) = 10^((γ+1) t)."""
    return lambda t: np.exp(np.minimum(t, 0.0) * (gamma + 1.0) * np.log(10.0))


def test_powerlaw_prior_draws_have_the_fits_layout_and_gamma_prior():
    pr = MixturePriors()
    rng = np.random.default_rng(8)
    draws = [sp.draw_base_prior(pr, n_components=2, planet_components=1, selection_aware=True,
                                rng=rng, binary_shape="powerlaw") for _ in range(1500)]
    d = draws[0]
    assert d["mu_logq"].shape == d["sigma_logq"].shape == d["rho"].shape == (1,)
    assert d["mu_loga"].shape == d["f_det"].shape == d["e_alpha"].shape == (2,)
    g1 = np.array([x["gamma_q"][0] for x in draws]) + 1.0
    ref = stats.lognorm(s=pr.gamma_q_log_sd, scale=1.0 + pr.gamma_q_median)
    assert stats.kstest(g1, ref.cdf).pvalue > 1e-3
    # the Gaussian shape is unchanged (no gamma_q)
    assert "gamma_q" not in sp.draw_base_prior(pr, n_components=2, planet_components=1,
                                               selection_aware=True, rng=rng)


def test_powerlaw_true_q_follows_the_power_law():
    """The population's true log q against the exact CDF 10^((γ+1) x) on x ≤ 0, and a
    negative control: the same draws against γ − 0.5 are rejected."""
    p = _powerlaw_truth(None, gamma=1.8)
    lab, logq, loga = sp._draw_true_values(p["w"], p, 6000, np.random.default_rng(9))
    pl = lab == 1
    assert 2500 < pl.sum() < 3500 and np.all(logq[pl] <= 0.0)
    assert np.isfinite(logq).all() and np.isfinite(loga).all()
    assert stats.kstest(logq[pl], _powerlaw_cdf(1.8)).pvalue > 1e-3
    assert stats.kstest(logq[pl], _powerlaw_cdf(1.3)).pvalue < 1e-6     # wrong γ: fails
    assert stats.kstest(loga[pl], stats.norm(0.6, 0.4).cdf).pvalue > 1e-3
    assert stats.kstest(logq[~pl], stats.norm(-3.0, 0.6).cdf).pvalue > 1e-3


def test_powerlaw_detected_draws_agree_between_the_two_samplers(design):
    """The fine-grid path (closed-form jittered power law, truncated-normal conditional)
    draws the same detected objects as plain rejection from the population."""
    terms = sp.model_terms(design, SEL)
    p = _powerlaw_truth(terms, gamma=3.0)
    lxi = sp.log_xi_of(terms, p)
    assert lxi.shape == (terms.counts.size, 2) and np.isfinite(lxi).all()
    g = int(np.flatnonzero(np.asarray(terms.methods)[terms.group_method] == "Imaging")[0])
    w = np.exp(p["log_w"])
    acc = float(np.exp(special.logsumexp(p["log_w"] + lxi[g])))
    rej = sp._detected_by_rejection(SEL, terms, g, 500, w, p, acc,
                                    np.random.default_rng(5), 10**8)
    grid = sp._detected_on_fine_grid(SEL, terms, g, 500, w, p, np.random.default_rng(6),
                                     10**8)
    assert np.all(grid[grid[:, 0] == 1, 1] <= 0.0)
    for j in (1, 2):  # log q, log a
        assert stats.ks_2samp(rej[:, j], grid[:, j]).pvalue > 1e-3, j
    assert abs(rej[:, 0].mean() - grid[:, 0].mean()) < 0.1


def test_powerlaw_replica_and_truth_file():
    design = sp.design_from_scenario(12, seed=3, selection=SEL)
    terms = sp.model_terms(design, SEL)
    p, _ = sp.draw_prior(design, selection=SEL, rng=np.random.default_rng(1), terms=terms,
                         binary_shape="powerlaw")
    assert p["gamma_q"].shape == (1,) and p["w"].shape == (2,)
    data, truth = sp.simulate_replica(design, p, selection=SEL, rng=np.random.default_rng(2),
                                      terms=terms)
    assert np.isfinite(data.y_logq).all() and set(truth["population"]) <= {0, 1}
    with pytest.raises(InputDataError, match=r"t\.toml: missing key 'gamma_q'"):
        sp.truth_from_mapping({k: v for k, v in {
            "w": [0.5, 0.5], "mu_logq": [-3.0], "mu_loga": [-1.0, 0.6], "sigma_logq": [0.6],
            "sigma_loga": [0.5, 0.4], "rho": [0.2], "e_alpha": [1.0, 2.0],
            "e_beta": [5.0, 3.0]}.items()}, source="t.toml", n_components=2,
            binary_shape="powerlaw")
    with pytest.raises(InputDataError, match="'mu_logq' must be a list of 1 finite"):
        sp.truth_from_mapping({"w": [0.5, 0.5], "mu_logq": [-3.0, -1.0], "gamma_q": 2.0},
                              source="t.toml", n_components=2, binary_shape="powerlaw")


def test_fine_grid_orientation_is_drawn_given_detection(design):
    """Radial velocity near its threshold: the fine-grid path's sin i follows p_det(sin i)
    × isotropic as plain rejection does. (Accepting with p / p̄ capped at 1 drew too few
    edge-on orbits: mean sin i 0.855 against 0.873, KS p = 0.007 at 1500 draws.)"""
    terms = sp.model_terms(design, SEL)
    g = int(np.flatnonzero(np.asarray(terms.methods)[terms.group_method]
                           == "Radial Velocity")[0])
    t = sp.complete_parameters(sp.truth_from_mapping(
        {"mu_logq": [-4.41], "mu_loga": [-1.0], "sigma_logq": [0.05], "sigma_loga": [0.05],
         "rho": [0.0], "e_alpha": [1.0], "e_beta": [3.0]}, source="t", n_components=1), terms)
    w = np.exp(t["log_w"])
    acc = float(np.exp(special.logsumexp(t["log_w"] + sp.log_xi_of(terms, t)[g])))
    assert 0.05 < acc < 0.5  # near the threshold: p_det depends on sin i
    rej = sp._detected_by_rejection(SEL, terms, g, 4000, w, t, acc,
                                    np.random.default_rng(5), 10**8)
    grid = sp._detected_on_fine_grid(SEL, terms, g, 4000, w, t, np.random.default_rng(6),
                                     10**8)
    assert stats.ks_2samp(rej[:, 3], grid[:, 3]).pvalue > 1e-3


def test_rare_orientation_is_the_same_rejection_in_batches(design):
    """A point seen from a few orientations only (RV far below its threshold unless edge-on):
    the batched fallback keeps isotropic orientations with their p_det, as the scalar loop
    does — its sin i matches p_det(sin i) × isotropic by quadrature — and a point seen from
    none is a clear error, not an endless loop."""
    terms = sp.model_terms(design, SEL)
    g = int(np.flatnonzero(np.asarray(terms.methods)[terms.group_method]
                           == "Radial Velocity")[0])
    xq, xa = -4.6, -1.0
    mu = (np.arange(20000) + 0.5) / 20000             # cos i, isotropic (midpoints)
    sin_i = np.sqrt(1.0 - mu**2)
    one = np.ones_like(mu)
    p = sp._p_det_group(SEL, terms, g, xq * one, xa * one, sin_i=sin_i, sin_phi=one)
    assert 0 < p.mean() < 0.2                        # seen from few orientations
    expect = float((p * sin_i).sum() / p.sum())
    rng = np.random.default_rng(2)
    got = np.array([sp._rare_orientation(SEL, terms, g, xq, xa, rng, 2**20, batch=256)[0]
                    for _ in range(1500)])
    sd = float(np.sqrt((p * (sin_i - expect) ** 2).sum() / p.sum()))
    assert abs(got.mean() - expect) < 4 * sd / np.sqrt(got.size)
    with pytest.raises(sp.SimulationError, match="no detecting orientation"):
        sp._rare_orientation(SEL, terms, g, -9.0, -1.0, rng, 2**12, batch=256)


@pytest.mark.parametrize(("method", "xq", "xa"), [("Radial Velocity", -4.6, -1.0),
                                                  ("Imaging", -1.0, 1.2)])
def test_orientation_grid_draws_the_conditional_orientation(design, method, xq, xa):
    """When rejection gives up (a point seen from almost no orientation), the orientation
    comes from a grid in cos i and cos φ: its draws have the mean that quadrature of
    p_det × isotropic gives — sin i for RV, sin φ (the projection) for imaging."""
    terms = sp.model_terms(design, SEL)
    g = int(np.flatnonzero(np.asarray(terms.methods)[terms.group_method] == method)[0])
    mu = (np.arange(200000) + 0.5) / 200000          # cos, isotropic (midpoints)
    s = np.sqrt(1.0 - mu**2)
    one = np.ones_like(mu)
    col = 0 if method == "Radial Velocity" else 1
    orient = {"sin_i": s, "sin_phi": one} if col == 0 else {"sin_i": one, "sin_phi": s}
    p = sp._p_det_group(SEL, terms, g, xq * one, xa * one, **orient)
    assert 0 < p.mean() < 0.9                        # orientation matters here
    expect = float((p * s).sum() / p.sum())
    sd = float(np.sqrt((p * (s - expect) ** 2).sum() / p.sum()))
    rng = np.random.default_rng(4)
    got = sp._orientation_on_grid(SEL, terms, g, xq, xa, rng, size=4000)[:, col]
    assert abs(got.mean() - expect) < 4 * sd / np.sqrt(got.size)


def test_imaging_detection_far_inside_the_inner_working_angle_is_simulated(design):
    """A detection the selection function allows only through its soft edge (p̄ ~ 1e-10,
    an imaged companion at 0.02 AU): no isotropic orientation of 2^14 is kept, and the
    grid still gives one (calibration replicas 27, 29, 33, 43 of the 2026-12-05 SBC failed
    here), favouring the widest projections."""
    terms = sp.model_terms(design, SEL)
    g = int(np.flatnonzero(np.asarray(terms.methods)[terms.group_method] == "Imaging")[0])
    pbar = float(sp._p_det_group(SEL, terms, g, np.array([-1.1]), np.array([-1.8]))[0])
    assert 0 < pbar < 1e-7
    rng = np.random.default_rng(1)
    draws = np.array([sp._rare_orientation(SEL, terms, g, -1.1, -1.8, rng, 2**14,
                                           batch=2**14)[1] for _ in range(50)])
    assert np.median(draws) > 0.9                     # sin φ near 1: widest separations
