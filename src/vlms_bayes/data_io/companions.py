"""Known stellar companions of the sample's hosts: PSCompPars multiplicity and user tables.

* :func:`read_host_multiplicity` reads ``sy_snum`` (number of stars in the system), the
  planet radius ``pl_radj`` and the coordinates from a PSCompPars CSV (the shipped
  snapshot has the archive's default column set, which includes them; a file from the
  package's own archive query may not, and then every host's multiplicity is "unknown").
  PSCompPars gives no orbit or mass for the stellar companions.
* :func:`read_companions_csv` reads perturbers a user describes (one row per host:
  ``hostname, m_out_msun, m_out_err_msun, sep_au, sep_err_au, sep_kind, source``;
  ``sep_kind`` is ``projected`` or ``true``; an empty mass means unknown), e.g. from a
  paper or from :func:`query_wide_binary_companions`.
* :func:`query_wide_binary_companions` finds wide companions in the Gaia EDR3 catalogue of
  El-Badry, Rix & Heintz (2021) through astroquery (network), the host's own component
  found along its proper motion and by its G (:mod:`vlms_bayes.data_io.gaia_match`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from vlms_bayes.data_io import gaia_match
from vlms_bayes.data_io.files import offline
from vlms_bayes.data_io.schema import require_columns
from vlms_bayes.errors import DataUnavailableError, InputDataError

COMPANION_COLUMNS: tuple[str, ...] = ("hostname", "m_out_msun", "m_out_err_msun", "sep_au",
                                      "sep_err_au", "sep_kind", "source")
SEP_KINDS: tuple[str, ...] = ("projected", "true")


def read_host_multiplicity(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Per planet of a PSCompPars CSV: host, ``sy_snum``, ``pl_radj``, ``ra``, ``dec``, G.

    Parameters
    ----------
    path : path-like
        PSCompPars CSV (``#`` comment lines allowed).

    Returns
    -------
    pandas.DataFrame
        Columns ``pl_name``, ``hostname``, ``sy_snum``, ``pl_radj``, ``ra``, ``dec``,
        ``sy_dist``, ``sy_gaiamag`` (the host's Gaia G, which checks the match to Gaia
        sources) (NaN where the file lacks the column).

    Raises
    ------
    InputDataError
        If the file cannot be read or has no ``pl_name``/``hostname`` columns.
    """
    try:
        frame = pd.read_csv(path, comment="#", low_memory=False)
    except (OSError, ValueError) as exc:
        raise InputDataError(f"Cannot read the PSCompPars file {path}: {exc}") from exc
    require_columns(frame, ("pl_name", "hostname"), what=f"The PSCompPars file {path}",
                    fix="A PSCompPars CSV with the archive's column names is needed.")
    out = frame[["pl_name", "hostname"]].astype(str).copy()
    for c in ("sy_snum", "pl_radj", "ra", "dec", "sy_dist", "sy_gaiamag"):
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
    require_columns(frame, COMPANION_COLUMNS, what=f"The companions file {p}",
                    fix=f"It needs {', '.join(COMPANION_COLUMNS)} (masses in Msun, "
                        "separations in AU, sep_kind 'projected' or 'true').")
    frame = frame[list(COMPANION_COLUMNS)].copy()
    for i, row in frame.iterrows():
        line = int(i) + 2  # header is line 1
        v = pd.to_numeric(row["sep_au"], errors="coerce")
        if not (np.isfinite(v) and v > 0):
            raise InputDataError(f"{p}, line {line}: sep_au = {row['sep_au']!r} must be a "
                                 "positive number.")
        v = pd.to_numeric(row["m_out_msun"], errors="coerce")
        if pd.notna(row["m_out_msun"]) and not (np.isfinite(v) and v > 0):
            raise InputDataError(f"{p}, line {line}: m_out_msun = {row['m_out_msun']!r} must "
                                 "be a positive number (or empty: unknown).")
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


