"""``vlms-bayes robustness``: refit everything under each analysis choice, in parallel.

Every variant of :func:`vlms_bayes.pipeline.robustness.variants.build_variants` is refitted in a
worker process: the frequentist baselines (:func:`vlms_bayes.pipeline.compute_baselines`)
and the Bayesian mixture with K = 2 plus K = 1 for the PSIS-LOO difference
(:func:`vlms_bayes.inference.fit.run_fit`). The feasibility map of the reference object is
computed once on a small grid and its horizon × periastron-threshold sensitivity grid
(:func:`vlms_bayes.pipeline.feasibility.sensitivity_table`) gives further rows.

Parallelism and seeds
---------------------
Refits are Dask tasks (:func:`vlms_bayes.pipeline.dask_tasks.run_tasks`, the path
``calibrate`` uses): a local cluster of ``n_jobs`` worker processes (started with
``spawn``: JAX is not fork-safe), or an existing cluster (``scheduler``). Every refit runs
in a worker, also with ``n_jobs=1``, so that results do not depend on the number of jobs
nor on the state of the calling process. The default variant's master seed is ``seed``
itself (it reproduces ``vlms-bayes fit``/``baseline`` with that seed); every other
variant's is :func:`variant_seed` of its name. A variant's baselines and sampler use their
own streams of it (:func:`vlms_bayes.seeds.derive_seed`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd

from vlms_bayes.data_io.outputs import (
    StagedOutputDir,
    run_record,
    save_figure,
    write_csv,
    write_json,
    write_text,
)
from vlms_bayes.errors import GateRejectedError, InputDataError, VlmsBayesError
from vlms_bayes.feasibility.montecarlo import (
    BACKENDS,
    FeasibilityConfig,
    Target,
    feasibility_map,
)
from vlms_bayes.inference.fit import FitConfig, run_fit
from vlms_bayes.inference.rejected import REJECTED_DIR
from vlms_bayes.pipeline.baseline import BaselineConfig, compute_baselines
from vlms_bayes.pipeline.dask_tasks import run_tasks as run_dask_tasks
from vlms_bayes.pipeline.data import DataConfig, load_data
from vlms_bayes.pipeline.feasibility import (
    map_stability_table,
    reference_target,
    sensitivity_table,
)
from vlms_bayes.pipeline.result import CommandResult, StepTimer
from vlms_bayes.pipeline.robustness.table import (
    FIT_NUMBERS,
    NUMBERS,
    _variant_headlines,
    failed_rows,
    finish_table,
    headline_rows,
)
from vlms_bayes.pipeline.robustness.variants import (
    WIDE_MSTAR_MAX,
    build_variants,
    check_groups,
    widened_data_config,
)
from vlms_bayes.plots.robustness import plot_robustness
from vlms_bayes.seeds import derive_seed

log = logging.getLogger("vlms_bayes")

TABLE_FILE = "robustness.csv"
FIGURE_FILE = "fig_robustness.png"


@dataclass(frozen=True)
class SensitivityGrid:
    """The small feasibility map whose sensitivity grid the suite reports.

    Attributes
    ----------
    grid : int
        Cells per axis of the (m_out, a_out) grid.
    draws : int
        Monte Carlo draws per cell.
    horizons_gyr : tuple of float
        Time horizons of the grid.
    disruption_factors : tuple of float
        Periastron thresholds, in tidal radii (the survival floor).
    seed_rcrit_rstar : tuple of float
        Thresholds of the seed rule r_p <= r_crit, in stellar radii.
    backend : {"jax", "numba", "auto"}
        Kernel backend.
    """

    grid: int = 12
    draws: int = 64
    horizons_gyr: tuple[float, ...] = (1.0, 3.0, 5.0)
    disruption_factors: tuple[float, ...] = (2.0, 2.7, 3.0)
    seed_rcrit_rstar: tuple[float, ...] = (3.0, 5.0, 7.0)
    backend: str = "auto"


def sensitivity_config(grid: SensitivityGrid, target: Target) -> FeasibilityConfig:
    """The checked :class:`~vlms_bayes.feasibility.montecarlo.FeasibilityConfig` of the grid."""
    if grid.backend not in BACKENDS:
        raise InputDataError(f"Feasibility backend must be one of {', '.join(BACKENDS)}; got "
                             f"{grid.backend!r}.")
    cfg = FeasibilityConfig(target=target, n_m_out=grid.grid, n_a_out=grid.grid,
                            n_draws=grid.draws, sens_horizons_gyr=tuple(grid.horizons_gyr),
                            sens_disruption_factors=tuple(grid.disruption_factors),
                            sens_seed_rcrit_rstar=tuple(grid.seed_rcrit_rstar))
    cfg.check()
    return cfg


def variant_seed(name: str, seed: int) -> int:
    """The seed of a variant: ``seed`` for ``default``, else a hash of (seed, name)."""
    if name == "default":
        return int(seed)
    digest = hashlib.sha256(f"{int(seed)}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % (2**31 - 1)


def suite_fit_config(fit_config: FitConfig) -> FitConfig:
    """The fit settings of every refit: K = 2, with K = 1 and 2 for the LOO difference."""
    return replace(fit_config, n_components=2, loo_components=(1, 2))


# ---------------------------------------------------------------------------------------
# worker side (top-level functions: they are pickled by reference into spawned processes)
# ---------------------------------------------------------------------------------------
def _refit_variant(task: dict[str, Any]) -> dict[str, Any]:
    """Baselines + K = 2 fit (+ K = 1 for LOO) of one variant; headline numbers."""
    t0 = time.perf_counter()
    seed = task["seed"]
    # this process's warnings (diagnostics, backend fallbacks) name the variant
    logging.basicConfig(level=logging.WARNING, force=True,
                        format=f"[{task['name']}] %(name)s: %(message)s")
    try:
        # the variant's seed is its master seed: its streams as in `vlms-bayes run`
        base = compute_baselines(task["frame"], task["baseline"],
                                 seed=derive_seed(seed, "baselines"))
        with tempfile.TemporaryDirectory(prefix="vlms_bayes_robust_") as tmp:
            fit = run_fit(task["frame"], task["fit"], outdir_path=tmp,
                          seed=derive_seed(seed, "sampler"),
                          rejected_dir=task.get("rejected_dir"))
    except GateRejectedError as exc:
        # the refit failed its gate: its draws are in rejected_dir; the baselines stand
        return {"name": task["name"], "error": None, "gate_failed": exc.failures,
                "rejected": exc.rejected_dir, "wall_s": time.perf_counter() - t0,
                "headlines": _variant_headlines(base, None), "diagnostics_passed": False,
                "gmm_summary": base["gmm"].summary(), "ks_text": base["ks"].to_text()}
    except VlmsBayesError as exc:
        return {"name": task["name"], "error": str(exc), "wall_s": time.perf_counter() - t0}
    return {
        "name": task["name"], "error": None, "gate_failed": None,
        "wall_s": time.perf_counter() - t0,
        "headlines": _variant_headlines(base, fit),
        "diagnostics_passed": bool(fit.diagnostics.passed),
        "fit_summary": fit.summary,
        "loo": None if fit.loo is None else fit.loo,
        "memberships": fit.memberships,
        "gmm_summary": base["gmm"].summary(),
        "ks_text": base["ks"].to_text(),
    }


def _feasibility_task(task: dict[str, Any]) -> dict[str, Any]:
    """The small feasibility map and its sensitivity table."""
    t0 = time.perf_counter()
    cfg = task["config"]
    res = feasibility_map(cfg, seed=task["seed"], backend=task["backend"],
                          table=map_stability_table(cfg, data_dir=task["data_dir"]))
    return {"name": "feasibility", "error": None, "wall_s": time.perf_counter() - t0,
            "table": sensitivity_table(res), "backend": res.backend,
            "fallback_reason": res.fallback_reason,
            "default": (cfg.horizon_gyr, cfg.disruption_factor)}


# ---------------------------------------------------------------------------------------
# caller side
# ---------------------------------------------------------------------------------------
def default_jobs(n_tasks: int) -> int:
    """``min(cores, n_tasks)`` (at least 1)."""
    return max(1, min(os.cpu_count() or 1, n_tasks))


def run_tasks(tasks: Sequence[tuple[Any, dict[str, Any]]], *, n_jobs: int,
              scheduler: str | None = None) -> dict[str, Any]:
    """Run (function, task) pairs as Dask tasks on ``n_jobs`` local worker processes.

    ``scheduler``: an existing Dask cluster's address instead. Each refit's outcome is
    logged as it ends (:func:`vlms_bayes.pipeline.dask_tasks.run_tasks`).

    Returns
    -------
    dict
        Task name -> the function's result.
    """

    def report(_name: str, res: dict[str, Any]) -> str:
        state = ("FAILED: " + res["error"] if res.get("error")
                 else "done, fit REJECTED by the diagnostics gate ("
                 + "; ".join(res["gate_failed"]) + ")" if res.get("gate_failed")
                 else "done")
        return f"{state} in {res['wall_s']:.1f} s"

    return run_dask_tasks([(task["name"], fn, task) for fn, task in tasks], n_workers=n_jobs,
                          scheduler=scheduler, on_result=report, label="robustness")


def _feasibility_rows(res: dict[str, Any], seed: int) -> tuple[list[dict[str, Any]], str]:
    rows = []
    h0, k0 = res["default"]
    default_name = ""
    for _, r in res["table"].iterrows():
        name = (f"feasibility-h{r['horizon_gyr']:g}-{'floor' if 'floor' in r['rule'] else 'seed'}"
                f"-{r['threshold']:g}")
        label = (f"horizon {r['horizon_gyr']:g} Gyr, {r['rule']} "
                 f"{r['threshold']:g} {r['threshold_unit']}")
        if r["horizon_gyr"] == h0 and "floor" in r["rule"] and r["threshold"] == k0:
            default_name = name
        heads = {"feasible_fraction": {"value": r["mean_fraction"], "lo": float("nan"),
                                       "hi": float("nan")}}
        rows += headline_rows(name, "feasibility", label, heads, seed=seed)
    return rows, default_name


def _report(table: pd.DataFrame, notes: Sequence[str]) -> str:
    lines = ["Robustness of the headline numbers (conclusion unchanged / changed vs default):"]
    for key, desc in NUMBERS.items():
        sub = table.loc[(table["number"] == key) & (table["variant"] != "default")]
        if sub.empty:
            continue
        changed = sub.loc[sub["same_conclusion"].eq(False), "label"].tolist()
        failed = sub.loc[~sub["status"].eq("ok"), "label"].tolist()
        d = table.loc[table["number"] == key, "default_conclusion"].iloc[0]
        if not isinstance(d, str) or d in ("", "n/a"):
            dv = table.loc[table["number"] == key, "default_value"].iloc[0]
            vals = sub.loc[sub["status"].eq("ok"), "value"]
            txt = (f"  {desc}: default {dv:.4g}; variants {vals.min():.4g} to {vals.max():.4g}"
                   if len(vals) else f"  {desc}: default {dv:.4g}")
        else:
            txt = (f"  {desc}: default '{d}'; " + (f"changes under {', '.join(changed)}"
                                                   if changed else "same under every variant"))
        if failed:
            txt += f" (failed: {', '.join(failed)})"
        lines.append(txt)
    gate = table.loc[table["status"].astype(str).str.startswith("gate failed"), "variant"]
    if len(gate):
        lines.append("  refits with a fit rejected by the diagnostics gate (its numbers are "
                     f"left out; draws in {REJECTED_DIR}/<variant>/): "
                     + ", ".join(dict.fromkeys(gate)))
    lines += [f"  note: {n}" for n in notes]
    return "\n".join(lines)


def run_robustness(
    data_config: DataConfig,
    baseline_config: BaselineConfig,
    fit_config: FitConfig,
    *,
    outdir: str | os.PathLike[str],
    seed: int = 42,
    variants: Sequence[str] | None = None,
    n_jobs: int | None = None,
    sensitivity: SensitivityGrid | None = None,
    min_method_rows: int = 5,
    wide_mstar_max: float = WIDE_MSTAR_MAX,
    scheduler: str | None = None,
) -> CommandResult:
    """Refit the baselines and the Bayesian model under each variant; table and figure.

    Parameters
    ----------
    data_config, baseline_config, fit_config : DataConfig, BaselineConfig, FitConfig
        The default analysis (the fit always runs K = 2 with K = 1 for LOO).
    outdir : path-like
        Output folder (published only when the suite finished).
    seed : int
        Seed of the default variant; the others derive theirs (:func:`variant_seed`).
    variants : sequence of str, optional
        Groups of :data:`~vlms_bayes.pipeline.robustness.variants.GROUPS` to run (default: all).
    n_jobs : int, optional
        Worker processes (default: ``min(cores, number of refits)``).
    sensitivity : SensitivityGrid, optional
        Settings of the feasibility sensitivity grid (default :class:`SensitivityGrid`).
    min_method_rows : int
        Fewest fitted objects of a discovery method for its leave-out refit.
    wide_mstar_max : float
        Upper host-mass edge of the widened-window variant, Msun.
    scheduler : str, optional
        Address of an existing Dask scheduler to run the refits on (default: a local
        cluster of ``n_jobs`` processes).

    Returns
    -------
    vlms_bayes.pipeline.CommandResult
        Folder, plain-text report, and ``numbers["table"]`` (the robustness table).
    """
    groups = check_groups(variants)
    pre_notes: list[str] = []
    wide_cfg = widened_data_config(data_config, mstar_max=wide_mstar_max)
    if "window" in groups and wide_cfg.mstar_max <= data_config.mstar_max:
        groups = tuple(g for g in groups if g != "window")
        pre_notes.append(f"widened-window variant skipped: the default window already "
                         f"reaches {data_config.mstar_max:g} Msun >= {wide_mstar_max:g}")
    if n_jobs is not None and n_jobs < 1:
        raise InputDataError(f"--jobs must be at least 1, got {n_jobs}.")
    sens = sensitivity or SensitivityGrid()
    fit_cfg = suite_fit_config(fit_config)
    timer = StepTimer()
    with timer.step("data"):
        data = load_data(data_config)
        wide = load_data(wide_cfg) if "window" in groups else None
    built, notes = build_variants(
        data.frame, baseline_config, fit_cfg, groups=groups,
        wide_frame=None if wide is None else wide.frame, min_method_rows=min_method_rows,
        wide_label=f"host-mass window {wide_cfg.mstar_min:g}–{wide_cfg.mstar_max:g} Msun")
    notes = pre_notes + notes
    for n in notes:
        log.info("[robustness] %s", n)
    # refits rejected by the diagnostics gate keep their draws here until the outputs are
    # published (then under OUTDIR/rejected/<variant>/)
    final = Path(outdir).expanduser().resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{final.name}.rejected.",
                                     dir=final.parent) as scratch:
        tasks: list[tuple[Any, dict[str, Any]]] = [
            (_refit_variant, {"name": v.name, "frame": v.frame, "baseline": v.baseline,
                              "fit": v.fit, "seed": variant_seed(v.name, seed),
                              "rejected_dir": str(Path(scratch) / v.name)}) for v in built]
        if "feasibility" in groups:
            tasks.append((_feasibility_task, {
                "name": "feasibility", "seed": variant_seed("feasibility", seed),
                "config": sensitivity_config(sens, reference_target(data.frame)),
                "backend": sens.backend, "data_dir": data_config.data_dir}))
        jobs = n_jobs or default_jobs(len(tasks))
        log.info("[robustness] %d refit(s)%s on %d process(es)", len(built),
                 " + feasibility grid" if "feasibility" in groups else "", jobs)
        with timer.step("refits"):
            results = run_tasks(tasks, n_jobs=jobs, scheduler=scheduler)

        rows: list[dict[str, Any]] = []
        refit_numbers = [k for k in NUMBERS if k != "feasible_fraction"]
        for v in built:
            res, s = results[v.name], variant_seed(v.name, seed)
            if res["error"]:
                rows += failed_rows(v.name, v.group, v.label, res["error"], refit_numbers, seed=s)
            elif res.get("gate_failed"):  # the baselines' numbers stand, the fit's do not
                vrows = headline_rows(v.name, v.group, v.label, res["headlines"], seed=s,
                                      diagnostics_passed=False) + failed_rows(
                    v.name, v.group, v.label, f"{'; '.join(res['gate_failed'])}; draws in "
                    f"{REJECTED_DIR}/{v.name}/", FIT_NUMBERS, seed=s,
                    diagnostics_passed=False, prefix="gate failed")
                rows += sorted(vrows, key=lambda r: list(NUMBERS).index(r["number"]))
            else:
                vrows = headline_rows(v.name, v.group, v.label, res["headlines"], seed=s,
                                      diagnostics_passed=res["diagnostics_passed"])
                for bad in res["fit_summary"].get("loo_rejected", []):
                    # the ΔELPD lacks the K that was rejected: say so rather than "n/a"
                    kk = bad["n_components"]
                    for r in vrows:
                        if r["number"] == "delta_elpd_k2_k1":
                            r["status"] = (f"gate failed: the K={kk} fit for LOO ("
                                           f"{'; '.join(bad['failures'])}); draws in "
                                           f"{REJECTED_DIR}/{v.name}/loo_K{kk}/")
                rows += vrows
        defaults = dict.fromkeys(refit_numbers, "default")
        extra: dict[str, Any] = {}
        if "feasibility" in groups:
            fres = results["feasibility"]
            frows, defaults["feasible_fraction"] = _feasibility_rows(
                fres, variant_seed("feasibility", seed))
            rows += frows
            extra["feasibility_backend"] = {"used": fres["backend"],
                                            "fallback_reason": fres["fallback_reason"]}
        table = finish_table(rows, default_variant=defaults)
        report = _report(table, notes)

        matplotlib.use("Agg", force=False)
        with StagedOutputDir(outdir) as staging:
            write_csv(staging / TABLE_FILE, table, float_format="%.10g")
            save_figure(staging / FIGURE_FILE, plot_robustness(table, NUMBERS))
            write_text(staging / "robustness_report.txt", report + "\n")
            for v in built:
                res = results[v.name]
                if res["error"]:
                    continue
                d = staging / "variants" / v.name
                write_json(d / "gmm_summary.json", res["gmm_summary"])
                write_text(d / "ks_test_e.txt", res["ks_text"])
                kept = Path(scratch) / v.name  # a rejected fit (or LOO fit) of the variant
                if kept.is_dir():
                    (staging / REJECTED_DIR).mkdir(exist_ok=True)
                    shutil.move(kept, staging / REJECTED_DIR / v.name)
                if res.get("gate_failed"):
                    continue
                write_json(d / "fit_summary.json", res["fit_summary"])
                write_csv(d / "memberships.csv", res["memberships"], float_format="%.6g")
                if res["loo"] is not None:
                    write_csv(d / "loo_comparison.csv", res["loo"])
            if "feasibility" in groups:
                write_csv(staging / "feasibility_sensitivity_small.csv",
                          results["feasibility"]["table"])
            write_json(staging / "run.json", run_record(
                command="robustness",
                config={"data": asdict(data_config), "baseline": asdict(baseline_config),
                        "fit": fit_cfg.to_dict(), "variants": list(groups), "n_jobs": jobs,
                        "sensitivity": asdict(sens), "min_method_rows": min_method_rows,
                        "wide_mstar_max": wide_mstar_max},
                seeds={v.name: variant_seed(v.name, seed) for v in built}
                | ({"feasibility": variant_seed("feasibility", seed)}
                   if "feasibility" in groups else {}),
                inputs={**data.inputs, **({"widened": wide.inputs} if wide is not None else {})},
                timings_s={**timer.timings_s,
                           **{f"variant {k}": round(r["wall_s"], 3) for k, r in results.items()}},
                extra={"notes": notes, "variants": [
                    {"name": v.name, "group": v.group, "label": v.label} for v in built], **extra}))
        return CommandResult(Path(outdir), report, {"table": table, "notes": notes})
