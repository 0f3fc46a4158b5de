"""Benchmark the Bayesian mixture fit: compile and sampling time, ESS/s, peak memory.

Run::

    PYTHONPATH=src python benchmarks/bench_fit.py --real            # the VLMS sample
    PYTHONPATH=src python benchmarks/bench_fit.py --sim 5000        # a simulated catalogue
    PYTHONPATH=src python benchmarks/bench_fit.py --real --selection both   # naive vs selection

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
import resource
import time

from vlms_bayes.cli import request_jax_host_devices

request_jax_host_devices(4)


def grad_time_ms(model, *, repeats: int = 30) -> float:
    """Mean wall time of one jitted log-density-and-gradient call at the initial point."""
    import jax
    from pymc.sampling.jax import get_jaxified_logp

    jax.config.update("jax_enable_x64", True)
    logp = get_jaxified_logp(model)
    ip = model.initial_point()
    x = [ip[v.name] for v in model.value_vars]
    vg = jax.jit(jax.value_and_grad(lambda *a: logp(a)))
    jax.block_until_ready(vg(*x))
    t0 = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(vg(*x))
    return (time.perf_counter() - t0) / repeats * 1e3


def bench(frame, *, label: str, chains: int, draws: int, tune: int, backend: str,
          selection=None) -> None:
    from vlms_bayes.data_io.schema import complete_case
    from vlms_bayes.inference.baselines import fit_gmm_bic
    from vlms_bayes.inference.diagnostics import diagnose
    from vlms_bayes.inference.initvals import initial_values
    from vlms_bayes.inference.sampling import sample
    from vlms_bayes.models.data import model_data_from_stacked
    from vlms_bayes.models.mixture import build_mixture_model

    data, _ = model_data_from_stacked(frame)
    t0 = time.perf_counter()
    model = build_mixture_model(data, n_components=2, selection=selection)
    init = initial_values(data, 2, random_seed=0, model=model)
    t_build = time.perf_counter() - t0
    t_grad = grad_time_ms(model)
    t0 = time.perf_counter()
    sample(model, backend=backend, draws=1, tune=1, chains=chains, random_seed=0,
           initvals=init)
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    dt = sample(model, backend=backend, draws=draws, tune=tune, chains=chains, random_seed=1,
                initvals=init)
    t_full = time.perf_counter() - t0
    t_sample = max(t_full - t_compile, 1e-9)
    d = diagnose(dt)
    cc = complete_case(frame)
    t0 = time.perf_counter()
    fit_gmm_bic(cc, features=("logq", "loga"), seed=0)
    t_gmm = time.perf_counter() - t0
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mode = "selection-aware" if selection is not None else "naive"
    print(f"[{label}, {mode}] N={data.n} objects ({len(data.idx_measured)} measured e, "
          f"{len(data.idx_limit)} limits, {int(data.msini.sum())} m sin i); backend={backend}, "
          f"{chains} chains x {draws} draws (+{tune} tune)")
    print(f"  log density + gradient (JAX, jitted): {t_grad:.2f} ms per evaluation")
    print(f"  build {t_build:.1f} s | compile ~{t_compile:.1f} s | sampling ~{t_sample:.1f} s | "
          f"total {t_build + t_full:.1f} s")
    print(f"  min bulk ESS {d.min_ess_bulk:.0f} -> {d.min_ess_bulk / t_sample:.1f} ESS/s; "
          f"divergences {d.divergences}; max R-hat {d.max_rhat:.3f}; gate "
          f"{'passed' if d.passed else 'FAILED: ' + '; '.join(d.failures)}")
    print(f"  peak RSS {rss_mib:.0f} MiB | baseline GMM (K=1,2; n={len(cc)}) {t_gmm:.2f} s")


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
    ap.add_argument("--backend", default="numpyro")
    ap.add_argument("--selection", choices=("none", "methods", "both"), default="both")
    a = ap.parse_args()
    from vlms_bayes.models.selection import SelectionModel

    sels = {"none": [None], "methods": [SelectionModel()],
            "both": [None, SelectionModel()]}[a.selection]
    if a.real:
        from vlms_bayes import pipeline

        frame = pipeline.load_dataset(pipeline.DataConfig(ps=a.ps, data_dir=a.data_dir))
        for sel in sels:
            bench(frame, label="real VLMS", chains=a.chains, draws=a.draws, tune=a.tune,
                  backend=a.backend, selection=sel)
    for n in a.sim:
        frame = detected_catalogue(n)
        for sel in sels:
            bench(frame, label=f"simulated {n}", chains=a.chains, draws=a.draws,
                  tune=a.tune, backend=a.backend, selection=sel)


if __name__ == "__main__":
    main()
