"""The robustness suite: pure variant builders, the headline table, the command end to end."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.data_io.schema import model_view
from vlms_bayes.errors import InputDataError
from vlms_bayes.models.selection_priors import default_selection_priors
from vlms_bayes.pipeline.robustness import table as rt
from vlms_bayes.pipeline.robustness import variants as rv

# tiny sampler: the gate's verdict is not the point here (allow bad diagnostics), nor is its
# retry (a retry target acceptance equal to the first attempt's, 0.9, skips it; sampling at
# 0.98 instead would double each refit's CPU time with its small steps and deep trees);
# 2 x 40 draws after 40 warm-up steps, the size of the other tiny fits of the real sample
# (tests/report/test_report_html.py, the README's shrunk `run`, the tutorial's quick mode):
# draws and warm-up steps are constants of the compiled sampler, so the fits of the same
# model and data share one compilation through the session's JAX cache
TINY = ["--chains", "2", "--draws", "40", "--tune", "40", "--retry-target-accept", "0.9",
        "--allow-bad-diagnostics"]
# the suite's machinery does not depend on the model, so most tests refit the cheaper naive
# one; test_run_with_robustness_step runs the default (selection-aware) model through it
NAIVE = ["--selection", "none"]


@pytest.fixture(scope="module")
def data_config(ps_snapshot, shared_data_dir):
    from vlms_bayes.pipeline import DataConfig

    return DataConfig(ps=str(ps_snapshot), data_dir=str(shared_data_dir))


@pytest.fixture(scope="module")
def frame(data_config):
    from vlms_bayes.pipeline import load_dataset

    return load_dataset(data_config)


@pytest.fixture(scope="module")
def configs():
    from vlms_bayes.inference.fit import FitConfig
    from vlms_bayes.pipeline import BaselineConfig

    return BaselineConfig(n_boot=20), FitConfig(chains=2, draws=40, tune=40)


def _non_ref(f: pd.DataFrame) -> pd.DataFrame:
    return f.loc[~f["is_reference"].astype(bool)]


# ---------------------------------------------------------------------------------------
# variant construction (pure)
# ---------------------------------------------------------------------------------------
def test_leave_out_method_removes_exactly_that_method(frame):
    counts = rv.method_counts(frame)
    assert set(counts) >= {"Microlensing", "Transit", "Radial Velocity"}
    for method in counts:
        out = rv.leave_out_method(frame, method)
        assert not (_non_ref(out)["discoverymethod"] == method).any()
        expected = frame.loc[(frame["discoverymethod"] != method)
                             | frame["is_reference"].astype(bool), "name"]
        assert sorted(out["name"]) == sorted(expected)
        # the fitted sample lost exactly that method's objects
        assert len(model_view(out)) == len(model_view(frame)) - counts[method]
    assert out["is_reference"].any()  # the reference object is kept for scoring
    with pytest.raises(InputDataError, match="Nonexistent"):
        rv.leave_out_method(frame, "Nonexistent")


def test_methods_with_too_few_objects_are_skipped_and_said(frame, configs):
    counts = rv.method_counts(frame)
    small = min(counts, key=counts.get)
    built, notes = rv.build_variants(frame, *configs, groups=["methods"],
                                     min_method_rows=counts[small] + 1)
    names = [v.name for v in built]
    assert names[0] == "default"
    assert f"without-{rv.slug(small)}" not in names
    assert any(small in n and "skipped" in n for n in notes)
    built, notes = rv.build_variants(frame, *configs, groups=["methods"],
                                     min_method_rows=counts[small])
    assert f"without-{rv.slug(small)}" in [v.name for v in built]
    assert len(built) == 1 + sum(n >= counts[small] for n in counts.values())


def test_true_masses_only_has_no_msini_rows(frame):
    out = rv.true_masses_only(frame)
    assert (frame["mass_kind"] == "msini").sum() > 0
    assert not (out["mass_kind"] == "msini").any()
    assert (_non_ref(out)["mass_kind"] == "true").all()
    assert len(_non_ref(out)) == int((_non_ref(frame)["mass_kind"] == "true").sum())


def test_e_limits_excluded_become_missing(frame):
    from vlms_bayes.models.data import E_LIMIT, E_MEASURED, model_data_from_stacked

    out = rv.exclude_e_limits(frame)
    lim = frame["ecc_status"] == "upper_limit"
    assert lim.sum() > 0 and not (out["ecc_status"] == "upper_limit").any()
    assert out.loc[lim, "pl_orbeccen"].isna().all()
    pd.testing.assert_frame_equal(out.loc[~lim], frame.loc[~lim])
    before, _ = model_data_from_stacked(frame)
    after, _ = model_data_from_stacked(out)
    assert (before.e_kind == E_LIMIT).sum() > 0 and (after.e_kind == E_LIMIT).sum() == 0
    assert (after.e_kind == E_MEASURED).sum() == (before.e_kind == E_MEASURED).sum()
    assert after.n == before.n


def test_homoscedastic_errors_all_equal_the_median(frame):
    from vlms_bayes.models.data import E_MEASURED, MeasurementConfig, model_data_from_stacked

    rows = model_view(frame)

    def med(sub: pd.DataFrame, stem: str) -> float:
        # pandas' row mean skips NaN: one error where the other is missing
        per_row = pd.concat([sub[f"{stem}_err_hi"].abs(), sub[f"{stem}_err_lo"].abs()],
                            axis=1).mean(axis=1).dropna()
        return float(per_row[per_row > 0].median())

    expect = {"logq": med(rows, "logq"), "loga": med(rows, "loga"),
              "pl_orbeccen": med(rows.loc[rows["ecc_status"] == "measured"], "pl_orbeccen")}
    assert rv.median_errors(frame) == pytest.approx(expect, rel=1e-12)
    out = rv.homoscedastic_errors(frame)
    tiny = MeasurementConfig(logq_err_floor=1e-9, loga_err_floor=1e-9, e_err_floor=1e-9,
                             lens_logq_err_floor=1e-9, model_mass_logq_err_floor=1e-9)
    data, _ = model_data_from_stacked(out, measurement=tiny)
    np.testing.assert_allclose(data.s_logq, expect["logq"], rtol=1e-12)
    np.testing.assert_allclose(data.s_loga, expect["loga"], rtol=1e-12)
    np.testing.assert_allclose(data.s_e[data.e_kind == E_MEASURED], expect["pl_orbeccen"],
                               rtol=1e-12)
    # heteroscedastic before: the errors did differ
    orig, _ = model_data_from_stacked(frame, measurement=tiny)
    assert np.ptp(orig.s_logq) > 0 and np.ptp(orig.s_loga) > 0
    # nothing but the error columns changed
    err_cols = [c for c in frame.columns if c.endswith(("_err_hi", "_err_lo"))
                and c.startswith(("logq", "loga", "pl_orbeccen"))]
    pd.testing.assert_frame_equal(out.drop(columns=err_cols), frame.drop(columns=err_cols))


def test_widened_window_includes_the_reference_host(data_config, frame):
    from vlms_bayes.pipeline import load_dataset

    ref = frame.loc[frame["is_reference"]]
    assert not ref["in_window"].any()  # 0.207 Msun is outside the default window
    wide_cfg = rv.widened_data_config(data_config)
    assert wide_cfg.mstar_max == rv.WIDE_MSTAR_MAX and wide_cfg.mstar_min == data_config.mstar_min
    wide = load_dataset(wide_cfg)
    wref = wide.loc[wide["is_reference"]]
    assert wref["in_window"].all() and wref["st_mass"].iloc[0] == pytest.approx(0.207)
    assert "TOI-6894 b" in set(model_view(wide)["name"])
    assert len(model_view(wide)) > len(model_view(frame))
    # never narrows a window that already is wider
    assert rv.widened_data_config(dataclasses.replace(data_config, mstar_max=0.3)
                                  ).mstar_max == 0.3


def test_fixed_e_flip_changes_both_fit_and_baselines(configs):
    bl, fit = configs
    bl2, fit2, name, _ = rv.flipped_fixed_e(bl, fit)
    assert (fit.measurement.fixed_zero, bl.fixed_e) == ("unknown", "exclude")
    assert (fit2.measurement.fixed_zero, bl2.fixed_e, name) == ("measured", "measured",
                                                                "fixed-e-measured")
    bl3, fit3, name3, _ = rv.flipped_fixed_e(bl2, fit2)
    assert (fit3.measurement.fixed_zero, bl3.fixed_e, name3) == ("unknown", "exclude",
                                                                 "fixed-e-unknown")


def test_build_variants_all_groups(frame, configs):
    wide = frame.assign(in_window=frame["in_window"] | frame["is_reference"])
    built, _ = rv.build_variants(frame, *configs, wide_frame=wide, min_method_rows=1)
    names = [v.name for v in built]
    assert names[0] == "default" and len(set(names)) == len(names)
    assert {"true-masses-only", "e-limits-excluded", "fixed-e-measured", "homoscedastic",
            "window-widened"} <= set(names)
    assert sum(v.group == "methods" for v in built) == len(rv.method_counts(frame))
    assert sum(v.group == "selection" for v in built) == 2 * len(
        default_selection_priors().sensitivity_keys())  # min_method_rows=1: every method
    with pytest.raises(InputDataError, match="bogus"):
        rv.check_groups(["bogus"])
    with pytest.raises(InputDataError, match="wide_frame"):
        rv.build_variants(frame, *configs, groups=["window"])


def test_selection_variants_follow_the_priors(frame, configs, tmp_path):
    """Each key parameter at its prior's low and high, nothing else changed; the list
    comes from the priors file the fit's selection model was read from."""
    from vlms_bayes.models.selection_priors import TARGETS, load_selection_priors

    bl, fit = configs
    pri = default_selection_priors()
    counts = rv.method_counts(frame)
    few = counts["Astrometry"] + 1  # a method with too few objects is not varied
    built, notes = rv.build_variants(frame, bl, fit, groups=["selection"],
                                     min_method_rows=few)
    assert any("astrometry.alpha_threshold" in n and "skipped" in n for n in notes)
    varied = [k for k in pri.sensitivity_keys() if k != "astrometry.alpha_threshold"]
    assert [v.name for v in built[1:]] == [f"selection-{rv.slug(k)}-{e}" for k in varied
                                           for e in ("low", "high")]
    for v in built[1:]:
        key = next(k for k in varied if v.name.startswith(f"selection-{rv.slug(k)}-"))
        end = v.name.rsplit("-", 1)[1]
        t = TARGETS[key]
        got = getattr(getattr(v.fit.selection, t.kind), t.field)
        assert got == pytest.approx(pri[key].model_value(end))
        # nothing else changed
        back = dataclasses.replace(v.fit.selection, **{t.kind: getattr(fit.selection, t.kind)})
        assert back == fit.selection
        assert v.frame is frame and v.baseline is bl
    # a user's priors file decides which parameters are varied and their ranges
    path = tmp_path / "p.toml"
    path.write_text('[rv.k_threshold]\nsensitivity = false\n[rv.baseline]\n'
                    'sensitivity = true\nlow = "3 yr"\n')
    mine = dataclasses.replace(fit, selection=load_selection_priors(path).model())
    built2, _ = rv.build_variants(frame, bl, mine, groups=["selection"])
    names = [v.name for v in built2]
    assert "selection-rv.baseline-low" in names and not any("k_threshold" in n for n in names)
    low = next(v for v in built2 if v.name == "selection-rv.baseline-low")
    assert low.fit.selection.rv.baseline_yr == pytest.approx(3.0)
    assert low.fit.selection.priors_file == str(path)
    # a naive fit has no selection variants, and says so
    built3, notes3 = rv.build_variants(frame, bl, dataclasses.replace(fit, selection=None),
                                       groups=["selection"])
    assert len(built3) == 1 and "no selection model" in notes3[0]
    assert rt.conclusion("method_split", 0.9) == "populations follow the methods"
    assert rt.conclusion("method_split", 0.1) == "methods mixed"


