"""Match the sample's hosts to Gaia DR3 sources, allowing for proper motion and checking G.

The hosts' positions come from PSCompPars (``ra``, ``dec``). Their epoch is not uniform:
many are J2000.0 positions, many are Gaia DR2 positions at J2015.5. Gaia DR3 positions are
at J2016.0. The sample's hosts are nearby M dwarfs, and many move fast (Barnard's star
10.4 arcsec/yr, Proxima Cen 3.9 arcsec/yr, TRAPPIST-1 1.0 arcsec/yr): over up to 16 years
they move far more than a few arcsec, so a match by position alone misses them, or picks a
neighbour.

:func:`match_gaia_sources` therefore does what an astronomer does by hand:

1. **Track.** Each Gaia source's own proper motion (``pmra``, ``pmdec``) carries its J2016.0
   position back through the epochs the host's catalogue position may have
   (:data:`CATALOGUE_EPOCHS`, J2000.0 to J2016.0), with astropy's
   :meth:`~astropy.coordinates.SkyCoord.apply_space_motion`; the separation that counts is the
   smallest one over that range (the closest approach of the source's track to the host's
   position, and the epoch where it happens). A source is a candidate when that separation
   is at most ``radius_arcsec``. A source without a proper motion (a two-parameter Gaia
   solution) is compared at its J2016.0 position only, and the report says so.
2. **Magnitude.** Among the candidates, the host is the one whose Gaia G
   (``phot_g_mean_mag``) agrees with the host's ``sy_gaiamag`` (PSCompPars) within
   ``g_tolerance_mag`` (:data:`G_TOLERANCE_MAG`); a faint background star that happens to lie
   near the track is not taken for the host. Where neither G is known the nearest candidate
   is taken, and the report says that the match is by position only.
3. **Report.** One row per host: the source taken (or none), the separation at the best
   epoch, that epoch, ΔG, the number of candidates and of G-consistent candidates, and a note
   whenever the choice was not clean (several candidates agree, no candidate agrees in G, no
   proper motion, no G). Nothing is picked silently.

A cone search on the archive must be wide enough for this: :func:`search_radius_arcsec`
widens the match radius by the largest proper motion of any star
(:data:`MAX_PROPER_MOTION_ARCSEC_YR`) over the epoch range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vlms_bayes.data_io.schema import require_columns
from vlms_bayes.errors import InputDataError

#: Epoch of the Gaia DR3 positions (Julian year; Gaia Collaboration, Vallenari et al. 2023,
#: A&A 674, A1).
GAIA_DR3_EPOCH = 2016.0
#: Range of epochs (Julian years) a host's catalogue position may have: J2000.0 positions
#: and Gaia DR2 (J2015.5) or DR3 (J2016.0) positions are all inside it.
CATALOGUE_EPOCHS: tuple[float, float] = (2000.0, 2016.0)
#: Largest proper motion assumed when a cone around a host's catalogue position is widened
#: (arcsec/yr): Barnard's star, the star of largest proper motion, has 10.39 arcsec/yr in
#: Gaia DR3 (source 4472832130942575872: pmra = -801.6, pmdec = 10362.4 mas/yr; Gaia
#: Collaboration, Vallenari et al. 2023), rounded up.
MAX_PROPER_MOTION_ARCSEC_YR = 11.0
#: Default match radius (arcsec) between a host's position and a Gaia source's track.
MATCH_RADIUS_ARCSEC = 3.0
#: Largest |G(Gaia) - sy_gaiamag| (mag) for a source to be taken as the host. PSCompPars
#: ``sy_gaiamag`` is a Gaia DR2 or DR3 G; the two releases' G agree to a few hundredths of a
#: mag for single stars, so 0.5 mag leaves room for variability and calibration, while a
#: background star or a companion of different brightness stands out.
G_TOLERANCE_MAG = 0.5
#: Distance (pc) assumed for a source without a positive parallax when its position is
#: propagated. With no radial velocity the motion is taken as tangential, and the distance
#: enters the propagated position only through second-order perspective terms (well below
#: a milliarcsec over 16 years).
_NOMINAL_DISTANCE_PC = 10.0
#: Largest tangential speed (km/s) a propagation may imply: a farther distance (a tiny or
#: spurious parallax) is brought in to it, for the reason above; ERFA's ``pmsafe``, which
#: astropy calls, would otherwise override the distance itself, with a warning, above about
#: 1 % of c.
_MAX_TANGENTIAL_KM_S = 1000.0

#: Columns of the per-host report (:func:`match_gaia_sources`).
REPORT_COLUMNS: tuple[str, ...] = (
    "hostname", "source_id", "sep_arcsec", "epoch", "delta_g_mag", "n_candidates",
    "n_g_consistent", "method", "note")


def search_radius_arcsec(radius_arcsec: float, *,
                         epochs: tuple[float, float] = CATALOGUE_EPOCHS,
                         max_proper_motion_arcsec_yr: float = MAX_PROPER_MOTION_ARCSEC_YR
                         ) -> float:
    """Cone radius that finds a source moving at up to the largest proper motion (pure).

    ``radius_arcsec + max_proper_motion_arcsec_yr * max(|epoch - 2016.0|)``: with the
    defaults 3 + 11 x 16 = 179 arcsec.
    """
    lag = max(abs(GAIA_DR3_EPOCH - float(e)) for e in epochs)
    return float(radius_arcsec) + float(max_proper_motion_arcsec_yr) * lag


def _check_epochs(epochs: tuple[float, float]) -> tuple[float, float]:
    e0, e1 = (float(e) for e in epochs)
    if not (np.isfinite(e0) and np.isfinite(e1) and e0 <= e1):
        raise InputDataError(f"The epoch range of the hosts' positions {epochs} must be two "
                             "finite Julian years, the earlier first (e.g. (2000.0, 2016.0)).")
    return e0, e1


def track_separation(host_ra_deg: np.ndarray, host_dec_deg: np.ndarray,
                     ra_deg: np.ndarray, dec_deg: np.ndarray, pmra_mas_yr: np.ndarray,
                     pmdec_mas_yr: np.ndarray, parallax_mas: np.ndarray | None = None, *,
                     epochs: tuple[float, float] = CATALOGUE_EPOCHS
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Closest approach of Gaia sources' tracks to host positions, pair by pair.

    Parameters
    ----------
    host_ra_deg, host_dec_deg : numpy.ndarray
        Host positions (deg), one per pair.
    ra_deg, dec_deg : numpy.ndarray
        Gaia positions at J2016.0 (deg), one per pair.
    pmra_mas_yr, pmdec_mas_yr : numpy.ndarray
        Gaia proper motions (``pmra`` includes cos dec), mas/yr; NaN: no proper motion
        (the source is compared at J2016.0).
    parallax_mas : numpy.ndarray, optional
        Parallaxes (mas), for the distance of the propagation (10 pc for sources without
        one; with no radial velocity the distance only enters at second order).
    epochs : tuple of float
        Earliest and latest epoch (Julian years) of the hosts' positions.

    Returns
    -------
    sep_arcsec, epoch : numpy.ndarray
        The smallest separation over the epoch range and the epoch where it is reached.

    Notes
    -----
    astropy propagates each source to both ends of the range; the closest point of the
    (straight, over 16 years and a few arcmin) track is found in the host's tangent plane
    from the two ends' offsets (:meth:`~astropy.coordinates.SkyCoord.spherical_offsets_to`),
    and the source is propagated to that epoch to measure the separation exactly.
    """
    import astropy.units as u  # heavy: astropy
    from astropy.coordinates import Distance, SkyCoord  # heavy: astropy
    from astropy.time import Time  # heavy: astropy

    e0, e1 = _check_epochs(epochs)
    n = len(np.atleast_1d(ra_deg))
    if n == 0:
        return np.zeros(0), np.zeros(0)
    pmra = np.asarray(pmra_mas_yr, float)
    pmdec = np.asarray(pmdec_mas_yr, float)
    moving = np.isfinite(pmra) & np.isfinite(pmdec)
    plx = (np.full(n, np.nan) if parallax_mas is None else np.asarray(parallax_mas, float))
    dist_pc = np.where(np.isfinite(plx) & (plx > 0), 1000.0 / np.where(plx > 0, plx, 1.0),
                       _NOMINAL_DISTANCE_PC)
    mu = np.hypot(np.where(moving, pmra, 0.0), np.where(moving, pmdec, 0.0)) * u.mas / u.yr
    with np.errstate(divide="ignore"):
        far = (_MAX_TANGENTIAL_KM_S * u.km / u.s / mu).to_value(u.pc, u.dimensionless_angles())
    dist_pc = np.minimum(dist_pc, far)
    gaia = SkyCoord(ra=np.asarray(ra_deg, float) * u.deg, dec=np.asarray(dec_deg, float) * u.deg,
                    distance=Distance(dist_pc * u.pc),
                    pm_ra_cosdec=np.where(moving, pmra, 0.0) * u.mas / u.yr,
                    pm_dec=np.where(moving, pmdec, 0.0) * u.mas / u.yr,
                    obstime=Time(GAIA_DR3_EPOCH, format="jyear"))
    host = SkyCoord(np.asarray(host_ra_deg, float) * u.deg,
                    np.asarray(host_dec_deg, float) * u.deg)

    def at(epoch: np.ndarray) -> SkyCoord:
        moved = gaia.apply_space_motion(new_obstime=Time(epoch, format="jyear"))
        return SkyCoord(moved.ra, moved.dec)  # the position only, in the host's frame

    start = host.spherical_offsets_to(at(np.full(n, e0)))
    end = host.spherical_offsets_to(at(np.full(n, e1)))
    p0 = np.stack([start[0].to_value(u.arcsec), start[1].to_value(u.arcsec)])
    d = np.stack([end[0].to_value(u.arcsec), end[1].to_value(u.arcsec)]) - p0
    dd = np.sum(d * d, axis=0)
    frac = np.where(dd > 0, -np.sum(p0 * d, axis=0) / np.where(dd > 0, dd, 1.0), 1.0)
    epoch = e0 + np.clip(frac, 0.0, 1.0) * (e1 - e0)
    epoch = np.where(moving, epoch, GAIA_DR3_EPOCH)
    sep = host.separation(at(epoch)).to_value(u.arcsec)
    return np.asarray(sep, float), np.asarray(epoch, float)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(float)


