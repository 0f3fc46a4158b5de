"""Steps with content hashes: skip what has not changed, publish each step atomically.

``vlms-bayes run`` is a chain of steps (data, baselines, figures, fit, comparison,
feasibility, summary). Each step has a *key*: the sha256 of its name, the package version,
its settings, the sha256 of its input files and the keys of the steps it depends on. The
key and the sha256 of every file the step wrote are recorded under ``steps`` in the output
folder's ``run.json``.

A step is skipped when its recorded key equals the new one, every file it wrote is still
there with the recorded content, and none of its upstream steps ran in this invocation;
``force=True`` recomputes every step.

Each step writes into its own staging folder (``OUTDIR/.staging/<step>-*``). When the step
has succeeded its record is first removed from ``run.json``, then its files are moved into
the output folder (``os.replace``, one rename per file) and finally its new record is
written (atomically). A run killed at any point therefore leaves no half-written file and
no record that claims more than is there: the next run redoes the first step whose record
is missing or stale, and skips the completed ones before it. A step that fails (e.g. a fit
rejected by the diagnostics gate) publishes nothing; ``run.json`` then says
``"complete": false`` and names it under ``stopped_at``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlms_bayes import __version__
from vlms_bayes.data_io.files import sha256_of
from vlms_bayes.data_io.outputs import (
    _json_default,
    check_output_dir,
    output_dir_error,
    write_json,
)

log = logging.getLogger("vlms_bayes")

RUN_JSON = "run.json"
STAGING = ".staging"


def content_key(obj: Any) -> str:
    """sha256 of a JSON-serialisable object in canonical form (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def step_key(name: str, *, settings: Mapping[str, Any], inputs: Mapping[str, str],
             upstream: Mapping[str, str]) -> str:
    """The key of a step: hash of its name, the package version, settings, inputs, upstream.

    Parameters
    ----------
    name : str
        Step name.
    settings : mapping
        Every setting that changes the step's outputs (JSON-serialisable).
    inputs : mapping
        Input file name -> sha256.
    upstream : mapping
        Upstream step name -> its key.
    """
    return content_key({"step": name, "version": __version__, "settings": settings,
                        "inputs": dict(inputs), "upstream": dict(upstream)})


@dataclass
class StepOutcome:
    """What :meth:`StepRunner.run` did for one step."""

    name: str
    ran: bool
    record: dict[str, Any]
    value: Any = None


@dataclass
class StepRunner:
    """Run steps into ``outdir`` with skip-if-unchanged and atomic per-step publishing.

    Parameters
    ----------
    outdir : path-like
        The output folder (created if needed).
    force : bool
        Recompute every step.
    plan : sequence of str
        Names of the steps of this run, in order (to tell which recorded files are owned
        by which step, and to drop the files of steps no longer in the run).
    header : mapping
        Fields of ``run.json`` other than ``steps`` (written with every record).
    """

    outdir: Path
    force: bool = False
    plan: tuple[str, ...] = ()
    header: dict[str, Any] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    ran: set[str] = field(default_factory=set)
    timings_s: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.outdir = Path(self.outdir).expanduser().resolve()
        check_output_dir(self.outdir)
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_dir_error(self.outdir, exc) from exc
        shutil.rmtree(self.outdir / STAGING, ignore_errors=True)  # leftovers of a killed run
        self.records = self._read_records()
        self._expected = self._expected_hashes()
        self._drop_unplanned()

    # -- run.json --------------------------------------------------------------------
    def _read_records(self) -> dict[str, dict[str, Any]]:
        path = self.outdir / RUN_JSON
        if not path.is_file():
            return {}
        try:
            steps = json.loads(path.read_text()).get("steps", {})
        except (json.JSONDecodeError, AttributeError):
            log.warning("%s is not readable JSON; every step is recomputed", path)
            return {}
        return {k: v for k, v in steps.items() if isinstance(v, dict) and "key" in v}

    def write_run_json(self, **extra: Any) -> None:
        """Write ``run.json`` with the header, ``extra`` fields and the current step records."""
        ordered = {n: self.records[n] for n in self.plan if n in self.records}
        write_json(self.outdir / RUN_JSON, {**self.header, **extra, "steps": ordered})

    def _expected_hashes(self) -> dict[str, str]:
        """Map file -> sha256 as written by the last planned step that wrote it."""
        exp: dict[str, str] = {}
        for name in self.plan:
            exp.update(self.records.get(name, {}).get("outputs", {}))
        return exp

    def _drop_unplanned(self) -> None:
        """Remove files and records of steps of an earlier run that are not planned now."""
        gone = [n for n in self.records if n not in self.plan]
        for name in gone:
            for fname in self.records[name].get("outputs", {}):
                if fname not in self._expected and (self.outdir / fname).is_file():
                    (self.outdir / fname).unlink()
                    log.debug("removed %s (step %r is not part of this run)", fname, name)
            del self.records[name]
        if gone:
            self.write_run_json()

    # -- steps ---------------------------------------------------------------------------
    def is_current(self, name: str, key: str, upstream: Mapping[str, str]) -> tuple[bool, str]:
        """Whether step ``name`` with ``key`` can be skipped, and why (not)."""
        if self.force:
            return False, "--force"
        rec = self.records.get(name)
        if rec is None:
            return False, "no record"
        if rec["key"] != key:
            return False, "inputs or settings changed"
        ran_up = [u for u in upstream if u in self.ran]
        if ran_up:
            return False, f"upstream step {ran_up[0]!r} ran"
        for fname in rec.get("outputs", {}):
            path = self.outdir / fname
            if not path.is_file():
                return False, f"{fname} is missing"
            if sha256_of(path) != self._expected.get(fname):
                return False, f"{fname} was changed"
        return True, "unchanged"

    def run(self, name: str, compute: Callable[[Path], dict[str, Any] | None], *,
            settings: Mapping[str, Any], inputs: Mapping[str, str] | None = None,
            upstream: Mapping[str, str] | None = None,
            seed_files: tuple[str, ...] = ()) -> StepOutcome:
        """Run one step (or skip it) and publish its outputs.

        Parameters
        ----------
        name : str
            Step name (one of :attr:`plan`).
        compute : callable
            ``compute(staging_dir) -> payload``: writes the step's files into
            ``staging_dir`` and returns a JSON-serialisable dict stored in the record as
            ``payload`` (e.g. report lines for ``SUMMARY.txt``), or None.
        settings, inputs, upstream : mapping
            What the key is made of (see :func:`step_key`).
        seed_files : tuple of str
            Published files copied into the staging folder before ``compute`` (for a step
            that updates a file of an earlier step, e.g. ``objects_with_probs.csv``).

        Returns
        -------
        StepOutcome
        """
        upstream = dict(upstream or {})
        key = step_key(name, settings=settings, inputs=inputs or {}, upstream=upstream)
        ok, why = self.is_current(name, key, upstream)
        if ok:
            log.info("[%s] skipped (unchanged, key %s)", name, key[:12])
            self.timings_s[name] = 0.0
            return StepOutcome(name, False, self.records[name])
        log.info("[%s] running (%s)", name, why)
        t0 = time.perf_counter()
        try:
            (self.outdir / STAGING).mkdir(exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f"{name.replace(' ', '_')}-",
                                            dir=self.outdir / STAGING))
        except OSError as exc:
            raise output_dir_error(self.outdir, exc, where=self.outdir) from exc
        try:
            for fname in seed_files:
                if (self.outdir / fname).is_file():
                    shutil.copy2(self.outdir / fname, staging / fname)
            payload = compute(staging) or {}
            outputs = {str(p.relative_to(staging)): sha256_of(p)
                       for p in sorted(staging.rglob("*")) if p.is_file()}
            self._publish(name, staging, outputs)
        except BaseException as exc:
            # the completed steps stay published and recorded; run.json says where the run
            # stopped (the next run resumes there)
            with contextlib.suppress(OSError):
                self.write_run_json(complete=False, stopped_at={
                    "step": name, "error": f"{type(exc).__name__}: {exc}"})
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        dt = time.perf_counter() - t0
        rec = {"key": key, "settings": dict(settings), "inputs": dict(inputs or {}),
               "upstream": upstream, "outputs": outputs, "seconds": round(dt, 4),
               "completed_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "payload": payload}
        self.records[name] = rec
        self._expected.update(outputs)
        self.ran.add(name)
        self.timings_s[name] = round(dt, 4)
        self.write_run_json(complete=False)  # the step's record: written last
        log.info("[%s] done in %.2f s", name, dt)
        return StepOutcome(name, True, rec)

    def cleanup(self) -> None:
        """Remove the (empty) staging folder after the last step."""
        shutil.rmtree(self.outdir / STAGING, ignore_errors=True)

    def _publish(self, name: str, staging: Path, outputs: Mapping[str, str]) -> None:
        """Invalidate the step's record and move its files into place (one rename each).

        Files that the step's earlier run wrote and this one did not are removed, so that
        e.g. a fit's old posterior never sits beside the record of its rejection.
        """
        before = set(self.records.get(name, {}).get("outputs", {}))
        if name in self.records:
            del self.records[name]
            self.write_run_json(complete=False)
        for fname in outputs:
            dest = self.outdir / fname
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / fname, dest)
        others = {f for n, r in self.records.items() if n != name for f in r.get("outputs", {})}
        for fname in sorted(before - set(outputs) - others):
            with contextlib.suppress(FileNotFoundError):
                (self.outdir / fname).unlink()
                log.debug("removed %s (no longer written by step %r)", fname, name)
