"""``vlms-bayes run``: every step into one folder, each skipped when unchanged.

The steps data → baselines → figures → fit → (naive fit) → comparison → feasibility →
(robustness) → summary are each one small function below; each is skipped when its inputs
and settings are unchanged (:mod:`vlms_bayes.pipeline.steps`).

The output file names are those of the single-folder pipeline (``vlms_companions_stacked.csv``,
``objects_with_probs.csv``, ``posterior.nc``, ``feasibility_map.npz``, ``SUMMARY.txt``, ...);
``run.json`` gains a ``steps`` section (key, settings, inputs, upstream keys, output sha256s,
seconds, payload of each step) and a ``complete`` flag. After ``SUMMARY.txt`` the run writes
``report.html`` (:func:`vlms_bayes.report.html.write_report`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

from vlms_bayes.data_io.companions import read_companions_csv, read_host_multiplicity
from vlms_bayes.data_io.files import REGISTRY
from vlms_bayes.data_io.outputs import run_record, save_figure, write_csv, write_text
from vlms_bayes.errors import GateRejectedError
from vlms_bayes.feasibility.montecarlo import FeasibilityConfig
from vlms_bayes.inference.fit import FitConfig, run_fit
from vlms_bayes.inference.rejected import REJECTED_DIR
from vlms_bayes.pipeline.baseline import BaselineConfig, compute_baselines, write_baselines
from vlms_bayes.pipeline.data import STACKED_FILE, DataConfig, LoadedData, count_table, load_data
from vlms_bayes.pipeline.feasibility import FeasibilityOptions, reference_target, run_feasibility
from vlms_bayes.pipeline.gaia_perturbers import (
    GaiaPerturberOptions,
    gather_gaia_inputs,
    sample_host_positions,
)
from vlms_bayes.pipeline.result import CommandResult
from vlms_bayes.pipeline.robustness import run_robustness
from vlms_bayes.pipeline.steps import StepRunner
from vlms_bayes.plots.catalogue import plot_e_vs_a, plot_mass_mass
from vlms_bayes.report.comparison import build_comparison, write_comparison
from vlms_bayes.report.headlines import headline_numbers
from vlms_bayes.report.html import write_report
from vlms_bayes.report.summary import baseline_report, summary_text
from vlms_bayes.seeds import derive_seed

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
    return {k: v.sha256 for k, v in REGISTRY.items() if k.startswith("quarles2020/")}


@dataclass
class _Run:
    """What the steps of one run share: settings, the loaded data and the step runner."""

    data_config: DataConfig
    config: BaselineConfig
    seed: int
    fit_config: FitConfig | None
    feasibility: FeasibilityOptions | None
    fcfg: FeasibilityConfig | None
    robustness: dict[str, Any] | None
    data: LoadedData
    counts: dict[str, Any]
    config_record: dict[str, Any]
    header: dict[str, Any]
    plan: tuple[str, ...]
    runner: StepRunner
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def seeds(self) -> dict[str, int]:
        """The seed of each random stream (:func:`run_seeds` of the master seed)."""
        return run_seeds(self.seed)

    @property
    def with_naive(self) -> bool:
        """A selection-aware fit is compared with the same model without the correction."""
        return self.fit_config is not None and self.fit_config.selection is not None

    def upstream(self, *names: str) -> dict[str, str]:
        """Keys of the named steps that ran or were kept in this run."""
        return {n: self.keys[n] for n in names if n in self.keys}


def run_seeds(seed: int) -> dict[str, int]:
    """The seed of every random stream of ``vlms-bayes run`` with master seed ``seed``.

    Baselines and the two fits get their own derived seeds (:mod:`vlms_bayes.seeds`); the
    feasibility step takes the master seed, from which its own streams are spawned
    (:data:`vlms_bayes.feasibility.draws.STREAMS`), as does the robustness suite, which
    derives each variant's.
    """
    return {"master": int(seed), "baseline": derive_seed(seed, "baselines"),
            "sampler": derive_seed(seed, "sampler"),
            "sampler_naive": derive_seed(seed, "sampler_naive"), "feasibility": int(seed),
            "robustness": int(seed)}


def _start(data_config: DataConfig, config: BaselineConfig, *, outdir: str | os.PathLike[str],
           seed: int, fit_config: FitConfig | None, feasibility: FeasibilityOptions | None,
           force: bool, robustness: dict[str, Any] | None) -> _Run:
    """Load the data, fix the plan and the run record's header, open the step runner."""
    with_naive = fit_config is not None and fit_config.selection is not None
    plan = planned_steps(fit=fit_config is not None, feasibility=feasibility is not None,
                         robustness=robustness is not None, naive_fit=with_naive)
    config_record: dict[str, Any] = {"data": asdict(data_config), "baseline": asdict(config)}
    if fit_config is not None:
        config_record["fit"] = fit_config.to_dict()
    t0 = time.perf_counter()
    data = load_data(data_config)
    log.info("[data] catalogues loaded and stacked in %.2f s", time.perf_counter() - t0)
    counts = count_table(data.frame)
    fcfg = None
    if feasibility is not None:
        fcfg = FeasibilityConfig(target=reference_target(data.frame),
                                 n_m_out=feasibility.grid, n_a_out=feasibility.grid,
                                 n_draws=feasibility.draws, horizon_gyr=feasibility.horizon_gyr,
                                 radii=feasibility.radii, lags=feasibility.lags,
                                 host_spin=feasibility.host_spin)
        fcfg.check()
        config_record["feasibility"] = {**dataclasses.asdict(fcfg),
                                        **dataclasses.asdict(feasibility)}
    header = run_record(command="run", config=config_record,
                        seeds=run_seeds(seed),
                        inputs=data.inputs, extra={"counts": counts,
                                                   "notes": data.stacked.notes})
    runner = StepRunner(Path(outdir), force=force, plan=plan, header=header)
    return _Run(data_config=data_config, config=config, seed=seed, fit_config=fit_config,
                feasibility=feasibility, fcfg=fcfg, robustness=robustness, data=data,
                counts=counts, config_record=config_record, header=header, plan=plan,
                runner=runner)


