"""Benchmark NUTS compiled once for many datasets against one compilation per dataset.

Run::

    PYTHONPATH=src python benchmarks/bench_shared_compile.py                  # 3 replicas
    PYTHONPATH=src python benchmarks/bench_shared_compile.py --replicas 5 --n-objects 130

Simulates ``--replicas`` SBC-style replicas (the calibration's design of ``--n-objects``
detections, θ drawn from the prior, data simulated through the selection and measurement
model: :mod:`vlms_bayes.models.simulate_prior`) and fits them back to back with the
selection-aware K = 2 JAX density, first by the former path (``numpyro.infer.MCMC`` on a
log density whose data are constants of the program: one compilation per dataset,
``share_compiled=False``, arrays unpadded) and then by the new one (data a padded
argument of a sampler compiled once per model settings and shapes,
:func:`vlms_bayes.inference.nuts_jax.chain_runner`), in the same process with a fresh
JAX persistent compilation cache. Prints the wall time of each replica by each path, the
JAX compilation requests it made, and the ratios; then fits one more replica by the new
path in a *new process* sharing that cache (what the next ``calibrate`` or ``fit``
process gets) and prints its persistent-cache hits. The machine is shared: the load
average is printed beside the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from vlms_bayes.cli import request_jax_host_devices


def _replicas(n_objects: int, n: int, seed: int) -> list:
    """``n`` simulated replicas of one design (the calibration's, :mod:`pipeline.calibrate`)."""
    import numpy as np

    from vlms_bayes.models.selection import SelectionModel
    from vlms_bayes.models.simulate_prior import (
        design_from_scenario,
        draw_prior,
        model_terms,
        simulate_replica,
    )

    sel = SelectionModel()
    design = design_from_scenario(n_objects, seed=seed, selection=sel)
    terms = model_terms(design, sel)
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        params, _ = draw_prior(design, selection=sel, n_components=2, rng=rng, terms=terms)
        data, _ = simulate_replica(design, params, selection=sel, rng=rng, terms=terms)
        out.append(data)
    return out


def fit_one(data, *, share: bool, chains: int, draws: int, tune: int, seed: int) -> dict:
    """Fit one replica; wall time, compilation events and a posterior summary."""
    import numpy as np

    from vlms_bayes.inference.initvals import initial_values
    from vlms_bayes.inference.nuts_jax import (
        CACHE_HIT_EVENT,
        CACHE_MISS_EVENT,
        COMPILE_EVENT,
        compile_events,
        sample_density,
    )
    from vlms_bayes.models.logdensity import mixture_density
    from vlms_bayes.models.selection import SelectionModel

    t0 = time.perf_counter()
    dens = mixture_density(data, n_components=2, selection=SelectionModel(), pad=share)
    init = initial_values(data, 2, random_seed=seed, weight_name="f_det")
    t_build = time.perf_counter() - t0
    with compile_events() as seen:
        dt = sample_density(dens, draws=draws, tune=tune, chains=chains, random_seed=seed,
                            initvals=init, share_compiled=share)
    post = dt["posterior"]
    return {"wall_s": time.perf_counter() - t0, "build_s": t_build, "compiles": seen[COMPILE_EVENT],
            "cache_hits": seen[CACHE_HIT_EVENT], "cache_misses": seen[CACHE_MISS_EVENT],
            "mu_logq": np.asarray(post["mu_logq"].mean(("chain", "draw"))).round(3).tolist(),
            "divergences": int(dt["sample_stats"]["diverging"].sum()),
            "steps_per_draw": float(dt["sample_stats"]["n_steps"].mean())}


def grad_ms(data) -> tuple[float, float]:
    """Best-of-5 mean time (ms) of one log density + gradient: unpadded closure, padded
    argument (what padding costs a single fit)."""
    import jax

    from vlms_bayes.models.logdensity import mixture_density
    from vlms_bayes.models.selection import SelectionModel

    out = []
    with jax.enable_x64(True):
        for pad in (False, True):
            dens = mixture_density(data, n_components=2, selection=SelectionModel(), pad=pad)
            # on the device already, as inside the sampler (not copied at every call)
            u, arrays = jax.device_put((dens.unconstrain({}), dens.data))
            fn = jax.jit(jax.value_and_grad(dens.logp_with))
            jax.block_until_ready(fn(u, arrays))
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(30):
                    jax.block_until_ready(fn(u, arrays))
                best = min(best, (time.perf_counter() - t0) / 30 * 1e3)
            out.append(best)
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--n-objects", type=int, default=60)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--grad-only", action="store_true",
                    help="only time one log density + gradient, unpadded and padded")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    request_jax_host_devices(args.chains)
    run = dict(chains=args.chains, draws=args.draws, tune=args.tune)
    if args.child is not None:  # the new-process stage: one replica, the new path
        data = _replicas(args.n_objects, args.child + 1, args.seed)[args.child]
        print(json.dumps(fit_one(data, share=True, seed=args.child, **run)))
        return

    import logging

    logging.basicConfig(level=logging.ERROR)
    n = args.replicas
    reps = _replicas(args.n_objects, n + 1, args.seed)
    if args.grad_only:
        g_exact, g_pad = grad_ms(reps[0])
        print(f"log density + gradient ({args.n_objects} objects): unpadded {g_exact:.3f} ms, "
              f"padded {g_pad:.3f} ms (x{g_pad / g_exact:.2f}); load {os.getloadavg()[0]:.1f}")
        return
    print(f"{n} replicas of {args.n_objects} objects (selection-aware K = 2, "
          f"{args.chains} x {args.draws} draws, {args.tune} tune); JAX cache "
          f"{os.environ['JAX_COMPILATION_CACHE_DIR']}; load {os.getloadavg()[0]:.1f}")
    rows = {}
    for share, label in ((False, "old"), (True, "new")):
        rows[label] = []
        for i in range(n):
            r = fit_one(reps[i], share=share, seed=i, **run)
            rows[label].append(r)
            print(f"  {label} replica {i}: {r['wall_s']:6.1f} s (density and start "
                  f"{r['build_s']:.1f} s)  compiles {r['compiles']:2d} "
                  f"(cache hits {r['cache_hits']})  mean mu_logq {r['mu_logq']}  "
                  f"divergences {r['divergences']}  leapfrog steps/draw "
                  f"{r['steps_per_draw']:.1f}  load {os.getloadavg()[0]:.1f}")
    old = [r["wall_s"] for r in rows["old"]]
    new = [r["wall_s"] for r in rows["new"]]
    print(f"per replica: old {sum(old) / n:.1f} s, new {sum(new) / n:.1f} s "
          f"(ratio {sum(old) / sum(new):.2f}x); replicas after the first: old "
          f"{sum(old[1:]) / max(n - 1, 1):.1f} s, new {sum(new[1:]) / max(n - 1, 1):.1f} s "
          f"(ratio {sum(old[1:]) / max(sum(new[1:]), 1e-9):.2f}x)")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", str(n), "--n-objects",
                          str(args.n_objects), "--seed", str(args.seed), "--chains",
                          str(args.chains), "--draws", str(args.draws), "--tune",
                          str(args.tune)], capture_output=True, text=True, check=True)
    child = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"new process, replica {n}: fit {child['wall_s']:.1f} s (process "
          f"{time.perf_counter() - t0:.1f} s with imports), compilation requests "
          f"{child['compiles']}, persistent-cache hits {child['cache_hits']}, misses "
          f"{child['cache_misses']}")


if __name__ == "__main__":
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # a fresh cache: nothing pre-compiled
        cache = tempfile.mkdtemp(prefix="bench-shared-compile-")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = cache
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
        try:
            main()
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    else:
        main()