#: VizieR catalogue of the Gaia EDR3 wide binaries of El-Badry, Rix & Heintz (2021, MNRAS
#: 506, 2269), and its table.
EL_BADRY_2021 = "J/MNRAS/506/2269"
EL_BADRY_2021_TABLE = "J/MNRAS/506/2269/catalog"
#: Accepted spellings (lower case, underscores removed) of the columns used. First the
#: VizieR names, from the catalogue's ReadMe (byte-by-byte description of catalog.dat:
#: ``RAdeg``/``DEdeg`` and ``RA2deg``/``DE2deg`` the two components' ICRS positions at
#: Ep = 2016.0, ``sepAU`` the projected separation, ``R`` the chance-alignment measure
#: R_chance_align of the paper's eq. 8); then the names of the authors' Zenodo release
#: (record 4435257: ``ra1``, ``dec1``, ``ra2``, ``dec2``, ``sep_AU``, ``R_chance_align``).
_WB_COLUMNS: dict[str, tuple[str, ...]] = {
    "sep_au": ("sepau",),
    "r_chance_align": ("r", "rchancealign"),
    "ra1": ("radeg", "ra1"),
    "dec1": ("dedeg", "dec1"),
    "ra2": ("ra2deg", "ra2"),
    "dec2": ("de2deg", "dec2"),
}


#: Columns used when the reply has them, for the match of the host to a component (the
#: same ReadMe: ``Source1``/``Source2`` the Gaia EDR3 source_id, ``pmRA1``/``pmDE1`` and
#: ``pmRA2``/``pmDE2`` the proper motions, ``Gmag1``/``Gmag2`` the G magnitudes,
#: ``Plx1``/``Plx2`` the parallaxes; the Zenodo release's ``source_id1``, ``pmra1``,
#: ``pmdec1``, ``phot_g_mean_mag1``, ``parallax1``, ...). Without them a component is
#: compared at its J2016.0 position only, and the report says so.
_WB_OPTIONAL: dict[str, tuple[str, ...]] = {
    **{f"{name}{k}": tuple(f"{o}{k}" for o in options) for k in (1, 2)
       for name, options in (("pmra", ("pmra",)), ("pmdec", ("pmde", "pmdec")),
                             ("phot_g_mean_mag", ("gmag", "photgmeanmag")),
                             ("parallax", ("plx", "parallax")))},
}
_WB_IDS: dict[str, tuple[str, ...]] = {"source_id1": ("source1", "sourceid1"),
                                       "source_id2": ("source2", "sourceid2")}


def _wb_frame(table: object) -> pd.DataFrame:
    frame = table.to_pandas() if hasattr(table, "to_pandas") else pd.DataFrame(table)
    canon = {str(c).lower().replace("_", ""): str(c) for c in frame.columns}
    cols = {}
    for name, options in _WB_COLUMNS.items():
        hit = next((canon[o] for o in options if o in canon), None)
        if hit is None:
            raise InputDataError(
                f"The wide-binary reply from VizieR {EL_BADRY_2021} has no {name} column "
                f"(accepted: {', '.join(options)}; got {', '.join(map(str, frame.columns))}); "
                "the catalogue's layout changed: describe the companion with --companions.")
        cols[name] = pd.to_numeric(frame[hit], errors="coerce")
    for name, options in _WB_OPTIONAL.items():
        hit = next((canon[o] for o in options if o in canon), None)
        cols[name] = (pd.to_numeric(frame[hit], errors="coerce") if hit is not None
                      else pd.Series(np.nan, index=frame.index))
    out = pd.DataFrame(cols)
    for k, (name, options) in enumerate(_WB_IDS.items(), start=1):
        hit = next((canon[o] for o in options if o in canon), None)
        # a 19-digit source_id stays a string (a float would round it); without one the
        # J2016.0 position names the component (the same star in two pairs has the same)
        out[name] = (frame[hit].astype(str).to_numpy() if hit is not None else
                     [f"{r:.9f}{d:+.9f}" for r, d in zip(out[f"ra{k}"], out[f"dec{k}"],
                                                         strict=True)])
    return out


