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

``--step`` also times the whole feasibility step as ``vlms-bayes feasibility`` runs it
(:func:`vlms_bayes.pipeline.feasibility.run_feasibility` with the command's defaults: the
map, the integrated octupole candidates, P(KL origin), P(disk), the sensitivity study,
the secular check and the figures), split into its parts. Both results are printed against
the goals of issue 16 (≥ 1e7 analytic-cascade draws/s and ≤ 60 s for the step on 2 cores)
as ratios.

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


#: Goals of issue 16 on 2 cores.
GOAL_DRAWS_PER_S = 1e7
GOAL_STEP_S = 60.0


def time_step(cfg: mc.FeasibilityConfig, table: object, *, backend: str,
              secular_triples: int, probability_systems: int) -> dict[str, float]:
    """Wall time of :func:`run_feasibility` and of its parts (seconds), into a temp folder.

    The parts are timed by wrapping the functions the step calls (in the benchmark only).
    """
    import tempfile

    from vlms_bayes.pipeline import feasibility as pf

    parts: dict[str, float] = {}
    names = {"feasibility_map": "map (analytic cascade)", "integrate_map": "map candidates "
             "integrated", "integrated_kl_probability": "P(KL) incl. integrated candidates",
             "run_secular_check": "secular check", "save_figure": "figures",
             "sensitivity_table": "map sensitivity table", "disk_table": "disk table"}
    saved = {}

    def wrap(mod: object, name: str, label: str) -> None:
        f = getattr(mod, name)
        saved[(mod, name)] = f

        def timed(*a: object, **k: object) -> object:
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                parts[label] = parts.get(label, 0.0) + time.perf_counter() - t0
        setattr(mod, name, timed)

    for name, label in names.items():
        wrap(pf, name, label)
    wrap(pf.probability, "disk_probability", "P(disk)")
    wrap(pf.probability, "kl_sensitivity", "P(KL) sensitivity")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            pf.run_feasibility(cfg, outdir_path=tmp, seed=42, backend=backend, table=table,
                               secular_triples=secular_triples,
                               probability_systems=probability_systems)
            parts["total"] = time.perf_counter() - t0
    finally:
        for (mod, name), f in saved.items():
            setattr(mod, name, f)
    return parts


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
    p.add_argument("--step", action="store_true",
                   help="also time the whole feasibility step (run twice: cold, warm)")
    p.add_argument("--secular-check", type=int, default=1000,
                   help="secular checks of the step (the feasibility command's default 1000)")
    p.add_argument("--probability-systems", type=int, default=200_000,
                   help="systems of P(KL) and P(disk) in the step (default 200000)")
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
    for backend, wall in best.items():
        print(f"goal: {backend} analytic cascade {n / wall:.3g} draws/s = "
              f"{n / wall / GOAL_DRAWS_PER_S:.3g} x the {GOAL_DRAWS_PER_S:.0e} draws/s goal; "
              f"{load()}")
    if args.step:
        backend = min(best, key=best.get) if best else args.backends[0]
        for k in range(2):
            parts = time_step(cfg, table, backend=backend, secular_triples=args.secular_check,
                              probability_systems=args.probability_systems)
            detail = ", ".join(f"{lab} {v:.1f} s" for lab, v in
                               sorted(parts.items(), key=lambda kv: -kv[1]) if lab != "total")
            print(f"step ({backend}, {'cold' if k == 0 else 'warm'}): {parts['total']:.1f} s "
                  f"= {parts['total'] / GOAL_STEP_S:.3g} x the {GOAL_STEP_S:.0f} s goal "
                  f"[{detail}]; {load()}", flush=True)


if __name__ == "__main__":
    main()
