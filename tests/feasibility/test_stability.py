"""Quarles et al. (2020) grid and lookups, Holman & Wiegert (1999) fits: published numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator

from vlms_bayes.data_io.quarles import (
    load_all_stability_tables,
    load_stability_table,
    read_quarles_table,
    table_file_name,
)
from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility.stability import (
    E_NODES,
    MU_NODES,
    TABULATED_INCLINATIONS_DEG,
    StabilityTable,
    ac_ratio,
    build_stability_table,
    check_hw99_domain,
    holman_wiegert_ptype,
    holman_wiegert_stype,
)
from vlms_bayes.orbits import semimajor_axis_au

# alpha Cen AB, Pourbaix & Boffin (2016), as in the Quarles et al. (2020) notebook.
M_A, M_B, E_BIN, P_BIN_YR = 1.133, 0.972, 0.524, 79.91
MU_ACEN = M_B / (M_A + M_B)


@pytest.fixture(scope="module")
def quarles_dir(registered_file):
    """Folder holding quarles2020/ (the reference data folder or the cache)."""
    return registered_file(table_file_name(0)).parent.parent


@pytest.fixture(scope="module")
def tables(quarles_dir) -> dict[int, StabilityTable]:
    return load_all_stability_tables(data_dir=quarles_dir)


@pytest.fixture(scope="module")
def a_bin_acen() -> float:
    return float(semimajor_axis_au(P_BIN_YR * 365.25, M_A + M_B))


def test_published_grid():
    assert MU_NODES.shape == (101,) and E_NODES.shape == (81,)
    assert MU_NODES[0] == 0.001 and MU_NODES[-1] == 0.999
    np.testing.assert_allclose(MU_NODES[1:-1], np.arange(0.01, 1, 0.01), atol=1e-12)
    np.testing.assert_allclose(E_NODES, np.arange(0, 0.81, 0.01), atol=1e-12)


def test_alpha_cen_a_bin(a_bin_acen):
    # Kepler's law with astropy constants vs the notebook's (P^2 M)^(1/3) in yr, Msun, AU
    assert a_bin_acen == pytest.approx((P_BIN_YR**2 * (M_A + M_B)) ** (1 / 3), rel=5e-5)
    assert a_bin_acen == pytest.approx(23.777, abs=0.001)


@pytest.mark.parametrize(
    ("incl", "a_c_au"), [(0, 2.773), (30, 2.684), (45, 1.368), (180, 3.843)]
)
def test_alpha_cen_quarles(tables, a_bin_acen, incl, a_c_au):
    """Published coplanar value 2.773 AU (Quarles et al. 2020 notebook) and the others."""
    a_c = float(ac_ratio(tables[incl], MU_ACEN, E_BIN)) * a_bin_acen
    assert a_c == pytest.approx(a_c_au, abs=0.002)


def test_alpha_cen_hw99(a_bin_acen):
    ratio = holman_wiegert_stype(MU_ACEN, E_BIN)
    assert ratio == pytest.approx(0.1158, abs=5e-5)
    assert ratio * a_bin_acen == pytest.approx(2.752, abs=0.002)


@pytest.mark.parametrize("incl", TABULATED_INCLINATIONS_DEG)
def test_grid_nodes_reproduce_table(quarles_dir, tables, incl):
    raw = read_quarles_table(quarles_dir / table_file_name(incl))
    got = ac_ratio(tables[incl], raw[:, 0], raw[:, 1])
    np.testing.assert_allclose(got, raw[:, 2], rtol=0, atol=1e-12)


@pytest.mark.parametrize("incl", TABULATED_INCLINATIONS_DEG)
def test_bilinear_matches_regular_grid_interpolator(tables, incl):
    """Independent implementation: SciPy's RegularGridInterpolator (the interp2d successor)."""
    t = tables[incl]
    rgi = RegularGridInterpolator((t.mu_nodes, t.e_nodes), t.ratio, method="linear")
    rng = np.random.default_rng(7)
    mu = rng.uniform(0.001, 0.999, 20_000)
    e = rng.uniform(0.0, 0.8, 20_000)
    np.testing.assert_allclose(ac_ratio(t, mu, e), rgi(np.c_[mu, e]), rtol=0, atol=1e-14)


