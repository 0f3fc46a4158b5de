"""What every command returns, and how a command times its steps."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("vlms_bayes")


@dataclass
class CommandResult:
    """What a command produced.

    Attributes
    ----------
    outdir : Path or None
        The folder written; None for a command that writes none (``classify``).
    report : str
        The text the command line prints.
    numbers : dict
        Key numbers of the command (counts, headline numbers, a summary, a table).
    result : object, optional
        The in-memory result, for a notebook (e.g. the fit's ``FitResult``).
    """

    outdir: Path | None
    report: str
    numbers: dict[str, Any] = field(default_factory=dict)
    result: Any = None


@dataclass
class StepTimer:
    """Wall time per named step, logged as each step ends."""

    timings_s: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a step and log one line when it ends."""
        t0 = time.perf_counter()
        yield
        dt = time.perf_counter() - t0
        self.timings_s[name] = round(dt, 4)
        log.info("[%s] done in %.2f s", name, dt)
