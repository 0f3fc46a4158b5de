"""The shared Dask task runner (calibrate, robustness): results by name, errors, progress."""

from __future__ import annotations

import logging
import math

import pytest

from vlms_bayes.errors import InputDataError
from vlms_bayes.pipeline.dask_tasks import run_tasks


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x * x


def test_results_by_name_and_progress(caplog):
    seen = []
    with caplog.at_level(logging.INFO, logger="vlms_bayes.pipeline.dask_tasks"):
        out = run_tasks([(f"t{i}", math.factorial, i) for i in range(4)],
                        scheduler="synchronous", label="demo",
                        on_result=lambda name, res: seen.append(name) or f"gave {res}")
    assert out == {"t0": 1, "t1": 1, "t2": 2, "t3": 6} and seen == ["t0", "t1", "t2", "t3"]
    assert "[demo 4/4] t3 gave 6" in caplog.text


def test_a_failing_task_stops_the_run_after_keeping_the_finished_ones():
    kept = {}
    with pytest.raises(ValueError, match="three"):
        run_tasks([(f"t{i}", _fail_on_three, i) for i in range(5)], scheduler="synchronous",
                  on_result=lambda name, res: kept.__setitem__(name, res))
    assert kept == {"t0": 0, "t1": 1, "t2": 4}


def test_bad_arguments_are_clear_errors():
    with pytest.raises(InputDataError, match="unique"):
        run_tasks([("a", abs, 1), ("a", abs, 2)], scheduler="synchronous")
    with pytest.raises(InputDataError, match="--workers must be at least 1"):
        run_tasks([("a", abs, 1)], n_workers=0)
