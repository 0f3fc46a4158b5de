"""Benchmark the robustness suite on the shared PSCompPars snapshot.

Run::

    PYTHONPATH=src python benchmarks/bench_robustness.py DATA_DIR [--draws N] [--tune N]
        [--chains N] [--jobs N] [--variants GROUP ...]

Prints the total wall time, each refit's wall time (from ``run.json``), their sum (what
one process would need), the speed-up of the worker pool, and the peak RSS of this
process and of the largest worker. Set ``JAX_COMPILATION_CACHE_DIR`` to measure a warm
compilation cache.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--tune", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--variants", nargs="+", default=None)
    args = ap.parse_args()

    t0 = time.perf_counter()
    from vlms_bayes.inference.fit import FitConfig
    from vlms_bayes.pipeline import BaselineConfig, DataConfig
    from vlms_bayes.pipeline.robustness import run_robustness

    print(f"imports: {time.perf_counter() - t0:.2f} s")
    data = DataConfig(ps=str(args.data_dir / "pscomppars_2025-08-07.csv"),
                      data_dir=str(args.data_dir))
    fit = FitConfig(chains=args.chains, draws=args.draws, tune=args.tune,
                    allow_bad_diagnostics=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "robust"
        t1 = time.perf_counter()
        res = run_robustness(data, BaselineConfig(), fit, outdir=out, seed=42,
                             variants=args.variants, n_jobs=args.jobs)
        wall = time.perf_counter() - t1
        rec = json.loads((out / "run.json").read_text())
    per = {k.removeprefix("variant "): v for k, v in rec["timings_s"].items()
           if k.startswith("variant ")}
    print(f"suite: {len(per)} tasks on {rec['config']['n_jobs']} process(es), "
          f"{args.chains} chains x {args.draws} draws (+{args.tune} tune), wall {wall:.1f} s")
    for k, v in per.items():
        print(f"  {k:32s} {v:8.1f} s")
    total = sum(per.values())
    print(f"sum of task times {total:.1f} s; pool speed-up {total / wall:.2f}x")
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {self_mb:.0f} MiB, largest worker {child_mb:.0f} MiB")
    print(res.report)


if __name__ == "__main__":
    main()
