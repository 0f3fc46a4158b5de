"""Gaia inputs of the known-perturber table: DR3 NSS orbits and the hosts' RV p-values.

:func:`gather_gaia_inputs` turns the options of ``vlms-bayes feasibility`` / ``run``
(``--gaia-nss``, ``--gaia-nss-file FILE``, ``--gaia-rv-catalogue FILE``) into the NSS rows
matched to the sample's hosts (converted into perturbers by
:func:`vlms_bayes.feasibility.nss_orbits.nss_perturbers`) and the hosts' ``rv_pval``. An
archive query that cannot run (offline, or the archive fails) leaves a note in the summary
instead of stopping the run; a bad file is an error.

Gaia rows are attached to a host when they are the host's Gaia source
(:func:`vlms_bayes.data_io.gaia_match.match_gaia_sources`): the source's proper-motion track
passes within the match radius of the host's catalogue position at some epoch between
J2000.0 and J2016.0, and its G agrees with the host's PSCompPars ``sy_gaiamag``. Each
match's separation, epoch, ΔG and number of candidates go to ``run.json``
(``record["nss"]["matches"]``, ``record["rv_catalogue"]["matches"]``), and a line of the
summary says so wherever the choice was not clean (ambiguous, no candidate agreeing in G).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vlms_bayes.data_io import gaia_match, gaia_nss
from vlms_bayes.data_io.companions import (
    EL_BADRY_2021_TABLE,
    query_wide_binary_companions_with_report,
)
from vlms_bayes.data_io.files import sha256_of
from vlms_bayes.errors import DataUnavailableError, InputDataError

log = logging.getLogger(__name__)

#: Value of ``nss`` that queries the Gaia archive.
QUERY = "query"
#: Columns of the hosts' positions passed to the match (``sy_gaiamag`` for its G check).
HOST_POSITION_COLUMNS: tuple[str, ...] = ("hostname", "ra", "dec", "sy_gaiamag")
#: Discovery method whose hosts (lenses) are not looked up in Gaia.
MICROLENSING = "Microlensing"


@dataclass(frozen=True)
class GaiaPerturberOptions:
    """Where the Gaia inputs of the perturber table come from.

    Attributes
    ----------
    nss : str, optional
        ``"query"`` (the Gaia archive, network) or the path of a saved
        ``gaiadr3.nss_two_body_orbit`` table; None: no NSS orbits.
    rv_catalogue : str, optional
        Scored Gaia RV catalogue (``vlms-bayes gaia-rv score``) for the hosts' ``rv_pval``.
    radius_arcsec : float
        Match radius between a host's catalogue position and a Gaia source's
        proper-motion track (archive cones are widened for the proper motion).
    wide_binaries : bool
        Look the hosts up in the wide-binary catalogue of El-Badry et al. (2021) (VizieR,
        network).
    """

    nss: str | None = None
    rv_catalogue: str | None = None
    radius_arcsec: float = gaia_nss.MATCH_RADIUS_ARCSEC
    wide_binaries: bool = False

    def check(self) -> None:
        """Raise :class:`InputDataError` for a missing file or a bad radius."""
        if not self.radius_arcsec > 0:
            raise InputDataError(f"The Gaia match radius {self.radius_arcsec} arcsec must be "
                                 "positive.")
        for what, p in (("Gaia NSS table", self.nss), ("scored Gaia RV catalogue",
                                                       self.rv_catalogue)):
            if p is not None and p != QUERY and not Path(p).exists():
                raise InputDataError(f"The {what} {p} does not exist.")

    @property
    def active(self) -> bool:
        """Whether any Gaia input is asked for."""
        return self.nss is not None or self.rv_catalogue is not None or self.wide_binaries


@dataclass
class GaiaPerturberInputs:
    """NSS rows matched to hosts, the hosts' RV p-values, and notes for the summary."""

    orbits: pd.DataFrame | None = None
    rv_pvalues: dict[str, float] = field(default_factory=dict)
    wide: pd.DataFrame | None = None
    lines: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


