"""P(Kozai–Lidov origin) of each companion for its host's actual stellar perturber.

For a companion whose host has a known stellar companion, the perturber is not drawn
from the population prior but fixed by what is known about it:

* **a Gaia DR3 NSS orbit** (:mod:`~vlms_bayes.feasibility.nss_orbits`): mass and
  semi-major axis drawn per system from the orbit's own model (``samplers``: for an SB1
  the mass function solved for M2 at an isotropic inclination and a drawn host mass);
* **given** (a user table, :func:`vlms_bayes.data_io.companions.read_companions_csv`, or
  the wide-binary query :func:`vlms_bayes.data_io.companions.query_wide_binary_companions`):
  mass ~ N(m, σ_m) (from the host class's mass-ratio distribution when unknown) and
  separation ~ N(s, σ_s) (truncated at > 0); a projected separation
  becomes a semi-major axis through the statistical projection factor s/a of a randomly
  oriented orbit with thermal eccentricity at a random time (:func:`projection_ratio`;
  its median is ≈ 0.98: for thermal orbits the larger mean distance, 1 + e²/2, about
  cancels the projection);
* **known but not measured** (PSCompPars ``sy_snum`` > 1, no orbit in the data): a
  perturber drawn from the host class's separation and mass-ratio distributions
  (:mod:`~vlms_bayes.feasibility.priors`) with the companion frequency set to 1.

Outer eccentricity thermal, mutual inclination isotropic, birth orbit as in the map, and
the map's physics for each companion's own host and mass (radii evolving with age and tidal
lags drawn per system unless ``radii="frozen"``/``lags="fixed"``; a host outside the
BHAC15 masses of the evolving radii is listed as not evaluated). The
probability is conditional on the perturber and on the companion's existence at its birth
orbit: P = n_arrive / n_stable, the share of the dynamically stable systems (the ones that
can host the companion at birth) that arrive, with a Clopper–Pearson interval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from vlms_bayes.feasibility.attribution import binomial_interval
from vlms_bayes.feasibility.draws import CRITERIA, make_draws, stream
from vlms_bayes.feasibility.montecarlo import FeasibilityConfig, Target, pair_counts
from vlms_bayes.feasibility.priors import multiplicity_prior, sample_perturbers
from vlms_bayes.feasibility.radii import HOST_MASS_RANGE

#: Systems drawn per companion.
N_SYSTEMS = 20_000
#: Radius assumed for a companion without one in the catalogue (RJ).
DEFAULT_RADIUS_RJ = 1.0
#: Sub-key of the ``probability`` stream used here (sub-keys 0-3 are the probability's).
SUBKEY = 10


def _kepler_e_anomaly(mean_anomaly: np.ndarray, e: np.ndarray) -> np.ndarray:
    big_e = np.where(e < 0.8, mean_anomaly, np.pi * np.ones_like(mean_anomaly))
    for _ in range(60):
        big_e = big_e - (big_e - e * np.sin(big_e) - mean_anomaly) / (1 - e * np.cos(big_e))
    return big_e


def projection_ratio(u: np.ndarray) -> np.ndarray:
    """Projected separation over semi-major axis, s/a, from uniform variates (n, 4).

    Thermal eccentricity (f(e) = 2e), uniform mean anomaly (random time), isotropic
    orientation (cos i uniform) and uniform argument of pericentre.
    """
    u = np.asarray(u, float)
    e = np.minimum(np.sqrt(u[:, 0]), 0.99)
    mean = 2 * np.pi * u[:, 1]
    big_e = _kepler_e_anomaly(mean, e)
    r = 1 - e * np.cos(big_e)
    f = 2 * np.arctan2(np.sqrt(1 + e) * np.sin(big_e / 2), np.sqrt(1 - e) * np.cos(big_e / 2))
    cos_i = 2 * u[:, 2] - 1
    omega = 2 * np.pi * u[:, 3]
    return r * np.sqrt(1 - (1 - cos_i**2) * np.sin(omega + f) ** 2)


def given_perturber_samples(m: float, m_err: float, sep: float, sep_err: float,
                            sep_kind: str, rng: np.random.Generator, n: int
                            ) -> dict[str, np.ndarray]:
    """Perturber masses and semi-major axes for a measured companion (see module doc)."""
    def positive_normal(mu: float, sd: float) -> np.ndarray:
        x = mu + sd * rng.standard_normal(n)
        bad = x <= 0
        while bad.any():
            x[bad] = mu + sd * rng.standard_normal(int(bad.sum()))
            bad = x <= 0
        return x

    m_out = positive_normal(m, m_err)
    s = positive_normal(sep, sep_err)
    a_out = s / projection_ratio(rng.random((n, 4))) if sep_kind == "projected" else s
    return {"m_out_msun": m_out, "a_out_au": a_out}


def known_perturber_probability(config: FeasibilityConfig, table: Any, m_out: np.ndarray,
                                a_out: np.ndarray, *, seed: int, key: int,
                                backend: Literal["jax", "numba"] = "numba"
                                ) -> dict[str, float]:
    """P(arrive | stable) over the given perturber samples, with its 95 % interval.

    Returns
    -------
    dict
        ``p_kl``, ``low``, ``high``, ``n_systems``, ``n_stable``, ``n_arrive`` (``p_kl`` NaN
        when no system is stable).
    """
    n = len(m_out)
    draws = make_draws(config, stream(seed, "probability", SUBKEY, key, 0), n=n)
    counts = pair_counts(config, table, m_out, a_out, draws, backend=backend)
    k = len(CRITERIA)
    n_stable = int(counts[:, k + 1].sum())
    n_arrive = int(counts[:, 2 * k - 1].sum())
    if n_stable == 0:
        return {"p_kl": float("nan"), "low": float("nan"), "high": float("nan"),
                "n_systems": n, "n_stable": 0, "n_arrive": 0}
    lo, hi = binomial_interval(n_arrive, n_stable)
    return {"p_kl": n_arrive / n_stable, "low": float(lo), "high": float(hi),
            "n_systems": n, "n_stable": n_stable, "n_arrive": n_arrive}


def _rv_columns(pval: float | None, threshold: float) -> dict[str, Any]:
    """``gaia_rv_pval`` and ``gaia_rv_note`` of a host (see :func:`perturber_table`)."""
    if pval is None or not np.isfinite(pval):
        return {"gaia_rv_pval": np.nan, "gaia_rv_note": "no Gaia RV p-value"}
    if pval < threshold:
        return {"gaia_rv_pval": float(pval),
                "gaia_rv_note": f"Gaia RV excess noise significant (p = {pval:.2g} < "
                                f"{threshold:g}): evidence of an unseen close companion "
                                "(no mass inferred)"}
    return {"gaia_rv_pval": float(pval),
            "gaia_rv_note": f"Gaia RV noise consistent with a single star (p = {pval:.2g})"}


def _status(snum: float) -> str:
    if not np.isfinite(snum):
        return "unknown (no sy_snum for this host)"
    if snum <= 1:
        return "no known stellar companion (PSCompPars sy_snum = 1)"
    return f"stellar companion known (sy_snum = {int(snum)}), no orbit in the data"


def perturber_table(sample: pd.DataFrame, multiplicity: pd.DataFrame | None,
                    companions: pd.DataFrame | None, config: FeasibilityConfig, table: Any,
                    *, seed: int, n_systems: int = N_SYSTEMS,
                    backend: Literal["jax", "numba"] = "numba",
                    rv_pvalues: Mapping[str, float] | None = None,
                    rv_detection_pval: float = 1e-3,
                    samplers: Mapping[str, Callable[[np.random.Generator, int],
                                                    tuple[np.ndarray, np.ndarray]]]
                    | None = None) -> pd.DataFrame:
    """One row per companion of the sample: its host's known perturber and P(KL origin).

    Parameters
    ----------
    sample : pandas.DataFrame
        Stacked rows (``name``, ``hostname``, ``st_mass``, ``st_rad``, ``pl_bmassj``,
        ``pl_orbsmax``); only ``in_window`` and ``is_reference`` rows when those columns
        exist.
    multiplicity : pandas.DataFrame or None
        :func:`~vlms_bayes.data_io.companions.read_host_multiplicity` (None: unknown).
    companions : pandas.DataFrame or None
        User-described perturbers (:func:`~vlms_bayes.data_io.companions.read_companions_csv`).
    config : FeasibilityConfig
        Physics settings and birth orbits (the target is replaced per companion).
    table : StabilityTable
        Quarles et al. (2020) table.
    seed : int
        The run's seed.
    n_systems : int
        Systems per companion.
    backend : {"jax", "numba"}
        Kernel backend.
    rv_pvalues : mapping of str to float, optional
        The hosts' Gaia RV excess-noise p-values (``rv_pval`` of ``vlms-bayes gaia-rv
        score``), by host name: listed in ``gaia_rv_pval``; a significant one
        (< ``rv_detection_pval``) is evidence of an unseen close companion, said in
        ``gaia_rv_note`` without a mass (none is inferred from it).
    rv_detection_pval : float
        Significance threshold of the p-value.
    samplers : mapping of str to callable, optional
        By host name, ``sampler(rng, n) -> (m_out_msun, a_out_au)`` drawing the perturber
        of a Gaia DR3 NSS orbit from its own model
        (:func:`~vlms_bayes.feasibility.nss_orbits.nss_samplers`); used where the host's
        ``companions`` row is that orbit's (its ``source`` starts with "Gaia DR3 NSS"),
        instead of normal draws around its summary.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``hostname``, ``sy_snum``, ``status``, ``perturber``, ``m_out_msun``,
        ``a_out_au_median``, ``p_kl``, ``low``, ``high``, ``n_stable``, ``n_arrive``,
        ``radius_rj``, ``note``, ``gaia_rv_pval``, ``gaia_rv_note``.
    """
    keep = np.ones(len(sample), bool)
    if "in_window" in sample.columns:
        keep = sample["in_window"].to_numpy(bool)
        if "is_reference" in sample.columns:
            keep = keep | sample["is_reference"].to_numpy(bool)
    rows = sample[keep]
    mult = pd.DataFrame(columns=["pl_name", "hostname", "sy_snum", "pl_radj"]) \
        if multiplicity is None else multiplicity
    snum_by_host = mult.groupby("hostname")["sy_snum"].max().to_dict()
    rad_by_name = dict(zip(mult["pl_name"], mult["pl_radj"], strict=True))
    comp = {} if companions is None else {r.hostname: r for r in companions.itertuples()}
    out = []
    for key, r in enumerate(rows.sort_values("name").itertuples()):
        host = str(r.hostname)
        snum = float(snum_by_host.get(host, np.nan))
        status = _status(snum)
        row: dict[str, Any] = {"name": r.name, "hostname": host, "sy_snum": snum,
                               "status": status, "perturber": "none known",
                               "m_out_msun": np.nan, "a_out_au_median": np.nan,
                               "p_kl": np.nan, "low": np.nan, "high": np.nan,
                               "n_stable": 0, "n_arrive": 0, "radius_rj": np.nan, "note": "",
                               **_rv_columns((rv_pvalues or {}).get(host), rv_detection_pval)}
        given = comp.get(host)
        if given is not None:
            mass = (f"{given.m_out_msun:g} +/- {given.m_out_err_msun:g} Msun"
                    if np.isfinite(given.m_out_msun) else "mass from the q prior")
            row["perturber"] = (f"given: {mass} at {given.sep_kind} {given.sep_au:g} +/- "
                                f"{given.sep_err_au:g} AU ({given.source})")
            if not status.startswith("stellar"):
                by = "Gaia DR3 NSS" if str(given.source).startswith("Gaia DR3 NSS") \
                    else "the user"
                row["status"] = f"stellar companion given by {by} ({status})"
        elif snum > 1:
            row["perturber"] = "drawn from the multiplicity prior with frequency 1"
        else:
            out.append(row)
            continue
        vals = {"m_star_msun": r.st_mass, "r_star_rsun": r.st_rad, "mass_mj": r.pl_bmassj,
                "a_au": r.pl_orbsmax}
        if np.isfinite(r.pl_orbsmax) and r.pl_orbsmax >= config.a0_range_au[0]:
            row["note"] = (f"not evaluated: a = {r.pl_orbsmax:.3g} AU is not inside the "
                           f"inner edge of the birth orbits ({config.a0_range_au[0]:g}-"
                           f"{config.a0_range_au[1]:g} AU), from which KL + tides move "
                           "companions inward")
            out.append(row)
            continue
        bad = [k for k, v in vals.items() if not (np.isfinite(v) and v > 0)]
        if bad:
            row["note"] = f"not evaluated: no {', '.join(bad)} in the catalogue"
            out.append(row)
            continue
        lo, hi = HOST_MASS_RANGE
        if config.radii == "evolving" and not lo <= r.st_mass <= hi:
            row["note"] = (f"not evaluated: the host's {r.st_mass:.3g} Msun is outside the "
                           f"BHAC15 models of the time-dependent radii ({lo:g}-{hi:g} Msun); "
                           "--radii frozen evaluates it with today's radii")
            out.append(row)
            continue
        rad = rad_by_name.get(r.name, np.nan)
        if not (np.isfinite(rad) and rad > 0):
            rad = DEFAULT_RADIUS_RJ
            row["note"] = f"R_p not in the catalogue: {DEFAULT_RADIUS_RJ:g} RJ assumed"
        row["radius_rj"] = rad
        cfg = dataclasses.replace(config, target=Target(name=str(r.name),
                                                        radius_rj=float(rad),
                                                        **{k: float(v) for k, v in
                                                           vals.items()}))
        rng = np.random.default_rng(stream(seed, "probability", SUBKEY, key, 1))
        sampler = (samplers or {}).get(host)
        if given is not None and sampler is not None \
                and str(given.source).startswith("Gaia DR3 NSS"):
            m2, a2 = sampler(rng, n_systems)
            pert = {"m_out_msun": m2, "a_out_au": a2}
            p16, p50, p84 = np.percentile(m2, [16, 50, 84])
            row["perturber"] = (f"given: M2 and a drawn per system from the orbit (M2 median "
                                f"{p50:.3g} Msun, 16-84% {p16:.3g}-{p84:.3g}; a median "
                                f"{np.median(a2):.3g} AU) ({given.source})")
        elif given is not None:
            mass_known = bool(np.isfinite(given.m_out_msun))
            pert = given_perturber_samples(given.m_out_msun if mass_known else 1.0,
                                           given.m_out_err_msun if mass_known else 0.0,
                                           given.sep_au, given.sep_err_au, given.sep_kind,
                                           rng, n_systems)
            if not mass_known:  # mass from the host class's mass-ratio distribution
                prior = multiplicity_prior(float(r.st_mass))
                q = sample_perturbers(prior, float(r.st_mass), rng.random((n_systems, 2)),
                                      rng.standard_normal((n_systems, 2)))
                pert["m_out_msun"] = q["m_out_msun"]
        else:
            prior = multiplicity_prior(float(r.st_mass))
            pert = sample_perturbers(prior, float(r.st_mass), rng.random((n_systems, 2)),
                                     rng.standard_normal((n_systems, 2)))
        res = known_perturber_probability(cfg, table, pert["m_out_msun"], pert["a_out_au"],
                                          seed=seed, key=key, backend=backend)
        row.update(res)
        row["m_out_msun"] = float(np.median(pert["m_out_msun"]))
        row["a_out_au_median"] = float(np.median(pert["a_out_au"]))
        if res["n_stable"] == 0:
            row["note"] = (row["note"] + "; " if row["note"] else "") + \
                "no stable system: the perturber cannot host the companion's birth orbit"
        out.append(row)
    return pd.DataFrame(out)


def perturber_lines(frame: pd.DataFrame) -> list[str]:
    """Summary lines of the table (computed)."""
    n = len(frame)
    known = frame[frame["perturber"] != "none known"]
    lines = [f"Known stellar perturbers of the sample's {n} companions "
             f"(known_perturbers.csv): {len(known)} have one, "
             f"{int(frame['status'].str.startswith('no known').sum())} have none known, "
             f"{int(frame['status'].str.startswith('unknown').sum())} unknown"]
    if "gaia_rv_note" in frame.columns:
        for r in frame[frame["gaia_rv_note"].str.startswith("Gaia RV excess")].itertuples():
            lines.append(f"  {r.name}: {r.gaia_rv_note}")
    for r in known.itertuples():
        if np.isfinite(r.p_kl):
            lines.append(f"  {r.name}: P(KL origin | its perturber) = {r.p_kl:.3g} "
                         f"({r.low:.3g}-{r.high:.3g}; {r.perturber})")
        else:
            lines.append(f"  {r.name}: {r.note or 'not evaluated'} ({r.perturber})")
    return lines


def target_sample(target: Target, hostname: str) -> pd.DataFrame:
    """A one-row sample for a single target (the ``feasibility`` command)."""
    return pd.DataFrame({"name": [target.name], "hostname": [hostname],
                         "st_mass": [target.m_star_msun], "st_rad": [target.r_star_rsun],
                         "pl_bmassj": [target.mass_mj], "pl_orbsmax": [target.a_au]})


def map_markers(frame: pd.DataFrame | None, companions: pd.DataFrame | None,
                target_host: str) -> pd.DataFrame | None:
    """The target host's given perturber as a marker for fig3 (None when there is none)."""
    if companions is None:
        return None
    rows = companions[companions["hostname"] == target_host]
    if rows.empty:
        return None
    c = rows.iloc[0]
    a = float(c["sep_au"])
    m, m_err = float(c["m_out_msun"]), float(c["m_out_err_msun"])
    if not np.isfinite(m):  # unknown mass: the median of the drawn masses
        hit = frame[frame["hostname"] == target_host] if frame is not None else frame
        if hit is None or hit.empty or not np.isfinite(hit["m_out_msun"].iloc[0]):
            return None
        m, m_err = float(hit["m_out_msun"].iloc[0]), 0.0
    return pd.DataFrame({"m_out_msun": [m], "a_out_au": [a], "m_out_err": [m_err],
                         "a_out_err": [float(c["sep_err_au"])],
                         "label": [f"{target_host}'s companion ({c['sep_kind']} sep.)"]})