def test_table_rows_are_scattered_not_gridded_in_45(quarles_dir, tables):
    """The 45 deg table misses 13 nodes: griddata fills them from their neighbours (> 0)."""
    raw = read_quarles_table(quarles_dir / table_file_name(45))
    assert raw.shape[0] == 8168 < MU_NODES.size * E_NODES.size
    assert np.all(tables[45].ratio > 0)


@pytest.mark.parametrize(
    ("mu", "e", "q20", "hw99"),
    [(0.5, 0.0, 0.265, 0.274), (0.5, 0.3, 0.180, 0.177), (0.2, 0.3, 0.245, 0.244),
     (0.1, 0.5, 0.179, 0.172)],
)
def test_vlms_relevant_points(tables, mu, e, q20, hw99):
    assert float(ac_ratio(tables[0], mu, e)) == pytest.approx(q20, abs=0.0015)
    assert float(holman_wiegert_stype(mu, e)) == pytest.approx(hw99, abs=0.0005)


def test_vectorised_broadcasting(tables):
    mu = np.linspace(0.1, 0.9, 5)[:, None]
    e = np.linspace(0.0, 0.8, 7)[None, :]
    out = ac_ratio(tables[0], mu, e)
    assert out.shape == (5, 7)
    assert out[2, 3] == ac_ratio(tables[0], mu[2, 0], e[0, 3])


def test_midpoint_is_mean_of_nodes(tables):
    t = tables[30]
    i, j = 40, 20
    mid = ac_ratio(t, 0.5 * (t.mu_nodes[i] + t.mu_nodes[i + 1]), t.e_nodes[j])
    assert mid == pytest.approx(0.5 * (t.ratio[i, j] + t.ratio[i + 1, j]), abs=1e-14)


def test_mu_beyond_outer_nodes_takes_nearest_node(tables):
    t = tables[0]
    assert ac_ratio(t, 1e-4, 0.2) == ac_ratio(t, 0.001, 0.2)
    assert ac_ratio(t, 0.9995, 0.2) == ac_ratio(t, 0.999, 0.2)


@pytest.mark.parametrize(
    ("mu", "e", "needle"),
    [(0.0, 0.1, "0.0"), (1.0, 0.1, "1.0"), (-0.2, 0.1, "-0.2"), (np.nan, 0.1, "nan"),
     (0.3, 0.81, "0.81"), (0.3, -0.01, "-0.01"), (0.3, np.nan, "nan"), (0.3, 0.95, "0.8")],
)
def test_out_of_domain_raises(tables, mu, e, needle):
    with pytest.raises(InputDataError) as exc:
        ac_ratio(tables[0], [0.3, mu], [0.2, e])
    assert needle in str(exc.value)


def test_fill_value_never_returned_silently():
    """Nodes outside the data's hull hold 0; a lookup touching them raises."""
    mu, e = np.meshgrid(np.linspace(0.3, 0.6, 31), np.linspace(0.1, 0.4, 31), indexing="ij")
    raw = np.c_[mu.ravel(), e.ravel(), (0.4 - 0.3 * mu * e).ravel()]
    t = build_stability_table(raw, 0)
    assert t.ratio[0, 0] == 0.0 and t.ratio[50, 25] > 0
    assert float(ac_ratio(t, 0.45, 0.25)) == pytest.approx(0.4 - 0.3 * 0.45 * 0.25, abs=1e-12)
    with pytest.raises(InputDataError, match="outside the data"):
        ac_ratio(t, 0.1, 0.25)


