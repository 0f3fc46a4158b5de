"""End-to-end: the commands on the real snapshot into a temporary folder, every output checked
against the files it comes from."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from vlms_bayes.cli import main
from vlms_bayes.data_io.files import sha256_of
from vlms_bayes.data_io.schema import STACKED_COLUMNS, complete_case
from vlms_bayes.seeds import derive_seed

BASELINE_FILES = {"vlms_companions_stacked.csv", "gmm_summary.json", "beta_e_params.csv",
                  "ks_test_e.txt", "logistic_summary.json", "logistic_coefficients.csv",
                  "logistic_auroc.txt", "objects_with_probs.csv", "run.json"}
RUN_FILES = BASELINE_FILES | {"fig1_massmass.png", "fig2_ae.png", "SUMMARY.txt"}


@pytest.fixture(scope="module")
def run_dir(ps_snapshot, shared_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "results"
    rc = main(["-q", "run", "--ps", str(ps_snapshot), "--data-dir", str(shared_data_dir),
               "--outdir", str(out), "--seed", "7", "--n-boot", "100",
               "--skip-feasibility", "--no-fit"])
    assert rc == 0
    return out


def test_every_output_exists(run_dir):
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}
    for name in ("fig1_massmass.png", "fig2_ae.png"):
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stacked_csv_roundtrip(run_dir):
    st = pd.read_csv(run_dir / "vlms_companions_stacked.csv")
    assert list(st.columns) == list(STACKED_COLUMNS)
    assert st.in_window.sum() == 130 and st.is_reference.sum() == 1
    assert not st.name.duplicated().any()


def test_gmm_summary_consistent(run_dir):
    st = pd.read_csv(run_dir / "vlms_companions_stacked.csv")
    g = json.loads((run_dir / "gmm_summary.json").read_text())
    # the mixture does not use e: every in-window row with log q and log a, not the 56 of
    # the complete-case view
    in_win = st[st.in_window & st.logq.notna() & st.loga.notna()]
    assert g["n"] == len(in_win) == 129 > len(complete_case(st))
    assert g["rows"] == "all" and "log q and log a" in g["rows_description"]
    assert g["ks_compared"] == [1, 2, 3]
    bic = {int(k): v for k, v in g["bic"].items()
           if v is not None and int(k) not in g["degenerate"]}
    assert g["winner"] == min(bic, key=bic.get)
    assert g["winner_1_vs_2"] == min((1, 2), key=bic.get)
    assert g["delta_bic_1_minus_2"] == pytest.approx(bic[1] - bic[2])
    for k, model in g["models"].items():
        assert np.isclose(sum(model["weights"]), 1.0)
        assert len(model["means"]) == int(k)


def test_beta_and_ks_counts_match_data(run_dir):
    st = complete_case(pd.read_csv(run_dir / "vlms_companions_stacked.csv"))
    beta = pd.read_csv(run_dir / "beta_e_params.csv").set_index("subset")
    used = st[st.ecc_status == "measured"]
    # the fitted mean is alpha/(alpha+beta); the sample mean is named as such
    assert "mean_e" not in beta.columns
    np.testing.assert_allclose(beta.mean_e_beta, beta.alpha / (beta.alpha + beta.beta),
                               rtol=1e-5)
    assert beta.loc["high_q", "sample_mean_e"] == pytest.approx(
        used.pl_orbeccen[used.q >= 0.01].mean(), rel=1e-5)
    assert (beta.mean_e_beta_p5 <= beta.mean_e_beta).all()
    assert (beta.mean_e_beta <= beta.mean_e_beta_p95).all()
    assert beta.loc["low_q", "n"] == (used.q < 0.01).sum()
    assert beta.loc["high_q", "n"] == (used.q >= 0.01).sum()
    assert beta.loc["low_q", "n_excluded_fixed"] == ((st.ecc_status == "fixed_zero")
                                                     & (st.q < 0.01)).sum()
    ks = (run_dir / "ks_test_e.txt").read_text()
    assert f"n_low = {beta.loc['low_q', 'n']}" in ks
    assert f"n_high = {beta.loc['high_q', 'n']}" in ks
    from scipy.stats import ks_2samp

    res = ks_2samp(used.pl_orbeccen[used.q < 0.01], used.pl_orbeccen[used.q >= 0.01])
    d = float(re.search(r"statistic D = ([0-9.eE+-]+)", ks).group(1))
    assert d == pytest.approx(res.statistic, rel=1e-5)


def test_objects_with_probs(run_dir):
    obj = pd.read_csv(run_dir / "objects_with_probs.csv")
    assert len(obj) == 131
    toi = obj[obj.name == "TOI-6894 b"].iloc[0]
    assert 0.0 <= toi.P_binary_like_logistic <= 1.0
    assert not toi.in_window
    bd = obj[obj.source == "BDcat"]
    assert bd.P_binary_like_logistic.notna().all()  # BD rows lack [Fe/H] but are scored
    lg = json.loads((run_dir / "logistic_summary.json").read_text())
    assert "circular" in lg["warning"]


def test_run_json_and_summary(run_dir, ps_snapshot):
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["inputs"]["pscomppars"]["sha256"] == sha256_of(ps_snapshot)
    assert rec["inputs"]["bd_catalogue"]["sha256"].startswith("7372d439")
    assert rec["seeds"]["master"] == 7 and rec["config"]["baseline"]["n_boot"] == 100
    assert rec["seeds"]["baseline"] == derive_seed(7, "baselines") != 7
    assert set(rec["timings_s"]) >= {"data", "baselines", "figures"}
    summary = (run_dir / "SUMMARY.txt").read_text()
    g = json.loads((run_dir / "gmm_summary.json").read_text())
    assert f"preferred K = {g['winner']}" in summary
    assert sha256_of(ps_snapshot) in summary
    assert "date 2025-08-07" in summary  # snapshot date from the file name
    # the per-method make-up of the K = 2 components adds up to the GMM sample
    comp_lines = [ln for ln in summary.splitlines() if "K=2 component with" in ln]
    assert len(comp_lines) == 2
    assert sum(int(n) for ln in comp_lines for n in re.findall(r" (\d+)(?:,|$)", ln)) == g["n"]
    lg = json.loads((run_dir / "logistic_summary.json").read_text())
    toi = pd.read_csv(run_dir / "objects_with_probs.csv").query("is_reference").iloc[0]
    assert f"{toi.P_binary_like_logistic:.3g}" in summary
    if lg["auroc_mean"] is not None:
        assert f"{lg['auroc_mean']:.3f}" in summary


def test_original_fixed_e_option_changes_the_fit(ps_snapshot, shared_data_dir, tmp_path):
    outs = {}
    for mode in ("exclude", "measured"):
        out = tmp_path / mode
        assert main(["-q", "baseline", "--ps", str(ps_snapshot), "--data-dir",
                     str(shared_data_dir), "--outdir", str(out), "--fixed-e", mode,
                     "--n-boot", "20"]) == 0
        outs[mode] = pd.read_csv(out / "beta_e_params.csv").set_index("subset")
    # assumed zeros counted as measured pile up at e = 0 and pull alpha down
    assert outs["measured"].loc["low_q", "n"] > outs["exclude"].loc["low_q", "n"]
    assert outs["measured"].loc["low_q", "alpha"] < outs["exclude"].loc["low_q", "alpha"]
