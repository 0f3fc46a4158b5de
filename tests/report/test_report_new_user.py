"""report.html details a new user stumbled on: finishing time, a table listed twice, the
Quarles tables missing from the sources, and the feasibility map's stripes and identical
horizons left unexplained. Small synthetic folders; the real run is in test_report_html."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd

from vlms_bayes.report.elements import RunFolder
from vlms_bayes.report.format import fmt
from vlms_bayes.report.html import _other_outputs, render_report
from vlms_bayes.report.results import horizon_text, selection_part, stripes_text
from vlms_bayes.report.sections import sources_section


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _run_json(folder, **fields):
    rec = {"command": "run", "created_utc": "2026-01-01T10:00:00Z",
           "environment": {"vlms_bayes": "0"}, "config": {}, "inputs": {}, **fields}
    (folder / "run.json").write_text(json.dumps(rec))
    return rec


def test_header_finish_time_falls_back_on_the_last_step(tmp_path):
    _run_json(tmp_path, steps={"data": {"completed_utc": "2026-01-01T10:00:05Z"},
                               "summary": {"completed_utc": "2026-01-01T10:07:30Z"}})
    text = _text(render_report(tmp_path))
    assert "started 2026-01-01T10:00:00Z and finished 2026-01-01T10:07:30Z" in text
    assert "finished 2026-01-01T10:00:00Z" not in text
    _run_json(tmp_path, finished_utc="2026-01-01T10:09:00Z",
              steps={"summary": {"completed_utc": "2026-01-01T10:07:30Z"}})
    assert "and finished 2026-01-01T10:09:00Z" in _text(render_report(tmp_path))


def test_selection_per_method_csv_is_shown_once(tmp_path):
    per = pd.DataFrame({"method": ["Transit", "Microlensing"], "n": [30, 20],
                        "mean_P_naive": [0.1, 0.8], "mean_P_selection": [0.2, 0.5]})
    per.to_csv(tmp_path / "selection_per_method.csv", index=False)
    run = RunFolder(tmp_path)
    sel = {"method_split_removed": 0.5, "method_split_naive": 0.7,
           "method_split_selection": 0.3, "per_method": per.to_dict("records"),
           "reference": [], "n_binary_like_naive": 20, "n_binary_like_selection": 12,
           "n_label_changes": 8}
    part = _text(selection_part(run, sel))
    assert "selection_per_method.csv" in part and "Microlensing" in part
    assert "selection_per_method.csv" not in _other_outputs(run)


def test_sources_list_the_quarles_tables_with_their_citation(tmp_path):
    sha = "94f2a50bfaa524f68cc81418dd2eb71338f35552ee218067e77695ffaee607f7"
    record = {"inputs": {"pscomppars": {"origin": "file", "sha256": "abc", "date": "x"}},
              "config": {"feasibility": {"quarles_incl_deg": 0.0}},
              "steps": {"feasibility": {"inputs": {
                  "quarles2020/a_crit_Incl[0].txt": sha,
                  "quarles2020/a_crit_Incl[30].txt": "other"}}}}
    text = _text(sources_section(RunFolder(tmp_path), record))
    assert "quarles2020/a_crit_Incl[0].txt" in text and sha in text
    assert "Quarles et al. 2020, AJ 159, 80" in text
    assert "a_crit_Incl[30]" not in text  # the map read the 0-degree table only


def _map(sens: np.ndarray, n_draws: int = 50) -> dict:
    k = 7
    crit = np.array(["stable_triple", "stable_stype", "kl_time", "reach", "survive", "land",
                     "circularise"])
    marg = np.ones((k, 2, 2))
    marg[2] = [[0.5, 0.75], [1.0, 1.0]]  # kl_time at the map's horizon
    casc = np.ones((k, 2, 2)) * np.linspace(1, 0.2, k)[:, None, None]
    casc[6] = casc[5]  # every landed draw circularises in time
    return {"sensitivity_fraction": sens, "sensitivity_horizons_gyr": np.array([1.0, 3.0, 5.0]),
            "criteria": crit, "marginal_pass": marg, "cascade_pass": casc,
            "seed_rule_fraction": np.zeros((3, 3, 2, 2)),
            "settings_json": np.array(json.dumps({"horizon_gyr": 1.0, "n_draws": n_draws}))}


def test_identical_horizons_are_explained_with_the_map_numbers():
    same = np.tile(np.array([[0.1, 0.0], [0.02, 0.3]]), (3, 3, 1, 1))
    txt = _text(horizon_text(_map(same)))
    assert "maps for horizons of 1, 3, 5 Gyr are identical, cell by cell" in txt
    assert "circularisation removes 0% of the landed draws" in txt
    assert "those that get there do so in time" in txt
    assert f"The {fmt(100 * 0.1875, 2)}% of draws whose Kozai–Lidov timescale exceeds 1 Gyr" \
        in txt
    assert "quenches e max" in txt
    grows = same.copy()
    grows[2, :, 0, 1] = 0.05
    txt = _text(horizon_text(_map(grows)))
    assert "changes with the horizon" in txt and "identical" not in txt
    txt = _text(horizon_text(_map(np.zeros_like(same))))
    assert "identical trivially" in txt and "does not limit" not in txt


def test_stripes_are_explained_with_the_draw_quantum():
    txt = _text(stripes_text(50))
    assert "same 50 random draws" in txt and "1/50 = 2% of a cell" in txt
    assert "m out / a out ³" in txt and "--mc-draws" in txt
