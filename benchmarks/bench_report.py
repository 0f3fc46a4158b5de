"""Benchmark ``report.html``: render a finished run folder and measure the page.

Run: ``PYTHONPATH=src python benchmarks/bench_report.py RUN_DIR [repeats]`` where RUN_DIR is
an output folder of ``vlms-bayes run``. Prints the wall time per render, the throughput in
input megabytes (figures and tables) per second, the page size, the peak Python memory
(tracemalloc) and the process's peak RSS. The report is written to a temporary file, so the
run folder is left as it is.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path


def main(run_dir: Path, repeats: int) -> None:
    t0 = time.perf_counter()
    from vlms_bayes.report.html import write_report

    print(f"imports: {time.perf_counter() - t0:.2f} s")
    inputs = [p for p in run_dir.iterdir() if p.is_file() and p.name != "report.html"]
    in_mb = sum(p.stat().st_size for p in inputs) / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        times = []
        tracemalloc.start()
        for _ in range(repeats):
            t = time.perf_counter()
            write_report(run_dir, output=out)
            times.append(time.perf_counter() - t)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        size = out.stat().st_size / 1e6
    best = min(times)
    print(f"run folder: {len(inputs)} files, {in_mb:.2f} MB; report.html {size:.2f} MB")
    print(f"render: best {best:.3f} s, median {sorted(times)[len(times) // 2]:.3f} s over "
          f"{repeats}; {in_mb / best:.1f} MB/s of inputs")
    print(f"peak Python memory (tracemalloc): {peak:.1f} MB; peak RSS: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 5)