def gather_gaia_inputs(options: GaiaPerturberOptions, hosts: pd.DataFrame | None, *,
                       gaia: Any | None = None, vizier: Any | None = None
                       ) -> GaiaPerturberInputs:
    """Read or query the Gaia inputs for the hosts.

    Parameters
    ----------
    options : GaiaPerturberOptions
        What to read or query.
    hosts : pandas.DataFrame or None
        ``hostname``, ``ra``, ``dec`` (deg) and ``sy_gaiamag`` (Gaia G, for the check of the
        match) of the hosts (None: no positions known, so only a saved NSS table with a
        ``hostname`` column can be used).
    gaia : astroquery.gaia.Gaia-like, optional
        Stand-in for the archive (tests).
    vizier : astroquery.vizier.Vizier-like, optional
        Stand-in for VizieR (tests).

    Returns
    -------
    GaiaPerturberInputs
    """
    res = GaiaPerturberInputs()
    pos = (hosts if hosts is not None
           else pd.DataFrame(columns=["hostname", "ra", "dec", "sy_gaiamag"]))
    if "lens" in pos.columns:
        lenses = pos.loc[pos["lens"].astype(bool), "hostname"].astype(str).tolist()
        pos = pos.loc[~pos["lens"].astype(bool)].drop(columns="lens")
        if lenses and options.active:
            res.record["left_out_lenses"] = lenses
            res.lines.append(
                f"Gaia lookups leave out {len(lenses)} host(s) known only as microlensing "
                "lenses: a lens 1-8 kpc away is rarely a resolved Gaia source, so the Gaia "
                "source nearest its position is usually the lensed source star or a "
                "neighbour in a crowded bulge field, not the host")
    match = {"radius_arcsec": options.radius_arcsec,
             "epochs": list(gaia_match.CATALOGUE_EPOCHS),
             "g_tolerance_mag": gaia_match.G_TOLERANCE_MAG}
    if options.nss == QUERY:
        res.record["nss"] = {"source": f"Gaia archive, {gaia_nss.NSS_TABLE} joined with "
                                       f"{gaia_nss.GAIA_SOURCE_TABLE}",
                             "cone_radius_arcsec": gaia_match.search_radius_arcsec(
                                 options.radius_arcsec),
                             "max_proper_motion_arcsec_yr":
                                 gaia_match.MAX_PROPER_MOTION_ARCSEC_YR, **match}
        raw = _looked_up(res, "nss", "Gaia DR3 NSS orbits", lambda: gaia_nss.query_nss_orbits(
            pos, radius_arcsec=options.radius_arcsec, gaia=gaia))
        if raw is not None:
            _match_nss(res, raw, pos, options)
    elif options.nss is not None:
        raw = gaia_nss.read_nss_file(options.nss)
        if "hostname" not in raw.columns and hosts is None:
            raise InputDataError(f"The Gaia NSS table {options.nss} has no hostname column "
                                 "and the hosts' positions are unknown: add a hostname "
                                 "column.")
        res.record["nss"] = {"path": str(Path(options.nss).resolve()),
                             "sha256": sha256_of(options.nss), **match}
        _match_nss(res, raw, pos, options)
    if options.wide_binaries:
        res.record["wide_binaries"] = {"source": f"VizieR {EL_BADRY_2021_TABLE} (El-Badry, "
                                                 "Rix & Heintz 2021)",
                                       "cone_radius_arcsec": gaia_match.search_radius_arcsec(
                                           options.radius_arcsec), **match}
        found = _looked_up(res, "wide_binaries", "Gaia EDR3 wide binaries",
                           lambda: query_wide_binary_companions_with_report(
                               pos, radius_arcsec=options.radius_arcsec, vizier=vizier))
        if found is not None:
            wide, report = found
            res.wide = wide
            res.record["wide_binaries"]["companions"] = len(wide)
            res.record["wide_binaries"]["matches"] = gaia_match.match_record(report)
            res.lines.append(
                f"Gaia EDR3 wide binaries (El-Badry et al. 2021, {EL_BADRY_2021_TABLE}, R < "
                f"0.1): {len(res.wide)} of {pos['hostname'].nunique()} hosts have a wide "
                "companion (projected separation; mass from the q prior)")
            res.lines.extend(gaia_match.match_lines(report, "Gaia EDR3 wide-binary match"))
    if options.rv_catalogue is not None:
        cat = gaia_nss.read_rv_pvalues(options.rv_catalogue)
        m, report = gaia_nss.match_positions_with_report(
            cat, pos, radius_arcsec=options.radius_arcsec)
        res.rv_pvalues = {str(h): float(p) for h, p in zip(m["hostname"], m["rv_pval"],
                                                          strict=True)}
        p = Path(options.rv_catalogue)
        res.record["rv_catalogue"] = {"path": str(p.resolve()),
                                      "sha256": None if p.is_dir() else sha256_of(p),
                                      "matched_hosts": len(res.rv_pvalues), **match,
                                      "matches": gaia_match.match_record(report)}
        motion = ("" if {"pmra", "pmdec"} <= set(cat.columns) else
                  "; the catalogue has no pmra/pmdec, so its sources were compared at their "
                  "J2016.0 positions only")
        res.lines.append(f"Gaia RV p-values from {p.name}: {len(res.rv_pvalues)} of "
                         f"{pos['hostname'].nunique()} hosts matched (track within "
                         f"{options.radius_arcsec:g} arcsec over J2000-J2016, G within "
                         f"{gaia_match.G_TOLERANCE_MAG:g} mag){motion}")
        res.lines.extend(gaia_match.match_lines(report, "Gaia RV catalogue match"))
    return res


