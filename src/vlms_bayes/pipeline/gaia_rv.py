"""The ``vlms-bayes gaia-rv`` commands as Python functions: fit-noise, score, completeness.

Each function reads its inputs, calls the science modules, and writes its outputs into
``outdir`` through :class:`~vlms_bayes.data_io.outputs.StagedOutputDir` (all or nothing),
with a provenance record ``run_<command>.json``. Output file names:

- fit-noise: ``noise_model.npz`` (format in :meth:`NoiseModel.save`), ``noise_bins.csv``,
  ``fig_noise_model.png``;
- score: ``gaia_rv_catalogue.parquet/`` (partitioned dataset), ``gaia_rv_catalogue.csv``,
  ``score_summary.json``, ``fig_pvalues.png``;
- completeness: ``completeness_sims_<mode>.parquet``, ``completeness_maps.npz``,
  ``completeness_summary.json``, ``fig_completeness_<mode>.png``, ``fig_k_recovery.png``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vlms_bayes.data_io.files import sha256_of
from vlms_bayes.data_io.gaia import (
    DR2_BASELINE_DAYS,
    DR3_BASELINE_DAYS,
    REQUIRED_COLUMNS,
    resolve_inputs,
)
from vlms_bayes.data_io.outputs import (
    StagedOutputDir,
    run_record,
    save_figure,
    write_csv,
    write_json,
)
from vlms_bayes.errors import InputDataError
from vlms_bayes.inference.rv import detectability as det
from vlms_bayes.inference.rv.catalogue import (
    ScoreConfig,
    dataset_files,
    parquet_to_csv,
    read_columns,
    resolve_gp_method,
    score_catalogue,
)
from vlms_bayes.inference.rv.detectability import completeness_map
from vlms_bayes.inference.rv.semiamplitude import infer_semiamplitudes
from vlms_bayes.models.rv_noise.io import load_noise_model
from vlms_bayes.models.rv_noise.model import NoiseGridConfig, fit_noise_model
from vlms_bayes.models.rv_noise.split import fit_split_noise_model
from vlms_bayes.pipeline.result import CommandResult
from vlms_bayes.plots.gaia_rv import (
    plot_completeness,
    plot_k_recovery,
    plot_noise_model,
    plot_pvalue_distribution,
)

NOISE_MODEL_FILE = "noise_model.npz"
CATALOGUE_DIR = "gaia_rv_catalogue.parquet"
CATALOGUE_CSV = "gaia_rv_catalogue.csv"

Inputs = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _inputs_record(inputs: Inputs) -> dict[str, Any]:
    files = resolve_inputs(inputs)
    return {"files": [str(f) for f in files[:50]], "n_files": len(files),
            "sha256_first_file": sha256_of(files[0])}


def run_fit_noise(inputs: Inputs, outdir: str | os.PathLike[str], *,
                  config: NoiseGridConfig | None = None, scheduler: Any = "threads",
                  figures: bool = True, progress: bool = False) -> CommandResult:
    """Fit the per-bin noise model and its GP on a catalogue and save it in ``outdir``."""
    config = config or NoiseGridConfig()
    t0 = time.perf_counter()
    extra_cols = ("rv_method_used",) if config.split_method else ()
    cols = read_columns(inputs, (*REQUIRED_COLUMNS, *extra_cols), scheduler=scheduler)
    t_read = time.perf_counter() - t0
    args = (cols["phot_g_mean_mag"], cols["bp_rp"], cols["radial_velocity_error"],
            cols["rv_nb_transits"])
    if config.split_method:

        if "rv_method_used" not in cols:
            raise InputDataError("--split-method needs the Gaia DR3 rv_method_used column, "
                                 "which the input lacks.")
        model = fit_split_noise_model(*args, cols["rv_method_used"], config=config,
                                      progress=progress, meta={"n_rows": len(cols)})
        parts = [(f"_method{k}", k, m) for k, m in model.models.items()]
    else:
        model = fit_noise_model(*args, config=config, progress=progress,
                                meta={"n_rows": len(cols)})
        parts = [("", None, model)]
    t_fit = time.perf_counter() - t0 - t_read
    tables = []
    valid_total = n_bins = 0
    for _, k, sub in parts:
        y, e, valid = sub.bin_stats()
        gg, cc = np.meshgrid(sub.mag_centres, sub.color_centres, indexing="ij")
        grid_mu, grid_sd, _ = sub.predict(cc, gg)
        tab = pd.DataFrame({
            "mag_row": np.repeat(np.arange(config.num_mag), config.num_color),
            "color_col": np.tile(np.arange(config.num_color), config.num_mag),
            "g_centre": gg.ravel(), "bp_rp_centre": cc.ravel(), "count": sub.counts.ravel(),
            "valid": valid.ravel(), "mean_ln_sigma": y.ravel(), "std_ln_sigma": e.ravel(),
            "sigma_kms": np.exp(y.ravel()), "gp_ln_sigma": grid_mu.ravel(),
            "gp_ln_sigma_err": grid_sd.ravel()})
        if k is not None:
            tab.insert(0, "rv_method_used", k)
        tables.append(tab)
        valid_total += int(valid.sum())
        n_bins += int(valid.size)
    bins = pd.concat(tables, ignore_index=True)
    nll = {f"method{k}": sub.meta["gp_nll"] for _, k, sub in parts} if config.split_method \
        else model.meta["gp_nll"]
    theta = {f"method{k}": sub.theta for _, k, sub in parts} if config.split_method \
        else model.theta
    with StagedOutputDir(outdir) as stage:
        model.save(stage / NOISE_MODEL_FILE)
        write_csv(stage / "noise_bins.csv", bins)
        if figures:

            for suffix, _, sub in parts:
                y, _, _ = sub.bin_stats()
                gg, cc = np.meshgrid(sub.mag_centres, sub.color_centres, indexing="ij")
                save_figure(stage / f"fig_noise_model{suffix}.png", plot_noise_model(
                    config.color_edges, config.mag_edges, y, sub.predict(cc, gg)[0],
                    sub.counts))
        write_json(stage / "run_fit_noise.json", run_record(
            command="gaia-rv fit-noise", config=asdict(config), seeds={"subsets": config.seed},
            inputs=_inputs_record(inputs), timings_s={"read": t_read, "fit": t_fit},
            extra={"gp_theta": theta, "gp_nll": nll}))
    summary = {"n_rows": len(cols), "n_valid_bins": valid_total, "n_bins": n_bins,
               "gp_nll": nll}
    split = " (per rv_method_used)" if config.split_method else ""
    report = (f"Noise model{split} fitted on {len(cols)} sources: {valid_total}/{n_bins} "
              f"bins calibrated; saved to {Path(outdir) / NOISE_MODEL_FILE}.")
    return CommandResult(Path(outdir), report, summary)


def run_score(inputs: Inputs, outdir: str | os.PathLike[str], *,
              noise_model: str | os.PathLike[str] | None = None,
              config: ScoreConfig | None = None,
              scheduler: Any = "threads", csv: bool = True, figures: bool = True,
              progress: bool = False) -> CommandResult:
    """Score a catalogue (p-values, K percentiles) into ``outdir`` with Dask.

    ``noise_model`` defaults to the model just fitted in ``outdir``.
    """
    config = config or ScoreConfig()
    path = Path(noise_model) if noise_model else Path(outdir) / NOISE_MODEL_FILE
    if not path.is_file():
        raise InputDataError(f"No noise model at {path}. Run `vlms-bayes gaia-rv fit-noise "
                             "--outdir DIR` first or pass --noise-model FILE.")
    model = load_noise_model(path)
    config = resolve_gp_method(config, inputs)
    t0 = time.perf_counter()
    with StagedOutputDir(outdir) as stage:
        summary = score_catalogue(inputs, stage / CATALOGUE_DIR, noise_model=model,
                                  config=config, scheduler=scheduler, progress=progress)
        t_score = time.perf_counter() - t0
        if csv:
            parquet_to_csv(stage / CATALOGUE_DIR, stage / CATALOGUE_CSV)
        if figures:
            pv = np.concatenate([pq.read_table(f, columns=["rv_pval"]).column(0).to_numpy()
                                 for f in dataset_files(stage / CATALOGUE_DIR)])
            save_figure(stage / "fig_pvalues.png", plot_pvalue_distribution(pv))
        n = max(summary["n_scored"], 1)
        summary["fraction_detected"] = summary["n_detected_p_lt_0.001"] / n
        summary["fraction_candidates"] = summary["n_candidates_p_lt_0.01"] / n
        write_json(stage / "score_summary.json", summary)
        write_json(stage / "run_score.json", run_record(
            command="gaia-rv score", config={**asdict(config), "noise_model": str(path)},
            seeds={"prior": config.seed, "pvalue_z": 55}, inputs=_inputs_record(inputs),
            timings_s={"score": t_score, "total": time.perf_counter() - t0}))
        old = Path(outdir) / CATALOGUE_DIR
        if old.is_dir():  # replace the whole dataset: no stale partitions survive
            shutil.rmtree(old)
    report = (f"Scored {summary['n_scored']} of {summary['n_sources']} sources: "
              f"{summary['n_detected_p_lt_0.001']} ({100 * summary['fraction_detected']:.1f}%) "
              f"with p < 0.001, {summary['n_candidates_p_lt_0.01']} candidates (p < 0.01), "
              f"K inferred for {summary['n_k_inferred']}, {summary['n_out_of_grid']} outside "
              f"the noise-model grid. Catalogue: {Path(outdir) / CATALOGUE_DIR}.")
    return CommandResult(Path(outdir), report, summary)


def _maps(sims: pd.DataFrame, *, mode: str, mag_slices: Sequence[float]) -> dict[str, Any]:

    det = sims["detected"].to_numpy()
    lk = np.log10(sims["sim_semiamp"].to_numpy())
    out: dict[str, Any] = {}
    lsig = np.log10(np.exp(sims["rv_ln_uncert"].to_numpy()))
    panels = {
        "k_sigma": (lk, lsig, np.linspace(lk.min(), lk.max(), 16),
                    np.linspace(lsig.min(), lsig.max(), 13), "log10 K [km/s]",
                    "log10 σ [km/s]"),
    }
    nn = sims["rv_nb_transits"].to_numpy(float)
    keep = (nn >= 2) & (nn <= 80)
    ln_n = np.log10(np.clip(nn, 2, 80))
    panels["k_n"] = (lk[keep], ln_n[keep], np.linspace(lk.min(), lk.max(), 16),
                     np.linspace(np.log10(2), np.log10(80), 13), "log10 K [km/s]",
                     "log10 N transits")
    if mode == "paper":
        la, lq = np.log10(sims["sim_a_au"].to_numpy()), np.log10(sims["sim_q"].to_numpy())
        panels = {"a_q": (la, lq, np.linspace(-2, 3, 26), np.linspace(-4, 0, 21),
                          "log10 a [AU]", "log10 q"), **panels}
    for name, (x, y, xe, ye, xl, yl) in panels.items():
        d = det if x.size == det.size else det[keep]
        frac, total = completeness_map(x, y, d, x_edges=xe, y_edges=ye)
        out[name] = {"fraction": frac, "total": total, "x_edges": xe, "y_edges": ye,
                     "x_label": xl, "y_label": yl}
    if mode == "paper":
        g = sims["phot_g_mean_mag"].to_numpy()
        for gc in mag_slices:
            sel = np.abs(g - gc) <= 0.5
            if sel.sum() == 0:
                continue
            xe, ye = out["a_q"]["x_edges"], out["a_q"]["y_edges"]
            frac, total = completeness_map(la[sel], lq[sel], det[sel], x_edges=xe, y_edges=ye)
            out[f"a_q_G{gc:g}"] = {"fraction": frac, "total": total, "x_edges": xe,
                                  "y_edges": ye, "x_label": "log10 a [AU]",
                                  "y_label": "log10 q"}
    return out


def run_completeness(outdir: str | os.PathLike[str], *, inputs: Inputs | None = None,
                     modes: Sequence[str] = ("code", "paper"), n_sims: int = 100_000,
                     seed: int = 948302, angle_bug: bool = False, m1_msun: float = 1.0,
                     k_sims: int = 2000, k_samples: int = 5000,
                     mag_slices: Sequence[float] = (6, 8, 10, 12, 14),
                     k_sigma_factor: float | None = None,
                     figures: bool = True, progress: bool = False) -> CommandResult:
    """Injection–recovery simulations and completeness maps from a scored catalogue.

    ``inputs`` defaults to the catalogue scored in ``outdir``; it must carry the score
    columns (``rv_ln_uncert`` …) for the paper mode. ``k_sigma_factor`` (e.g. 1.5) repeats
    the K recovery of the paper's Fig. 4 (bottom) with the σ estimate degraded: the
    inference assumes s_lnσ = ln(factor) instead of the simulated 0.05.
    """
    if k_sigma_factor is not None and not k_sigma_factor > 1.0:
        raise InputDataError(f"k_sigma_factor = {k_sigma_factor} must be > 1 (e.g. 1.5 for a "
                             "50% uncertain sigma).")
    bad = [m for m in modes if m not in ("code", "paper")]
    if bad:
        raise InputDataError(f"Unknown simulation mode(s) {bad}; choose 'code' and/or 'paper'.")
    src = inputs if inputs is not None else Path(outdir) / CATALOGUE_DIR
    if inputs is None and not Path(src).is_dir():
        raise InputDataError(f"No scored catalogue at {src}. Run `vlms-bayes gaia-rv score` "
                             "first or pass --input with a scored catalogue.")
    want = ["radial_velocity_error", "rv_nb_transits", "rv_time_duration", "rv_ln_uncert",
            "rv_ln_uncert_err", "phot_g_mean_mag"]
    cat = read_columns(src, [*want, "source_id", "bp_rp"])
    eps_max = float(np.nanmax(cat["radial_velocity_error"].to_numpy(float)))
    model_path = Path(outdir) / NOISE_MODEL_FILE
    floor = load_noise_model(model_path).config.rv_floor_kms if model_path.is_file() else 0.11
    dt = (cat["rv_time_duration"].to_numpy(float) if "rv_time_duration" in cat
          else np.full(len(cat), np.nan))
    dr2 = cat["gaia_dr2"].to_numpy(bool) if "gaia_dr2" in cat else np.zeros(len(cat), bool)
    dt = np.where(np.isfinite(dt), dt, np.where(dr2, DR2_BASELINE_DAYS, DR3_BASELINE_DAYS))
    summary: dict[str, Any] = {"eps_cull_kms": eps_max}
    t0 = time.perf_counter()
    with StagedOutputDir(outdir) as stage:
        all_maps: dict[str, Any] = {}
        for mode in modes:
            if mode == "code":
                sims = det.simulate_code_mode(n_sims, n_transits_pool=cat["rv_nb_transits"],
                                              dt_pool_days=dt, seed=seed, eps_cull_kms=eps_max,
                                              rv_floor_kms=floor, angle_bug=angle_bug)
            else:
                if "rv_ln_uncert" not in cat:
                    raise InputDataError("Paper-mode simulations need a scored catalogue "
                                         "(rv_ln_uncert); run `gaia-rv score` first.")
                sims = det.simulate_paper_mode(n_sims, catalogue=cat, seed=seed,
                                               m1_msun=m1_msun, eps_cull_kms=eps_max,
                                               rv_floor_kms=floor)
            maps = _maps(sims, mode=mode, mag_slices=mag_slices)
            all_maps.update({f"{mode}_{k}": v for k, v in maps.items()})
            summary[mode] = {"n_sims": n_sims, "fraction_detected": float(sims.detected.mean())}
            if mode == "code" and k_sims > 0:
                cand = np.flatnonzero(sims["rv_pval"].to_numpy() < 0.01)[:k_sims]
                s_ln = sims["rv_ln_uncert_err"].to_numpy()[cand]
                if k_sigma_factor is not None:  # paper Fig. 4 bottom: degraded sigma
                    s_ln = np.full(cand.size, np.log(k_sigma_factor))
                res = infer_semiamplitudes(
                    sims["radial_velocity_error"].to_numpy()[cand],
                    sims["rv_nb_transits"].to_numpy()[cand],
                    sims["rv_time_duration"].to_numpy()[cand],
                    sims["rv_ln_uncert"].to_numpy()[cand], s_ln, n_samples=k_samples,
                    rv_floor_kms=floor, progress=progress)
                for c, v in res.items():
                    sims[c] = np.nan
                    sims.loc[sims.index[cand], c] = v
                k = sims["sim_semiamp"].to_numpy()[cand]
                inside = (res["rv_semiamp_p16"] <= k) & (k <= res["rv_semiamp_p84"])
                summary[mode]["k_inferred"] = int(cand.size)
                summary[mode]["k_coverage_16_84"] = float(np.mean(inside)) if cand.size else None
                summary[mode]["k_sigma_factor"] = k_sigma_factor
                if figures and cand.size:

                    save_figure(stage / "fig_k_recovery.png", plot_k_recovery(
                        k, res["rv_semiamp_p16"], res["rv_semiamp_p50"],
                        res["rv_semiamp_p84"], sims["sim_ecc"].to_numpy()[cand]))
            sims.to_parquet(stage / f"completeness_sims_{mode}.parquet", index=False)
            if figures:

                main = [maps[k] for k in ("a_q", "k_sigma", "k_n") if k in maps]
                slices = {k.replace("a_q_", ""): v for k, v in maps.items()
                          if k.startswith("a_q_G")}
                save_figure(stage / f"fig_completeness_{mode}.png",
                            plot_completeness(main, contours=slices))
        np.savez_compressed(stage / "completeness_maps.npz", **{
            f"{name}__{key}": np.asarray(val) for name, m in all_maps.items()
            for key, val in m.items() if key in ("fraction", "total", "x_edges", "y_edges")})
        write_json(stage / "completeness_summary.json", summary)
        write_json(stage / "run_completeness.json", run_record(
            command="gaia-rv completeness",
            config={"modes": list(modes), "n_sims": n_sims, "angle_bug": angle_bug,
                    "m1_msun": m1_msun, "k_sims": k_sims, "k_samples": k_samples,
                    "mag_slices": list(mag_slices), "k_sigma_factor": k_sigma_factor,
                    "input": str(src)},
            seeds={"simulations": seed, "prior": 0},
            timings_s={"total": time.perf_counter() - t0}))
    parts = [f"{m}: {100 * summary[m]['fraction_detected']:.1f}% of {n_sims} recovered"
             for m in modes]
    return CommandResult(Path(outdir), "Injection–recovery " + "; ".join(parts) + ".", summary)
