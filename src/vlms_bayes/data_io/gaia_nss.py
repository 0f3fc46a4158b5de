"""Gaia DR3 non-single-star orbits of the sample's hosts: archive query, saved tables, match.

The table is ``gaiadr3.nss_two_body_orbit``; its columns and units are those of the Gaia
DR3 data model, section 20.6.1
(https://gea.esac.esa.int/archive/documentation/GDR3/Gaia_archive/chap_datamodel/sec_dm_non--single_stars_tables/ssec_dm_nss_two_body_orbit.html;
the same names are listed in Holl et al. 2023, A&A 674, A10, table 1, and by the AIP Gaia
mirror, https://gaia.aip.de/metadata/gaiadr3/nss_two_body_orbit/). The ones read here:

* ``source_id``, ``nss_solution_type`` (``Orbital``, ``AstroSpectroSB1``, ``SB1``, ``SB1C``,
  ``SB2``, ``SB2C``, ``EclipsingBinary``, ...), ``parallax`` (mas);
* ``period`` (d), ``eccentricity``, ``a_thiele_innes``, ``b_thiele_innes``,
  ``f_thiele_innes``, ``g_thiele_innes`` (mas), ``semi_amplitude_primary`` and
  ``semi_amplitude_secondary`` (km/s), each with its ``_error``.

The query joins ``gaiadr3.gaia_source`` on ``source_id`` for the source's ``ra``, ``dec``
(deg, epoch J2016.0), ``pmra``, ``pmdec`` (mas/yr) and ``phot_g_mean_mag``, which every
solution type has there (:data:`GAIA_SOURCE_COLUMNS`): the match to the hosts follows each
source's proper motion and checks its G (:mod:`vlms_bayes.data_io.gaia_match`).

The table has no mass-function column: :mod:`vlms_bayes.feasibility.nss_orbits` computes it.
A source may have several solutions (the data model warns about it); all are kept.

Three steps (the archive pattern of the house style): :func:`nss_cone_adql` builds the
query (pure), :func:`query_nss_orbits` sends it through ``astroquery.gaia`` (network; with
``$VLMS_BAYES_OFFLINE`` it raises :class:`~vlms_bayes.errors.DataUnavailableError` saying it
was not looked up), and :func:`read_nss_file` / :func:`match_nss_to_hosts` parse a reply or
a saved table (CSV, ECSV, VOTable or FITS, e.g. downloaded from the archive) and attach each
solution to the host whose Gaia source it is (:func:`~vlms_bayes.data_io.gaia_match.\
match_gaia_sources`: the source's proper-motion track passes within ``radius_arcsec`` of the
host's catalogue position at some epoch in J2000.0-J2016.0, and its G agrees with the host's
``sy_gaiamag``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.data_io import gaia_match
from vlms_bayes.data_io.files import offline
from vlms_bayes.data_io.schema import require_columns
from vlms_bayes.errors import DataUnavailableError, InputDataError

#: Archive table of the two-body orbits.
NSS_TABLE = "gaiadr3.nss_two_body_orbit"
#: Data-model page of the table (cited in the outputs).
NSS_DATA_MODEL_URL = ("https://gea.esac.esa.int/archive/documentation/GDR3/Gaia_archive/"
                      "chap_datamodel/sec_dm_non--single_stars_tables/"
                      "ssec_dm_nss_two_body_orbit.html")
_WITH_ERRORS = ("parallax", "period", "eccentricity", "a_thiele_innes", "b_thiele_innes",
                "f_thiele_innes", "g_thiele_innes", "semi_amplitude_primary",
                "semi_amplitude_secondary")
#: Columns requested from the NSS table (data-model names).
NSS_COLUMNS: tuple[str, ...] = (
    "source_id", "nss_solution_type",
    *[c for name in _WITH_ERRORS for c in (name, f"{name}_error")])
#: Columns requested from ``gaiadr3.gaia_source`` for the match (J2016.0 position, proper
#: motion, G; Gaia DR3 data model, section 20.1.1).
GAIA_SOURCE_COLUMNS: tuple[str, ...] = ("ra", "dec", "pmra", "pmdec", "phot_g_mean_mag")
GAIA_SOURCE_TABLE = "gaiadr3.gaia_source"
#: Columns a saved table must have (the others may be missing or empty).
NSS_REQUIRED: tuple[str, ...] = ("source_id", "nss_solution_type", "period")
#: Default match radius between a host's catalogue position and a source's track.
MATCH_RADIUS_ARCSEC = gaia_match.MATCH_RADIUS_ARCSEC
_NUMERIC = tuple(c for c in (*NSS_COLUMNS, *GAIA_SOURCE_COLUMNS)
                 if c not in ("source_id", "nss_solution_type"))


def nss_cone_adql(ra_deg: float, dec_deg: float, radius_arcsec: float) -> str:
    """ADQL for the NSS solutions of the sources within a cone (pure).

    Selects :data:`NSS_COLUMNS` from the NSS table and :data:`GAIA_SOURCE_COLUMNS` from
    ``gaiadr3.gaia_source`` (joined on ``source_id``); the cone is on the J2016.0 position.
    """
    if not (np.isfinite(ra_deg) and np.isfinite(dec_deg) and radius_arcsec > 0):
        raise InputDataError(f"A cone needs a finite position and a positive radius (got "
                             f"ra={ra_deg}, dec={dec_deg}, radius={radius_arcsec} arcsec).")
    cols = [f"nss.{c}" for c in NSS_COLUMNS] + [f"gs.{c}" for c in GAIA_SOURCE_COLUMNS]
    return (f"SELECT {', '.join(cols)} FROM {NSS_TABLE} AS nss JOIN {GAIA_SOURCE_TABLE} AS gs "
            f"ON gs.source_id = nss.source_id WHERE 1 = CONTAINS(POINT('ICRS', gs.ra, gs.dec), "
            f"CIRCLE('ICRS', {ra_deg:.8f}, {dec_deg:.8f}, {radius_arcsec / 3600.0:.8f}))")


def _to_frame(table: Any) -> pd.DataFrame:
    frame = table.to_pandas() if hasattr(table, "to_pandas") else pd.DataFrame(table)
    frame.columns = [str(c).lower() for c in frame.columns]
    if "nss_solution_type" in frame.columns:
        frame["nss_solution_type"] = frame["nss_solution_type"].map(
            lambda v: v.decode() if isinstance(v, bytes) else str(v)).str.strip()
    return frame


def query_nss_orbits(hosts: pd.DataFrame, *, radius_arcsec: float = MATCH_RADIUS_ARCSEC,
                     gaia: Any | None = None) -> pd.DataFrame:
    """NSS solutions of the sources around each host from the Gaia archive (network).

    The cone around each host's catalogue position is widened for proper motion
    (:func:`~vlms_bayes.data_io.gaia_match.search_radius_arcsec`: ``radius_arcsec`` plus
    11 arcsec/yr, Barnard's star's proper motion rounded up, over the 16 years between
    J2000.0 and J2016.0, i.e. 179 arcsec by default); :func:`match_nss_to_hosts` then keeps
    the sources that are the hosts.

    Parameters
    ----------
    hosts : pandas.DataFrame
        ``hostname``, ``ra``, ``dec`` (deg); hosts without a position are skipped.
    radius_arcsec : float
        Match radius (the cone is wider, see above).
    gaia : astroquery.gaia.Gaia-like, optional
        Object with ``launch_job(adql)`` returning a job with ``get_results()``; default
        ``astroquery.gaia.Gaia`` (tests pass a recorded reply).

    Returns
    -------
    pandas.DataFrame
        The replies' rows (a solution found in several cones once), with no ``hostname``:
        pass them to :func:`match_nss_to_hosts`.

    Raises
    ------
    DataUnavailableError
        Offline (``--offline`` / ``$VLMS_BAYES_OFFLINE``) with no ``gaia`` given: the
        orbits were not looked up; pass a saved table instead.
    """
    if gaia is None:
        if offline():
            raise DataUnavailableError(
                f"Gaia DR3 NSS orbits not looked up (offline): the {NSS_TABLE} query needs "
                "the network. Save the hosts' rows from the Gaia archive and pass the file "
                "(--gaia-nss-file), or run without --offline.")
        from astroquery.gaia import Gaia  # heavy: astroquery

        gaia = Gaia
    require_columns(hosts, ("hostname", "ra", "dec"), what="The host positions",
                    fix="Give the hosts' hostname, ra and dec (deg).")
    cone = gaia_match.search_radius_arcsec(radius_arcsec)
    frames = []
    for h in hosts.drop_duplicates("hostname").itertuples():
        if not (np.isfinite(h.ra) and np.isfinite(h.dec)):
            continue
        try:
            job = gaia.launch_job(nss_cone_adql(float(h.ra), float(h.dec), cone))
            reply = job.get_results()
        except (OSError, ConnectionError) as exc:
            raise DataUnavailableError(
                f"The Gaia archive query of {NSS_TABLE} around {h.hostname} failed ({exc}); "
                "pass a saved table with --gaia-nss-file or retry later.") from exc
        frame = _to_frame(reply)
        if len(frame):
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*NSS_COLUMNS, *GAIA_SOURCE_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    require_columns(out, (*NSS_REQUIRED, *GAIA_SOURCE_COLUMNS),
                    what=f"The Gaia archive's {NSS_TABLE} reply",
                    fix=f"The table's layout changed (see {NSS_DATA_MODEL_URL}); save the "
                        "rows with the data-model names and pass --gaia-nss-file.")
    return out.drop_duplicates(ignore_index=True)


def read_nss_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A saved extract of ``gaiadr3.nss_two_body_orbit`` (CSV, ECSV, VOTable or FITS).

    Column names are the data model's (case-insensitive); an optional ``hostname`` column
    attaches rows to hosts directly, else :func:`match_nss_to_hosts` matches ``ra``/``dec``
    (J2016.0), following ``pmra``/``pmdec`` and checking ``phot_g_mean_mag`` where the file
    has them (the ``gaiadr3.gaia_source`` columns of the same source).

    Raises
    ------
    InputDataError
        If the file cannot be read, lacks a required column, or has a non-numeric period.
    """
    p = Path(path)
    try:
        if p.suffix.lower() in (".csv", ".gz", ".txt") and not p.name.endswith(".ecsv"):
            frame = pd.read_csv(p, comment="#")
            frame.columns = [str(c).lower() for c in frame.columns]
        else:
            from astropy.table import Table  # heavy: astropy

            frame = _to_frame(Table.read(p))
    except (OSError, ValueError) as exc:
        raise InputDataError(f"Cannot read the Gaia NSS table {p}: {exc}") from exc
    require_columns(frame, NSS_REQUIRED, what=f"The Gaia NSS table {p}",
                    fix=f"Save rows of {NSS_TABLE} with the data-model column names "
                        f"({NSS_DATA_MODEL_URL}), e.g. {', '.join(NSS_COLUMNS[:8])}, ...")
    if "hostname" not in frame.columns and not {"ra", "dec"} <= set(frame.columns):
        raise InputDataError(f"The Gaia NSS table {p} has neither a hostname column nor ra "
                             "and dec: add one of the two so that its rows can be matched "
                             "to the sample's hosts.")
    frame["nss_solution_type"] = frame["nss_solution_type"].astype(str).str.strip()
    for c in frame.columns:
        if c in _NUMERIC:
            num = pd.to_numeric(frame[c], errors="coerce")
            bad = num.isna() & frame[c].notna() & (frame[c].astype(str).str.strip() != "")
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputDataError(f"{p}, row {i + 1}: {c} = {frame[c].iloc[i]!r} is not a "
                                     "number.")
            frame[c] = num
    return frame


