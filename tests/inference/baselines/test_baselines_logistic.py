import numpy as np
import pandas as pd
import pytest

from vlms_bayes.data_io.schema import complete_case
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.baselines import (
    build_features,
    fit_logistic,
    heuristic_labels,
    labels_from_file,
)
from vlms_bayes.inference.baselines.synthetic import synthetic_stacked


@pytest.fixture(scope="module")
def stacked():
    return synthetic_stacked(200, seed=31)


@pytest.fixture(scope="module")
def methods(stacked):
    return sorted(stacked["discoverymethod"].unique())


def test_build_features_keeps_every_row(stacked):
    f = build_features(stacked)
    assert len(f) == len(stacked) and (f.index == stacked.index).all()
    not_meas = stacked["ecc_status"] != "measured"
    assert f.loc[not_meas, "e"].isna().all() and (f.loc[not_meas, "e_unmeasured"] == 1).all()
    assert (f["feh_missing"] == stacked["st_metfe"].isna()).all()
    dummies = f.filter(like="method_")
    assert (dummies.sum(axis=1) == 1).all()
    assert "method_radial_velocity" in dummies
    ref = stacked["is_reference"].to_numpy()
    assert f.loc[ref, ["logq", "loga", "log_mstar"]].notna().all(axis=None)


def test_heuristic_labels():
    f = pd.DataFrame({"q": [0.001, 0.01, 0.2]})
    np.testing.assert_array_equal(heuristic_labels(f, q_split=0.01), [0, 1, 1])
    with pytest.raises(InputDataError, match="no q"):
        heuristic_labels(pd.DataFrame({"q": [np.nan]}))


def test_fit_with_true_labels_scores_everything(stacked, methods):
    cc = complete_case(stacked)
    res = fit_logistic(build_features(cc, methods=methods), cc["truth_binary"].to_numpy(),
                       seed=0, label_source="file truth.csv, column label")
    assert res.auroc_mean > 0.9 and np.isfinite(res.auroc_sd) and len(res.auroc_folds) == 5
    assert res.warning == ""
    p = res.predict_proba(build_features(stacked, methods=methods))
    assert np.isfinite(p).all()  # BD rows, missing [Fe/H], fixed e, the reference: all scored
    ref = stacked["is_reference"].to_numpy()
    assert p[ref][0] < 0.2
    truth = stacked["truth_binary"].to_numpy()
    assert np.mean((p > 0.5) == truth) > 0.9


def test_original_unit_coefficients_reproduce_probabilities(stacked, methods):
    cc = complete_case(stacked)
    feats = build_features(cc, methods=methods)
    res = fit_logistic(feats, heuristic_labels(cc), seed=1, C=0.5)
    coef = res.coefficients.set_index("feature")
    imputer = res._pipeline.named_steps["simpleimputer"]
    x = pd.DataFrame(imputer.transform(feats), columns=feats.columns)
    z = x.to_numpy() @ coef.loc[list(feats.columns), "coef_original"].to_numpy()
    z += coef.loc["(intercept)", "coef_original"]
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), res.predict_proba(feats), rtol=1e-9)


def test_heuristic_labels_are_flagged_circular(stacked, methods):
    cc = complete_case(stacked)
    res = fit_logistic(build_features(cc, methods=methods), heuristic_labels(cc), seed=0)
    s = res.summary()
    assert s["label_source"] == "heuristic" and "circular" in s["warning"]
    assert res.auroc_mean > 0.97  # learns its own q cut: AUROC near 1 by construction
    assert "labels: heuristic" in res.auroc_text()


def test_negative_control_random_labels(stacked, methods):
    cc = complete_case(stacked)
    y = np.random.default_rng(0).integers(0, 2, len(cc))
    res = fit_logistic(build_features(cc, methods=methods), y, seed=0, label_source="random")
    assert abs(res.auroc_mean - 0.5) < 0.15


def test_too_few_in_a_class_gives_nan_auroc(stacked, methods):
    cc = complete_case(stacked)
    y = np.zeros(len(cc))
    y[:2] = 1
    res = fit_logistic(build_features(cc, methods=methods), y, seed=0)
    assert np.isnan(res.auroc_mean) and "fewer than n_splits = 5" in res.auroc_reason
    assert np.isfinite(res.predict_proba(build_features(cc, methods=methods))).all()
    one = fit_logistic(build_features(cc, methods=methods), np.zeros(len(cc)), seed=0)
    assert "both classes" in one.fit_reason
    assert np.isnan(one.predict_proba(build_features(cc, methods=methods))).all()
    assert "nan" in one.auroc_text()


def test_unlabelled_rows_are_left_out(stacked, methods):
    cc = complete_case(stacked)
    y = cc["truth_binary"].to_numpy(float)
    y[::3] = np.nan
    res = fit_logistic(build_features(cc, methods=methods), y, seed=0, label_source="partial")
    assert res.n_train == int(np.isfinite(y).sum())


def test_unseen_method_is_an_error(stacked):
    cc = complete_case(stacked)
    train = cc[cc["discoverymethod"] != "Microlensing"]
    res = fit_logistic(build_features(train), train["truth_binary"].to_numpy(), seed=0,
                       label_source="t")
    with pytest.raises(InputDataError, match="method_microlensing"):
        res.predict_proba(build_features(cc))


def test_labels_from_file(tmp_path, stacked):
    cc = complete_case(stacked).iloc[:6]
    good = tmp_path / "labels.csv"
    pd.DataFrame({"name": [n.upper() + " " for n in cc["name"]],
                  "origin": [0, 1, 0, 1, 1, 0]}).to_csv(good, index=False)
    np.testing.assert_array_equal(labels_from_file(cc, good, column="origin"),
                                  [0, 1, 0, 1, 1, 0])
    with pytest.raises(InputDataError, match="lacks the column"):
        labels_from_file(cc, good, column="label")
    part = tmp_path / "part.csv"
    pd.DataFrame({"name": cc["name"][:4], "label": [0, 1, 0, 1]}).to_csv(part, index=False)
    with pytest.raises(InputDataError, match="no label for 2 of 6"):
        labels_from_file(cc, part)
    lab = labels_from_file(cc, part, allow_missing=True)
    assert np.isnan(lab[4:]).all() and (lab[:4] == [0, 1, 0, 1]).all()
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"name": cc["name"], "label": [0, 1, 2, 1, "yes", 0]}).to_csv(bad, index=False)
    with pytest.raises(InputDataError, match="only 0 or 1"):
        labels_from_file(cc, bad)
    dup = tmp_path / "dup.csv"
    pd.DataFrame({"name": [*cc["name"], cc["name"].iloc[0]], "label": [0] * 7}).to_csv(dup)
    with pytest.raises(InputDataError, match="more than once"):
        labels_from_file(cc, dup)
    with pytest.raises(InputDataError, match="does not exist"):
        labels_from_file(cc, tmp_path / "none.csv")


def test_summary_is_strict_json(stacked, methods):
    import json

    cc = complete_case(stacked)
    for y in (heuristic_labels(cc), np.zeros(len(cc))):
        s = fit_logistic(build_features(cc, methods=methods), y, seed=0).summary()
        text = json.dumps(s, allow_nan=False)
        assert '"label_source": "heuristic"' in text
