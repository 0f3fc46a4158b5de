"""Benchmark: marginalised p-values for 10^7 simulated sources (+ extrapolation to 30.5 M).

Run: PYTHONPATH=src python benchmarks/bench_gaia_rv_pvalues.py [--n 10000000] [--threads 1]
Prints wall time, throughput and peak memory (tracemalloc of NumPy buffers + max RSS).
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from vlms_bayes.inference.rv import pvalues as rp
from vlms_bayes.models.rv_noise import model as rn

FULL_CATALOGUE = 30_545_303


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--block", type=int, default=500_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.n
    ntr = rng.integers(3, 60, n).astype(np.float32)
    mu = rng.normal(-0.5, 0.5, n).astype(np.float32)
    smu = rng.uniform(0.01, 0.3, n).astype(np.float32)
    # single stars with the noise the model predicts (null hypothesis)
    s2 = np.exp(2 * mu) * rng.chisquare(ntr - 1) / (ntr - 1)
    eps = rn.s2_to_eps(s2, ntr).astype(np.float32)
    pval = np.empty(n)
    perr = np.empty(n)

    def block(s: int) -> None:
        sl = slice(s, s + args.block)
        pval[sl], perr[sl] = rp.pvalue_marginalised(eps[sl], ntr[sl], mu[sl], smu[sl],
                                                    chunk=50_000)

    tracemalloc.start()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(block, range(0, n, args.block)))
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t1 = time.perf_counter()
    rp.pvalue_plugin(eps[:1_000_000], ntr[:1_000_000], mu[:1_000_000])
    plug = time.perf_counter() - t1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"marginalised p-values (50 draws): n={n:,} threads={args.threads}")
    print(f"  wall {wall:.1f} s, throughput {n / wall:,.0f} sources/s")
    print(f"  peak traced memory {peak / 2**20:.0f} MiB, max RSS {rss:.0f} MiB")
    print(f"  fraction p<0.001: {(pval < 1e-3).mean():.4f}")
    print(f"plug-in p-values: {1e6 / plug:,.0f} sources/s")
    print(f"extrapolated to {FULL_CATALOGUE:,} sources: {FULL_CATALOGUE / (n / wall):.0f} s "
          f"on this machine ({args.threads} threads)")


if __name__ == "__main__":
    main()
