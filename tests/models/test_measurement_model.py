"""The method-aware measurement model: microlensing q errors and projected separations.

Each rule is held to something it did not write: the projection kernel to a brute-force
simulation of circular orbits seen from random directions, the correlated-error rule to a
simulation of lens masses and light-curve mass ratios, and the stacked real snapshot to the
mass errors of the archive's own rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vlms_bayes import orbits
from vlms_bayes.data_io.pscomppars import load_pscomppars
from vlms_bayes.data_io.stack import stack_catalogues
from vlms_bayes.errors import InputDataError
from vlms_bayes.models.data import MeasurementConfig, model_data_from_stacked
from vlms_bayes.models.likelihood import NUMPY_OPS, msini_qa_logpdf, projected_qa_logpdf


def _isotropic_circular_projection(n: int, rng: np.random.Generator) -> np.ndarray:
    """sin φ of circular orbits with isotropic normals at uniform phases (brute force, 3-D)."""
    normal = rng.standard_normal((n, 3))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    ref = np.where(np.abs(normal[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = np.cross(normal, ref)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(normal, e1)
    phase = rng.uniform(0.0, 2 * np.pi, n)[:, None]
    pos = np.cos(phase) * e1 + np.sin(phase) * e2        # unit position vector, a = 1
    return np.hypot(pos[:, 0], pos[:, 1])                # projected on the sky (z = sight)


def test_projection_of_circular_orbits_has_the_msini_distribution():
    """The kernel assumes sin φ is distributed like sin i (cos φ uniform): check in 3-D."""
    rng = np.random.default_rng(1)
    s = _isotropic_circular_projection(200_000, rng)
    cos_i = rng.random(200_000)
    res = stats.ks_2samp(s, np.sqrt(1 - cos_i**2))
    assert res.pvalue > 1e-3
    # the negative control: a uniform sin φ is told apart
    assert stats.ks_2samp(s, rng.random(200_000)).pvalue < 1e-10


@pytest.mark.parametrize("mu_a,sd_a,s_a", [(0.0, 0.3, 0.05), (0.4, 0.1, 0.02), (-0.3, 0.6, 0.1)])
def test_projected_kernel_matches_brute_force_simulation(mu_a, sd_a, s_a):
    """p(y_q, y_a) of the kernel against a Monte Carlo average over simulated projections."""
    rng = np.random.default_rng(7)
    mu_q, sd_q, rho, s_q = -2.5, 0.4, 0.3, 0.04
    sin_phi = _isotropic_circular_projection(400_000, rng)
    y_q = np.array([-2.6, -2.3, -2.9])
    y_a = np.array([mu_a - 0.2, mu_a, mu_a + 0.1])
    got = projected_qa_logpdf(y_q, y_a, np.full(3, s_q), np.full(3, s_a),
                              np.array([mu_q]), np.array([mu_a]), np.array([sd_q]),
                              np.array([sd_a]), np.array([rho]), ops=NUMPY_OPS)[:, 0]
    cov = np.array([[sd_q**2 + s_q**2, rho * sd_q * sd_a], [rho * sd_q * sd_a, sd_a**2 + s_a**2]])
    shift = np.log10(sin_phi)
    for j in range(3):  # y_a = log a + log sin φ + noise  ⇒  average over φ of N2
        pts = np.c_[np.full(shift.size, y_q[j]), y_a[j] - shift]
        mc = stats.multivariate_normal([mu_q, mu_a], cov).pdf(pts).mean()
        assert got[j] == pytest.approx(np.log(mc), abs=0.01)


def test_projected_kernel_is_the_msini_kernel_with_roles_swapped():
    rng = np.random.default_rng(3)
    args = [rng.normal(-2, 1, 5), rng.normal(0, 0.5, 5), rng.uniform(0.02, 0.3, 5),
            rng.uniform(0.01, 0.2, 5)]
    pop = [np.array([-2.5, -1.0]), np.array([0.1, 1.0]), np.array([0.5, 0.3]),
           np.array([0.4, 0.6]), np.array([0.2, -0.4])]
    a = projected_qa_logpdf(*args, *pop, ops=NUMPY_OPS)
    b = msini_qa_logpdf(args[1], args[0], args[3], args[2], pop[1], pop[0], pop[3], pop[2],
                        pop[4], ops=NUMPY_OPS)
    np.testing.assert_array_equal(a, b)
    # and differs from treating the separation as a semi-major axis
    assert not np.allclose(a, msini_qa_logpdf(*args, *pop, ops=NUMPY_OPS))


def test_lens_rule_recovers_the_mass_ratio_error_of_a_simulated_lens():
    """M_c = q M_L with q and M_L measured independently: the rule returns σ(log q)."""
    rng = np.random.default_rng(11)
    for s_q, s_l in [(0.03, 0.3), (0.08, 0.15), (0.02, 0.05)]:
        log_q = -3.0 + s_q * rng.standard_normal(200_000)
        log_ml = np.log10(0.1) + s_l * rng.standard_normal(200_000)
        log_mc = log_q + log_ml
        hi, lo = orbits.logq_errors_lens(np.std(log_mc), np.std(log_mc), np.std(log_ml),
                                         np.std(log_ml))
        assert float(hi) == pytest.approx(s_q, rel=0.05)
        assert float(lo) == pytest.approx(s_q, rel=0.05)
        # the quadrature sum overstates it by ~√2 σ_L / σ_q
        q_hi, _ = orbits.logq_errors(np.std(log_mc), np.std(log_mc), np.std(log_ml),
                                     np.std(log_ml))
        assert float(q_hi) > 1.3 * s_q


def test_lens_rule_keeps_nan_and_clips_rounding():
    hi, lo = orbits.logq_errors_lens([np.nan, 0.30], [0.1, 0.29], [0.1, 0.31], [np.nan, 0.1])
    assert np.isnan(hi[0]) and lo[0] == pytest.approx(0.1)
    assert hi[1] == 0.0 and lo[1] == pytest.approx(np.sqrt(0.29**2 - 0.1**2))


@pytest.fixture(scope="module")
def ps_validated(ps_snapshot):
    return load_pscomppars(path=ps_snapshot).frame


def test_real_microlensing_rows_carry_the_mass_ratio_error(ps_validated):
    """On the 2025-08-07 snapshot: median σ(log q) of microlensing rows is that of q."""
    stacked = stack_catalogues(ps_validated, None).frame
    ml = stacked.loc[stacked["in_window"] & (stacked["discoverymethod"] == "Microlensing")]
    assert len(ml) >= 20
    assert (ml["logq_rule"] == "lens").all()
    assert (ml.loc[ml["pl_orbsmax"].notna(), "sep_kind"] == "projected").all()
    # what the archive's two relative mass errors imply for q, computed here from the raw
    # columns in natural-log space (σ_ln ≈ relative error), independently of the stack code
    ps = ps_validated.set_index("pl_name").loc[ml["name"]]

    def sigma_log10(col: str) -> np.ndarray:
        v, up = ps[col].to_numpy(float), np.abs(ps[f"{col}err1"].to_numpy(float))
        down = np.minimum(np.abs(ps[f"{col}err2"].to_numpy(float)), 0.99 * v)
        return 0.5 * (np.log1p(up / v) - np.log1p(-down / v)) / np.log(10)

    s_c, s_l = sigma_log10("pl_bmassj"), sigma_log10("st_mass")
    implied = np.sqrt(np.clip(s_c**2 - s_l**2, 0, None))
    ml_all = stacked.loc[stacked["discoverymethod"] == "Microlensing"]
    data, rows = model_data_from_stacked(ml_all)
    fitted = np.median(data.s_logq)
    target = max(np.median(implied), MeasurementConfig().lens_logq_err_floor)
    assert target / 2 <= fitted <= 2 * target
    # the former quadrature sum is an order of magnitude larger
    old, _ = model_data_from_stacked(ml_all, measurement=MeasurementConfig(lens_errors=False))
    assert np.median(old.s_logq) > 5 * fitted
    assert data.is_projected.sum() == len(rows)
    noproj, _ = model_data_from_stacked(ml_all, measurement=MeasurementConfig(projection=False))
    assert not noproj.is_projected.any()


def test_imaging_masses_get_the_model_floor(ps_validated):
    stacked = stack_catalogues(ps_validated, None).frame
    im = stacked.loc[stacked["in_window"] & (stacked["discoverymethod"] == "Imaging")]
    data, _ = model_data_from_stacked(im, min_rows=1)
    assert (data.s_logq >= MeasurementConfig().model_mass_logq_err_floor).all()


def test_a_row_both_msini_and_projected_is_refused():
    row = {"name": "X b", "logq": -3.0, "loga": 0.0, "pl_bmassj": 0.1, "pl_orbsmax": 1.0,
           "st_mass": 0.1, "mass_kind": "msini", "pl_orbeccen": np.nan,
           "ecc_status": "missing", "in_window": True, "is_reference": False,
           "sep_kind": "projected", "discoverymethod": "Microlensing"}
    with pytest.raises(InputDataError, match="both a minimum mass"):
        model_data_from_stacked(pd.DataFrame([row]), min_rows=1)