def test_variant_seed_is_deterministic_and_distinct():
    from vlms_bayes.pipeline.robustness import variant_seed

    assert variant_seed("default", 42) == 42
    s = {variant_seed(n, 42) for n in ("true-masses-only", "homoscedastic", "feasibility")}
    assert len(s) == 3 and all(0 <= x < 2**31 for x in s)
    assert variant_seed("homoscedastic", 42) == variant_seed("homoscedastic", 42)
    assert variant_seed("homoscedastic", 42) != variant_seed("homoscedastic", 43)


def test_conclusions_and_table():
    c = rt.conclusion
    assert c("delta_elpd_k2_k1", 10.0, 6.0, 14.0) == "K=2 preferred"  # 10 > 2 * 4
    assert c("delta_elpd_k2_k1", 5.0, 1.0, 9.0) == "K=2 and K=1 indistinguishable"
    assert c("delta_elpd_k2_k1", -9.0, -13.0, -5.0) == "K=1 preferred"
    assert c("ks_p_value", 0.01) != c("ks_p_value", 0.2)
    assert c("reference_p_binary_posterior", 0.7) == "binary-like"
    assert c("p_mean_e_binary_gt_planet", 0.5) == "no clear difference"
    assert c("bic_winner_k", np.nan) == "n/a"
    nan = np.nan
    rows = (rt.headline_rows("default", "default", "d", {"ks_p_value": {"value": 0.01,
                                                                        "lo": nan, "hi": nan}})
            + rt.headline_rows("v", "g", "v", {"ks_p_value": {"value": 0.3, "lo": nan,
                                                              "hi": nan}})
            + rt.failed_rows("w", "g", "w", "boom", ["ks_p_value"]))
    t = rt.finish_table(rows, default_variant={"ks_p_value": "default"})
    assert list(t.columns) == list(rt.TABLE_COLUMNS)
    assert (t["default_value"] == 0.01).all()
    assert t["same_conclusion"].tolist() == [True, False, None]
    assert t["status"].iloc[2] == "failed: boom"


