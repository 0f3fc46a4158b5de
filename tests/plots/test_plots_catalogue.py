import io
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from vlms_bayes.inference.baselines.synthetic import synthetic_stacked
from vlms_bayes.plots.catalogue import plot_e_vs_a, plot_mass_mass


@pytest.fixture(scope="module")
def stacked():
    st = synthetic_stacked(120, seed=8)
    st.loc[st.index[:3], "mass_kind"] = "mass_radius"
    return st


def _legend_labels(fig):
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    return buf.getvalue()


def _points(ax):
    return np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])


def test_mass_mass_figure(stacked):
    fig = plot_mass_mass(stacked)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = _legend_labels(fig)
    for want in ("PSCompPars", "BDcat", "reference object", "true mass"):
        assert want in labels
    assert any("sin" in t for t in labels) and any("13" in t for t in labels)
    assert any("0.075" in t for t in labels) and any("window" in t for t in labels)
    texts = [t.get_text() for t in ax.texts]
    assert "TOI-6894 b" in texts
    # every row with both masses is drawn exactly once
    pts = _points(ax)
    ok = stacked["st_mass"].notna() & stacked["pl_bmassj"].notna()
    assert len(pts) == int(ok.sum())
    ref = stacked[stacked["is_reference"]]
    assert any(np.allclose(p, [ref["st_mass"].iloc[0], ref["pl_bmassj"].iloc[0]]) for p in pts)
    # minimum masses are open markers
    open_counts = sum(len(c.get_offsets()) for c in ax.collections
                      if len(c.get_facecolors()) == 0 or c.get_facecolors()[0][3] == 0)
    assert open_counts == int((stacked["mass_kind"] == "msini").sum())
    assert _png(fig)[:4] == b"\x89PNG"


def test_e_vs_a_figure(stacked):
    fig = plot_e_vs_a(stacked)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = _legend_labels(fig)
    assert "e fixed at 0 (assumed circular)" in labels and "upper limit (arrow)" in labels
    for m in stacked.loc[stacked["in_window"], "discoverymethod"].unique():
        assert m in labels
    show = stacked["in_window"] | stacked["is_reference"]
    status = stacked["ecc_status"]
    pts = _points(ax)
    n_draw = int((show & status.isin(["measured", "upper_limit", "fixed_zero"])).sum())
    assert len(pts) == n_draw
    # fixed-circular orbits: grey open markers at e = 0
    grey = [c for c in ax.collections
            if len(c.get_offsets()) and len(c.get_facecolors()) == 0
            and np.allclose(c.get_edgecolors()[0][:3], 0.55)]
    n_fixed = int((show & (status == "fixed_zero")).sum())
    assert n_fixed > 0
    assert sum(len(c.get_offsets()) for c in grey) == n_fixed
    assert all(np.all(c.get_offsets()[:, 1] == 0) for c in grey)
    # one downward arrow per upper limit
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None
              and t.get_text() == ""]
    n_lim = int((show & (status == "upper_limit")).sum())
    assert len(arrows) == n_lim
    for t in arrows:
        assert t.xy[1] < t.xyann[1]  # the head is below the marker
    assert "TOI-6894 b" in [t.get_text() for t in ax.texts]
    assert f"{n_fixed} fixed at 0" in ax.get_title()
    assert len(fig.axes) == 2  # colour bar for log q
    assert _png(fig)[:4] == b"\x89PNG"


def test_figures_do_not_touch_pyplot_state(stacked):
    # other code in the same test process may have pyplot figures open: compare before/after
    def open_figures():
        plt = sys.modules.get("matplotlib.pyplot")
        return list(plt.get_fignums()) if plt is not None else []

    before = open_figures()
    plot_mass_mass(stacked)
    plot_e_vs_a(stacked)
    assert open_figures() == before


def test_empty_selection_still_draws():
    st = synthetic_stacked(10, seed=1, with_reference=False)
    st["in_window"] = False
    st["pl_orbeccen"] = np.nan
    st["ecc_status"] = "missing"
    fig = plot_e_vs_a(st)
    assert "no companions" in " ".join(t.get_text() for t in fig.axes[0].texts)
    _png(fig)
    fig1 = plot_mass_mass(st.iloc[:0])
    _png(fig1)
