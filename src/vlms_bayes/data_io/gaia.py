"""Gaia radial-velocity tables: read files or partitions, map DR2 names, build ADQL.

The Gaia RV binarity analysis (``vlms-bayes gaia-rv``) needs, per source, the DR3 columns
``source_id``, ``phot_g_mean_mag``, ``bp_rp``, ``radial_velocity_error`` and
``rv_nb_transits`` (plus ``rv_time_duration`` for semi-amplitudes). DR2 files carry
``dr2_radial_velocity_error`` and ``dr2_rv_nb_transits`` instead; :func:`standardise_columns`
maps them. Tables come as FITS (optionally gzipped), CSV or Parquet: one file, a directory
of partitions, or a glob pattern (:func:`resolve_inputs`).

For users with network access :func:`build_adql_query` writes the query for
``astroquery.gaia.Gaia.launch_job_async``; it is a pure function (no network), so tests can
check it directly.
"""

from __future__ import annotations

import glob
import gzip
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vlms_bayes.data_io.schema import require_columns
from vlms_bayes.errors import InputDataError

#: Columns the noise model and the p-values need.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "source_id", "phot_g_mean_mag", "bp_rp", "radial_velocity_error", "rv_nb_transits",
)
#: Needed for semi-amplitude inference only.
BASELINE_COLUMN = "rv_time_duration"
#: Carried through to the output catalogue when present (``pmra``, ``pmdec`` let the
#: sample's hosts be matched to it along their proper motion:
#: :mod:`vlms_bayes.data_io.gaia_match`).
PASSTHROUGH_COLUMNS: tuple[str, ...] = (
    "ra", "dec", "pmra", "pmdec", "parallax", "parallax_over_error", "rv_renormalised_gof",
    "rv_chisq_pvalue",
    "rv_amplitude_robust", "rv_method_used", "rv_visibility_periods_used",
    "rv_template_teff", "rv_template_logg", "rv_template_fe_h",
)
#: DR2 column names and their DR3 equivalents.
DR2_TO_DR3: dict[str, str] = {
    "dr2_radial_velocity_error": "radial_velocity_error",
    "dr2_rv_nb_transits": "rv_nb_transits",
    "dr2_radial_velocity": "radial_velocity",
}
#: Gaia DR2 RV time span in days (used when a DR2 table has no ``rv_time_duration``).
DR2_BASELINE_DAYS = 668.0
#: Gaia DR3 RV time span in days.
DR3_BASELINE_DAYS = 1038.0

