"""A synthetic stacked dataset with a known truth, for tests, benchmarks and demos.

The frame has every column of :data:`vlms_bayes.data_io.schema.STACKED_COLUMNS` and the
flags the real catalogues carry (minimum masses, eccentricities fixed at zero without an
uncertainty, upper limits, missing metallicities, hosts outside the window, a reference
object). Two populations are drawn: a planet-like one (small q, small a, low e) and a
binary-like one (large q, wide orbits, higher e). Nothing here is used by the analysis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vlms_bayes.data_io.schema import STACKED_COLUMNS
from vlms_bayes.orbits import MJUP_PER_MSUN, period_day

#: Truth of the two populations: (mean log q, sd, mean log a, sd, Beta alpha, Beta beta).
TRUTH: dict[str, tuple[float, float, float, float, float, float]] = {
    "planet": (-3.0, 0.35, -1.4, 0.35, 0.9, 6.0),
    "binary": (-1.4, 0.25, 0.2, 0.4, 2.0, 2.5),
}


def synthetic_stacked(
    n: int = 120,
    *,
    seed: int | np.random.Generator,
    frac_binary: float = 0.3,
    frac_fixed_zero: float = 0.15,
    frac_upper_limit: float = 0.05,
    frac_missing_e: float = 0.05,
    frac_missing_feh: float = 0.3,
    frac_outside: float = 0.1,
    with_reference: bool = True,
) -> pd.DataFrame:
    """Draw a stacked dataset in the schema of ``vlms_companions_stacked.csv``.

    Parameters
    ----------
    n : int
        Number of companions (the reference object is added on top).
    seed : int or numpy.random.Generator
        Randomness.
    frac_binary : float
        Fraction drawn from the binary-like population (column ``truth_binary`` = 1).
    frac_fixed_zero, frac_upper_limit, frac_missing_e : float
        Fractions of rows whose eccentricity is fixed at 0 (no uncertainty), an upper limit
        or missing.
    frac_missing_feh : float
        Fraction of rows without a host metallicity.
    frac_outside : float
        Fraction of hosts outside the 0.06–0.20 Msun window.
    with_reference : bool
        Append a TOI-6894 b-like reference row (host 0.207 Msun, outside the window).

    Returns
    -------
    pandas.DataFrame
        The stacked columns plus ``truth_binary`` (0/1) and ``truth_e`` (the drawn e).
    """
    rng = np.random.default_rng(seed)
    is_bin = rng.random(n) < frac_binary
    logq = np.empty(n)
    loga = np.empty(n)
    e_true = np.empty(n)
    for key, mask in (("planet", ~is_bin), ("binary", is_bin)):
        mq, sq, ma, sa, al, be = TRUTH[key]
        k = int(mask.sum())
        logq[mask] = rng.normal(mq, sq, k)
        loga[mask] = rng.normal(ma, sa, k)
        e_true[mask] = rng.beta(al, be, k)

    outside = rng.random(n) < frac_outside
    m_star = np.where(outside, rng.uniform(0.21, 0.3, n), rng.uniform(0.06, 0.2, n))
    m_comp_mj = 10.0**logq * m_star * MJUP_PER_MSUN
    a_au = 10.0**loga

    methods = np.where(
        is_bin,
        rng.choice(["Imaging", "Radial Velocity", "Astrometry"], n, p=[0.4, 0.4, 0.2]),
        rng.choice(["Transit", "Radial Velocity", "Microlensing"], n, p=[0.45, 0.35, 0.2]),
    )
    source = np.where(is_bin & (rng.random(n) < 0.5), "BDcat", "PSCompPars")
    mass_kind = np.where(methods == "Radial Velocity", "msini", "true")

    u = rng.random(n)
    c1 = frac_fixed_zero
    c2 = c1 + frac_upper_limit
    c3 = c2 + frac_missing_e
    status = np.select([u < c1, u < c2, u < c3], ["fixed_zero", "upper_limit", "missing"],
                       default="measured")
    e_err = np.clip(0.05 + 0.05 * rng.random(n), None, None)
    e_obs = np.clip(e_true + rng.normal(0.0, 0.01, n), 0.001, 0.95)
    e_obs = np.where(status == "fixed_zero", 0.0, e_obs)
    e_obs = np.where(status == "upper_limit", np.minimum(e_true + 0.2, 0.95), e_obs)
    e_obs = np.where(status == "missing", np.nan, e_obs)
    e_hi = np.where(status == "measured", e_err, np.nan)

    feh = np.where(rng.random(n) < frac_missing_feh, np.nan, rng.normal(0.0, 0.2, n))
    frame = pd.DataFrame({
        "name": [f"SYN-{i:04d} b" for i in range(n)],
        "hostname": [f"SYN-{i:04d}" for i in range(n)],
        "source": source,
        "discoverymethod": methods,
        "st_mass": m_star,
        "st_mass_err_hi": 0.01 * np.ones(n),
        "st_mass_err_lo": 0.01 * np.ones(n),
        "pl_bmassj": m_comp_mj,
        "pl_bmassj_err_hi": 0.1 * m_comp_mj,
        "pl_bmassj_err_lo": 0.1 * m_comp_mj,
        "mass_kind": mass_kind,
        "mass_is_limit": np.zeros(n, bool),
        "pl_orbper": period_day(a_au, m_star, m_comp_mj),
        "pl_orbsmax": a_au,
        "pl_orbsmax_err_hi": 0.02 * a_au,
        "pl_orbsmax_err_lo": 0.02 * a_au,
        "a_from_period": source == "BDcat",
        "pl_orbeccen": e_obs,
        "pl_orbeccen_err_hi": e_hi,
        "pl_orbeccen_err_lo": e_hi,
        "ecc_status": status,
        "st_metfe": feh,
        "st_rad": m_star,
        "sep_kind": "true", "logq_rule": "quadrature",
        "sy_vmag": np.nan, "sy_kmag": np.nan, "sy_gaiamag": np.nan,
        "in_window": ~outside,
        "is_reference": np.zeros(n, bool),
        "truth_binary": is_bin.astype(int),
        "truth_e": e_true,
    })
    if with_reference:
        ref = {c: np.nan for c in frame.columns}
        ref.update(name="TOI-6894 b", hostname="TOI-6894", source="reference",
                   discoverymethod="Transit", st_mass=0.207, st_mass_err_hi=0.011,
                   st_mass_err_lo=0.011, pl_bmassj=0.168, pl_bmassj_err_hi=0.022,
                   pl_bmassj_err_lo=0.022, mass_kind="true", mass_is_limit=False,
                   pl_orbper=3.37077196, pl_orbsmax=0.02604, pl_orbsmax_err_hi=0.00045,
                   pl_orbsmax_err_lo=0.00045, a_from_period=False, pl_orbeccen=0.029,
                   pl_orbeccen_err_hi=0.030, pl_orbeccen_err_lo=0.029,
                   ecc_status="measured", st_metfe=0.142, st_rad=0.2276, in_window=False,
                   is_reference=True, truth_binary=0, truth_e=0.029)
        frame = pd.concat([frame, pd.DataFrame([ref])], ignore_index=True)
    frame["q"] = frame["pl_bmassj"] / (frame["st_mass"] * MJUP_PER_MSUN)
    frame["logq"] = np.log10(frame["q"])
    frame["loga"] = np.log10(frame["pl_orbsmax"])
    ln10 = np.log(10.0)
    rel_m = frame["pl_bmassj_err_hi"] / frame["pl_bmassj"]
    rel_s = frame["st_mass_err_hi"] / frame["st_mass"]
    frame["logq_err_hi"] = np.hypot(rel_m, rel_s) / ln10
    frame["logq_err_lo"] = frame["logq_err_hi"]
    frame["loga_err_hi"] = frame["pl_orbsmax_err_hi"] / frame["pl_orbsmax"] / ln10
    frame["loga_err_lo"] = frame["loga_err_hi"]
    frame["pl_orbper_err_hi"] = 1e-4 * frame["pl_orbper"]
    frame["pl_orbper_err_lo"] = frame["pl_orbper_err_hi"]
    for col in ("mass_is_limit", "a_from_period", "in_window", "is_reference"):
        frame[col] = frame[col].astype(bool)
    extra = [c for c in frame.columns if c not in STACKED_COLUMNS]
    return frame[list(STACKED_COLUMNS) + extra]
