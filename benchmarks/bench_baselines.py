"""Benchmark the frequentist baselines and the catalogue figures on synthetic stacked data.

Run: ``PYTHONPATH=src python benchmarks/bench_baselines.py [n_objects ...]``. Prints wall
time per step and peak Python memory (tracemalloc) and the process's peak RSS.
"""

from __future__ import annotations

import io
import resource
import sys
import time
import tracemalloc

import numpy as np


def main(sizes: list[int]) -> None:
    t0 = time.perf_counter()
    from vlms_bayes.data_io.schema import complete_case
    from vlms_bayes.inference.baselines import (
        build_features,
        fit_beta_by_q_split,
        fit_gmm_bic,
        fit_logistic,
        heuristic_labels,
        ks_test_by_q_split,
    )
    from vlms_bayes.inference.baselines.synthetic import synthetic_stacked
    from vlms_bayes.plots.catalogue import plot_e_vs_a, plot_mass_mass

    print(f"imports: {time.perf_counter() - t0:.2f} s")
    for n in sizes:
        stacked = synthetic_stacked(n, seed=0)
        cc = complete_case(stacked)
        methods = sorted(stacked["discoverymethod"].unique())
        steps = {
            "gmm (K=1,2; n_init=10)": lambda cc=cc: fit_gmm_bic(
                cc, features=("logq", "loga"), seed=0),
            "beta MLE + 500 bootstrap x2": lambda cc=cc: fit_beta_by_q_split(
                cc, n_boot=500, seed=0),
            "ks": lambda cc=cc: ks_test_by_q_split(cc, q_split=0.01),
            "logistic + 5-fold CV": lambda cc=cc, m=methods: fit_logistic(
                build_features(cc, methods=m), heuristic_labels(cc), seed=0),
            "fig1 + fig2 (PNG)": lambda st=stacked: [
                f.savefig(io.BytesIO(), format="png", dpi=150)
                for f in (plot_mass_mass(st), plot_e_vs_a(st))],
        }
        for name, fn in steps.items():
            fn()  # warm (lazy imports, first-call set-up)
            t = time.perf_counter()
            fn()
            dt = time.perf_counter() - t
            tracemalloc.start()  # memory in a separate pass: tracing slows Python down
            fn()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"n={n:6d} (complete case {len(cc):6d})  {name:28s} {dt:7.3f} s  "
                  f"peak traced {peak / 2**20:6.1f} MiB")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB; numpy {np.__version__}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [130, 1000, 10000])
