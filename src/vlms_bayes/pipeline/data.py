"""``vlms-bayes data``: load, validate and stack the catalogues; count the rows.

Every command writes into a staging folder that is published only when it succeeds
(:class:`~vlms_bayes.data_io.outputs.StagedOutputDir`), with a ``run.json`` recording the
configuration, seeds, input hashes and timings.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from vlms_bayes.data_io.bdcat import load_bdcat
from vlms_bayes.data_io.outputs import StagedOutputDir, run_record, write_csv, write_json
from vlms_bayes.data_io.pscomppars import load_pscomppars
from vlms_bayes.data_io.schema import complete_case
from vlms_bayes.data_io.stack import StackedDataset, stack_catalogues
from vlms_bayes.pipeline.result import CommandResult, StepTimer
from vlms_bayes.report.summary import format_counts

STACKED_FILE = "vlms_companions_stacked.csv"


@dataclass(frozen=True)
class DataConfig:
    """Where the catalogues come from and which hosts are selected.

    Attributes
    ----------
    ps : path, optional
        Local PSCompPars CSV; None queries the archive (cached).
    bd : path, optional
        Local Brown Dwarf catalogue CSV; None uses the pinned 2023-11-20 file.
    use_bd : bool
        Whether to use the Brown Dwarf catalogue at all.
    data_dir : path, optional
        Data folder searched before any download (else ``$VLMS_BAYES_DATA_DIR``).
    refresh : bool
        Re-query the archive.
    mstar_min, mstar_max : float
        Host-mass window in solar masses.
    reference : str
        Reference object scored everywhere (TOI-6894 b).
    toi_mstar, toi_mc_mj, toi_a_au : float, optional
        Overrides of the reference object's host mass, companion mass and a.
    """

    ps: str | None = None
    bd: str | None = None
    use_bd: bool = True
    data_dir: str | None = None
    refresh: bool = False
    mstar_min: float = 0.06
    mstar_max: float = 0.20
    reference: str = "TOI-6894 b"
    toi_mstar: float | None = None
    toi_mc_mj: float | None = None
    toi_a_au: float | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DataConfig:
        """Build from the parsed data options of the command line."""
        s = lambda p: None if p is None else str(p)  # noqa: E731
        return cls(
            ps=s(args.ps), bd=s(args.bd), use_bd=not args.no_bd, data_dir=s(args.data_dir),
            refresh=args.refresh, mstar_min=args.mstar_min, mstar_max=args.mstar_max,
            reference=args.reference, toi_mstar=args.toi_mstar, toi_mc_mj=args.toi_mc_mj,
            toi_a_au=args.toi_a_au,
        )


@dataclass
class LoadedData:
    """The stacked dataset with the provenance of its inputs."""

    stacked: StackedDataset
    inputs: dict[str, Any]

    @property
    def frame(self) -> pd.DataFrame:
        """The stacked rows."""
        return self.stacked.frame


def load_data(config: DataConfig) -> LoadedData:
    """Load, validate and stack the catalogues.

    Parameters
    ----------
    config : DataConfig
        Data settings.

    Returns
    -------
    LoadedData
        The stacked dataset and the provenance of every input (path, sha256, date).
    """
    ps = load_pscomppars(
        path=config.ps, mstar_min=config.mstar_min, mstar_max=config.mstar_max,
        reference=config.reference, data_dir_=config.data_dir, refresh=config.refresh,
    )
    bd = load_bdcat(path=config.bd, data_dir_=config.data_dir) if config.use_bd else None
    overrides = {"st_mass": config.toi_mstar, "pl_bmassj": config.toi_mc_mj,
                 "pl_orbsmax": config.toi_a_au}
    stacked = stack_catalogues(
        ps.frame, bd.frame if bd is not None else None,
        window=(config.mstar_min, config.mstar_max), reference=config.reference,
        reference_overrides=overrides if any(v is not None for v in overrides.values()) else None,
    )
    inputs = {"pscomppars": ps.provenance()}
    if bd is not None:
        inputs["bd_catalogue"] = bd.provenance()
    return LoadedData(stacked, inputs)


def load_dataset(config: DataConfig) -> pd.DataFrame:
    """The stacked dataset as a DataFrame (see :mod:`vlms_bayes.data_io.schema`)."""
    return load_data(config).frame


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
