"""K recovery with a degraded noise estimate (spec §6.3, paper Fig. 4 bottom)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.errors import InputDataError
from vlms_bayes.pipeline import gaia_rv


def test_completeness_k_recovery_with_degraded_sigma(tmp_path):
    """Paper Fig. 4 (bottom): an assumed s_lnσ = ln 1.5 widens the K intervals."""
    rng = np.random.default_rng(0)
    cat = pd.DataFrame({"source_id": np.arange(500), "phot_g_mean_mag": 10.0, "bp_rp": 1.0,
                        "radial_velocity_error": rng.uniform(0.2, 2.0, 500),
                        "rv_nb_transits": rng.integers(8, 30, 500),
                        "rv_time_duration": 1038.0})
    src = tmp_path / "cat.parquet"
    cat.to_parquet(src)
    widths = {}
    for factor in (None, 1.5):
        out = tmp_path / f"c{factor}"
        res = gaia_rv.run_completeness(out, inputs=src, modes=("code",), n_sims=2000,
                                       k_sims=80, k_samples=1000, k_sigma_factor=factor,
                                       figures=False)
        assert res.numbers["code"]["k_sigma_factor"] == factor
        sims = pd.read_parquet(out / "completeness_sims_code.parquet").dropna(
            subset=["rv_semiamp_p50"])
        assert len(sims) == 80
        widths[factor] = np.median(np.log(sims.rv_semiamp_p84 / sims.rv_semiamp_p16))
    assert widths[1.5] > 1.2 * widths[None]
    with pytest.raises(InputDataError, match="k_sigma_factor"):
        gaia_rv.run_completeness(tmp_path / "x", inputs=src, k_sigma_factor=0.5)
