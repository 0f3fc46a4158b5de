"""Radii of the host and the companion as functions of age (time-dependent tides).

The tidal rates scale as R⁵ and the disruption distance as R_p, so frozen present-day
radii make high-eccentricity migration look easier than it is: an M dwarf is several
times larger on the pre-main sequence, and a young giant planet is inflated.

* **Host**: Baraffe et al. (2015, A&A 577, A42; BHAC15) isochrone radii, shipped as
  ``vlms_bayes/data/evolution/bhac15_radius.csv`` (README there: source, date, sha256),
  interpolated linearly in log mass and log age and scaled so that the radius at
  :data:`HOST_REFERENCE_AGE_YR` (main sequence) is the measured one:
  R⋆(t) = R⋆,obs · R(M⋆, t) / R(M⋆, 5 Gyr). Masses 0.05–0.5 Msun.
* **Companion**: the relative contraction ρ(t) = R(m, t) / R(m, t_end) of the COND03 track
  of its mass (Baraffe et al. 2003, A&A 402, 701; ``cond03_radius.csv``; 0.52–3.1 M_J,
  hot start, non-irradiated), interpolated in log mass and clamped to the grid's masses
  (lighter companions take the 0.52 M_J track: an extrapolation), anchored to the measured
  radius: R_p(t) = R_p,obs · [1 + s (ρ(t) − 1)], s a per-draw amplitude
  (:class:`vlms_bayes.feasibility.priors.ContractionPrior`) for the model's uncertainty.
  The host's spin follows its own age-dependent prior
  (:class:`vlms_bayes.feasibility.priors.HostSpinPrior`, :mod:`vlms_bayes.feasibility.spin`),
  read on the same age grid.

The kernels see both as values on a fixed grid in ln t (:data:`N_TRACK` nodes from
10^6 to 10^10.5 yr, held constant outside) and interpolate linearly
(:func:`track_at`, pure arithmetic shared by NumPy, JAX and numba). With frozen radii the
tracks are flat (host at R⋆,obs, inflation 0), which reproduces the old constant radii.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import numpy as np
from numba.extending import register_jitable

from vlms_bayes.errors import DataUnavailableError, InputDataError
from vlms_bayes.feasibility.units import MJUP_MSUN

Array = Any

#: Nodes of the age grid of the radius tracks (log10 t from 6 to 10.5, step 0.125 dex).
N_TRACK = 37
LOG10_T0 = 6.0
DLOG10_T = 0.125
#: ln of the first node age and 1 / (node spacing in ln t).
LN_T0 = LOG10_T0 * math.log(10.0)
INV_DLN = 1.0 / (DLOG10_T * math.log(10.0))
#: Age at which the host model radius is matched to the measured one (main sequence).
HOST_REFERENCE_AGE_YR = 5e9
#: Host masses the shipped BHAC15 extract covers (Msun).
HOST_MASS_RANGE = (0.05, 0.5)
RADIUS_MODES = ("evolving", "frozen")
_CM_PER_RJUP = 7.1492e9


def track_ages_yr() -> np.ndarray:
    """Ages (yr) of the track nodes."""
    return 10.0 ** (LOG10_T0 + DLOG10_T * np.arange(N_TRACK))


@register_jitable
def track_position(t_yr: Array, ln: Any, idx: Any) -> tuple[Any, Array]:
    """Node index ``i`` and fraction ``f`` of age ``t_yr`` on the track grid (linear in ln t).

    Ages outside the grid are held at its end nodes. ``ln``: natural logarithm and ``idx``:
    floor to an integer index, of the array library.
    """
    x = (ln(t_yr) - LN_T0) * INV_DLN
    x = x * (x > 0.0)
    top = N_TRACK - 1.000000001
    x = x - (x - top) * (x > top)
    i = idx(x)
    return i, x - i


@register_jitable
def track_at(t_yr: Array, p: Array, off: int, ln: Any, idx: Any) -> Array:
    """Value of the track stored at ``p[off:off + N_TRACK]`` at age ``t_yr`` (linear in ln t).

    Parameters
    ----------
    t_yr : array
        Age (yr), positive.
    p : array
        Parameter vector holding the track.
    off : int
        Index of the track's first node in ``p``.
    ln : callable
        Natural logarithm of the array library.
    idx : callable
        Floor to an integer index of the array library.
    """
    i, f = track_position(t_yr, ln, idx)
    return p[off + i] * (1.0 - f) + p[off + i + 1] * f


#: Package-data folder of the tables (shipped in the wheel with the package's files).
EVOLUTION_DATA = ("data", "evolution")


def _folder() -> Traversable:
    """The tables' folder as package data (:func:`importlib.resources.files`)."""
    return resources.files("vlms_bayes").joinpath(*EVOLUTION_DATA)