def test_unknown_variant_group_is_a_clear_error(ps_snapshot, shared_data_dir, tmp_path, capsys):
    rc = main(["robustness", "--ps", str(ps_snapshot), "--data-dir", str(shared_data_dir),
               "--variants", "bogus", "--outdir", str(tmp_path / "out")])
    assert rc == 2
    assert "bogus" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------
# the command end to end (tiny sampler)
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def jax_cache_env(jax_test_cache):
    """The tests' persistent JAX compilation cache, shared with the worker processes."""
    cache = str(jax_test_cache)
    old = {k: os.environ.get(k) for k in ("JAX_COMPILATION_CACHE_DIR",
                                          "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")}
    os.environ["JAX_COMPILATION_CACHE_DIR"] = cache
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.5"
    yield cache
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def suite_out(ps_snapshot, shared_data_dir, tmp_path_factory, jax_cache_env):
    out = tmp_path_factory.mktemp("robust") / "out"
    rc = main(["robustness", "--ps", str(ps_snapshot), "--data-dir", str(shared_data_dir),
               *TINY, *NAIVE, "--n-boot", "20", "--variants", "true_mass", "feasibility",
               "--sens-grid", "4", "--sens-draws", "16", "--jobs", "2", "--seed", "42",
               "--outdir", str(out)])
    assert rc == 0
    return out


