"""Every example of README.md runs, in README order, in one temporary folder.

* Fenced ``bash`` blocks: each ``vlms-bayes ...`` command (also inside ``&&`` chains) runs
  in-process through :func:`vlms_bayes.cli.main` and must exit 0; ``export VAR=VALUE`` sets
  the variable; installation and development commands (``pip``, ``python -m venv``,
  ``python -m pytest``, ``ruff``, benchmarks) are what ``.ci/run`` itself executes, so they
  are skipped here, and anything else fails the test.
* Fenced ``python`` blocks are executed.
* As a new user on a fresh machine: no data folder, an empty cache, no network
  (``VLMS_BAYES_OFFLINE=1``), so the commands read the snapshot embedded in the package;
  ``/path/to/data`` stands for the reference data folder (or the snapshot unpacked as one).
* Comments after a block (``<!-- test: ... -->``): ``shrink COMMAND FLAGS`` appends size
  flags (only those in :data:`SIZE_FLAGS`) to that subcommand; ``writes FILES`` lists files
  the block must write (each must also be named in the README's prose); ``slow`` moves the
  block to the slow run.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vlms_bayes.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"

#: flags a ``shrink`` comment may add: sampler, grid and simulation sizes, and the switches
#: that a tiny sampler needs (its diagnostics fail by construction: written anyway, and
#: without the gate's retry at a higher target acceptance, whose deep trees would cost more
#: than the tiny fit itself) or that silence bars
SIZE_FLAGS = {"--chains", "--draws", "--tune", "--loo-components", "--allow-bad-diagnostics",
              "--retry-target-accept",
              "--grid", "--mc-draws", "--secular-check", "--n-boot", "--n-sims", "--k-sims",
              "--n-samples", "--no-progress", "--sens-grid", "--sens-draws",
              "--probability-systems", "--integrate-candidates", "--replicas", "--n-objects",
              "--thin"}
#: leading words of commands that .ci/run runs itself (installation, tests, lint, benchmarks)
NOT_RUN_HERE = ("pip", "python", "python3.12", ".", "ruff")


@dataclass
class Block:
    """One fenced example of the README and the test comments that follow it."""

    index: int
    lang: str
    code: str
    line: int
    shrink: dict[str, list[str]] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)
    slow: bool = False

    @property
    def id(self) -> str:
        first = next((ln for ln in self.code.splitlines() if ln.strip()), "")
        return f"L{self.line}-{self.lang}-{re.sub(r'[^A-Za-z0-9-]+', '_', first)[:40]}"


def parse_readme(text: str) -> list[Block]:
    """The README's ``bash`` and ``python`` blocks with their test comments."""
    blocks: list[Block] = []
    pattern = re.compile(r"^```(\w+)\n(.*?)^```\n((?:<!-- test:.*?-->\n)*)", re.S | re.M)
    for m in pattern.finditer(text):
        lang, code, comments = m.group(1), m.group(2), m.group(3)
        if lang not in ("bash", "python"):
            continue
        b = Block(len(blocks), lang, code, text.count("\n", 0, m.start()) + 1)
        for c in re.findall(r"<!-- test: (.*?) -->", comments):
            words = c.split()
            if words[0] == "shrink":
                b.shrink.setdefault(words[1], []).extend(words[2:])
            elif words[0] == "writes":
                b.writes.extend(words[1:])
            elif words == ["slow"]:
                b.slow = True
            else:
                raise AssertionError(f"README line {b.line}: unknown test comment {c!r}")
        blocks.append(b)
    return blocks


BLOCKS = parse_readme(README.read_text(encoding="utf-8"))


def commands(block: Block) -> list[list[str]]:
    """The shell words of each command of a bash block (comments and ``&&`` split off)."""
    out = []
    for raw in block.code.replace("\\\n", " ").splitlines():
        words = shlex.split(raw, comments=True)
        cmd: list[str] = []
        for w in [*words, "&&"]:
            if w in ("&&", ";"):
                if cmd:
                    out.append(cmd)
                cmd = []
            else:
                cmd.append(w)
    return out


def _with_shrink(argv: list[str], block: Block) -> list[str]:
    extra: list[str] = []
    for key, flags in block.shrink.items():
        if key in argv[:2]:
            extra += flags
    return argv + extra


