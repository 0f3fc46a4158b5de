"""``vlms-bayes baseline``: the frequentist baselines of the original analysis.

:class:`BaselineConfig`, :data:`GMM_ROWS` and :func:`compute_baselines` live in
:mod:`vlms_bayes.inference.baselines.compute` and are re-exported here.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vlms_bayes.data_io.outputs import (
    StagedOutputDir,
    run_record,
    write_csv,
    write_json,
    write_text,
)
from vlms_bayes.inference.baselines.compute import GMM_ROWS, BaselineConfig, compute_baselines
from vlms_bayes.pipeline.data import DataConfig, load_data, write_stacked
from vlms_bayes.pipeline.result import CommandResult, StepTimer
from vlms_bayes.report.summary import baseline_report
from vlms_bayes.seeds import derive_seed

__all__ = ["GMM_ROWS", "BaselineConfig", "compute_baselines", "run_baseline",
           "write_baselines"]


def write_baselines(staging: Path, results: dict[str, Any]) -> None:
    """Write the baseline output files into a (staged) folder."""
    write_json(staging / "gmm_summary.json", results["gmm_summary"])
    write_csv(staging / "beta_e_params.csv", results["beta"], float_format="%.6g")

    write_text(staging / "ks_test_e.txt", results["ks"].to_text())
    lg = results["logistic"]
    write_json(staging / "logistic_summary.json", lg.summary())
    write_text(staging / "logistic_auroc.txt", lg.auroc_text() + "\n")
    write_csv(staging / "logistic_coefficients.csv", lg.coefficients, float_format="%.6g")
    write_csv(staging / "objects_with_probs.csv", results["objects"], float_format="%.6g")


def run_baseline(
    data_config: DataConfig, config: BaselineConfig, *, outdir: str | os.PathLike[str],
    seed: int = 42,
) -> CommandResult:
    """``vlms-bayes baseline``: the frequentist baselines of the original analysis.

    ``seed`` is the master seed; the baselines use its ``baselines`` stream
    (:func:`vlms_bayes.seeds.derive_seed`), as in ``vlms-bayes run``.
    """
    baseline_seed = derive_seed(seed, "baselines")
    timer = StepTimer()
    with timer.step("data"):
        data = load_data(data_config)
    with timer.step("baselines"):
        results = compute_baselines(data.frame, config, seed=baseline_seed)
        report = baseline_report(results)  # before anything is published
    with StagedOutputDir(outdir) as staging:
        write_stacked(staging, data)
        write_baselines(staging, results)
        write_json(staging / "run.json", run_record(
            command="baseline", config={"data": asdict(data_config), "baseline": asdict(config)},
            seeds={"master": seed, "baseline": baseline_seed}, inputs=data.inputs,
            timings_s=timer.timings_s))
    return CommandResult(Path(outdir), report, {})
