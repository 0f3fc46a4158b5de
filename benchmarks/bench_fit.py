"""Benchmark the Bayesian mixture fit: compile and sampling time, ESS/s, peak memory.

Run::

    PYTHONPATH=src python benchmarks/bench_fit.py --real            # the VLMS sample
    PYTHONPATH=src python benchmarks/bench_fit.py --sim 5000        # a simulated catalogue
    PYTHONPATH=src python benchmarks/bench_fit.py --real --selection both   # naive vs selection
    PYTHONPATH=src python benchmarks/bench_fit.py --real --selection methods --backend jax numpyro

``--backend`` takes several names: each is timed on the same rows in the same process and
the last lines print the ratios against the last one named (``jax``: the model written in JAX,
:mod:`vlms_bayes.models.logdensity`; ``numpyro``: PyMC's graph through NumPyro, the
sampler before it; ``jax@REF``: the ``jax`` backend of the package as it was at the git
commit REF, imported in the same process under another name, for an honest same-run
ratio against older code)::

    PYTHONPATH=src python benchmarks/bench_fit.py --real --selection methods \
        --backend jax jax@792bcea --grad-only

The gradient is timed three ways: one jitted call with the data as a constant of the
program (``const``), one with the data as its argument (``arg``, the sampler's form), and
per step of a compiled loop of value-and-gradient steps (``loop``: what a NUTS step pays,
without the per-call dispatch), each as the best of several rounds, wall and CPU time
(the machine is shared; CPU time is the steadier figure). ``--grad-only`` skips the fits.

``--selection both`` (the default) times the naive and the selection-aware model
(:mod:`vlms_bayes.models.selection_norm`) on the same rows, one after the other. Simulated
catalogues are the selection tests' intrinsic two-population truth searched by RV, transit,
microlensing and imaging and passed through the selection functions
(:func:`vlms_bayes.models.simulate_selection.simulate_detected`); ``--sim N`` keeps the
first N detections.

Compile time is the wall time of a 1-draw/1-tune run (JAX tracing and XLA compilation
dominate it); sampling time is the full run minus that. Prints the baseline GMM's time on
the same rows beside it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vlms_bayes.cli import request_jax_host_devices

request_jax_host_devices(4)


def _best_ms(fn, *args, repeats: int = 30, rounds: int = 5) -> tuple[float, float]:
    """Best-of-rounds mean wall and CPU time (ms) of ``fn(*args)`` (the machine is shared)."""
    import jax

    jax.block_until_ready(fn(*args))
    wall = cpu = float("inf")
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            jax.block_until_ready(fn(*args))
        wall = min(wall, (time.perf_counter() - t0) / repeats * 1e3)
        cpu = min(cpu, (time.process_time() - c0) / repeats * 1e3)
    return wall, cpu


def _loop_of_steps(logp_with, n_steps: int):
    """``n_steps`` value-and-gradient steps (a leapfrog-like update) in one compiled loop."""
    import jax
    import jax.numpy as jnp

    vg = jax.value_and_grad(logp_with)

    def run(u, data):
        def body(_i, carry):
            u, p, acc = carry
            v, g = vg(u, data)
            p = jax.tree.map(lambda a, b: a + 1e-3 * b, p, g)
            return jax.tree.map(lambda a, b: a + 1e-3 * b, u, p), p, acc + v

        zero = jax.tree.map(jnp.zeros_like, u)
        return jax.lax.fori_loop(0, n_steps, body, (u, zero, 0.0))[2]

    return jax.jit(run)


def grad_times_ms(model_or_density, *, backend: str) -> dict[str, tuple[float, float]]:
    """Best wall and CPU time (ms) of one log density + gradient at the initial point.

    ``const``: a jitted call with the data in the program; for the JAX backends also
    ``arg``: with the data as the program's argument (as the sampler runs it), and
    ``loop``: per step of a compiled loop of 200 steps.
    """
    import jax

    with jax.enable_x64(True):
        if backend.startswith("jax"):
            u = model_or_density.unconstrain({})
            out = {"const": _best_ms(jax.jit(jax.value_and_grad(model_or_density.logp)), u)}
            data = jax.device_put(model_or_density.data)  # once, as the sampler passes it
            out["arg"] = _best_ms(jax.jit(jax.value_and_grad(model_or_density.logp_with)),
                                  u, data)
            n = 200
            wall, cpu = _best_ms(_loop_of_steps(model_or_density.logp_with, n), u, data,
                                 repeats=2)
            out["loop"] = (wall / n, cpu / n)
            return out
        from pymc.sampling.jax import get_jaxified_logp

        logp = get_jaxified_logp(model_or_density)
        ip = model_or_density.initial_point()
        x = [ip[v.name] for v in model_or_density.value_vars]
        return {"const": _best_ms(jax.jit(jax.value_and_grad(lambda *a: logp(a))), *x)}


def package_at(ref: str) -> str:
    """Import ``vlms_bayes`` as it was at git commit ``ref`` under another name.

    The commit's ``src/vlms_bayes`` is extracted to a temporary folder with every
    ``vlms_bayes`` import renamed (``vlms_bayes_<sha>``) and put on ``sys.path``, so both
    versions run in this process. Returns the package name.
    """
    root = Path(__file__).resolve().parents[1]
    sha = subprocess.run(["git", "rev-parse", "--short=10", ref], cwd=root, check=True,
                         capture_output=True, text=True).stdout.strip()
    name = f"vlms_bayes_{sha}"
    if name in sys.modules:
        return name
    tmp = Path(tempfile.mkdtemp(prefix=f"bench_{name}_"))
    archive = subprocess.run(["git", "archive", sha, "src/vlms_bayes"], cwd=root, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    pkg = tmp / "src" / name
    (tmp / "src" / "vlms_bayes").rename(pkg)
    for path in pkg.rglob("*.py"):
        path.write_text(re.sub(r"\bvlms_bayes\b", name, path.read_text()))
    sys.path.insert(0, str(tmp / "src"))
    importlib.import_module(name)
    return name


def bench(frame, *, label: str, chains: int, draws: int, tune: int, backend: str,
          selection=None, grad_only: bool = False) -> dict[str, float]:
    from vlms_bayes.data_io.schema import complete_case
    from vlms_bayes.inference.baselines import fit_gmm_bic
    from vlms_bayes.inference.diagnostics import diagnose

    pkg = "vlms_bayes"
    if "@" in backend:  # jax@REF: the package at commit REF
        pkg = package_at(backend.split("@", 1)[1])
    mod = {m: importlib.import_module(f"{pkg}.{m}") for m in (
        "inference.initvals", "inference.nuts_jax", "inference.sampling", "models.data",
        "models.logdensity", "models.mixture", "models.selection")}
    if selection is not None and pkg != "vlms_bayes":  # the same settings, that version's class
        selection = mod["models.selection"].SelectionModel(**vars(selection))
    data, _ = mod["models.data"].model_data_from_stacked(frame)
    initial_values = mod["inference.initvals"].initial_values
    t0 = time.perf_counter()
    if backend.startswith("jax"):
        target = mod["models.logdensity"].mixture_density(data, n_components=2,
                                                          selection=selection)
        weight = next((v.name for v in target.free if v.transform == "simplex"), None)
        init = initial_values(data, 2, random_seed=0, weight_name=weight)

        def run(n_draws: int, n_tune: int, seed: int):
            return mod["inference.nuts_jax"].sample_density(
                target, draws=n_draws, tune=n_tune, chains=chains, random_seed=seed,
                initvals=init)
    else:
        target = mod["models.mixture"].build_mixture_model(data, n_components=2,
                                                           selection=selection)
        init = initial_values(data, 2, random_seed=0, model=target)

        def run(n_draws: int, n_tune: int, seed: int):
            return mod["inference.sampling"].sample(
                target, backend=backend, draws=n_draws, tune=n_tune, chains=chains,
                random_seed=seed, initvals=init)
    t_build = time.perf_counter() - t0
    t_grad = grad_times_ms(target, backend=backend)
    mode = "selection-aware" if selection is not None else "naive"
    print(f"[{label}, {mode}] N={data.n} objects ({len(data.idx_measured)} measured e, "
          f"{len(data.idx_limit)} limits, {int(data.msini.sum())} m sin i); backend={backend}, "
          f"{chains} chains x {draws} draws (+{tune} tune); load {_load()}")
    for how, (wall, cpu) in t_grad.items():
        print(f"  log density + gradient ({how}, best of rounds): {wall:.3f} ms wall, "
              f"{cpu:.3f} ms CPU per evaluation")
    grads = {f"grad_{how}_ms": cpu for how, (_wall, cpu) in t_grad.items()}
    if grad_only:
        return grads
    t0 = time.perf_counter()
    run(1, 1, 0)
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    dt = run(draws, tune, 1)
    t_full = time.perf_counter() - t0
    t_sample = max(t_full - t_compile, 1e-9)
    d = diagnose(dt)
    n_steps = float(dt["sample_stats"]["n_steps"].mean()) if "n_steps" in dt[
        "sample_stats"] else float("nan")
    cc = complete_case(frame)
    t0 = time.perf_counter()
    fit_gmm_bic(cc, features=("logq", "loga"), seed=0)
    t_gmm = time.perf_counter() - t0
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  build {t_build:.1f} s | compile ~{t_compile:.1f} s | sampling ~{t_sample:.1f} s | "
          f"total {t_build + t_full:.1f} s | mean leapfrog steps per draw {n_steps:.1f}; "
          f"load after {_load()}")
    print(f"  min bulk ESS {d.min_ess_bulk:.0f} -> {d.min_ess_bulk / t_sample:.1f} ESS/s; "
          f"divergences {d.divergences}; max R-hat {d.max_rhat:.3f}; gate "
          f"{'passed' if d.passed else 'FAILED: ' + '; '.join(d.failures)}")
    print(f"  peak RSS {rss_mib:.0f} MiB | baseline GMM (K=1,2; n={len(cc)}) {t_gmm:.2f} s")
    return {**grads, "sample_s": t_sample, "ess_per_s": d.min_ess_bulk / t_sample,
            "steps": n_steps}


def _load() -> str:
    """The 1-, 5- and 15-minute load averages (the machine is shared)."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def print_ratios(results: dict[tuple[str, str], dict[str, float]], backends: list[str]) -> None:
    """Each backend against the last one named, measured on the same rows in this run."""
    if len(backends) < 2:
        return
    ref = backends[-1]
    for (label, backend), r in results.items():
        base = results.get((label, ref))
        if backend == ref or base is None:
            continue
        parts = [f"gradient ({how}, CPU) {base[key] / r[key]:.2f}x faster"
                 for how in ("const", "arg", "loop")
                 if (key := f"grad_{how}_ms") in r and key in base]
        if "sample_s" in r and "sample_s" in base:
            parts += [f"sampling {base['sample_s'] / r['sample_s']:.2f}x faster",
                      f"min bulk ESS/s {r['ess_per_s'] / base['ess_per_s']:.2f}x"]
        print(f"[{label}] {backend} vs {ref}: " + ", ".join(parts))


