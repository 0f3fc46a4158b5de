"""``vlms-bayes data``: load, validate and stack the catalogues; count the rows.

:class:`DataConfig`, :func:`load_data` and :func:`load_dataset` live in
:mod:`vlms_bayes.data_io.load` and are re-exported here.

Every command writes into a staging folder that is published only when it succeeds
(:class:`~vlms_bayes.data_io.outputs.StagedOutputDir`), with a ``run.json`` recording the
configuration, seeds, input hashes and timings.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from vlms_bayes.data_io.load import DataConfig, LoadedData, load_data, load_dataset
from vlms_bayes.data_io.outputs import StagedOutputDir, run_record, write_csv, write_json
from vlms_bayes.data_io.schema import complete_case
from vlms_bayes.pipeline.result import CommandResult, StepTimer
from vlms_bayes.report.summary import format_counts

__all__ = ["STACKED_FILE", "DataConfig", "LoadedData", "count_table", "load_data",
           "load_dataset", "run_data", "write_stacked"]

STACKED_FILE = "vlms_companions_stacked.csv"


def count_table(frame: pd.DataFrame) -> dict[str, Any]:
    """Counts of the stacked rows by source, method and flag (for reports and tests)."""
    win = frame.loc[frame["in_window"]]
    cc = complete_case(frame)

    def vc(s: pd.Series) -> dict[str, int]:
        return {str(k): int(v) for k, v in s.value_counts().sort_index().items()}

    return {
        "rows": len(frame),
        "in_window": len(win),
        "reference_in_window": bool(frame.loc[frame["is_reference"], "in_window"].any()),
        "by_source": vc(win["source"]),
        "by_method": vc(win["discoverymethod"]),
        "by_mass_kind": vc(win["mass_kind"]),
        "by_ecc_status": vc(win["ecc_status"]),
        "a_from_period": int(win["a_from_period"].sum()),
        "mass_upper_limits": int(win["mass_is_limit"].sum()),
        "complete_case": len(cc),
        "complete_case_by_method": vc(cc["discoverymethod"]),
    }


def write_stacked(staging: Path, data: LoadedData) -> None:
    """Write the stacked rows (:data:`STACKED_FILE`) into a (staged) folder."""
    write_csv(staging / STACKED_FILE, data.frame, float_format="%.10g")


def run_data(config: DataConfig, *, outdir: str | os.PathLike[str]) -> CommandResult:
    """``vlms-bayes data``: stack the catalogues, write the stacked CSV, report counts."""
    timer = StepTimer()
    with timer.step("data"):
        data = load_data(config)
    counts = count_table(data.frame)
    report = format_counts(counts, window=data.stacked.window)
    with StagedOutputDir(outdir) as staging:
        write_stacked(staging, data)
        if len(data.stacked.duplicates):
            write_csv(staging / "duplicates_dropped.csv", data.stacked.duplicates)
        write_json(staging / "run.json", run_record(
            command="data", config={"data": asdict(config)}, inputs=data.inputs,
            timings_s=timer.timings_s, extra={"counts": counts, "notes": data.stacked.notes}))
    return CommandResult(Path(outdir), report, {"counts": counts})
