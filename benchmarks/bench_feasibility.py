"""Benchmark of the feasibility map: wall time, throughput and peak memory per backend.

Usage::

    PYTHONPATH=src python benchmarks/bench_feasibility.py [--grid 100] [--draws 200]
        [--backends jax numba] [--repeat 2]

The first call of each backend includes compilation; the later ones are warm. Peak memory
is the process's maximum resident set size (``resource.getrusage``), which only grows:
run one large configuration per process to read its own peak.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from vlms_bayes.feasibility import montecarlo as mc
from vlms_bayes.feasibility.stability import load_stability_table


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--grid", type=int, default=100)
    p.add_argument("--draws", type=int, default=200)
    p.add_argument("--backends", nargs="+", default=["jax", "numba"])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--chunk", type=int, default=256)
    args = p.parse_args()
    table = load_stability_table(0, data_dir=os.environ.get("VLMS_BAYES_DATA_DIR"))
    cfg = mc.FeasibilityConfig(n_m_out=args.grid, n_a_out=args.grid, n_draws=args.draws,
                               chunk_cells=args.chunk)
    n = args.grid * args.grid * args.draws
    print(f"map {args.grid} x {args.grid} x {args.draws} = {n:.3g} draws, "
          f"{os.cpu_count()} CPUs; RSS before: {peak_rss_mb():.0f} MB")
    for backend in args.backends:
        for k in range(args.repeat):
            t0 = time.perf_counter()
            res = mc.feasibility_map(cfg, seed=1, table=table, backend=backend)
            wall = time.perf_counter() - t0
            print(f"{backend:6s} run {k} ({'cold' if k == 0 else 'warm'}): {wall:8.2f} s, "
                  f"{n / wall:12.4g} draws/s, peak RSS {peak_rss_mb():.0f} MB, "
                  f"mean feasible {res.fractions()['feasible'].mean():.5f}")


if __name__ == "__main__":
    main()