def test_command_writes_table_figure_and_record(suite_out):
    import matplotlib.image as mpimg

    for f in ("robustness.csv", "fig_robustness.png", "robustness_report.txt", "run.json",
              "variants/default/fit_summary.json", "variants/true-masses-only/memberships.csv"):
        assert (suite_out / f).is_file(), f
    assert not list(suite_out.parent.glob(".out.staging.*"))
    t = pd.read_csv(suite_out / "robustness.csv")
    assert list(t.columns) == list(rt.TABLE_COLUMNS)
    refit = [k for k in rt.NUMBERS if k != "feasible_fraction"]
    for v in ("default", "true-masses-only"):
        assert t.loc[t["variant"] == v, "number"].tolist() == refit
    feas = t.loc[t["number"] == "feasible_fraction"]
    assert len(feas) == 3 * (3 + 3)  # horizons x (floor + seed-rule thresholds)
    assert feas["value"].between(0, 1).all()
    # every row carries its number's default value
    for key, sub in t.groupby("number"):
        d = sub.loc[sub["variant"] == ("default" if key != "feasible_fraction"
                                       else "feasibility-h1-floor-2.7"), "value"].iloc[0]
        np.testing.assert_allclose(sub["default_value"], d)
    # the true-mass variant fits exactly the true-mass rows
    n = t.set_index(["variant", "number"])["value"]
    assert n["true-masses-only", "n_objects"] < n["default", "n_objects"]
    img = mpimg.imread(suite_out / "fig_robustness.png")
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 600
    rec = json.loads((suite_out / "run.json").read_text())
    assert rec["command"] == "robustness" and rec["seeds"]["default"] == 42
    assert rec["config"]["fit"]["loo_components"] == [1, 2]


