"""``vlms-bayes fit`` as a Python function: build, sample, gate, score, write.

:func:`run_fit` writes into an already-staged folder (see
:class:`vlms_bayes.data_io.outputs.StagedOutputDir`), so ``vlms-bayes run`` can call it
beside the baselines; :func:`fit_command` is the stand-alone command with its own staging
folder and ``run.json``.

Outputs
-------
``posterior.nc``
    ArviZ DataTree: posterior, sample_stats, observed_data, constant_data (the model's
    arrays) and log_likelihood (marginal, per object, for LOO). Tagged as ours.
``fit_summary.json``
    Diagnostics gate, every sampling attempt, configuration, posterior summaries of the
    population parameters, the reference object's P(binary-like), LOO results, the
    posterior predictive checks per method (``ppc``).
``memberships.csv``
    name, P_binary_like, its 90% interval and each population's mean responsibility.
``objects_with_probs.csv``
    When the baselines' file is in the folder, the Bayesian columns are added next to
    ``P_binary_like_logistic``.
``stacked_used.csv``
    The exact stacked rows the model used.
``left_out.csv``
    Objects of the sample (the host-mass window) the model could not use, each with its
    reason (e.g. no semi-major axis); just the header when none is. ``fit_summary.json``
    lists them too (``left_out``).
``fig_ppc.png``
    Posterior predictive checks per discovery method (:mod:`vlms_bayes.inference.ppc`;
    the numbers are ``ppc`` in ``fit_summary.json``).
``loo_comparison.csv``
    PSIS-LOO of K = 1, 2, 3 (when asked for). A K whose fit fails the gate is left out
    (``loo_rejected`` in ``fit_summary.json``; its draws in ``rejected_dir/loo_K<k>/``),
    unless ``allow_bad_diagnostics``.

A fit that fails the diagnostics gate (without ``allow_bad_diagnostics``) writes none of
these; with a ``rejected_dir`` its draws, per-parameter diagnostics and verdict go there
instead (:mod:`vlms_bayes.inference.rejected`).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.data_io.outputs import save_figure, write_csv, write_json
from vlms_bayes.errors import GateRejectedError, InputDataError
from vlms_bayes.inference.classify import MODEL_TAG, classify_data
from vlms_bayes.inference.comparison import loo_compare
from vlms_bayes.inference.diagnostics import Diagnostics, GateConfig, sample_with_gate
from vlms_bayes.inference.exchangeable import exchangeable_density, is_exchangeable
from vlms_bayes.inference.initvals import (
    best_start,
    powerlaw_initial_values,
    start_candidates,
)
from vlms_bayes.inference.membership import (
    Membership,
    draws_from_posterior,
    object_log_terms,
    pointwise_loglik,
    responsibilities,
    summarise_memberships,
)
from vlms_bayes.inference.nuts_jax import sample_density
from vlms_bayes.inference.ppc import PPCResult, posterior_predictive_check
from vlms_bayes.inference.rejected import gate_advice, write_rejected
from vlms_bayes.inference.sampling import check_backend, sample
from vlms_bayes.models.data import (
    MeasurementConfig,
    ModelData,
    left_out_objects,
    model_data_from_stacked,
)
from vlms_bayes.models.logdensity import mixture_density
from vlms_bayes.models.mixture import (
    BINARY_SHAPES,
    MixturePriors,
    build_mixture_model,
    check_binary_shape,
    n_gaussians,
    population_names,
)
from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.selection_norm import object_selection_logterms, selection_terms
from vlms_bayes.plots.ppc import plot_ppc
from vlms_bayes.report.format import fmt_prob

log = logging.getLogger(__name__)

#: Objects of the sample the model could not use, with the reason (header only if none).
LEFT_OUT_FILE = "left_out.csv"
#: Figure of the posterior predictive checks per method.
PPC_FIGURE = "fig_ppc.png"

POP_PARAMS = ("w", "f_det", "mu_logq", "mu_loga", "sigma_logq", "sigma_loga", "rho", "e_mean",
              "e_conc", "e_alpha", "e_beta", "gamma_q")


@dataclass(frozen=True, kw_only=True)
class FitConfig:
    """Settings of a fit (all recorded in run.json / fit_summary.json)."""

    n_components: int = 2
    #: Gaussian components of the planet-like population (1: one per population).
    planet_components: int = 1
    #: Shape of the binary-like population (K ≥ 2): "gaussian" or "powerlaw" (a power
    #: law in q with a log-normal separation; models.mixture "Shapes"; backend "jax" only).
    binary_shape: str = "gaussian"
    backend: str = "jax"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.9
    retry_target_accept: float = 0.98
    max_tree_depth: int = 10
    #: Backend "jax": sample the exchangeable twin of the ordered model and sort each draw
    #: by mean log q (the same posterior; a chain can pass between the halves the
    #: ordering cuts a ridge into; inference.exchangeable). Where the model is not
    #: exchangeable (planet_components > 1, power law) the ordered model is sampled.
    sample_unordered: bool = True
    allow_bad_diagnostics: bool = False
    loo_components: tuple[int, ...] = ()
    include_reference: bool = False
    measurement: MeasurementConfig = field(default_factory=MeasurementConfig)
    priors: MixturePriors = field(default_factory=MixturePriors)
    gate: GateConfig = field(default_factory=GateConfig)
    #: Per-method detection probabilities (default: the documented selection functions;
    #: None: the naive fit of the detected sample, no selection correction).
    selection: SelectionModel | None = field(default_factory=SelectionModel)

    def __post_init__(self) -> None:
        check_backend(self.backend)
        for k in (self.n_components, *self.loo_components):
            if int(k) != k or k < 1:
                raise InputDataError(f"Numbers of populations must be integers >= 1, got {k!r}.")
        if int(self.planet_components) != self.planet_components or not (
                1 <= self.planet_components <= 4):
            raise InputDataError("--planet-components must be an integer from 1 to 4, got "
                                 f"{self.planet_components!r}.")
        for name in ("chains", "draws", "tune"):
            if getattr(self, name) < 1:
                raise InputDataError(f"--{name} must be at least 1.")
        if self.binary_shape not in BINARY_SHAPES:
            raise InputDataError(f"--binary-shape must be one of {', '.join(BINARY_SHAPES)}; "
                                 f"got {self.binary_shape!r}.")
        if self.binary_shape == "powerlaw" and self.backend != "jax":
            raise InputDataError("--binary-shape powerlaw needs --backend jax (the PyMC "
                                 "model has the power law, tests/models/test_logdensity.py, "
                                 "but the other backends' starting values do not yet); got "
                                 f"--backend {self.backend}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for run.json."""
        return {
            "n_components": self.n_components, "planet_components": self.planet_components,
            "binary_shape": self.binary_shape, "backend": self.backend, "chains": self.chains,
            "draws": self.draws, "tune": self.tune, "target_accept": self.target_accept,
            "retry_target_accept": self.retry_target_accept,
            "max_tree_depth": self.max_tree_depth,
            "sample_unordered": self.sample_unordered,
            "allow_bad_diagnostics": self.allow_bad_diagnostics,
            "loo_components": list(self.loo_components),
            "include_reference": self.include_reference,
            "measurement": self.measurement.to_dict(), "priors": self.priors.to_dict(),
            "gate": self.gate.to_dict(),
            "selection": "none" if self.selection is None else "methods",
            "selection_model": None if self.selection is None else self.selection.to_dict(),
        }


