"""The Bayesian commands as Python functions: ``fit``, ``classify``, ``compare``.

The command line (:mod:`vlms_bayes.cli`) parses options and calls these; a notebook can
call them too. Each command with an output folder writes into a staging folder
(:class:`vlms_bayes.data_io.outputs.StagedOutputDir`) with a ``run.json``.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vlms_bayes.data_io.outputs import StagedOutputDir, run_record, write_json
from vlms_bayes.inference.classify import classify_data, load_posterior, observation_from_values
from vlms_bayes.inference.fit import FitConfig, run_fit
from vlms_bayes.inference.rejected import REJECTED_DIR
from vlms_bayes.models.data import MeasurementConfig
from vlms_bayes.pipeline.data import DataConfig, load_data
from vlms_bayes.pipeline.result import CommandResult
from vlms_bayes.report.comparison import build_comparison, write_comparison
from vlms_bayes.seeds import derive_seed

#: TOI-6894 b (Bryant et al. 2025; NASA Exoplanet Archive): the object ``classify`` scores
#: by default, with its published 1-sigma uncertainties.
TOI_6894B: dict[str, float] = {
    "m_star_msun": 0.207, "m_star_err": 0.011, "mass_mj": 0.168, "mass_err": 0.022,
    "a_au": 0.02604, "a_err": 0.00045, "e": 0.029, "e_err": 0.030,
}


def fit_command(data_config: DataConfig, fit_config: FitConfig, *,
                outdir: str | os.PathLike[str], seed: int = 42) -> CommandResult:
    """``vlms-bayes fit``: load the catalogues, fit the mixture, write the outputs.

    A fit that fails the diagnostics gate publishes nothing in ``outdir`` but its own
    ``outdir/rejected/`` folder (draws, per-parameter diagnostics, verdict) and raises
    :class:`~vlms_bayes.errors.GateRejectedError`. ``seed`` is the master seed; the chains
    use its ``sampler`` stream (:func:`vlms_bayes.seeds.derive_seed`), as in
    ``vlms-bayes run``.
    """
    sampler_seed = derive_seed(seed, "sampler")
    t0 = time.perf_counter()
    data = load_data(data_config)
    t_data = time.perf_counter() - t0
    record = {"command": "fit",
              "config": {"data": asdict(data_config), "fit": fit_config.to_dict()},
              "seeds": {"master": seed, "sampler": sampler_seed}, "inputs": data.inputs}
    with StagedOutputDir(outdir) as staging:
        res = run_fit(data.frame, fit_config, outdir_path=staging, seed=sampler_seed,
                      rejected_dir=Path(outdir) / REJECTED_DIR,
                      run_info=run_record(**record, timings_s={"data": t_data}))
        write_json(staging / "run.json", run_record(
            **record, timings_s={"data": t_data, **res.timings_s}))
    return CommandResult(Path(outdir), res.report, result=res)


def classify_command(posterior_dir: str | os.PathLike[str], *, name: str = "new object",
                     interval: float = 0.9, **values: Any) -> CommandResult:
    """``vlms-bayes classify``: P(binary-like) of one object under a fitted posterior.

    Parameters
    ----------
    posterior_dir : path-like
        Output folder of ``vlms-bayes fit``.
    name : str
        Label of the object in the report.
    interval : float
        Central probability of the reported interval.
    **values
        Keyword arguments of :func:`vlms_bayes.inference.classify.observation_from_values`
        (``m_star_msun``, ``mass_mj``, ``a_au``, errors, ``e``, ``e_err``, ``msini`` ...).
    """
    dt, summary = load_posterior(posterior_dir)
    meas = MeasurementConfig(**summary["config"]["measurement"])
    obs = observation_from_values(name=name, measurement=meas, **values)
    m = classify_data(dt["posterior"], obs, interval=interval)
    pct = round(100 * interval)
    report = (f"{name}: P(binary-like) = {m.p_mean[0]:.3f} ({pct}% interval "
              f"{m.p_lo[0]:.3f}-{m.p_hi[0]:.3f}); log q = {obs.y_logq[0]:.3f} ± "
              f"{obs.s_logq[0]:.3f}{' (minimum mass)' if obs.msini[0] else ''}, "
              f"log a = {obs.y_loga[0]:.3f} ± {obs.s_loga[0]:.3f}; "
              f"K = {dt.attrs.get('n_components')} populations, "
              f"{dt['posterior'].sizes['chain'] * dt['posterior'].sizes['draw']} draws")
    return CommandResult(None, report, result=m)


def compare_command(posterior_dir: str | os.PathLike[str],
                    baseline_dir: str | os.PathLike[str], *,
                    outdir: str | os.PathLike[str], q_split: float = 0.01,
                    figures: bool = True,
                    other_posterior_dir: str | os.PathLike[str] | None = None) -> CommandResult:
    """``vlms-bayes compare``: Bayesian results against the frequentist baselines.

    ``other_posterior_dir``: a fit of the same data with the other ``--selection``
    setting; the naive and selection-aware answers are then reported side by side.
    """
    t0 = time.perf_counter()
    cmp = build_comparison(posterior_dir, baseline_dir, q_split=q_split,
                           other_posterior_dir=other_posterior_dir)
    with StagedOutputDir(outdir) as staging:
        write_comparison(staging, cmp, figures=figures, posterior_dir=Path(posterior_dir))
        write_json(staging / "run.json", run_record(
            command="compare",
            config={"posterior": str(posterior_dir), "baselines": str(baseline_dir),
                    "q_split": q_split,
                    "other_posterior": None if other_posterior_dir is None
                    else str(other_posterior_dir)},
            timings_s={"compare": time.perf_counter() - t0}))
    return CommandResult(Path(outdir), cmp["markdown"], result=cmp)
