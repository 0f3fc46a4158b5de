"""Physical constants in the units of the feasibility code (AU, Msun, yr), from astropy.

Every formula in :mod:`vlms_bayes.feasibility` works in AU, solar masses and years; the
constants below are plain floats so that the same formula runs on NumPy arrays, JAX
arrays and inside numba kernels.
"""

from __future__ import annotations

from astropy import constants as _const
from astropy import units as _u

#: Gravitational constant, AU^3 Msun^-1 yr^-2 (≈ 4π²).
G_AU3_MSUN_YR2: float = float((_const.G * _const.M_sun).to_value(_u.AU**3 / _u.yr**2))
#: Speed of light, AU / yr.
C_AU_PER_YR: float = float(_const.c.to_value(_u.AU / _u.yr))
#: Solar radius, AU.
RSUN_AU: float = float(_const.R_sun.to_value(_u.AU))
#: Jupiter's equatorial radius, AU.
RJUP_AU: float = float(_const.R_jup.to_value(_u.AU))
#: Jupiter mass in solar masses.
MJUP_MSUN: float = float((_const.M_jup / _const.M_sun).decompose().value)
#: Seconds per (Julian) year.
SEC_PER_YR: float = float((1 * _u.yr).to_value(_u.s))
#: Grams per solar mass and square centimetres per square AU (surface densities).
G_PER_MSUN: float = float(_const.M_sun.to_value(_u.g))
CM2_PER_AU2: float = float((1 * _u.AU**2).to_value(_u.cm**2))
