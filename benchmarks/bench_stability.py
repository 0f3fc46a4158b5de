"""Benchmark: 10^6 Quarles et al. (2020) stability lookups, NumPy and JAX.

Usage::

    PYTHONPATH=src python benchmarks/bench_stability.py [--n 1000000] [--repeat 5]
        [--data-dir ../shared/data]

Prints the wall time (best of ``--repeat``), throughput and peak memory of

* ``ac_ratio`` (NumPy, with input validation and the convex-hull guard),
* ``ac_ratio_jax`` under ``jax.jit`` in float32 (JAX's default) and float64
  (``jax.enable_x64``), compile time separately, on the default JAX device,

and checks that the three give the same numbers.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import jax
import jax.numpy as jnp
import numpy as np

from vlms_bayes.data_io.quarles import load_stability_table
from vlms_bayes.feasibility.stability import ac_ratio, ac_ratio_jax, holman_wiegert_stype


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    n = args.n

    t0 = time.perf_counter()
    table = load_stability_table(0, data_dir=args.data_dir)
    print(f"table load + griddata onto the 101 x 81 grid: {time.perf_counter() - t0:.3f} s")

    rng = np.random.default_rng(2020)
    mu = rng.uniform(0.001, 0.999, n)
    e = rng.uniform(0.0, 0.8, n)

    tracemalloc.start()
    ref = ac_ratio(table, mu, e)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t_np = best_of(lambda: ac_ratio(table, mu, e), args.repeat)
    print(f"NumPy ac_ratio       n={n:,}: {t_np:.4f} s  ({n / t_np / 1e6:.1f} M lookups/s), "
          f"peak traced memory {peak / 2**20:.0f} MiB")
    t_hw = best_of(lambda: holman_wiegert_stype(mu, e), args.repeat)
    print(f"NumPy HW99 S-type    n={n:,}: {t_hw:.4f} s  ({n / t_hw / 1e6:.1f} M evals/s)")

    f = jax.jit(ac_ratio_jax)
    print(f"JAX device: {jax.devices()[0]}")
    for label, x64 in (("float32", False), ("float64", True)):
        with jax.enable_x64(x64):
            dtype = jnp.float64 if x64 else jnp.float32
            mu_j = jax.device_put(jnp.asarray(mu, dtype))
            e_j = jax.device_put(jnp.asarray(e, dtype))
            tab = type(table)(jnp.asarray(table.mu_nodes, dtype), jnp.asarray(table.e_nodes, dtype),
                              jnp.asarray(table.ratio, dtype), table.incl_deg)
            t0 = time.perf_counter()
            out = f(tab, mu_j, e_j).block_until_ready()
            t_c = time.perf_counter() - t0
            t_j = best_of(lambda tab=tab, mu_j=mu_j, e_j=e_j:
                          f(tab, mu_j, e_j).block_until_ready(), args.repeat)
            err = float(np.max(np.abs(np.asarray(out, float) - ref)))
            print(f"JAX jit ac_ratio_jax {label} n={n:,}: {t_j:.4f} s "
                  f"({n / t_j / 1e6:.1f} M lookups/s) after a first call of {t_c:.2f} s "
                  f"(compile + run); max |JAX - NumPy| = {err:.1e}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
