"""Helpers shared by the baselines: seeds, column checks, the q split."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from vlms_bayes.data_io.schema import STACKED_FIX, require_columns
from vlms_bayes.errors import InputDataError

#: Fewer objects than this in a subset: parameters are not estimated (NaN plus a reason).
MIN_SUBSET_N: int = 3


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Limit BLAS and OpenMP to one thread for the tiny fits of the baselines.

    On a busy machine, multithreaded BLAS on 2×2 matrices is 10–20× slower than one thread
    (thread wake-up dominates); the baselines fit a few hundred objects at most.
    """
    with threadpool_limits(limits=1):
        yield


def as_int_seed(seed: int | np.random.Generator) -> int:
    """Turn an int or a Generator into an int seed for libraries that want one."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int or a numpy.random.Generator, not {seed!r}")
    return int(seed)


def check_fixed_e(fixed_e: str) -> str:
    """Validate the ``fixed_e`` option."""
    if fixed_e not in ("exclude", "measured"):
        raise InputDataError(
            f"fixed_e must be 'exclude' or 'measured', not {fixed_e!r}.")
    return fixed_e


def eccentricity_rows(
    frame: pd.DataFrame, *, fixed_e: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows usable for an eccentricity-distribution fit, and the fixed zeros left out.

    Rows need a finite q and e with ``ecc_status`` "measured" or (when ``fixed_e`` is
    "measured") "fixed_zero"; upper limits and missing values never enter.

    Parameters
    ----------
    frame : pandas.DataFrame
        Stacked dataset or its complete-case view.
    fixed_e : {"exclude", "measured"}
        Treatment of eccentricities fixed at 0 without an uncertainty.

    Returns
    -------
    rows : pandas.DataFrame
        The selected rows.
    excluded_fixed : pandas.DataFrame
        Fixed-zero rows left out (empty when ``fixed_e == "measured"``).
    """
    check_fixed_e(fixed_e)
    require_columns(frame, ("q", "pl_orbeccen", "ecc_status"),
                    what="The data of the eccentricity fits", fix=STACKED_FIX)
    e = pd.to_numeric(frame["pl_orbeccen"], errors="coerce")
    q = pd.to_numeric(frame["q"], errors="coerce")
    ok = np.isfinite(e) & np.isfinite(q)
    bad = ok & ((e < 0) | (e >= 1))
    if bad.any():
        names = frame.loc[bad, "name"].tolist() if "name" in frame else list(frame.index[bad])
        raise InputDataError(
            f"eccentricities must lie in [0, 1); {int(bad.sum())} row(s) do not: "
            f"{', '.join(map(str, names[:5]))}. Fix or drop them in the input catalogue.")
    status = frame["ecc_status"].astype(str)
    fixed = ok & (status == "fixed_zero")
    allowed = ["measured", "fixed_zero"] if fixed_e == "measured" else ["measured"]
    keep = ok & status.isin(allowed)
    excluded = fixed & ~keep
    return frame.loc[keep], frame.loc[excluded]


def split_by_q(rows: pd.DataFrame, *, q_split: float) -> dict[str, pd.DataFrame]:
    """Split rows at ``q_split``: ``low_q`` has q < q_split, ``high_q`` has q >= q_split."""
    if not np.isfinite(q_split) or q_split <= 0:
        raise InputDataError(f"q_split must be a positive number, not {q_split!r}.")
    q = pd.to_numeric(rows["q"], errors="coerce")
    return {"low_q": rows.loc[q < q_split], "high_q": rows.loc[q >= q_split]}
