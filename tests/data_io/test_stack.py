"""The stacked dataset on the real snapshots, and the stacking rules on synthetic rows."""

import numpy as np
import pandas as pd
import pytest

from vlms_bayes import orbits
from vlms_bayes.data_io.bdcat import load_bdcat, map_method
from vlms_bayes.data_io.pscomppars import load_pscomppars
from vlms_bayes.data_io.schema import (
    ECC_STATUSES,
    MASS_KINDS,
    ORIGINAL_COLUMNS,
    SOURCES,
    STACKED_COLUMNS,
    complete_case,
    model_view,
)
from vlms_bayes.data_io.stack import bd_to_stacked, find_duplicates, stack_catalogues
from vlms_bayes.errors import InputDataError


@pytest.fixture(scope="module")
def real(ps_snapshot, shared_data_dir):
    ps = load_pscomppars(path=ps_snapshot)
    bd = load_bdcat(data_dir_=shared_data_dir)
    raw = pd.read_csv(ps_snapshot)
    return ps, bd, raw, stack_catalogues(ps.frame, bd.frame)


def test_counts_per_source_and_method(real):
    _, bd, raw, st = real
    f = st.frame
    win = f[f.in_window]
    # 125 PSCompPars companions of 0.06-0.20 Msun hosts (dynamics spec §1) + 5 BD-catalogue
    raw_win = raw[raw.st_mass.between(0.06, 0.20)]
    assert len(raw_win) == 125
    assert (win.source == "PSCompPars").sum() == 125
    assert (win.source == "BDcat").sum() == int(bd.frame.Mstar.between(0.06, 0.20).sum()) == 5
    assert win[win.source == "PSCompPars"].discoverymethod.value_counts().to_dict() == {
        "Microlensing": 48, "Radial Velocity": 35, "Transit": 35, "Imaging": 6, "Astrometry": 1}
    assert not f.name.duplicated().any()
    assert list(f.columns) == list(STACKED_COLUMNS)


def test_values_stay_in_the_schema_vocabulary(real):
    f = real[3].frame
    assert set(ORIGINAL_COLUMNS) <= set(f.columns)
    assert set(f.mass_kind) <= set(MASS_KINDS)
    assert set(f.ecc_status) <= set(ECC_STATUSES)
    assert set(f.source) <= set(SOURCES)
    errs = [c for c in f.columns if c.endswith(("_err_hi", "_err_lo"))]
    assert (f[errs].fillna(0) >= 0).all().all()  # errors are stored as positive numbers


def test_flags_match_the_raw_catalogue(real):
    _, _, raw, st = real
    ps = st.frame[st.frame.in_window & (st.frame.source == "PSCompPars")].set_index("name")
    rw = raw[raw.st_mass.between(0.06, 0.20)].set_index("pl_name").loc[ps.index]
    # mass kind straight from pl_bmassprov
    kinds = {"Mass": "true", "Msini": "msini", "M-R relationship": "mass_radius"}
    prov = rw.pl_bmassprov.map(kinds)
    assert (ps.mass_kind == prov).all()
    assert ps.mass_kind.value_counts().to_dict() == {"true": 75, "msini": 35, "mass_radius": 15}
    # eccentricity status: 68 missing, 6 upper limits, 15 fixed at 0 with no error bar
    counts = ps.ecc_status.value_counts().to_dict()
    assert counts == {"missing": rw.pl_orbeccen.isna().sum(), "upper_limit": 6,
                      "fixed_zero": 15, "measured": 36}
    assert counts["missing"] == 68
    fixed = rw.pl_orbeccen.eq(0) & rw.pl_orbeccenerr1.isna()
    assert set(ps.index[ps.ecc_status == "fixed_zero"]) == set(rw.index[fixed])
    # one e = 0 comes with an error bar: a measurement, not an assumption
    assert ((ps.pl_orbeccen == 0) & (ps.ecc_status == "measured")).sum() == 1
    # a from the period where the archive has none but gives P (1 row; 1 more has neither,
    # and stays without a, so the model cannot use it), and for all 5 BDs
    no_a = rw.pl_orbsmax.isna()
    assert no_a.sum() == 2
    assert ps.a_from_period.sum() == (no_a & rw.pl_orbper.notna()).sum() == 1
    assert ps.pl_orbsmax.isna().sum() == 1
    assert st.frame[st.frame.source == "BDcat"].a_from_period.all()
    assert ps.mass_is_limit.sum() == (rw.pl_bmassjlim == 1).sum() == 7


def test_reference_row_is_toi6894b_outside_window(real):
    f = real[3].frame
    ref = f[f.is_reference]
    assert len(ref) == 1
    r = ref.iloc[0]
    assert r["name"] == "TOI-6894 b" and not r.in_window and r.source == "PSCompPars"
    assert (r.st_mass, r.pl_bmassj, r.pl_orbsmax, r.pl_orbeccen) == (0.207, 0.168, 0.02604, 0.029)
    assert r.q == pytest.approx(0.168 / (0.207 * orbits.MJUP_PER_MSUN))
    assert r.loga == pytest.approx(np.log10(0.02604))
    assert r.ecc_status == "measured"


def test_views(real):
    f = real[3].frame
    cc = complete_case(f)
    mv = model_view(f)
    # complete case: in-window rows with M*, Mc, a, e and no e limit (36 + 15 PS, 5 BD)
    assert len(cc) == 56
    assert set(cc.ecc_status) == {"measured", "fixed_zero"}
    assert not cc.is_reference.any()
    assert len(mv) == f.in_window.sum() - f[f.in_window].pl_orbsmax.isna().sum()
    assert model_view(f, include_reference=True).is_reference.sum() == 1