def match_gaia_sources(sources: pd.DataFrame, hosts: pd.DataFrame, *,
                       radius_arcsec: float = MATCH_RADIUS_ARCSEC,
                       epochs: tuple[float, float] = CATALOGUE_EPOCHS,
                       g_tolerance_mag: float = G_TOLERANCE_MAG,
                       what: str = "The Gaia table") -> pd.DataFrame:
    """Which Gaia source is each host (proper-motion track, then G), with a report.

    Parameters
    ----------
    sources : pandas.DataFrame
        Gaia sources: ``source_id``, ``ra``, ``dec`` (deg, J2016.0) required; ``pmra``,
        ``pmdec`` (mas/yr), ``phot_g_mean_mag`` and ``parallax`` used where present (a
        missing column is treated as unknown values and the report says so). Several rows
        of one ``source_id`` (e.g. several NSS solutions) count as one source.
    hosts : pandas.DataFrame
        ``hostname``, ``ra``, ``dec`` (deg) required; ``sy_gaiamag`` (PSCompPars Gaia G)
        used where present. Hosts without a finite position are left out.
    radius_arcsec : float
        Largest separation between the host's position and the source's track.
    epochs : tuple of float
        Earliest and latest epoch (Julian years) of the hosts' positions.
    g_tolerance_mag : float
        Largest |ΔG| for a source to be taken as the host when both magnitudes are known.
    what : str
        Name of ``sources`` in error messages.

    Returns
    -------
    pandas.DataFrame
        :data:`REPORT_COLUMNS`, one row per host with a position: ``source_id`` (None when
        no source is taken), ``sep_arcsec`` and ``epoch`` (closest approach of its track),
        ``delta_g_mag`` (G(Gaia) - sy_gaiamag), ``n_candidates`` (sources whose track passes
        within the radius), ``n_g_consistent``, ``method`` (``"track+G"``,
        ``"track, position only"``, ``"none"``) and ``note`` ("" when the choice is clean).

    Raises
    ------
    InputDataError
        If a required column is missing, or the radius, tolerance or epochs are not valid.
    """
    import astropy.units as u  # heavy: astropy
    from astropy.coordinates import SkyCoord, search_around_sky  # heavy: astropy

    if not radius_arcsec > 0:
        raise InputDataError(f"The Gaia match radius {radius_arcsec} arcsec must be positive.")
    if not g_tolerance_mag > 0:
        raise InputDataError(f"The G tolerance {g_tolerance_mag} mag must be positive.")
    epochs = _check_epochs(epochs)
    require_columns(hosts, ("hostname", "ra", "dec"), what="The host positions",
                    fix="Give the hosts' PSCompPars rows (hostname, ra, dec in degrees, and "
                        "sy_gaiamag for the G check).")
    require_columns(sources, ("source_id", "ra", "dec"), what=what,
                    fix="Give Gaia DR3 rows with source_id and the J2016.0 ra, dec (deg), "
                        "with pmra, pmdec and phot_g_mean_mag for a robust match.")
    h = hosts.drop_duplicates("hostname").reset_index(drop=True)
    h_ra, h_dec, h_g = _column(h, "ra"), _column(h, "dec"), _column(h, "sy_gaiamag")
    keep_h = np.isfinite(h_ra) & np.isfinite(h_dec)
    h, h_ra, h_dec, h_g = h[keep_h].reset_index(drop=True), h_ra[keep_h], h_dec[keep_h], \
        h_g[keep_h]
    src = sources.drop_duplicates("source_id").reset_index(drop=True)
    s_ra, s_dec = _column(src, "ra"), _column(src, "dec")
    keep_s = np.isfinite(s_ra) & np.isfinite(s_dec)
    src = src[keep_s].reset_index(drop=True)
    names = h["hostname"].astype(str).tolist()
    rows: list[list[object]] = [[name, None, np.nan, np.nan, np.nan, 0, 0, "none", ""]
                                for name in names]
    if h.empty or src.empty:
        return _report(rows)
    s_ra, s_dec = s_ra[keep_s], s_dec[keep_s]
    c_host = SkyCoord(h_ra * u.deg, h_dec * u.deg)
    c_src = SkyCoord(s_ra * u.deg, s_dec * u.deg)
    wide = search_radius_arcsec(radius_arcsec, epochs=epochs)
    ih, js, _, _ = search_around_sky(c_host, c_src, wide * u.arcsec)
    if len(ih) == 0:
        return _report(rows)
    pmra, pmdec = _column(src, "pmra")[js], _column(src, "pmdec")[js]
    sep, epoch = track_separation(h_ra[ih], h_dec[ih], s_ra[js], s_dec[js], pmra, pmdec,
                                  _column(src, "parallax")[js], epochs=epochs)
    pairs = pd.DataFrame({"ih": ih, "js": js, "sep": sep, "epoch": epoch,
                          "moving": np.isfinite(pmra) & np.isfinite(pmdec),
                          "dg": _column(src, "phot_g_mean_mag")[js] - h_g[ih]})
    pairs = pairs[pairs["sep"] <= radius_arcsec].sort_values(["ih", "sep"])
    ids = src["source_id"].to_numpy()
    for i, grp in pairs.groupby("ih", sort=True):
        rows[int(i)] = _choose(grp, ids, bool(np.isfinite(h_g[int(i)])), g_tolerance_mag,
                               radius_arcsec, names[int(i)])
    return _report(rows)