# -- data --------------------------------------------------------------------------------
def _write_data(run: _Run, stage: Path) -> dict[str, Any]:
    write_csv(stage / STACKED_FILE, run.data.frame, float_format="%.10g")
    if len(run.data.stacked.duplicates):
        write_csv(stage / "duplicates_dropped.csv", run.data.stacked.duplicates)
    return {"counts": run.counts}


def _step_data(run: _Run) -> None:
    settings = {k: v for k, v in asdict(run.data_config).items() if k not in _LOCATION_FIELDS}
    out = run.runner.run("data", partial(_write_data, run), settings=settings,
                         inputs={k: str(v.get("sha256")) for k, v in run.data.inputs.items()})
    run.keys["data"] = out.record["key"]


# -- baselines ---------------------------------------------------------------------------
def _write_baselines(run: _Run, stage: Path) -> dict[str, Any]:
    results = compute_baselines(run.data.frame, run.config, seed=run.seeds["baseline"])
    write_baselines(stage, results)
    return {"report": baseline_report(results),
            "logistic_warning": results["logistic"].summary().get("warning")}


def _step_baselines(run: _Run) -> None:
    out = run.runner.run("baselines", partial(_write_baselines, run),
                         settings={**asdict(run.config), "seed": run.seeds["baseline"]},
                         upstream=run.upstream("data"))
    run.keys["baselines"] = out.record["key"]


# -- catalogue figures -------------------------------------------------------------------
def _write_figures(run: _Run, stage: Path) -> None:
    matplotlib.use("Agg", force=False)
    save_figure(stage / "fig1_massmass.png", plot_mass_mass(run.data.frame))
    save_figure(stage / "fig2_ae.png", plot_e_vs_a(run.data.frame))


def _step_figures(run: _Run) -> None:
    run.keys["figures"] = run.runner.run("figures", partial(_write_figures, run), settings={},
                                         upstream=run.upstream("data")).record["key"]