def test_default_row_equals_a_direct_fit(suite_out, frame, ps_snapshot, shared_data_dir,
                                         tmp_path):
    """`vlms-bayes fit` + the baselines with the same settings and seed.

    The default variant's master seed is the suite's (42); like the commands, it derives
    the baselines' and the sampler's streams from it. The suite refits in its own worker
    process, the direct fit runs here (through the command's entry point): a process
    apart, as a user's `vlms-bayes fit` would be, without paying for a third one's start.
    """
    import arviz as az

    from vlms_bayes.pipeline import BaselineConfig, compute_baselines
    from vlms_bayes.report.selection import method_split, per_method_memberships
    from vlms_bayes.seeds import derive_seed

    fit_dir = tmp_path / "fit"
    assert main(["-q", "fit", "--ps", str(ps_snapshot), "--data-dir", str(shared_data_dir),
                 *TINY, *NAIVE, "--loo-components", "1", "2", "--seed", "42",
                 "--outdir", str(fit_dir)]) == 0
    loo = pd.read_csv(fit_dir / "loo_comparison.csv").set_index("model")
    d_elpd = loo.loc["K=2", "elpd_loo"] - loo.loc["K=1", "elpd_loo"]
    summary = json.loads((fit_dir / "fit_summary.json").read_text())
    em = az.from_netcdf(fit_dir / "posterior.nc")["posterior"]["e_mean"].values.reshape(-1, 2)
    base = compute_baselines(frame, BaselineConfig(n_boot=20),
                             seed=derive_seed(42, "baselines"))  # as `baseline --seed 42`
    objs = base["objects"]
    direct = {
        "delta_elpd_k2_k1": d_elpd,
        "bic_winner_k": base["gmm"].winner,
        "p_mean_e_binary_gt_planet": np.mean(em[:, 1] > em[:, 0]),
        "ks_p_value": base["ks"].pvalue,
        "reference_p_binary_posterior": summary["reference"][0]["P_binary_like"],
        "reference_p_binary_logistic": objs.loc[objs["is_reference"].astype(bool),
                                                "P_binary_like_logistic"].iloc[0],
        "n_objects": summary["n_objects"],
        "method_split": method_split(per_method_memberships(
            pd.read_csv(fit_dir / "memberships.csv"))),
    }
    t = pd.read_csv(suite_out / "robustness.csv")
    got = t.loc[t["variant"] == "default"].set_index("number")["value"]
    for key, value in direct.items():
        assert got[key] == pytest.approx(value, rel=1e-8, abs=1e-12), key


