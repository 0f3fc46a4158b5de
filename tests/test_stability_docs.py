"""The Python examples of docs/stability.md run and print what the page says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from vlms_bayes.data_io.quarles import table_file_name

DOC = Path(__file__).resolve().parents[1] / "docs" / "stability.md"


def test_doc_examples_run(registered_file, monkeypatch, capsys):
    folder = registered_file(table_file_name(0)).parent.parent
    monkeypatch.setenv("VLMS_BAYES_DATA_DIR", str(folder))
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2
    ns: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), ns)
    assert capsys.readouterr().out.strip() == "2.773 AU"
    assert ns["hw99"] == pytest.approx(0.274)
    assert np.asarray(ns["flags"]).tolist() == [True, False]
