"""Known perturbers: PSCompPars multiplicity, user tables and P(KL origin | perturber)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.data_io.companions import read_companions_csv, read_host_multiplicity
from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility import montecarlo as mc
from vlms_bayes.feasibility import perturbers as pt


def test_projection_ratio_moments():
    s = pt.projection_ratio(np.random.default_rng(1).random((400_000, 4)))
    # time-averaged r/a = 1 + e^2/2 (<e^2> = 1/2 for thermal e) times the isotropic mean
    # projection pi/4, independent of each other
    assert s.mean() == pytest.approx(1.25 * np.pi / 4, abs=3e-3)
    assert np.all(s >= 0) and np.all(s <= 1.99 + 1e-9)


def test_snapshot_multiplicity(ps_snapshot):
    m = read_host_multiplicity(ps_snapshot)
    snum = m.groupby("hostname")["sy_snum"].max()
    assert snum["Proxima Cen"] == 3 and snum["TOI-6894"] == 1


def _write(tmp_path, text):
    p = tmp_path / "comp.csv"
    p.write_text(text)
    return p


HEADER = "hostname,m_out_msun,m_out_err_msun,sep_au,sep_err_au,sep_kind,source\n"


def test_companions_csv_errors_name_the_line(tmp_path):
    with pytest.raises(InputDataError, match="line 2: sep_kind"):
        read_companions_csv(_write(tmp_path, HEADER + "A,0.2,0.01,50,5,radial,x\n"))
    with pytest.raises(InputDataError, match="line 3: sep_au"):
        read_companions_csv(_write(tmp_path, HEADER + "A,0.2,0.01,50,5,true,x\n"
                                   "B,0.2,0.01,-1,5,true,x\n"))
    with pytest.raises(InputDataError, match="lacks the column"):
        read_companions_csv(_write(tmp_path, "hostname,m_out_msun\nA,1\n"))


@pytest.fixture(scope="module")
def table(shared_data_dir):
    from vlms_bayes.data_io.quarles import load_stability_table

    return load_stability_table(0, data_dir=shared_data_dir)


def test_perturber_table_statuses_and_probabilities(table, tmp_path):
    sample = pd.DataFrame({
        "name": ["A b", "B b", "C b", "D b", "E b"], "hostname": ["A", "B", "C", "D", "E"],
        "st_mass": 0.2, "st_rad": 0.22, "pl_bmassj": 0.2,
        "pl_orbsmax": [0.03, 0.03, 20.0, 0.03, 0.03], "in_window": True})
    mult = pd.DataFrame({"pl_name": ["A b", "B b", "C b", "D b"],
                         "hostname": ["A", "B", "C", "D"], "sy_snum": [1, 2, 2, 1],
                         "pl_radj": [0.9, np.nan, 1.0, 0.9]})
    comp = read_companions_csv(_write(
        tmp_path, HEADER + "D,0.3,0.02,0.25,0.005,true,paper\n"))  # too close: no stable system
    t = pt.perturber_table(sample, mult, comp, mc.FeasibilityConfig(), table, seed=3,
                           n_systems=3000).set_index("name")
    assert t.loc["A b", "status"].startswith("no known stellar companion")
    assert np.isnan(t.loc["A b", "p_kl"])
    assert t.loc["B b", "perturber"].startswith("drawn from the multiplicity prior")
    assert t.loc["B b", "n_stable"] > 0
    assert t.loc["B b", "low"] <= t.loc["B b", "p_kl"] <= t.loc["B b", "high"]
    assert "assumed" in t.loc["B b", "note"]  # no radius in the catalogue
    assert t.loc["C b", "note"].startswith("not evaluated: a = 20 AU")
    assert t.loc["D b", "perturber"].startswith("given: 0.3")
    assert t.loc["D b", "n_stable"] == 0 and "no stable system" in t.loc["D b", "note"]
    assert t.loc["E b", "status"].startswith("unknown")
    lines = pt.perturber_lines(t.reset_index())
    assert "5 companions" in lines[0] and any(ln.startswith("  B b: P(KL origin") for ln in lines)


def test_given_projected_separation_is_deprojected():
    rng = np.random.default_rng(2)
    p = pt.given_perturber_samples(0.2, 0.0, 100.0, 0.0, "projected", rng, 100_000)
    # a = s / (s/a): its median is s over the median projection ratio
    ratio = pt.projection_ratio(np.random.default_rng(3).random((100_000, 4)))
    assert np.median(p["a_out_au"]) == pytest.approx(100 / np.median(ratio), rel=0.02)
    assert np.all(p["m_out_msun"] == 0.2)


def test_feasibility_command_marks_a_given_perturber(tmp_path, shared_data_dir):
    from vlms_bayes.cli import main

    comp = _write(tmp_path, HEADER + "TOI-6894,0.15,0.03,40,4,projected,test\n")
    out = tmp_path / "f"
    assert main(["feasibility", "--grid", "3", "--draws", "4", "--secular-check", "0",
                 "--probability-systems", "0", "--integrate-candidates", "0", "0", "0",
                 "--backend", "numba", "--data-dir", str(shared_data_dir),
                 "--companions", str(comp), "--outdir", str(out)]) == 0
    k = pd.read_csv(out / "known_perturbers.csv")
    assert list(k["name"]) == ["TOI-6894 b"]
    assert k.loc[0, "perturber"].startswith("given: 0.15")
    assert k.loc[0, "n_systems"] == pt.N_SYSTEMS
    assert "Known stellar perturbers" in (out / "SUMMARY.txt").read_text()


class _RecordedVizier:
    """Stands in for astroquery's Vizier (tests run offline).

    The replies are synthetic, with the VizieR column names of J/MNRAS/506/2269/catalog
    from the catalogue's ReadMe (RAdeg, DEdeg, RA2deg, DE2deg, sepAU, R) unless a test
    renames them; they are not recordings of the live service. ``query_region`` matches
    the first component (the catalogue's position), ``query_constraints`` applies the
    ``min..max`` ranges to the named columns, as VizieR does.
    """

    def __init__(self, table):
        self.table, self.calls = table, []

    def query_region(self, coords, radius, catalog):
        self.calls.append(("region", catalog))
        t = self.table
        ra = t["RAdeg"] if "RAdeg" in t.colnames else t["ra1"]
        de = t["DEdeg"] if "DEdeg" in t.colnames else t["dec1"]
        d = np.hypot((np.asarray(ra) - coords.ra.deg) * np.cos(np.radians(coords.dec.deg)),
                     np.asarray(de) - coords.dec.deg) * 3600
        return [t[d <= radius.to_value("arcsec")]]

    def query_constraints(self, catalog, **constraints):
        self.calls.append(("constraints", catalog))
        t = self.table
        if "RA2deg" not in t.colnames:
            return []
        keep = np.ones(len(t), bool)
        for col, rng in constraints.items():
            lo, hi = map(float, rng.split(".."))
            keep &= (np.asarray(t[col]) >= lo) & (np.asarray(t[col]) <= hi)
        return [t[keep]]


def _reply(**override):
    from astropy.table import Table

    # H1 (10, -20) is the first component of two pairs; H3 (120, 30) the second one of a
    # pair whose first component lies 36 arcsec away
    cols = {"RAdeg": [10.0, 10.0, 50.0, 120.0115], "DEdeg": [-20.0, -20.0, 5.0, 30.0],
            "RA2deg": [10.01, 10.02, 50.0005, 120.0], "DE2deg": [-20.0, -20.0, 5.0, 30.0],
            "sepAU": [900.0, 300.0, 40.0, 2500.0], "R": [0.01, 0.5, 0.02, 0.003]}
    cols.update(override)
    return Table(cols)


def test_wide_binary_query_picks_the_bound_closest_companion():
    from vlms_bayes.data_io.companions import EL_BADRY_2021, query_wide_binary_companions

    hosts = pd.DataFrame({"hostname": ["H1", "H1", "H2", "H3"],
                          "ra": [10.0, 10.0, 80.0, 120.0], "dec": [-20.0, -20.0, 1.0, 30.0]})
    viz = _RecordedVizier(_reply())
    c = query_wide_binary_companions(hosts, vizier=viz)
    # one cone search and one query on the second component per host
    assert viz.calls == [("region", EL_BADRY_2021 + "/catalog"),
                         ("constraints", EL_BADRY_2021 + "/catalog")] * 3
    # H1: the 300 AU pair is a likely chance alignment (R = 0.5), so the 900 AU one counts;
    # H2 lies far from every pair; H3 is found as the second component only
    assert list(c["hostname"]) == ["H1", "H3"]
    assert list(c["sep_au"]) == [900.0, 2500.0] and (c["sep_kind"] == "projected").all()
    assert np.isnan(c.loc[0, "m_out_msun"])
    assert "R_chance_align = 0.003" in c.loc[1, "source"]
    with pytest.raises(InputDataError, match="no sep_au column"):
        query_wide_binary_companions(hosts.iloc[:1], vizier=_RecordedVizier(
            _reply().copy()[["RAdeg", "DEdeg", "RA2deg", "DE2deg", "R"]]))


def test_wide_binary_query_reads_the_zenodo_release_names_too():
    from vlms_bayes.data_io.companions import query_wide_binary_companions

    t = _reply()
    for old, new in (("RAdeg", "ra1"), ("DEdeg", "dec1"), ("RA2deg", "ra2"),
                     ("DE2deg", "dec2"), ("sepAU", "sep_AU"), ("R", "R_chance_align")):
        t.rename_column(old, new)
    hosts = pd.DataFrame({"hostname": ["H1"], "ra": [10.0], "dec": [-20.0]})
    c = query_wide_binary_companions(hosts, vizier=_RecordedVizier(t))
    assert list(c["sep_au"]) == [900.0]


def test_wide_binary_query_offline_says_so(monkeypatch):
    from vlms_bayes.data_io.companions import query_wide_binary_companions
    from vlms_bayes.errors import DataUnavailableError

    monkeypatch.setenv("VLMS_BAYES_OFFLINE", "1")
    hosts = pd.DataFrame({"hostname": ["H1"], "ra": [10.0], "dec": [-20.0]})
    with pytest.raises(DataUnavailableError, match="not looked up \\(offline\\)"):
        query_wide_binary_companions(hosts)


def test_wide_binary_constraints_box_the_second_component():
    from vlms_bayes.data_io.companions import wide_binary_constraints

    c = wide_binary_constraints(120.0, 60.0, 3.6)
    lo, hi = map(float, c["RA2deg"].split(".."))
    assert hi - lo == pytest.approx(2 * 0.001 / 0.5)  # 3.6" / cos 60 deg on each side
    lo, hi = map(float, c["DE2deg"].split(".."))
    assert (lo, hi) == pytest.approx((59.999, 60.001))
    assert wide_binary_constraints(0.0, 0.0, 3.6)["RA2deg"].startswith("0.0000000..")


def test_unknown_mass_is_drawn_from_the_q_prior(table):
    comp = pd.DataFrame({"hostname": ["A"], "m_out_msun": [np.nan], "m_out_err_msun": [0.0],
                         "sep_au": [30.0], "sep_err_au": [0.0], "sep_kind": ["projected"],
                         "source": ["query"]})
    sample = pd.DataFrame({"name": ["A b"], "hostname": ["A"], "st_mass": [0.2],
                           "st_rad": [0.22], "pl_bmassj": [0.2], "pl_orbsmax": [0.03]})
    t = pt.perturber_table(sample, None, comp, mc.FeasibilityConfig(), table, seed=1,
                           n_systems=2000)
    assert "mass from the q prior" in t.loc[0, "perturber"]
    assert 0.02 <= t.loc[0, "m_out_msun"] <= 0.2  # median of q M_host, q in [0.1, 1]
    assert t.loc[0, "a_out_au_median"] == pytest.approx(30 / 0.98, rel=0.1)


def test_host_outside_the_evolving_radii_models_is_listed_not_raised(table, tmp_path):
    """A 0.6 Msun host has no BHAC15 track in the shipped extract: its row says so and
    names --radii frozen, and the other companions are still evaluated."""
    sample = pd.DataFrame({"name": ["A b", "F b"], "hostname": ["A", "F"],
                           "st_mass": [0.2, 0.6], "st_rad": [0.22, 0.55], "pl_bmassj": 0.2,
                           "pl_orbsmax": 0.03})
    mult = pd.DataFrame({"pl_name": ["A b", "F b"], "hostname": ["A", "F"],
                         "sy_snum": [2, 2], "pl_radj": [0.9, 0.9]})
    t = pt.perturber_table(sample, mult, None, mc.FeasibilityConfig(), table, seed=3,
                           n_systems=1000).set_index("name")
    assert t.loc["A b", "n_stable"] > 0
    assert np.isnan(t.loc["F b", "p_kl"])
    assert "outside the BHAC15" in t.loc["F b", "note"] and "--radii frozen" in \
        t.loc["F b", "note"]
    frozen = pt.perturber_table(sample, mult, None, mc.FeasibilityConfig(radii="frozen"),
                                table, seed=3, n_systems=1000).set_index("name")
    assert frozen.loc["F b", "n_stable"] > 0


def _feasibility_args(shared_data_dir, out, *extra):
    return ["feasibility", "--grid", "3", "--draws", "4", "--secular-check", "0",
            "--probability-systems", "0", "--integrate-candidates", "0", "0", "0",
            "--backend", "numba", "--data-dir", str(shared_data_dir), "--outdir", str(out),
            *extra]


def test_feasibility_command_takes_the_perturber_from_a_gaia_nss_table(tmp_path,
                                                                       shared_data_dir):
    """A saved NSS row (constructed, not an archive reply) becomes TOI-6894's perturber.

    Hand check: M1 = 0.207, M2 = 0.1 Msun, P = 2000 d: a = (0.307 (2000/365.25)²)^(1/3)
    = 2.096 AU; a dark companion moves the photocentre by a0 = a M2/(M1+M2) = 0.6828 AU,
    9.252 mas at the host's 13.55 mas parallax (73.8 pc); Thiele-Innes of a face-on orbit
    with ω = Ω = 0: A = G = a0, B = F = 0. The RV catalogue row lies on the host (PSCompPars
    ra/dec) with a significant p-value.
    """
    from vlms_bayes.cli import main

    nss = tmp_path / "nss.csv"
    nss.write_text("hostname,source_id,nss_solution_type,period,eccentricity,parallax,"
                   "a_thiele_innes,b_thiele_innes,f_thiele_innes,g_thiele_innes\n"
                   "TOI-6894,42,Orbital,2000,0.3,13.55,9.252,0,0,9.252\n")
    rv = tmp_path / "gaia_rv_catalogue.csv"
    rv.write_text("source_id,ra,dec,rv_pval\n42,173.4691418,12.4510906,2e-5\n")
    out = tmp_path / "f"
    assert main(_feasibility_args(shared_data_dir, out, "--gaia-nss-file", str(nss),
                                  "--gaia-rv-catalogue", str(rv))) == 0
    k = pd.read_csv(out / "known_perturbers.csv")
    # each system draws (M2, a) from the orbit's model (here without errors: 0.1, 2.1)
    assert k.loc[0, "perturber"].startswith("given: M2 and a drawn per system from the "
                                            "orbit (M2 median 0.1 Msun")
    assert "a median 2.1 AU" in k.loc[0, "perturber"]
    assert k.loc[0, "a_out_au_median"] == pytest.approx(2.096, rel=2e-3)
    assert "Gaia DR3 NSS Orbital 42" in k.loc[0, "perturber"]
    assert k.loc[0, "status"].startswith("stellar companion given by Gaia DR3 NSS")
    assert k.loc[0, "n_stable"] > 0
    assert k.loc[0, "gaia_rv_pval"] == pytest.approx(2e-5)
    assert "unseen close companion" in k.loc[0, "gaia_rv_note"]
    sol = pd.read_csv(out / "gaia_nss_orbits.csv")
    assert sol.loc[0, "m2_msun"] == pytest.approx(0.1, rel=2e-3)
    assert sol.loc[0, "a_au"] == pytest.approx(2.096, rel=2e-3)
    text = (out / "SUMMARY.txt").read_text()
    assert "Gaia DR3 NSS orbits" in text and "1 used as perturbers" in text
    assert "Gaia RV p-values from gaia_rv_catalogue.csv: 1 of 1 hosts" in text


def test_feasibility_command_offline_nss_query_is_a_note(tmp_path, shared_data_dir,
                                                         monkeypatch):
    from vlms_bayes.cli import main

    monkeypatch.setenv("VLMS_BAYES_OFFLINE", "1")
    out = tmp_path / "f"
    assert main(_feasibility_args(shared_data_dir, out, "--gaia-nss")) == 0
    text = (out / "SUMMARY.txt").read_text()
    assert "Gaia DR3 NSS orbits: Gaia DR3 NSS orbits not looked up (offline)" in text
    k = pd.read_csv(out / "known_perturbers.csv")
    assert k.loc[0, "status"].startswith("no known stellar companion")  # sy_snum = 1
    assert not (out / "gaia_nss_orbits.csv").exists()
    assert main(_feasibility_args(shared_data_dir, tmp_path / "g", "--gaia-nss",
                                  "--gaia-nss-file", "x.csv")) != 0
    assert not (tmp_path / "g").exists()


def test_feasibility_command_does_not_look_a_microlensing_lens_up_in_gaia(tmp_path,
                                                                         shared_data_dir):
    """A user-named microlensing target: its lens is not matched to a Gaia source.

    The RV catalogue row sits exactly on the archive position of the lens (KMT-2016-BLG-1107L,
    a bulge lens with no Gaia G): matched by position it would give the lens the p-value
    of whatever source lies there (the lensed source star or a bulge neighbour), as the
    ``run`` command already avoids. (A transit host's row on its position is matched:
    ``test_feasibility_command_takes_the_perturber_from_a_gaia_nss_table``.)
    """
    from vlms_bayes.cli import main

    ps = pd.read_csv(shared_data_dir / "pscomppars_2025-08-07.csv", comment="#",
                     low_memory=False)
    lens = ps.loc[ps["hostname"] == "KMT-2016-BLG-1107L"].iloc[0]
    assert lens["discoverymethod"] == "Microlensing"
    rv = tmp_path / "gaia_rv_catalogue.csv"
    rv.write_text(f"source_id,ra,dec,rv_pval\n7,{lens['ra']},{lens['dec']},1e-6\n")
    out = tmp_path / "f"
    assert main(_feasibility_args(shared_data_dir, out, "--target", "KMT-2016-BLG-1107L b",
                                  "--rp-rj", "1.0", "--rstar-rsun", "0.11",
                                  "--a0-range", "0.5", "5",
                                  "--gaia-rv-catalogue", str(rv))) == 0
    text = (out / "SUMMARY.txt").read_text()
    assert "leave out 1 host(s) known only as microlensing lenses" in text
    assert "0 of 0 hosts matched" in text
    record = json.loads((out / "run.json").read_text())["inputs"]["gaia_perturbers"]
    assert record["left_out_lenses"] == ["KMT-2016-BLG-1107L"]
    assert record["rv_catalogue"]["matched_hosts"] == 0
