"""Run independent tasks (refits, calibration replicas) on Dask, reporting each as it ends.

One path for every command that fans out whole fits: ``calibrate`` (one replica per
task) and ``robustness`` (one refit per variant). By default a local
``distributed`` cluster of process workers, one thread each (JAX is not fork-safe;
Dask starts its workers with ``spawn``), is started for the call and torn down after
it; ``scheduler`` connects to an existing cluster instead (``tcp://host:8786``), whose
workers must have ``vlms_bayes`` installed. ``"synchronous"`` runs the tasks one after
the other in this process (for debugging and tests).

Results never depend on the number or kind of workers: each task carries everything it
needs, its seed included, and results are returned by task name. ``on_result`` is
called in this process as each task finishes, in completion order, so that a caller can
write each result at once (a later failure or Ctrl-C then loses nothing finished).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.rv.catalogue import dask_client

log = logging.getLogger(__name__)

#: A task: (name, function, argument); the function must be importable by the workers.
Task = tuple[str, Callable[[Any], Any], Any]


def _eta(done: int, total: int, elapsed: float) -> str:
    if done >= total or done == 0:
        return ""
    return f", ~{elapsed / done * (total - done):.0f} s left"


def run_tasks(tasks: Sequence[Task], *, n_workers: int | None = None,
              scheduler: str | None = None,
              on_result: Callable[[str, Any], str | None] | None = None,
              label: str = "tasks") -> dict[str, Any]:
    """Run ``fn(arg)`` of each task on Dask workers; log progress; return results by name.

    Parameters
    ----------
    tasks : sequence of (name, function, argument)
        Independent tasks with unique names.
    n_workers : int, optional
        Worker processes of the local cluster (default: the CPU count, at most the number
        of tasks). Ignored with ``scheduler``.
    scheduler : str, optional
        Address of an existing Dask scheduler, or ``"synchronous"``; None: a local cluster.
    on_result : callable, optional
        ``on_result(name, result)``, called here as each task ends; a string it returns
        replaces "done" in the progress line.
    label : str
        Prefix of the progress lines (``[label 3/100] name done (12 s elapsed, ...)``).

    Returns
    -------
    dict
        Task name -> result.

    Raises
    ------
    InputDataError
        Duplicate task names, a bad ``n_workers`` or an unreachable scheduler.
    Exception
        The first task that raises: the queued tasks are cancelled and the error re-raised
        (results already handed to ``on_result`` stay with the caller).
    """
    names = [t[0] for t in tasks]
    if len(set(names)) != len(names):
        raise InputDataError(f"Task names must be unique: {names}.")
    if n_workers is not None and n_workers < 1:
        raise InputDataError(f"--workers must be at least 1, got {n_workers}.")
    results: dict[str, Any] = {}
    t0 = time.perf_counter()

    def done(i: int, name: str, res: Any) -> None:
        results[name] = res
        state = on_result(name, res) if on_result is not None else None
        if state is None:
            state = (f"FAILED: {res['error']}" if isinstance(res, dict) and res.get("error")
                     else "done")
        elapsed = time.perf_counter() - t0
        log.info("[%s %d/%d] %s %s (%.0f s elapsed%s)", label, i, len(tasks), name, state,
                 elapsed, _eta(i, len(tasks), elapsed))

    if not tasks:
        return results
    if scheduler == "synchronous":
        for i, (name, fn, arg) in enumerate(tasks, 1):
            done(i, name, fn(arg))
        return results


    from distributed import as_completed  # heavy: distributed


    workers = n_workers or max(1, min(os.cpu_count() or 1, len(tasks)))
    with dask_client(scheduler, n_workers=workers, processes=True) as client:
        futures = {client.submit(fn, arg, key=f"{label}-{name}-{time.time_ns()}", pure=False):
                   name for name, fn, arg in tasks}
        try:
            for i, fut in enumerate(as_completed(futures), 1):
                done(i, futures[fut], fut.result())
        except BaseException:
            # a task's error (or Ctrl-C): do not wait for the tasks still queued
            client.cancel(list(futures))
            raise
    return results
