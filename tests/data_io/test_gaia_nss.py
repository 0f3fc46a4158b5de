"""Gaia DR3 NSS orbits: ADQL, offline behaviour, saved tables and the match to hosts.

The replies are small tables built here with the data-model column names (not recordings of
the live archive); the expected matches follow from the positions given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.data_io import gaia_nss as g
from vlms_bayes.errors import DataUnavailableError, InputDataError

HOSTS = pd.DataFrame({"hostname": ["H1", "H2"], "ra": [10.0, 200.0], "dec": [-20.0, 30.0]})


def _reply():
    from astropy.table import Table

    # one solution 1 arcsec from H1 (0.000278 deg in dec), one 20 arcsec from H2; both
    # slow (a few mas/yr), so their tracks stay where they are
    return Table({"SOURCE_ID": [11, 22], "nss_solution_type": [b"Orbital", b"SB1"],
                  "ra": [10.0, 200.0], "dec": [-20.0 + 1 / 3600, 30.0 + 20 / 3600],
                  "pmra": [2.0, -3.0], "pmdec": [1.0, 4.0], "phot_g_mean_mag": [12.1, 14.0],
                  "period": [500.0, 30.0], "parallax": [50.0, 10.0]})


class _RecordedGaia:
    """Stands in for ``astroquery.gaia.Gaia``: returns a fixed reply, records the ADQL."""

    def __init__(self, table):
        self.table, self.queries = table, []

    def launch_job(self, adql):
        self.queries.append(adql)
        outer = self

        class _Job:
            def get_results(self):
                return outer.table

        return _Job()


def test_adql_is_a_cone_on_the_nss_table_joined_with_gaia_source():
    q = g.nss_cone_adql(10.0, -20.0, 3.6)
    assert f"FROM {g.NSS_TABLE} AS nss JOIN gaiadr3.gaia_source AS gs ON gs.source_id = " \
        "nss.source_id" in q
    assert "POINT('ICRS', gs.ra, gs.dec), CIRCLE('ICRS', 10.00000000, -20.00000000, " \
        "0.00100000)" in q
    assert "nss.a_thiele_innes_error" in q and "nss.semi_amplitude_primary" in q
    assert "gs.pmra, gs.pmdec, gs.phot_g_mean_mag" in q
    with pytest.raises(InputDataError, match="finite position"):
        g.nss_cone_adql(np.nan, 0.0, 3.0)


def test_offline_query_says_not_looked_up(monkeypatch):
    monkeypatch.setenv("VLMS_BAYES_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match=r"not looked up \(offline\)"):
        g.query_nss_orbits(HOSTS)


def test_query_then_match_keeps_the_close_solution():
    gaia = _RecordedGaia(_reply())
    raw = g.query_nss_orbits(HOSTS, gaia=gaia)
    assert len(gaia.queries) == 2  # one cone per host
    # the cone is widened for proper motion: 3 + 11 arcsec/yr x 16 yr = 179 arcsec
    assert all(f"{179 / 3600:.8f}))" in q for q in gaia.queries)
    # the recorded reply comes back for both cones, once in the result; the match keeps
    # what lies near each host
    assert len(raw) == 2 and "hostname" not in raw.columns
    m = g.match_nss_to_hosts(raw, HOSTS)
    assert set(m["source_id"]) == {11} and set(m["hostname"]) == {"H1"}
    assert m.loc[0, "nss_solution_type"] == "Orbital"  # bytes decoded
    assert m.loc[0, "match_sep_arcsec"] == pytest.approx(1.0, abs=0.05)
    wide = g.match_nss_to_hosts(raw, HOSTS, radius_arcsec=30.0)
    assert set(wide["source_id"]) == {11, 22}


def test_a_reply_without_the_motion_columns_is_an_error_naming_them():
    reply = _reply()
    reply.remove_columns(["pmra", "phot_g_mean_mag"])
    with pytest.raises(InputDataError, match=r"lacks the column\(s\) pmra, phot_g_mean_mag"):
        g.query_nss_orbits(HOSTS, gaia=_RecordedGaia(reply))


def test_saved_table_with_hostname_and_errors(tmp_path):
    p = tmp_path / "nss.csv"
    p.write_text("hostname,source_id,nss_solution_type,period,parallax\n"
                 "H2,5,SB1,12.5,8\nX,6,SB1,3,8\n")
    f = g.read_nss_file(p)
    m = g.match_nss_to_hosts(f, HOSTS)
    assert list(m["source_id"]) == [5] and m.loc[0, "period"] == 12.5
    bad = tmp_path / "bad.csv"
    bad.write_text("source_id,nss_solution_type,period,ra,dec\n1,SB1,abc,1,2\n")
    with pytest.raises(InputDataError, match="row 1: period = 'abc'"):
        g.read_nss_file(bad)
    nopos = tmp_path / "nopos.csv"
    nopos.write_text("source_id,nss_solution_type,period\n1,SB1,3\n")
    with pytest.raises(InputDataError, match="neither a hostname column nor ra"):
        g.read_nss_file(nopos)
    with pytest.raises(InputDataError, match="lacks the"):
        g.read_nss_file(_write(tmp_path, "x.csv", "source_id,ra,dec\n1,2,3\n"))


def test_rows_with_and_without_hostname_are_both_matched(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_text("hostname,source_id,nss_solution_type,period,ra,dec\n"
                 f"H2,5,SB1,12.5,,\n,6,SB1,3,10.0,{-20 + 1 / 3600}\n,7,SB1,3,80,80\n")
    m = g.match_nss_to_hosts(g.read_nss_file(p), HOSTS)
    assert list(m["source_id"]) == [5, 6] and list(m["hostname"]) == ["H2", "H1"]


def test_saved_votable_is_read(tmp_path):
    p = tmp_path / "nss.xml"
    _reply().write(p, format="votable")
    f = g.read_nss_file(p)
    assert list(f["source_id"]) == [11, 22] and list(f["nss_solution_type"]) == ["Orbital",
                                                                                 "SB1"]


def test_match_positions_one_row_per_host():
    cat = pd.DataFrame({"source_id": [1, 2, 3], "ra": [10.0, 10.0, 50.0],
                        "dec": [-20.0 + 0.5 / 3600, -20.0 + 2.5 / 3600, 0.0],
                        "rv_pval": [0.2, 1e-5, 0.5]})
    m = g.match_positions(cat, HOSTS)
    assert list(m["hostname"]) == ["H1"] and m.loc[0, "source_id"] == 1
    # with proper motions and G: Barnard's star's RV p-value found from its J2000 position
    bar = pd.DataFrame([{**{k: BARNARD_DR3[k] for k in ("source_id", "ra", "dec", "pmra",
                                                         "pmdec", "phot_g_mean_mag")},
                         "rv_pval": 0.4}])
    m, report = g.match_positions_with_report(pd.concat([cat, bar], ignore_index=True),
                                              pd.concat([HOSTS, BARNARD_J2000]))
    assert list(m["hostname"]) == ["H1", "Barnard's star"]
    assert list(m["rv_pval"]) == [0.2, 0.4]
    assert report.set_index("hostname").loc["H2", "source_id"] is None


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


# Barnard's star: SIMBAD's ICRS position at epoch J2000.0 (17 57 48.498 +04 41 36.21) and
# Gaia DR3 4472832130942575872 at J2016.0 with its proper motion and G; the two positions
# are 166 arcsec apart. The NSS solution attached to it is made up.
BARNARD_J2000 = pd.DataFrame({"hostname": ["Barnard's star"], "ra": [269.452075],
                              "dec": [4.693391], "sy_gaiamag": [8.195]})
BARNARD_DR3 = {"source_id": 4472832130942575872, "nss_solution_type": "SB1",
               "ra": 269.44850253, "dec": 4.73942005, "pmra": -801.551, "pmdec": 10362.394,
               "parallax": 546.976, "phot_g_mean_mag": 8.1956, "period": 233.0}


def test_high_proper_motion_host_is_matched_from_a_j2000_position():
    nss = pd.DataFrame([BARNARD_DR3])
    m = g.match_nss_to_hosts(nss, BARNARD_J2000)
    assert list(m["hostname"]) == ["Barnard's star"]
    assert m.loc[0, "source_id"] == 4472832130942575872
    assert m.loc[0, "match_sep_arcsec"] < 0.5
    assert m.loc[0, "match_epoch"] == pytest.approx(2000.0, abs=0.1)
    assert m.loc[0, "match_note"] == ""


def test_a_background_star_near_the_host_position_does_not_get_its_orbit(tmp_path):
    # host given at J2000, moving 1 arcsec/yr (TRAPPIST-1-like, G = 15.65); a faint slow
    # background star with an SB1 solution 1.5 arcsec from that position, and the host's
    # own Gaia source (J2016.0, 18 arcsec away) with an orbital solution
    host = pd.DataFrame({"hostname": ["M"], "ra": [346.62], "dec": [-5.04],
                         "sy_gaiamag": [15.65]})
    cos = np.cos(np.radians(-5.04))
    p = tmp_path / "nss.csv"
    p.write_text("source_id,nss_solution_type,period,ra,dec,pmra,pmdec,phot_g_mean_mag\n"
                 f"2002,SB1,4.1,{346.62 + 1.2 / 3600 / cos},{-5.04 + 0.9 / 3600},3.1,-2.0,19.8\n"
                 f"1001,Orbital,600,{346.62 + 16 * 0.9222 / 3600 / cos},"
                 f"{-5.04 - 16 * 0.4717 / 3600},922.2,-471.7,15.64\n")
    m = g.match_nss_to_hosts(g.read_nss_file(p), host)
    assert list(m["source_id"]) == [1001] and list(m["hostname"]) == ["M"]
    _, report = g.match_nss_with_report(g.read_nss_file(p), host)
    assert report.loc[0, "n_candidates"] == 2 and report.loc[0, "n_g_consistent"] == 1
