"""The binary_shape option through the fit's configuration, CLI, summaries and PPC sampler."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vlms_bayes.cli import build_parser, fit_config_from_args
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.fit import FitConfig, posterior_table
from vlms_bayes.inference.initvals import powerlaw_initial_values
from vlms_bayes.inference.ppc import sample_detected_replicates
from vlms_bayes.models.likelihood import powerlaw_lambda
from vlms_bayes.models.selection import SelectionModel


@pytest.mark.parametrize("command", ["fit", "run"])
def test_cli_option_reaches_the_fit_config_and_its_record(command):
    args = build_parser().parse_args([command, "--binary-shape", "powerlaw"])
    cfg = fit_config_from_args(args)
    assert cfg.binary_shape == "powerlaw"
    assert cfg.to_dict()["binary_shape"] == "powerlaw"       # run.json / fit_summary.json
    assert fit_config_from_args(build_parser().parse_args([command])).binary_shape == "gaussian"
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--binary-shape", "lognormal"])


def test_config_refuses_unknown_shapes_and_other_backends():
    with pytest.raises(InputDataError, match="--binary-shape must be one of"):
        FitConfig(binary_shape="beta")
    with pytest.raises(InputDataError, match="--binary-shape powerlaw needs --backend jax"):
        FitConfig(binary_shape="powerlaw", backend="numpyro")


def test_initial_values_drop_the_binary_like_gaussian_q_parameters():
    init = {"mu_logq": np.array([-3.0, -1.0]), "sigma_logq": np.array([0.5, 0.4]),
            "rho_beta": np.array([0.5, 0.6]), "mu_loga": np.array([-1.0, 1.0]),
            "sigma_loga": np.array([0.3, 0.5]), "f_det": np.array([0.7, 0.3])}
    out = powerlaw_initial_values(init)
    assert out["mu_logq"].tolist() == [-3.0] and out["rho_beta"].tolist() == [0.5]
    assert out["mu_loga"].tolist() == [-1.0, 1.0] and "gamma_q" not in out


def _powerlaw_tree(post):
    """A posterior DataTree laid out as a power-law fit's (q parameters per Gaussian)."""
    from arviz_base import from_dict

    return from_dict({"posterior": post},
                     dims={"mu_logq": ["gaussian"], "gamma_q": ["power_law"],
                           "mu_loga": ["population"]},
                     coords={"gaussian": ["planet_like"], "power_law": ["binary_like"],
                             "population": ["planet_like", "binary_like"]},
                     check_conventions=False)


def test_posterior_table_reads_each_variables_own_coordinate():

    post = {"mu_logq": np.zeros((1, 4, 1)), "gamma_q": np.full((1, 4, 1), 2.0),
            "mu_loga": np.zeros((1, 4, 2))}
    dt = _powerlaw_tree(post)
    tab = posterior_table(dt["posterior"])
    assert list(tab["mu_logq"]) == ["planet_like"]
    assert tab["gamma_q"]["binary_like"]["q50"] == 2.0
    assert list(tab["mu_loga"]) == ["planet_like", "binary_like"]


def _powerlaw_draws(gamma, mu_a, sd_a):
    nan = np.nan
    return {"mu_logq": np.array([[-3.0, nan]]), "mu_loga": np.array([[-1.5, mu_a]]),
            "sigma_logq": np.array([[0.4, nan]]), "sigma_loga": np.array([[0.4, sd_a]]),
            "rho": np.array([[0.0, nan]]), "e_alpha": np.array([[1.0, 2.0]]),
            "e_beta": np.array([[3.0, 2.0]]), "w": np.array([[1e-12, 1.0]]),
            "gamma_q": np.array([gamma])}