# -- Bayesian fit --------------------------------------------------------------------------
def _write_fit(run: _Run, fit_config: FitConfig, stage: Path) -> dict[str, Any]:
    extra_k = sorted(set(fit_config.loo_components) - {fit_config.n_components})
    log.info("[fit] K=%d, %s NUTS, %d chains x (%d tune + %d draws)%s",
             fit_config.n_components, fit_config.backend, fit_config.chains,
             fit_config.tune, fit_config.draws,
             f"; then K={extra_k} for PSIS-LOO" if extra_k else "")
    # a fit that fails the gate keeps its draws in OUTDIR/rejected/ and stops the
    # run here: nothing downstream (comparison, summary, report) sees it
    res = run_fit(run.data.frame, fit_config, outdir_path=stage, seed=run.seeds["sampler"],
                  rejected_dir=run.runner.outdir / REJECTED_DIR,
                  run_info={**run.header, "step": "fit"})
    return {"report": res.report, "diagnostics_passed": bool(res.diagnostics.passed)}


def _step_fit(run: _Run, fit_config: FitConfig) -> None:
    # the fit adds its columns to the baselines' objects_with_probs.csv
    run.keys["fit"] = run.runner.run(
        "fit", partial(_write_fit, run, fit_config),
        settings={**fit_config.to_dict(), "seed": run.seeds["sampler"]},
        upstream=run.upstream("data", "baselines"),
        seed_files=("objects_with_probs.csv",)).record["key"]


# -- the same model without the selection correction -------------------------------------
def _write_fit_naive(run: _Run, naive_cfg: FitConfig, stage: Path) -> dict[str, Any]:
    log.info("[fit_naive] K=%d without the selection correction (for the "
             "side-by-side comparison)", naive_cfg.n_components)
    (stage / NAIVE_FIT_DIR).mkdir()
    try:
        res = run_fit(run.data.frame, naive_cfg, outdir_path=stage / NAIVE_FIT_DIR,
                      seed=run.seeds["sampler_naive"],
                      rejected_dir=stage / NAIVE_FIT_DIR / REJECTED_DIR)
    except GateRejectedError as exc:
        # only a side-by-side depends on it: the run goes on without that part
        log.warning("[fit_naive] the naive fit failed its diagnostics gate (%s): "
                    "the naive vs selection-aware comparison is left out; its "
                    "draws and verdict are in %s/%s/", "; ".join(exc.failures),
                    NAIVE_FIT_DIR, REJECTED_DIR)
        return {"diagnostics_passed": False, "rejected": True, "failures": exc.failures}
    return {"diagnostics_passed": bool(res.diagnostics.passed)}


def _step_fit_naive(run: _Run, fit_config: FitConfig) -> None:
    """So that the report can say how much of the naive signal was survey selection."""
    naive_cfg = dataclasses.replace(fit_config, selection=None, loo_components=())
    run.keys["fit_naive"] = run.runner.run(
        "fit_naive", partial(_write_fit_naive, run, naive_cfg),
        settings={**naive_cfg.to_dict(), "seed": run.seeds["sampler_naive"]},
        upstream=run.upstream("data")).record["key"]


# -- comparison with the baselines ---------------------------------------------------------
def _write_comparison(run: _Run, stage: Path) -> None:
    naive = run.runner.records.get("fit_naive", {}).get("payload", {})
    other = (run.runner.outdir / NAIVE_FIT_DIR
             if run.with_naive and not naive.get("rejected") else None)
    cmp = build_comparison(run.runner.outdir, run.runner.outdir, q_split=run.config.q_split,
                           other_posterior_dir=other)
    write_comparison(stage, cmp, figures=True, posterior_dir=run.runner.outdir)


def _step_comparison(run: _Run) -> None:
    upstream = (run.upstream("fit", "fit_naive", "baselines") if run.with_naive
                else run.upstream("fit", "baselines"))
    run.keys["comparison"] = run.runner.run(
        "comparison", partial(_write_comparison, run), settings={"q_split": run.config.q_split},
        upstream=upstream).record["key"]


