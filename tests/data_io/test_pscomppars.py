"""PSCompPars: ADQL builder, archive call (no network), file reader and validation."""

import json

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.table import MaskedColumn, QTable

from vlms_bayes.data_io import pscomppars as psm
from vlms_bayes.errors import DataUnavailableError, InputDataError


def test_build_query_window_and_reference():
    q = psm.build_query(mstar_min=0.06, mstar_max=0.2, reference="TOI-6894 b")
    assert q.table == "pscomppars"
    assert q.where == "((st_mass >= 0.06 AND st_mass <= 0.2) OR pl_name = 'TOI-6894 b')"
    cols = q.select.split(",")
    for c in ("pl_bmassj", "pl_bmassjerr1", "pl_bmassjlim", "pl_bmassprov", "pl_orbsmax",
              "pl_orbper", "pl_orbeccen", "pl_orbeccenlim", "discoverymethod", "st_met",
              "st_metratio", "st_rad", "st_masserr2"):
        assert c in cols
    assert q.adql.startswith("SELECT pl_name,") and " FROM pscomppars WHERE " in q.adql


def test_build_query_quotes_and_rejects_empty_window():
    assert "'O''Brien b'" in psm.build_query(reference="O'Brien b").where
    assert "OR" not in psm.build_query(reference=None).where
    with pytest.raises(InputDataError, match="empty"):
        psm.build_query(mstar_min=0.3, mstar_max=0.1)


def _fake_reply():
    t = QTable()
    t["pl_name"] = ["A b", "B c"]
    t["hostname"] = ["A", "B"]
    t["discoverymethod"] = ["Transit", "Radial Velocity"]
    t["st_mass"] = [0.1, 0.15] * u.M_sun
    t["pl_bmassj"] = [0.5, 2.0] * u.M_jup
    t["pl_bmassprov"] = ["Mass", "Msini"]
    t["pl_orbsmax"] = [0.02, 1.1] * u.AU
    t["pl_orbper"] = [2.0, 400.0] * u.day
    t["pl_orbeccen"] = MaskedColumn([0.0, 0.3], mask=[True, False])
    return t


def test_query_archive_with_monkeypatched_transport(monkeypatch):
    from astroquery.ipac.nexsci import nasa_exoplanet_archive as nea

    seen = {}

    def fake_query_criteria(*, table, select, where):
        seen.update(table=table, select=select, where=where)
        return _fake_reply()

    monkeypatch.setattr(nea.NasaExoplanetArchive, "query_criteria", fake_query_criteria)
    q = psm.build_query()
    frame = psm.query_archive(q)
    assert seen == {"table": "pscomppars", "select": q.select, "where": q.where}
    assert frame["st_mass"].tolist() == [0.1, 0.15]
    assert np.isnan(frame.loc[0, "pl_orbeccen"]) and frame.loc[1, "pl_orbeccen"] == 0.3
    assert frame["pl_bmassprov"].tolist() == ["Mass", "Msini"]


def test_archive_failure_says_how_to_work_offline(monkeypatch):
    from astroquery.ipac.nexsci import nasa_exoplanet_archive as nea

    def boom(**kw):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(nea.NasaExoplanetArchive, "query_criteria", boom)
    with pytest.raises(DataUnavailableError, match="--ps FILE"):
        psm.query_archive(psm.build_query())


def test_load_caches_query_with_date(online, monkeypatch):
    from astroquery.ipac.nexsci import nasa_exoplanet_archive as nea

    from vlms_bayes.data_io.files import cache_dir

    calls = []
    monkeypatch.setattr(nea.NasaExoplanetArchive, "query_criteria",
                        lambda **kw: calls.append(kw) or _fake_reply())
    first = psm.load_pscomppars()
    second = psm.load_pscomppars()
    assert len(calls) == 1 and first.origin == "archive"
    assert second.origin == "cache (cached query)"
    assert second.query_date == first.query_date
    meta = json.loads(next(cache_dir().glob("pscomppars_query_*.json")).read_text())
    assert meta["adql"] == psm.build_query().adql
    psm.load_pscomppars(refresh=True)
    assert len(calls) == 2


def test_unreachable_archive_falls_back_to_the_embedded_snapshot(online, monkeypatch):
    from astroquery.ipac.nexsci import nasa_exoplanet_archive as nea

    from vlms_bayes.data_io.files import PS_SNAPSHOT, REGISTRY

    def boom(**kw):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(nea.NasaExoplanetArchive, "query_criteria", boom)
    got = psm.load_pscomppars()
    rec = got.provenance()
    assert rec["origin"] == "embedded snapshot" and rec["date"] == "2025-08-07"
    assert rec["sha256"] == REGISTRY[PS_SNAPSHOT].sha256 and "NEA13" in rec["citation"]
    assert (got.frame["pl_name"] == "TOI-6894 b").sum() == 1
    # --refresh asks for the archive: its failure is an error, not older data
    with pytest.raises(DataUnavailableError, match="--ps FILE"):
        psm.load_pscomppars(refresh=True)


