"""Run the feasibility study into a folder: map, sensitivity, disk band, figures, numbers.

:func:`run_feasibility` is the Python API of ``vlms-bayes feasibility`` (and the step that
``vlms-bayes run`` calls): it writes ``feasibility_map.npz``, ``fig3_feasibility.png``,
``feasibility_sensitivity.csv`` + ``fig_feasibility_sensitivity.png`` and
``disk_migration.csv`` + ``fig_disk_migration.png`` into a folder that the caller has
staged, and returns a :class:`FeasibilityResult` with the headline numbers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.data_io.companions import read_companions_csv, read_host_multiplicity
from vlms_bayes.data_io.files import sha256_of
from vlms_bayes.data_io.outputs import (
    StagedOutputDir,
    atomic_write,
    run_record,
    save_figure,
    write_csv,
    write_json,
)
from vlms_bayes.data_io.pscomppars import load_pscomppars
from vlms_bayes.data_io.quarles import StabilityTable, load_stability_table, tables_provenance
from vlms_bayes.data_io.schema import require_columns
from vlms_bayes.errors import InputDataError
from vlms_bayes.feasibility import attribution, disk, perturbers, probability
from vlms_bayes.feasibility.draws import derived_seed
from vlms_bayes.feasibility.integrated import (
    IntegrationOptions,
    MapIntegration,
    integrate_map,
    integrated_kl_probability,
    integrated_kl_sensitivity,
)
from vlms_bayes.feasibility.montecarlo import (
    CRITERIA,
    FeasibilityConfig,
    MapResult,
    Target,
    feasibility_map,
)
from vlms_bayes.feasibility.nss_orbits import merge_companions, nss_perturbers, nss_samplers
from vlms_bayes.feasibility.perturbers import map_markers, perturber_lines
from vlms_bayes.feasibility.secular_check import run_secular_check
from vlms_bayes.feasibility.summary import origin_lines
from vlms_bayes.feasibility.units import MJUP_MSUN, RSUN_AU
from vlms_bayes.inference.rv.exclusion import GaiaExclusion, GaiaHost, gaia_exclusion
from vlms_bayes.inference.rv.pvalues import DETECTION_PVAL
from vlms_bayes.pipeline.data import DataConfig, load_dataset
from vlms_bayes.pipeline.gaia_perturbers import (
    GaiaPerturberInputs,
    GaiaPerturberOptions,
    gather_gaia_inputs,
    mark_lenses,
)
from vlms_bayes.pipeline.result import CommandResult
from vlms_bayes.plots import feasibility as plots
from vlms_bayes.plots.origin import probability_sensitivity_figure

log = logging.getLogger(__name__)

#: Disk-to-star mass ratios of the disk-migration band.
DISK_FRACTIONS: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03)


@dataclass(frozen=True)
class FeasibilityResult:
    """Headline numbers of a feasibility run (for the console and SUMMARY.txt)."""

    target: str
    mean_feasible_fraction: float
    max_cell_fraction: float
    best_m_out_msun: float
    best_a_out_au: float
    cells_feasible: float
    feasible_m_out_range_msun: tuple[float, float] | None
    feasible_a_out_range_au: tuple[float, float] | None
    limiting_share: dict[str, float]
    backend: str
    fallback_reason: str | None
    map_wall_s: float
    disk_best_type2_time_yr: float
    disk_lifetime_median_yr: float
    files: tuple[str, ...]
    octupole_flagged_share: float = float("nan")
    secular_confusion: dict[str, int] | None = None
    secular_agreement: float | None = None
    secular_lines: tuple[str, ...] = ()
    gaia_excluded_share: float | None = None
    gaia_excluded_cells_share: float | None = None
    gaia_lines: tuple[str, ...] = ()
    gaia_settings: dict[str, Any] | None = None
    loss_share: dict[str, float] | None = None
    best_cell_ci95: tuple[float, float] | None = None
    best_cell_excludes_mean: bool = True
    n_draws_per_cell: int = 0
    probability_lines: tuple[str, ...] = ()
    probabilities: dict[str, Any] | None = None
    integration_lines: tuple[str, ...] = ()
    mean_integrated_fraction: float | None = None
    perturber_lines: tuple[str, ...] = ()

    def summary_lines(self) -> list[str]:
        """Plain-text lines describing the result (computed, not canned)."""
        lim = sorted(self.limiting_share.items(), key=lambda kv: -kv[1])
        lim_txt = ", ".join(f"{k} {100 * v:.0f}%" for k, v in lim if v > 0)
        lines = [*self.probability_lines,
                 f"Migration feasibility of {self.target} over the perturber grid (KL + "
                 f"tides, backend {self.backend}; {self.n_draws_per_cell} independent draws "
                 "per cell):",
                 f"  mean feasible fraction over the perturber grid: "
                 f"{self.mean_feasible_fraction:.3g}",
                 f"  cells with any feasible draw: {100 * self.cells_feasible:.1f}%"]
        ci = self.best_cell_ci95
        if self.best_cell_excludes_mean or ci is None:
            lines.append(
                f"  best cell: {self.max_cell_fraction:.3f}"
                + ("" if ci is None else f" (95% CI {ci[0]:.3f}-{ci[1]:.3f})")
                + f" at m_out = {self.best_m_out_msun:.3g} Msun, a_out = "
                f"{self.best_a_out_au:.3g} AU")
        else:
            lines.append(f"  no single cell stands out: the best one's 95% interval "
                         f"({ci[0]:.3f}-{ci[1]:.3f}) includes the grid mean")
        if self.feasible_m_out_range_msun is not None:
            (m_lo, m_hi), (a_lo, a_hi) = (self.feasible_m_out_range_msun,
                                          self.feasible_a_out_range_au)
            lines.append(f"  feasible (>= 1% of draws) for m_out {m_lo:.3g}-{m_hi:.3g} Msun, "
                         f"a_out {a_lo:.3g}-{a_hi:.3g} AU")
        else:
            lines.append("  no cell reaches 1% of draws")
        lines.append(f"  limiting criterion by absolute loss (share of cells): {lim_txt}")
        if self.loss_share:
            loss = sorted(self.loss_share.items(), key=lambda kv: -kv[1])
            lines.append("  lost draws by criterion (grid-wide): "
                         + ", ".join(f"{k} {100 * v:.0f}%" for k, v in loss if v >= 0.005))
        lines.append(f"  feasible draws with eps_oct > 0.01 (quadrupole verdict not "
                     f"conservative): {100 * self.octupole_flagged_share:.0f}%")
        lines.extend(self.integration_lines)
        lines.append(f"  disk: fastest delivery from 1 AU to the observed orbit "
                     f"{self.disk_best_type2_time_yr:.3g} yr vs median VLMS disk lifetime "
                     f"{self.disk_lifetime_median_yr:.3g} yr")
        lines.extend(self.secular_lines)
        lines.extend(self.gaia_lines)
        lines.extend(self.perturber_lines)
        if self.fallback_reason:
            lines.append(f"  (JAX failed, numba used: {self.fallback_reason})")
        return lines


@dataclass(frozen=True)
class FeasibilityOptions:
    """Settings of the feasibility map that ``run`` makes for the reference object.

    Attributes
    ----------
    grid : int
        Cells per axis of the (M_out, a_out) grid.
    draws : int
        Monte Carlo draws per cell.
    horizon_gyr : float
        Time horizon in Gyr.
    backend : {"jax", "numba", "auto"}
        Kernel backend.
    secular_triples : int
        Draws integrated with the secular equations to check the analytic criteria.
    integration : IntegrationOptions
        Caps and durations of the integrated octupole candidates
        (:mod:`vlms_bayes.feasibility.integrated`).
    companions : str, optional
        CSV of known stellar perturbers of the sample's hosts
        (:func:`vlms_bayes.data_io.companions.read_companions_csv`).
    radii : {"evolving", "frozen"}
        Radii evolving with age, or today's (:mod:`vlms_bayes.feasibility.radii`).
    lags : {"prior", "fixed"}
        Tidal lags drawn from their priors, or the fixed Q' values.
    host_spin : {"prior", "none"}
        The host's spin from its age-dependent prior, or a non-rotating host
        (:mod:`vlms_bayes.feasibility.spin`).
    probability_systems : int
        Systems drawn for P(KL origin) and P(disk) (their sensitivity study draws a
        quarter as many per row; 0 leaves the probabilities out).
    gaia_nss : str, optional
        ``"query"`` (Gaia archive) or a saved ``gaiadr3.nss_two_body_orbit`` table: the
        sample hosts' DR3 orbits as perturbers (:mod:`vlms_bayes.pipeline.gaia_perturbers`).
    gaia_rv_catalogue : str, optional
        Scored Gaia RV catalogue: the hosts' ``rv_pval`` in ``known_perturbers.csv``.
    wide_binaries : bool
        Look the sample's hosts up in the Gaia EDR3 wide-binary catalogue of El-Badry et al.
        (2021) (VizieR, network): each found companion is its host's perturber unless
        ``companions`` or an NSS orbit gives one.
    """

    grid: int = 100
    draws: int = 200
    horizon_gyr: float = 1.0
    backend: str = "auto"
    secular_triples: int = 200
    integration: IntegrationOptions = field(default_factory=IntegrationOptions)
    companions: str | None = None
    radii: str = "evolving"
    lags: str = "prior"
    host_spin: str = "prior"
    probability_systems: int = 200_000
    gaia_nss: str | None = None
    gaia_rv_catalogue: str | None = None
    wide_binaries: bool = False


def reference_target(frame: pd.DataFrame) -> Target:
    """The feasibility :class:`~vlms_bayes.feasibility.montecarlo.Target` of the reference row.

    Host mass, companion mass, a and host radius come from the stacked row (with the
    user's overrides); the companion's radius, which the stacked dataset does not carry,
    keeps the default of :class:`Target` (TOI-6894 b's 0.855 R_J).
    """
    ref = frame.loc[frame["is_reference"]]
    if ref.empty:
        return Target()
    r = ref.iloc[0]
    kw: dict[str, Any] = {"name": str(r["name"]), "m_star_msun": float(r["st_mass"]),
                          "mass_mj": float(r["pl_bmassj"]), "a_au": float(r["pl_orbsmax"])}
    if np.isfinite(r["st_rad"]):
        kw["r_star_rsun"] = float(r["st_rad"])
    return Target(**kw)


def target_from_frame(frame: pd.DataFrame, name: str, **overrides: float) -> Target:
    """The target's parameters from the stacked catalogue (``pipeline.load_dataset``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Stacked dataset (columns ``name``, ``st_mass``, ``st_rad``, ``pl_bmassj``,
        ``pl_orbsmax``).
    name : str
        Companion name (case and spaces ignored).
    **overrides : float
        Target fields that replace the catalogue values (e.g. ``radius_rj``; the stacked
        dataset has no companion radius, so it must be given unless the target is
        TOI-6894 b, whose published 0.855 RJ is used).

    Returns
    -------
    Target

    Raises
    ------
    InputDataError
        If the name is absent or a needed value is missing.
    """
    def norm(s: Any) -> str:
        return "".join(str(s).lower().split())

    rows = frame[frame["name"].map(norm) == norm(name)]
    if rows.empty:
        raise InputDataError(
            f"Target {name!r} is not in the stacked catalogue ({len(frame)} rows); check the "
            "spelling (e.g. 'TOI-6894 b') or give --mstar --mc-mj --a-au --rstar-rsun --rp-rj.")
    row = rows.iloc[0]
    vals = {"m_star_msun": row.get("st_mass"), "r_star_rsun": row.get("st_rad"),
            "mass_mj": row.get("pl_bmassj"), "a_au": row.get("pl_orbsmax")}
    vals["radius_rj"] = Target().radius_rj if norm(name) == norm(Target().name) else None
    vals.update(overrides)
    missing = [k for k, v in vals.items() if v is None or not np.isfinite(float(v))]
    if missing:
        raise InputDataError(
            f"Target {row['name']!r} has no value for {', '.join(missing)} in the catalogue; "
            "give it with the matching option (--mstar, --rstar-rsun, --mc-mj, --a-au, "
            "--rp-rj).")
    return Target(name=str(row["name"]), **{k: float(v) for k, v in vals.items()})


def read_initial_ae(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Initial (a0 [AU], e0) samples from a CSV with columns ``a_au`` and ``e``."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputDataError(f"Cannot read the initial (a, e) samples {path}: {exc}") from exc
    require_columns(frame, ("a_au", "e"), what=str(path),
                    fix="The initial (a, e) samples need 'a_au' (AU) and 'e'.")
    return frame["a_au"].to_numpy(float), frame["e"].to_numpy(float)


def limiting_criterion(cascade: np.ndarray) -> np.ndarray:
    """Index of the criterion that removes the largest fraction of all draws of a cell.

    Absolute loss (:func:`vlms_bayes.feasibility.attribution.limiting_by_loss`), not the
    pass ratio of the survivors, which blamed whichever stage removed the last few.

    Parameters
    ----------
    cascade : numpy.ndarray, shape (n_criteria, ...)
        Fractions passing criteria 0..k, for each k.

    Returns
    -------
    numpy.ndarray of int
    """
    return attribution.limiting_by_loss(cascade)


def sensitivity_table(result: MapResult) -> pd.DataFrame:
    """Coverage of the map for every horizon × periastron threshold of the study."""
    cfg = result.config
    f = result.fractions()
    r_star_au = cfg.target.r_star_rsun * RSUN_AU
    rows = []
    for ih, h in enumerate(cfg.sens_horizons_gyr):
        for ir, k in enumerate(cfg.sens_disruption_factors):
            rows.append(_coverage(f["sensitivity"][ih, ir], h, "survival floor (ours)", k, "r_t",
                                  k * cfg.disruption_radius_au()))
        for ic, k in enumerate(cfg.sens_seed_rcrit_rstar):
            rows.append(_coverage(f["seed_rule"][ih, ic], h, "seed rule r_p <= r_crit", k,
                                  "R_star", k * r_star_au))
    return pd.DataFrame(rows)


def _coverage(frac: np.ndarray, h: float, rule: str, value: float, unit: str,
              au: float) -> dict[str, Any]:
    return {"horizon_gyr": h, "rule": rule, "threshold": value, "threshold_unit": unit,
            "threshold_au": au, "mean_fraction": float(frac.mean()),
            "max_fraction": float(frac.max()), "cells_any": float((frac > 0).mean()),
            "cells_ge_1pct": float((frac >= 0.01).mean())}


def disk_table(config: FeasibilityConfig, *, h: float = 0.05, alpha: float = 1.0,
               alpha_visc: float = 1e-3, r_out_au: float = 30.0) -> pd.DataFrame:
    """Type I / gap opening / Type II timescales vs a for a band of disk masses."""
    t = config.target
    ms, mp = t.m_star_msun, t.mass_mj * MJUP_MSUN
    q = mp / ms
    a = np.geomspace(max(1.2 * t.a_au, 0.03), 10.0, 60)
    gap = float(disk.gap_opening_parameter(q, h=h, alpha_visc=alpha_visc))
    rows = []
    for fd in DISK_FRACTIONS:
        s0 = disk.sigma0_msun_au2(ms, fd, alpha=alpha, r_out_au=r_out_au)

        def sig(r: np.ndarray, s0: float = s0) -> np.ndarray:
            return s0 * r ** (-alpha)

        def t1(r: np.ndarray, s0: float = s0) -> np.ndarray:
            return disk.type1_time_yr(r, ms, mp, sig(r, s0), h=h, alpha=alpha)

        def t2(r: np.ndarray, s0: float = s0) -> np.ndarray:
            return disk.type2_time_yr(r, ms, mp, sig(r, s0), h=h, alpha=alpha,
                                      alpha_visc=alpha_visc)

        applicable = t2 if gap <= 1 else t1
        for ai, tau1, tau2, tv, tm in zip(
                a, t1(a), t2(a),
                disk.viscous_time_yr(a, ms, mp, sig(a), h=h, alpha_visc=alpha_visc),
                disk.migration_time_to_yr(a, t.a_au, applicable), strict=True):
            rows.append({"a_au": ai, "disk_to_star": fd,
                         "sigma_g_cm2": float(disk.msun_per_au2_to_g_per_cm2(sig(ai))),
                         "tau_type1_yr": tau1, "tau_type2_kanagawa_yr": tau2,
                         "tau_viscous_yr": tv, "gap_parameter": gap, "gap_opens": gap <= 1,
                         "regime": "Type II" if gap <= 1 else "Type I",
                         "t_migrate_to_target_yr": tm, "h": h, "alpha_sigma": alpha,
                         "alpha_visc": alpha_visc})
    return pd.DataFrame(rows)


def write_map_npz(path: Path, result: MapResult, gaia: GaiaExclusion | None = None,
                  integration: MapIntegration | None = None) -> None:
    """Write ``feasibility_map.npz`` (grid axes, fractions, settings, seed) atomically.

    With ``gaia``, also ``gaia_detect_prob`` (probability that Gaia's RV noise reveals the
    perturber), ``gaia_excluded`` (≥ the minimum probability while the host's own p-value
    is not significant) and ``gaia_settings_json``. With ``integration``, also
    ``integrated_feasible_fraction`` (the integrated verdict where a draw was integrated,
    the analytic one elsewhere), ``n_integrated`` and ``n_confirmed`` per cell.
    """
    f = result.fractions()
    cfg = result.config
    settings = dataclasses.asdict(cfg)
    extra = {} if gaia is None else {
        "gaia_detect_prob": gaia.detect_prob, "gaia_excluded": gaia.excluded,
        "gaia_settings_json": np.array(json.dumps(gaia.settings()))}
    if integration is not None:
        extra.update(
            integrated_feasible_fraction=integration.feasible_fraction(
                result.counts[..., 2 * len(CRITERIA) - 1], cfg.n_draws),
            n_integrated=integration.integrated_cells, n_confirmed=integration.confirmed_cells,
            integration_json=np.array(json.dumps(integration.options.record())))
    with atomic_write(path, "wb") as fh:
        np.savez_compressed(
            fh, m_out_msun=cfg.m_out_grid, a_out_au=cfg.a_out_grid,
            feasible_fraction=f["feasible"], marginal_pass=f["marginal"],
            cascade_pass=f["cascade"], criteria=np.array(CRITERIA),
            limiting_criterion=limiting_criterion(f["cascade"]),
            loss_fraction=attribution.absolute_losses(f["cascade"]),
            feasible_ci95=np.stack(attribution.binomial_interval(
                result.counts[..., 2 * len(CRITERIA) - 1], cfg.n_draws)),
            n_draws=np.array(cfg.n_draws),
            sensitivity_fraction=f["sensitivity"],
            sensitivity_horizons_gyr=np.array(cfg.sens_horizons_gyr),
            sensitivity_disruption_factors=np.array(cfg.sens_disruption_factors),
            seed_rule_fraction=f["seed_rule"],
            seed_rule_rcrit_rstar=np.array(cfg.sens_seed_rcrit_rstar),
            octupole_flag_fraction=f["octupole_flag"],
            settings_json=np.array(json.dumps(settings)), seed=np.array(result.seed or -1),
            backend=np.array(result.backend), **extra)


def map_stability_table(config: FeasibilityConfig, *,
                        data_dir: str | os.PathLike[str] | None = None) -> StabilityTable:
    """The Quarles et al. (2020) table the map of ``config`` uses (read through data_io).

    Tabulated inclinations (0, 30, 45, 180 degrees) are read as they are; any other is
    interpolated between its neighbours
    (:func:`~vlms_bayes.data_io.quarles.load_stability_table`).
    """
    return load_stability_table(config.quarles_incl_deg, data_dir=data_dir,
                                interpolate=config.quarles_incl_deg not in (0, 30, 45, 180))


def run_feasibility(config: FeasibilityConfig, *, outdir_path: str | Path, seed: int,
                    backend: str = "auto", data_dir: str | os.PathLike[str] | None = None,
                    initial_ae: tuple[np.ndarray, np.ndarray] | None = None,
                    table: StabilityTable | None = None,
                    secular_triples: int = 1000,
                    gaia: GaiaHost | None = None,
                    probability_systems: int = 200_000,
                    integration: IntegrationOptions | None = None,
                    sample: pd.DataFrame | None = None,
                    host_multiplicity: pd.DataFrame | None = None,
                    companions: pd.DataFrame | None = None,
                    gaia_perturbers: GaiaPerturberInputs | None = None
                    ) -> tuple[FeasibilityResult, MapResult]:
    """Compute and write the feasibility outputs into an existing (staged) folder.

    Parameters
    ----------
    config : FeasibilityConfig
        Target, grid and physics settings.
    outdir_path : path-like
        Folder to write into (the caller stages and publishes it).
    seed : int
        Random seed of the draws.
    backend : {"jax", "numba", "auto"}
        Kernel backend.
    data_dir : path-like, optional
        Data folder with the Quarles et al. (2020) tables.
    initial_ae : (array, array), optional
        Initial (a0, e0) samples instead of the configured distribution.
    table : StabilityTable, optional
        Pre-loaded stability table.
    secular_triples : int
        Draws integrated with the secular equations to check the analytic verdicts
        (``secular_check.csv``, confusion matrix in the result); 0 skips the check.
    gaia : GaiaHost, optional
        The host's Gaia RV data: marks the perturbers Gaia would have revealed (≥ 99%)
        although the host's own p-value is not significant (map fields, hatched region in
        fig3, excluded share in the summary). Checked before the map is computed.
    probability_systems : int
        Systems drawn for P(KL origin) and P(disk migration) over published priors
        (:mod:`vlms_bayes.feasibility.probability`; ``origin_probability.json``,
        ``origin_sensitivity.csv`` + ``fig_origin_sensitivity.png``, first lines of the
        summary); 0 skips them.
    integration : IntegrationOptions, optional
        Octupole candidates integrated with the secular equations
        (:mod:`vlms_bayes.feasibility.integrated`): a capped random subsample of the map's
        feasible draws (``octupole_candidates_map.csv``, integrated fraction in the npz,
        marks in fig3) and the candidates of P(KL origin)
        (``octupole_candidates_probability.csv``; the probability uses the integrated
        verdicts). Default :class:`IntegrationOptions`; caps of 0 skip.
    sample : pandas.DataFrame, optional
        The stacked sample: every companion's known stellar perturber and its P(KL origin)
        go to ``known_perturbers.csv`` and the summary
        (:mod:`vlms_bayes.feasibility.perturbers`).
    host_multiplicity : pandas.DataFrame, optional
        PSCompPars ``sy_snum`` per planet
        (:func:`vlms_bayes.data_io.companions.read_host_multiplicity`).
    companions : pandas.DataFrame, optional
        User-described perturbers (:func:`vlms_bayes.data_io.companions.read_companions_csv`);
        without ``sample``, the target's host's row is evaluated alone; the target host's
        perturber is marked on fig3.
    gaia_perturbers : GaiaPerturberInputs, optional
        The hosts' Gaia DR3 NSS orbits and RV p-values
        (:func:`vlms_bayes.pipeline.gaia_perturbers.gather_gaia_inputs`): each usable orbit
        becomes its host's perturber unless ``companions`` gives one
        (:func:`vlms_bayes.feasibility.nss_orbits.nss_perturbers`; every solution and its
        verdict in ``gaia_nss_orbits.csv``), the p-values are listed in
        ``known_perturbers.csv``.

    Returns
    -------
    FeasibilityResult, MapResult
        Headline numbers and the full map.
    """
    out = Path(outdir_path)
    integration = IntegrationOptions() if integration is None else integration
    integration.check()
    if probability_systems < 0:
        raise InputDataError(f"probability_systems = {probability_systems} must be >= 0 "
                             "(0 skips P(KL origin) and P(disk)); give --probability-systems "
                             "N with N >= 0.")
    if gaia is not None:
        gaia.check()  # fail before the expensive map
    if table is None:
        table = map_stability_table(config, data_dir=data_dir)
    res = feasibility_map(config, seed=seed, table=table, backend=backend,
                          initial_ae=initial_ae)
    f = res.fractions()
    excl = None
    if gaia is not None:
        t = config.target
        excl = gaia_exclusion(gaia, m_host_msun=t.m_star_msun + t.mass_mj * MJUP_MSUN,
                              m_out_msun=config.m_out_grid, a_out_au=config.a_out_grid,
                              seed=derived_seed(seed, "gaia"))  # not the map's draws
    mint = None
    if integration.max_map > 0:
        mint = integrate_map(res, table, seed=seed, options=integration, initial_ae=initial_ae)
        write_csv(out / "octupole_candidates_map.csv", mint.table)
    write_map_npz(out / "feasibility_map.npz", res, excl, mint)
    sens = sensitivity_table(res)
    write_csv(out / "feasibility_sensitivity.csv", sens)
    dtab = disk_table(config)
    write_csv(out / "disk_migration.csv", dtab)
    lim = limiting_criterion(f["cascade"])
    known = None
    target_host = config.target.name.rsplit(" ", 1)[0]
    smp = sample if sample is not None else perturbers.target_sample(config.target,
                                                                     target_host)
    gaia_lines: list[str] = []
    samplers = None
    if gaia_perturbers is not None:
        gaia_lines = list(gaia_perturbers.lines)
        if gaia_perturbers.orbits is not None:
            hinfo = host_info(smp)
            nss_pert, nss_sol = nss_perturbers(
                gaia_perturbers.orbits, hinfo,
                rng=np.random.default_rng(derived_seed(seed, "gaia_nss")))
            samplers = nss_samplers(gaia_perturbers.orbits, hinfo, nss_sol)
            write_csv(out / "gaia_nss_orbits.csv", nss_sol)
            companions = merge_companions([companions, nss_pert])
            gaia_lines.insert(0, nss_line(nss_sol, nss_pert))
        if gaia_perturbers.wide is not None:
            # a user row or an NSS orbit (closer, with a mass) wins for a host
            companions = merge_companions([companions, gaia_perturbers.wide])
    if sample is not None or companions is not None or gaia_perturbers is not None:
        known = perturbers.perturber_table(
            smp, host_multiplicity, companions, config, table, seed=seed,
            backend="jax" if res.backend == "jax" else "numba",
            rv_pvalues=None if gaia_perturbers is None else gaia_perturbers.rv_pvalues,
            rv_detection_pval=DETECTION_PVAL, samplers=samplers)
        write_csv(out / "known_perturbers.csv", known)
    markers = None
    if companions is not None:

        markers = map_markers(known, companions, target_host)
    save_figure(out / "fig3_feasibility.png", plots.plot_feasibility_map(
        res, lim, gaia_excluded=None if excl is None else excl.excluded,
        integrated=None if mint is None else mint.table, perturbers=markers))
    save_figure(out / "fig_feasibility_sensitivity.png", plots.plot_sensitivity(res))
    save_figure(out / "fig_disk_migration.png", plots.plot_disk(dtab, config))

    feas = f["feasible"]
    ok = feas >= 0.01
    m_rng = a_rng = None
    if ok.any():
        mi, ai = np.nonzero(ok)
        m_rng = (float(config.m_out_grid[mi.min()]), float(config.m_out_grid[mi.max()]))
        a_rng = (float(config.a_out_grid[ai.min()]), float(config.a_out_grid[ai.max()]))
    share = {c: float((lim == i).mean()) for i, c in enumerate(CRITERIA)}
    from_1au = dtab[np.isclose(dtab["a_au"], dtab["a_au"].iloc[
        (dtab["a_au"] - 1.0).abs().argmin()])]
    best = attribution.best_cell(res.counts[..., 2 * len(CRITERIA) - 1], config.n_draws)
    k = best.index
    loss_share = dict(zip(CRITERIA, map(float, attribution.grid_loss_share(f["cascade"])),
                          strict=True))
    result = FeasibilityResult(
        target=config.target.name, mean_feasible_fraction=float(feas.mean()),
        max_cell_fraction=float(feas[k]), best_m_out_msun=float(config.m_out_grid[k[0]]),
        best_a_out_au=float(config.a_out_grid[k[1]]), cells_feasible=float((feas > 0).mean()),
        loss_share=loss_share, best_cell_ci95=(best.low, best.high),
        best_cell_excludes_mean=best.excludes_mean, n_draws_per_cell=config.n_draws,
        feasible_m_out_range_msun=m_rng, feasible_a_out_range_au=a_rng, limiting_share=share,
        backend=res.backend, fallback_reason=res.fallback_reason, map_wall_s=res.wall_s,
        disk_best_type2_time_yr=float(from_1au["t_migrate_to_target_yr"].min()),
        octupole_flagged_share=float(f["octupole_flag"].sum() / max(feas.sum(), 1e-300)),
        disk_lifetime_median_yr=float(disk.disk_lifetime_quantile_yr(0.5)),
        files=("feasibility_map.npz", "fig3_feasibility.png", "feasibility_sensitivity.csv",
               "fig_feasibility_sensitivity.png", "disk_migration.csv",
               "fig_disk_migration.png"))
    if known is not None:

        nss_file = ("gaia_nss_orbits.csv",) if (out / "gaia_nss_orbits.csv").exists() else ()
        result = dataclasses.replace(
            result, perturber_lines=(*perturber_lines(known), *gaia_lines),
            files=(*result.files, "known_perturbers.csv", *nss_file))
    if mint is not None:
        r_conf = mint.confirmation()[0]
        result = dataclasses.replace(
            result, integration_lines=tuple(mint.lines(float(feas.mean()))),
            mean_integrated_fraction=float(feas.mean() * r_conf) if np.isfinite(r_conf)
            else float(feas.mean()),
            files=(*result.files, "octupole_candidates_map.csv"))
    if excl is not None:
        w, c = excl.excluded_share(feas)
        result = dataclasses.replace(result, gaia_excluded_share=w, gaia_excluded_cells_share=c,
                                     gaia_lines=tuple(excl.summary_lines(feas)),
                                     gaia_settings=excl.settings())
    if probability_systems > 0:
        result = _add_probabilities(result, config, table, out, seed=seed,
                                    backend=res.backend, n_systems=probability_systems,
                                    initial_ae=initial_ae, integration=integration)
    if secular_triples > 0:
        chk = run_secular_check(config, table, seed=seed, n_triples=secular_triples)
        write_csv(out / "secular_check.csv", chk.table)
        result = dataclasses.replace(
            result, secular_confusion=chk.confusion, secular_agreement=chk.agreement,
            secular_lines=tuple(chk.summary_lines()), files=(*result.files, "secular_check.csv"))
    return result, res


def host_info(sample: pd.DataFrame) -> pd.DataFrame:
    """Per host: ``m_star_msun``, ``m_star_err_msun`` and ``a_known_au`` (largest known a).

    The host-mass error is the mean of the stacked ``st_mass_err_hi`` and
    ``|st_mass_err_lo|`` where the sample has them (0 otherwise).
    """
    err = np.zeros(len(sample))
    if {"st_mass_err_hi", "st_mass_err_lo"} <= set(sample.columns):
        err = np.nan_to_num(0.5 * (pd.to_numeric(sample["st_mass_err_hi"], errors="coerce")
                                   + pd.to_numeric(sample["st_mass_err_lo"], errors="coerce")
                                   .abs()).to_numpy(float))
    frame = pd.DataFrame({"hostname": sample["hostname"].astype(str).to_numpy(),
                          "m_star_msun": pd.to_numeric(sample["st_mass"], errors="coerce"),
                          "m_star_err_msun": err,
                          "a_known_au": pd.to_numeric(sample["pl_orbsmax"], errors="coerce")})
    return frame.groupby("hostname", as_index=False).agg(
        m_star_msun=("m_star_msun", "median"), m_star_err_msun=("m_star_err_msun", "median"),
        a_known_au=("a_known_au", "max"))


def nss_line(solutions: pd.DataFrame, used: pd.DataFrame) -> str:
    """Summary line of the Gaia DR3 NSS orbits (computed)."""
    return (f"Gaia DR3 NSS orbits (gaiadr3.nss_two_body_orbit, gaia_nss_orbits.csv): "
            f"{len(solutions)} solutions of {solutions['hostname'].nunique()} hosts, "
            f"{len(used)} used as perturbers")


def _add_probabilities(result: FeasibilityResult, config: FeasibilityConfig, table: Any,
                       out: Path, *, seed: int, backend: str, n_systems: int,
                       initial_ae: tuple[np.ndarray, np.ndarray] | None,
                       integration: IntegrationOptions) -> FeasibilityResult:
    """P(KL origin), P(disk) and the sensitivity of P(KL): files, figure, summary lines.

    With integration caps above 0, P(KL origin) uses the integrated verdicts of its octupole
    candidates (``kozai_lidov`` in ``origin_probability.json``; the analytic one is kept as
    ``kozai_lidov_analytic``). The sensitivity study is analytic unless
    ``integration.sensitivity_*`` caps are set (its CSV's ``verdicts`` column says which).
    """
    be = "jax" if backend == "jax" else "numba"
    kl_int = None
    if integration.max_feasible > 0 or integration.max_boundary > 0:
        kl_int = integrated_kl_probability(config, table, seed=seed, n_systems=n_systems,
                                           options=integration, backend=be,
                                           initial_ae=initial_ae)
        kl, kl_ana = kl_int.integrated, kl_int.analytic
        write_csv(out / "octupole_candidates_probability.csv", kl_int.table)
    else:
        kl = kl_ana = probability.kl_probability(config, table, seed=seed,
                                                 n_systems=n_systems, backend=be,
                                                 initial_ae=initial_ae)
    dk = probability.disk_probability(config, seed=seed, n_systems=n_systems,
                                      initial_ae=initial_ae)
    n_sens = max(n_systems // 4, 1000)
    sens_opts = integration.sensitivity
    if sens_opts is None:
        sens = probability.kl_sensitivity(config, table, seed=seed, n_systems=n_sens,
                                          backend=be, initial_ae=initial_ae)
        sens["verdicts"] = ("analytic (quadrupole e_max; --sensitivity-integrate F B "
                            "integrates the octupole candidates of every row, but at caps "
                            "that fit the 60 s budget the extrapolated boundary subsample "
                            "dominates every row, see docs/feasibility.md)")
    else:
        sens = integrated_kl_sensitivity(config, table, seed=seed, n_systems=n_sens,
                                         options=sens_opts, backend=be, initial_ae=initial_ae)
        sens["verdicts"] = (f"integrated octupole candidates (caps {sens_opts.max_feasible} "
                            f"feasible, {sens_opts.max_boundary} boundary per row; "
                            "posterior median)")
    write_json(out / "origin_probability.json",
               {"kozai_lidov": kl.record(), "kozai_lidov_analytic": kl_ana.record(),
                "kozai_lidov_verdicts": "analytic" if kl_int is None else "integrated",
                "integration": None if kl_int is None else {
                    **kl_int.options.record(), **kl_int.extrapolation_record()},
                "disk": dk.record(), "seed": seed})
    write_csv(out / "origin_sensitivity.csv", sens)
    save_figure(out / "fig_origin_sensitivity.png",
                probability_sensitivity_figure(sens, target=config.target.name), close=False)
    lines = origin_lines(config.target.name, kl, dk)
    extra_files: tuple[str, ...] = ()
    if kl_int is not None:
        lines[2:2] = kl_int.lines(config.target.name)
        extra_files = ("octupole_candidates_probability.csv",)
    return dataclasses.replace(
        result, probability_lines=tuple(lines),
        probabilities={"p_kl": kl.probability, "p_kl_ci95": [kl.low, kl.high],
                       "p_kl_analytic": kl_ana.probability,
                       "p_kl_analytic_ci95": [kl_ana.low, kl_ana.high],
                       "p_disk": dk.probability, "p_disk_ci95": [dk.low, dk.high]},
        files=(*result.files, "origin_probability.json", "origin_sensitivity.csv",
               "fig_origin_sensitivity.png", *extra_files))


def _target_gaia_inputs(target: Target, options: GaiaPerturberOptions,
                        data_config: DataConfig | None
                        ) -> tuple[pd.DataFrame | None, GaiaPerturberInputs]:
    """The target host's PSCompPars rows (position, ``sy_snum``) and its Gaia inputs."""
    host = target.name.rsplit(" ", 1)[0]
    dc = data_config if data_config is not None else DataConfig()
    ps = load_pscomppars(path=dc.ps, data_dir_=dc.data_dir, refresh=dc.refresh,
                         mstar_min=dc.mstar_min, mstar_max=dc.mstar_max,
                         reference=dc.reference)
    path = ps.provenance()["path"]
    mult = None
    if path is not None:
        mult = read_host_multiplicity(path)
        mult = mult[mult["hostname"] == host].reset_index(drop=True)
    if mult is None or mult.empty:
        log.warning("%s is not in PSCompPars: its position is unknown, so only a saved NSS "
                    "table with a hostname column can be used", host)
        return None, gather_gaia_inputs(options, None)
    hosts = mult[["hostname", "ra", "dec", "sy_gaiamag"]].copy()
    # a host known only as a microlensing lens is not looked up in Gaia (as in ``run``)
    hosts["lens"] = mark_lenses(hosts["hostname"], ps.frame)
    return mult, gather_gaia_inputs(options, hosts)


def command_target(data_config: DataConfig, *, target: str | None = None,
                   label: str | None = None, **given: float) -> Target:
    """The companion the ``feasibility`` command maps.

    Parameters
    ----------
    data_config : DataConfig
        Where the stacked catalogue comes from (read only when ``target`` names a row).
    target : str, optional
        Name of a companion of the stacked catalogue; default TOI-6894 b's parameters.
    label : str, optional
        Label of the target in the outputs.
    **given : float
        Values that override the catalogue's (``m_star_msun``, ``r_star_rsun``,
        ``mass_mj``, ``radius_rj``, ``a_au``).
    """
    if target:
        chosen = target_from_frame(load_dataset(data_config), target, **given)
    else:
        chosen = dataclasses.replace(Target(), **given)
    return dataclasses.replace(chosen, name=label) if label else chosen


def feasibility_command(config: FeasibilityConfig, *, outdir: str | os.PathLike[str],
                        seed: int, backend: str = "auto",
                        data_dir: str | os.PathLike[str] | None = None,
                        secular_triples: int = 1000, initial_ae: Path | None = None,
                        gaia: GaiaHost | None = None,
                        probability_systems: int = 200_000,
                        integration: IntegrationOptions | None = None,
                        companions: Path | None = None,
                        gaia_perturbers: GaiaPerturberOptions | None = None,
                        data_config: DataConfig | None = None) -> CommandResult:
    """``vlms-bayes feasibility``: the map of one target into a staged folder with ``run.json``.

    Parameters
    ----------
    config : FeasibilityConfig
        Target, grid and physics settings (checked here).
    outdir : path-like
        Output folder, published only when everything is written.
    seed : int
        Seed of the draws.
    backend : {"jax", "numba", "auto"}
        Kernel backend.
    data_dir : path-like, optional
        Data folder with the Quarles et al. (2020) tables.
    secular_triples : int
        Draws checked with the secular equations (0 skips).
    initial_ae : Path, optional
        CSV of initial (a, e) samples (:func:`read_initial_ae`).
    gaia : GaiaHost, optional
        The host's Gaia RV data, for the exclusion of perturbers.
    probability_systems : int
        Systems drawn for P(KL origin) and P(disk) (0 skips them).
    integration : IntegrationOptions, optional
        Octupole candidates integrated (default caps; see :func:`run_feasibility`).
    companions : Path, optional
        CSV of known perturbers (:func:`vlms_bayes.data_io.companions.read_companions_csv`);
        the target's host's row is evaluated and marked on fig3.
    gaia_perturbers : GaiaPerturberOptions, optional
        Gaia DR3 NSS orbits (archive or saved table) and a scored Gaia RV catalogue for the
        target's host (:mod:`vlms_bayes.pipeline.gaia_perturbers`); its position and
        ``sy_snum`` come from the PSCompPars file of ``data_config``. ``gaia.host_pval``
        (``--gaia-host-pval``) is listed as the host's p-value when the catalogue has none.
    data_config : DataConfig, optional
        Where PSCompPars comes from (only read with ``gaia_perturbers``).

    Returns
    -------
    CommandResult
        The summary lines as the report; ``result`` is the :class:`FeasibilityResult`.
    """
    config.check()
    initial = None if initial_ae is None else read_initial_ae(initial_ae)
    comp = None
    if companions is not None:

        comp = read_companions_csv(companions)
    gaia_in = mult = None
    if gaia_perturbers is not None and gaia_perturbers.active:
        gaia_perturbers.check()
        mult, gaia_in = _target_gaia_inputs(config.target, gaia_perturbers, data_config)
    if gaia is not None and (gaia_in is not None or comp is not None):
        # the host's own p-value, listed with its perturber (the catalogue's wins)
        gaia_in = GaiaPerturberInputs() if gaia_in is None else gaia_in
        gaia_in.rv_pvalues.setdefault(config.target.name.rsplit(" ", 1)[0],
                                      float(gaia.host_pval))
    quarles_inputs = {}
    if config.stability == "quarles":
        quarles_inputs = tables_provenance([config.quarles_incl_deg], data_dir=data_dir)
    gaia_inputs = {}
    if gaia is not None and gaia.noise_model is not None and gaia.ln_sigma is None:
        gaia_inputs = {"gaia_noise_model": {"path": str(Path(gaia.noise_model).resolve()),
                                            "sha256": sha256_of(gaia.noise_model)}}
    t0 = time.perf_counter()
    with StagedOutputDir(outdir) as stage:
        result, res = run_feasibility(config, outdir_path=stage, seed=seed, backend=backend,
                                      data_dir=data_dir, secular_triples=secular_triples,
                                      initial_ae=initial, gaia=gaia,
                                      probability_systems=probability_systems,
                                      integration=integration, companions=comp,
                                      host_multiplicity=mult, gaia_perturbers=gaia_in)
        write_json(stage / "run.json", run_record(
            command="feasibility",
            config={**dataclasses.asdict(config),
                    "integration": (integration or IntegrationOptions()).record()},
            seeds={"draws": seed},
            inputs={**({} if initial_ae is None else {"initial_ae": str(initial_ae)}),
                    **gaia_inputs, **quarles_inputs,
                    **({} if gaia_in is None else {"gaia_perturbers": gaia_in.record})},
            timings_s={"map": res.wall_s, "total": time.perf_counter() - t0},
            extra={"backend": {"requested": backend, "used": res.backend,
                               "fallback_reason": res.fallback_reason},
                   "gaia_rv_exclusion": result.gaia_settings,
                   "headline": dataclasses.asdict(result)}))
        (stage / "SUMMARY.txt").write_text("\n".join(result.summary_lines()) + "\n",
                                           encoding="utf-8")
    return CommandResult(Path(outdir), "\n".join(result.summary_lines()), result=result)
