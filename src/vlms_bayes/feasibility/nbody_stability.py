"""Independent N-body check of a stability limit with REBOUND (optional dependency).

A test planet (negligible mass) starts on a circular orbit around star A, coplanar with
the binary, with the binary at periastron as in Quarles et al. (2020), and the system is
integrated with WHFast (Jacobi coordinates: A, planet, B) for a number of binary
orbits. The planet is lost when its osculating orbit about A becomes unbound or its
distance from A exceeds half the binary's periastron distance.

REBOUND is needed only here (``pip install rebound``); the rest of vlms-bayes does not
import it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from vlms_bayes.errors import VlmsBayesError


@dataclass(frozen=True)
class SurvivalResult:
    """Outcome of one integration.

    Attributes
    ----------
    survived : bool
        Whether the planet stayed bound to A for the whole run.
    t_end_binary_orbits : float
        Time reached (the loss time when lost), in binary orbits.
    max_e_planet : float
        Largest osculating eccentricity of the planet about A that was seen.
    wall_s : float
        Wall time of the integration.
    """

    survived: bool
    t_end_binary_orbits: float
    max_e_planet: float
    wall_s: float


def planet_survives(
    *,
    m_a_msun: float,
    m_b_msun: float,
    a_bin_au: float,
    e_bin: float,
    a_planet_au: float,
    lambda_deg: float = 0.0,
    n_binary_orbits: float = 1e4,
    steps_per_planet_orbit: float = 25.0,
    check_every_binary_orbits: float = 5.0,
) -> SurvivalResult:
    """Integrate a massless planet around star A of a binary and report whether it survives.

    Parameters
    ----------
    m_a_msun, m_b_msun : float
        Star masses (A hosts the planet).
    a_bin_au, e_bin : float
        Binary semi-major axis and eccentricity; the binary starts at periastron.
    a_planet_au : float
        Initial semi-major axis of the planet's circular, coplanar, prograde orbit.
    lambda_deg : float
        Initial mean longitude of the planet (degrees, from the binary's periastron line).
    n_binary_orbits : float
        Length of the run in binary periods (Holman & Wiegert used 10^4).
    steps_per_planet_orbit : float
        WHFast steps per initial planet orbit.
    check_every_binary_orbits : float
        How often the planet's orbit is tested.

    Returns
    -------
    SurvivalResult
        Whether the planet stayed bound, and when it was lost.
    """
    try:
        import rebound  # heavy: REBOUND
    except ImportError as exc:  # optional dependency of this check only
        raise VlmsBayesError(
            "The N-body check needs REBOUND: pip install 'rebound>=5.2'."
        ) from exc

    sim = rebound.Simulation()
    sim.units = ("yr", "AU", "Msun")
    sim.add(m=m_a_msun)
    # a tiny but non-zero mass keeps the Jacobi ordering A, planet, B (active first)
    sim.add(m=1e-12 * m_a_msun, a=a_planet_au, e=0.0, l=math.radians(lambda_deg))
    sim.add(m=m_b_msun, a=a_bin_au, e=e_bin, f=0.0)  # B at periastron
    sim.move_to_com()
    p_planet = 2 * math.pi * math.sqrt(a_planet_au**3 / (sim.G * m_a_msun))
    p_bin = sim.particles[2].orbit(primary=sim.particles[0]).P
    sim.integrator = "whfast"
    sim.dt = p_planet / steps_per_planet_orbit
    # REBOUND >= 5 configures the integrator on sim.integrator, 4.x on sim.ri_whfast
    whfast = getattr(sim, "ri_whfast", None) or sim.integrator
    whfast.safe_mode = 0
    r_lost = 0.5 * a_bin_au * (1.0 - e_bin)

    star, planet = sim.particles[0], sim.particles[1]
    max_e = 0.0
    t0 = time.perf_counter()
    t_end = n_binary_orbits * p_bin
    t = 0.0
    survived = True
    while t < t_end:
        t = min(t + check_every_binary_orbits * p_bin, t_end)
        sim.integrate(t, exact_finish_time=0)
        dx, dy, dz = planet.x - star.x, planet.y - star.y, planet.z - star.z
        orb = planet.orbit(primary=star)
        max_e = max(max_e, orb.e)
        if orb.e >= 1.0 or math.sqrt(dx * dx + dy * dy + dz * dz) > r_lost:
            survived = False
            break
    sim.synchronize()
    return SurvivalResult(survived, sim.t / p_bin, max_e, time.perf_counter() - t0)