def detected_catalogue(n: int, *, seed: int = 0):
    """``n`` detected companions: an intrinsic two-population catalogue (the recovery
    test's truth) searched by RV, transit, microlensing and imaging and passed through the
    selection functions, so that the selection-aware model fits the world it describes."""
    from vlms_bayes.models import simulate_selection as ss

    det, _ = ss.simulate_detected(int(n * 6.5), truth=ss.RECOVERY_TRUTH,
                                  method_probs=ss.RECOVERY_METHOD_PROBS,
                                  observe=ss.RECOVERY_OBSERVE, random_seed=seed)
    if len(det) < n:
        raise SystemExit(f"only {len(det)} of {n} companions detected; raise the factor")
    return det.iloc[:n].reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", action="store_true")
    ap.add_argument("--ps", default="../shared/data/pscomppars_2025-08-07.csv")
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--sim", type=int, nargs="*", default=[])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--backend", nargs="+", default=["jax", "numpyro"],
                    help="backends to time (jax, numpyro, jax@GITREF); ratios are printed "
                         "against the last one")
    ap.add_argument("--grad-only", action="store_true",
                    help="time the log density's gradient only, no fits")
    ap.add_argument("--selection", choices=("none", "methods", "both"), default="both")
    a = ap.parse_args()
    from vlms_bayes.models.selection import SelectionModel

    sels = {"none": [None], "methods": [SelectionModel()],
            "both": [None, SelectionModel()]}[a.selection]
    results: dict[tuple[str, str], dict[str, float]] = {}
    frames = []
    if a.real:
        from vlms_bayes import pipeline

        frames.append(("real VLMS", pipeline.load_dataset(
            pipeline.DataConfig(ps=a.ps, data_dir=a.data_dir))))
    frames += [(f"simulated {n}", detected_catalogue(n)) for n in a.sim]
    for label, frame in frames:
        for sel in sels:
            mode = "sel" if sel is not None else "naive"
            for backend in a.backend:
                results[(f"{label}, {mode}", backend)] = bench(
                    frame, label=label, chains=a.chains, draws=a.draws, tune=a.tune,
                    backend=backend, selection=sel, grad_only=a.grad_only)
    print_ratios(results, a.backend)


if __name__ == "__main__":
    main()
