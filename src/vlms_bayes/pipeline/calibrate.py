"""``vlms-bayes calibrate``: simulation-based calibration of the model as shipped, on Dask.

Each replica i (seed :func:`vlms_bayes.inference.sbc.replica_seed` of the master seed
and i) draws θ̃ from the model's prior — or takes the user's truth — simulates the
design's objects through the selection and measurement model
(:mod:`vlms_bayes.models.simulate_prior`), fits them with the normal fit path
(:func:`vlms_bayes.inference.fit.fit_posterior`, the given :class:`FitConfig`, its
retry and diagnostics gate included) and records, for every population parameter and
the data's total log-likelihood (a test quantity Modrák et al. 2023 recommend), the rank
of the truth among L thinned posterior draws and whether the central 50 % and 90 %
intervals cover it. :mod:`vlms_bayes.inference.sbc` turns the ranks into uniformity
tests and coverages.

With ``--truth`` every replica uses the same θ̃: coverage is then the frequentist
coverage at that truth and the ranks need not be uniform (SBC's uniformity holds for θ̃
drawn from the prior); the report says so.

Replicas run as Dask tasks (:mod:`vlms_bayes.pipeline.dask_tasks`): a local cluster of
``n_workers`` processes by default, or an existing scheduler. Results do not depend on
the number of workers.

Partial results
---------------
Each finished replica is written at once to ``.<outdir name>.calibrate-partial/``
beside the output folder. A rerun with the same settings (any number of replicas)
reuses the replicas found there and runs only the missing ones; different settings stop
with an error naming the folder rather than mixing or deleting anything. When the
command finishes, the replicas move into ``OUTDIR/replicas/`` and the partial folder
goes.

Outputs
-------
``sbc.json``
    Settings, per parameter the rank histogram, χ² and ECDF-band tests, coverages; the
    replicas that failed or whose fit failed the diagnostics gate.
``sbc_ranks.csv``
    One row per replica and parameter: truth, rank, L, posterior mean and sd, coverage
    flags, the fit's gate verdict.
``fig_sbc.png``
    Rank histograms and ECDF differences with their bands (:mod:`vlms_bayes.plots.sbc`).
``replicas/replica_NNNNN.json``
    Each replica's record. ``run.json``: provenance and timings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from vlms_bayes import __version__
from vlms_bayes.data_io.calibrate_inputs import read_design_csv, read_truth_file
from vlms_bayes.data_io.outputs import (
    StagedOutputDir,
    check_output_dir,
    run_record,
    save_figure,
    write_csv,
    write_json,
)
from vlms_bayes.errors import InputDataError, VlmsBayesError
from vlms_bayes.inference import sbc
from vlms_bayes.inference.fit import FitConfig, fit_posterior
from vlms_bayes.inference.membership import object_log_terms, pointwise_loglik
from vlms_bayes.models.data import ModelData
from vlms_bayes.models.mixture import (
    check_binary_shape,
    group_names,
    n_gaussians,
    population_names,
)
from vlms_bayes.models.selection_norm import SelectionTerms, object_selection_logterms
from vlms_bayes.models.simulate_prior import (
    complete_parameters,
    design_from_scenario,
    design_from_stacked,
    draw_prior,
    model_terms,
    simulate_replica,
    truth_from_mapping,
)
from vlms_bayes.pipeline.dask_tasks import run_tasks
from vlms_bayes.pipeline.result import CommandResult, StepTimer
from vlms_bayes.plots.sbc import plot_sbc

log = logging.getLogger(__name__)

SBC_JSON = "sbc.json"
RANKS_CSV = "sbc_ranks.csv"
SBC_FIGURE = "fig_sbc.png"
REPLICA_DIR = "replicas"
#: The parameters whose ranks are tested (those the fit has; e_*_pop with P > 1).
RANK_VARS = ("f_det", "w", "mu_logq", "mu_loga", "sigma_logq", "sigma_loga", "rho",
             "e_alpha", "e_beta", "e_alpha_pop", "e_beta_pop", "gamma_q")
#: Variables of the Gaussian components only when the binary-like population is a power law.
GAUSSIAN_ONLY = ("mu_logq", "sigma_logq", "rho")
#: The data's total log-likelihood at each draw (a test quantity of θ and the data).
LOGLIK = "loglik"

#: A fitter: (data, fit config, seed) -> (posterior arrays (chain, draw, K) by name, with
#: ``loglik`` (chain, draw) optional; the gate's verdict as a dict).
Fitter = Callable[..., tuple[dict[str, NDArray[np.float64]], dict[str, Any]]]


@dataclass(frozen=True, kw_only=True)
class CalibrateConfig:
    """Settings of a calibration (recorded in ``sbc.json`` and ``run.json``)."""

    n_replicas: int = 100
    #: L: thinned posterior draws per replica (L + 1 possible ranks).
    n_keep: int = sbc.DEFAULT_L
    #: Objects of the default design (the M-dwarf-like scenario's detections).
    n_objects: int = 130
    #: A stacked CSV whose fitted rows are the design instead.
    design_file: str | None = None
    #: A TOML/JSON truth used by every replica instead of prior draws.
    truth_file: str | None = None
    #: Level of the per-parameter uniformity tests.
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.n_replicas < 1:
            raise InputDataError(f"--replicas must be at least 1, got {self.n_replicas}.")
        if self.n_keep < 1:
            raise InputDataError(f"--thin must be at least 1, got {self.n_keep}.")
        if not 0 < self.alpha < 1:
            raise InputDataError(f"--alpha must lie in (0, 1), got {self.alpha}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


# ---------------------------------------------------------------------------------------
# one replica (runs on a worker)
# ---------------------------------------------------------------------------------------
def fit_nuts(data: ModelData, config: FitConfig, *, seed: int,
             ) -> tuple[dict[str, NDArray[np.float64]], dict[str, Any]]:
    """The normal fit path: :func:`~vlms_bayes.inference.fit.fit_posterior` with ``config``."""
    dt, diag, attempts = fit_posterior(data, config, n_components=config.n_components,
                                       seed=seed)
    post = dt["posterior"]
    out = {v: np.asarray(post[v].values, float) for v in RANK_VARS if v in post}
    if "log_likelihood" in dt.children:
        out[LOGLIK] = np.asarray(dt["log_likelihood"]["obs"].values, float).sum(axis=-1)
    return out, {"passed": bool(diag.passed), "failures": list(diag.failures),
                 "min_ess_bulk": float(diag.min_ess_bulk), "max_rhat": float(diag.max_rhat),
                 "divergences": int(diag.divergences), "attempts": len(attempts)}


def fit_prior(data: ModelData, config: FitConfig, *, seed: int,
              ) -> tuple[dict[str, NDArray[np.float64]], dict[str, Any]]:
    """A "fit" that returns independent prior draws (chains x draws of ``config``).

    Prior draws are an exactly calibrated answer to SBC's question whatever the data
    (SBC's known blind spot: it checks calibration, not information), so a calibration
    with this fitter checks the machinery — generator, ranks, tests, workers — without
    MCMC; its ranks must be uniform.
    """
    rng = np.random.default_rng(seed)
    terms = model_terms(data, config.selection)
    draws = [draw_prior(data, priors=config.priors, selection=config.selection,
                        n_components=config.n_components,
                        planet_components=config.planet_components, rng=rng, terms=terms,
                        binary_shape=config.binary_shape)[0]
             for _ in range(config.chains * config.draws)]
    out = {v: np.stack([d[v] for d in draws]).reshape(config.chains, config.draws, -1)
           for v in RANK_VARS if v in draws[0]}
    return out, {"passed": True, "failures": [], "prior_draws": True}


def total_loglik(data: ModelData, params: Mapping[str, NDArray[np.float64]],
                 config: FitConfig, *, terms: SelectionTerms | str | None = "data",
                 ) -> NDArray[np.float64]:
    """The data's log-likelihood under each parameter set (S, K arrays) -> (S,).

    The same expression as the fit's pointwise log-likelihood (marginal over the
    components, with each object's share of the selection normalisation). ``terms``:
    the data's :func:`~vlms_bayes.models.simulate_prior.model_terms` when already known.
    """
    draws = _as_draws(params)
    ll = pointwise_loglik(object_log_terms(data, draws)).sum(axis=-1)
    if isinstance(terms, str):
        terms = model_terms(data, config.selection)
    if terms is not None:

        ll = ll + object_selection_logterms(terms, draws).sum(axis=-1)
    return ll


def _as_draws(params: Mapping[str, Any]) -> dict[str, NDArray[np.float64]]:
    """Parameter sets as (S, K) arrays in the layout of ``draws_from_posterior``.

    As :func:`~vlms_bayes.inference.membership.draws_from_posterior`: with the power law
    (``gamma_q``) the Gaussian-only variables get a NaN last column and ``gamma_q`` is (S,).
    """
    draws = {k: np.atleast_2d(np.asarray(v, float)) for k, v in params.items()}
    if "gamma_q" in draws:
        draws["gamma_q"] = draws["gamma_q"].reshape(-1)
        k = draws["mu_loga"].shape[-1]
        for name in GAUSSIAN_ONLY:
            v = draws[name]
            if v.shape[-1] < k:
                draws[name] = np.concatenate([v, np.full((v.shape[0], k - v.shape[-1]),
                                                         np.nan)], axis=-1)
    return draws


def parameter_names(var: str, config: FitConfig) -> list[str]:
    """Scalar names ``var[coordinate]`` of a ranked variable.

    With a power-law binary-like population the Gaussian-only variables name the Gaussian
    components and ``gamma_q`` the binary-like population.
    """
    coords = (group_names(config.n_components) if var.endswith("_pop")
              else population_names(config.n_components, config.planet_components))
    if check_binary_shape(config.binary_shape, config.n_components):
        if var == "gamma_q":
            coords = coords[-1:]
        elif var in GAUSSIAN_ONLY:
            coords = coords[:-1]
    return [f"{var}[{c}]" for c in coords]


def run_replica(task: dict[str, Any]) -> dict[str, Any]:
    """Simulate, fit and rank one replica (a Dask task; everything it needs is in ``task``).

    ``task``: ``index``, ``seed``, ``design`` (ModelData), ``fit_config``, ``truth``
    (a parameter mapping or None), ``n_keep``, ``fitter`` (None: :func:`fit_nuts`).
    Errors of the simulation or the fit (package errors) are recorded in ``error``.
    """
    t0 = time.perf_counter()
    cfg: FitConfig = task["fit_config"]
    design: ModelData = task["design"]
    fitter: Fitter = task.get("fitter") or fit_nuts
    n_keep = int(task["n_keep"])
    ss = np.random.SeedSequence(task["seed"])
    r_prior, r_data, r_ties, r_fit = (np.random.default_rng(s) for s in ss.spawn(4))
    fit_seed = int(r_fit.integers(0, 2**31 - 1))
    rec: dict[str, Any] = {"index": task["index"], "seed": task["seed"], "fit_seed": fit_seed,
                           "error": None}
    try:
        # methods and hosts are the design's: one set of selection terms for the replica
        terms = model_terms(design, cfg.selection)
        if task["truth"] is None:
            params, rec["prior_tries"] = draw_prior(
                design, priors=cfg.priors, selection=cfg.selection,
                n_components=cfg.n_components, planet_components=cfg.planet_components,
                rng=r_prior, terms=terms, binary_shape=cfg.binary_shape)
        else:
            params = complete_parameters(dict(task["truth"]), terms)
            rec["prior_tries"] = 0
        data, _ = simulate_replica(design, params, selection=cfg.selection, rng=r_data,
                                   planet_components=cfg.planet_components, terms=terms)
        t_fit = time.perf_counter()
        post, gate = fitter(data, cfg, seed=fit_seed)
        rec["fit_s"] = time.perf_counter() - t_fit
    except VlmsBayesError as exc:
        rec["error"] = f"{type(exc).__name__}: {exc}"
        rec["wall_s"] = time.perf_counter() - t0
        return rec
    if LOGLIK not in post:
        shaped = {k: v.reshape(-1, v.shape[-1]) for k, v in post.items()}
        chains, draws = post["mu_logq"].shape[:2]
        post[LOGLIK] = total_loglik(data, shaped, cfg, terms=terms).reshape(chains, draws)
    truth_ll = float(total_loglik(data, params, cfg, terms=terms)[0])
    rows = []
    shared_e = "e_alpha_pop" in params  # P > 1: e_alpha, e_beta repeat the populations'
    for var in (*RANK_VARS, LOGLIK):
        if var not in post or (var != LOGLIK and var not in params):
            continue
        if shared_e and var in ("e_alpha", "e_beta"):
            continue
        if var in ("w", "f_det") and np.asarray(params["mu_loga"]).size == 1:
            continue  # one component: its weight is 1 by construction
        arr = np.asarray(post[var], float)
        if var == LOGLIK:
            items = [(LOGLIK, arr, truth_ll)]
        else:
            tv = np.asarray(params[var], float)
            items = [(name, arr[..., j], float(tv[j]))
                     for j, name in enumerate(parameter_names(var, cfg))]
        for name, draws_, truth in items:
            rows.append({
                "parameter": name, "truth": truth,
                "rank": sbc.rank_statistic(draws_, truth, n_keep=n_keep, rng=r_ties),
                "post_mean": float(draws_.mean()), "post_sd": float(draws_.std()),
                **{f"covered_{int(lvl * 100)}": sbc.central_interval_covers(draws_, truth, lvl)
                   for lvl in sbc.COVERAGE_LEVELS}})
    rec.update({"n_keep": n_keep, "gate": gate, "parameters": rows,
                "wall_s": time.perf_counter() - t0})
    return rec


# ---------------------------------------------------------------------------------------
# caller side
# ---------------------------------------------------------------------------------------
def _design(config: CalibrateConfig, fit_config: FitConfig, seed: int) -> ModelData:
    if config.design_file is not None:
        return design_from_stacked(read_design_csv(config.design_file),
                                   measurement=fit_config.measurement)
    return design_from_scenario(config.n_objects, seed=seed,
                                measurement=fit_config.measurement,
                                selection=fit_config.selection)


def _fingerprint(settings: dict[str, Any]) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def partial_dir(outdir: str | Path) -> Path:
    """Where finished replicas wait until the command completes (beside ``outdir``)."""
    final = Path(outdir).expanduser().resolve()
    return final.parent / f".{final.name}.calibrate-partial"


def _replica_file(folder: Path, index: int) -> Path:
    return folder / f"replica_{index:05d}.json"


def _open_partial(folder: Path, fingerprint: str, settings: dict[str, Any],
                  n_replicas: int) -> dict[int, dict[str, Any]]:
    """Create the partial folder or resume from it; the replicas already done, by index."""
    stamp = folder / "settings.json"
    if folder.is_dir() and stamp.is_file():
        old = json.loads(stamp.read_text())
        if old.get("fingerprint") != fingerprint:
            raise InputDataError(
                f"{folder} holds the replicas of an unfinished calibration with other "
                "settings; finish it with those settings, or move or delete the folder (or "
                "choose another --outdir) to start afresh.")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(stamp, {"fingerprint": fingerprint, "settings": settings})
    done = {}
    for f in sorted(folder.glob("replica_*.json")):
        rec = json.loads(f.read_text())
        if rec["index"] < n_replicas:
            done[int(rec["index"])] = rec
    return done


def ranks_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """``sbc_ranks.csv``: one row per replica and parameter (failed replicas left out)."""
    rows = [{"replica": r["index"], "seed": r["seed"], **p, "n_keep": r["n_keep"],
             "gate_passed": r["gate"]["passed"]}
            for r in records if not r["error"] for p in r["parameters"]]
    cols = ["replica", "seed", "parameter", "truth", "rank", "n_keep", "post_mean", "post_sd",
            *[f"covered_{int(lv * 100)}" for lv in sbc.COVERAGE_LEVELS], "gate_passed"]
    return pd.DataFrame(rows, columns=cols)


def summarise(ranks: pd.DataFrame, *, n_keep: int, alpha: float) -> dict[str, Any]:
    """Per-parameter tests and coverages of a ranks table (``sbc.json``'s ``parameters``)."""
    out = {}
    for name, sub in ranks.groupby("parameter", sort=False):
        sub = sub.sort_values("replica")
        out[str(name)] = sbc.summarise_parameter(
            sub["rank"].to_numpy(int),
            {lv: sub[f"covered_{int(lv * 100)}"].to_numpy(bool) for lv in sbc.COVERAGE_LEVELS},
            n_keep=n_keep, alpha=alpha)
    return out


def _report(summary: dict[str, Any], *, fixed_truth: bool) -> str:
    s = summary
    lines = [f"Simulation-based calibration: {s['n_ok']} of {s['n_replicas']} replicas "
             f"(L = {s['settings']['calibrate']['n_keep']} thinned draws each)"]
    if s["failed_replicas"]:
        lines.append(f"  {len(s['failed_replicas'])} replica(s) failed and are left out "
                     "(this can bias the ranks): "
                     + "; ".join(f"{f['index']}: {f['error']}" for f in s["failed_replicas"][:3]))
    if s["gate_failed_replicas"]:
        lines.append(f"  {len(s['gate_failed_replicas'])} fit(s) failed the diagnostics gate "
                     "(kept in the ranks): replicas "
                     + ", ".join(str(i) for i in s["gate_failed_replicas"][:20]))
    if s["low_ess_replicas"]:
        lines.append(f"  {len(s['low_ess_replicas'])} fit(s) have a bulk ESS below L (their "
                     "thinned draws stay correlated; consider a smaller --thin)")
    if fixed_truth:
        lines.append("  every replica used the truth file's parameters: coverage is at that "
                     "truth, and ranks need not be uniform (SBC assumes prior draws)")
    lines.append(f"  {'parameter':28s} {'ECDF p':>7s} {'chi2 p':>7s} {'cov50':>6s} "
                 f"{'cov90':>6s}  verdict")
    for name, p in s["parameters"].items():
        c50, c90 = p["coverage"]["0.5"]["coverage"], p["coverage"]["0.9"]["coverage"]
        lines.append(f"  {name:28s} {p['ecdf']['pvalue']:7.3f} {p['chi2_pvalue']:7.3f} "
                     f"{c50:6.2f} {c90:6.2f}  {'ok' if p['passed'] else 'NOT UNIFORM'}")
    n_fail = sum(not p["passed"] for p in s["parameters"].values())
    n_par = len(s["parameters"])
    lines.append(f"  {n_fail} of {n_par} parameters outside the {1 - s['alpha']:.0%} ECDF band "
                 f"(~{s['alpha'] * n_par:.1f} expected by chance if all are calibrated)")
    return "\n".join(lines)


def calibrate_command(
    config: CalibrateConfig,
    fit_config: FitConfig,
    *,
    outdir: str | Path,
    seed: int = 42,
    n_workers: int | None = None,
    scheduler: str | None = None,
    fitter: Fitter | None = None,
    figures: bool = True,
) -> CommandResult:
    """Run the calibration and write ``sbc.json``, ``sbc_ranks.csv`` and ``fig_sbc.png``.

    Parameters
    ----------
    config : CalibrateConfig
        Replicas, thinning, design and truth.
    fit_config : FitConfig
        The fit of each replica (the model as shipped by default; LOO is not run).
    outdir : path-like
        Output folder (published when every replica is done).
    seed : int
        Master seed; replica i uses :func:`~vlms_bayes.inference.sbc.replica_seed`.
    n_workers : int, optional
        Worker processes of the local Dask cluster (default: cores, at most replicas).
    scheduler : str, optional
        Address of an existing Dask scheduler (or ``"synchronous"``).
    fitter : callable, optional
        Replaces :func:`fit_nuts` (e.g. :func:`fit_prior`); must be importable by the
        workers.
    figures : bool
        Write ``fig_sbc.png``.

    Returns
    -------
    CommandResult
        Folder, report, and ``numbers["summary"]`` (the content of ``sbc.json``).
    """
    check_output_dir(outdir)
    fit_cfg = replace(fit_config, loo_components=())
    chains_draws = fit_cfg.chains * fit_cfg.draws
    if config.n_keep > chains_draws:
        raise InputDataError(f"--thin {config.n_keep} is more than the {chains_draws} "
                             "posterior draws of a fit (--chains x --draws); lower it or "
                             "draw more.")
    timer = StepTimer()
    with timer.step("design"):
        design = _design(config, fit_cfg, seed)
        truth = None
        if config.truth_file is not None:
            truth = truth_from_mapping(read_truth_file(config.truth_file),
                                       source=str(config.truth_file),
                                       n_components=fit_cfg.n_components,
                                       planet_components=fit_cfg.planet_components,
                                       binary_shape=fit_cfg.binary_shape)
    k = n_gaussians(fit_cfg.n_components, fit_cfg.planet_components)
    settings = {"calibrate": {**config.to_dict(), "n_replicas": None}, "seed": seed,
                "fit": fit_cfg.to_dict(), "n_objects": design.n, "n_gaussians": k,
                "design_sha256": hashlib.sha256(json.dumps(
                    [design.methods, np.asarray(design.m_star_msun).round(6).tolist(),
                     design.s_logq.round(6).tolist(), design.s_loga.round(6).tolist(),
                     design.msini.tolist(), design.is_projected.tolist(),
                     design.e_kind.tolist()]).encode()).hexdigest(),
                "truth": None if truth is None else {kk: v.tolist() for kk, v in truth.items()},
                "fitter": None if fitter is None else getattr(fitter, "__qualname__", "custom"),
                "vlms_bayes": __version__}
    part = partial_dir(outdir)
    done = _open_partial(part, _fingerprint(settings), settings, config.n_replicas)
    if done:
        log.info("[calibrate] resuming: %d of %d replicas already done in %s", len(done),
                 config.n_replicas, part)
    todo = [i for i in range(config.n_replicas) if i not in done]
    tasks = [(f"replica {i}", run_replica, {
        "index": i, "seed": sbc.replica_seed(seed, i), "design": design,
        "fit_config": fit_cfg, "truth": truth, "n_keep": config.n_keep, "fitter": fitter})
        for i in todo]
    log.info("[calibrate] %d replica(s) of %d objects to fit; finished replicas are kept in "
             "%s until the end", len(tasks), design.n, part)

    def keep(_name: str, rec: dict[str, Any]) -> str:
        write_json(_replica_file(part, rec["index"]), rec)
        done[rec["index"]] = rec
        if rec["error"]:
            return f"FAILED: {rec['error']}"
        return (f"done in {rec['wall_s']:.1f} s"
                + ("" if rec["gate"]["passed"] else ", its fit failed the diagnostics gate"))

    with timer.step("replicas"):
        try:
            run_tasks(tasks, n_workers=n_workers, scheduler=scheduler, on_result=keep,
                      label="calibrate")
        except BaseException:
            log.error("[calibrate] stopped; the %d finished replica(s) are kept in %s (rerun "
                      "the same command to resume)", len(done), part)
            raise
    records = [done[i] for i in range(config.n_replicas)]
    ranks = ranks_frame(records)
    summary = {
        "settings": {**settings, "calibrate": config.to_dict()},
        "n_replicas": config.n_replicas, "n_ok": int(sum(not r["error"] for r in records)),
        "alpha": config.alpha, "fixed_truth": truth is not None,
        "failed_replicas": [{"index": r["index"], "error": r["error"]}
                            for r in records if r["error"]],
        "gate_failed_replicas": [r["index"] for r in records
                                 if not r["error"] and not r["gate"]["passed"]],
        # thinning to L cannot make draws independent when the fit has fewer effective ones
        "low_ess_replicas": [r["index"] for r in records if not r["error"]
                             and r["gate"].get("min_ess_bulk", np.inf) < config.n_keep],
        "parameters": summarise(ranks, n_keep=config.n_keep, alpha=config.alpha)
        if len(ranks) else {},
        "timing_s": {"replicas_wall": timer.timings_s.get("replicas"),
                     "mean_replica": float(np.mean([r["wall_s"] for r in records])),
                     "mean_fit": float(np.mean([r.get("fit_s", np.nan) for r in records
                                                if not r["error"]] or [np.nan]))},
        "n_workers": n_workers, "scheduler": scheduler,
    }
    summary["all_passed"] = bool(summary["parameters"]) and all(
        p["passed"] for p in summary["parameters"].values())
    report = _report(summary, fixed_truth=truth is not None)

    with StagedOutputDir(outdir) as staging:
        write_json(staging / SBC_JSON, summary)
        write_csv(staging / RANKS_CSV, ranks, float_format="%.10g")
        if figures and len(ranks):
            save_figure(staging / SBC_FIGURE, plot_sbc(ranks, summary["parameters"],
                                                       n_keep=config.n_keep))
        for rec in records:
            write_json(_replica_file(staging / REPLICA_DIR, rec["index"]), rec)
        write_json(staging / "run.json", run_record(
            command="calibrate", config=summary["settings"],
            seeds={"master": seed, "replicas": {r["index"]: r["seed"] for r in records}},
            inputs={k: v for k, v in (("design", config.design_file),
                                      ("truth", config.truth_file)) if v},
            timings_s=timer.timings_s))
    shutil.rmtree(part, ignore_errors=True)
    return CommandResult(Path(outdir), report, {"summary": summary, "ranks": ranks})
