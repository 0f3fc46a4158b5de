"""Gaia DR3 non-single-star orbits of the sample's hosts: archive query, saved tables, match.

The table is ``gaiadr3.nss_two_body_orbit``; its columns and units are those of the Gaia
DR3 data model, section 20.6.1
(https://gea.esac.esa.int/archive/documentation/GDR3/Gaia_archive/chap_datamodel/sec_dm_non--single_stars_tables/ssec_dm_nss_two_body_orbit.html;
the same names are listed in Holl et al. 2023, A&A 674, A10, table 1, and by the AIP Gaia
mirror, https://gaia.aip.de/metadata/gaiadr3/nss_two_body_orbit/). The ones read here:

* ``source_id``, ``nss_solution_type`` (``Orbital``, ``AstroSpectroSB1``, ``SB1``, ``SB1C``,
  ``SB2``, ``SB2C``, ``EclipsingBinary``, ...), ``ra``, ``dec`` (deg, epoch J2016.0),
  ``parallax`` (mas);
* ``period`` (d), ``eccentricity``, ``a_thiele_innes``, ``b_thiele_innes``,
  ``f_thiele_innes``, ``g_thiele_innes`` (mas), ``semi_amplitude_primary`` and
  ``semi_amplitude_secondary`` (km/s), each with its ``_error``.

The table has no mass-function column: :mod:`vlms_bayes.feasibility.nss_orbits` computes it.
A source may have several solutions (the data model warns about it); all are kept.

Three steps (the archive pattern of the house style): :func:`nss_cone_adql` builds the
query (pure), :func:`query_nss_orbits` sends it through ``astroquery.gaia`` (network; with
``$VLMS_BAYES_OFFLINE`` it raises :class:`~vlms_bayes.errors.DataUnavailableError` saying it
was not looked up), and :func:`read_nss_file` / :func:`match_nss_to_hosts` parse a reply or
a saved table (CSV, ECSV, VOTable or FITS, e.g. downloaded from the archive) and attach each
solution to the host within ``radius_arcsec``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
#: Columns requested from the archive (data-model names).
NSS_COLUMNS: tuple[str, ...] = (
    "source_id", "nss_solution_type", "ra", "dec",
    *[c for name in _WITH_ERRORS for c in (name, f"{name}_error")])
#: Columns a saved table must have (the others may be missing or empty).
NSS_REQUIRED: tuple[str, ...] = ("source_id", "nss_solution_type", "period")
#: Default match radius between a host's catalogue position and the NSS position.
MATCH_RADIUS_ARCSEC = 3.0


def nss_cone_adql(ra_deg: float, dec_deg: float, radius_arcsec: float) -> str:
    """ADQL selecting :data:`NSS_COLUMNS` of the NSS solutions within a cone (pure)."""
    if not (np.isfinite(ra_deg) and np.isfinite(dec_deg) and radius_arcsec > 0):
        raise InputDataError(f"A cone needs a finite position and a positive radius (got "
                             f"ra={ra_deg}, dec={dec_deg}, radius={radius_arcsec} arcsec).")
    return (f"SELECT {', '.join(NSS_COLUMNS)} FROM {NSS_TABLE} WHERE 1 = CONTAINS("
            f"POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra_deg:.8f}, {dec_deg:.8f}, "
            f"{radius_arcsec / 3600.0:.8f}))")


def _to_frame(table: Any) -> pd.DataFrame:
    frame = table.to_pandas() if hasattr(table, "to_pandas") else pd.DataFrame(table)
    frame.columns = [str(c).lower() for c in frame.columns]
    if "nss_solution_type" in frame.columns:
        frame["nss_solution_type"] = frame["nss_solution_type"].map(
            lambda v: v.decode() if isinstance(v, bytes) else str(v)).str.strip()
    return frame


def query_nss_orbits(hosts: pd.DataFrame, *, radius_arcsec: float = MATCH_RADIUS_ARCSEC,
                     gaia: Any | None = None) -> pd.DataFrame:
    """NSS solutions around each host from the Gaia archive (network).

    Parameters
    ----------
    hosts : pandas.DataFrame
        ``hostname``, ``ra``, ``dec`` (deg); hosts without a position are skipped.
    radius_arcsec : float
        Cone radius.
    gaia : astroquery.gaia.Gaia-like, optional
        Object with ``launch_job(adql)`` returning a job with ``get_results()``; default
        ``astroquery.gaia.Gaia`` (tests pass a recorded reply).

    Returns
    -------
    pandas.DataFrame
        The reply's columns plus ``hostname``.

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
    frames = []
    for h in hosts.drop_duplicates("hostname").itertuples():
        if not (np.isfinite(h.ra) and np.isfinite(h.dec)):
            continue
        try:
            job = gaia.launch_job(nss_cone_adql(float(h.ra), float(h.dec), radius_arcsec))
            reply = job.get_results()
        except (OSError, ConnectionError) as exc:
            raise DataUnavailableError(
                f"The Gaia archive query of {NSS_TABLE} around {h.hostname} failed ({exc}); "
                "pass a saved table with --gaia-nss-file or retry later.") from exc
        frame = _to_frame(reply)
        if len(frame):
            frame["hostname"] = str(h.hostname)
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*NSS_COLUMNS, "hostname"])
    out = pd.concat(frames, ignore_index=True)
    require_columns(out, NSS_REQUIRED, what=f"The Gaia archive's {NSS_TABLE} reply",
                    fix=f"The table's layout changed (see {NSS_DATA_MODEL_URL}); save the "
                        "rows with the data-model names and pass --gaia-nss-file.")
    return out