def test_ppc_sampler_draws_the_power_law():
    """Without selection the replicates of the binary-like population follow the power law
    (KS against λ e^{λx} on x ≤ 0) and the normal in log a; with microlensing's p_det their
    moments match a grid integral of p_det × density."""
    gamma, mu_a, sd_a = 2.5, 0.8, 0.3
    draws = _powerlaw_draws(gamma, mu_a, sd_a)
    lam = powerlaw_lambda(gamma)
    rng = np.random.default_rng(1)
    n = 3000
    res = sample_detected_replicates(draws, method="Imaging", host_msun=np.full(n, 0.1),
                                     draw_index=np.zeros(n, np.int64), selection=None, rng=rng)
    assert np.all(res["population"] == 1)
    assert np.all(res["logq"] <= 0)
    assert stats.kstest(-res["logq"], stats.expon(scale=1 / lam).cdf).pvalue > 1e-3
    assert stats.kstest(res["loga"], stats.norm(mu_a, sd_a).cdf).pvalue > 1e-3
    sel = SelectionModel()
    host = 0.12
    q = np.linspace(-7.0, 0.0, 701)
    a = np.linspace(-3.0, 4.0, 701)
    qq, aa = np.meshgrid(q, a, indexing="ij")
    dens = np.exp(lam * qq) * stats.norm.pdf(aa, mu_a, sd_a)
    wgt = dens * sel.p_det("Microlensing", qq, aa, m_star_msun=host)
    wgt /= wgt.sum()
    res = sample_detected_replicates(draws, method="Microlensing", host_msun=np.full(n, host),
                                     draw_index=np.zeros(n, np.int64), selection=sel, rng=rng)
    for x, grid in ((res["logq"], qq), (res["loga"], aa)):
        mean = float((wgt * grid).sum())
        sd = float(np.sqrt((wgt * (grid - mean) ** 2).sum()))
        assert abs(x.mean() - mean) < 4 * sd / np.sqrt(n)


def test_selection_report_density_uses_the_power_law(tmp_path):
    """The intrinsic density of the selection report: the binary-like column of a power-law
    fit integrates to its weight on the grid (the Gaussian formula would give NaN)."""
    import pandas as pd
    from arviz_base import from_dict

    from vlms_bayes.report.selection import method_densities

    post = {"mu_logq": np.full((1, 2, 1), -3.0), "sigma_logq": np.full((1, 2, 1), 0.5),
            "rho": np.zeros((1, 2, 1)), "mu_loga": np.tile([-1.5, 0.5], (1, 2, 1)),
            "sigma_loga": np.tile([0.4, 0.4], (1, 2, 1)),
            "e_alpha": np.ones((1, 2, 2)), "e_beta": np.full((1, 2, 2), 3.0),
            "w": np.tile([0.0, 1.0], (1, 2, 1)), "gamma_q": np.full((1, 2, 1), 2.0)}
    dims = {"mu_logq": ["gaussian"], "sigma_logq": ["gaussian"], "rho": ["gaussian"],
            "gamma_q": ["power_law"], **{n: ["population"] for n in (
                "mu_loga", "sigma_loga", "e_alpha", "e_beta", "w")}}
    dt = from_dict({"posterior": post}, dims=dims, check_conventions=False,
                   coords={"gaussian": ["planet_like"], "power_law": ["binary_like"],
                           "population": ["planet_like", "binary_like"]})
    pd.DataFrame({"discoverymethod": ["Imaging"], "logq": [-0.2], "loga": [0.6],
                  "st_mass": [0.1]}).to_csv(tmp_path / "stacked_used.csv", index=False)
    fit = {"dir": str(tmp_path), "dt": dt,
           "summary": {"selection": {"parameters": SelectionModel().to_dict()}}}
    out = method_densities(fit, n_draws=2, step_dex=0.02)
    assert np.isfinite(out["intrinsic"]).all()
    # a rectangle sum: the jump of λ e^{λx} at q = 1 adds up to λ h / 2 ≈ 0.07
    assert out["intrinsic"].sum() * 0.02**2 == pytest.approx(1.0, abs=0.1)
    marg_q = out["intrinsic"].sum(axis=1)
    mean_q = (marg_q * out["logq"]).sum() / marg_q.sum()
    assert mean_q == pytest.approx(-1.0 / powerlaw_lambda(2.0), abs=0.02)


def test_sampler_figures_label_each_variable_by_its_own_coordinate():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vlms_bayes.plots.bayes import plot_corner, plot_rank

    rng = np.random.default_rng(0)
    post = {"mu_logq": rng.normal(size=(2, 20, 1)), "gamma_q": rng.normal(size=(2, 20, 1)),
            "mu_loga": rng.normal(size=(2, 20, 2))}
    dt = _powerlaw_tree(post)
    fig = plot_rank(dt, ("mu_logq", "mu_loga", "gamma_q"))
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert titles == ["mu_logq[planet_like]", "mu_loga[planet_like]", "mu_loga[binary_like]",
                      "gamma_q[binary_like]"]
    plt.close(fig)
    plt.close(plot_corner(dt, ("mu_logq", "gamma_q")))