@dataclass
class FitResult:
    """What :func:`run_fit` computed (the files are in the folder it was given)."""

    posterior: Any
    data: ModelData
    memberships: pd.DataFrame
    diagnostics: Diagnostics
    reference: pd.DataFrame
    loo: pd.DataFrame | None
    summary: dict[str, Any]
    timings_s: dict[str, float]
    report: str


def fit_posterior(data: ModelData, config: FitConfig, *, n_components: int, seed: int,
                  keep_attempts: list[Any] | None = None,
                  ) -> tuple[Any, Diagnostics, list[dict[str, Any]]]:
    """Build and sample one K, gate it, and attach log-likelihood and data groups.

    ``keep_attempts``: a list that receives every attempt's posterior, in order (the
    last one is the one returned), with the same groups attached.
    """
    n_gauss = n_gaussians(n_components, config.planet_components)
    kwargs = dict(n_components=n_components, priors=config.priors, selection=config.selection,
                  planet_components=config.planet_components, binary_shape=config.binary_shape)
    # the start: the observed-(log q, log a) Gaussian mixture under the assignment of its
    # components to the ordered populations whose short ascent of the log posterior ends
    # highest (selection can flip the observed order of mean log q; inference.initvals)
    density = mixture_density(data, **kwargs)  # the model written in JAX (models.logdensity)
    weight = next((v.name for v in density.free if v.transform == "simplex"), None)
    candidates = start_candidates(data, n_gauss, random_seed=seed, weight_name=weight)
    if check_binary_shape(config.binary_shape, n_components):
        candidates = [powerlaw_initial_values(c) for c in candidates]
    init, choice = best_start(density, candidates)
    if choice.index:
        log.info("start: components assigned as candidate %d (log posterior after a short "
                 "ascent %.2f, the observed order's %.2f)", choice.index,
                 choice.logp_optimised[choice.index], choice.logp_optimised[0])
    unordered = (config.backend == "jax" and config.sample_unordered
                 and is_exchangeable(density))
    if choice.competing:
        (log.info if unordered else log.warning)(
            "the posterior has %d other mode(s) within 3 nats of the start's, with the "
            "populations' parameters assigned differently; %s (docs/bayes.md, "
            "Simulation-based calibration)", len(choice.competing),
            "the chains sample the model's exchangeable twin and can move between them"
            if unordered else "a chain of the ordered model does not move between them")
    if config.backend == "jax":
        draw = partial(sample_density,
                       exchangeable_density(density) if unordered else density)
    else:
        model = build_mixture_model(data, **kwargs)
        if weight is not None and weight not in model.named_vars:  # the other weight name
            other = "w" if weight == "f_det" else "f_det"
            init = {(other if k == weight else k): v for k, v in init.items()}
        draw = partial(sample, model, backend=config.backend)
    tried: list[Any] = []

    def run(target_accept: float) -> Any:
        tried.append(draw(draws=config.draws, tune=config.tune, chains=config.chains,
                          random_seed=seed, target_accept=target_accept, initvals=init,
                          max_tree_depth=config.max_tree_depth))
        return tried[-1]

    dt, diag, attempts = sample_with_gate(
        run, target_accept=config.target_accept,
        retry_target_accept=config.retry_target_accept, gate=config.gate)
    for one in tried[:-1] if keep_attempts is not None else ():
        _attach_groups(one, data, config, n_components)
    _attach_groups(dt, data, config, n_components)
    if keep_attempts is not None:
        keep_attempts.extend(tried)
    return dt, diag, attempts


