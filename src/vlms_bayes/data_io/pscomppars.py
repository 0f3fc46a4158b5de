"""NASA Exoplanet Archive PSCompPars: query builder, archive call, cache and file reader.

Three steps, each testable alone (the astroquery pattern):

1. :func:`build_query` is pure: it returns the table, the column list and the ADQL
   ``WHERE`` clause (host-mass window, plus the reference object by name so that it is
   carried even when its host lies outside the window).
2. :func:`query_archive` sends it through
   :class:`astroquery.ipac.nexsci.nasa_exoplanet_archive.NasaExoplanetArchive` (TAP).
3. :func:`read_pscomppars_csv` parses an archive CSV (with or without its ``#`` header)
   and :func:`validate_pscomppars` checks columns and values.

:func:`load_pscomppars` ties them together with a cache: a query result is saved as CSV in
the cache folder with a JSON sidecar holding the ADQL and the query date; ``refresh=True``
re-queries.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.data_io.files import (
    PS_SNAPSHOT,
    cache_dir,
    data_dir,
    mark_network_failed,
    offline,
    resolve_data_file,
    sha256_of,
)
from vlms_bayes.data_io.outputs import write_csv, write_json
from vlms_bayes.data_io.schema import require_columns
from vlms_bayes.data_io.validate import coerce_numeric, require_eccentricity, require_positive
from vlms_bayes.errors import DataUnavailableError, InputDataError

_log = logging.getLogger(__name__)

TABLE = "pscomppars"

#: Columns the analysis needs from PSCompPars (all present in the default column set).
COLUMNS: tuple[str, ...] = (
    "pl_name", "hostname", "discoverymethod", "disc_year",
    "st_mass", "st_masserr1", "st_masserr2", "st_masslim",
    "st_rad", "st_raderr1", "st_raderr2",
    "st_met", "st_meterr1", "st_meterr2", "st_metratio",
    "pl_bmassj", "pl_bmassjerr1", "pl_bmassjerr2", "pl_bmassjlim", "pl_bmassprov",
    "pl_radj", "pl_radjerr1", "pl_radjerr2",
    "pl_orbper", "pl_orbpererr1", "pl_orbpererr2", "pl_orbperlim",
    "pl_orbsmax", "pl_orbsmaxerr1", "pl_orbsmaxerr2", "pl_orbsmaxlim",
    "pl_orbeccen", "pl_orbeccenerr1", "pl_orbeccenerr2", "pl_orbeccenlim",
    "pl_controv_flag", "sy_dist", "sy_gaiamag", "sy_vmag", "sy_kmag",
)

#: Columns without which no row can be used; the others may be absent from a local file.
REQUIRED: tuple[str, ...] = (
    "pl_name", "hostname", "discoverymethod", "st_mass", "pl_bmassj", "pl_bmassprov",
    "pl_orbsmax", "pl_orbper", "pl_orbeccen",
)

NUMERIC: tuple[str, ...] = tuple(
    c for c in COLUMNS
    if c not in ("pl_name", "hostname", "discoverymethod", "st_metratio", "pl_bmassprov")
)


@dataclass(frozen=True)
class ArchiveQuery:
    """A PSCompPars query: table, selected columns and ADQL ``WHERE`` clause."""

    table: str
    select: str
    where: str

    @property
    def adql(self) -> str:
        """The full ADQL statement."""
        return f"SELECT {self.select} FROM {self.table} WHERE {self.where}"

    @property
    def key(self) -> str:
        """A short hash of the statement, used to name the cache file."""
        return hashlib.sha256(self.adql.encode()).hexdigest()[:12]


def _adql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def build_query(
    *,
    mstar_min: float = 0.06,
    mstar_max: float = 0.20,
    reference: str | None = "TOI-6894 b",
    columns: tuple[str, ...] = COLUMNS,
) -> ArchiveQuery:
    """Build the ADQL query for companions of hosts in a mass window.

    Parameters
    ----------
    mstar_min, mstar_max : float
        Host-mass window in solar masses (inclusive).
    reference : str or None
        A planet name fetched in addition to the window (its host may lie outside).
    columns : tuple of str
        Columns to select.

    Returns
    -------
    ArchiveQuery
        Table, select list and ``WHERE`` clause.
    """
    if not (np.isfinite(mstar_min) and np.isfinite(mstar_max)) or mstar_min >= mstar_max:
        raise InputDataError(
            f"The host-mass window [{mstar_min}, {mstar_max}] Msun is empty; give "
            "--mstar-min smaller than --mstar-max."
        )
    where = f"(st_mass >= {mstar_min:g} AND st_mass <= {mstar_max:g})"
    if reference:
        where = f"({where} OR pl_name = {_adql_str(reference)})"
    return ArchiveQuery(table=TABLE, select=",".join(columns), where=where)


def query_archive(query: ArchiveQuery) -> pd.DataFrame:
    """Send a query to the NASA Exoplanet Archive TAP service and return a DataFrame.

    Parameters
    ----------
    query : ArchiveQuery
        From :func:`build_query`.

    Returns
    -------
    pandas.DataFrame
        One row per planet, plain (unitless) columns, masked values as NaN.

    Raises
    ------
    DataUnavailableError
        If the archive cannot be reached; the message says how to work offline.
    """
    from astroquery.ipac.nexsci.nasa_exoplanet_archive import (  # heavy: astroquery
        NasaExoplanetArchive,
    )

    try:
        table = NasaExoplanetArchive.query_criteria(
            table=query.table, select=query.select, where=query.where
        )
    except Exception as exc:  # requests/pyvo/astroquery raise many types
        raise DataUnavailableError(
            f"The NASA Exoplanet Archive query failed ({type(exc).__name__}: {exc}). "
            "To work offline, download PSCompPars as CSV from the archive and pass it with "
            "--ps FILE, or leave --refresh out to use the cached or embedded snapshot."
        ) from exc
    return table_to_frame(table)


def table_to_frame(table: Any) -> pd.DataFrame:
    """Convert an astropy (Q)Table from astroquery to a plain DataFrame (units dropped).

    Masked entries become NaN (numbers) or None (strings).
    """
    from astropy.table import Table  # heavy: astropy

    frame = Table(table, masked=True).to_pandas()
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
        else:
            frame[col] = frame[col].astype(float)
    return frame


def read_pscomppars_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a PSCompPars CSV as downloaded from the archive, ``#`` header or not.

    Raises
    ------
    InputDataError
        If the file is missing or is not a CSV file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(
            f"PSCompPars file {path} does not exist. Give the path of a CSV downloaded from "
            "the NASA Exoplanet Archive (table pscomppars) with --ps, or leave --ps out to "
            "query the archive."
        )
    try:
        skip = 0
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.startswith("#"):
                    break
                skip += 1
        frame = pd.read_csv(path, skiprows=skip, low_memory=False)
        frame.attrs["first_data_line"] = skip + 2
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(
            f"{path} is not a readable CSV file ({type(exc).__name__}: {exc}). Export "
            "PSCompPars from the archive in CSV format and pass it with --ps."
        ) from exc
    if frame.shape[1] < 2:
        raise InputDataError(
            f"{path} does not look like a CSV table (found {frame.shape[1]} column). Export "
            "PSCompPars from the archive in CSV format and pass it with --ps."
        )
    return frame


def validate_pscomppars(
    frame: pd.DataFrame,
    *,
    source: str = "PSCompPars",
    window: tuple[float, float] | None = None,
    reference: str | None = None,
) -> pd.DataFrame:
    """Check columns and values of a PSCompPars frame; return it with numeric dtypes.

    Masses must be positive everywhere. Eccentricities must lie in [0, 1) for the rows the
    analysis uses (host inside ``window``, or the ``reference`` object): the archive itself
    carries a few unusable rows elsewhere (e.g. KOI-351 h with e = -0.011 in the
    2025-08-07 snapshot), which must not stop an analysis of other hosts.

    Parameters
    ----------
    frame : pandas.DataFrame
        Raw frame from the archive or a file.
    source : str
        Name used in error messages (the file path).
    window : (float, float), optional
        Host-mass window of the analysis; None checks every row.
    reference : str, optional
        Name of the reference object, checked wherever its host lies.

    Returns
    -------
    pandas.DataFrame
        A copy with the numeric columns converted to float and absent optional columns
        added as NaN.

    Raises
    ------
    InputDataError
        Missing required columns, non-numeric or negative masses, e outside [0, 1).
    """
    require_columns(frame, REQUIRED, what=str(source), kind="required", show_found=False,
                    fix=f"A PSCompPars CSV must provide at least: {', '.join(REQUIRED)} "
                        "(archive column names; the default column set of the archive's "
                        "PSCompPars download has them all).")
    out = frame.copy()
    for col in COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    coerce_numeric(out, NUMERIC, source=source, label="pl_name")
    require_positive(out, ("st_mass", "pl_bmassj"), source=source, label="pl_name")
    relevant = None
    if window is not None:
        relevant = out["st_mass"].between(*window)
        if reference:
            relevant |= out["pl_name"].astype(str) == reference
    require_eccentricity(out, "pl_orbeccen", source=source, label="pl_name", rows=relevant)
    for col in ("pl_name", "hostname", "discoverymethod", "pl_bmassprov", "st_metratio"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


@dataclass(frozen=True)
class PsCompParsData:
    """A loaded PSCompPars table and where it came from."""

    frame: pd.DataFrame
    origin: str
    path: Path | None
    sha256: str | None
    query_date: str | None
    adql: str | None
    snapshot: dict[str, Any] | None = None

    def provenance(self) -> dict[str, Any]:
        """A record for ``run.json`` and ``SUMMARY.txt``."""
        rec = {
            "origin": self.origin, "path": str(self.path) if self.path else None,
            "sha256": self.sha256, "date": self.query_date, "adql": self.adql,
            "rows": len(self.frame),
        }
        if self.snapshot is not None:
            rec.update({k: v for k, v in self.snapshot.items()
                        if k not in ("path", "origin", "sha256")})
        return rec


def _file_date(path: Path) -> str:
    """The snapshot date in a file name (``..._2025-08-07.csv``), else its modification date."""
    m = re.search(r"(\d{4}-\d{2}-\d{2})", path.name)
    if m:
        return m.group(1)
    mtime = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.UTC).date().isoformat()
    return f"file modified {mtime}"


def _cache_paths(query: ArchiveQuery, folder: Path) -> tuple[Path, Path]:
    stem = f"pscomppars_query_{query.key}"
    return folder / f"{stem}.csv", folder / f"{stem}.json"


def load_pscomppars(
    *,
    path: str | os.PathLike[str] | None = None,
    mstar_min: float = 0.06,
    mstar_max: float = 0.20,
    reference: str | None = "TOI-6894 b",
    data_dir_: str | os.PathLike[str] | None = None,
    refresh: bool = False,
    allow_query: bool = True,
) -> PsCompParsData:
    """Load PSCompPars: explicit file, data folder, cache, archive, embedded snapshot.

    The first that exists wins:

    1. ``path`` (``--ps FILE``);
    2. the data folder: a cached query result for this window, else the dated snapshot
       ``pscomppars_2025-08-07.csv``;
    3. the cache folder: a cached query result for this window;
    4. the archive (when online), whose reply is cached with its ADQL and date;
    5. the dated snapshot embedded in the package, with one log line saying so.

    Parameters
    ----------
    path : path-like, optional
        A local archive CSV; when given, nothing is queried.
    mstar_min, mstar_max : float
        Host-mass window for the archive query.
    reference : str or None
        Reference object fetched in addition to the window.
    data_dir_ : path-like, optional
        Data folder searched first (else ``$VLMS_BAYES_DATA_DIR``).
    refresh : bool
        Skip the local copies and re-query the archive; an unreachable archive is then an
        error, not a silent fall-back to older data.
    allow_query : bool
        If False (or ``$VLMS_BAYES_OFFLINE`` is set), never query the archive.

    Returns
    -------
    PsCompParsData
        The validated frame with its provenance (``origin`` says which of the above).
    """
    window = (mstar_min, mstar_max)
    if path is not None:
        path = Path(path)
        frame = validate_pscomppars(read_pscomppars_csv(path), source=str(path),
                                    window=window, reference=reference)
        return PsCompParsData(frame, "file", path, sha256_of(path), _file_date(path), None)
    query = build_query(mstar_min=mstar_min, mstar_max=mstar_max, reference=reference)
    folder = data_dir(data_dir_)
    if not refresh:
        for where, place in (("data folder", folder), ("cache", cache_dir())):
            if place is None:
                continue
            csv, meta = _cache_paths(query, place)
            if csv.is_file() and meta.is_file():
                info = json.loads(meta.read_text())
                frame = validate_pscomppars(pd.read_csv(csv, low_memory=False),
                                            source=str(csv), window=window, reference=reference)
                return PsCompParsData(frame, f"{where} (cached query)", csv, sha256_of(csv),
                                      info.get("query_date"), query.adql)
            snap = place / PS_SNAPSHOT
            if where == "data folder" and snap.is_file():
                frame = validate_pscomppars(read_pscomppars_csv(snap), source=str(snap),
                                            window=window, reference=reference)
                return PsCompParsData(frame, "data folder", snap, sha256_of(snap),
                                      _file_date(snap), None)
    if allow_query and not offline(remembered=not refresh):
        try:
            reply = query_archive(query)
        except DataUnavailableError as exc:
            if refresh:
                raise
            failure = "the archive could not be reached"
            mark_network_failed(failure)
            _log.debug("%s", exc)
        else:
            frame = validate_pscomppars(reply, source="the archive reply", window=window,
                                        reference=reference)
            csv, meta = _cache_paths(query, cache_dir())
            write_csv(csv, frame)
            date = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            write_json(meta, {"adql": query.adql, "query_date": date, "rows": len(frame)})
            return PsCompParsData(frame, "archive", csv, sha256_of(csv), date, query.adql)
    elif refresh:
        raise DataUnavailableError(
            "--refresh asks for a new archive query, but vlms-bayes is offline "
            "(--offline or $VLMS_BAYES_OFFLINE). Drop one of the two."
        )
    else:
        failure = "offline"
    resolved = resolve_data_file(PS_SNAPSHOT, allow_download=False, data_dir_=folder,
                                 why=failure)
    frame = validate_pscomppars(read_pscomppars_csv(resolved.path), source=str(resolved.path),
                                window=window, reference=reference)
    return PsCompParsData(frame, resolved.origin, resolved.path, resolved.sha256,
                          _file_date(resolved.path), None, snapshot=resolved.provenance())
