"""Gaia inputs of the perturber table as the commands gather them (no network)."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.errors import InputDataError
from vlms_bayes.pipeline import gaia_perturbers as gp


def test_sample_host_positions_keeps_the_window_and_the_reference():
    sample = pd.DataFrame({"hostname": ["A", "B", "C"], "in_window": [True, False, False],
                           "is_reference": [False, True, False]})
    mult = pd.DataFrame({"pl_name": ["A b", "A c", "B b", "C b"],
                         "hostname": ["A", "A", "B", "C"], "ra": [1.0, 1.0, 2.0, 3.0],
                         "dec": [0.0, 0.0, 0.0, 0.0], "sy_gaiamag": [12.0, 12.0, 9.0, 8.0]})
    pos = gp.sample_host_positions(sample, mult)
    # the host's Gaia G travels with its position, for the check of the Gaia match
    assert list(pos["hostname"]) == ["A", "B"] and list(pos.columns) == ["hostname", "ra",
                                                                          "dec", "sy_gaiamag"]
    assert list(pos["sy_gaiamag"]) == [12.0, 9.0]


def test_microlensing_lenses_are_not_matched_to_gaia(tmp_path):
    """A host known only as a microlensing lens is flagged and left out of the Gaia match
    (the nearest Gaia source would be the lensed star or a neighbour), with a line."""
    sample = pd.DataFrame({"hostname": ["L", "M", "M"], "in_window": [True, True, True],
                           "discoverymethod": ["Microlensing", "Microlensing", "Transit"]})
    mult = pd.DataFrame({"pl_name": ["L b", "M b", "M c"], "hostname": ["L", "M", "M"],
                         "ra": [270.0, 10.0, 10.0], "dec": [-29.0, 0.0, 0.0],
                         "sy_gaiamag": [np.nan, 12.0, 12.0]})
    pos = gp.sample_host_positions(sample, mult)
    assert dict(zip(pos["hostname"], pos["lens"], strict=True)) == {"L": True, "M": False}
    # a Gaia RV catalogue with a source exactly at the lens's position
    rv = tmp_path / "cat.csv"
    rv.write_text("source_id,ra,dec,rv_pval,phot_g_mean_mag\n7,270.0,-29.0,0.001,16.0\n"
                  "8,10.0,0.0,0.4,12.0\n")
    res = gp.gather_gaia_inputs(gp.GaiaPerturberOptions(rv_catalogue=str(rv)), pos)
    assert set(res.rv_pvalues) == {"M"}
    assert res.record["left_out_lenses"] == ["L"]
    assert any("microlensing lenses" in ln for ln in res.lines)


def test_gather_reads_a_saved_table_and_the_rv_pvalues(tmp_path, monkeypatch):
    nss = tmp_path / "nss.csv"
    # one solution 1 arcsec from host A, one far from everything; host B (2 arcsec/yr) is
    # given at J2000, 24 arcsec from its J2016 Gaia position, and has an SB1 solution too
    nss.write_text("source_id,nss_solution_type,period,ra,dec,pmra,pmdec,phot_g_mean_mag\n"
                   f"1,SB1,30,10.0,{1 / 3600},5,5,12.02\n2,SB1,30,50.0,0.0,1,1,10\n"
                   f"3,SB1,7,20.0,{24 / 3600},0,1500,11.0\n")
    rv = tmp_path / "cat.csv"
    # without proper motions the catalogue is matched at J2016.0 only, and the line says so
    rv.write_text("source_id,ra,dec,rv_pval,phot_g_mean_mag\n1,10.0,0.0,0.3,12.02\n")
    hosts = pd.DataFrame({"hostname": ["A", "B"], "ra": [10.0, 20.0], "dec": [0.0, 0.0],
                          "sy_gaiamag": [12.0, 11.1]})
    res = gp.gather_gaia_inputs(gp.GaiaPerturberOptions(nss=str(nss), rv_catalogue=str(rv)),
                                hosts)
    assert list(res.orbits["source_id"]) == [1, 3]
    assert list(res.orbits["hostname"]) == ["A", "B"]
    assert res.rv_pvalues == {"A": 0.3}
    assert res.record["nss"]["matched"] == 2 and len(res.record["nss"]["sha256"]) == 64
    matches = {m["hostname"]: m for m in res.record["nss"]["matches"]}
    assert matches["B"]["epoch"] == pytest.approx(2000.0, abs=0.1)
    assert matches["A"]["delta_g_mag"] == pytest.approx(0.02) and matches["A"]["note"] == ""
    assert res.record["nss"]["g_tolerance_mag"] == 0.5
    assert res.lines == ["Gaia RV p-values from cat.csv: 1 of 2 hosts matched (track within 3 "
                         "arcsec over J2000-J2016, G within 0.5 mag); the catalogue has no "
                         "pmra/pmdec, so its sources were compared at their J2016.0 "
                         "positions only",
                         "Gaia RV catalogue match, A: no proper motion: compared at J2016.0 "
                         "only"]
    monkeypatch.setenv("VLMS_BAYES_OFFLINE", "1")
    off = gp.gather_gaia_inputs(gp.GaiaPerturberOptions(nss=gp.QUERY), hosts)
    assert off.orbits is None and "not looked up (offline)" in off.lines[0]
    assert off.record["nss"]["looked_up"] is False
    with pytest.raises(InputDataError, match="does not exist"):
        gp.GaiaPerturberOptions(nss=str(tmp_path / "missing.csv")).check()


class _Gaia:
    """Gaia archive stand-in: a hand-built reply (data-model names, not a recording) with
    the NSS solution of host H's own source, 30 arcsec from H's J2000 position because H
    moves 2 arcsec/yr, and one of a brighter star 2 arcsec from that position."""

    def __init__(self):
        from astropy.table import Table

        self.queries = []
        self.table = Table({"source_id": [7, 8], "nss_solution_type": ["Orbital", "SB1"],
                            "ra": [30.0, 30.0], "dec": [30 / 3600, 2 / 3600],
                            "pmra": [0.0, 1.0], "pmdec": [1875.0, 1.0],
                            "phot_g_mean_mag": [13.3, 9.0], "period": [800.0, 5.0],
                            "parallax": [90.0, 3.0]})

    def launch_job(self, adql):
        self.queries.append(adql)
        return types.SimpleNamespace(get_results=lambda: self.table)


def test_gather_queries_a_wide_cone_and_keeps_the_hosts_own_source():
    hosts = pd.DataFrame({"hostname": ["H"], "ra": [30.0], "dec": [0.0],
                          "sy_gaiamag": [13.25]})
    gaia = _Gaia()
    res = gp.gather_gaia_inputs(gp.GaiaPerturberOptions(nss=gp.QUERY), hosts, gaia=gaia)
    assert list(res.orbits["source_id"]) == [7] and list(res.orbits["hostname"]) == ["H"]
    rec = res.record["nss"]
    assert rec["looked_up"] is True and rec["cone_radius_arcsec"] == 179.0
    assert rec["max_proper_motion_arcsec_yr"] == 11.0 and rec["rows"] == 2
    assert rec["matches"][0]["n_candidates"] == 2 and rec["matches"][0]["source_id"] == "7"
    assert "gs.pmra" in gaia.queries[0] and res.lines == []


class _Vizier:
    """VizieR stand-in: one synthetic pair (VizieR names of J/MNRAS/506/2269/catalog)
    whose first component is host A; no recording of the live service."""

    def __init__(self):
        from astropy.table import Table

        self.table = Table({"RAdeg": [10.0], "DEdeg": [0.0], "RA2deg": [10.01],
                            "DE2deg": [0.0], "sepAU": [1200.0], "R": [0.02]})

    def query_region(self, coords, radius, catalog):
        return [self.table] if abs(coords.ra.deg - 10.0) < 1e-6 else []

    def query_constraints(self, catalog, **constraints):
        return []


def test_gather_finds_wide_binary_companions(monkeypatch):
    hosts = pd.DataFrame({"hostname": ["A", "B"], "ra": [10.0, 20.0], "dec": [0.0, 0.0]})
    opts = gp.GaiaPerturberOptions(wide_binaries=True)
    assert opts.active
    res = gp.gather_gaia_inputs(opts, hosts, vizier=_Vizier())
    assert list(res.wide["hostname"]) == ["A"] and list(res.wide["sep_au"]) == [1200.0]
    assert res.orbits is None and res.record["wide_binaries"]["companions"] == 1
    assert "1 of 2 hosts have a wide companion" in res.lines[0]
    monkeypatch.setenv("VLMS_BAYES_OFFLINE", "1")
    off = gp.gather_gaia_inputs(opts, hosts)
    assert off.wide is None and "Wide binaries not looked up (offline)" in off.lines[0]
    assert off.record["wide_binaries"]["looked_up"] is False


class _ConeVizier:
    """VizieR stand-in that honours the cone radius and the box constraints, over a
    hand-built reply with the catalogue's VizieR names (not a recording)."""

    def __init__(self, table):
        self.table, self.radii = table, []

    def query_region(self, coords, radius, catalog):
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        self.radii.append(radius.to_value("arcsec"))
        t = self.table
        d = coords.separation(SkyCoord(t["RAdeg"] * u.deg, t["DEdeg"] * u.deg)).arcsec
        return [t[d <= radius.to_value("arcsec")]]

    def query_constraints(self, catalog, **constraints):
        t, keep = self.table, np.ones(len(self.table), bool)
        for col, rng in constraints.items():
            lo, hi = map(float, rng.split(".."))
            keep &= (np.asarray(t[col]) >= lo) & (np.asarray(t[col]) <= hi)
        return [t[keep]]