@pytest.mark.slow  # ~15-40 s; the shared Dask path's worker independence is in test_calibrate
def test_jobs_one_and_two_give_identical_tables(suite_out, data_config, tmp_path):
    from vlms_bayes.inference.fit import FitConfig
    from vlms_bayes.pipeline import BaselineConfig
    from vlms_bayes.pipeline.robustness import run_robustness

    fit = FitConfig(chains=2, draws=40, tune=40, retry_target_accept=0.9,  # as TINY
                    allow_bad_diagnostics=True, selection=None)
    run_robustness(data_config, BaselineConfig(n_boot=20), fit, outdir=tmp_path / "j1",
                   seed=42, variants=["true_mass"], n_jobs=1)
    two = pd.read_csv(suite_out / "robustness.csv")
    two = two.loc[two["group"] != "feasibility"].reset_index(drop=True)
    one = pd.read_csv(tmp_path / "j1" / "robustness.csv")
    pd.testing.assert_frame_equal(one, two, check_dtype=False)  # feasibility rows: NaN


@pytest.mark.slow
def test_every_variant_end_to_end(data_config, frame, tmp_path, jax_cache_env):
    """All groups, tiny sampler: every variant gives numbers, and the obvious ones move."""
    from vlms_bayes.inference.fit import FitConfig
    from vlms_bayes.models.data import model_data_from_stacked
    from vlms_bayes.pipeline import BaselineConfig, load_dataset
    from vlms_bayes.pipeline.robustness import SensitivityGrid, run_robustness

    fit = FitConfig(chains=2, draws=100, tune=100, target_accept=0.98,
                    allow_bad_diagnostics=True)
    res = run_robustness(data_config, BaselineConfig(n_boot=20), fit, outdir=tmp_path / "all",
                         seed=3, n_jobs=2, sensitivity=SensitivityGrid(grid=6, draws=32))
    t = pd.read_csv(tmp_path / "all" / "robustness.csv")
    counts = rv.method_counts(frame)
    sel_built, _ = rv.selection_variants(frame, None, fit)
    expected = {"default", "true-masses-only", "e-limits-excluded", "fixed-e-measured",
                "homoscedastic", "window-widened"} | {
        f"without-{rv.slug(m)}" for m, n in counts.items() if n >= 5} | {
        v.name for v in sel_built}
    refit = t.loc[t["group"] != "feasibility"]
    assert set(refit["variant"]) == expected
    assert (refit["status"] == "ok").all()
    n = refit.set_index(["variant", "number"])["value"]
    for m, k in counts.items():
        if k >= 5:
            left = model_data_from_stacked(rv.leave_out_method(frame, m))[0].n
            assert n[f"without-{rv.slug(m)}", "n_objects"] == left < n["default", "n_objects"]
    wide = load_dataset(rv.widened_data_config(data_config))
    assert n["window-widened", "n_objects"] == model_data_from_stacked(wide)[0].n
    for v in ("e-limits-excluded", "homoscedastic"):  # same rows, different likelihood
        assert n[v, "n_objects"] == n["default", "n_objects"]
    assert res.numbers["notes"] == [] or all("skipped" in x for x in res.numbers["notes"])
    for v in expected:
        assert (tmp_path / "all" / "variants" / v / "fit_summary.json").is_file()


def test_bad_sensitivity_grid_fails_before_any_refit(frame):
    from vlms_bayes.pipeline import reference_target
    from vlms_bayes.pipeline.robustness.suite import SensitivityGrid, sensitivity_config

    cfg = sensitivity_config(SensitivityGrid(grid=3, draws=4), reference_target(frame))
    assert cfg.n_m_out == cfg.n_a_out == 3 and cfg.target.name == "TOI-6894 b"
    with pytest.raises(InputDataError, match="2 x 2"):
        sensitivity_config(SensitivityGrid(grid=1), reference_target(frame))
    with pytest.raises(InputDataError, match="backend"):
        sensitivity_config(SensitivityGrid(backend="gpu"), reference_target(frame))