def _report(rows: list[list[object]]) -> pd.DataFrame:
    """The report frame; ``source_id`` kept as objects (no float round-off of 19 digits)."""
    out = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    out["source_id"] = pd.Series([r[1] for r in rows], index=out.index, dtype=object)
    return out


def _choose(grp: pd.DataFrame, ids: np.ndarray, host_has_g: bool, tol: float,
            radius: float, hostname: str) -> list[object]:
    """The report row of one host from its candidates (sorted by separation)."""
    n = len(grp)
    known = grp[np.isfinite(grp["dg"])]
    agree = known[np.abs(known["dg"]) <= tol]
    notes = []
    if host_has_g and not known.empty:
        if agree.empty:
            near = known.iloc[0]
            note = (f"{n} Gaia source(s) within {radius:g} arcsec of the track, none with G "
                    f"within {tol:g} mag of sy_gaiamag (nearest: {ids[int(near['js'])]}, "
                    f"{near['sep']:.2f} arcsec, ΔG = {near['dg']:+.2f} mag): not matched")
            return [hostname, None, np.nan, np.nan, np.nan, n, 0, "none", note]
        best, method = agree.iloc[0], "track+G"
        if len(agree) > 1:
            notes.append(f"ambiguous: {len(agree)} sources within {radius:g} arcsec agree in G "
                         f"within {tol:g} mag; took the nearest")
        unknown = n - len(known)
        if unknown:
            notes.append(f"{unknown} candidate(s) without G not compared")
    else:
        best, method = grp.iloc[0], "track, position only"
        notes.append("no G to compare (" + ("sy_gaiamag" if not host_has_g else
                                              "phot_g_mean_mag") + " unknown)")
        if n > 1:
            notes.append(f"ambiguous: {n} sources within {radius:g} arcsec; took the nearest")
    if not bool(best["moving"]):
        notes.append("no proper motion: compared at J2016.0 only")
    return [hostname, ids[int(best["js"])], float(best["sep"]), float(best["epoch"]),
            float(best["dg"]), n, len(agree), method, "; ".join(notes)]


def match_lines(report: pd.DataFrame, label: str) -> list[str]:
    """One summary line per host whose match has a note (ambiguous, rejected, ...)."""
    noted = report[report["note"].astype(str) != ""]
    return [f"{label}, {r.hostname}: {r.note}" for r in noted.itertuples()]


def match_record(report: pd.DataFrame) -> list[dict[str, object]]:
    """JSON-ready report of the hosts with at least one candidate (``run.json``)."""
    rows = report[report["n_candidates"] > 0]
    out = []
    for r in rows.itertuples():
        out.append({"hostname": r.hostname,
                    "source_id": None if r.source_id is None else str(r.source_id),
                    "sep_arcsec": None if not np.isfinite(r.sep_arcsec) else
                    round(float(r.sep_arcsec), 3),
                    "epoch": None if not np.isfinite(r.epoch) else round(float(r.epoch), 2),
                    "delta_g_mag": None if not np.isfinite(r.delta_g_mag) else
                    round(float(r.delta_g_mag), 3),
                    "n_candidates": int(r.n_candidates), "n_g_consistent":
                    int(r.n_g_consistent), "method": r.method, "note": r.note})
    return out
