"""Selection-aware fit end to end (tiny runs): records, LOO terms, memberships, compare."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.simulate_selection import simulate_detected

# the assertions are identities of the fitted draws (pointwise log-likelihood, memberships,
# the comparison), whatever their number: 2 x 50 draws after 50 warm-up steps
TINY = dict(chains=2, draws=50, tune=50)


pytestmark = pytest.mark.usefixtures("jax_test_cache")


@pytest.fixture(scope="module")
def frame():
    det, _ = simulate_detected(350, random_seed=4)
    det.loc[0, ["is_reference", "in_window"]] = [True, False]
    det.loc[1, "discoverymethod"] = "Pulsar Timing"
    return det


@pytest.fixture(scope="module")
def fits(frame, tmp_path_factory):
    from vlms_bayes.inference.diagnostics import GateConfig
    from vlms_bayes.inference.fit import FitConfig, run_fit

    out = {}
    for mode, sel in (("none", None), ("methods", SelectionModel())):
        folder = tmp_path_factory.mktemp(f"fit_{mode}")
        cfg = FitConfig(**TINY, allow_bad_diagnostics=True, retry_target_accept=0.9,
                        gate=GateConfig(max_rhat=1.2, min_ess_bulk=10, min_ess_tail=10),
                        selection=sel)
        out[mode] = (folder, run_fit(frame, cfg, outdir_path=folder, seed=3))
    return out


def test_selection_record_loo_terms_and_intrinsic_memberships(fits):
    from scipy import special

    from vlms_bayes.inference.membership import (
        draws_from_posterior,
        object_log_terms,
        responsibilities,
    )
    from vlms_bayes.models.selection_norm import log_xi, selection_terms

    folder, res = fits["methods"]
    summ = json.loads((folder / "fit_summary.json").read_text())
    rec = summ["selection"]
    assert rec["mode"] == "methods" and summ["config"]["selection"] == "methods"
    assert rec["parameters"] == json.loads(json.dumps(SelectionModel().to_dict()))
    assert SelectionModel.from_dict(rec["parameters"]) == SelectionModel()
    assert any("Pulsar Timing" in n for n in rec["notes"])
    assert res.posterior.attrs["selection"] == "methods"
    assert "selection: methods" in res.report
    assert json.loads((fits["none"][0] / "fit_summary.json").read_text())["selection"] == {
        "mode": "none"}
    # pointwise log-likelihood = marginal mixture term − log Σ_k w_k ξ_m(i),k (independent
    # evaluation of the per-method normalisation here)
    draws = draws_from_posterior(res.posterior["posterior"])
    lt = object_log_terms(res.data, draws)
    terms = selection_terms(res.data, SelectionModel())
    lxi = log_xi(terms, draws["mu_logq"], draws["mu_loga"], draws["sigma_logq"],
                 draws["sigma_loga"], draws["rho"], log=np.log)
    norm = special.logsumexp(np.log(draws["w"])[:, None, :] + lxi, axis=-1)
    idx = terms.object_group
    expect = special.logsumexp(lt, axis=-1) - np.where(idx >= 0, norm[:, np.maximum(idx, 0)], 0)
    ll = res.posterior["log_likelihood"]["obs"].values.reshape(expect.shape)
    np.testing.assert_allclose(ll, expect, rtol=1e-10)
    # memberships use the intrinsic populations: r ∝ w_k p_k(d_i), no selection factor
    members = pd.read_csv(folder / "memberships.csv")
    np.testing.assert_allclose(members["P_binary_like"],
                               responsibilities(lt)[..., -1].mean(axis=0), rtol=1e-10)


def test_compare_side_by_side(fits, frame, tmp_path):
    from vlms_bayes.errors import InputDataError
    from vlms_bayes.pipeline import BaselineConfig, compute_baselines, write_baselines
    from vlms_bayes.pipeline.bayes import compare_command
    from vlms_bayes.report.selection import compare_selection

    base = tmp_path / "base"
    base.mkdir()
    write_baselines(base, compute_baselines(frame, BaselineConfig(n_boot=10), seed=1))
    res = compare_command(fits["methods"][0], base, outdir=tmp_path / "cmp",
                          other_posterior_dir=fits["none"][0])
    assert (tmp_path / "cmp" / "fig_selection_methods.png").is_file()
    assert (tmp_path / "cmp" / "selection_per_method.csv").is_file()
    js = json.loads((tmp_path / "cmp" / "comparison.json").read_text())["selection"]
    ref_name = frame.loc[0, "name"]
    assert [r["name"] for r in js["reference"]] == [ref_name]
    assert 0 <= js["reference"][0]["naive"] <= 1 and 0 <= js["reference"][0]["selection"] <= 1
    methods = {r["discoverymethod"] for r in js["per_method"]}
    assert methods == set(res.result["members"]["discoverymethod"])
    split = js["method_split_naive"]
    means = [r["mean_P_naive"] for r in js["per_method"] if r["n"] >= 3]
    assert split == pytest.approx(max(means) - min(means))
    assert "## Selection: naive vs selection-aware fit" in res.report
    assert f"{ref_name}: P(binary-like) naive" in res.report
    # both fits' posterior predictive checks: the selection-aware one as a table, the
    # naive one in words beside it
    ppc_md = res.report.split("## Posterior predictive checks per discovery method")[1]
    assert "The same data fitted without the selection correction: " in ppc_md
    naive_ppc = json.loads((fits["none"][0] / "fit_summary.json").read_text())["ppc"]
    assert naive_ppc["selection"] == "none" and js is not None
    assert json.loads((tmp_path / "cmp" / "comparison.json").read_text())["ppc"][
        "selection"] == "methods"
    from vlms_bayes.report.selection import method_densities

    dens = method_densities(res.result["selection"]["selection_fit"], n_draws=20)
    h2 = (dens["logq"][1] - dens["logq"][0]) * (dens["loga"][1] - dens["loga"][0])
    assert 0.9 < dens["intrinsic"].sum() * h2 <= 1.0 + 1e-9
    assert set(dens["observed"]) == methods - {"Pulsar Timing"}
    for obs in dens["observed"].values():
        assert obs.sum() * h2 == pytest.approx(1.0, rel=1e-9)
    with pytest.raises(InputDataError, match="one fit with --selection none"):
        compare_selection(fits["none"][0], fits["none"][0])


def test_cli_selection_option():
    from vlms_bayes.cli import build_parser, fit_config_from_args
    from vlms_bayes.inference.fit import FitConfig

    args = build_parser().parse_args(["fit", "--selection", "methods"])
    assert fit_config_from_args(args).selection == SelectionModel()
    args = build_parser().parse_args(["run", "--selection", "methods"])
    assert fit_config_from_args(args).selection == SelectionModel()
    for cmd in ("fit", "run", "robustness"):  # selection-aware by default
        assert fit_config_from_args(build_parser().parse_args([cmd])).selection == \
            SelectionModel()
    args = build_parser().parse_args(["fit", "--selection", "none"])
    assert fit_config_from_args(args).selection is None
    assert FitConfig().selection == SelectionModel()  # the library's default is the CLI's
    assert build_parser().parse_args(["fit"]).loo_components == [1, 2]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fit", "--selection", "survey"])