def _wb_components(wb: pd.DataFrame) -> pd.DataFrame:
    """The pairs' components as Gaia sources (one row per distinct source)."""
    parts = [pd.DataFrame({"source_id": wb[f"source_id{k}"], "ra": wb[f"ra{k}"],
                           "dec": wb[f"dec{k}"], "pmra": wb[f"pmra{k}"],
                           "pmdec": wb[f"pmdec{k}"],
                           "phot_g_mean_mag": wb[f"phot_g_mean_mag{k}"],
                           "parallax": wb[f"parallax{k}"]}) for k in (1, 2)]
    return pd.concat(parts, ignore_index=True).drop_duplicates("source_id")


def wide_binary_constraints(ra_deg: float, dec_deg: float, radius_arcsec: float
                            ) -> dict[str, str]:
    """VizieR constraints (ASU ``min..max``) on the second component's position.

    The catalogue's position (what a cone search matches) is the first component's, so a
    host that is the second component is found by a box on ``RA2deg``/``DE2deg`` around
    it (the exact distance is checked afterwards). A box crossing RA = 0 is cut at 0/360.
    """
    r = radius_arcsec / 3600.0
    dra = min(r / max(np.cos(np.radians(dec_deg)), 1e-9), 180.0)
    return {"RA2deg": f"{max(ra_deg - dra, 0.0):.7f}..{min(ra_deg + dra, 360.0):.7f}",
            "DE2deg": f"{max(dec_deg - r, -90.0):.7f}..{min(dec_deg + r, 90.0):.7f}"}


def query_wide_binary_companions(hosts: pd.DataFrame, *, radius_arcsec: float = 3.0,
                                 max_chance_align: float = 0.1,
                                 vizier: object | None = None) -> pd.DataFrame:
    """The companions of :func:`query_wide_binary_companions_with_report` (same arguments)."""
    return query_wide_binary_companions_with_report(
        hosts, radius_arcsec=radius_arcsec, max_chance_align=max_chance_align,
        vizier=vizier)[0]


