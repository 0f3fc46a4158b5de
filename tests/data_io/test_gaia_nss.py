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

    # one solution 1 arcsec from H1 (0.000278 deg in dec), one 20 arcsec from H2
    return Table({"SOURCE_ID": [11, 22], "nss_solution_type": [b"Orbital", b"SB1"],
                  "ra": [10.0, 200.0], "dec": [-20.0 + 1 / 3600, 30.0 + 20 / 3600],
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


def test_adql_is_a_cone_on_the_nss_table():
    q = g.nss_cone_adql(10.0, -20.0, 3.6)
    assert f"FROM {g.NSS_TABLE}" in q and "CIRCLE('ICRS', 10.00000000, -20.00000000, " \
        "0.00100000)" in q
    assert "a_thiele_innes_error" in q and "semi_amplitude_primary" in q
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
    # the recorded reply comes back for both cones; the match keeps what lies near each host
    m = g.match_nss_to_hosts(raw.drop(columns="hostname"), HOSTS)
    assert set(m["source_id"]) == {11} and set(m["hostname"]) == {"H1"}
    assert m.loc[0, "nss_solution_type"] == "Orbital"  # bytes decoded
    wide = g.match_nss_to_hosts(raw.drop(columns="hostname"), HOSTS, radius_arcsec=30.0)
    assert set(wide["source_id"]) == {11, 22}


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


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p
