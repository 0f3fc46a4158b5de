"""Documented selection priors: the package's TOML file and users' overrides (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from vlms_bayes.errors import InputDataError
from vlms_bayes.models.selection import SelectionModel
from vlms_bayes.models.selection_priors import (
    TARGETS,
    default_selection_priors,
    load_selection_priors,
)


def _write(tmp_path, text, name="priors.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_complete_cited_and_are_the_models_defaults():
    pri = default_selection_priors()
    assert [p.key for p in pri.priors] == list(TARGETS)
    for p in pri.priors:
        assert p.low <= p.value <= p.high and p.citation, p.key
    # the dataclass defaults are the central values (one source of truth, held by a test)
    assert pri.model() == SelectionModel()
    assert set(pri.sensitivity_keys()) == {
        "rv.k_threshold", "transit.depth_threshold", "microlensing.zone_width",
        "imaging.q_min", "astrometry.alpha_threshold"}
    assert pri.source == "package default"


def test_override_with_units_and_ends_of_the_range(tmp_path):
    path = _write(tmp_path, """
[rv]
k_threshold = "200 cm/s"
baseline = "3650 d"

[microlensing.q_min]
value = 1e-4
low = 1e-5
high = 2e-4
citation = "mine"

[imaging.iwa]
value = "200 mas"
""")
    pri = load_selection_priors(path)
    assert pri.source == str(path)
    assert pri["rv.k_threshold"].value == pytest.approx(2.0)
    assert pri["rv.k_threshold"].low == default_selection_priors()["rv.k_threshold"].low
    model = pri.model()
    assert model.rv.k_threshold_ms == pytest.approx(2.0)
    assert model.rv.baseline_yr == pytest.approx(3650 / 365.25)
    assert model.microlensing.logq_min == pytest.approx(-4.0)
    assert model.imaging.iwa_arcsec == pytest.approx(0.2)
    assert pri["microlensing.q_min"].citation == "mine"
    lo = pri.model(at={"microlensing.q_min": "low", "rv.k_threshold": "high"})
    assert lo.microlensing.logq_min == pytest.approx(-5.0)
    assert lo.rv.k_threshold_ms == pytest.approx(pri["rv.k_threshold"].high)
    # untouched settings come from the base model
    base = SelectionModel(grid_step_dex=0.2)
    assert pri.model(base).grid_step_dex == 0.2
    assert np.isclose(load_selection_priors(None).model().rv.k_threshold_ms, 1.5)


@pytest.mark.parametrize(("text", "match"), [
    ('[rv]\nk_treshold = "1 m/s"\n', r"key 'rv.k_treshold'.*unknown parameter.*k_threshold"),
    ('[radial]\nk_threshold = "1 m/s"\n', r"key 'radial'.*unknown method"),
    ('[rv]\nk_threshold = "fast"\n', r"key 'rv.k_threshold'.*cannot read 'fast'"),
    ('[rv]\nk_threshold = [1, 2]\n', r"key 'rv.k_threshold'.*is not a number"),
    ('[rv]\nk_threshold = 1.5\n', r"key 'rv.k_threshold'.*has no unit"),
    ('[rv]\nk_threshold = "1.5 km"\n', r"key 'rv.k_threshold'.*does not convert to m/s"),
    ('[imaging]\nq_min = "0.01 m"\n', r"key 'imaging.q_min'.*does not convert"),
    ('[rv.baseline]\nlow = "10 yr"\nhigh = "5 yr"\n', r"key 'rv.baseline'.*low .* above high"),
    ('[rv]\nk_threshold = "9 m/s"\n', r"key 'rv.k_threshold'.*outside its plausible range"),
    ('[rv.k_floor]\nvalue = "1 m/s"\nspread = 2\n', r"key 'rv.k_floor'.*unknown field"),
    ('[transit]\ndepth_threshold = -1e-3\n', r"transit.depth_threshold"),
    ('[rv.k_threshold]\nsensitivity = "yes"\n', r"rv.k_threshold.sensitivity"),
    ('rv = 3\n', r"key 'rv'.*expected a table"),
    ('[rv\n', r"not valid TOML"),
])
def test_bad_files_name_the_key_and_the_file(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(InputDataError, match=match) as err:
        load_selection_priors(path)
    assert str(path) in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputDataError, match="does not exist"):
        load_selection_priors(tmp_path / "nope.toml")


@pytest.mark.parametrize("command", ["fit", "run", "robustness"])
def test_cli_option_reports_a_bad_file_without_writing(tmp_path, capsys, command):
    from vlms_bayes.cli import main

    bad = _write(tmp_path, '[microlensing]\nzone_width = "0.2 parsec"\n')
    out = tmp_path / "out"
    rc = main([command, "--selection-priors", str(bad), "--outdir", str(out)])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2
    assert "microlensing.zone_width" in err and str(bad) in err and "parsec" in err
    assert "Traceback" not in err and not out.exists()


def test_cli_option_sets_the_fit_configs_selection(tmp_path):
    from vlms_bayes.cli import build_parser, fit_config_from_args

    good = _write(tmp_path, '[rv]\nk_threshold = "2.5 m/s"\n')
    args = build_parser().parse_args(["fit", "--selection-priors", str(good)])
    sel = fit_config_from_args(args).selection
    assert sel.rv.k_threshold_ms == pytest.approx(2.5) and sel.priors_file == str(good)
    default = fit_config_from_args(build_parser().parse_args(["fit"])).selection
    assert default == SelectionModel()
    naive = build_parser().parse_args(["fit", "--selection", "none", "--selection-priors",
                                       str(good)])
    with pytest.raises(InputDataError, match="--selection-priors"):
        fit_config_from_args(naive)


def test_docs_show_the_shipped_priors_file():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shipped = (root / "src" / "vlms_bayes" / "models" / "selection_priors.toml").read_text()
    docs = (root / "docs" / "selection.md").read_text()
    assert f"```toml\n{shipped}```" in docs
