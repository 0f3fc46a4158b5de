"""A Gaia DR3 non-single-star orbit of a host as a perturber: companion mass and separation.

The host's row of ``gaiadr3.nss_two_body_orbit`` (columns as in the Gaia DR3 data model,
https://gea.esac.esa.int/archive/documentation/GDR3/Gaia_archive/chap_datamodel/sec_dm_non--single_stars_tables/ssec_dm_nss_two_body_orbit.html;
read by :mod:`vlms_bayes.data_io.gaia_nss`) constrains the companion's mass ``M2`` given the
host's mass ``M1``; the relative semi-major axis then follows from Kepler's third law,
``a = ((M1 + M2) P²)^(1/3)`` (AU, Msun, yr). By ``nss_solution_type``:

* **astrometric** (``Orbital``, ``OrbitalAlternative*``, ``OrbitalTargetedSearch*``,
  ``AstroSpectroSB1``): the photocentre semi-major axis ``a0`` (mas) from the Thiele–Innes
  constants A, B, F, G (Halbwachs et al. 2023, A&A 674, A9, appendix A), in AU with the
  solution's parallax, gives the astrometric mass function
  ``a0³ / P² = M2³ / (M1 + M2)²`` for a companion that adds no light. A luminous companion
  moves the photocentre less, so ``M2`` is then a *lower limit* (stated in the source
  text);
* **SB1** (``SB1``, ``SB1C``): the spectroscopic mass function
  ``f(M) = P K1³ (1 - e²)^(3/2) / (2πG) = (M2 sin i)³ / (M1 + M2)²`` (the table has no mass
  function column; it is computed from ``period``, ``semi_amplitude_primary`` and
  ``eccentricity``), with an isotropic inclination (cos i uniform): ``M2`` is a
  distribution, not a value, and its spread is mostly the unknown inclination;
* **SB2** (``SB2``, ``SB2C``): ``M2 = M1 K1 / K2``;
* other types (``EclipsingBinary``, ``EclipsingSpectro``...) are listed but not used (no
  mass without a model of the light curve).

Uncertainties are propagated by Monte Carlo over independent normal errors of the inputs
(the correlations in ``corr_vec`` are not used) and of the host's mass; the perturber is
summarised by the median of ``M2`` and ``a`` and half their 16–84 % range (``sep_kind``
``true``; a standard deviation would be set by the few nearly face-on SB1 draws). The
summary is for the tables only: the systems of P(KL origin | perturber) draw ``M2`` and
``a`` per system from the orbit's own model (:class:`OrbitSampler`, :func:`nss_samplers`;
for an SB1 the mass function solved for ``M2`` at an isotropic inclination and a drawn host
mass), so the skewed SB1 distribution, its tail of nearly face-on orbits included, and the
correlation of ``M2`` and ``a`` are kept.
An orbit whose ``a`` is within 30 % of a known companion's semi-major axis is that companion
itself and an orbit inside it is not an outer perturber: both are listed, not used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from astropy import constants as const
from astropy import units as u
from numpy.typing import ArrayLike

from vlms_bayes.data_io.companions import COMPANION_COLUMNS
from vlms_bayes.feasibility.units import G_AU3_MSUN_YR2

#: Solution types with an astrometric orbit (Thiele–Innes constants).
ASTROMETRIC_TYPES: tuple[str, ...] = (
    "Orbital", "OrbitalAlternative", "OrbitalAlternativeValidated", "OrbitalTargetedSearch",
    "OrbitalTargetedSearchValidated", "AstroSpectroSB1")
#: Single-lined spectroscopic solution types.
SB1_TYPES: tuple[str, ...] = ("SB1", "SB1C")
#: Double-lined spectroscopic solution types.
SB2_TYPES: tuple[str, ...] = ("SB2", "SB2C")
#: Preference among several solutions of one source (first wins).
_RANK = {**{t: 0 for t in ASTROMETRIC_TYPES}, **{t: 1 for t in SB2_TYPES},
         **{t: 2 for t in SB1_TYPES}}
#: Days per Julian year.
DAYS_PER_YR: float = float((1 * u.yr).to_value(u.day))
#: f(M) in Msun for P in days and K1 in km/s: P K³ / (2πG).
_FM_MSUN_PER_DAY_KMS3: float = float((1 * u.day * (1 * u.km / u.s) ** 3
                                      / (2 * np.pi * const.G * const.M_sun)).decompose())
#: An orbit with a within this fraction of a known companion's a is that companion.
SELF_ORBIT_TOLERANCE = 0.3
#: Monte Carlo draws per orbit.
N_DRAWS = 4000


def thiele_innes_a0(a: ArrayLike, b: ArrayLike, f: ArrayLike, g: ArrayLike) -> np.ndarray:
    """Semi-major axis of the photocentre orbit from the Thiele–Innes constants A, B, F, G.

    ``u = (A² + B² + F² + G²) / 2``, ``v = AG - BF``, ``a0 = sqrt(u + sqrt(u² - v²))``
    (same unit as the inputs, mas in Gaia DR3).
    """
    a, b, f, g = (np.asarray(x, float) for x in (a, b, f, g))
    uu = 0.5 * (a**2 + b**2 + f**2 + g**2)
    v = a * g - b * f
    return np.sqrt(uu + np.sqrt(np.maximum(uu**2 - v**2, 0.0)))


def spectroscopic_mass_function(period_d: ArrayLike, k1_kms: ArrayLike,
                                ecc: ArrayLike) -> np.ndarray:
    """SB1 mass function ``P K1³ (1 - e²)^(3/2) / (2πG)`` in Msun (P in days, K1 in km/s)."""
    period_d, k1_kms, ecc = (np.asarray(x, float) for x in (period_d, k1_kms, ecc))
    return _FM_MSUN_PER_DAY_KMS3 * period_d * k1_kms**3 * (1 - ecc**2) ** 1.5


def companion_mass(mass_function_msun: ArrayLike, m1_msun: ArrayLike) -> np.ndarray:
    """``M2`` solving ``M2³ / (M1 + M2)² = f`` (Msun; increasing in M2, so one root).

    Bisection in log M2 over [1e-8, 1e4] Msun, vectorised (60 halvings: relative error
    below 1e-13 of the bracket's log width).
    """
    fm, m1 = np.broadcast_arrays(np.asarray(mass_function_msun, float),
                                 np.asarray(m1_msun, float))
    lo = np.full(fm.shape, np.log(1e-8))
    hi = np.full(fm.shape, np.log(1e4))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        m2 = np.exp(mid)
        above = m2**3 / (m1 + m2) ** 2 > fm
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    out = np.exp(0.5 * (lo + hi))
    return np.where((fm > 0) & (m1 > 0), out, np.nan)


def relative_semimajor_axis_au(m1_msun: ArrayLike, m2_msun: ArrayLike,
                               period_d: ArrayLike) -> np.ndarray:
    """Kepler's third law: ``a = (G (M1 + M2) P² / 4π²)^(1/3)`` in AU."""
    p_yr = np.asarray(period_d, float) / DAYS_PER_YR
    m = np.asarray(m1_msun, float) + np.asarray(m2_msun, float)
    return np.cbrt(G_AU3_MSUN_YR2 * m * p_yr**2 / (4 * np.pi**2))


def _value(row: Mapping[str, Any], name: str) -> float:
    v = row.get(name, np.nan)
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _draw(row: Mapping[str, Any], name: str, rng: np.random.Generator, n: int,
          positive: bool = True) -> np.ndarray:
    """Normal draws of a column around its value with its ``_error`` (0 when missing)."""
    mu, sd = _value(row, name), _value(row, f"{name}_error")
    sd = sd if np.isfinite(sd) and sd > 0 else 0.0
    x = mu + sd * rng.standard_normal(n)
    if positive:
        x = np.where(x > 0, x, np.nan)
    return x


def orbit_samples(row: Mapping[str, Any], m1_msun: float, m1_err_msun: float,
                  rng: np.random.Generator, n: int = N_DRAWS
                  ) -> tuple[np.ndarray, np.ndarray, str] | tuple[None, None, str]:
    """``M2`` and ``a`` samples (Msun, AU) of one NSS solution, with the method used.

    Returns ``(None, None, reason)`` for a solution that gives no mass (see module doc).
    """
    kind = str(row.get("nss_solution_type", "")).strip()
    period = _draw(row, "period", rng, n)
    m1 = m1_msun + (m1_err_msun if m1_err_msun > 0 else 0.0) * rng.standard_normal(n)
    m1 = np.where(m1 > 0, m1, np.nan)
    if not np.isfinite(_value(row, "period")):
        return None, None, "no period"
    if kind in ASTROMETRIC_TYPES:
        te = [_draw(row, f"{c}_thiele_innes", rng, n, positive=False) for c in "abfg"]
        plx = _draw(row, "parallax", rng, n)
        if not all(np.isfinite(_value(row, f"{c}_thiele_innes")) for c in "abfg") or \
                not np.isfinite(_value(row, "parallax")):
            return None, None, "astrometric solution without Thiele-Innes constants or parallax"
        a0_au = thiele_innes_a0(*te) / plx
        fm = a0_au**3 / (period / DAYS_PER_YR) ** 2
        method = ("astrometric mass function (a0 from Thiele-Innes, dark companion: a lower "
                  "limit if it adds light)")
    elif kind in SB1_TYPES:
        k1 = _draw(row, "semi_amplitude_primary", rng, n)
        if not np.isfinite(_value(row, "semi_amplitude_primary")):
            return None, None, "SB1 solution without semi_amplitude_primary"
        ecc = _value(row, "eccentricity")
        e = _draw(row, "eccentricity", rng, n, positive=False) if np.isfinite(ecc) \
            else np.zeros(n)  # SB1C: circular
        e = np.clip(np.nan_to_num(e, nan=0.0), 0.0, 0.99)
        sin_i = np.sqrt(1 - rng.random(n) ** 2)  # isotropic: cos i uniform
        fm = spectroscopic_mass_function(period, k1, e) / sin_i**3
        method = "spectroscopic mass function, isotropic inclination"
    elif kind in SB2_TYPES:
        k1 = _draw(row, "semi_amplitude_primary", rng, n)
        k2 = _draw(row, "semi_amplitude_secondary", rng, n)
        if not (np.isfinite(_value(row, "semi_amplitude_primary"))
                and np.isfinite(_value(row, "semi_amplitude_secondary"))):
            return None, None, "SB2 solution without both semi-amplitudes"
        m2 = m1 * k1 / k2
        return m2, relative_semimajor_axis_au(m1, m2, period), "SB2 mass ratio K1/K2"
    else:
        return None, None, f"solution type {kind or '(empty)'} gives no companion mass"
    m2 = companion_mass(fm, m1)
    return m2, relative_semimajor_axis_au(m1, m2, period), method


@dataclass(frozen=True)
class OrbitSampler:
    """Draws ``(M2, a)`` (Msun, AU) of one NSS solution from its own model.

    Each call runs :func:`orbit_samples` (normal errors of the inputs, the host mass
    ``N(m1_msun, m1_err_msun)``, for an SB1 an isotropic inclination, the mass function
    solved for ``M2`` per draw) and keeps the finite draws (inputs drawn non-physical,
    e.g. a negative semi-amplitude, are redrawn).

    Attributes
    ----------
    row : mapping
        The solution's row (data-model column names).
    m1_msun, m1_err_msun : float
        The host's mass and its error.
    """

    row: Mapping[str, Any]
    m1_msun: float
    m1_err_msun: float

    def __call__(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws of ``(M2, a)``."""
        m2s: list[np.ndarray] = []
        as_: list[np.ndarray] = []
        got = 0
        for _ in range(50):
            m2, a, method = orbit_samples(self.row, self.m1_msun, self.m1_err_msun, rng,
                                          max(2 * (n - got), 64))
            if m2 is None or a is None:
                raise ValueError(f"This NSS solution gives no mass: {method}.")
            ok = np.isfinite(m2) & np.isfinite(a)
            m2s.append(m2[ok])
            as_.append(a[ok])
            got += int(ok.sum())
            if got >= n:
                return np.concatenate(m2s)[:n], np.concatenate(as_)[:n]
        raise ValueError("This NSS solution's inputs give almost no finite mass.")


def nss_samplers(orbits: pd.DataFrame, hosts: pd.DataFrame, solutions: pd.DataFrame
                 ) -> dict[str, OrbitSampler]:
    """The :class:`OrbitSampler` of each host's used solution (host name → sampler).

    Parameters
    ----------
    orbits : pandas.DataFrame
        The NSS rows given to :func:`nss_perturbers`, in the same order.
    hosts : pandas.DataFrame
        ``hostname``, ``m_star_msun``, optional ``m_star_err_msun``.
    solutions : pandas.DataFrame
        The ``solutions`` returned by :func:`nss_perturbers` for these rows.
    """
    info = hosts.drop_duplicates("hostname").set_index("hostname")
    out: dict[str, OrbitSampler] = {}
    for i, r in enumerate(orbits.to_dict("records")):
        if not bool(solutions["used"].iloc[i]):
            continue
        host = str(r["hostname"])
        h = info.loc[host]
        err = _value(h, "m_star_err_msun")
        out[host] = OrbitSampler(r, float(h["m_star_msun"]),
                                 err if np.isfinite(err) and err > 0 else 0.0)
    return out


def _spread(x: np.ndarray) -> float:
    """Half the 16-84 % range (σ of a normal; robust to the long tail of sin i → 0).

    0 where it is rounding noise (inputs without errors).
    """
    lo, hi = np.percentile(x, [16, 84])
    sd = 0.5 * float(hi - lo)
    return 0.0 if sd <= 1e-9 * abs(float(np.median(x))) else sd


def nss_perturbers(orbits: pd.DataFrame, hosts: pd.DataFrame, *,
                   rng: np.random.Generator, n_draws: int = N_DRAWS
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Perturbers (one per host) from the hosts' Gaia DR3 NSS orbits.

    Parameters
    ----------
    orbits : pandas.DataFrame
        NSS rows with a ``hostname`` column
        (:func:`vlms_bayes.data_io.gaia_nss.match_nss_to_hosts`).
    hosts : pandas.DataFrame
        ``hostname``, ``m_star_msun``, optional ``m_star_err_msun`` and ``a_known_au`` (the
        largest semi-major axis of the host's known companions, to recognise an orbit that
        is the companion itself).
    rng : numpy.random.Generator
        Source of the Monte Carlo draws.
    n_draws : int
        Draws per orbit.

    Returns
    -------
    perturbers : pandas.DataFrame
        :data:`~vlms_bayes.data_io.companions.COMPANION_COLUMNS`, one row per host with a
        usable orbit (the astrometric one first, then SB2, then SB1).
    solutions : pandas.DataFrame
        Every solution: ``hostname``, ``source_id``, ``nss_solution_type``, ``period_d``,
        ``m2_msun``, ``m2_err_msun``, ``m2_p16_msun``, ``m2_p84_msun``, ``a_au``,
        ``a_err_au``, ``method``, ``used`` and ``note``.
    """
    info = hosts.drop_duplicates("hostname").set_index("hostname")
    recs: list[dict[str, Any]] = []
    for r in orbits.to_dict("records"):
        host = str(r["hostname"])
        rec: dict[str, Any] = {
            "hostname": host, "source_id": r.get("source_id"),
            "nss_solution_type": str(r.get("nss_solution_type", "")),
            "period_d": _value(r, "period"), "m2_msun": np.nan, "m2_err_msun": np.nan,
            "m2_p16_msun": np.nan, "m2_p84_msun": np.nan, "a_au": np.nan, "a_err_au": np.nan,
            "method": "", "used": False, "note": ""}
        recs.append(rec)
        if host not in info.index or not np.isfinite(_value(info.loc[host], "m_star_msun")):
            rec["note"] = "no host mass"
            continue
        h = info.loc[host]
        m1_err = _value(h, "m_star_err_msun")
        m2, a, method = orbit_samples(r, float(h["m_star_msun"]),
                                      m1_err if np.isfinite(m1_err) else 0.0, rng, n_draws)
        rec["method"] = method
        if m2 is None or a is None:
            rec["note"] = f"not used: {method}"
            continue
        ok = np.isfinite(m2) & np.isfinite(a)
        if ok.sum() < 10:
            rec["note"] = "not used: the inputs give no finite mass"
            continue
        m2, a = m2[ok], a[ok]
        rec.update(m2_msun=float(np.median(m2)), m2_err_msun=_spread(m2),
                   m2_p16_msun=float(np.percentile(m2, 16)),
                   m2_p84_msun=float(np.percentile(m2, 84)),
                   a_au=float(np.median(a)), a_err_au=_spread(a))
        a_known = _value(h, "a_known_au")
        if np.isfinite(a_known) and abs(rec["a_au"] / a_known - 1) < SELF_ORBIT_TOLERANCE:
            rec["note"] = (f"not used: a = {rec['a_au']:.3g} AU is the known companion's "
                           f"orbit ({a_known:.3g} AU), not another body")
        elif np.isfinite(a_known) and rec["a_au"] < a_known:
            rec["note"] = (f"not used: a = {rec['a_au']:.3g} AU lies inside the known "
                           f"companion's orbit ({a_known:.3g} AU): not an outer perturber")
        else:
            rec["used"] = True
    solutions = pd.DataFrame(recs, columns=[
        "hostname", "source_id", "nss_solution_type", "period_d", "m2_msun", "m2_err_msun",
        "m2_p16_msun", "m2_p84_msun", "a_au", "a_err_au", "method", "used", "note"])
    rows = []
    usable = solutions[solutions["used"]].copy()
    usable["rank"] = usable["nss_solution_type"].map(_RANK).fillna(9)
    for host, grp in usable.sort_values(["rank", "a_au"]).groupby("hostname", sort=True):
        best = grp.iloc[0]
        solutions.loc[(solutions["hostname"] == host) & solutions["used"]
                      & (solutions.index != best.name), "note"] = \
            "usable, but another solution of this host was preferred"
        solutions.loc[(solutions["hostname"] == host) & (solutions.index != best.name),
                      "used"] = False
        rows.append({"hostname": host, "m_out_msun": best["m2_msun"],
                     "m_out_err_msun": best["m2_err_msun"], "sep_au": best["a_au"],
                     "sep_err_au": best["a_err_au"], "sep_kind": "true",
                     "source": f"Gaia DR3 NSS {best['nss_solution_type']} "
                               f"{best['source_id']}: P = {best['period_d']:.4g} d, "
                               f"{best['method']}"})
    return pd.DataFrame(rows, columns=list(COMPANION_COLUMNS)), solutions


def merge_companions(tables: Sequence[pd.DataFrame | None]) -> pd.DataFrame | None:
    """One perturber per host from several tables; an earlier table wins for a host."""
    frames = [t for t in tables if t is not None and not t.empty]
    if not frames:
        return None if all(t is None for t in tables) else \
            pd.DataFrame(columns=list(COMPANION_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    return out.drop_duplicates("hostname", keep="first").reset_index(drop=True)
