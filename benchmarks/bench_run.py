"""Benchmark of the whole ``vlms-bayes run`` on the shared snapshot, step by step.

Runs the default command (Bayesian fit with K = 1, 2, 3 and LOO, feasibility map, summary)
as a user does, in a child process into a fresh folder, and prints the wall time of each
step (from ``run.json``), the total wall and CPU time, and the peak resident memory of the
child (``ru_maxrss``). A second, unchanged run into the same folder times the skip path.
Also times ``vlms-bayes --help``.

    python benchmarks/bench_run.py [--data-dir ../shared/data] [--repeat 1] [-- extra args]
    python benchmarks/bench_run.py --fresh      # the README's `vlms-bayes run --outdir results`

``--fresh`` runs it as a new user on a machine without network does: no ``--ps``, no data
folder, an empty cache, ``VLMS_BAYES_OFFLINE=1`` (the embedded snapshot).

Extra arguments go to ``vlms-bayes run`` (e.g. ``-- --no-fit`` or a small sampler). The
machine's load average is printed beside the numbers: other processes competing for the
cores inflate the wall times. Target (issue 7): under 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run a command; return (wall s, CPU s of the child, peak RSS of the child in MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read() if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=1, help="full runs (each from scratch)")
    ap.add_argument("--fresh", action="store_true",
                    help="as a new user offline: no --ps, no data folder, empty cache")
    ap.add_argument("extra", nargs="*", help="extra arguments for vlms-bayes run")
    args = ap.parse_args()
    exe = [sys.executable, "-m", "vlms_bayes"]
    ps = Path(args.data_dir) / "pscomppars_2025-08-07.csv"
    print(f"cores: {os.cpu_count()}, load average before: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    helps = [timed([*exe, "--help"])[0] for _ in range(3)]
    print(f"vlms-bayes --help: median {statistics.median(helps):.3f} s")

    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            env = None
            if args.fresh:
                cmd = [*exe, "-q", "run", "--outdir", str(out), *args.extra]
                env = {k: v for k, v in os.environ.items() if k != "VLMS_BAYES_DATA_DIR"}
                env.update(VLMS_BAYES_OFFLINE="1", VLMS_BAYES_CACHE_DIR=str(Path(tmp) / "c"))
            else:
                cmd = [*exe, "-q", "run", "--ps", str(ps), "--data-dir", args.data_dir,
                       "--outdir", str(out), *args.extra]
            wall, cpu, rss = timed(cmd, env)
            rec = json.loads((out / "run.json").read_text())
            print(f"run {i + 1}: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss:.0f} MB, "
                  f"load average after {os.getloadavg()[0]:.1f}")
            for name, secs in rec["timings_s"].items():
                print(f"  step {name:<12} {secs:8.1f} s")
            diag = rec["steps"].get("fit", {}).get("payload", {}).get("diagnostics_passed")
            if diag is not None:
                print(f"  fit diagnostics passed: {diag}")
            wall2, cpu2, rss2 = timed(cmd, env)
            print(f"  unchanged rerun (all steps skipped): wall {wall2:.1f} s, "
                  f"CPU {cpu2:.1f} s, peak RSS {rss2:.0f} MB")


if __name__ == "__main__":
    main()
