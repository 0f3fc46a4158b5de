"""``loo_compare`` returns raw ELPD numbers (ArviZ 1.x rounds them unless told not to)."""

from __future__ import annotations

import numpy as np
import pytest


def _fit(rng: np.random.Generator, shift: float):
    import xarray as xr

    ll = rng.normal(-2.0 + shift, 0.3, size=(2, 200, 40))
    coords = {"chain": [0, 1], "draw": np.arange(200), "object": np.arange(40)}
    post = xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(2, 200)))},
                      coords={"chain": [0, 1], "draw": np.arange(200)})
    return xr.DataTree.from_dict({
        "posterior": post,
        "log_likelihood": xr.Dataset({"obs": (("chain", "draw", "object"), ll)},
                                     coords=coords)})


def test_loo_compare_is_not_rounded():
    from vlms_bayes.inference.comparison import loo_compare, loo_summary

    rng = np.random.default_rng(5)
    fits = {"K=1": _fit(rng, 0.0), "K=2": _fit(rng, 0.123)}
    table = loo_compare(fits).set_index("model")
    for name, dt in fits.items():
        # the same number as ArviZ's loo of that fit, to machine precision
        assert table.loc[name, "elpd_loo"] == pytest.approx(loo_summary(dt)["elpd_loo"],
                                                            rel=1e-12)
    diff = table.loc["K=1", "elpd_loo"] - table.loc["K=2", "elpd_loo"]
    assert table.loc["K=1", "elpd_diff"] == pytest.approx(-abs(diff), rel=1e-9)
    # not a number rounded to two significant digits
    assert table.loc["K=2", "elpd_loo"] != float(f"{table.loc['K=2', 'elpd_loo']:.2g}")