def test_run_with_robustness_step(ps_snapshot, shared_data_dir, tmp_path, jax_cache_env):
    """`vlms-bayes run --robustness` runs the suite as a step into OUTDIR/robustness, with
    the sampler options given to run, even with --no-fit; SUMMARY.txt reports it."""
    import json

    out = tmp_path / "run"
    argv = ["run", "--ps", str(ps_snapshot), "--data-dir", str(shared_data_dir), *TINY,
            "--n-boot", "20", "--no-fit", "--skip-feasibility", "--robustness",
            "--robustness-variants", "feasibility", "--robustness-jobs", "1",
            "--outdir", str(out), "-q"]
    assert main(argv) == 0
    for f in ("robustness/robustness.csv", "robustness/fig_robustness.png",
              "robustness/variants/default/fit_summary.json", "SUMMARY.txt", "report.html"):
        assert (out / f).is_file(), f
    fit = json.loads((out / "robustness/variants/default/fit_summary.json").read_text())
    assert fit["config"]["draws"] == 40 and fit["config"]["chains"] == 2
    assert fit["config"]["selection"] == "methods"  # the default model
    assert fit["selection"]["mode"] == "methods"
    assert "ROBUSTNESS" in (out / "SUMMARY.txt").read_text()
    steps = json.loads((out / "run.json").read_text())["steps"]
    assert "robustness" in steps and "fit" not in steps
    # unchanged second run: the suite is skipped
    assert main(argv) == 0
    assert json.loads((out / "run.json").read_text())["steps_ran"] == []


@pytest.mark.slow  # ~25 s of sampling; the main fit's gate path stays in the default run
def test_refits_rejected_by_the_gate_are_kept_and_marked(data_config, tmp_path, monkeypatch,
                                                         jax_cache_env):
    """A refit that fails its diagnostics gate keeps its draws under rejected/<variant>/;
    the table marks its fit numbers 'gate failed' (NaN, diagnostics_passed False) and
    keeps its baseline numbers; the report names it. The refits run in this process (the
    worker function itself), with a gate no posterior can pass."""
    import logging

    from vlms_bayes.inference.diagnostics import GateConfig
    from vlms_bayes.inference.fit import FitConfig
    from vlms_bayes.pipeline import BaselineConfig
    from vlms_bayes.pipeline.robustness import suite

    monkeypatch.setattr(logging, "basicConfig", lambda **k: None)  # the worker's own setup
    monkeypatch.setattr(suite, "run_tasks",
                        lambda tasks, n_jobs, **kw: {t["name"]: fn(t) for fn, t in tasks})
    fit = FitConfig(chains=2, draws=30, tune=30, target_accept=0.98, selection=None,
                    gate=GateConfig(max_rhat=0.5))
    out = tmp_path / "robust"
    res = suite.run_robustness(data_config, BaselineConfig(n_boot=20), fit, outdir=out,
                               variants=["true_mass"], seed=3)
    table = res.numbers["table"]
    assert set(table["variant"]) == {"default", "true-masses-only"}
    assert not table["diagnostics_passed"].astype(bool).any()
    fit_rows = table["number"].isin(rt.FIT_NUMBERS)
    assert table.loc[fit_rows, "status"].str.startswith("gate failed: R-hat").all()
    assert table.loc[fit_rows, "value"].isna().all()
    assert table.loc[~fit_rows, "status"].eq("ok").all()
    assert np.isfinite(table.loc[table["number"] == "ks_p_value", "value"]).all()
    assert "rejected/default/" in table.loc[fit_rows, "status"].iloc[0]
    saved = pd.read_csv(out / "robustness.csv")
    assert saved["status"].str.startswith("gate failed").sum() == fit_rows.sum()
    for v in ("default", "true-masses-only"):
        summary = json.loads((out / "rejected" / v / "fit_summary.json").read_text())
        assert summary["gate"] == "failed"
        assert (out / "rejected" / v / "posterior.nc").is_file()
        assert (out / "variants" / v / "gmm_summary.json").is_file()
        assert not (out / "variants" / v / "fit_summary.json").exists()
    assert "with a fit rejected by the diagnostics gate" in res.report
    assert "default, true-masses-only" in res.report
    assert not list(out.parent.glob(".robust.rejected.*"))  # the scratch folder is gone
