"""Dynamical stability of hierarchical triples (Mardling & Aarseth 2001): pure formulas.

The inner pair (m0 + m1, semi-major axis a_in) and the outer body m_out (a_out, e_out,
mutual inclination i) are stable when

    a_out / a_in > (2.8 / (1 - e_out)) [(1 + q_out)(1 + e_out) / sqrt(1 - e_out)]^(2/5)
                   (1 - 0.3 i / π),

q_out = m_out / (m0 + m1), i in radians (their "ad hoc" inclination factor; Mardling &
Aarseth 2001, MNRAS 321, 398, as coded in SecularMultiple/TRES). Plain arithmetic: runs on
NumPy, JAX and numba alike.
"""

from __future__ import annotations

from typing import Any

Array = Any

_PI = 3.141592653589793


def ma01_critical_ratio(q_out: Array, e_out: Array, incl_rad: Array) -> Array:
    """Critical a_out / a_in of Mardling & Aarseth (2001); stable above it.

    Parameters
    ----------
    q_out : array
        m_out / (m0 + m1).
    e_out : array
        Outer eccentricity, 0 <= e_out < 1.
    incl_rad : array
        Mutual inclination in radians, 0..π.
    """
    return 2.8 / (1.0 - e_out) * ((1.0 + q_out) * (1.0 + e_out) / (1.0 - e_out) ** 0.5) ** 0.4 \
        * (1.0 - 0.3 * incl_rad / _PI)


def ma01_stable(a_in_au: Array, a_out_au: Array, q_out: Array, e_out: Array,
                incl_rad: Array) -> Array:
    """True where the triple is stable by Mardling & Aarseth (2001)."""
    crit = 2.8 / (1.0 - e_out) * ((1.0 + q_out) * (1.0 + e_out) / (1.0 - e_out) ** 0.5) ** 0.4 \
        * (1.0 - 0.3 * incl_rad / _PI)
    return a_out_au / a_in_au > crit
