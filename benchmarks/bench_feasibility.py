"""Benchmark of the feasibility map: wall time, CPU time, throughput and peak memory.

Usage::

    PYTHONPATH=src python benchmarks/bench_feasibility.py [--grid 100] [--draws 200]
        [--backends jax numba] [--repeat 3] [--chunk 32] [--profile] [--probability N]

The first call of each backend includes compilation; the later ones are warm (the best of
them is the figure to quote). Each line also gives the process CPU time of the call (a
CPU/wall ratio near the core count means the backend used every core) and the load average,
since other processes on a shared machine slow the wall time. JAX gets one host device
per usable core (``--jax-devices``), as ``vlms-bayes feasibility`` does. ``--profile``
splits one warm JAX call into draw generation, host-to-device copies, the compiled kernel
and the copy back.

Peak memory is the process's maximum resident set size (``resource.getrusage``), which only
grows: run one large configuration per process to read its own peak, e.g.
``--grid 1000 --draws 200 --backends numba --repeat 1`` (2e8 draws).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from vlms_bayes.feasibility import montecarlo as mc


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def profile_jax(cfg: mc.FeasibilityConfig, table: object) -> None:
    """Split one warm JAX map into its parts (seconds)."""
    import jax
    import jax.numpy as jnp

    t0 = time.perf_counter()
    mg, ag = np.meshgrid(cfg.m_out_grid, cfg.a_out_grid, indexing="ij")
    draws = mc.cell_draws(cfg, 1, np.arange(mg.size))  # every cell its own draws
    params, settings = mc.kernel_params(cfg), mc.sensitivity_settings(cfg)
    t_draws = time.perf_counter() - t0
    chunk = cfg.chunk_cells
    n = mg.size
    n_dev = jax.local_device_count()
    n_chunks = -(-n // chunk)
    n_chunks = -(-n_chunks // n_dev) * n_dev  # as montecarlo._map_jax
    pad = n_chunks * chunk - n
    with jax.enable_x64(True):
        t0 = time.perf_counter()
        m = jnp.asarray(np.concatenate([mg.ravel(), np.full(pad, mg.ravel()[-1])]).reshape(
            n_chunks, chunk))
        a = jnp.asarray(np.concatenate([ag.ravel(), np.full(pad, ag.ravel()[-1])]).reshape(
            n_chunks, chunk))
        d = {k: jnp.asarray(np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]).reshape(
            n_chunks, chunk, -1)) for k, v in draws.items() if k in mc.DRAW_FIELDS}
        args = (jnp.asarray(params), tuple(jnp.asarray(s) for s in settings), table, m, a, d)
        jax.block_until_ready(args)
        t_put = time.perf_counter() - t0
        f = mc._jitted_map(n_dev)
        f(*args).block_until_ready()
        t0 = time.perf_counter()
        out = f(*args).block_until_ready()
        t_kernel = time.perf_counter() - t0
        t0 = time.perf_counter()
        np.asarray(out)
        t_get = time.perf_counter() - t0
    print(f"profile (jax, {n_dev} devices, {n_chunks} chunks of {chunk} cells): per-cell draws "
          f"{t_draws:.4f} s, host->device {t_put:.4f} s, kernel {t_kernel:.3f} s, "
          f"device->host {t_get:.4f} s")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--grid", type=int, default=100)
    p.add_argument("--draws", type=int, default=200)
    p.add_argument("--backends", nargs="+", default=["jax", "numba"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--chunk", type=int, default=mc.FeasibilityConfig.chunk_cells)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--radii", choices=("evolving", "frozen"), default=None,
                   help="radius model (default: the package's default)")
    p.add_argument("--lags", choices=("prior", "fixed"), default=None,
                   help="tidal lags (default: the package's default)")
    p.add_argument("--probability", type=int, default=0, metavar="N",
                   help="also time P(KL origin) over N systems per backend (issue 16)")
    p.add_argument("--jax-devices", type=int,
                   default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1,
                   help="host devices for JAX (one per core by default, as the CLI does)")
    args = p.parse_args()
    from vlms_bayes.cli import request_jax_host_devices

    request_jax_host_devices(args.jax_devices)  # before JAX starts
    from vlms_bayes.data_io.quarles import load_stability_table

    table = load_stability_table(0, data_dir=os.environ.get("VLMS_BAYES_DATA_DIR"))
    physics = {k: v for k, v in (("radii", args.radii), ("lags", args.lags)) if v is not None}
    cfg = mc.FeasibilityConfig(n_m_out=args.grid, n_a_out=args.grid, n_draws=args.draws,
                               chunk_cells=args.chunk, **physics)
    n = args.grid * args.grid * args.draws
    import jax

    print(f"physics {physics or 'default'}; map {args.grid} x {args.grid} x {args.draws} = "
          f"{n:.3g} draws, chunk {args.chunk} "
          f"cells, {os.cpu_count()} CPUs, {jax.local_device_count()} JAX devices; RSS before: "
          f"{peak_rss_mb():.0f} MB; {load()}")
    best = {}
    for backend in args.backends:
        for k in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            res = mc.feasibility_map(cfg, seed=1, table=table, backend=backend)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if k > 0 or args.repeat == 1:
                best[backend] = min(best.get(backend, np.inf), wall)
            print(f"{backend:6s} run {k} ({'cold' if k == 0 else 'warm'}): {wall:8.2f} s "
                  f"(CPU {cpu:6.2f} s), {n / wall:10.4g} draws/s, peak RSS "
                  f"{peak_rss_mb():.0f} MB, mean feasible "
                  f"{res.fractions()['feasible'].mean():.6f}; {load()}", flush=True)
        if backend == "jax" and args.profile:
            profile_jax(cfg, table)
        if args.probability > 0:
            from vlms_bayes.feasibility.probability import kl_probability

            for k in range(2):
                t0, c0 = time.perf_counter(), time.process_time()
                r = kl_probability(cfg, table, seed=1, n_systems=args.probability,
                                   backend=backend)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                print(f"{backend:6s} P(KL) {args.probability} systems "
                      f"({'cold' if k == 0 else 'warm'}): {wall:8.2f} s (CPU {cpu:6.2f} s), "
                      f"{args.probability / wall:10.4g} systems/s, P = {r.probability:.4g}; "
                      f"{load()}", flush=True)
    if "jax" in best and "numba" in best:
        print(f"best warm: jax {best['jax']:.3f} s, numba {best['numba']:.3f} s, "
              f"numba/jax {best['numba'] / best['jax']:.2f}")


if __name__ == "__main__":
    main()
