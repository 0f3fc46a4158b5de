"""Simulated samples that look like the real one, for validation with a known truth.

:func:`m_dwarf_like` is the scenario of issue 15's validation: a planet population that is
*not* one Gaussian in separation — close-in small planets and cold giants, as the real
M-dwarf sample has (transit and RV planets near 0.02 AU, microlensing giants at 1–3 AU) —
and a binary-like population whose mass ratio rises toward q = 1 (dN/dq ∝ q^1.8 on
[0.01, 1], as measured for very-low-mass binaries by Allen 2007, ApJ 668, 492) with a
log-normal separation; observed by radial velocity (minimum masses), transit,
microlensing and imaging through the selection functions, with each method's own error
sizes (microlensing q to a few per cent, projected separations for microlensing and
imaging).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.simulate import ObservationSettings, PopulationTruth
from vlms_bayes.models.simulate_selection import simulate_detected

#: Close-in planets, cold giants (one planet-like population), binary-like companions.
M_DWARF_TRUTH = PopulationTruth(
    w=(0.55, 0.30, 0.15),
    mu_logq=(-4.2, -2.7, -1.0), mu_loga=(-1.5, 0.3, 0.8),
    sigma_logq=(0.35, 0.4, 0.4), sigma_loga=(0.3, 0.3, 0.6), rho=(0.2, 0.0, 0.0),
    e_mean=(0.08, 0.08, 0.35), e_conc=(10.0, 10.0, 4.0),
    last_q_power_law=(1.8, 0.01), component_population=(0, 0, 1),
)

#: How each method observes (error ranges in dex: (log q), (log a)).
M_DWARF_OBSERVE = ObservationSettings(
    f_msini=1.0, msini_methods=("Radial Velocity",),
    projected_methods=("Microlensing", "Imaging"),
    method_errors={
        "Radial Velocity": ((0.03, 0.08), (0.005, 0.02)),
        "Transit": ((0.02, 0.06), (0.003, 0.01)),
        "Microlensing": ((0.02, 0.06), (0.04, 0.1)),
        "Imaging": ((0.08, 0.15), (0.01, 0.04)),
    },
    clip_e=False,
)
M_DWARF_METHODS: tuple[str, ...] = ("Radial Velocity", "Transit", "Microlensing", "Imaging")
#: Share of the intrinsic companions each method searches (sets the per-method counts).
M_DWARF_METHOD_PROBS: tuple[float, ...] = (0.025, 0.785, 0.09, 0.10)


def m_dwarf_like(n_intrinsic: int = 2500, *, random_seed: int = 0,
                 selection: SelectionModel | None = None,
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One replica of the M-dwarf-like scenario: (detected, intrinsic) frames.

    ``true_population`` is 0 for planet-like and 1 for binary-like objects; the true
    intrinsic binary-like fraction is ``M_DWARF_TRUTH.w[-1]`` (0.15).
    """
    return simulate_detected(n_intrinsic, truth=M_DWARF_TRUTH, selection=selection,
                             methods=M_DWARF_METHODS, method_probs=M_DWARF_METHOD_PROBS,
                             observe=M_DWARF_OBSERVE, random_seed=np.random.default_rng(
                                 random_seed))
