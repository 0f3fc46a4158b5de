"""Known stellar companions of the sample's hosts: PSCompPars multiplicity and user tables.

* :func:`read_host_multiplicity` reads ``sy_snum`` (number of stars in the system), the
  planet radius ``pl_radj`` and the coordinates from a PSCompPars CSV (the shipped
  snapshot has the archive's default column set, which includes them; a file from the
  package's own archive query may not, and then every host's multiplicity is "unknown").
  PSCompPars gives no orbit or mass for the stellar companions.
* :func:`read_companions_csv` reads perturbers a user describes (one row per host:
  ``hostname, m_out_msun, m_out_err_msun, sep_au, sep_err_au, sep_kind, source``;
  ``sep_kind`` is ``projected`` or ``true``), e.g. from a wide-binary catalogue or a paper.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from vlms_bayes.errors import InputDataError

COMPANION_COLUMNS: tuple[str, ...] = ("hostname", "m_out_msun", "m_out_err_msun", "sep_au",
                                      "sep_err_au", "sep_kind", "source")
SEP_KINDS: tuple[str, ...] = ("projected", "true")


def read_host_multiplicity(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Per planet of a PSCompPars CSV: host, ``sy_snum``, ``pl_radj``, ``ra``, ``dec``.

    Parameters
    ----------
    path : path-like
        PSCompPars CSV (``#`` comment lines allowed).

    Returns
    -------
    pandas.DataFrame
        Columns ``pl_name``, ``hostname``, ``sy_snum``, ``pl_radj``, ``ra``, ``dec``,
        ``sy_dist`` (NaN where the file lacks the column).

    Raises
    ------
    InputDataError
        If the file cannot be read or has no ``pl_name``/``hostname`` columns.
    """
    try:
        frame = pd.read_csv(path, comment="#", low_memory=False)
    except (OSError, ValueError) as exc:
        raise InputDataError(f"Cannot read the PSCompPars file {path}: {exc}") from exc
    missing = [c for c in ("pl_name", "hostname") if c not in frame.columns]
    if missing:
        raise InputDataError(f"{path} lacks column(s) {', '.join(missing)}; a PSCompPars CSV "
                             "with the archive's column names is needed.")
    out = frame[["pl_name", "hostname"]].astype(str).copy()
    for c in ("sy_snum", "pl_radj", "ra", "dec", "sy_dist"):
        out[c] = pd.to_numeric(frame[c], errors="coerce") if c in frame.columns else np.nan
    return out


def read_companions_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """User-described perturbers, one row per host (see the module docstring).

    Raises
    ------
    InputDataError
        Naming the file, row and column of the first bad value.
    """
    p = Path(path)
    try:
        frame = pd.read_csv(p, comment="#")
    except (OSError, ValueError) as exc:
        raise InputDataError(f"Cannot read the companions file {p}: {exc}") from exc
    missing = [c for c in COMPANION_COLUMNS if c not in frame.columns]
    if missing:
        raise InputDataError(f"{p} lacks column(s) {', '.join(missing)}; it needs "
                             f"{', '.join(COMPANION_COLUMNS)} (masses in Msun, separations "
                             "in AU, sep_kind 'projected' or 'true').")
    frame = frame[list(COMPANION_COLUMNS)].copy()
    for i, row in frame.iterrows():
        line = int(i) + 2  # header is line 1
        for c in ("m_out_msun", "sep_au"):
            v = pd.to_numeric(row[c], errors="coerce")
            if not (np.isfinite(v) and v > 0):
                raise InputDataError(f"{p}, line {line}: {c} = {row[c]!r} must be a positive "
                                     "number.")
        for c in ("m_out_err_msun", "sep_err_au"):
            v = pd.to_numeric(row[c], errors="coerce")
            if not (np.isfinite(v) and v >= 0):
                raise InputDataError(f"{p}, line {line}: {c} = {row[c]!r} must be a number "
                                     ">= 0 (0: exact).")
        if str(row["sep_kind"]).strip().lower() not in SEP_KINDS:
            raise InputDataError(f"{p}, line {line}: sep_kind = {row['sep_kind']!r} must be "
                                 "'projected' or 'true'.")
    for c in ("m_out_msun", "m_out_err_msun", "sep_au", "sep_err_au"):
        frame[c] = frame[c].astype(float)
    frame["sep_kind"] = frame["sep_kind"].astype(str).str.strip().str.lower()
    frame["hostname"] = frame["hostname"].astype(str)
    if frame["hostname"].duplicated().any():
        dup = frame.loc[frame["hostname"].duplicated(), "hostname"].iloc[0]
        raise InputDataError(f"{p}: host {dup!r} appears twice; give one perturber per host "
                             "(the innermost stellar companion).")
    return frame