def _attach_groups(dt: Any, data: ModelData, config: FitConfig, n_components: int) -> None:
    """Add the pointwise log-likelihood and the model's arrays to a sampled DataTree."""
    import xarray as xr  # heavy: xarray

    post = dt["posterior"]
    terms = object_log_terms(data, draws_from_posterior(post))
    nc, nd = post.sizes["chain"], post.sizes["draw"]
    ll = pointwise_loglik(terms)
    if config.selection is not None:  # each object's share of the normalisation
        ll = ll + object_selection_logterms(selection_terms(data, config.selection),
                                            draws_from_posterior(post))
    ll = ll.reshape(nc, nd, data.n)
    coords = {"chain": post["chain"].values, "draw": post["draw"].values,
              "object": list(data.names)}
    dt["log_likelihood"] = xr.DataTree(xr.Dataset(
        {"obs": (("chain", "draw", "object"), ll)}, coords=coords))
    dt["constant_data"] = xr.DataTree(xr.Dataset({
        "y_logq": ("object", data.y_logq), "s_logq": ("object", data.s_logq),
        "y_loga": ("object", data.y_loga), "s_loga": ("object", data.s_loga),
        "msini": ("object", data.msini.astype(np.int8)),
        "projected": ("object", data.is_projected.astype(np.int8)),
        "e_kind": ("object", data.e_kind),
        "e_obs_all": ("object", data.e_obs), "s_e": ("object", data.s_e),
        "e_limit": ("object", data.e_limit),
    }, coords={"object": list(data.names)}))
    dt.attrs["vlms_bayes_model"] = MODEL_TAG
    dt.attrs["n_components"] = int(n_components)
    dt.attrs["planet_components"] = int(config.planet_components)
    dt.attrs["binary_shape"] = ("powerlaw" if check_binary_shape(config.binary_shape, n_components)
                                else "gaussian")
    dt.attrs["selection"] = "none" if config.selection is None else "methods"