def test_widened_window_takes_toi6894b_in(ps_snapshot):
    ps = load_pscomppars(path=ps_snapshot)
    st = stack_catalogues(ps.frame, None, window=(0.06, 0.21))
    ref = st.frame[st.frame.is_reference].iloc[0]
    assert ref.in_window
    assert len(complete_case(st.frame)) > 0


def test_bd_periods_become_axes_with_kepler(real):
    _, bd, _, st = real
    row = bd.frame[bd.frame.host_star == "NLTT 41135"].iloc[0]
    got = st.frame[st.frame.name == "NLTT 41135 (BD)"].iloc[0]
    assert got.pl_orbsmax == pytest.approx(
        orbits.semimajor_axis_au(row.period, row.Mstar, row.mass), rel=1e-12)
    assert got.pl_orbsmax_err_hi > 0 and got.mass_kind == "true"
    assert got.discoverymethod == "Transit"


def test_duplicates_on_real_catalogues_wide_window(ps_snapshot, shared_data_dir):
    # over all hosts the two catalogues share many companions (e.g. RV brown dwarfs)
    ps = load_pscomppars(path=ps_snapshot, mstar_min=0.05, mstar_max=1.1)
    bd = load_bdcat(data_dir_=shared_data_dir)
    st = stack_catalogues(ps.frame, bd.frame, window=(0.05, 1.1))
    assert len(st.duplicates) > 10
    assert not st.frame.name.duplicated().any()
    assert st.duplicates["bd_name"].isin(st.frame.name).sum() == 0
    pair = st.duplicates.iloc[0]
    assert pair.rule in ("host+period", "host+mass")


def test_duplicate_rule_synthetic():
    ps = pd.DataFrame({"name": ["HD 1 b", "HD 1 c"], "hostname": ["HD 1", "HD 1"],
                       "pl_orbper": [10.0, 300.0], "pl_bmassj": [20.0, 1.0]})
    bd = pd.DataFrame({"name": ["HD1 (BD)", "HD-1 (BD)", "HD 2 (BD)"],
                       "hostname": ["HD1", "hd-1", "HD 2"], "pl_orbper": [10.3, 50.0, 10.0],
                       "pl_bmassj": [21.0, 20.0, 20.0]})
    d = find_duplicates(ps, bd)
    assert d.bd_name.tolist() == ["HD1 (BD)"] and d.ps_name.tolist() == ["HD 1 b"]
    bd.loc[1, "pl_orbper"] = np.nan  # no period: fall back to mass within x1.5
    assert find_duplicates(ps, bd).bd_name.tolist() == ["HD1 (BD)", "HD-1 (BD)"]


def test_bd_mass_choice_and_methods():
    bd = pd.DataFrame({"host_star": ["A", "B"], "method": ["rv+HGCA", "rv"],
                       "mass": [30.0, np.nan], "p_mass": [2.0, np.nan], "m_mass": [1.0, np.nan],
                       "msini": [28.0, 15.0], "p_msini": [1.0, 0.5], "m_msini": [1.0, 0.4],
                       "period": [100.0, 20.0], "p_period": [1, 1], "m_period": [1, 1],
                       "ecc": [0.1, 0.0], "p_ecc": [0.01, np.nan], "m_ecc": [0.01, np.nan],
                       "Mstar": [0.1, 0.15], "p_Mstar": [0.01, 0.01], "m_Mstar": [0.01, 0.01],
                       "FeH": [np.nan, 0.1]})
    s = bd_to_stacked(bd)
    assert s.mass_kind.tolist() == ["true", "msini"]
    assert s.pl_bmassj.tolist() == [30.0, 15.0]
    assert s.pl_bmassj_err_lo.tolist() == [1.0, 0.4]
    assert s.ecc_status.tolist() == ["measured", "fixed_zero"]
    assert map_method("Gaia binary_masses") == "Astrometry"
    assert map_method("rv+imag+HG") == "Radial Velocity"


def test_empty_window_and_unknown_reference(ps_snapshot):
    ps = load_pscomppars(path=ps_snapshot)
    with pytest.raises(InputDataError, match="selects no companion"):
        stack_catalogues(ps.frame, None, window=(0.001, 0.002))
    with pytest.raises(InputDataError, match="not in the PSCompPars input"):
        stack_catalogues(ps.frame, None, reference="Nonexistent b")


def test_builtin_reference_and_overrides(ps_snapshot):
    ps = load_pscomppars(path=ps_snapshot)
    no_toi = ps.frame[ps.frame.pl_name != "TOI-6894 b"]
    st = stack_catalogues(no_toi, None, reference_overrides={"pl_orbsmax": 0.05,
                                                             "st_mass": None})
    ref = st.frame[st.frame.is_reference].iloc[0]
    assert ref.source == "reference" and ref.pl_orbsmax == 0.05 and ref.st_mass == 0.207
    assert ref.loga == pytest.approx(np.log10(0.05))
    assert any("overridden" in n for n in st.notes)


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [("Mstar", "heavy", r"Mstar has non-numeric values at line 3 \(B\)"),
     ("msini", -2.0, r"msini must be positive.*line 3 \(B\)"),
     ("ecc", 1.0, r"ecc must lie in \[0, 1\).*line 3 \(B\)")],
)
def test_bd_catalogue_bad_values(tmp_path, column, value, match):
    frame = pd.DataFrame({"host_star": ["A", "B"], "method": ["rv", "rv"],
                          "mass": [np.nan, np.nan], "msini": [20.0, 30.0],
                          "period": [10.0, 20.0], "ecc": [0.1, 0.2], "Mstar": [0.1, 0.15]})
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    p = tmp_path / "bd.csv"
    frame.to_csv(p, index=False)
    with pytest.raises(InputDataError, match=match):
        load_bdcat(path=p)
