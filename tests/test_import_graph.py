"""The package's import graph has no cycle and imports point down the layers.

The layers (DESIGN.md), from the bottom up::

    0  the package root, errors, orbits, run_config, seeds  (shared leaves)
    1  data_io                                         (files and network)
    2  models                                          (model builders)
    3  inference, feasibility, plots                   (science and figures)
    4  pipeline, report                                (what each command does)
    5  cli, __main__                                   (argument parsing)

An import from a module to a module of a *higher* layer is an "upward import". The test
reads every source file with :mod:`ast` (nothing is imported), so it runs in a fraction of
a second; rerun it with ``pytest tests/test_import_graph.py -q``. Every import counts,
also those inside functions: an import hidden in a function still ties the two modules
together.

Imports inside functions are allowed only where they keep a heavy stack (:data:`HEAVY`)
off a light import path, ``vlms-bayes --help`` first: each carries a ``# heavy: ...``
comment, and the test checks that it really defers a heavy package which its module does
not import at the top anyway (an own module counts by what its top-level imports bring).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "vlms_bayes"

#: Layer of each first-level name below ``vlms_bayes`` (the package root is ``""``).
LAYERS: dict[str, int] = {
    "": 0,
    "errors": 0,
    "orbits": 0,
    "run_config": 0,
    "seeds": 0,
    "data_io": 1,
    "models": 2,
    "inference": 3,
    "feasibility": 3,
    "plots": 3,
    "pipeline": 4,
    "report": 4,
    "cli": 5,
    "__main__": 5,
}

#: Leaves that any layer may import: they import nothing of the package (checked below).
#: ``report.format`` formats numbers for every report, the fit's read-out included; its
#: package's ``__init__`` runs with it and is a docstring only.
LEAVES: frozenset[str] = frozenset({"vlms_bayes.report", "vlms_bayes.report.format"})

#: Cycles still tolerated, each as the frozenset of its modules, with the reason. An entry
#: that no longer matches a cycle fails the test, so the list can only shrink.
ALLOWED_CYCLES: dict[frozenset[str], str] = {}  # none (issue 16's draws.py broke the last)

#: Upward imports still tolerated: (importer, imported) -> reason.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}


#: Third-party packages heavy enough to import inside a function (each costs a sizeable
#: part of the 0.5 s that ``vlms-bayes --help`` may take, or is an optional stack).
#: numpy, pandas, scipy and the standard library are light: they go to the module's top.
#: ``matplotlib.pyplot`` counts apart from ``matplotlib``: importing it picks a GUI backend,
#: so a command sets Agg first (:func:`_stacks`).
HEAVY: frozenset[str] = frozenset({
    "arviz", "arviz_base", "arviz_stats", "astropy", "astroquery", "dask", "distributed",
    "jax", "jaxlib", "matplotlib", "matplotlib.pyplot", "numba", "numpyro", "nutpie", "pooch",
    "pymc", "pytensor", "rebound", "sklearn", "xarray",
})

#: The entry point keeps NumPy, pandas and SciPy off ``--help`` too (tested below): it
#: imports the standard library and the package's light leaves only.
ENTRY_POINTS: frozenset[str] = frozenset({"vlms_bayes.cli", "vlms_bayes.__main__"})
ENTRY_HEAVY: frozenset[str] = HEAVY | {"numpy", "pandas", "scipy"}

#: The comment an import inside a function carries (on one of its lines).
LAZY_MARK = "# heavy"


def _module_files() -> dict[str, tuple[Path, bool]]:
    """Map every module name of the package to its file and whether it is a package."""
    modules: dict[str, tuple[Path, bool]] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_package)
    return modules


def _resolve(name: str, modules: dict[str, tuple[Path, bool]]) -> str | None:
    """The longest module name of the package that ``name`` starts with."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _stacks(target: str) -> set[str]:
    """Names a third-party import counts under in :data:`HEAVY`: its top-level package."""
    top = target.split(".")[0]
    return {top, "matplotlib.pyplot"} if target.startswith("matplotlib.pyplot") else {top}


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """Absolute dotted names an import statement names (``from a import b``: a and a.b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return [source] + [f"{source}.{alias.name}" for alias in node.names]


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports_by_scope(tree: ast.Module) -> tuple[list[ast.Import | ast.ImportFrom],
                                                 list[ast.Import | ast.ImportFrom]]:
    """(imports run when the module is imported, imports inside functions).

    ``if TYPE_CHECKING:`` blocks run neither.
    """
    top: list[ast.Import | ast.ImportFrom] = []
    inner: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                (inner if in_function else top).append(child)
            visit(child, in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return top, inner


def _own_modules(target: str, modules: dict[str, tuple[Path, bool]]) -> list[str]:
    """The package's modules that importing ``target`` runs (its packages' ``__init__`` too)."""
    parts = target.split(".")
    found = []
    for stop in range(1, len(parts) + 1):
        resolved = _resolve(".".join(parts[:stop]), modules)
        if resolved is not None and resolved not in found:
            found.append(resolved)
    return found


def heavy_brought(modules: dict[str, tuple[Path, bool]]) -> dict[str, frozenset[str]]:
    """For each module, the :data:`ENTRY_HEAVY` packages importing it brings (top level only)."""
    direct: dict[str, set[str]] = {}
    deps: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        top, _ = _imports_by_scope(ast.parse(path.read_text(encoding="utf-8")))
        direct[name] = {
            s for node in top for t in _targets(node, package) for s in _stacks(t)
        } & ENTRY_HEAVY
        deps[name] = {
            m for node in top for t in _targets(node, package) if t.startswith(PACKAGE)
            for m in _own_modules(t, modules)
        } | set(_own_modules(name, modules)[:-1])
    closure: dict[str, frozenset[str]] = {}
    for name in modules:
        seen, todo, heavy = {name}, [name], set()
        while todo:
            current = todo.pop()
            heavy |= direct[current]
            for dep in deps[current] - seen:
                seen.add(dep)
                todo.append(dep)
        closure[name] = frozenset(heavy)
    return closure


def lazy_import_problems(modules: dict[str, tuple[Path, bool]]) -> list[str]:
    """Imports inside functions that lack the comment or defer nothing heavy."""
    brought = heavy_brought(modules)
    problems = []
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        _, inner = _imports_by_scope(ast.parse(text))
        for node in inner:
            where = f"{name}:{node.lineno} ({ast.unparse(node)})"
            heavy = ENTRY_HEAVY if name in ENTRY_POINTS else HEAVY
            deferred: set[str] = set()
            for target in _targets(node, package):
                if target.startswith(PACKAGE):
                    deferred |= {h for m in _own_modules(target, modules) for h in brought[m]}
                else:
                    deferred |= _stacks(target)
            deferred = (deferred & heavy) - brought[name]
            if not deferred:
                problems.append(f"{where}: defers nothing heavy; import it at the top")
            elif not any(LAZY_MARK in line for line in lines[node.lineno - 1:node.end_lineno]):
                problems.append(f"{where}: defers {sorted(deferred)}; say so with a "
                                f"'{LAZY_MARK}: ...' comment on the import")
    return problems


def import_graph() -> dict[str, set[str]]:
    """Edges ``importer -> imported`` between the package's own modules.

    Importing ``a.b.c`` also runs ``a/__init__.py`` and ``a/b/__init__.py``, so those
    count as imported too, except a module's own enclosing packages: Python has already
    started running those before the module itself.
    """
    modules = _module_files()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [source] + [f"{source}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                if not target.startswith(PACKAGE):
                    continue
                parts = target.split(".")
                for stop in range(1, len(parts) + 1):
                    resolved = _resolve(".".join(parts[:stop]), modules)
                    if resolved is None or resolved == name:
                        continue
                    if not name.startswith(resolved + "."):
                        edges[name].add(resolved)
    return edges


def strongly_connected(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[frozenset[str]] = []
    nodes = set(edges) | {w for targets in edges.values() for w in targets}
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(frozenset(component))
    return components


def layer_of(module: str) -> int:
    """Layer of a module of the package (see the module docstring); leaves are layer 0."""
    if module in LEAVES:
        return 0
    parts = module.split(".")
    first = parts[1] if len(parts) > 1 else ""
    if first not in LAYERS:
        raise KeyError(
            f"{module}: first-level name {first!r} has no layer; add it to LAYERS in "
            "tests/test_import_graph.py (and to DESIGN.md's layout)"
        )
    return LAYERS[first]


def test_no_import_cycles() -> None:
    cycles = strongly_connected(import_graph())
    unexpected = [sorted(c) for c in cycles if c not in ALLOWED_CYCLES]
    assert not unexpected, f"import cycles: {unexpected}"
    stale = [sorted(c) for c in ALLOWED_CYCLES if c not in cycles]
    assert not stale, f"allowed cycles that no longer exist (remove them): {stale}"


def test_imports_point_down_the_layers() -> None:
    upward = {
        (importer, imported)
        for importer, targets in import_graph().items()
        for imported in targets
        if layer_of(imported) > layer_of(importer)
    }
    unexpected = sorted(upward - set(ALLOWED_UPWARD))
    assert not unexpected, f"upward imports: {unexpected}"
    stale = sorted(set(ALLOWED_UPWARD) - upward)
    assert not stale, f"allowed upward imports that no longer exist (remove them): {stale}"
    assert len(ALLOWED_UPWARD) <= 1


def test_leaves_import_nothing_of_the_package() -> None:
    graph = import_graph()
    assert {leaf: sorted(graph.get(leaf, ())) for leaf in LEAVES} == {leaf: [] for leaf in LEAVES}


def test_graph_walker_finds_a_cycle_and_an_upward_edge() -> None:
    """The checks above would fail on a graph that has what they look for."""
    low, high = "vlms_bayes.data_io.a", "vlms_bayes.pipeline.b"
    edges = {low: {high}, high: {low}}
    assert strongly_connected(edges) == [frozenset(edges)]
    assert layer_of(high) > layer_of(low)
    with pytest.raises(KeyError, match="has no layer"):
        layer_of("vlms_bayes.somewhere_new")


def test_package_is_typed() -> None:
    assert (SRC / PACKAGE / "py.typed").is_file()


def _writes_environment(node: ast.AST) -> bool:
    """``os.environ[...] = ...``, ``del os.environ[...]`` or a mutating call on it."""
    def is_environ(expr: ast.AST) -> bool:
        return (isinstance(expr, ast.Attribute) and expr.attr == "environ"
                and isinstance(expr.value, ast.Name) and expr.value.id == "os")

    if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        return any(isinstance(t, ast.Subscript) and is_environ(t.value) for t in targets)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        mutators = {"setdefault", "update", "pop", "popitem", "clear"}
        if node.func.attr in mutators and is_environ(node.func.value):
            return True
        return (node.func.attr in {"putenv", "unsetenv"} and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "os")
    return False


def test_only_the_command_line_writes_the_environment() -> None:
    """Library code reads the environment; the entry point (cli.py) alone sets it."""
    writers = [
        f"{name}:{node.lineno}"
        for name, (path, _) in _module_files().items()
        if name != "vlms_bayes.cli"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _writes_environment(node)
    ]
    assert not writers, f"library code writes os.environ: {writers}"
    probe = ast.parse("import os\nos.environ['X'] = '1'\nos.environ.pop('X')\n")
    assert sum(_writes_environment(n) for n in ast.walk(probe)) == 2


def test_imports_inside_functions_only_defer_heavy_stacks() -> None:
    """No imports inside functions except heavy stacks kept off light paths, commented."""
    problems = lazy_import_problems(_module_files())
    assert not problems, "imports inside functions:\n" + "\n".join(problems)


def test_lazy_import_check_flags_light_and_uncommented_imports(tmp_path: Path) -> None:
    """The check above fails on a light import, and on a heavy one without its comment."""
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "light.py").write_text("import numpy\n")
    (package / "heavy.py").write_text("import jax  # needs it at the top\n")
    (package / "user.py").write_text(
        "def f():\n"
        "    import pandas  # heavy: not really\n"
        "    import pymc\n"
        "    import matplotlib  # heavy: plotting\n"
        "    from vlms_bayes import light  # heavy: no\n"
        "    from vlms_bayes import heavy  # heavy: brings JAX\n"
    )
    modules = {
        ".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"):
            (p, p.name == "__init__.py")
        for p in package.glob("*.py")
    }
    problems = lazy_import_problems(modules)
    assert [p.split(" ")[0] for p in problems] == [
        "vlms_bayes.user:2", "vlms_bayes.user:3", "vlms_bayes.user:5"]
    assert "comment" in problems[1] and "nothing heavy" in problems[2]


def test_help_imports_no_heavy_stack() -> None:
    """``vlms-bayes --help`` and every subcommand's ``--help`` stay off JAX, PyMC, numba."""
    code = """
import argparse, contextlib, io, json, runpy, sys
from vlms_bayes.cli import build_parser
parser = build_parser()
commands = [name for action in parser._actions
            if isinstance(action, argparse._SubParsersAction) for name in action.choices]
for argv in [["--help"]] + [[name, "--help"] for name in commands]:
    sys.argv = ["vlms-bayes", *argv]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        runpy.run_module("vlms_bayes", run_name="__main__", alter_sys=False)
print(json.dumps({"commands": commands, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True, timeout=120)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"run", "fit", "feasibility"} <= set(seen["commands"])
    loaded = set(seen["modules"]) & {name.split(".")[0] for name in ENTRY_HEAVY}
    assert not loaded, f"--help imports {sorted(loaded)}"
