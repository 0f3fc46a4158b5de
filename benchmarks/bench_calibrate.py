"""Benchmark ``vlms-bayes calibrate``: the command's own timing and its scaling with workers.

Run::

    PYTHONPATH=src python benchmarks/bench_calibrate.py                    # issue 20's goal
    PYTHONPATH=src python benchmarks/bench_calibrate.py --replicas 8 --draws 200 --workers 1 2
    PYTHONPATH=src python benchmarks/bench_calibrate.py --fitter prior --replicas 40  # no MCMC

Times :func:`vlms_bayes.pipeline.calibrate.calibrate_command` — design, replicas
(simulation + fit + ranks) on a local Dask cluster, summary, figure, writing — once per
worker count, each into a fresh folder, and prints the wall time, the time per replica,
and the speed-up and parallel efficiency against one worker (the same replicas: results do
not depend on the number of workers, which the benchmark checks by comparing the ranks).
A worker count above the cores (8 on a 2-core machine) is a simulated cluster: it measures
the scheduling overhead, not a speed-up. The default is issue 20's goal: 100 replicas of
the real-sample-sized model (130 objects, the shipped 4 x 1000 fit) with 1, 2 and 8
workers; ``--full-workers`` runs all replicas only at that count and ``--scaling-replicas``
fewer replicas at the others.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--n-objects", type=int, default=130)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--thin", type=int, default=99)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 8])
    ap.add_argument("--full-workers", type=int, default=None,
                    help="run all --replicas only with this many workers ...")
    ap.add_argument("--scaling-replicas", type=int, default=None,
                    help="... and this many with the other worker counts")
    ap.add_argument("--fitter", choices=("nuts", "prior"), default="nuts")
    ap.add_argument("--selection", choices=("methods", "none"), default="methods")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the output folders under this folder")
    args = ap.parse_args()

    import logging

    import distributed  # noqa: F401  (it sets its loggers' levels when imported)
    import pandas as pd

    from vlms_bayes.inference.fit import FitConfig
    from vlms_bayes.pipeline.calibrate import CalibrateConfig, calibrate_command, fit_prior

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("vlms_bayes").setLevel(logging.INFO)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    fit = FitConfig(chains=args.chains, draws=args.draws, tune=args.tune)
    if args.selection == "none":
        from dataclasses import replace

        fit = replace(fit, selection=None)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_cal_"))
    print(f"calibrate: {args.n_objects} objects, fit {args.chains} x {args.draws} "
          f"(tune {args.tune}), L = {args.thin}, fitter {args.fitter}, selection "
          f"{args.selection}; {os.cpu_count()} cores")
    rows, ranks = [], {}
    for nw in args.workers:
        n_rep = args.replicas
        if args.full_workers is not None and nw != args.full_workers:
            n_rep = args.scaling_replicas or args.replicas
        out = root / f"w{nw}_r{n_rep}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        res = calibrate_command(CalibrateConfig(n_replicas=n_rep, n_keep=args.thin,
                                                n_objects=args.n_objects), fit,
                                outdir=out, seed=args.seed, n_workers=nw,
                                fitter=fit_prior if args.fitter == "prior" else None)
        wall = time.perf_counter() - t0
        s = res.numbers["summary"]
        ranks[(nw, n_rep)] = res.numbers["ranks"]
        rows.append({"workers": nw, "replicas": n_rep, "wall_s": wall,
                     "per_replica_s": wall / n_rep, "mean_fit_s": s["timing_s"]["mean_fit"],
                     "n_ok": s["n_ok"], "gate_failed": len(s["gate_failed_replicas"]),
                     "params_outside_band": sum(not p["passed"]
                                                for p in s["parameters"].values())})
        print(f"  {nw} worker(s), {n_rep} replicas: {wall:.1f} s "
              f"({wall / n_rep:.2f} s per replica)", flush=True)
    table = pd.DataFrame(rows)
    base = table.loc[table["workers"] == table["workers"].min()].iloc[0]
    table["speedup"] = base["per_replica_s"] / table["per_replica_s"]
    table["efficiency"] = table["speedup"] / (table["workers"] / base["workers"])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    by_n: dict[int, list] = {}
    for (nw, n), r in ranks.items():
        by_n.setdefault(n, []).append((nw, r))
    for n, runs in by_n.items():
        for nw, r in runs[1:]:
            same = r.equals(runs[0][1])
            print(f"  ranks with {nw} vs {runs[0][0]} worker(s), {n} replicas: "
                  f"{'identical' if same else 'DIFFERENT'}")
    goal = table.loc[table["replicas"] == args.replicas]
    if args.replicas == 100 and args.n_objects == 130 and len(goal):
        best = goal.loc[goal["wall_s"].idxmin()]
        print(f"goal (100 replicas of the real-sample-sized model): {best['wall_s']:.0f} s "
              f"with {int(best['workers'])} worker(s)")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