def membership_frame(m: Membership, k: int, methods: tuple[str, ...] = (),
                     planet_components: int = 1) -> pd.DataFrame:
    """Membership table: P_binary_like with its 90% interval and every component's mean.

    With a planet-like population of several components, ``P_planet_like`` is their sum.
    """
    frame = pd.DataFrame({"name": list(m.names), "P_binary_like": m.p_mean,
                          "P_binary_like_lo90": m.p_lo, "P_binary_like_hi90": m.p_hi})
    for j, pop in enumerate(population_names(k, planet_components)):
        frame[f"P_{pop}"] = m.p_all[:, j]
    if planet_components > 1:
        frame["P_planet_like"] = m.p_all[:, :planet_components].sum(axis=1)
    if methods:
        frame.insert(1, "discoverymethod", list(methods))
    return frame


def posterior_table(post: Any) -> dict[str, Any]:
    """Mean, sd and 5/50/95% quantiles of each population parameter."""
    out: dict[str, Any] = {}
    for name in POP_PARAMS:
        if name not in post:
            continue
        v = np.asarray(post[name].values, float).reshape(-1, post[name].shape[-1])
        q = np.quantile(v, [0.05, 0.5, 0.95], axis=0)
        # "population"; with a power-law binary-like population "gaussian" (mu_logq,
        # sigma_logq, rho) or "power_law" (gamma_q)
        pops = [str(p) for p in post[name][post[name].dims[-1]].values]
        out[name] = {p: {"mean": v[:, j].mean(), "sd": v[:, j].std(), "q05": q[0, j],
                         "q50": q[1, j], "q95": q[2, j]} for j, p in enumerate(pops)}
    return out


def score_reference(dt: Any, stacked: pd.DataFrame, config: FitConfig) -> pd.DataFrame:
    """P(binary-like) of the stacked dataset's reference row(s), in or out of the window."""
    if "is_reference" not in stacked.columns:
        return pd.DataFrame()
    ref = stacked.loc[stacked["is_reference"].fillna(False).astype(bool)].copy()
    if ref.empty:
        return pd.DataFrame()
    ref["in_window"] = True
    data, _ = model_data_from_stacked(ref, measurement=config.measurement, min_rows=1)
    m = classify_data(dt["posterior"], data)
    return membership_frame(m, dt.attrs["n_components"],
                            planet_components=int(dt.attrs.get("planet_components", 1)))