@pytest.mark.parametrize("bad", [np.zeros((5, 2)), np.zeros((2, 3)), np.full((4, 3), np.nan)])
def test_build_rejects_bad_arrays(bad):
    with pytest.raises(InputDataError):
        build_stability_table(bad, 0)


def test_read_rejects_bad_file(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("#mu,eb,a_crit\n0.1,0.2\n0.2,0.3\n")
    with pytest.raises(InputDataError, match=r"bad\.txt"):
        read_quarles_table(p)
    p.write_text("#mu,eb,a_crit\n0.1,0.2,0.3\n1.5,0.3,0.2\n0.2,0.1,0.3\n")
    with pytest.raises(InputDataError, match="Row 2"):
        read_quarles_table(p)


def test_untabulated_inclination_errors_by_default(quarles_dir):
    with pytest.raises(InputDataError, match="0, 30, 45, 180"):
        load_stability_table(20, data_dir=quarles_dir)


def test_inclination_interpolation_is_explicit_and_warns(quarles_dir, tables):
    with pytest.warns(UserWarning, match="interpolated linearly between the 30 and 45"):
        t = load_stability_table(40, data_dir=quarles_dir, interpolate=True)
    w = (40 - 30) / 15
    np.testing.assert_allclose(t.ratio, (1 - w) * tables[30].ratio + w * tables[45].ratio)
    assert t.incl_deg == 40
    with pytest.raises(InputDataError, match="45"):
        load_stability_table(90, data_dir=quarles_dir, interpolate=True)


def test_hw99_published_worked_example():
    """Worked S-type example (mu = 0.211, e = 0.0539, a_bin = 0.1744 AU -> a_c = 0.0622 AU).

    Source: a public worked example of the Holman & Wiegert (1999) eq. 1 (Authorea,
    "PH1 stable?", commit bbb4ba05).
    """
    assert holman_wiegert_stype(0.211, 0.0539) * 0.1744 == pytest.approx(0.0622, abs=5e-5)


def test_hw99_limits_and_ptype():
    # circular binary, test-particle limit: the constant terms of the fits
    assert holman_wiegert_stype(0.0, 0.0) == pytest.approx(0.464)
    assert holman_wiegert_ptype(0.0, 0.0) == pytest.approx(1.60)
    # equal-mass circular binary: the familiar ~2 a_bin circumbinary limit
    assert holman_wiegert_ptype(0.5, 0.0) == pytest.approx(1.60 + 2.06 - 1.2725)
    assert check_hw99_domain([0.05, 0.5, 0.5], [0.1, 0.1, 0.85]).tolist() == [False, True, False]
    assert check_hw99_domain(0.6, 0.3, kind="P") == np.False_
    with pytest.raises(InputDataError):
        check_hw99_domain(0.5, 0.1, kind="X")  # type: ignore[arg-type]


def test_hw99_prograde_circumstellar_agrees_with_quarles_at_low_e(tables):
    """Two independent N-body campaigns agree to a few per cent of a_bin where both apply."""
    mu, e = np.meshgrid(np.linspace(0.1, 0.9, 9), np.linspace(0.0, 0.5, 6), indexing="ij")
    diff = ac_ratio(tables[0], mu, e) - holman_wiegert_stype(mu, e)
    assert np.max(np.abs(diff)) < 0.03


def test_grid_check_rejects_unsuitable_tables(tables):
    t = tables[0]
    with pytest.raises(InputDataError, match="not increasing"):
        ac_ratio(t._replace(mu_nodes=t.mu_nodes[::-1].copy()), 0.3, 0.2)
    with pytest.raises(InputDataError, match="uniform"):
        skewed = np.r_[0.0, np.geomspace(1e-4, 1.0, 100)]
        ac_ratio(t._replace(mu_nodes=skewed), 0.3, 0.2)
    with pytest.raises(InputDataError, match="do not match"):
        ac_ratio(t._replace(e_nodes=t.e_nodes[:-1]), 0.3, 0.2)


@pytest.mark.parametrize("incl", [45, 180])
def test_grid_equals_published_griddata(quarles_dir, tables, incl):
    """The grid is what the published griddata(linear, fill 0) call gives, node for node.

    Checked on every node without a table row (45 deg: 13, 180 deg: 6) and on 300
    random nodes (griddata's point location is slow on this degenerate grid).
    """
    from scipy.interpolate import griddata

    raw = read_quarles_table(quarles_dir / table_file_name(incl))
    mu_g, e_g = np.meshgrid(MU_NODES, E_NODES, indexing="ij")
    have = {(round(m, 6), round(e, 6)) for m, e in raw[:, :2]}
    no_row = np.array([(round(m, 6), round(e, 6)) not in have
                       for m, e in zip(mu_g.ravel(), e_g.ravel(), strict=True)])
    assert no_row.sum() == {45: 13, 180: 6}[incl]
    pick = np.random.default_rng(incl).choice(no_row.size, 300, replace=False)
    sel = no_row.copy()
    sel[pick] = True
    want = griddata((raw[:, 0], raw[:, 1]), raw[:, 2], (mu_g.ravel()[sel], e_g.ravel()[sel]),
                    method="linear", fill_value=0.0)
    np.testing.assert_allclose(tables[incl].ratio.ravel()[sel], want, rtol=0, atol=1e-13)


def test_bilinear_bounded_by_cell_corners(tables):
    """Property: a bilinear value lies between the smallest and largest corner of its cell."""
    t = tables[45]
    rng = np.random.default_rng(3)
    mu = rng.uniform(0.001, 0.999, 5000)
    e = rng.uniform(0.0, 0.8, 5000)
    i = np.searchsorted(t.mu_nodes, mu, side="right") - 1
    j = np.minimum(np.searchsorted(t.e_nodes, e, side="right") - 1, t.e_nodes.size - 2)
    corners = np.stack([t.ratio[i, j], t.ratio[i + 1, j], t.ratio[i, j + 1],
                        t.ratio[i + 1, j + 1]])
    got = ac_ratio(t, mu, e)
    assert np.all(got >= corners.min(0) - 1e-15) and np.all(got <= corners.max(0) + 1e-15)


def test_a_table_is_built_once_per_content_wherever_it_is(quarles_dir, tmp_path, monkeypatch):
    """The same published file at another path (the cache, the unpacked embedded snapshot)
    reuses the table built from the first; a file with other content is built anew."""
    import shutil

    from vlms_bayes.data_io import quarles

    built: list[int] = []
    real = quarles.build_stability_table

    def counting(raw, incl_deg):
        built.append(incl_deg)
        return real(raw, incl_deg)

    monkeypatch.setattr(quarles, "build_stability_table", counting)
    monkeypatch.setattr(quarles, "_TABLES_BY_CONTENT", {})
    name = table_file_name(0)
    for copy in ("a", "b"):
        (tmp_path / copy / name).parent.mkdir(parents=True)
        shutil.copy(quarles_dir / name, tmp_path / copy / name)
    a = load_stability_table(0, data_dir=tmp_path / "a")
    b = load_stability_table(0, data_dir=tmp_path / "b")
    assert built == [0] and b is a
    np.testing.assert_array_equal(a.ratio, build_stability_table(read_quarles_table(
        quarles_dir / name), 0).ratio)
    # other content (one a_crit value changed), read directly: a table of its own
    raw = read_quarles_table(quarles_dir / name)
    raw[0, 2] *= 0.5
    other = tmp_path / "other.txt"
    np.savetxt(other, raw, delimiter=",", header="mu, e_bin, a_crit/a_bin")
    changed = quarles._table_from_file(str(other), other.stat().st_mtime_ns, 0)
    assert built == [0, 0] and not np.array_equal(changed.ratio, a.ratio)
