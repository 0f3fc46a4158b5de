"""Score a whole Gaia RV catalogue: noise-model lookup, p-values, K percentiles, on Dask.

:func:`score_frame` turns one partition (a pandas frame with DR3 column names) into the
output catalogue rows. Every output value depends on its own row only (the p-value draws
and the prior samples are fixed; unit observation times are keyed by N), so the result does
not depend on how the catalogue is partitioned or on the number of workers.
:func:`score_catalogue` runs it over partitioned inputs with Dask DataFrames, writing a
partitioned Parquet dataset in bounded memory (one partition in memory per worker thread).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vlms_bayes.data_io.gaia import (
    BASELINE_COLUMN,
    DR2_BASELINE_DAYS,
    DR3_BASELINE_DAYS,
    PASSTHROUGH_COLUMNS,
    REQUIRED_COLUMNS,
    _read_one,
    resolve_inputs,
)
from vlms_bayes.data_io.outputs import atomic_write
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.rv import pvalues as rp
from vlms_bayes.inference.rv import semiamplitude as rs
from vlms_bayes.models.rv_noise.model import NoiseModel

#: Columns computed by the scoring, in output order.
SCORE_COLUMNS: tuple[str, ...] = (
    "rv_ln_uncert", "rv_ln_uncert_err", "rv_pval", "rv_pval_err", "rv_pval_method",
    "rv_out_of_grid", "rv_time_duration_fallback", *rs.COLUMNS, "rv_semiamp_ess",
)
_KEEP_INPUT = ("source_id", "ra", "dec", "parallax", "bp_rp", "phot_g_mean_mag",
               "radial_velocity_error", "rv_nb_transits", BASELINE_COLUMN,
               *[c for c in PASSTHROUGH_COLUMNS if c not in ("ra", "dec", "parallax")])


@dataclass(frozen=True)
class ScoreConfig:
    """Settings of the scoring.

    Attributes
    ----------
    pvalue : {"marginalised", "plugin"}
        ``rv_pval`` definition (marginalised over the noise-model uncertainty by default).
    infer_k : bool
        Infer K percentiles for candidates (p < ``candidate_pval``).
    candidate_pval : float
        Candidate threshold.
    n_samples, seed : int
        Prior importance samples and their seed.
    batch_size : int
        Targets per JAX batch.
    kepler_dtype : {"float64", "float32"}
        Precision of the Kepler stage.
    dt_round_days : float, optional
        Share λ1 between targets whose Δt rounds to the same value (approximation).
    one_minus_cdf : bool
        Reference-code p-value numerics.
    gp_method : {"auto", "grid", "exact"}
        Noise-model lookup: a verified bilinear table of the GP (within 1e-3 of the exact
        GP; fast for big catalogues, costly to build for sharp GPs) or the exact GP for
        every source. ``auto`` picks the table when the inputs hold more than
        :data:`GRID_MIN_ROWS` rows (counted from Parquet metadata; never for FITS/CSV), a
        property of the catalogue, not of its partitioning.
    k_jacobian : bool
        K weights include the σ⁻² Jacobian of the data density (default); ``False``
        reproduces the reference pipeline's weights (K biased low for large s_lnσ).
    """

    pvalue: str = "marginalised"
    infer_k: bool = True
    candidate_pval: float = rp.CANDIDATE_PVAL
    n_samples: int = 5000
    seed: int = 0
    batch_size: int = 1024
    kepler_dtype: str = "float64"
    dt_round_days: float | None = None
    one_minus_cdf: bool = False
    gp_method: str = "auto"
    k_jacobian: bool = True


#: Catalogue size above which ``gp_method="auto"`` uses the tabulated GP.
GRID_MIN_ROWS = 1_000_000


def _count_parquet_rows(files: Sequence[Path]) -> int | None:
    if not all(f.suffix == ".parquet" or f.name.endswith(".pq") for f in files):
        return None
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def resolve_gp_method(config: ScoreConfig, inputs) -> ScoreConfig:
    """Replace ``gp_method="auto"`` by ``grid`` or ``exact`` for these inputs."""
    if config.gp_method != "auto":
        return config
    rows = _count_parquet_rows(resolve_inputs(inputs))
    return replace(config, gp_method="grid" if rows and rows > GRID_MIN_ROWS else "exact")


def score_frame(frame: pd.DataFrame, noise_model: NoiseModel, *,
                config: ScoreConfig = ScoreConfig(), progress: bool = False) -> pd.DataFrame:
    """Score one partition.

    Parameters
    ----------
    frame : pandas.DataFrame
        Gaia rows with DR3 names (see :func:`vlms_bayes.data_io.gaia.read_gaia_table`).
    noise_model : NoiseModel
        Fitted noise model; its ``rv_floor_kms`` is used for the ε conversion.
    config : ScoreConfig
        Scoring settings.
    progress : bool
        Progress bar over K-inference chunks.

    Returns
    -------
    pandas.DataFrame
        Input columns of the catalogue plus :data:`SCORE_COLUMNS`, same row order.
    """
    if config.pvalue not in ("marginalised", "plugin"):
        raise InputDataError(f"p-value mode must be 'marginalised' or 'plugin', got "
                             f"{config.pvalue!r}.")
    floor = noise_model.config.rv_floor_kms
    out = frame[[c for c in _KEEP_INPUT if c in frame.columns]].copy()
    nrow = len(frame)
    method = "exact" if config.gp_method == "auto" else config.gp_method
    split = {}
    if getattr(noise_model, "split_methods", None):  # calibrated per rv_method_used
        if "rv_method_used" not in frame:
            raise InputDataError("The noise model is calibrated per rv_method_used but the "
                                 "catalogue has no rv_method_used column.")
        split["rv_method_used"] = frame["rv_method_used"].to_numpy(np.float64)
    mu, sd, oog = noise_model.predict(frame["bp_rp"].to_numpy(np.float64),
                                      frame["phot_g_mean_mag"].to_numpy(np.float64),
                                      method=method, **split)
    eps = frame["radial_velocity_error"].to_numpy(np.float64)
    n = frame["rv_nb_transits"].to_numpy(np.float64)
    if config.pvalue == "plugin":
        p = rp.pvalue_plugin(eps, n, mu, rv_floor_kms=floor, one_minus_cdf=config.one_minus_cdf)
        perr = np.full(nrow, np.nan)
    else:
        p, perr = rp.pvalue_marginalised(eps, n, mu, sd, rv_floor_kms=floor,
                                         one_minus_cdf=config.one_minus_cdf)
    out["rv_ln_uncert"], out["rv_ln_uncert_err"] = mu, sd
    out["rv_pval"], out["rv_pval_err"] = p, perr
    out["rv_pval_method"] = pd.Series([config.pvalue] * nrow, index=out.index, dtype="str")
    out["rv_out_of_grid"] = oog
    dr2 = frame["gaia_dr2"].to_numpy(bool) if "gaia_dr2" in frame else np.zeros(nrow, bool)
    dt = (frame[BASELINE_COLUMN].to_numpy(np.float64) if BASELINE_COLUMN in frame
          else np.full(nrow, np.nan))
    fallback = ~np.isfinite(dt)
    dt = np.where(fallback, np.where(dr2, DR2_BASELINE_DAYS, DR3_BASELINE_DAYS), dt)
    out[BASELINE_COLUMN] = dt  # the baseline used; fallbacks are flagged
    out["rv_time_duration_fallback"] = fallback
    kcols = {c: np.full(nrow, np.nan) for c in (*rs.COLUMNS, "rv_semiamp_ess")}
    with np.errstate(invalid="ignore"):
        cand = np.flatnonzero(p < config.candidate_pval)
    if config.infer_k and cand.size:
        res = rs.infer_semiamplitudes(eps[cand], n[cand], dt[cand], mu[cand], sd[cand],
                                      n_samples=config.n_samples, seed=config.seed,
                                      rv_floor_kms=floor, batch_size=config.batch_size,
                                      kepler_dtype=config.kepler_dtype,
                                      dt_round_days=config.dt_round_days, progress=progress,
                                      jacobian=config.k_jacobian)
        for c, v in res.items():
            kcols[c][cand] = v
    for c, v in kcols.items():
        out[c] = v
    return out


@contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int | None = None,
                processes: bool = False):
    """Yield a Dask scheduler: a local cluster (default), an address, or a local mode.

    Parameters
    ----------
    scheduler : str, optional
        ``None`` for a new local ``distributed`` cluster; ``"synchronous"``, ``"threads"``
        or ``"processes"`` for Dask's local schedulers; anything else is the address of
        an existing cluster (``tcp://host:8786``).
    n_workers : int, optional
        Workers of the local cluster (default: the CPU count).
    processes : bool
        Process workers instead of threads for the local cluster.

    Yields
    ------
    str or distributed.Client
        What to pass as ``scheduler=`` to ``dask.compute``.
    """
    if scheduler in ("synchronous", "threads", "processes"):
        yield scheduler
        return
    # Dask (a heavy stack) loads only when a catalogue is scored
    from distributed import Client, LocalCluster  # heavy: Dask

    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers or os.cpu_count() or 1,
                               threads_per_worker=1, processes=processes,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        with cluster, Client(cluster) as client:
            yield client
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise InputDataError(f"Could not connect to the Dask scheduler at {scheduler!r}: "
                                 f"{exc}. Start one (`dask scheduler`) or omit --scheduler to "
                                 "use a local cluster.") from exc
        with client:
            yield client


def gaia_dataframe(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                   columns: Sequence[str] | None = None):
    """A Dask DataFrame over Gaia files (one partition per file, DR3 names)."""
    # Dask (a heavy stack) loads only when a catalogue is scored
    import dask.dataframe as dd  # heavy: Dask

    files = resolve_inputs(inputs)
    meta = _read_one(files[0], columns).iloc[:0]
    if columns is not None:  # only the requested columns that the table has
        columns = list(meta.columns)
    return dd.from_map(_read_one, files, columns=columns, meta=meta)


def score_catalogue(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                    parquet_dir: str | os.PathLike[str], *, noise_model: NoiseModel,
                    config: ScoreConfig = ScoreConfig(), scheduler: Any = "threads",
                    progress: bool = False) -> dict[str, Any]:
    """Score partitioned inputs into a partitioned Parquet dataset with Dask.

    Parameters
    ----------
    inputs : path-like or sequence
        Gaia files, directories or globs (one Dask partition per file).
    parquet_dir : path-like
        Output dataset folder (``part.*.parquet``).
    noise_model : NoiseModel
        The fitted noise model.
    config : ScoreConfig
        Scoring settings.
    scheduler : str or distributed.Client
        From :func:`dask_client`.
    progress : bool
        Progress bar over partitions.

    Returns
    -------
    dict
        Summary counts (sources, scored, detections, candidates, K inferred, out of grid).
    """
    # Dask (a heavy stack) loads only when a catalogue is scored
    import dask  # heavy: Dask

    ddf = gaia_dataframe(inputs)
    config = resolve_gp_method(config, inputs)
    if config.gp_method == "grid":
        noise_model._grid_interpolators()  # build the table once; partitions share it
    meta = score_frame(ddf._meta, noise_model, config=config)
    scored = ddf.map_partitions(score_frame, noise_model, config=config, meta=meta)
    write = scored.to_parquet(Path(parquet_dir), write_index=False, compute=False)
    if progress and not isinstance(scheduler, str):
        from distributed import progress as dprogress  # heavy: Dask

        fut = scheduler.compute(write)
        dprogress(fut)
        fut.result()
    elif progress:
        from dask.diagnostics import ProgressBar  # heavy: Dask

        with ProgressBar():
            dask.compute(write, scheduler=scheduler)
    else:
        dask.compute(write, scheduler=scheduler)
    return catalogue_summary(parquet_dir, candidate_pval=config.candidate_pval)


def dataset_files(parquet_dir: str | os.PathLike[str]) -> list[Path]:
    """Parquet files of a dataset folder in partition order (``part.2`` before ``part.10``)."""
    def key(p: Path) -> tuple:
        return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name))

    return sorted(Path(parquet_dir).glob("*.parquet"), key=key)


def catalogue_summary(parquet_dir: str | os.PathLike[str], *,
                      candidate_pval: float = rp.CANDIDATE_PVAL) -> dict[str, int]:
    """Counts over a scored dataset, streamed batch by batch (bounded memory)."""
    keys = ("n_sources", "n_scored", "n_detected_p_lt_0.001", "n_candidates_p_lt_0.01",
            "n_k_inferred", "n_out_of_grid")
    tot = dict.fromkeys(keys, 0)
    for f in dataset_files(parquet_dir):
        for batch in pq.ParquetFile(f).iter_batches(
                columns=["rv_pval", "rv_semiamp_p50", "rv_out_of_grid"]):
            p = batch.column("rv_pval").to_numpy(zero_copy_only=False)
            k = batch.column("rv_semiamp_p50").to_numpy(zero_copy_only=False)
            oog = batch.column("rv_out_of_grid").to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                vals = (p.size, np.isfinite(p).sum(), (p < rp.DETECTION_PVAL).sum(),
                        (p < candidate_pval).sum(), np.isfinite(k).sum(), oog.sum())
            for name, v in zip(keys, vals, strict=True):
                tot[name] += int(v)
    return tot


def parquet_to_csv(parquet_dir: str | os.PathLike[str], csv_path: str | os.PathLike[str]
                   ) -> Path:
    """Stream a scored Parquet dataset into one CSV file (batch by batch, atomically)."""
    with atomic_write(csv_path) as fh:
        header = True
        for f in dataset_files(parquet_dir):
            for batch in pq.ParquetFile(f).iter_batches():
                batch.to_pandas().to_csv(fh, index=False, header=header)
                header = False
    return Path(csv_path)


def read_columns(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 columns: Sequence[str] = REQUIRED_COLUMNS, *, scheduler: Any = "threads"
                 ) -> pd.DataFrame:
    """Read only ``columns`` of all partitions (in file order) into one pandas frame."""
    # Dask (a heavy stack) loads only when a catalogue is scored
    import dask  # heavy: Dask

    ddf = gaia_dataframe(inputs, columns=list(columns))
    (frame,) = dask.compute(ddf, scheduler=scheduler)
    return frame.reset_index(drop=True)