def test_ppc_does_not_draw_replicates_the_fit_predicts_cannot_be_detected():
    """A power-law fit may put a method's detected fraction at 1e-12 (the likelihood is
    conditional on the detections): such replicates are counted as undetected without
    drawing 2^20 candidates each (hours through the imaging p_det), and a hard budget
    bounds the candidates of a method in all."""
    draws = _powerlaw_draws(2.0, -2.0, 0.2)          # everything at 0.01 AU: no imaging
    draws["mu_loga"][0, 0] = -2.0
    sel = SelectionModel()
    n = 40
    kw = dict(draws=draws, method="Imaging", host_msun=np.full(n, 0.1),
              draw_index=np.zeros(n, np.int64),
              selection=sel)
    res = sample_detected_replicates(**kw, rng=np.random.default_rng(0),
                                     log_accept=np.full(n, np.log(1e-12)))
    assert res["n_skipped"] == n and np.isnan(res["logq"]).all()
    assert (res["n_candidates"] == 2**20).all()
    # the budget: each pair is stopped once n × batch would pass it
    res = sample_detected_replicates(**kw, rng=np.random.default_rng(0), first_batch=16,
                                     max_candidates=2000, max_mean_candidates=100)
    assert res["n_stopped"] == n and (res["n_candidates"] <= 100).all()
    # detectable pairs are untouched by either
    draws_ok = _powerlaw_draws(2.0, 1.5, 0.2)
    res = sample_detected_replicates(draws_ok, method="Imaging", host_msun=np.full(n, 0.1),
                                     draw_index=np.zeros(n, np.int64), selection=sel,
                                     rng=np.random.default_rng(0),
                                     log_accept=np.full(n, np.log(0.05)))
    assert res["n_skipped"] == res["n_stopped"] == 0 and np.isfinite(res["logq"]).all()
    # pruning: one undetected object makes its draw useless to the check, so the draw's
    # other objects are not drawn; the other draw is complete
    two = {k: np.concatenate([v, v]) for k, v in draws_ok.items()}
    acc = np.full(n, np.log(0.05))
    acc[0] = np.log(1e-12)
    res = sample_detected_replicates(two, method="Imaging", host_msun=np.full(n, 0.1),
                                     draw_index=np.repeat([0, 1], n // 2), selection=sel,
                                     rng=np.random.default_rng(0), log_accept=acc,
                                     prune_draws=True)
    assert np.isnan(res["logq"][: n // 2]).all() and np.isfinite(res["logq"][n // 2:]).all()


@pytest.mark.usefixtures("jax_test_cache")
def test_tiny_powerlaw_fit_writes_its_outputs(tmp_path):
    """A selection-aware power-law fit of a small mixed-method sample, end to end (it
    hung for > 20 min in its posterior predictive check before the fix above)."""
    import json

    from vlms_bayes.inference.fit import run_fit
    from vlms_bayes.models.simulate import ObservationSettings, simulate_catalogue

    frame = simulate_catalogue(30, random_seed=7, observe=ObservationSettings(
        projected_methods=("Microlensing",)))
    frame["discoverymethod"] = np.random.default_rng(7).choice(
        ["Radial Velocity", "Transit", "Microlensing", "Imaging"], size=len(frame))
    cfg = FitConfig(chains=1, draws=30, tune=30, loo_components=(), allow_bad_diagnostics=True,
                    retry_target_accept=0.9, selection=SelectionModel(),
                    binary_shape="powerlaw", max_tree_depth=4)
    run_fit(frame, cfg, outdir_path=tmp_path, seed=11)
    for f in ("posterior.nc", "fit_summary.json", "memberships.csv", "stacked_used.csv",
              "fig_ppc.png"):
        assert (tmp_path / f).is_file(), f
    summary = json.loads((tmp_path / "fit_summary.json").read_text())
    assert summary["config"]["binary_shape"] == "powerlaw"
    assert set(summary["ppc"]["methods"]) == set(frame["discoverymethod"])