def read_nss_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A saved extract of ``gaiadr3.nss_two_body_orbit`` (CSV, ECSV, VOTable or FITS).

    Column names are the data model's (case-insensitive); an optional ``hostname`` column
    attaches rows to hosts directly, else :func:`match_nss_to_hosts` matches ``ra``/``dec``.

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
        if c in NSS_COLUMNS and c not in ("source_id", "nss_solution_type"):
            num = pd.to_numeric(frame[c], errors="coerce")
            bad = num.isna() & frame[c].notna() & (frame[c].astype(str).str.strip() != "")
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputDataError(f"{p}, row {i + 1}: {c} = {frame[c].iloc[i]!r} is not a "
                                     "number.")
            frame[c] = num
    return frame


def match_nss_to_hosts(nss: pd.DataFrame, hosts: pd.DataFrame, *,
                       radius_arcsec: float = MATCH_RADIUS_ARCSEC) -> pd.DataFrame:
    """Attach each NSS solution to the host within ``radius_arcsec`` (or its ``hostname``).

    Parameters
    ----------
    nss : pandas.DataFrame
        Solutions (:func:`read_nss_file` or :func:`query_nss_orbits`).
    hosts : pandas.DataFrame
        ``hostname``, ``ra``, ``dec`` (deg).
    radius_arcsec : float
        Match radius (the NSS positions are at J2016.0; catalogue positions of nearby
        M dwarfs with large proper motions may differ by more: give ``hostname`` then).

    Returns
    -------
    pandas.DataFrame
        The matched rows with ``hostname`` (rows of other hosts dropped): rows with a
        ``hostname`` first, then the rows matched by position.
    """
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
        return by_name.reset_index(drop=True)
    import astropy.units as u  # heavy: astropy
    from astropy.coordinates import SkyCoord  # heavy: astropy

    h = hosts.drop_duplicates("hostname")
    h = h[np.isfinite(h["ra"].astype(float)) & np.isfinite(h["dec"].astype(float))]
    ok = np.isfinite(rest["ra"].astype(float)) & np.isfinite(rest["dec"].astype(float))
    if h.empty or not ok.any():
        return by_name.reset_index(drop=True)
    sol = rest[ok].reset_index(drop=True)
    c_sol = SkyCoord(sol["ra"].to_numpy(float) * u.deg, sol["dec"].to_numpy(float) * u.deg)
    c_host = SkyCoord(h["ra"].to_numpy(float) * u.deg, h["dec"].to_numpy(float) * u.deg)
    idx, d2d, _ = c_sol.match_to_catalog_sky(c_host)
    keep = d2d.arcsec <= radius_arcsec
    out = sol[keep].copy()
    out["hostname"] = h["hostname"].astype(str).to_numpy()[idx[keep]]
    return pd.concat([by_name, out], ignore_index=True)


def match_positions(catalogue: pd.DataFrame, hosts: pd.DataFrame, *,
                    radius_arcsec: float = MATCH_RADIUS_ARCSEC) -> pd.DataFrame:
    """Each host's nearest catalogue row within ``radius_arcsec`` (``hostname`` added).

    For a scored Gaia RV catalogue (``ra``, ``dec``, ``rv_pval``...): one row per matched host.
    """
    import astropy.units as u  # heavy: astropy
    from astropy.coordinates import SkyCoord  # heavy: astropy

    h = hosts.drop_duplicates("hostname")
    h = h[np.isfinite(h["ra"].astype(float)) & np.isfinite(h["dec"].astype(float))]
    cat = catalogue[np.isfinite(catalogue["ra"].astype(float))
                    & np.isfinite(catalogue["dec"].astype(float))].reset_index(drop=True)
    if h.empty or cat.empty:
        return cat.iloc[:0].assign(hostname=pd.Series(dtype=str))
    c_host = SkyCoord(h["ra"].to_numpy(float) * u.deg, h["dec"].to_numpy(float) * u.deg)
    c_cat = SkyCoord(cat["ra"].to_numpy(float) * u.deg, cat["dec"].to_numpy(float) * u.deg)
    idx, d2d, _ = c_host.match_to_catalog_sky(c_cat)
    keep = d2d.arcsec <= radius_arcsec
    out = cat.iloc[idx[keep]].copy()
    out["hostname"] = h["hostname"].astype(str).to_numpy()[keep]
    return out.reset_index(drop=True)


#: Columns read from a scored Gaia RV catalogue (``vlms-bayes gaia-rv score``).
RV_PVALUE_COLUMNS: tuple[str, ...] = ("source_id", "ra", "dec", "rv_pval")


def read_rv_pvalues(path: str | os.PathLike[str]) -> pd.DataFrame:
    """``source_id``, ``ra``, ``dec``, ``rv_pval`` of a scored Gaia RV catalogue.

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
    out = frame[list(RV_PVALUE_COLUMNS)].copy()
    for c in ("ra", "dec", "rv_pval"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out