def match_nss_with_report(nss: pd.DataFrame, hosts: pd.DataFrame, *,
                          radius_arcsec: float = MATCH_RADIUS_ARCSEC,
                          epochs: tuple[float, float] = gaia_match.CATALOGUE_EPOCHS,
                          g_tolerance_mag: float = gaia_match.G_TOLERANCE_MAG
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach each NSS solution to its host, by ``hostname`` or as the host's Gaia source.

    Rows with a ``hostname`` are attached to that host. The others are matched with
    :func:`~vlms_bayes.data_io.gaia_match.match_gaia_sources`: the host's Gaia source is the
    one whose proper-motion track (``pmra``, ``pmdec``) passes within ``radius_arcsec`` of
    the host's catalogue position at some epoch in ``epochs`` and whose G
    (``phot_g_mean_mag``) agrees with the host's ``sy_gaiamag``; all NSS solutions of that
    source are attached.

    Parameters
    ----------
    nss : pandas.DataFrame
        Solutions (:func:`read_nss_file` or :func:`query_nss_orbits`).
    hosts : pandas.DataFrame
        ``hostname``, ``ra``, ``dec`` (deg) and, for the G check, ``sy_gaiamag``.
    radius_arcsec : float
        Match radius around the track.
    epochs : tuple of float
        Earliest and latest epoch of the hosts' positions (Julian years).
    g_tolerance_mag : float
        Largest |ΔG| between the source and the host.

    Returns
    -------
    rows : pandas.DataFrame
        The matched rows with ``hostname`` (rows of other sources dropped): rows with a
        ``hostname`` first, then the rows matched by position, which also carry
        ``match_sep_arcsec``, ``match_epoch``, ``match_delta_g_mag`` and ``match_note``.
    report : pandas.DataFrame
        The per-host report of the positional match
        (:data:`~vlms_bayes.data_io.gaia_match.REPORT_COLUMNS`; empty when every row has a
        ``hostname``).

    Raises
    ------
    InputDataError
        If ``hosts`` lacks ``hostname`` (or ``ra``/``dec`` where rows need a position match).
    """
    require_columns(hosts, ("hostname",), what="The host positions",
                    fix="Give the hosts' hostname, ra and dec (deg), and sy_gaiamag.")
    empty_report = pd.DataFrame(columns=list(gaia_match.REPORT_COLUMNS))
    names = set(hosts["hostname"].astype(str))
    named = pd.Series(False, index=nss.index)
    if "hostname" in nss.columns:
        named = nss["hostname"].notna() & (nss["hostname"].astype(str).str.strip() != "")
    by_name = nss[named].copy()
    by_name["hostname"] = (by_name["hostname"].astype(str).str.strip() if len(by_name)
                           else pd.Series(dtype=str))
    by_name = by_name[by_name["hostname"].isin(names)]
    rest = nss[~named]
    if rest.empty or not {"ra", "dec"} <= set(nss.columns):
        return by_name.reset_index(drop=True), empty_report
    report = gaia_match.match_gaia_sources(
        rest.drop(columns="hostname", errors="ignore"), hosts, radius_arcsec=radius_arcsec,
        epochs=epochs, g_tolerance_mag=g_tolerance_mag, what=f"The Gaia {NSS_TABLE} rows")
    out = _attach(rest.drop(columns="hostname", errors="ignore"), report)
    return pd.concat([by_name, out], ignore_index=True), report


def match_nss_to_hosts(nss: pd.DataFrame, hosts: pd.DataFrame, *,
                       radius_arcsec: float = MATCH_RADIUS_ARCSEC,
                       epochs: tuple[float, float] = gaia_match.CATALOGUE_EPOCHS,
                       g_tolerance_mag: float = gaia_match.G_TOLERANCE_MAG) -> pd.DataFrame:
    """The rows of :func:`match_nss_with_report` (the same arguments), without the report."""
    return match_nss_with_report(nss, hosts, radius_arcsec=radius_arcsec, epochs=epochs,
                                 g_tolerance_mag=g_tolerance_mag)[0]


def _attach(catalogue: pd.DataFrame, report: pd.DataFrame) -> pd.DataFrame:
    """The catalogue rows of each host's matched source, with ``hostname`` and the match."""
    taken = report[report["source_id"].notna()]
    match = pd.DataFrame({
        "hostname": taken["hostname"].astype(str).to_numpy(),
        "_sid": taken["source_id"].astype(str).to_numpy(),
        "match_sep_arcsec": taken["sep_arcsec"].to_numpy(float),
        "match_epoch": taken["epoch"].to_numpy(float),
        "match_delta_g_mag": taken["delta_g_mag"].to_numpy(float),
        "match_note": taken["note"].astype(str).to_numpy()})
    cat = catalogue.assign(_sid=catalogue["source_id"].astype(str))
    out = cat.merge(match, on="_sid", how="inner").drop(columns="_sid")
    return out.reset_index(drop=True)


def match_positions_with_report(catalogue: pd.DataFrame, hosts: pd.DataFrame, *,
                                radius_arcsec: float = MATCH_RADIUS_ARCSEC,
                                epochs: tuple[float, float] = gaia_match.CATALOGUE_EPOCHS,
                                g_tolerance_mag: float = gaia_match.G_TOLERANCE_MAG
                                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each host's Gaia source in a catalogue, one row per matched host, and the report.

    For a scored Gaia RV catalogue (``source_id``, ``ra``, ``dec``, ``rv_pval``, and
    ``pmra``, ``pmdec``, ``phot_g_mean_mag`` where it has them): the match of
    :func:`~vlms_bayes.data_io.gaia_match.match_gaia_sources` (proper-motion track, then
    G), ``hostname`` and the ``match_*`` columns added (see :func:`match_nss_with_report`).
    """
    report = gaia_match.match_gaia_sources(
        catalogue, hosts, radius_arcsec=radius_arcsec, epochs=epochs,
        g_tolerance_mag=g_tolerance_mag, what="The scored Gaia RV catalogue")
    out = _attach(catalogue.drop_duplicates("source_id"), report)
    return out, report


def match_positions(catalogue: pd.DataFrame, hosts: pd.DataFrame, *,
                    radius_arcsec: float = MATCH_RADIUS_ARCSEC) -> pd.DataFrame:
    """The rows of :func:`match_positions_with_report`, without the report."""
    return match_positions_with_report(catalogue, hosts, radius_arcsec=radius_arcsec)[0]


#: Columns read from a scored Gaia RV catalogue (``vlms-bayes gaia-rv score``).
RV_PVALUE_COLUMNS: tuple[str, ...] = ("source_id", "ra", "dec", "rv_pval")
#: Columns also read when the catalogue has them, for the match to the hosts.
RV_MATCH_COLUMNS: tuple[str, ...] = ("pmra", "pmdec", "phot_g_mean_mag", "parallax")


def read_rv_pvalues(path: str | os.PathLike[str]) -> pd.DataFrame:
    """``source_id``, ``ra``, ``dec``, ``rv_pval`` of a scored Gaia RV catalogue.

    Also ``pmra``, ``pmdec``, ``phot_g_mean_mag`` and ``parallax`` where it has them (the
    match to the hosts follows the proper motion and checks G with them).

    Parameters
    ----------
    path : path-like
        ``gaia_rv_catalogue.csv`` or the ``gaia_rv_catalogue.parquet`` dataset (folder or
        file) written by ``vlms-bayes gaia-rv score``.

    Raises
    ------
    InputDataError
        If it cannot be read or lacks a column.
    """
    p = Path(path)
    try:
        if p.is_dir() or p.suffix.lower() == ".parquet":
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_csv(p, comment="#")
    except (OSError, ValueError, ImportError) as exc:
        raise InputDataError(f"Cannot read the scored Gaia RV catalogue {p}: {exc}") from exc
    require_columns(frame, RV_PVALUE_COLUMNS, what=f"The scored Gaia RV catalogue {p}",
                    fix="Give the catalogue written by 'vlms-bayes gaia-rv score' "
                        "(gaia_rv_catalogue.csv or gaia_rv_catalogue.parquet).")
    out = frame[[*RV_PVALUE_COLUMNS, *[c for c in RV_MATCH_COLUMNS if c in frame.columns]]
                ].copy()
    for c in ("ra", "dec", "rv_pval", *RV_MATCH_COLUMNS):
        if c not in out.columns:
            continue
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out
