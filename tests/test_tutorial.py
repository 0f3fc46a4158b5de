"""The tutorial notebook runs, top to bottom, and its two forms say the same thing.

``docs/tutorial.py`` (jupytext percent format) is the source; ``docs/tutorial.ipynb`` is
its rendering for readers. The notebook is executed in quick mode
(``VLMS_TUTORIAL_QUICK=1``: 2 short chains, a 3 × 3 feasibility grid, P(KL origin) from
2000 systems without the secular integrations, which nothing here reads) by a Jupyter kernel
running this interpreter and this package, in a temporary folder, with no network.
Quick mode's fits (2 chains x 40 draws after 40 warm-up steps) have the sampler sizes of
the README's shrunk ``run`` and of ``tests/report/test_report_html.py``'s ``fit_run`` on
the same data, so the kernel loads their compiled samplers from the session's JAX cache
(draws and warm-up steps are constants of the compiled program).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

import vlms_bayes

DOCS = Path(__file__).resolve().parents[1] / "docs"
SOURCE = DOCS / "tutorial.py"
RENDERED = DOCS / "tutorial.ipynb"
KERNEL = "vlms-bayes-tutorial-test"


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def test_rendered_notebook_matches_source():
    source = jupytext.read(SOURCE)
    rendered = nbformat.read(RENDERED, as_version=4)
    assert _cells(rendered) == _cells(source), (
        "docs/tutorial.ipynb is out of date: run `jupytext --update --to ipynb docs/tutorial.py`")


def _kernelspec(folder: Path) -> Path:
    """A kernelspec that runs this interpreter (found through JUPYTER_PATH)."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "vlms-bayes tutorial test", "language": "python"}))
    return folder


def test_tutorial_runs_in_quick_mode(tmp_path, monkeypatch, jax_test_cache):
    # the kernel inherits this environment: the package this test imports, no network,
    # no display, tiny settings, and the tests' JAX compilation cache
    src = str(Path(vlms_bayes.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", src)
    monkeypatch.setenv("JUPYTER_PATH", str(_kernelspec(tmp_path / "jupyter")))
    monkeypatch.setenv("VLMS_TUTORIAL_QUICK", "1")
    monkeypatch.setenv("VLMS_BAYES_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(jax_test_cache))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    workdir = tmp_path / "work"
    workdir.mkdir()

    nb = jupytext.read(SOURCE)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=600,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()

    out = workdir / "tutorial_output"
    for name in ("fit/posterior.nc", "fit/fit_summary.json", "fit/memberships.csv",
                 "fit/run.json", "feasibility/fig3_feasibility.png",
                 "feasibility/feasibility_map.npz"):
        assert (out / name).is_file(), name
    # every figure reaches the reader (a bare matplotlib Figure needs the inline backend)
    for cell in nb.cells:
        if cell.cell_type == "code" and any(k in cell.source for k in
                                            ("plot_", "plt.subplots", "Image(")):
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "quick mode: True" in text
    assert "TOI-6894 b: P(binary-like) = " in text
    assert "my companion: P(binary-like) = " in text
    assert "Migration feasibility of TOI-6894 b" in text


def test_feasibility_figures_keep_the_session_backend(tmp_path):
    """A notebook's inline backend survives the feasibility figures (they used to force Agg,
    after which a notebook showed no more figures)."""
    import matplotlib
    import matplotlib.pyplot as plt

    from vlms_bayes.data_io.outputs import save_figure
    from vlms_bayes.feasibility.montecarlo import FeasibilityConfig
    from vlms_bayes.pipeline.feasibility import disk_table
    from vlms_bayes.plots.feasibility import plot_disk

    before = matplotlib.get_backend()
    plt.switch_backend("svg")  # stands for the notebook's backend (non-interactive here)
    try:
        config = FeasibilityConfig()
        out = save_figure(tmp_path / "disk.png", plot_disk(disk_table(config), config))
        assert out.is_file()
        assert matplotlib.get_backend() == "svg"
    finally:
        plt.switch_backend(before)