# -- feasibility map ------------------------------------------------------------------------
def _write_feasibility(run: _Run, fcfg: FeasibilityConfig, options: FeasibilityOptions,
                       stage: Path) -> dict[str, Any]:
    log.info("[feasibility] %dx%d perturber grid, %d draws per cell, backend %s, "
             "%d secular checks", fcfg.n_m_out, fcfg.n_a_out, fcfg.n_draws,
             options.backend, options.secular_triples)
    ps_path = run.data.inputs.get("pscomppars", {}).get("path")
    comp = None if options.companions is None else read_companions_csv(options.companions)
    mult = None if ps_path is None else read_host_multiplicity(ps_path)
    gopts = GaiaPerturberOptions(nss=options.gaia_nss, rv_catalogue=options.gaia_rv_catalogue,
                                 wide_binaries=options.wide_binaries)
    gin = None
    if gopts.active:
        gopts.check()
        gin = gather_gaia_inputs(gopts, None if mult is None else sample_host_positions(
            run.data.frame, mult))
    fres, fmap = run_feasibility(fcfg, outdir_path=stage, seed=run.seeds["feasibility"],
                                 backend=options.backend,
                                 data_dir=run.data_config.data_dir,
                                 secular_triples=options.secular_triples,
                                 probability_systems=options.probability_systems,
                                 integration=options.integration, sample=run.data.frame,
                                 host_multiplicity=mult, companions=comp,
                                 gaia_perturbers=gin)
    return {"summary_lines": fres.summary_lines(),
            "backend": {"requested": options.backend, "used": fmap.backend,
                        "fallback_reason": fmap.fallback_reason}}


def _step_feasibility(run: _Run, fcfg: FeasibilityConfig, options: FeasibilityOptions) -> None:
    run.keys["feasibility"] = run.runner.run(
        "feasibility", partial(_write_feasibility, run, fcfg, options),
        settings={**run.config_record["feasibility"], "seed": run.seed},
        inputs=_quarles_hashes(), upstream=run.upstream("data")).record["key"]


# -- robustness suite (opt-in) ----------------------------------------------------------------
def _write_robustness(run: _Run, rob_fit: FitConfig, options: dict[str, Any],
                      stage: Path) -> dict[str, Any]:
    res = run_robustness(run.data_config, run.config, rob_fit, outdir=stage / "robustness",
                         seed=run.seeds["robustness"], **options)
    return {"report": res.report}


def _step_robustness(run: _Run, robustness: dict[str, Any]) -> None:
    options = dict(robustness)
    # the suite refits even when the run's own fit is left out (--no-fit): it takes
    # the sampler settings given for it, else the run's, else the defaults
    rob_fit = options.pop("fit_config", None) or run.fit_config
    if rob_fit is None:
        rob_fit = FitConfig()
    run.keys["robustness"] = run.runner.run(
        "robustness", partial(_write_robustness, run, rob_fit, options),
        settings={"fit": rob_fit.to_dict(), "baseline": asdict(run.config), "seed": run.seed,
                  **{k: v for k, v in options.items() if k != "n_jobs"}},
        inputs=_quarles_hashes(), upstream=run.upstream("data")).record["key"]


# -- SUMMARY.txt ------------------------------------------------------------------------------
def _write_summary(run: _Run, stage: Path) -> dict[str, Any]:
    heads = headline_numbers(run.runner.outdir)
    payloads = {n: r.get("payload", {}) for n, r in run.runner.records.items()}
    text = summary_text(data=run.data, counts=run.counts, headlines=heads, payloads=payloads,
                        outdir=run.runner.outdir, seed=run.seed, config=run.config_record)
    write_text(stage / "SUMMARY.txt", text)
    return {"headlines": heads}


def _step_summary(run: _Run) -> None:
    run.runner.run("summary", partial(_write_summary, run),
                   settings={"seed": run.seed, "config": run.config_record},
                   upstream=run.upstream(*run.plan[:-1]))


