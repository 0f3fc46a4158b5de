"""docs/bayes.md and models/data.py say what the code does (selection, error floors)."""

import re
from pathlib import Path

from vlms_bayes.inference.fit import FitConfig
from vlms_bayes.models import data as model_data
from vlms_bayes.models.data import MeasurementConfig

DOCS = Path(__file__).resolve().parents[1] / "docs" / "bayes.md"


def test_selection_is_described_as_the_default():
    text = DOCS.read_text(encoding="utf-8")
    assert FitConfig().selection is not None
    assert "not modelled" not in text
    assert "Selection effects are modelled by default" in text


def test_error_floors_in_docs_and_docstring_match_the_code():
    m = MeasurementConfig()
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    assert f"floored at {m.logq_err_floor:g} dex (log q) and {m.loga_err_floor:g} dex" in text
    assert f"σ_e floored at {m.e_err_floor:g}" in text
    doc = " ".join(model_data.__doc__.split())
    assert f"floor (default {m.logq_err_floor:g} dex in log q, {m.loga_err_floor:g} dex" in doc
    e_bullet = doc[doc.index("Eccentricities:"):]
    floors = [float(x) for x in re.findall(r"floor(?:ed at ``e_err_floor`` =)? (0\.\d+)",
                                           e_bullet)]
    assert floors == [m.e_err_floor]


def test_msini_quadrature_is_described_as_implemented():
    from vlms_bayes.models.likelihood import INCL_HALF_WIDTH, N_INCL_NODES

    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    assert f"uses {N_INCL_NODES} Gauss–Legendre nodes in √u" in text
    assert f"± {INCL_HALF_WIDTH:g} conditional standard deviations" in text
