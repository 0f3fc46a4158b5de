"""The step machinery of `vlms-bayes run` on toy steps: keys, skipping, downstream reruns,
tampered outputs, an interrupted publish, steps dropped from the plan."""

from __future__ import annotations

import json
import os

import pytest

from vlms_bayes.pipeline import steps as steps_mod
from vlms_bayes.pipeline.steps import StepRunner, content_key, step_key

PLAN = ("a", "b", "c")


def _run(out, *, settings_a=1, settings_c=1, force=False, plan=PLAN, calls=None):
    calls = [] if calls is None else calls
    r = StepRunner(out, force=force, plan=plan, header={"command": "toy"})

    def writer(name, text):
        def compute(stage):
            calls.append(name)
            (stage / f"{name}.txt").write_text(text)
            return {"text": text}
        return compute

    keys = {}
    keys["a"] = r.run("a", writer("a", f"A{settings_a}"), settings={"x": settings_a}).record["key"]
    if "b" in plan:
        keys["b"] = r.run("b", writer("b", "B"), settings={}, upstream={"a": keys["a"]}
                          ).record["key"]
    if "c" in plan:
        r.run("c", writer("c", f"C{settings_c}"), settings={"y": settings_c},
              upstream={k: keys[k] for k in ("a", "b") if k in keys})
    r.write_run_json(complete=True)
    return r, calls


def test_keys_are_canonical_and_sensitive():
    assert content_key({"a": 1, "b": [1, 2]}) == content_key({"b": [1, 2], "a": 1})
    k = step_key("s", settings={"n": 1}, inputs={"f": "00"}, upstream={})
    assert k != step_key("s", settings={"n": 2}, inputs={"f": "00"}, upstream={})
    assert k != step_key("s", settings={"n": 1}, inputs={"f": "01"}, upstream={})
    assert k != step_key("s", settings={"n": 1}, inputs={"f": "00"}, upstream={"u": "k"})
    assert k != step_key("t", settings={"n": 1}, inputs={"f": "00"}, upstream={})


def test_skip_rerun_downstream_and_force(tmp_path):
    out = tmp_path / "out"
    _, calls = _run(out)
    assert calls == ["a", "b", "c"]
    rec = json.loads((out / "run.json").read_text())
    assert rec["complete"] and list(rec["steps"]) == ["a", "b", "c"]
    assert rec["steps"]["b"]["upstream"] == {"a": rec["steps"]["a"]["key"]}
    assert rec["steps"]["c"]["payload"] == {"text": "C1"}
    assert not (out / ".staging").exists() or not any((out / ".staging").iterdir())

    assert _run(out)[1] == []                       # nothing changed: all skipped
    assert _run(out, settings_c=2)[1] == ["c"]      # a leaf setting: only that step
    assert (out / "c.txt").read_text() == "C2"
    assert _run(out, settings_a=2, settings_c=2)[1] == ["a", "b", "c"]  # root: everything
    assert _run(out, settings_a=2, settings_c=2, force=True)[1] == ["a", "b", "c"]


def test_changed_or_missing_output_reruns(tmp_path):
    out = tmp_path / "out"
    _run(out)
    (out / "b.txt").write_text("edited by hand")
    assert _run(out)[1] == ["b", "c"]   # b rewrites its file, c is downstream of b
    assert (out / "b.txt").read_text() == "B"
    (out / "a.txt").unlink()
    assert _run(out)[1] == ["a", "b", "c"]