def run_fit(stacked: pd.DataFrame, config: FitConfig, *, outdir_path: str | Path,
            seed: int, rejected_dir: str | Path | None = None,
            run_info: dict[str, Any] | None = None) -> FitResult:
    """Fit the mixture to a stacked dataset and write the outputs into ``outdir_path``.

    Parameters
    ----------
    stacked : pandas.DataFrame
        The stacked dataset (e.g. from ``vlms_bayes.pipeline.load_dataset``).
    config : FitConfig
        Fit settings.
    outdir_path : path-like
        An existing (staged) folder to write into.
    seed : int
        Sampler seed (the LOO fits use seed + K).
    rejected_dir : path-like, optional
        Where a fit that fails the gate keeps its draws, per-parameter diagnostics and
        verdict (:func:`vlms_bayes.inference.rejected.write_rejected`); without it such a
        fit writes nothing.
    run_info : dict, optional
        ``run.json`` of the rejected folder (the command's provenance record).

    Returns
    -------
    FitResult

    Raises
    ------
    GateRejectedError
        When the gate fails (after the retry) and ``allow_bad_diagnostics`` is False;
        nothing is written into ``outdir_path``.
    """
    out = Path(outdir_path)
    timings: dict[str, float] = {}
    data, rows = model_data_from_stacked(stacked, measurement=config.measurement,
                                         include_reference=config.include_reference)
    left_out = left_out_objects(stacked, include_reference=config.include_reference)
    if len(left_out):
        log.warning("the fit leaves out %d object(s) of the sample: %s", len(left_out),
                    "; ".join(f"{r.name} ({r.reason})" for r in left_out.itertuples()))
    k = config.n_components
    t0 = time.perf_counter()
    tried: list[Any] = []
    dt, diag, attempts = fit_posterior(data, config, n_components=k, seed=seed,
                                       keep_attempts=tried)
    timings["fit_main_s"] = time.perf_counter() - t0
    if not diag.passed and not config.allow_bad_diagnostics:
        _reject(tried or [dt], diag, attempts, config, data=data, rows=rows, left_out=left_out,
                seed=seed, timings=timings, rejected_dir=rejected_dir, run_info=run_info)
    del tried
    if not diag.passed:
        log.warning("DIAGNOSTICS FAILED (written anyway, --allow-bad-diagnostics): %s",
                    "; ".join(diag.failures))
    post = dt["posterior"]
    resp = responsibilities(object_log_terms(data, draws_from_posterior(post)))
    members = membership_frame(summarise_memberships(data.names, resp), k, data.methods,
                               config.planet_components)
    reference = score_reference(dt, stacked, config)
    t_ppc = time.perf_counter()
    ppc = posterior_predictive_check(
        draws_from_posterior(post), data, config.selection, random_seed=seed,
        loglik=np.asarray(dt["log_likelihood"]["obs"].values, float).reshape(-1, data.n))
    timings["ppc_s"] = time.perf_counter() - t_ppc

    loo_table = None
    loo_rejected: list[dict[str, Any]] = []
    if config.loo_components:
        fits = {f"K={k}": dt}
        for kk in sorted(set(config.loo_components) - {k}):
            t1 = time.perf_counter()
            tried_kk: list[Any] = []
            dt_kk, d_kk, att_kk = fit_posterior(data, config, n_components=kk,
                                                seed=seed + kk, keep_attempts=tried_kk)
            timings[f"fit_K{kk}_s"] = time.perf_counter() - t1
            if d_kk.passed or config.allow_bad_diagnostics:
                if not d_kk.passed:
                    log.warning("K=%d fit for LOO failed the gate (used anyway, "
                                "--allow-bad-diagnostics): %s", kk, "; ".join(d_kk.failures))
                fits[f"K={kk}"] = dt_kk
                continue
            # a rejected fit is not compared; its draws are kept beside the main fit's
            kept, _ = _keep_rejected(
                tried_kk, d_kk, att_kk, config, n_components=kk, data=data, rows=None,
                left_out=left_out, seed=seed + kk, timings={f"fit_K{kk}_s": timings[
                    f"fit_K{kk}_s"]}, run_info=None,
                rejected_dir=None if rejected_dir is None
                else Path(rejected_dir) / f"loo_K{kk}")
            loo_rejected.append({"n_components": kk, "failures": d_kk.failures,
                                 "kept_in": None if kept is None else str(kept)})
            log.warning("K=%d fit for LOO failed the diagnostics gate (%s): left out of the "
                        "LOO comparison%s", kk, "; ".join(d_kk.failures),
                        "" if kept is None else f"; its draws and verdict are in {kept}")
        if len(fits) > 1 or not loo_rejected:
            loo_table = loo_compare(fits)
            write_csv(out / "loo_comparison.csv", loo_table)

    summary = {
        "n_objects": data.n, "n_components": k,
        "planet_components": config.planet_components,
        "binary_shape": config.binary_shape,
        "populations": population_names(k, config.planet_components),
        "gate": "passed" if diag.passed else "failed", "rejected": False,
        "diagnostics": diag.to_dict(), "attempts": attempts,
        "config": config.to_dict(), "seed": seed,
        "population_parameters": posterior_table(post),
        "reference": reference.to_dict(orient="records"),
        "loo": None if loo_table is None else loo_table.to_dict(orient="records"),
        "loo_rejected": loo_rejected,
        "timings_s": timings,
        "selection": selection_record(data, config.selection),
        "left_out": left_out.to_dict(orient="records"),
        "ppc": ppc.to_dict(),
    }
    dt.to_netcdf(out / "posterior.nc", engine="h5netcdf")
    write_json(out / "fit_summary.json", summary)
    write_csv(out / "memberships.csv", members)
    write_csv(out / "stacked_used.csv", rows)
    write_csv(out / LEFT_OUT_FILE, left_out)  # also when empty: no stale list survives
    # the reference object is scored under the posterior even when its host lies outside
    # the window (it is then not among the fitted members)
    scored = members
    if not reference.empty and "name" in reference.columns:
        extra = reference.loc[~reference["name"].isin(members["name"])]
        scored = pd.concat([members, extra], ignore_index=True)
    _merge_into_objects_with_probs(out / "objects_with_probs.csv", scored)
    _save_ppc_figure(out / PPC_FIGURE, ppc)
    report = fit_report(summary, members, reference, loo_table)
    return FitResult(dt, data, members, diag, reference, loo_table, summary, timings, report)


