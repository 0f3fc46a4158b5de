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

from vlms_bayes.pipeline.data import (
    GMM_ROWS,
    STACKED_FILE,
    BaselineConfig,
    CommandResult,
    DataConfig,
    FeasibilityOptions,
    LoadedData,
    StepTimer,
    compute_baselines,
    count_table,
    format_counts,
    load_data,
    load_dataset,
    reference_target,
    run_all,
    run_baseline,
    run_data,
    write_baselines,
)

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