def test_data_folder_snapshot_comes_before_the_archive(online, monkeypatch, ps_snapshot):
    from astroquery.ipac.nexsci import nasa_exoplanet_archive as nea

    monkeypatch.setattr(nea.NasaExoplanetArchive, "query_criteria",
                        lambda **kw: pytest.fail("the archive was queried"))
    got = psm.load_pscomppars(data_dir_=ps_snapshot.parent)
    assert (got.origin, got.path, got.query_date) == ("data folder", ps_snapshot, "2025-08-07")


def test_refresh_while_offline_is_an_error(online, monkeypatch):
    monkeypatch.setenv("VLMS_BAYES_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match="offline"):
        psm.load_pscomppars(refresh=True)


def test_reads_archive_csv_with_and_without_header(ps_snapshot, tmp_path):
    plain = psm.read_pscomppars_csv(ps_snapshot)
    with_header = tmp_path / "ps.csv"
    with_header.write_text("# This file was produced by the NASA Exoplanet Archive\n"
                           "# COLUMN pl_name: Planet Name\n#\n" + ps_snapshot.read_text())
    again = psm.read_pscomppars_csv(with_header)
    pd.testing.assert_frame_equal(plain, again)


def _write(tmp_path, frame, name="ps.csv"):
    p = tmp_path / name
    frame.to_csv(p, index=False)
    return p


def _minimal(**over):
    base = {"pl_name": ["X b", "Y b"], "hostname": ["X", "Y"],
            "discoverymethod": ["Transit", "Transit"], "st_mass": [0.1, 0.12],
            "pl_bmassj": [0.3, 1.0], "pl_bmassprov": ["Mass", "Mass"],
            "pl_orbsmax": [0.02, 0.05], "pl_orbper": [2.0, 5.0], "pl_orbeccen": [0.1, 0.0]}
    base.update(over)
    return pd.DataFrame(base)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (_minimal().drop(columns=["pl_bmassj", "pl_orbeccen"]),
         r"lacks the required column\(s\) pl_bmassj, pl_orbeccen.*must provide at least"),
        (_minimal(pl_bmassj=["heavy", 1.0]), r"pl_bmassj has non-numeric values at line 2 \(X b\)"),
        (_minimal(pl_bmassj=[-0.3, 1.0]), r"pl_bmassj must be positive.*line 2 \(X b\)"),
        (_minimal(pl_orbeccen=[1.2, 0.0]), r"pl_orbeccen must lie in \[0, 1\).*line 2 \(X b\)"),
    ],
)
def test_bad_files_give_specific_errors(tmp_path, frame, match):
    with pytest.raises(InputDataError, match=match):
        psm.load_pscomppars(path=_write(tmp_path, frame))


def test_missing_and_non_csv_files(tmp_path):
    with pytest.raises(InputDataError, match="does not exist"):
        psm.load_pscomppars(path=tmp_path / "nope.csv")
    binary = tmp_path / "x.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputDataError, match="not a readable CSV"):
        psm.load_pscomppars(path=binary)
    one_col = tmp_path / "y.csv"
    one_col.write_text("hello\nworld\n")
    with pytest.raises(InputDataError, match=r"does not look like a CSV|lacks the required"):
        psm.load_pscomppars(path=one_col)


def test_bad_eccentricity_outside_window_is_ignored(ps_snapshot):
    # KOI-351 h has e = -0.011 in the snapshot (host 1.2 Msun): irrelevant to VLMS hosts
    data = psm.load_pscomppars(path=ps_snapshot)
    assert (data.frame["pl_orbeccen"] < 0).sum() == 1
    with pytest.raises(InputDataError, match="KOI-351 h"):
        psm.load_pscomppars(path=ps_snapshot, mstar_min=1.0, mstar_max=1.5)


def test_error_line_numbers_count_the_comment_header(tmp_path):
    p = tmp_path / "ps.csv"
    p.write_text("# archive header\n# second line\n" + _minimal(pl_bmassj=[0.3, -1.0])
                 .to_csv(index=False))
    # header on line 3, first data row on line 4, the bad row (Y b) on line 5
    with pytest.raises(InputDataError, match=r"pl_bmassj must be positive.*line 5 \(Y b\)"):
        psm.load_pscomppars(path=p)