def _match_nss(res: GaiaPerturberInputs, raw: pd.DataFrame, pos: pd.DataFrame,
               options: GaiaPerturberOptions) -> None:
    """Attach the NSS rows to the hosts; the counts, the report and its notes to ``res``."""
    res.orbits, report = gaia_nss.match_nss_with_report(raw, pos,
                                                        radius_arcsec=options.radius_arcsec)
    res.record["nss"].update({"rows": len(raw), "matched": len(res.orbits),
                              "matches": gaia_match.match_record(report)})
    res.lines.extend(gaia_match.match_lines(report, "Gaia DR3 NSS match"))


def sample_host_positions(sample: pd.DataFrame, multiplicity: pd.DataFrame) -> pd.DataFrame:
    """``hostname``, ``ra``, ``dec``, ``sy_gaiamag`` of the sample's kept hosts.

    The hosts are those of the rows the perturber table keeps. With the sample's
    ``discoverymethod``, a column ``lens`` marks the hosts all of whose kept companions
    were found by microlensing (:func:`gather_gaia_inputs` does not match them to Gaia).

    Parameters
    ----------
    sample : pandas.DataFrame
        Stacked rows; only ``in_window`` and ``is_reference`` rows when those columns exist.
    multiplicity : pandas.DataFrame
        :func:`vlms_bayes.data_io.companions.read_host_multiplicity` (positions per planet).
    """
    keep = pd.Series(True, index=sample.index)
    if "in_window" in sample.columns:
        keep = sample["in_window"].astype(bool)
        if "is_reference" in sample.columns:
            keep = keep | sample["is_reference"].astype(bool)
    names = set(sample.loc[keep, "hostname"].astype(str))
    pos = multiplicity[multiplicity["hostname"].astype(str).isin(names)]
    cols = [c for c in HOST_POSITION_COLUMNS if c in pos.columns]
    out = pos[cols].drop_duplicates("hostname").reset_index(drop=True)
    if "discoverymethod" in sample.columns:  # hosts known only as microlensing lenses
        out["lens"] = mark_lenses(out["hostname"], sample.loc[keep])
    return out


def mark_lenses(hostnames: pd.Series, rows: pd.DataFrame) -> pd.Series:
    """Whether each host is known only as a microlensing lens.

    A host is a lens when every one of its companions in ``rows`` was found by
    microlensing (``discoverymethod``); hosts without rows, or rows without the column,
    are not.

    Parameters
    ----------
    hostnames : pandas.Series
        The hosts to mark.
    rows : pandas.DataFrame
        Companions with ``hostname`` and, where known, ``discoverymethod``.

    Returns
    -------
    pandas.Series
        Booleans on the index of ``hostnames``.
    """
    if "discoverymethod" not in rows.columns or rows.empty:
        return pd.Series(False, index=hostnames.index)
    lens = rows.groupby(rows["hostname"].astype(str))["discoverymethod"].agg(
        lambda m: bool((m.astype(str) == MICROLENSING).all()))
    return hostnames.astype(str).map(lens).fillna(False).astype(bool)


def _looked_up[T](res: GaiaPerturberInputs, key: str, label: str,
                  query: Callable[[], T]) -> T | None:
    """Run an online lookup; when the service is unavailable, note it and return None.

    ``res.record[key]["looked_up"]`` says which happened; the note goes to ``res.lines``.
    """
    try:
        out = query()
    except DataUnavailableError as exc:
        log.warning("%s", exc)
        res.lines.append(f"{label}: {exc}")
        res.record[key]["looked_up"] = False
        return None
    res.record[key]["looked_up"] = True
    return out