class Workspace:
    """The temporary folder where the README's blocks run one after another."""

    def __init__(self, root: Path, data_dir: Path) -> None:
        self.root, self.data_dir = root, data_dir
        self.done: set[int] = set()

    def run_block(self, block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(self.root)
        if block.lang == "python":
            exec(compile(block.code, f"{README}:{block.line}", "exec"), {"__name__": "readme"})
            return
        for words in commands(block):
            words = [w.replace("/path/to/data", str(self.data_dir)) for w in words]
            if words[0] == "export":
                for assignment in words[1:]:
                    name, _, value = assignment.partition("=")
                    monkeypatch.setenv(name, value)
            elif words[0] == "vlms-bayes":
                argv = _with_shrink(words[1:], block)
                assert main(argv) == 0, f"README line {block.line}: {' '.join(words)} failed"
            elif words[0] in NOT_RUN_HERE:
                continue
            else:
                raise AssertionError(f"README line {block.line}: no rule to test {words}")
        self.done.add(block.index)


@pytest.fixture(scope="module")
def workspace(shared_data_dir, tmp_path_factory):
    """An empty folder: the README's commands must find their data themselves."""
    return Workspace(tmp_path_factory.mktemp("readme"), shared_data_dir)


@pytest.fixture(autouse=True)
def _offline_env(workspace, monkeypatch):
    monkeypatch.setenv("VLMS_BAYES_CACHE_DIR", str(workspace.root / "cache"))
    monkeypatch.delenv("VLMS_BAYES_DATA_DIR", raising=False)
    monkeypatch.setenv("VLMS_BAYES_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")


def test_readme_has_the_sections_a_newcomer_needs():
    text = README.read_text(encoding="utf-8")
    heads = re.findall(r"^## (.+)$", text, flags=re.M)
    order = ["Quickstart", "Working offline: the data folder", "Commands", "Python API",
             "Data and methods to cite", "Getting help"]
    assert [h for h in heads if h in order] == order
    from vlms_bayes.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        assert f"`vlms-bayes {name}" in text or f"`{name}`" in text, name
    # the install and test commands .ci/run relies on
    assert 'pip install -e ".[test]" && python -m pytest' in text
    for img in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (README.parent / img).is_file(), img


def test_shrink_comments_only_change_sizes():
    for b in BLOCKS:
        for flags in b.shrink.values():
            for f in flags:
                assert not f.startswith("-") or f in SIZE_FLAGS, (b.line, f)


@pytest.mark.parametrize(
    "block", [pytest.param(b, id=b.id, marks=[pytest.mark.slow] if b.slow else [])
              for b in BLOCKS])
def test_readme_example_runs(block, workspace, monkeypatch):
    # blocks run in README order; an earlier (non-slow) block's outputs may be needed
    for earlier in BLOCKS[:block.index]:
        if earlier.index not in workspace.done and not earlier.slow:
            workspace.run_block(earlier, monkeypatch)
    if block.index not in workspace.done:
        workspace.run_block(block, monkeypatch)
    text = README.read_text(encoding="utf-8")
    prose = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    for rel in block.writes:
        path = workspace.root / rel
        assert path.is_file() and path.stat().st_size > 0, f"README line {block.line}: {rel}"
        assert Path(rel).name in prose, f"{rel} is checked but not named in the README"
        if path.suffix == ".json":
            json.loads(path.read_text())
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_snapshot_counts_match_the_data(workspace, monkeypatch):
    """The counts the README quotes for the 2025-08-07 snapshot are those `data` finds."""
    import pandas as pd

    data_block = next(b for b in BLOCKS if b.code.startswith("vlms-bayes data "))
    for earlier in BLOCKS[:data_block.index + 1]:
        if earlier.index not in workspace.done and not earlier.slow:
            workspace.run_block(earlier, monkeypatch)
    st = pd.read_csv(workspace.root / "results_data" / "vlms_companions_stacked.csv")
    w = st[st.in_window]
    ps = w[w.source == "PSCompPars"]
    meth = ps.discoverymethod.str.lower().value_counts()
    ecc = w.ecc_status.value_counts()
    claim = (f"the window holds {len(w)} companions: {len(ps)} from PSCompPars "
             f"({meth['microlensing']} microlensing, {meth['radial velocity']} radial velocity, "
             f"{meth['transit']} transit, {meth['imaging']} imaging, {meth['astrometry']} "
             f"astrometry) and {len(w) - len(ps)} brown dwarfs from the BD catalogue; "
             f"{(w.mass_kind == 'msini').sum()} masses are minimum masses, "
             f"{(w.mass_kind == 'mass_radius').sum()} come from a mass–radius relation; "
             f"{ecc['missing']} have no eccentricity, {ecc['upper_limit']} only an upper limit "
             f"and {ecc['fixed_zero']} an assumed e = 0.")
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert claim in text