_SUFFIXES = {".fits": "fits", ".fit": "fits", ".fits.gz": "fits", ".fit.gz": "fits",
             ".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, kind in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return kind
    return None


def resolve_inputs(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand files, directories and glob patterns into a sorted list of table files.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
        Files, directories (every FITS/CSV/Parquet file inside, recursively) or glob patterns.

    Returns
    -------
    list of pathlib.Path
        Existing table files, sorted within each input, in input order.

    Raises
    ------
    InputDataError
        If an input matches no readable table file.
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    out: list[Path] = []
    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and _kind(q))
        elif p.is_file():
            found = [p]
        else:
            found = sorted(Path(q) for q in glob.glob(str(p), recursive=True)
                           if Path(q).is_file() and _kind(Path(q)))
        if not found:
            raise InputDataError(
                f"No Gaia table found at '{item}'. Give a FITS (.fits, .fits.gz), CSV or "
                "Parquet file, a directory of such partitions, or a glob pattern."
            )
        out.extend(found)
    return out


def standardise_columns(frame: pd.DataFrame, *, source: str = "table") -> pd.DataFrame:
    """Rename DR2 columns to DR3 names and check that the required columns exist.

    Parameters
    ----------
    frame : pandas.DataFrame
        A Gaia table.
    source : str
        Name used in error messages.

    Returns
    -------
    pandas.DataFrame
        The frame with DR3 names (a DR3 column wins if both are present) and, when DR2
        names were mapped, a boolean column ``gaia_dr2``.

    Raises
    ------
    InputDataError
        If a required column is missing.
    """
    renames = {old: new for old, new in DR2_TO_DR3.items()
               if old in frame.columns and new not in frame.columns}
    frame = frame.rename(columns=renames)
    if renames and "gaia_dr2" not in frame.columns:
        frame["gaia_dr2"] = True  # DR2 rows: 668-day baseline when rv_time_duration is absent
    require_columns(frame, REQUIRED_COLUMNS, what=str(source), kind="Gaia",
                    fix=f"Needed: {', '.join(REQUIRED_COLUMNS)} (DR2 names "
                        f"{', '.join(sorted(DR2_TO_DR3))} are accepted).")
    return frame


#: The formats a Gaia table may come in, in words (for error messages).
ACCEPTED_FORMATS = ("FITS (.fits, .fit, optionally gzipped: .fits.gz), CSV (.csv, .csv.gz) "
                    "or Parquet (.parquet, .pq)")

_MAGIC = ((b"SIMPLE  =", "fits"), (b"PAR1", "parquet"))


def _sniff(path: Path) -> str | None:
    """The format of a file without a known suffix, from its first bytes (None: unknown)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if head[:2] == b"\x1f\x8b":  # gzip: only FITS and CSV are read gzipped
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(16)
        except OSError:
            return None
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def _read_error(path: Path, kind: str | None, exc: Exception) -> InputDataError:
    """One paragraph for a Gaia file that cannot be read: file, why, formats accepted."""
    reason = str(exc)
    if kind == "fits" and "SIMPLE" in reason:
        # astropy's hint (ignore_missing_simple=True) is for Python callers, not CLI users
        reason = "it does not start with a FITS header (no SIMPLE card)"
    how = ("by its name" if _kind(path) else "by its first bytes")
    return InputDataError(
        f"Could not read the Gaia table {path} as {kind.upper() if kind else 'a table'} "
        f"(format chosen {how}): {reason}. Gaia tables are read from {ACCEPTED_FORMATS} "
        "files; check that the file is complete and that its name ends with the suffix of "
        "its format.")


def _read_one(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    kind = _kind(path) or _sniff(path)
    if kind is None:
        raise InputDataError(
            f"{path} is not a Gaia table this command can read: its name ends with none of "
            f"the known suffixes and its content is neither FITS nor Parquet. Give "
            f"{ACCEPTED_FORMATS} files.")
    try:
        if kind == "fits":
            from astropy.table import Table  # heavy: astropy, only for FITS

            tab = Table.read(path, format="fits")
            names = [n for n in tab.colnames if len(tab[n].shape) <= 1]
            frame = tab[names].to_pandas()
        elif kind == "csv":
            frame = pd.read_csv(path)
        else:
            frame = pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise _read_error(path, kind, exc) from exc
    # FITS gives big-endian columns; make them native for NumPy/JAX/Arrow.
    for col in frame.columns:
        dt = frame[col].dtype
        if isinstance(dt, np.dtype) and dt.byteorder == ">":
            frame[col] = frame[col].to_numpy().astype(dt.newbyteorder("="))
    frame = standardise_columns(frame, source=str(path))
    if columns is not None:
        keep = [c for c in dict.fromkeys([*columns, "gaia_dr2"]) if c in frame.columns]
        frame = frame[keep]
    return frame


def read_gaia_table(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read one or many Gaia RV tables into one pandas frame with DR3 column names.

    Parameters
    ----------
    inputs : path-like or sequence
        See :func:`resolve_inputs`.
    columns : sequence of str, optional
        Keep only these columns (those present; required columns are always checked).

    Returns
    -------
    pandas.DataFrame
        Rows of all partitions in file order, with a fresh RangeIndex.
    """
    frames = [_read_one(p, columns) for p in resolve_inputs(inputs)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def build_adql_query(
    *,
    min_nb_transits: int = 3,
    max_g_mag: float | None = None,
    min_parallax_over_error: float | None = None,
    method: int | None = None,
    extra_columns: Sequence[str] = PASSTHROUGH_COLUMNS,
    top: int | None = None,
    table: str = "gaiadr3.gaia_source",
) -> str:
    """ADQL for the Gaia RV base table, for ``astroquery.gaia.Gaia.launch_job_async``.

    The defaults reproduce the paper's selection (finite ε, N ≥ 3, no parallax cut); the
    reference pipeline's cuts are options (``min_nb_transits=4, max_g_mag=16,
    min_parallax_over_error=4``).

    Parameters
    ----------
    min_nb_transits : int
        Minimum ``rv_nb_transits`` (inclusive).
    max_g_mag : float, optional
        Keep ``phot_g_mean_mag < max_g_mag``.
    min_parallax_over_error : float, optional
        Keep ``parallax_over_error > value``.
    method : {1, 2}, optional
        Keep only this ``rv_method_used``.
    extra_columns : sequence of str
        Columns selected besides the required ones.
    top : int, optional
        ``SELECT TOP n`` (for quick tests against the archive).
    table : str
        Archive table.

    Returns
    -------
    str
        The ADQL query.
    """
    if min_nb_transits < 1:
        raise InputDataError(f"min_nb_transits must be >= 1, got {min_nb_transits}.")
    cols = list(dict.fromkeys([*REQUIRED_COLUMNS, BASELINE_COLUMN, *extra_columns]))
    where = ["radial_velocity_error IS NOT NULL", f"rv_nb_transits >= {int(min_nb_transits)}",
             "phot_g_mean_mag IS NOT NULL", "bp_rp IS NOT NULL"]
    if max_g_mag is not None:
        where.append(f"phot_g_mean_mag < {float(max_g_mag)!r}")
    if min_parallax_over_error is not None:
        where.append(f"parallax_over_error > {float(min_parallax_over_error)!r}")
    if method is not None:
        if method not in (1, 2):
            raise InputDataError(f"rv_method_used must be 1 or 2, got {method}.")
        where.append(f"rv_method_used = {method}")
    head = f"SELECT TOP {int(top)} " if top is not None else "SELECT "
    return head + ", ".join(cols) + f"\nFROM {table}\nWHERE " + "\n  AND ".join(where)