@functools.cache
def _table(name: str) -> np.ndarray:
    """The shipped CSV ``name`` as a (rows, 3) array, checked against its pinned sha256."""
    folder = _folder()
    try:
        man = {f["file"]: f
               for f in json.loads(folder.joinpath("manifest.json").read_text())["files"]}
        raw = folder.joinpath(name).read_bytes()
    except (OSError, KeyError, ValueError) as err:
        raise DataUnavailableError(
            f"The evolutionary table {name} or its manifest.json is missing from the "
            f"installed package ({folder}): reinstall vlms-bayes, or run with frozen radii "
            f"(--radii frozen). ({err})") from err
    if hashlib.sha256(raw).hexdigest() != man[name]["sha256"]:
        raise DataUnavailableError(
            f"The shipped evolutionary table {folder / name} does not match its pinned sha256 "
            "(manifest.json): the installation is damaged; reinstall vlms-bayes, or run with "
            "frozen radii (--radii frozen).")
    return np.loadtxt(io.BytesIO(raw), delimiter=",", skiprows=1, ndmin=2)


def _per_mass(table: np.ndarray, log_ages: np.ndarray, scale: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log radius of every model mass at ``log_ages`` (held at the ends of its track)."""
    masses = np.unique(table[:, 1])
    out = np.empty((masses.size, log_ages.size))
    last = np.empty(masses.size)
    for i, m in enumerate(masses):
        rows = table[table[:, 1] == m]
        rows = rows[np.argsort(rows[:, 0])]
        la = np.log10(rows[:, 0] * 1e9)
        lr = np.log(rows[:, 2] * scale)
        out[i] = np.interp(log_ages, la, lr)
        last[i] = lr[-1]
    return masses, out, last


def _in_mass(masses: np.ndarray, values: np.ndarray, m: float) -> np.ndarray:
    """Linear interpolation of per-mass rows in log mass (clamped to the grid)."""
    lm = np.log(masses)
    x = float(np.clip(np.log(m), lm[0], lm[-1]))
    j = int(np.clip(np.searchsorted(lm, x) - 1, 0, lm.size - 2))
    f = (x - lm[j]) / (lm[j + 1] - lm[j])
    return (1.0 - f) * values[j] + f * values[j + 1]


def host_radius_ratio(m_star_msun: float, ages_yr: np.ndarray) -> np.ndarray:
    """R⋆(t) / R⋆(5 Gyr) of a host of this mass from BHAC15 (Baraffe et al. 2015).

    Raises
    ------
    InputDataError
        For a host mass outside :data:`HOST_MASS_RANGE`.
    """
    lo, hi = HOST_MASS_RANGE
    if not lo <= m_star_msun <= hi:
        raise InputDataError(
            f"Time-dependent host radii come from BHAC15 models of {lo}-{hi} Msun; the host "
            f"mass {m_star_msun} Msun is outside. Use frozen radii (--radii frozen).")
    log_ages = np.log10(np.asarray(ages_yr, float))
    masses, ln_r, _ = _per_mass(_table("bhac15_radius.csv"), log_ages)
    _, ln_ref, _ = _per_mass(_table("bhac15_radius.csv"),
                             np.array([np.log10(HOST_REFERENCE_AGE_YR)]))
    return np.exp(_in_mass(masses, ln_r, m_star_msun)
                  - _in_mass(masses, ln_ref, m_star_msun)[0])


def companion_contraction(m_p_msun: float, ages_yr: np.ndarray) -> np.ndarray:
    """ρ(t) = R(t) / R(t_end) of the COND03 track of this mass (Baraffe et al. 2003).

    t_end is the last age of each model mass's track (1–12 Gyr); companions lighter or
    heavier than the grid (0.52–3.1 M_J) take its end track.
    """
    log_ages = np.log10(np.asarray(ages_yr, float))
    masses, ln_r, last = _per_mass(_table("cond03_radius.csv"), log_ages, 1e9 / _CM_PER_RJUP)
    return np.exp(_in_mass(masses, ln_r - last[:, None], m_p_msun))


def companion_mass_note(m_p_msun: float) -> str:
    """Whether the companion's mass lies in the COND03 grid (for the stated assumptions)."""
    masses = np.unique(_table("cond03_radius.csv")[:, 1])
    if m_p_msun < masses[0]:
        return (f"extrapolated: {m_p_msun / MJUP_MSUN:.3g} MJ is below the grid's "
                f"{masses[0] / MJUP_MSUN:.2f} MJ, whose contraction is used")
    if m_p_msun > masses[-1]:
        return (f"clamped: {m_p_msun / MJUP_MSUN:.3g} MJ is above the grid's "
                f"{masses[-1] / MJUP_MSUN:.2f} MJ, whose contraction is used")
    return "interpolated in log mass"


def radius_tracks(mode: str, m_star_msun: float, r_star_au: float, m_p_msun: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Host radius (AU) and companion inflation ρ − 1 at the :data:`N_TRACK` nodes.

    Parameters
    ----------
    mode : {"evolving", "frozen"}
        Evolving radii, or today's radii at every age (flat tracks).
    m_star_msun, r_star_au : float
        Host mass and measured radius.
    m_p_msun : float
        Companion mass.
    """
    if mode not in RADIUS_MODES:
        raise InputDataError(f"radii must be one of {', '.join(RADIUS_MODES)}; got {mode!r}.")
    if mode == "frozen":
        return np.full(N_TRACK, float(r_star_au)), np.zeros(N_TRACK)
    ages = track_ages_yr()
    return (r_star_au * host_radius_ratio(m_star_msun, ages),
            companion_contraction(m_p_msun, ages) - 1.0)
