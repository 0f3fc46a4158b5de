"""The host's spin in the Kozai–Lidov + tides kernels: its rotational bulge and its tide.

A young M dwarf is large and spins fast, so its rotational bulge (J2 = k2 Ω⋆² R⋆³ /
(3 G M⋆)) makes the companion's orbit precess like GR does and quenches KL growth
(:func:`vlms_bayes.feasibility.kozai.epsilon_rot_host`); in its equilibrium tide the spin
enters Hut's (1981) ȧ through the factor f1 − (1 − e²)^(3/2) f2 Ω⋆/n
(:mod:`vlms_bayes.feasibility.migration`).

The spin at age t comes from :class:`vlms_bayes.feasibility.priors.HostSpinPrior`: the
kernels see the mean and standard deviation of ln(P/d) as two tracks on the radius grid
(:data:`vlms_bayes.feasibility.radii.N_TRACK` nodes in ln t, interpolated linearly like the
radii) and a draw's standard-normal quantile z, so that

    Ω⋆(t) = min(2π / P(t), √(G M⋆ / R⋆(t)³)),   ln P(t) = μ(t) + σ(t) z,

capped at break-up with the host's radius at that age. The spin follows the prior alone
(the empirical distributions include magnetic braking); the spin-up of the host by the
companion's migration is neglected. For TOI-6894 the host's spin angular momentum
(k² M⋆ R⋆² Ω⋆, n = 1.5 polytrope k² = 0.205) at the prior's medians is ≈ 5× the final
orbit's at 8 Myr, ≈ 3× at 125 Myr and ≈ 0.3× at 1.7 Gyr, so the neglect matters most for
late migrations. ``host_spin="none"`` (a
non-rotating host, the behaviour before the spin entered) multiplies Ω⋆ by 0. The spin is
taken along the companion's orbit normal (as the companion's own rotational bulge in
:func:`~vlms_bayes.feasibility.kozai.epsilon_rot`), the usual approximation of the
analytic e_max with short-range forces (Liu, Muñoz & Lai 2015, MNRAS 447, 747).

Pure arithmetic shared by NumPy, JAX and numba (``register_jitable``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba.extending import register_jitable

from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility.priors import HostSpinPrior
from vlms_bayes.feasibility.radii import N_TRACK, track_ages_yr, track_position
from vlms_bayes.feasibility.units import G_AU3_MSUN_YR2

Array = Any

HOST_SPIN_MODES = ("prior", "none")
#: 2π × days per year: Ω (rad/yr) = this / P (d).
TWO_PI_DAYS_PER_YR = 2.0 * math.pi * 365.25


def spin_tracks(mode: str, prior: HostSpinPrior | None = None) -> np.ndarray:
    """The tracks the kernels read: μ(t) then σ(t) of ln(P/d) at the ``N_TRACK`` nodes.

    Parameters
    ----------
    mode : {"prior", "none"}
        The host spin prior, or a non-rotating host (the tracks are then those of the
        prior too, and the kernels' on/off factor is 0).
    prior : HostSpinPrior, optional
        Default :class:`~vlms_bayes.feasibility.priors.HostSpinPrior`.

    Returns
    -------
    numpy.ndarray, shape (2 N_TRACK,)
    """
    if mode not in HOST_SPIN_MODES:
        raise InputDataError(f"host_spin must be one of {', '.join(HOST_SPIN_MODES)}; got "
                             f"{mode!r}.")
    mu, sig = (prior or HostSpinPrior()).ln_period_moments(track_ages_yr())
    return np.concatenate([mu, sig])


@register_jitable
def host_spin_per_yr(t_yr: Array, p: Array, s_off: int, z0: Array, on0: Array, r0_au: Array,
                     m0_msun: Array, ln: Any, idx: Any, ex: Any) -> Array:
    """The host's angular velocity Ω⋆ (rad/yr) at age ``t_yr``, capped at break-up.

    Parameters
    ----------
    t_yr : array
        Age (yr), positive.
    p : array
        Parameter vector holding μ(t) at ``p[s_off:s_off + N_TRACK]`` and σ(t) after it.
    s_off : int
        Index of μ's first node.
    z0 : array
        The draw's standard-normal quantile of the spin.
    on0 : array
        1 with the host's spin, 0 for a non-rotating host.
    r0_au, m0_msun : array
        The host's radius at that age and its mass (break-up).
    ln, idx, ex : callable
        Logarithm, floor-to-index and exponential of the array library.
    """
    i, f = track_position(t_yr, ln, idx)
    return on0 * spin_from_nodes(p, s_off, i, f, z0, r0_au, m0_msun, ex)


@register_jitable
def spin_from_nodes(p: Array, s_off: int, i: Any, f: Array, z0: Array, r0_au: Array,
                    m0_msun: Array, ex: Any) -> Array:
    """Ω⋆ (rad/yr) from the node index ``i`` and fraction ``f`` of the age (no on/off).

    Shared with :func:`vlms_bayes.feasibility.migration._radii_at`, which has the index
    of the age already.
    """
    mu = p[s_off + i] * (1.0 - f) + p[s_off + i + 1] * f
    sig = p[s_off + N_TRACK + i] * (1.0 - f) + p[s_off + N_TRACK + i + 1] * f
    om = TWO_PI_DAYS_PER_YR / ex(mu + sig * z0)
    om_b = (G_AU3_MSUN_YR2 * m0_msun / (r0_au * r0_au * r0_au)) ** 0.5
    return om - (om - om_b) * (om > om_b)
