"""The one check of required columns (data_io.schema.require_columns) and its users."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from vlms_bayes.data_io.schema import STACKED_FIX, require_columns
from vlms_bayes.errors import InputDataError

SRC = Path(__file__).resolve().parents[2] / "src" / "vlms_bayes"


def test_present_columns_pass_and_missing_ones_are_named_with_the_fix():
    frame = pd.DataFrame({"a": [1], "b": [2]})
    require_columns(frame, ("a", "b"), what="x.csv", fix="Add them.")
    with pytest.raises(InputDataError) as err:
        require_columns(frame, ("c", "a", "d"), what="x.csv", kind="required",
                        fix="x.csv must provide a, c, d.")
    assert str(err.value) == ("x.csv lacks the required column(s) c, d (it has a, b). "
                              "x.csv must provide a, c, d.")


def test_found_columns_can_be_left_out_for_wide_tables():
    frame = pd.DataFrame(columns=[f"col{i}" for i in range(300)])
    with pytest.raises(InputDataError) as err:
        require_columns(frame, ("pl_name",), what="ps.csv", fix=STACKED_FIX,
                        show_found=False)
    assert str(err.value) == f"ps.csv lacks the column(s) pl_name. {STACKED_FIX}"


def test_an_empty_frame_says_it_has_no_columns():
    with pytest.raises(InputDataError, match=r"\(it has no columns\)"):
        require_columns(pd.DataFrame(), ("name",), what="labels.csv", fix="Add 'name'.")


def _own_missing_column_checks(tree: ast.AST) -> list[int]:
    """Lines of ``[c for c in cols if c not in frame.columns]`` comprehensions."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ListComp) or len(node.generators) != 1:
            continue
        for cond in node.generators[0].ifs:
            if (isinstance(cond, ast.Compare) and isinstance(cond.ops[0], ast.NotIn)
                    and isinstance(cond.comparators[0], ast.Attribute)
                    and cond.comparators[0].attr == "columns"):
                lines.append(node.lineno)
    return lines


def test_require_columns_is_the_only_check_of_missing_columns():
    """Every reader and step uses data_io.schema.require_columns (issue 19)."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(SRC).as_posix()
        defines = [n.lineno for n in ast.walk(tree)
                   if isinstance(n, ast.FunctionDef) and n.name == "require_columns"]
        checks = _own_missing_column_checks(tree)
        if rel != "data_io/schema.py" and (defines or checks):
            found[rel] = defines + checks
    assert found == {}
    probe = ast.parse("missing = [c for c in need if c not in stacked.columns]")
    assert _own_missing_column_checks(probe) == [1]
