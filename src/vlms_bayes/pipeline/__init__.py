"""The Python API behind the commands, one module per command.

``data`` (``vlms-bayes data``), ``baseline``, ``bayes`` (``fit``, ``classify``,
``compare``), ``feasibility``, ``stability``, ``gaia_rv``, ``run`` (``vlms-bayes run``:
every step in one folder, built on ``steps``), and ``robustness/``. Every command returns
one :class:`CommandResult`. The names a notebook needs are re-exported here::

    from vlms_bayes import pipeline
    cfg = pipeline.DataConfig(ps="pscomppars.csv", data_dir="data/")
    stacked = pipeline.load_dataset(cfg)
    result = pipeline.run_all(cfg, pipeline.BaselineConfig(), outdir="results", seed=1)
"""

from vlms_bayes.pipeline.baseline import (
    GMM_ROWS,
    BaselineConfig,
    compute_baselines,
    run_baseline,
    write_baselines,
)
from vlms_bayes.pipeline.data import (
    STACKED_FILE,
    DataConfig,
    LoadedData,
    count_table,
    load_data,
    load_dataset,
    run_data,
)
from vlms_bayes.pipeline.result import CommandResult, StepTimer
from vlms_bayes.pipeline.run import FeasibilityOptions, reference_target, run_all
from vlms_bayes.report.summary import format_counts

__all__ = [
    "GMM_ROWS",
    "STACKED_FILE",
    "BaselineConfig",
    "CommandResult",
    "DataConfig",
    "FeasibilityOptions",
    "LoadedData",
    "StepTimer",
    "compute_baselines",
    "count_table",
    "format_counts",
    "load_data",
    "load_dataset",
    "reference_target",
    "run_all",
    "run_baseline",
    "run_data",
    "write_baselines",
]