def test_wide_binaries_follow_the_hosts_proper_motion_and_check_g():
    from astropy.table import Table

    # host W given at J2000 (30, 10), moving 2 arcsec/yr north (G = 12.5): its Gaia source
    # 11 is 32 arcsec north at J2016, with a companion 12 (1500 AU). A faint background
    # star 21 (G = 19.9) lies 1.5 arcsec from W's J2000 position, in a pair of its own with
    # a closer separation (50 AU): a position-only match at J2016 would find only that one
    cos = np.cos(np.radians(10.0))
    table = Table({
        "Source1": [11, 21], "Source2": [12, 22],
        "RAdeg": [30.0, 30.0 + 1.5 / 3600 / cos], "DEdeg": [10.0 + 32 / 3600, 10.0],
        "RA2deg": [30.0 + 20 / 3600 / cos, 30.0 + 5 / 3600 / cos],
        "DE2deg": [10.0 + 32 / 3600, 10.0],
        "pmRA1": [0.0, 1.0], "pmDE1": [2000.0, -2.0], "pmRA2": [0.0, 1.0],
        "pmDE2": [2000.0, -2.0], "Gmag1": [12.52, 19.9], "Gmag2": [15.0, 20.3],
        "Plx1": [60.0, 0.5], "Plx2": [60.0, 0.5], "sepAU": [1500.0, 50.0], "R": [0.001, 0.01]})
    hosts = pd.DataFrame({"hostname": ["W"], "ra": [30.0], "dec": [10.0], "sy_gaiamag": [12.5]})
    viz = _ConeVizier(table)
    res = gp.gather_gaia_inputs(gp.GaiaPerturberOptions(wide_binaries=True), hosts,
                                vizier=viz)
    assert viz.radii == [179.0]  # the cone is widened for proper motion
    assert list(res.wide["sep_au"]) == [1500.0]
    m = res.record["wide_binaries"]["matches"][0]
    assert m["source_id"] == "11" and m["epoch"] == pytest.approx(2000.0, abs=0.1)
    assert m["n_candidates"] == 2 and m["n_g_consistent"] == 1 and m["note"] == ""
    # the background star alone: within 1.5 arcsec, but its G says it is not the host
    alone = gp.gather_gaia_inputs(gp.GaiaPerturberOptions(wide_binaries=True), hosts,
                                  vizier=_ConeVizier(table[1:]))
    assert alone.wide.empty
    assert any(line.startswith("Gaia EDR3 wide-binary match, W: 1 Gaia source(s)") and
               "not matched" in line for line in alone.lines)