def _save_ppc_figure(path: Path, ppc: PPCResult) -> None:
    import matplotlib  # heavy: kept off the --help path (sets Agg before pyplot)

    if "matplotlib.pyplot" not in sys.modules:  # a command: no display needed; a session
        matplotlib.use("Agg")                   # (notebook) keeps its own backend
    save_figure(path, plot_ppc(ppc))


def _keep_rejected(tried: list[Any], diag: Diagnostics, attempts: list[dict[str, Any]],
                   config: FitConfig, *, n_components: int, data: ModelData,
                   rows: pd.DataFrame | None, left_out: pd.DataFrame, seed: int,
                   timings: dict[str, float], rejected_dir: str | Path | None,
                   run_info: dict[str, Any] | None) -> tuple[Path | None, list[str]]:
    """Write a fit that failed the gate into ``rejected_dir`` (when given).

    Returns
    -------
    path : pathlib.Path or None
        The folder written (None without ``rejected_dir``).
    advice : list of str
        What to change (:func:`vlms_bayes.inference.rejected.gate_advice`).
    """
    tried_ta = [float(a.get("target_accept", config.target_accept)) for a in attempts] or [
        config.target_accept]
    advice = gate_advice(diag, gate=config.gate, draws=config.draws, tune=config.tune,
                         chains=config.chains, n_components=n_components,
                         tried_target_accept=tried_ta)
    if rejected_dir is None:
        return None, advice
    k = n_components
    summary = {
        "n_objects": data.n, "n_components": k,
        "planet_components": config.planet_components,
        "binary_shape": config.binary_shape,
        "populations": population_names(k, config.planet_components),
        "diagnostics": diag.to_dict(), "attempts": attempts, "config": config.to_dict(),
        "seed": seed, "population_parameters": posterior_table(tried[-1]["posterior"]),
        "timings_s": timings, "selection": selection_record(data, config.selection),
        "left_out": left_out.to_dict(orient="records"),
    }
    info = None if run_info is None else {**run_info, "gate": "failed", "rejected": True}
    path = write_rejected(rejected_dir, posteriors=tried, diag=diag, attempts=attempts,
                          summary=summary, advice=advice, gate=config.gate, rows=rows,
                          run_info=info)
    return path, advice


def _reject(tried: list[Any], diag: Diagnostics, attempts: list[dict[str, Any]],
            config: FitConfig, *, data: ModelData, rows: pd.DataFrame,
            left_out: pd.DataFrame, seed: int, timings: dict[str, float],
            rejected_dir: str | Path | None, run_info: dict[str, Any] | None) -> None:
    """Keep a fit that failed the gate in ``rejected_dir`` and raise GateRejectedError."""
    path, advice = _keep_rejected(
        tried, diag, attempts, config, n_components=config.n_components, data=data,
        rows=rows, left_out=left_out, seed=seed, timings=timings, rejected_dir=rejected_dir,
        run_info=run_info)
    tried_ta = [a.get("target_accept", config.target_accept) for a in attempts]
    retry = (f"after a retry at target_accept={tried_ta[-1]:g}" if len(attempts) > 1
             else f"at target_accept={config.target_accept:g} (not retried"
             + (": a population is empty)" if diag.empty_populations else ")"))
    where = "nothing was kept (no folder for rejected fits was given)"
    if path is not None:
        files = ("posterior.nc" if len(tried) == 1
                 else "posterior.nc, the first attempt in posterior_attempt1.nc")
        where = (f"its draws ({files}), every parameter's R-hat and ESS (diagnostics.csv) "
                 f"and the verdict (VERDICT.txt, fit_summary.json) are in {path}")
    raise GateRejectedError(
        f"The sampler diagnostics failed the gate {retry}: {'; '.join(diag.failures)}. "
        f"The posterior is not trustworthy, so the fit's outputs were not published; "
        f"{where}. To pass: {'; '.join(advice)}.",
        rejected_dir=path, failures=diag.failures)


