"""Value checks shared by the catalogue readers, with errors that point at file lines.

Every check raises :class:`~vlms_bayes.errors.InputDataError` naming the source, the
column, the offending lines (with each row's label, e.g. the planet name) and what to do.
A reader records the file line of its first data row in ``frame.attrs["first_data_line"]``
(2 for a plain CSV with one header line; more when comment lines precede the header).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from vlms_bayes.errors import InputDataError

_FIX = "Fix or remove those rows."


def describe_rows(frame: pd.DataFrame, mask: pd.Series, *, label: str, n: int = 5) -> str:
    """``line L (label), ...`` for the rows where ``mask`` is true (at most ``n`` listed)."""
    first = int(frame.attrs.get("first_data_line", 2))
    pos = np.flatnonzero(mask.to_numpy())
    names = frame[label].astype(str).to_numpy() if label in frame else None
    parts = [f"line {first + int(i)}" + (f" ({names[i]})" if names is not None else "")
             for i in pos[:n]]
    more = f" and {len(pos) - n} more" if len(pos) > n else ""
    return ", ".join(parts) + more


def coerce_numeric(
    frame: pd.DataFrame, columns: Iterable[str], *, source: str, label: str
) -> pd.DataFrame:
    """Convert ``columns`` to float in place; absent ones become NaN; text values are errors."""
    for col in columns:
        if col not in frame.columns:
            frame[col] = np.nan
            continue
        raw = frame[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            raise InputDataError(
                f"{source}: column {col} has non-numeric values at "
                f"{describe_rows(frame, bad, label=label)}. {_FIX}")
        frame[col] = num.astype(float)
    return frame


def require_positive(
    frame: pd.DataFrame, columns: Iterable[str], *, source: str, label: str
) -> None:
    """Masses and the like must be > 0 where given."""
    for col in columns:
        bad = frame[col] <= 0
        if bad.any():
            raise InputDataError(
                f"{source}: column {col} must be positive but is <= 0 at "
                f"{describe_rows(frame, bad, label=label)}. {_FIX}")


def require_eccentricity(
    frame: pd.DataFrame, column: str, *, source: str, label: str,
    rows: pd.Series | None = None,
) -> None:
    """Eccentricities must lie in [0, 1) where given (only in ``rows`` when given)."""
    e = frame[column]
    bad = (e < 0) | (e >= 1)
    if rows is not None:
        bad &= rows
    if bad.any():
        raise InputDataError(
            f"{source}: column {column} must lie in [0, 1) for a bound orbit but does not "
            f"at {describe_rows(frame, bad, label=label)}. {_FIX}")
