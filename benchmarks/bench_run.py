"""Benchmark of ``vlms-bayes run`` on the shared snapshot and of ``vlms-bayes --help``.

Whole processes from a warm cache, as a user runs them. Prints wall time and the peak
resident memory of the child process (``ru_maxrss``).

    python benchmarks/bench_run.py [--data-dir ../shared/data] [--repeat 3] [-- extra args]

Targets (issue 2): ``run`` under 5 s and 300 MB; ``--help`` under 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS of the child in MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, _, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, None):
        raise SystemExit(f"{' '.join(cmd)} failed")
    return wall, ru.ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("extra", nargs="*", help="extra arguments for vlms-bayes run")
    args = ap.parse_args()
    exe = [sys.executable, "-m", "vlms_bayes"]
    ps = Path(args.data_dir) / "pscomppars_2025-08-07.csv"

    helps = [timed([*exe, "--help"])[0] for _ in range(args.repeat)]
    print(f"vlms-bayes --help: median {statistics.median(helps):.3f} s "
          f"(min {min(helps):.3f} s, {args.repeat} runs)")

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [*exe, "-q", "run", "--ps", str(ps), "--data-dir", args.data_dir,
               "--outdir", str(Path(tmp) / "out"), *args.extra]
        timed(cmd)  # warm the caches (file system, JAX compilation cache)
        runs = [timed(cmd) for _ in range(args.repeat)]
    walls = [w for w, _ in runs]
    peak = max(m for _, m in runs)
    print(f"vlms-bayes run (shared snapshot): median wall {statistics.median(walls):.2f} s "
          f"(min {min(walls):.2f} s), peak RSS {peak:.0f} MB, {args.repeat} runs")
    print(f"self RSS of this benchmark process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