def selection_record(data: ModelData, selection: SelectionModel | None) -> dict[str, Any]:
    """What fit_summary.json says about the selection model (parameters, methods, notes)."""
    if selection is None:
        return {"mode": "none"}
    return {"mode": "methods", "parameters": selection.to_dict(),
            **selection_terms(data, selection).to_dict()}


def _merge_into_objects_with_probs(path: Path, members: pd.DataFrame) -> None:
    if not path.is_file():
        return
    base = pd.read_csv(path)
    if "name" not in base.columns:
        return
    cols = ["name", "P_binary_like", "P_binary_like_lo90", "P_binary_like_hi90"]
    base = base.drop(columns=[c for c in cols[1:] if c in base.columns])
    write_csv(path, base.merge(members[cols], on="name", how="left"))


def fit_report(summary: dict[str, Any], members: pd.DataFrame, reference: pd.DataFrame,
               loo: pd.DataFrame | None) -> str:
    """Plain-text report of a fit, computed from its results."""
    d = summary["diagnostics"]
    lines = [
        f"Mixture fit: K={summary['n_components']} on {summary['n_objects']} objects "
        f"(selection: {summary.get('selection', {}).get('mode', 'none')}); "
        f"diagnostics {'PASSED' if d['passed'] else 'FAILED: ' + '; '.join(d['failures'])}",
        f"  max R-hat {d['max_rhat']:.3f}, min bulk/tail ESS {d['min_ess_bulk']:.0f}/"
        f"{d['min_ess_tail']:.0f}, divergences {d['divergences']}, min BFMI {d['min_bfmi']:.2f}",
    ]
    pp = summary["population_parameters"]
    for name in ("w", "f_det", "mu_logq", "mu_loga", "e_mean", "gamma_q"):
        if name in pp:
            txt = ", ".join(f"{p} {v['q50']:.3g} [{v['q05']:.3g}, {v['q95']:.3g}]"
                            for p, v in pp[name].items())
            lines.append(f"  {name}: {txt}")
    if summary.get("left_out"):
        lines.append(f"  left out ({LEFT_OUT_FILE}): " + "; ".join(
            f"{r['name']} ({r['reason']})" for r in summary["left_out"]))
    n_bin = int((members["P_binary_like"] > 0.5).sum())
    lines.append(f"  objects with P(binary-like) > 0.5: {n_bin} of {len(members)}")
    if "discoverymethod" in members.columns:  # per-method memberships
        g = members.groupby("discoverymethod")["P_binary_like"]
        lines.append("  mean P(binary-like) by method: " + ", ".join(
            f"{m} {v:.2f} (n={n})" for (m, v), n in zip(g.mean().items(), g.size(), strict=True)))
    for _, r in reference.iterrows():
        lines.append(f"  {r['name']}: P(binary-like) = {fmt_prob(r['P_binary_like'])} "
                     f"(90% interval {fmt_prob(r['P_binary_like_lo90'])} to "
                     f"{fmt_prob(r['P_binary_like_hi90'])})")
    ppc = summary.get("ppc")
    if ppc:
        lines.append("  posterior predictive checks: " + "; ".join(
            f"{m} {r['verdict']}" + (f" ({', '.join(r['failed_tests'])})"
                                     if r["failed_tests"] else "")
            for m, r in ppc["methods"].items()))
    for r in summary.get("loo_rejected", []):
        lines.append(f"  LOO K={r['n_components']}: left out, its fit failed the diagnostics "
                     f"gate ({'; '.join(r['failures'])})"
                     + (f"; draws in {r['kept_in']}" if r.get("kept_in") else ""))
    if loo is not None:
        for _, r in loo.iterrows():
            lines.append(f"  LOO {r['model']}: elpd {r['elpd_loo']:.1f} ± {r['se']:.1f}, "
                         f"Δ {r['elpd_diff']:.1f} ± {r['dse']:.1f}, "
                         f"Pareto k > 0.7: {r['n_pareto_k_gt_0.7']}")
    return "\n".join(lines)