def test_run_passes_the_gaia_options_to_the_feasibility_step(tmp_path, monkeypatch):
    from vlms_bayes import pipeline
    from vlms_bayes.cli import main

    seen = {}

    def fake_run_all(*args, feasibility, **kwargs):
        seen["feasibility"] = feasibility
        return types.SimpleNamespace(report="")

    monkeypatch.setattr(pipeline, "run_all", fake_run_all)
    nss = tmp_path / "nss.csv"
    nss.write_text("hostname,source_id,nss_solution_type,period\nA,1,SB1,3\n")
    assert main(["run", "--no-fit", "--gaia-nss-file", str(nss), "--outdir",
                 str(tmp_path / "o")]) == 0
    assert seen["feasibility"].gaia_nss == str(nss)
    assert seen["feasibility"].gaia_rv_catalogue is None
    assert seen["feasibility"].wide_binaries is False
    assert main(["run", "--no-fit", "--gaia-nss", "--wide-binaries", "--outdir",
                 str(tmp_path / "o")]) == 0
    assert seen["feasibility"].gaia_nss == "query"
    assert seen["feasibility"].wide_binaries is True


def test_host_info_takes_the_stacked_mass_errors_and_the_widest_orbit():
    from vlms_bayes.pipeline.feasibility import host_info

    sample = pd.DataFrame({"hostname": ["A", "A", "B"], "st_mass": [0.2, 0.2, 0.1],
                           "st_mass_err_hi": [0.02, 0.02, 0.01],
                           "st_mass_err_lo": [0.04, 0.04, 0.01],  # stacked errors are > 0
                           "pl_orbsmax": [0.03, 1.5, 0.05]})
    h = host_info(sample).set_index("hostname")
    assert h.loc["A", "m_star_err_msun"] == pytest.approx(0.03)
    assert h.loc["A", "a_known_au"] == 1.5 and h.loc["B", "m_star_msun"] == 0.1
