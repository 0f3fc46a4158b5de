"""Matching hosts to Gaia sources: proper-motion tracks, the G check and the report.

The Gaia rows are hand-built with the data-model column names (no recordings of the live
archive). The high-proper-motion case uses Barnard's star's real numbers: SIMBAD's ICRS
position at epoch J2000.0 (17 57 48.498 +04 41 36.21), the PSCompPars snapshot's position
(a Gaia DR2 position, epoch J2015.5) and Gaia DR3 4472832130942575872 (J2016.0 position,
pmra = -801.551, pmdec = 10362.394 mas/yr, G = 8.196).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.data_io import gaia_match as gm
from vlms_bayes.errors import InputDataError

BARNARD_GAIA = {"source_id": 4472832130942575872, "ra": 269.44850253, "dec": 4.73942005,
                "pmra": -801.551, "pmdec": 10362.394, "parallax": 546.976,
                "phot_g_mean_mag": 8.1956}
BARNARD_J2000 = {"hostname": "Barnard's star", "ra": 269.452075, "dec": 4.693391,
                 "sy_gaiamag": 8.195}
BARNARD_PSCOMPPARS = {"hostname": "Barnard's star", "ra": 269.4486144, "dec": 4.7379808,
                      "sy_gaiamag": 8.19511}


def _offset(ra_deg, dec_deg, east_arcsec, north_arcsec):
    """A position offset on the sky (astropy), for building the test rows."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    c = SkyCoord(ra_deg * u.deg, dec_deg * u.deg).spherical_offsets_by(
        east_arcsec * u.arcsec, north_arcsec * u.arcsec)
    return float(c.ra.deg), float(c.dec.deg)


def test_search_radius_allows_barnards_star_over_sixteen_years():
    assert gm.search_radius_arcsec(3.0) == pytest.approx(3.0 + 11.0 * 16.0)
    # Barnard's star's own displacement J2000 -> J2016 fits inside it
    pm = np.hypot(BARNARD_GAIA["pmra"], BARNARD_GAIA["pmdec"]) / 1000.0
    assert pm * 16.0 < gm.search_radius_arcsec(3.0) - 3.0


def test_track_separation_finds_the_epoch_of_a_propagated_position():
    import astropy.units as u
    from astropy.coordinates import Distance, SkyCoord
    from astropy.time import Time

    g = BARNARD_GAIA
    c = SkyCoord(g["ra"] * u.deg, g["dec"] * u.deg, distance=Distance(parallax=g["parallax"]
                                                                      * u.mas),
                 pm_ra_cosdec=g["pmra"] * u.mas / u.yr, pm_dec=g["pmdec"] * u.mas / u.yr,
                 obstime=Time(2016.0, format="jyear"))
    at2008 = c.apply_space_motion(new_obstime=Time(2008.0, format="jyear"))
    # a host position 1 arcsec east of the 2008 position: closest approach 1 arcsec, in 2008
    ra, dec = _offset(at2008.ra.deg, at2008.dec.deg, 1.0, 0.0)
    sep, epoch = gm.track_separation(np.array([ra]), np.array([dec]), np.array([g["ra"]]),
                                     np.array([g["dec"]]), np.array([g["pmra"]]),
                                     np.array([g["pmdec"]]), np.array([g["parallax"]]))
    assert sep[0] == pytest.approx(1.0, abs=0.01) and epoch[0] == pytest.approx(2008.0,
                                                                                abs=0.01)
    # the same host 150 arcsec from the J2016 position: a fixed-position match misses it
    host = SkyCoord(ra * u.deg, dec * u.deg)
    assert host.separation(SkyCoord(g["ra"] * u.deg, g["dec"] * u.deg)).arcsec > 80.0


@pytest.mark.parametrize("host, epoch", [(BARNARD_J2000, 2000.0),
                                         (BARNARD_PSCOMPPARS, 2015.5)])
def test_high_proper_motion_host_is_found_at_its_catalogue_epoch(host, epoch):
    sources = pd.DataFrame([BARNARD_GAIA])
    rep = gm.match_gaia_sources(sources, pd.DataFrame([host]))
    r = rep.iloc[0]
    assert r["source_id"] == 4472832130942575872 and r["method"] == "track+G"
    assert r["sep_arcsec"] < 0.5 and r["epoch"] == pytest.approx(epoch, abs=0.1)
    assert abs(r["delta_g_mag"]) < 0.01 and r["note"] == ""
    # without the proper motion (a two-parameter solution) it is compared at J2016 only and
    # is more than 3 arcsec away: no match, which is the position-only answer
    still = gm.match_gaia_sources(sources.assign(pmra=np.nan, pmdec=np.nan),
                                  pd.DataFrame([host]))
    assert still.loc[0, "source_id"] is None and still.loc[0, "n_candidates"] == 0