def test_interrupted_publish_leaves_step_unrecorded_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(out)
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith("c.txt"):
            raise KeyboardInterrupt("killed while publishing")
        return real_replace(src, dst)

    monkeypatch.setattr(steps_mod.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        _run(out, settings_c=3)
    rec = json.loads((out / "run.json").read_text())
    assert "c" not in rec["steps"] and {"a", "b"} <= set(rec["steps"])
    assert (out / "c.txt").read_text() == "C1"   # the old file, whole
    monkeypatch.setattr(steps_mod.os, "replace", real_replace)
    assert _run(out, settings_c=3)[1] == ["c"]   # resumes at the first incomplete step
    assert (out / "c.txt").read_text() == "C3"


def test_failure_inside_a_step_publishes_nothing(tmp_path):
    out = tmp_path / "out"
    r = StepRunner(out, plan=("a",))

    def boom(stage):
        (stage / "a.txt").write_text("half")
        raise RuntimeError("step failed")

    with pytest.raises(RuntimeError):
        r.run("a", boom, settings={})
    assert not (out / "a.txt").exists() and "a" not in r.records
    assert not any((out / ".staging").rglob("*.txt"))


def test_steps_left_out_of_the_plan_are_removed(tmp_path):
    out = tmp_path / "out"
    _run(out)
    assert (out / "b.txt").is_file()
    _, calls = _run(out, plan=("a", "c"))
    assert not (out / "b.txt").exists()
    assert calls == ["c"]  # c's upstream keys changed (no b any more)
    assert list(json.loads((out / "run.json").read_text())["steps"]) == ["a", "c"]


def test_unreadable_run_json_recomputes(tmp_path):
    out = tmp_path / "out"
    _run(out)
    (out / "run.json").write_text("{not json")
    assert _run(out)[1] == ["a", "b", "c"]


def test_a_failing_step_keeps_the_completed_ones_and_the_next_run_resumes(tmp_path):
    """A later step's failure (e.g. a fit rejected by the diagnostics gate) leaves the
    steps before it published and recorded; run.json says where the run stopped; the next
    run skips the completed steps and redoes only the failed one."""
    from vlms_bayes.errors import DiagnosticsError

    out = tmp_path / "out"

    def run(*, fail, calls):
        r = StepRunner(out, plan=PLAN, header={"command": "toy"})

        def step(name):
            def compute(stage):
                calls.append(name)
                (stage / f"{name}.txt").write_text(name.upper())
                if fail and name == "c":
                    raise DiagnosticsError("gate failed")
            return compute

        ka = r.run("a", step("a"), settings={}).record["key"]
        kb = r.run("b", step("b"), settings={}, upstream={"a": ka}).record["key"]
        r.run("c", step("c"), settings={}, upstream={"b": kb})
        r.write_run_json(complete=True)

    calls = []
    with pytest.raises(DiagnosticsError):
        run(fail=True, calls=calls)
    assert calls == ["a", "b", "c"]
    rec = json.loads((out / "run.json").read_text())
    assert rec["complete"] is False and list(rec["steps"]) == ["a", "b"]
    assert rec["stopped_at"] == {"step": "c", "error": "DiagnosticsError: gate failed"}
    assert (out / "a.txt").read_text() == "A" and (out / "b.txt").read_text() == "B"
    assert not (out / "c.txt").exists()
    calls = []
    run(fail=False, calls=calls)
    assert calls == ["c"]
    rec = json.loads((out / "run.json").read_text())
    assert rec["complete"] and "stopped_at" not in rec and (out / "c.txt").is_file()


def test_a_rerun_step_removes_the_files_it_no_longer_writes(tmp_path):
    """A step that writes fewer files than its earlier run (e.g. a fit now rejected, or run
    without LOO) leaves none of the old ones behind; files of other steps stay."""
    out = tmp_path / "out"

    def run(files):
        r = StepRunner(out, plan=("a", "b"))
        r.run("a", lambda st: (st / "a.txt").write_text("A") and None, settings={})

        def b(stage):
            for f in files:
                (stage / f).parent.mkdir(parents=True, exist_ok=True)
                (stage / f).write_text(f)
        r.run("b", b, settings={"files": files})

    run(["b.txt", "sub/old.csv"])
    assert (out / "sub" / "old.csv").is_file()
    run(["b.txt", "sub/rejected/new.txt"])
    assert not (out / "sub" / "old.csv").exists()
    assert (out / "sub" / "rejected" / "new.txt").is_file() and (out / "a.txt").is_file()
    rec = json.loads((out / "run.json").read_text())
    assert set(rec["steps"]["b"]["outputs"]) == {"b.txt", "sub/rejected/new.txt"}