def _finish(run: _Run, *, t_start: float) -> CommandResult:
    """Complete ``run.json``, write ``report.html`` and return what the run produced."""
    runner = run.runner
    extra: dict[str, Any] = {}
    feas_payload = runner.records.get("feasibility", {}).get("payload", {})
    if feas_payload.get("backend"):
        extra["feasibility_backend"] = feas_payload["backend"]
    runner.write_run_json(complete=True, timings_s=runner.timings_s,
                          finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                          steps_ran=[n for n in run.plan if n in runner.ran],
                          wall_s=round(time.perf_counter() - t_start, 3), **extra)
    runner.cleanup()
    if runner.ran or not (runner.outdir / "report.html").is_file():
        # an unchanged rerun keeps the page (it names the run's creation time)
        write_html_report(runner.outdir)
    summary = (runner.outdir / "SUMMARY.txt").read_text(encoding="utf-8")
    heads = runner.records["summary"]["payload"].get("headlines", {})
    return CommandResult(runner.outdir, summary,
                         {"counts": run.counts, "headlines": heads,
                          "steps_ran": sorted(runner.ran)})


def write_html_report(outdir: Path) -> Path:
    """Write ``outdir/report.html`` (:func:`vlms_bayes.report.html.write_report`), timed."""
    t0 = time.perf_counter()
    path = write_report(outdir)
    log.info("[report] done in %.2f s", time.perf_counter() - t0)
    return path


def run_all(
    data_config: DataConfig,
    config: BaselineConfig,
    *,
    outdir: str | os.PathLike[str],
    seed: int = 42,
    fit_config: FitConfig | None = None,
    feasibility: FeasibilityOptions | None = None,
    force: bool = False,
    robustness: dict[str, Any] | None = None,
) -> CommandResult:
    """``vlms-bayes run``: everything into one folder, step by step.

    Stacked data, frequentist baselines, catalogue figures, then (unless None) the Bayesian
    fit with memberships and the comparison report, then (unless None) the feasibility map
    of the reference object, and finally ``SUMMARY.txt`` (led by the three headline numbers,
    :mod:`vlms_bayes.report.headlines`) and ``run.json``. Each step is skipped when its inputs and
    settings are unchanged since the last run into ``outdir`` and publishes its files
    atomically (:mod:`vlms_bayes.pipeline.steps`, :mod:`vlms_bayes.pipeline.run`).

    Parameters
    ----------
    data_config, config : DataConfig, BaselineConfig
        Data and baseline settings.
    outdir : path-like
        Output folder.
    seed : int
        The run's master seed: each random step derives its own stream from it
        (:func:`run_seeds`, :mod:`vlms_bayes.seeds`), all recorded in ``run.json``.
    fit_config : FitConfig, optional
        Settings of the Bayesian fit; None leaves the fit and the comparison out.
    feasibility : FeasibilityOptions, optional
        Settings of the feasibility map; None leaves it out.
    force : bool
        Recompute every step, changed or not.
    robustness : dict, optional
        Keyword arguments of :func:`vlms_bayes.pipeline.robustness.run_robustness` (``variants``,
        ``n_jobs``, ...) to run the robustness suite into ``outdir/robustness``; None
        leaves it out.

    Returns
    -------
    CommandResult
        ``numbers`` holds ``counts``, ``headlines`` and ``steps_ran``.
    """
    t_start = time.perf_counter()
    run = _start(data_config, config, outdir=outdir, seed=seed, fit_config=fit_config,
                 feasibility=feasibility, force=force, robustness=robustness)
    _step_data(run)
    _step_baselines(run)
    _step_figures(run)
    if fit_config is not None:
        _step_fit(run, fit_config)
        if run.with_naive:
            _step_fit_naive(run, fit_config)
        _step_comparison(run)
    if feasibility is not None and run.fcfg is not None:
        _step_feasibility(run, run.fcfg, feasibility)
    if robustness is not None:
        _step_robustness(run, robustness)
    _step_summary(run)
    return _finish(run, t_start=t_start)
