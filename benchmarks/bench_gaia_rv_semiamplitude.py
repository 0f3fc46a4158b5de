"""Benchmark: semi-amplitude inference throughput (targets/s) and extrapolation.

Run: PYTHONPATH=src python benchmarks/bench_gaia_rv_semiamplitude.py [--targets 4096]
      [--samples 5000] [--distinct 256]

Three cases, each timed on a second identical call (the first one compiles; its time,
compilation included, is reported separately):

1. shared baselines: all targets have one of a few Δt (DR2-like, or ``--dt-round-days``):
   one Kepler solve per prior sample and (N, Δt) key, then only weights per target;
2. distinct baselines, float64 Kepler stage: every target needs its own λ1 (S×N solves);
3. the same in float32 (the reference pipeline's precision).

Also times the plain NumPy reference for a few targets, and extrapolates to the 5.93 M
candidates of the full DR3 catalogue. Throughput is printed per wall second and per CPU
second of this process (user + system): on a shared machine the wall figure measures the
contention, the CPU figure the code.
"""

from __future__ import annotations

import argparse
import resource
import time

import jax
import numpy as np

from vlms_bayes.inference.rv import semiamplitude as rs

N_CANDIDATES_DR3 = 5_929_048


def _targets(m: int, rng: np.random.Generator, *, distinct: bool):
    n = rng.integers(5, 40, m)
    eps = rng.uniform(0.5, 5.0, m)
    dt = rng.uniform(700.0, 1038.0, m) if distinct else rng.choice([668.0, 1038.0], m)
    return eps, n, dt, np.full(m, np.log(0.5)), np.full(m, 0.05)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _time(args, m, distinct, kdt, batch):
    rng = np.random.default_rng(1)
    data = _targets(m, rng, distinct=distinct)
    prior = rs.draw_prior(args.samples)
    # the first call compiles every (bucket, batch) shape the timed call will use
    t0 = time.perf_counter()
    rs.infer_semiamplitudes(*data, prior=prior, batch_size=batch, kepler_dtype=kdt)
    warm = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), _cpu()
    rs.infer_semiamplitudes(*data, prior=prior, batch_size=batch, kepler_dtype=kdt)
    wall = time.perf_counter() - t0
    return warm, wall, _cpu() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=4096)
    ap.add_argument("--distinct", type=int, default=256)
    ap.add_argument("--samples", type=int, default=5000)
    args = ap.parse_args()
    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}; S = {args.samples}")
    cases = (("shared baselines (few (N, dt) keys)", args.targets, False, "float64", 1024),
             ("distinct baselines, float64 Kepler", args.distinct, True, "float64", 256),
             ("distinct baselines, float32 Kepler", args.distinct, True, "float32", 256))
    rates = {}
    for name, m, distinct, kdt, batch in cases:
        warm, wall, cpu = _time(args, m, distinct, kdt, batch)
        rates[name] = m / wall
        print(f"{name}: {m} targets in {wall:.2f} s -> {m / wall:,.0f} targets/s "
              f"({m / cpu:,.0f} per CPU-second, CPU/wall {cpu / wall:.2f}; first call incl. "
              f"compilation {warm:.1f} s)")
    prior = rs.draw_prior(args.samples)
    rng = np.random.default_rng(2)
    eps, n, dt, mu, smu = _targets(5, rng, distinct=True)
    t0 = time.perf_counter()
    for i in range(5):
        rs.semiamplitude_reference(eps[i], n[i], dt[i], mu[i], smu[i], prior=prior,
                                   u=rs.unit_times(int(n[i]), args.samples))
    ref = (time.perf_counter() - t0) / 5
    print(f"NumPy reference: {ref:.3f} s per target ({1 / ref:.1f} targets/s)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS {rss:.0f} MiB")
    for name, r in rates.items():
        print(f"extrapolated to {N_CANDIDATES_DR3:,} DR3 candidates, {name}: "
              f"{N_CANDIDATES_DR3 / r / 3600:.1f} h on this machine")


if __name__ == "__main__":
    main()
