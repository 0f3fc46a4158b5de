"""Benchmark of the secular integrator: triples × Gyr per second on map draws.

Usage::

    PYTHONPATH=src python benchmarks/bench_secular.py [--triples 1000] [--n-kl 10]

Integrates stable TOI-6894 b draws (quadrupole + octupole, GR, tides) for ``n_kl`` KL
timescales each, via :func:`vlms_bayes.feasibility.secular_check.run_secular_check`, and
prints the wall time, simulated time per second, steps per second and the confusion matrix.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from vlms_bayes.data_io.quarles import load_stability_table
from vlms_bayes.feasibility import montecarlo as mc
from vlms_bayes.feasibility.secular_check import run_secular_check


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--triples", type=int, default=1000)
    p.add_argument("--n-kl", type=float, default=10.0)
    args = p.parse_args()
    table = load_stability_table(0, data_dir=os.environ.get("VLMS_BAYES_DATA_DIR"))
    cfg = mc.FeasibilityConfig()
    t0 = time.perf_counter()
    chk = run_secular_check(cfg, table, seed=1, n_triples=args.triples, n_kl=args.n_kl)
    total = time.perf_counter() - t0
    t = chk.table
    gyr = t["t_reached_yr"].sum() / 1e9
    print(f"{len(t)} triples, {args.n_kl:g} t_KL each (median t_KL {t.t_kl_yr.median():.3g} yr)")
    print(f"integration wall {chk.wall_s:.1f} s (total incl. setup/compile {total:.1f} s); "
          f"{gyr / chk.wall_s:.3g} triple-Gyr/s; {len(t) * args.n_kl / chk.wall_s:.3g} "
          f"triple-t_KL/s; {t.n_steps.sum() / chk.wall_s:.3g} steps/s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print("\n".join(chk.summary_lines()))


if __name__ == "__main__":
    main()
