"""``vlms-bayes run`` as a chain of steps that are skipped when unchanged.

The steps data → baselines → figures → fit → comparison → feasibility → summary are each
skipped when their inputs and settings are unchanged (:mod:`vlms_bayes.pipeline.steps`).

The output file names are those of the single-folder pipeline (``vlms_companions_stacked.csv``,
``objects_with_probs.csv``, ``posterior.nc``, ``feasibility_map.npz``, ``SUMMARY.txt``, ...);
``run.json`` gains a ``steps`` section (key, settings, inputs, upstream keys, output sha256s,
seconds, payload of each step) and a ``complete`` flag.

After ``SUMMARY.txt`` the HTML report hook runs: ``vlms_bayes.report.html.write_report(outdir)``
when that module is installed.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vlms_bayes.data_io.outputs import run_record, save_figure, write_csv, write_text
from vlms_bayes.inference.rejected import REJECTED_DIR
from vlms_bayes.pipeline.steps import StepRunner

log = logging.getLogger("vlms_bayes")

#: Settings of the data step that name where a file is, not what it holds (its content
#: enters the key through its sha256).
_LOCATION_FIELDS = ("ps", "bd", "data_dir", "refresh")


#: Sub-folder of a run holding the naive (uncorrected) fit beside the selection-aware one.
NAIVE_FIT_DIR = "naive_fit"


def planned_steps(*, fit: bool, feasibility: bool, robustness: bool = False,
                  naive_fit: bool = False) -> tuple[str, ...]:
    """Names of the steps of a run, in order.

    ``naive_fit``: a selection-aware fit is followed by the naive fit it is compared with.
    """
    steps = ["data", "baselines", "figures"]
    if fit:
        steps += ["fit", "fit_naive", "comparison"] if naive_fit else ["fit", "comparison"]
    if feasibility:
        steps.append("feasibility")
    if robustness:
        steps.append("robustness")
    return (*steps, "summary")


def _quarles_hashes() -> dict[str, str]:
    """Pinned sha256 of the Quarles et al. (2020) tables the stability overlay reads."""
    from vlms_bayes.data_io.files import REGISTRY

    return {k: v.sha256 for k, v in REGISTRY.items() if k.startswith("quarles2020/")}


def run_steps(
    data_config: Any,
    config: Any,
    *,
    outdir: str | os.PathLike[str],
    seed: int = 42,
    fit_config: Any = None,
    feasibility: Any = None,
    force: bool = False,
    robustness: dict[str, Any] | None = None,
) -> Any:
    """Run the whole analysis into ``outdir`` step by step (see :func:`pipeline.run_all`).

    Returns
    -------
    vlms_bayes.pipeline.CommandResult
        Output folder, the text of ``SUMMARY.txt`` and the headline numbers.
    """
    from vlms_bayes import pipeline
    from vlms_bayes.report.headlines import headline_numbers
    from vlms_bayes.report.summary import summary_text

    t_start = time.perf_counter()
    with_naive = fit_config is not None and fit_config.selection is not None
    plan = planned_steps(fit=fit_config is not None, feasibility=feasibility is not None,
                         robustness=robustness is not None, naive_fit=with_naive)
    config_record: dict[str, Any] = {"data": asdict(data_config), "baseline": asdict(config)}
    if fit_config is not None:
        config_record["fit"] = fit_config.to_dict()
    fcfg = None
    if feasibility is not None:
        from vlms_bayes.feasibility.montecarlo import FeasibilityConfig

    t0 = time.perf_counter()
    data = pipeline.load_data(data_config)
    log.info("[data] catalogues loaded and stacked in %.2f s", time.perf_counter() - t0)
    counts = pipeline.count_table(data.frame)
    if feasibility is not None:
        fcfg = FeasibilityConfig(target=pipeline.reference_target(data.frame),
                                 n_m_out=feasibility.grid, n_a_out=feasibility.grid,
                                 n_draws=feasibility.draws, horizon_gyr=feasibility.horizon_gyr)
        fcfg.check()
        config_record["feasibility"] = {**dataclasses.asdict(fcfg),
                                        **dataclasses.asdict(feasibility)}
    header = run_record(command="run", config=config_record,
                        seeds={"baseline": seed, "sampler": seed, "feasibility": seed},
                        inputs=data.inputs, extra={"counts": counts,
                                                   "notes": data.stacked.notes})
    runner = StepRunner(Path(outdir), force=force, plan=plan, header=header)
    keys: dict[str, str] = {}

    def up(*names: str) -> dict[str, str]:
        return {n: keys[n] for n in names if n in keys}

    # data ---------------------------------------------------------------------------
    def do_data(stage: Path) -> dict[str, Any]:
        write_csv(stage / pipeline.STACKED_FILE, data.frame, float_format="%.10g")
        if len(data.stacked.duplicates):
            write_csv(stage / "duplicates_dropped.csv", data.stacked.duplicates)
        return {"counts": counts}

    data_settings = {k: v for k, v in asdict(data_config).items() if k not in _LOCATION_FIELDS}
    out = runner.run("data", do_data, settings=data_settings,
                     inputs={k: str(v.get("sha256")) for k, v in data.inputs.items()})
    keys["data"] = out.record["key"]

    # baselines ------------------------------------------------------------------------
    def do_baselines(stage: Path) -> dict[str, Any]:
        from vlms_bayes.report.summary import baseline_report

        results = pipeline.compute_baselines(data.frame, config, seed=seed)
        pipeline.write_baselines(stage, results)
        return {"report": baseline_report(results),
                "logistic_warning": results["logistic"].summary().get("warning")}

    out = runner.run("baselines", do_baselines, settings={**asdict(config), "seed": seed},
                     upstream=up("data"))
    keys["baselines"] = out.record["key"]

    # figures ----------------------------------------------------------------------------
    def do_figures(stage: Path) -> None:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from vlms_bayes.plots.catalogue import plot_e_vs_a, plot_mass_mass

        save_figure(stage / "fig1_massmass.png", plot_mass_mass(data.frame))
        save_figure(stage / "fig2_ae.png", plot_e_vs_a(data.frame))

    keys["figures"] = runner.run("figures", do_figures, settings={},
                                 upstream=up("data")).record["key"]

    # Bayesian fit and comparison --------------------------------------------------------
    if fit_config is not None:
        def do_fit(stage: Path) -> dict[str, Any]:
            from vlms_bayes.inference.fit import run_fit

            extra_k = sorted(set(fit_config.loo_components) - {fit_config.n_components})
            log.info("[fit] K=%d, %s NUTS, %d chains x (%d tune + %d draws)%s",
                     fit_config.n_components, fit_config.backend, fit_config.chains,
                     fit_config.tune, fit_config.draws,
                     f"; then K={extra_k} for PSIS-LOO" if extra_k else "")
            # a fit that fails the gate keeps its draws in OUTDIR/rejected/ and stops the
            # run here: nothing downstream (comparison, summary, report) sees it
            res = run_fit(data.frame, fit_config, outdir_path=stage, seed=seed,
                          rejected_dir=runner.outdir / REJECTED_DIR,
                          run_info={**header, "step": "fit"})
            return {"report": res.report, "diagnostics_passed": bool(res.diagnostics.passed)}

        # the fit adds its columns to the baselines' objects_with_probs.csv
        keys["fit"] = runner.run(
            "fit", do_fit, settings={**fit_config.to_dict(), "seed": seed},
            upstream=up("data", "baselines"),
            seed_files=("objects_with_probs.csv",)).record["key"]

        # the same model without the selection correction, so that the report can say how
        # much of the naive two-population signal was survey selection
        if with_naive:
            naive_cfg = dataclasses.replace(fit_config, selection=None, loo_components=())

            def do_fit_naive(stage: Path) -> dict[str, Any]:
                from vlms_bayes.errors import GateRejectedError
                from vlms_bayes.inference.fit import run_fit

                log.info("[fit_naive] K=%d without the selection correction (for the "
                         "side-by-side comparison)", naive_cfg.n_components)
                (stage / NAIVE_FIT_DIR).mkdir()
                try:
                    res = run_fit(data.frame, naive_cfg, outdir_path=stage / NAIVE_FIT_DIR,
                                  seed=seed,
                                  rejected_dir=stage / NAIVE_FIT_DIR / REJECTED_DIR)
                except GateRejectedError as exc:
                    # only a side-by-side depends on it: the run goes on without that part
                    log.warning("[fit_naive] the naive fit failed its diagnostics gate (%s): "
                                "the naive vs selection-aware comparison is left out; its "
                                "draws and verdict are in %s/%s/", "; ".join(exc.failures),
                                NAIVE_FIT_DIR, REJECTED_DIR)
                    return {"diagnostics_passed": False, "rejected": True,
                            "failures": exc.failures}
                return {"diagnostics_passed": bool(res.diagnostics.passed)}

            keys["fit_naive"] = runner.run(
                "fit_naive", do_fit_naive, settings={**naive_cfg.to_dict(), "seed": seed},
                upstream=up("data")).record["key"]

        def do_comparison(stage: Path) -> None:
            from vlms_bayes.report.comparison import build_comparison, write_comparison

            naive = runner.records.get("fit_naive", {}).get("payload", {})
            other = (runner.outdir / NAIVE_FIT_DIR
                     if with_naive and not naive.get("rejected") else None)
            cmp = build_comparison(runner.outdir, runner.outdir, q_split=config.q_split,
                                   other_posterior_dir=other)
            write_comparison(stage, cmp, figures=True, posterior_dir=runner.outdir)

        keys["comparison"] = runner.run(
            "comparison", do_comparison, settings={"q_split": config.q_split},
            upstream=up("fit", "fit_naive", "baselines") if with_naive
            else up("fit", "baselines")).record["key"]

    # feasibility --------------------------------------------------------------------------
    if feasibility is not None and fcfg is not None:
        def do_feasibility(stage: Path) -> dict[str, Any]:
            from vlms_bayes.pipeline.feasibility import run_feasibility

            log.info("[feasibility] %dx%d perturber grid, %d draws per cell, backend %s, "
                     "%d secular checks", fcfg.n_m_out, fcfg.n_a_out, fcfg.n_draws,
                     feasibility.backend, feasibility.secular_triples)
            fres, fmap = run_feasibility(fcfg, outdir_path=stage, seed=seed,
                                         backend=feasibility.backend,
                                         data_dir=data_config.data_dir,
                                         secular_triples=feasibility.secular_triples)
            return {"summary_lines": fres.summary_lines(),
                    "backend": {"requested": feasibility.backend, "used": fmap.backend,
                                "fallback_reason": fmap.fallback_reason}}

        keys["feasibility"] = runner.run(
            "feasibility", do_feasibility,
            settings={**config_record["feasibility"], "seed": seed},
            inputs=_quarles_hashes(), upstream=up("data")).record["key"]

    # robustness suite (opt-in) ------------------------------------------------------------
    if robustness is not None:
        robustness = dict(robustness)
        # the suite refits even when the run's own fit is left out (--no-fit): it takes
        # the sampler settings given for it, else the run's, else the defaults
        rob_fit = robustness.pop("fit_config", None) or fit_config
        if rob_fit is None:
            from vlms_bayes.inference.fit import FitConfig

            rob_fit = FitConfig()

        def do_robustness(stage: Path) -> dict[str, Any]:
            from vlms_bayes.pipeline.robustness import run_robustness

            res = run_robustness(data_config, config, rob_fit, outdir=stage / "robustness",
                                 seed=seed, **robustness)
            return {"report": res.report}

        keys["robustness"] = runner.run(
            "robustness", do_robustness,
            settings={"fit": rob_fit.to_dict(), "baseline": asdict(config), "seed": seed,
                      **{k: v for k, v in robustness.items() if k != "n_jobs"}},
            inputs=_quarles_hashes(), upstream=up("data")).record["key"]

    # summary ----------------------------------------------------------------------------
    def do_summary(stage: Path) -> dict[str, Any]:
        heads = headline_numbers(runner.outdir)
        payloads = {n: r.get("payload", {}) for n, r in runner.records.items()}
        text = summary_text(data=data, counts=counts, headlines=heads, payloads=payloads,
                            outdir=runner.outdir, seed=seed, config=config_record)
        write_text(stage / "SUMMARY.txt", text)
        return {"headlines": heads}

    runner.run("summary", do_summary, settings={"seed": seed, "config": config_record},
               upstream=up(*plan[:-1]))
    extra: dict[str, Any] = {}
    feas_payload = runner.records.get("feasibility", {}).get("payload", {})
    if feas_payload.get("backend"):
        extra["feasibility_backend"] = feas_payload["backend"]
    runner.write_run_json(complete=True, timings_s=runner.timings_s,
                          finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                          steps_ran=[n for n in plan if n in runner.ran],
                          wall_s=round(time.perf_counter() - t_start, 3), **extra)
    runner.cleanup()
    if runner.ran or not (runner.outdir / "report.html").is_file():
        # an unchanged rerun keeps the page (it names the run's creation time)
        write_report_hook(runner.outdir)
    summary = (runner.outdir / "SUMMARY.txt").read_text(encoding="utf-8")
    heads = runner.records["summary"]["payload"].get("headlines", {})
    return pipeline.CommandResult(runner.outdir, summary,
                                  {"counts": counts, "headlines": heads,
                                   "steps_ran": sorted(runner.ran)})


def write_report_hook(outdir: Path) -> Any:
    """The HTML report hook: ``vlms_bayes.report.html.write_report(outdir)`` if installed.

    Only the absence of the module itself is tolerated (logged at debug level); an error
    inside the report module propagates.

    Returns
    -------
    object or None
        What ``write_report`` returned, or None when the module is not there.
    """
    try:
        report_html = importlib.import_module("vlms_bayes.report.html")
    except ModuleNotFoundError as exc:
        if exc.name != "vlms_bayes.report.html":
            raise
        log.debug("vlms_bayes.report.html is not available; no report.html written")
        return None
    t0 = time.perf_counter()
    path = report_html.write_report(outdir)
    log.info("[report] done in %.2f s", time.perf_counter() - t0)
    return path
