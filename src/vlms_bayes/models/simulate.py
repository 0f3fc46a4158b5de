"""Simulate stacked catalogues from known populations (for tests and recovery studies).

The simulator draws from the generative model that :mod:`vlms_bayes.models.mixture`
assumes — true (log q, log a) from K bivariate normals, true e from Beta distributions —
and then observes each object as a catalogue would: heteroscedastic Gaussian errors,
minimum masses with isotropic inclinations, eccentricity upper limits, fixed-zero and
missing eccentricities. The result has the stacked-dataset columns of
:mod:`vlms_bayes.data_io.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vlms_bayes.data_io.schema import STACKED_COLUMNS
from vlms_bayes.orbits import MJUP_PER_MSUN


@dataclass(frozen=True, kw_only=True)
class PopulationTruth:
    """Parameters of K populations (arrays of length K, ordered by mean log q)."""

    w: tuple[float, ...] = (0.7, 0.3)
    mu_logq: tuple[float, ...] = (-3.0, -1.3)
    mu_loga: tuple[float, ...] = (-1.3, -0.3)
    sigma_logq: tuple[float, ...] = (0.35, 0.3)
    sigma_loga: tuple[float, ...] = (0.4, 0.4)
    rho: tuple[float, ...] = (0.2, -0.1)
    e_mean: tuple[float, ...] = (0.15, 0.45)
    e_conc: tuple[float, ...] = (8.0, 6.0)
    #: When set, the *last* population's q follows dN/dq ∝ q^γ on [q_min, 1] (γ, q_min)
    #: instead of its normal in log q — the rising mass-ratio distribution of very-low-mass
    #: binaries — with log a still normal (ρ ignored for it).
    last_q_power_law: tuple[float, float] | None = None
    #: Population (0 … P − 1) of each component, when several components make one
    #: population (``true_population`` column); None: one component per population.
    component_population: tuple[int, ...] | None = None

    @property
    def k(self) -> int:
        """Number of populations."""
        return len(self.w)


@dataclass(frozen=True, kw_only=True)
class ObservationSettings:
    """How simulated objects are observed (fractions and error ranges).

    ``clip_e`` clips measured eccentricities to [0, 0.99] like a catalogue would (the
    model's Gaussian measurement term is then slightly misspecified near 0); turn it off
    for exact agreement with the model.
    """

    f_msini: float = 0.3
    f_e_measured: float = 0.5
    f_e_limit: float = 0.1
    f_e_fixed_zero: float = 0.15
    logq_err: tuple[float, float] = (0.03, 0.2)
    loga_err: tuple[float, float] = (0.01, 0.05)
    e_err: tuple[float, float] = (0.02, 0.1)
    methods: tuple[str, ...] = field(default=("Radial Velocity", "Transit", "Microlensing"))
    clip_e: bool = True
    host_mass_range_msun: tuple[float, float] = (0.07, 0.2)
    #: Methods that report a projected separation a sin φ instead of a (cos φ uniform);
    #: applied by :func:`project_separations` once each row has its method.
    projected_methods: tuple[str, ...] = ()
    #: Methods whose masses are minimum masses (None: any row, with ``f_msini``); others
    #: are observed with their true mass (:func:`restrict_msini`).
    msini_methods: tuple[str, ...] | None = None
    #: Per-method ranges of the log q and log a errors, replacing ``logq_err``/``loga_err``.
    method_errors: dict[str, tuple[tuple[float, float], tuple[float, float]]] | None = None


def simulate_catalogue(
    n: int,
    *,
    truth: PopulationTruth | None = None,
    observe: ObservationSettings | None = None,
    random_seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate a stacked catalogue of ``n`` companions.

    Parameters
    ----------
    n : int
        Number of objects.
    truth : PopulationTruth, optional
        The populations (default: a planet-like and a binary-like one).
    observe : ObservationSettings, optional
        Observation fractions and error ranges.
    random_seed : int or numpy.random.Generator, optional
        Randomness.

    Returns
    -------
    pandas.DataFrame
        Stacked-schema rows plus ``true_label``, ``true_logq``, ``true_loga``, ``true_e``,
        ``true_sin_i``.
    """
    tr = truth or PopulationTruth()
    ob = observe or ObservationSettings()
    rng = np.random.default_rng(random_seed)
    lab = rng.choice(tr.k, size=n, p=np.asarray(tr.w) / np.sum(tr.w))
    mu = np.c_[tr.mu_logq, tr.mu_loga][lab]
    sq, sa, rho = (np.asarray(v)[lab] for v in (tr.sigma_logq, tr.sigma_loga, tr.rho))
    z1, z2 = rng.standard_normal((2, n))
    true_logq = mu[:, 0] + sq * z1
    true_loga = mu[:, 1] + sa * (rho * z1 + np.sqrt(1 - rho**2) * z2)
    if tr.last_q_power_law is not None:  # its own stream: the other draws stay as they were
        gamma, q_min = tr.last_q_power_law
        last = lab == tr.k - 1
        u_q = rng.spawn(1)[0].random(int(last.sum()))
        g1 = gamma + 1.0  # inverse CDF of q^γ on [q_min, 1]
        q = (q_min**g1 + u_q * (1.0 - q_min**g1)) ** (1.0 / g1)
        true_logq = np.where(last, 0.0, true_logq)
        true_logq[last] = np.log10(q)
        true_loga = np.where(last, mu[:, 1] + sa * z2, true_loga)
    m, c = np.asarray(tr.e_mean)[lab], np.asarray(tr.e_conc)[lab]
    true_e = rng.beta(m * c, (1 - m) * c)

    msini = rng.random(n) < ob.f_msini
    cos_i = rng.random(n)
    log_sini = 0.5 * np.log10(1.0 - cos_i**2)
    s_q = rng.uniform(*ob.logq_err, n)
    s_a = rng.uniform(*ob.loga_err, n)
    obs_logq = true_logq + np.where(msini, log_sini, 0.0) + s_q * rng.standard_normal(n)
    obs_loga = true_loga + s_a * rng.standard_normal(n)

    u = rng.random(n)
    f = np.cumsum([ob.f_e_measured, ob.f_e_limit, ob.f_e_fixed_zero])
    status = np.select([u < f[0], u < f[1], u < f[2]],
                       ["measured", "upper_limit", "fixed_zero"], "missing")
    s_e = rng.uniform(*ob.e_err, n)
    e_meas = true_e + s_e * rng.standard_normal(n)
    if ob.clip_e:  # catalogues report e in [0, 1): a mild departure from the Gaussian model
        e_meas = np.clip(e_meas, 0.0, 0.99)
    e_lim = np.minimum(true_e + rng.uniform(0.05, 0.3, n), 0.99)
    e_col = np.select([status == "measured", status == "upper_limit", status == "fixed_zero"],
                      [e_meas, e_lim, 0.0], np.nan)
    e_err = np.where(status == "measured", s_e, np.nan)

    m_star = rng.uniform(*ob.host_mass_range_msun, n)
    q_obs = 10.0**obs_logq
    frame = pd.DataFrame({
        "name": [f"SIM-{i:05d} b" for i in range(n)],
        "hostname": [f"SIM-{i:05d}" for i in range(n)],
        "source": "PSCompPars",
        "discoverymethod": rng.choice(list(ob.methods), size=n),
        "st_mass": m_star, "st_mass_err_hi": np.nan, "st_mass_err_lo": np.nan,
        "pl_bmassj": q_obs * m_star * MJUP_PER_MSUN,
        "pl_bmassj_err_hi": np.nan, "pl_bmassj_err_lo": np.nan,
        "mass_kind": np.where(msini, "msini", "true"), "mass_is_limit": False,
        "q": q_obs, "logq": obs_logq, "logq_err_hi": s_q, "logq_err_lo": s_q,
        "pl_orbper": np.nan, "pl_orbper_err_hi": np.nan, "pl_orbper_err_lo": np.nan,
        "pl_orbsmax": 10.0**obs_loga, "pl_orbsmax_err_hi": np.nan, "pl_orbsmax_err_lo": np.nan,
        "a_from_period": False,
        "loga": obs_loga, "loga_err_hi": s_a, "loga_err_lo": s_a,
        "pl_orbeccen": e_col, "pl_orbeccen_err_hi": e_err, "pl_orbeccen_err_lo": e_err,
        "ecc_status": status, "st_metfe": np.nan, "st_rad": np.nan,
        "sep_kind": "true", "logq_rule": "quadrature",
        "sy_vmag": np.nan, "sy_kmag": np.nan, "sy_gaiamag": np.nan,
        "in_window": True, "is_reference": False,
    })
    frame = frame[list(STACKED_COLUMNS)].copy()
    frame["true_label"] = lab
    frame["true_population"] = (lab if tr.component_population is None
                                else np.asarray(tr.component_population)[lab])
    frame["true_logq"] = true_logq
    frame["true_loga"] = true_loga
    frame["true_e"] = true_e
    frame["true_sin_i"] = np.sqrt(1.0 - cos_i**2)
    # its own stream (spawning consumes nothing), so the other columns are what they were
    # before projections existed
    frame["true_sin_phi"] = np.sqrt(1.0 - rng.spawn(1)[0].random(n) ** 2)
    return project_separations(frame, ob.projected_methods)


def restrict_msini(frame: pd.DataFrame, methods: tuple[str, ...] | None) -> pd.DataFrame:
    """Rows outside ``methods`` observe their true mass (undo the sin i factor)."""
    if methods is None:
        return frame
    out = frame.copy()
    hit = ((out["mass_kind"] == "msini") & ~out["discoverymethod"].isin(list(methods))
           ).to_numpy()
    if hit.any():
        shift = np.log10(out.loc[hit, "true_sin_i"].to_numpy(float))
        out.loc[hit, "logq"] = out.loc[hit, "logq"].to_numpy(float) - shift
        out.loc[hit, "q"] = 10.0 ** out.loc[hit, "logq"].to_numpy(float)
        out.loc[hit, "pl_bmassj"] = out.loc[hit, "q"] * out.loc[hit, "st_mass"] * MJUP_PER_MSUN
        out.loc[hit, "mass_kind"] = "true"
    return out


def apply_method_errors(frame: pd.DataFrame,
                        errors: dict[str, tuple[tuple[float, float], tuple[float, float]]] | None,
                        rng: np.random.Generator) -> pd.DataFrame:
    """Re-observe log q and log a of each method's rows with that method's error ranges.

    The noise is redrawn around the noiseless value (true value plus the sin i / sin φ
    shifts already applied), so the result is exact for the new errors.
    """
    if not errors:
        return frame
    out = frame.copy()
    for method, (q_rng, a_rng) in errors.items():
        hit = (out["discoverymethod"] == method).to_numpy()
        n = int(hit.sum())
        if not n:
            continue
        base_q = out.loc[hit, "true_logq"].to_numpy(float) + np.where(
            out.loc[hit, "mass_kind"] == "msini",
            np.log10(out.loc[hit, "true_sin_i"].to_numpy(float)), 0.0)
        base_a = out.loc[hit, "true_loga"].to_numpy(float) + np.where(
            out.loc[hit, "sep_kind"] == "projected",
            np.log10(out.loc[hit, "true_sin_phi"].to_numpy(float)), 0.0)
        s_q, s_a = rng.uniform(*q_rng, n), rng.uniform(*a_rng, n)
        out.loc[hit, "logq"] = base_q + s_q * rng.standard_normal(n)
        out.loc[hit, "loga"] = base_a + s_a * rng.standard_normal(n)
        out.loc[hit, "logq_err_hi"] = out.loc[hit, "logq_err_lo"] = s_q
        out.loc[hit, "loga_err_hi"] = out.loc[hit, "loga_err_lo"] = s_a
        out.loc[hit, "q"] = 10.0 ** out.loc[hit, "logq"].to_numpy(float)
        out.loc[hit, "pl_bmassj"] = out.loc[hit, "q"] * out.loc[hit, "st_mass"] * MJUP_PER_MSUN
        out.loc[hit, "pl_orbsmax"] = 10.0 ** out.loc[hit, "loga"].to_numpy(float)
    return out


def project_separations(frame: pd.DataFrame, methods: tuple[str, ...]) -> pd.DataFrame:
    """Observe the separations of rows of ``methods`` projected: a sin φ (``true_sin_phi``).

    Rows already projected (``sep_kind == "projected"``) are left alone, so the call can be
    repeated after the methods are reassigned; minimum-mass rows keep their semi-major axis
    (a method that measures m sin i fits an orbit).
    """
    out = frame.copy()
    hit = (out["discoverymethod"].isin(list(methods)) & (out["sep_kind"] != "projected")
           & (out["mass_kind"] != "msini")).to_numpy()
    if hit.any():
        shift = np.log10(out.loc[hit, "true_sin_phi"].to_numpy(float))
        out.loc[hit, "loga"] = out.loc[hit, "loga"].to_numpy(float) + shift
        out.loc[hit, "pl_orbsmax"] = 10.0 ** out.loc[hit, "loga"].to_numpy(float)
        out.loc[hit, "sep_kind"] = "projected"
    return out
