"""Baselines on few objects: a narrow host-mass window and the rows of the mixture.

With ``--mstar-min 0.06 --mstar-max 0.09`` the real snapshot has 19 in-window rows with q and
a, 9 in the complete-case view: too few for some mixtures. Those must be sentences in the
outputs, and no command may publish a half-written folder.
"""

import json

import numpy as np
import pytest

from vlms_bayes import pipeline
from vlms_bayes.cli import main
from vlms_bayes.inference.baselines import fit_gmm_bic

NARROW = ["--mstar-min", "0.06", "--mstar-max", "0.09"]


def _args(ps_snapshot, shared_data_dir, out, *extra):
    return ["-q", *extra, "--ps", str(ps_snapshot), "--data-dir", str(shared_data_dir),
            "--outdir", str(out), "--n-boot", "20", *NARROW]


@pytest.mark.parametrize(("rows", "n", "unfitted"), [("complete-case", 9, ("2", "3")),
                                                     ("all", 19, ())])
def test_baseline_on_a_narrow_window(ps_snapshot, shared_data_dir, tmp_path, capsys, rows, n,
                                     unfitted):
    out = tmp_path / rows
    assert main([*_args(ps_snapshot, shared_data_dir, out, "baseline"), "--gmm-rows",
                 rows]) == 0
    text = capsys.readouterr().out
    g = json.loads((out / "gmm_summary.json").read_text())
    assert g["n"] == n and g["rows"] == rows.replace("-", "_")
    for k in unfitted:
        assert g["bic"][k] is None
        assert f"K={k}: not fitted: n = {n} objects is not more than" in text
    assert g["winner"] is not None


def test_degenerate_mixture_cannot_win():
    """A K = 3 component that collapses onto two objects has an unbounded likelihood (its
    BIC is far 'better'); it is reported as degenerate and K is chosen among the others."""
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal([-4.5, -1.5], 0.4, (9, 2)), rng.normal([-1.5, 0.4], 0.8, (8, 2)),
                   [[-0.7, 2.7], [-0.7, 2.7 + 1e-4]]])
    res = fit_gmm_bic(x, ks=(1, 2, 3), seed=0)
    assert res.bic[3] < min(res.bic[1], res.bic[2])  # the spurious "winner"
    assert res.degenerate == {3}
    assert res.winner in (1, 2) and res.winner == res.winner_among((1, 2))
    assert "degenerate" in res.notes[3]
    assert res.summary()["degenerate"] == [3]


def test_baseline_publishes_nothing_when_the_report_fails(ps_snapshot, shared_data_dir,
                                                          tmp_path, monkeypatch):
    """Everything, the terminal report included, is computed before the folder is published."""
    import vlms_bayes.pipeline.baseline as baseline_command

    def boom(results):
        raise RuntimeError("report failed")

    monkeypatch.setattr(baseline_command, "baseline_report", boom)
    out = tmp_path / "never"
    data = pipeline.DataConfig(ps=str(ps_snapshot), data_dir=str(shared_data_dir),
                               mstar_min=0.06, mstar_max=0.09)
    with pytest.raises(RuntimeError, match="report failed"):
        pipeline.run_baseline(data, pipeline.BaselineConfig(n_boot=5), outdir=out)
    assert not out.exists()


def test_run_without_fit_on_a_narrow_window(ps_snapshot, shared_data_dir, tmp_path):
    out = tmp_path / "run"
    assert main([*_args(ps_snapshot, shared_data_dir, out, "run"), "--gmm-rows",
                 "complete-case", "--no-fit", "--skip-feasibility"]) == 0
    summary = (out / "SUMMARY.txt").read_text()
    assert "K=2: not fitted: n = 9 objects is not more than the 11 free parameters" in summary
    html = (out / "report.html").read_text()
    assert "not more than the 11 free parameters" in html
