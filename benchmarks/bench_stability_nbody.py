"""N-body check of the alpha Cen A stability limit with REBOUND (WHFast), with timings.

Usage::

    PYTHONPATH=src python benchmarks/bench_stability_nbody.py [--orbits 10000]
        [--data-dir ../shared/data]

A massless planet on a circular, coplanar orbit around alpha Cen A at f x a_c
(f = 0.8, 1.0, 1.2; a_c from Quarles et al. 2020) is integrated for ``--orbits`` binary
periods from five initial mean longitudes, with the binary starting at periastron.
Prints survival, loss time, the largest planet eccentricity seen and the wall time.
"""

from __future__ import annotations

import argparse
import resource
import time

from vlms_bayes.data_io.quarles import load_stability_table
from vlms_bayes.feasibility.nbody_stability import planet_survives
from vlms_bayes.feasibility.stability import holman_wiegert_stype
from vlms_bayes.feasibility.stability_limits import stability_limits

M_A, M_B, E_BIN, P_BIN_YR = 1.133, 0.972, 0.524, 79.91


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orbits", type=float, default=1e4)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    table = load_stability_table(0, data_dir=args.data_dir)
    res = stability_limits(e_bin=E_BIN, table=table, m_a_msun=M_A, m_b_msun=M_B,
                           p_bin_yr=P_BIN_YR)
    a_bin, a_c, mu = float(res["a_bin_au"]), float(res["a_c_au"]), float(res["mu"])
    print(f"alpha Cen AB: mu = {mu:.4f}, a_bin = {a_bin:.3f} AU, a_c (Quarles, 0 deg) = "
          f"{a_c:.3f} AU, a_c (HW99) = {holman_wiegert_stype(mu, E_BIN) * a_bin:.3f} AU")
    t_all = time.perf_counter()
    for factor in (0.8, 1.0, 1.2):
        for lam in (0.0, 45.0, 90.0, 135.0, 180.0):
            r = planet_survives(m_a_msun=M_A, m_b_msun=M_B, a_bin_au=a_bin, e_bin=E_BIN,
                                a_planet_au=factor * a_c, lambda_deg=lam,
                                n_binary_orbits=args.orbits)
            state = "survived" if r.survived else "LOST at "
            print(f"  a_p = {factor:.1f} a_c = {factor * a_c:.3f} AU, lambda = {lam:5.1f} deg: "
                  f"{state:>8} {r.t_end_binary_orbits:6.0f} binary orbits; "
                  f"max e_p = {r.max_e_planet:.3f}; wall {r.wall_s:.2f} s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total wall {time.perf_counter() - t_all:.1f} s; peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
