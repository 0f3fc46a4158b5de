"""Benchmark: Gaia RV detection probability over the feasibility grid (numba, CRN).

Run: PYTHONPATH=src python benchmarks/bench_feasibility_gaia.py [--grid 100] [--draws 300]
      [--n-transits 20]

Times :func:`vlms_bayes.inference.rv.exclusion.detection_probability_grid` for the
default feasibility grid (M_out 0.01–0.6 Msun × a_out 5–5000 AU around TOI-6894's 0.207 Msun
host) after a small warm-up call (numba compilation, reported separately); prints wall and
CPU time, cells × draws × transits per second and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from vlms_bayes.inference.rv import exclusion as ge


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", type=int, default=100)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--n-transits", type=int, default=20)
    args = ap.parse_args()
    m = np.geomspace(0.01, 0.6, args.grid)
    a = np.geomspace(5.0, 5000.0, args.grid)
    kw = {"ln_sigma": float(np.log(0.3)), "ln_sigma_err": 0.05, "n_transits": args.n_transits}
    t0 = time.perf_counter()
    ge.detection_probability_grid(0.207, m[:2], a[:2], n_draws=4, **kw)
    warm = time.perf_counter() - t0
    tracemalloc.start()
    t0, c0 = time.perf_counter(), _cpu()
    prob = ge.detection_probability_grid(0.207, m, a, n_draws=args.draws, seed=0, **kw)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    work = args.grid**2 * args.draws * args.n_transits
    print(f"grid {args.grid}x{args.grid}, {args.draws} draws, N = {args.n_transits}: "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU (CPU/wall {cpu / wall:.2f}); "
          f"{work / wall / 1e6:.1f} M Kepler solves/s wall, {work / cpu / 1e6:.1f} M per "
          f"CPU-second; compile {warm:.1f} s")
    print(f"cells with P(detect) >= 0.99: {(prob >= 0.99).mean():.3f}; traced peak "
          f"{peak / 2**20:.0f} MiB; max RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