def _trappist_like_field():
    """A host moving 1 arcsec/yr (TRAPPIST-1-like, G = 15.6) given at J2000, and a faint,
    slow background star 1.5 arcsec from that J2000 position."""
    host = {"hostname": "M", "ra": 346.62, "dec": -5.04, "sy_gaiamag": 15.65}
    ra16, dec16 = _offset(host["ra"], host["dec"], 16 * 0.9222, 16 * -0.4717)
    true = {"source_id": 1001, "ra": ra16, "dec": dec16, "pmra": 922.2, "pmdec": -471.7,
            "parallax": 80.2, "phot_g_mean_mag": 15.64}
    bra, bdec = _offset(host["ra"], host["dec"], 1.2, 0.9)
    background = {"source_id": 2002, "ra": bra, "dec": bdec, "pmra": 3.1, "pmdec": -2.0,
                  "parallax": 0.4, "phot_g_mean_mag": 19.8}
    return host, true, background


def test_a_faint_background_star_near_the_position_is_not_taken_for_the_host():
    host, true, background = _trappist_like_field()
    rep = gm.match_gaia_sources(pd.DataFrame([background, true]), pd.DataFrame([host]))
    r = rep.iloc[0]
    assert r["source_id"] == 1001 and r["n_candidates"] == 2 and r["n_g_consistent"] == 1
    assert r["epoch"] == pytest.approx(2000.0, abs=0.1) and r["note"] == ""
    # the background star alone: within 3 arcsec, but its G rules it out, and the report
    # says why nothing was matched
    alone = gm.match_gaia_sources(pd.DataFrame([background]), pd.DataFrame([host])).iloc[0]
    assert alone["source_id"] is None and alone["method"] == "none"
    assert "none with G within 0.5 mag" in alone["note"] and "2002" in alone["note"]
    assert "not matched" in alone["note"]


def test_two_sources_agreeing_in_g_are_flagged_as_ambiguous():
    host, true, _ = _trappist_like_field()
    ra, dec = _offset(host["ra"], host["dec"], -2.0, 0.5)
    twin = {"source_id": 3003, "ra": ra, "dec": dec, "pmra": 0.0, "pmdec": 0.0,
            "phot_g_mean_mag": 15.9}
    r = gm.match_gaia_sources(pd.DataFrame([twin, true]), pd.DataFrame([host])).iloc[0]
    assert r["source_id"] == 1001  # the nearer of the two
    assert r["n_g_consistent"] == 2 and "ambiguous: 2 sources" in r["note"]
    lines = gm.match_lines(pd.DataFrame([r]), "Gaia DR3 NSS match")
    assert lines == [f"Gaia DR3 NSS match, M: {r['note']}"]
    rec = gm.match_record(pd.DataFrame([r]))
    assert rec[0]["source_id"] == "1001" and rec[0]["n_candidates"] == 2


def test_without_sy_gaiamag_the_match_is_by_position_and_says_so():
    host, true, background = _trappist_like_field()
    r = gm.match_gaia_sources(pd.DataFrame([background, true]),
                              pd.DataFrame([host]).drop(columns="sy_gaiamag")).iloc[0]
    # the nearest track (the host's own, 0 arcsec at J2000) is taken, and the note says
    # that G was not compared and that another source was near
    assert r["source_id"] == 1001 and r["method"] == "track, position only"
    assert "sy_gaiamag unknown" in r["note"] and "ambiguous: 2 sources" in r["note"]


@pytest.mark.parametrize("drop, frame", [("ra", "hosts"), ("hostname", "hosts"),
                                         ("source_id", "sources"), ("dec", "sources")])
def test_missing_columns_are_named(drop, frame):
    host, true, _ = _trappist_like_field()
    hosts, sources = pd.DataFrame([host]), pd.DataFrame([true])
    if frame == "hosts":
        hosts = hosts.drop(columns=drop)
    else:
        sources = sources.drop(columns=drop)
    with pytest.raises(InputDataError, match=rf"lacks the column\(s\) {drop}"):
        gm.match_gaia_sources(sources, hosts)


def test_bad_settings_are_refused():
    host, true, _ = _trappist_like_field()
    with pytest.raises(InputDataError, match="epoch range"):
        gm.match_gaia_sources(pd.DataFrame([true]), pd.DataFrame([host]),
                              epochs=(2016.0, 2000.0))
    with pytest.raises(InputDataError, match="G tolerance"):
        gm.match_gaia_sources(pd.DataFrame([true]), pd.DataFrame([host]), g_tolerance_mag=0)


def test_the_gaia_rv_query_and_catalogue_carry_the_proper_motion():
    from vlms_bayes.data_io.gaia import PASSTHROUGH_COLUMNS, build_adql_query

    select = build_adql_query().split("FROM")[0]
    assert "pmra" in select and "pmdec" in select and "phot_g_mean_mag" in select
    assert {"pmra", "pmdec"} <= set(PASSTHROUGH_COLUMNS)  # kept in the scored catalogue