def query_wide_binary_companions_with_report(
        hosts: pd.DataFrame, *, radius_arcsec: float = 3.0, max_chance_align: float = 0.1,
        vizier: object | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide stellar companions of the hosts in El-Badry et al. (2021) (needs the network).

    For each host (``hostname``, ``ra``, ``dec`` in degrees and ``sy_gaiamag``, e.g. from
    :func:`read_host_multiplicity`), the pairs with a component near the host are fetched
    from VizieR (astroquery): a cone search, which matches the first component, and a
    query on the second component's position (:func:`wide_binary_constraints`), both
    widened for proper motion (:func:`~vlms_bayes.data_io.gaia_match.search_radius_arcsec`,
    179 arcsec for a 3 arcsec radius: the catalogue's positions are at epoch 2016.0, the
    host's may be J2000.0). The host's own component is then found as the Gaia source
    whose proper-motion track passes within ``radius_arcsec`` of the host's position and
    whose G agrees with ``sy_gaiamag``
    (:func:`~vlms_bayes.data_io.gaia_match.match_gaia_sources`; the catalogue's
    ``pmRA``/``pmDE``/``Gmag`` of each component). The other component of its pairs is the
    companion, kept when the catalogue's chance-alignment measure R is below
    ``max_chance_align`` (the authors' recommended cut is 0.1); the closest such companion
    (smallest projected separation) is the perturber. The catalogue gives no masses, so
    ``m_out_msun`` is left empty (NaN):
    :func:`vlms_bayes.feasibility.perturbers.perturber_table` then draws it from the host
    class's mass-ratio distribution.

    Parameters
    ----------
    hosts : pandas.DataFrame
        Columns ``hostname``, ``ra``, ``dec`` (one row per host; duplicates ignored), and
        ``sy_gaiamag`` for the G check.
    radius_arcsec : float
        Match radius around the host's position (along each component's track).
    max_chance_align : float
        Largest accepted R (``R_chance_align``).
    vizier : astroquery.vizier.Vizier-like, optional
        Object with ``query_region(coordinates, radius=, catalog=)`` and
        ``query_constraints(catalog=, **constraints)``; default a
        ``Vizier(columns=["**"], row_limit=-1)`` (tests pass a recorded reply).

    Returns
    -------
    companions : pandas.DataFrame
        Columns of :data:`COMPANION_COLUMNS` (projected separations), one row per host
        with a companion.
    report : pandas.DataFrame
        Per host with a pair in its cone, the match of the host to a component
        (:data:`~vlms_bayes.data_io.gaia_match.REPORT_COLUMNS`).

    Raises
    ------
    DataUnavailableError
        Offline with no ``vizier`` given, or the query failed.
    """
    import astropy.units as u  # heavy: astropy
    from astropy.coordinates import SkyCoord  # heavy: astropy

    if vizier is None:
        if offline():
            raise DataUnavailableError(
                f"Wide binaries not looked up (offline): the VizieR query of {EL_BADRY_2021} "
                "(El-Badry et al. 2021) needs the network; describe the companions with "
                "--companions, or run without --offline.")
        from astroquery.vizier import Vizier  # heavy: astroquery

        vizier = Vizier(columns=["**"], row_limit=-1)
    require_columns(hosts, ("hostname", "ra", "dec"), what="The host positions",
                    fix="Give the hosts' hostname, ra and dec (deg), and sy_gaiamag.")
    cone = gaia_match.search_radius_arcsec(radius_arcsec)
    rows, reports = [], []
    h_all = hosts.drop_duplicates("hostname").reset_index(drop=True)
    for i, h in enumerate(h_all.itertuples()):
        if not (np.isfinite(h.ra) and np.isfinite(h.dec)):
            continue
        here = SkyCoord(h.ra * u.deg, h.dec * u.deg)
        try:
            reply = list(vizier.query_region(  # type: ignore[attr-defined]
                here, radius=cone * u.arcsec, catalog=EL_BADRY_2021_TABLE) or [])
            reply += list(vizier.query_constraints(  # type: ignore[attr-defined]
                catalog=EL_BADRY_2021_TABLE,
                **wide_binary_constraints(float(h.ra), float(h.dec), cone)) or [])
        except (OSError, ConnectionError) as exc:
            raise DataUnavailableError(
                f"The VizieR query of {EL_BADRY_2021} around {h.hostname} failed ({exc}); "
                "describe the companions with --companions or retry later.") from exc
        reply = [t for t in reply if len(t)]
        if not reply:
            continue
        wb = pd.concat([_wb_frame(t) for t in reply], ignore_index=True)
        report = gaia_match.match_gaia_sources(
            _wb_components(wb), h_all.iloc[[i]], radius_arcsec=radius_arcsec,
            what=f"The wide-binary reply from VizieR {EL_BADRY_2021}")
        reports.append(report)
        sid = report.loc[0, "source_id"]
        if sid is None:
            continue
        wb = wb[((wb["source_id1"] == sid) | (wb["source_id2"] == sid))
                & (wb["r_chance_align"] < max_chance_align)]
        if wb.empty:
            continue
        best = wb.loc[wb["sep_au"].idxmin()]
        rows.append({"hostname": h.hostname, "m_out_msun": np.nan, "m_out_err_msun": 0.0,
                     "sep_au": float(best["sep_au"]), "sep_err_au": 0.0,
                     "sep_kind": "projected",
                     "source": f"El-Badry et al. 2021 (Gaia EDR3 wide binaries), "
                               f"R_chance_align = {float(best['r_chance_align']):.2g}"})
    report = (pd.concat(reports, ignore_index=True) if reports
              else pd.DataFrame(columns=list(gaia_match.REPORT_COLUMNS)))
    return pd.DataFrame(rows, columns=list(COMPANION_COLUMNS)), report
