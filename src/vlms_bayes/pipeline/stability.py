"""The ``vlms-bayes stability`` command as Python functions (the CLI only parses options).

* :func:`stability_for_binary` — one binary, returns a plain dict (what ``--json`` prints);
  :func:`format_stability_report` renders it as text.
* :func:`run_stability_outputs` — a CSV of binaries -> ``stability_limits.csv`` and/or
  the figure ``fig_stability.png``, with ``run.json``, in an output folder
  (all or nothing).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlms_bayes.data_io.files import sha256_of
from vlms_bayes.data_io.outputs import (
    StagedOutputDir,
    run_record,
    save_figure,
    write_csv,
    write_json,
)
from vlms_bayes.data_io.quarles import (
    load_all_stability_tables,
    load_stability_table,
    tables_provenance,
)
from vlms_bayes.feasibility.stability import (
    HW99_STYPE_RANGE,
    TABULATED_INCLINATIONS_DEG,
    stability_curves,
)
from vlms_bayes.feasibility.stability_limits import (
    read_binaries_csv,
    stability_limits,
    stability_limits_frame,
)
from vlms_bayes.plots.stability import plot_stability_curves

PathLike = str | os.PathLike[str]

TABLE_OUTPUT = "stability_limits.csv"
FIGURE_OUTPUT = "fig_stability.png"

CITATIONS = {
    "quarles2020": "Quarles, Li, Kostov & Haghighipour 2020, AJ 159, 80 (tables: "
                   "github.com/saturnaxis/ThreeBody_Stability)",
    "hw99": "Holman & Wiegert 1999, AJ 117, 621, eq. 1 (S-type)",
}


def stability_for_binary(
    *,
    e_bin: float,
    incl_deg: float = 0,
    interpolate_incl: bool = False,
    data_dir: PathLike | None = None,
    **binary: Any,
) -> dict[str, Any]:
    """Stability limits of one binary as a JSON-ready dict.

    Parameters
    ----------
    e_bin : float
        Binary eccentricity.
    incl_deg : float
        Planet inclination (tabulated: 0, 30, 45, 180).
    interpolate_incl : bool
        Allow linear interpolation between tables for 0 < incl_deg < 45 (warns).
    data_dir : path-like, optional
        Data folder for the Quarles et al. tables.
    **binary
        Keywords of :func:`vlms_bayes.feasibility.stability_limits.stability_limits`:
        ``m_a_msun``/``m_b_msun`` or ``mu`` or ``q``; ``a_bin_au`` or ``p_bin_yr``/
        ``p_bin_day``; ``m_tot_msun``.

    Returns
    -------
    dict
        ``mu``, ``e_bin``, ``a_bin_au``, ``incl_deg``, ``a_c_ratio``, ``a_c_au``
        (Quarles et al.), ``a_c_ratio_hw99``, ``a_c_au_hw99``, ``hw99_in_range``,
        ``hw99_range`` and ``references``.
    """
    table = load_stability_table(incl_deg, data_dir=data_dir, interpolate=interpolate_incl)
    res = stability_limits(e_bin=e_bin, table=table,
                           **{k: v for k, v in binary.items() if v is not None})
    out: dict[str, Any] = {k: np.asarray(v).item() for k, v in res.items()}
    if not out["hw99_in_range"]:
        warnings.warn(
            f"(mu, e_bin) = ({out['mu']:.4g}, {out['e_bin']:.4g}) is outside the range "
            "0.1 <= mu <= 0.9, 0 <= e_bin <= 0.8 where Holman & Wiegert (1999) fitted "
            "their formula; its a_c is an extrapolation.",
            UserWarning,
            stacklevel=2,
        )
    out["incl_interpolated"] = float(incl_deg) not in TABULATED_INCLINATIONS_DEG
    mu_lo, mu_hi, e_hi = HW99_STYPE_RANGE
    out["hw99_range"] = {"mu": [mu_lo, mu_hi], "e_bin": [0.0, e_hi]}
    out["references"] = CITATIONS
    return out


def format_stability_report(res: dict[str, Any]) -> str:
    """Human-readable text for :func:`stability_for_binary`'s result."""
    incl = f"{res['incl_deg']:g} deg" + (" (interpolated between tables)"
                                         if res.get("incl_interpolated") else "")
    hw_note = ("inside its fitted range" if res["hw99_in_range"]
               else "OUTSIDE its fitted range 0.1 <= mu <= 0.9, e_bin <= 0.8: extrapolated")
    return "\n".join([
        "Critical semi-major axis of an S-type orbit around star A",
        f"  mu = M_B/(M_A+M_B)   {res['mu']:.4f}",
        f"  e_bin                {res['e_bin']:.4f}",
        f"  a_bin                {res['a_bin_au']:.4f} AU",
        f"  planet inclination   {incl}",
        f"  Quarles et al. (2020):     a_c = {res['a_c_ratio']:.4f} a_bin = "
        f"{res['a_c_au']:.4f} AU",
        f"  Holman & Wiegert (1999):   a_c = {res['a_c_ratio_hw99']:.4f} a_bin = "
        f"{res['a_c_au_hw99']:.4f} AU  ({hw_note}; prograde, coplanar only)",
    ])


def run_stability_outputs(
    *,
    outdir: PathLike,
    table_csv: PathLike | None = None,
    figure: bool = False,
    incl_deg: float = 0,
    interpolate_incl: bool = False,
    mu_values: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
    data_dir: PathLike | None = None,
) -> dict[str, Any]:
    """Write the stability outputs into ``outdir`` (all or nothing, with ``run.json``).

    Parameters
    ----------
    outdir : path-like
        Output folder.
    table_csv : path-like, optional
        Binaries, one per row (columns: see
        :func:`vlms_bayes.feasibility.stability_limits.stability_limits_frame`); their
        limits go to ``stability_limits.csv``.
    figure : bool
        Also write ``fig_stability.png``: a_c/a_bin against e_bin at ``mu_values`` for
        each tabulated inclination, Quarles et al. vs Holman & Wiegert.
    incl_deg : float
        Inclination for table rows without an ``incl_deg`` column.
    interpolate_incl : bool
        Allow interpolation between tables for untabulated inclinations (0-45 deg).
    mu_values : sequence of float
        Mass ratios of the figure's curves.
    data_dir : path-like, optional
        Data folder for the Quarles et al. tables.

    Returns
    -------
    dict
        ``paths`` (name -> final path) and ``table`` (the result DataFrame or None).
    """
    timings: dict[str, float] = {}
    inputs: dict[str, Any] = {}
    result = fig = None
    incls: set[float] = set()
    if table_csv is not None:
        t0 = time.perf_counter()
        frame = read_binaries_csv(table_csv)
        result = stability_limits_frame(
            frame, incl_deg=incl_deg, source=str(table_csv),
            load_table=lambda i: load_stability_table(i, data_dir=data_dir,
                                                      interpolate=interpolate_incl),
        )
        timings["table"] = time.perf_counter() - t0
        incls.update(result["incl_deg"].unique().tolist())
        inputs["binaries"] = {"path": str(Path(table_csv).resolve()),
                              "sha256": sha256_of(table_csv), "rows": len(frame)}
    if figure:
        t0 = time.perf_counter()
        curves = stability_curves(load_all_stability_tables(data_dir=data_dir),
                                  mu_values=mu_values)
        fig = plot_stability_curves(curves)
        timings["figure"] = time.perf_counter() - t0
        incls.update(TABULATED_INCLINATIONS_DEG)
    inputs.update(tables_provenance(sorted(incls), data_dir=data_dir))
    names = ([TABLE_OUTPUT] if result is not None else []) + ([FIGURE_OUTPUT] if fig else [])
    with StagedOutputDir(outdir) as stage:
        if result is not None:
            write_csv(stage / TABLE_OUTPUT, result)
        if fig is not None:
            save_figure(stage / FIGURE_OUTPUT, fig)
        write_json(stage / "run.json", run_record(
            command="stability",
            config={"table": None if table_csv is None else str(table_csv),
                    "figure": figure, "incl_deg": incl_deg,
                    "interpolate_incl": interpolate_incl,
                    "mu_values": list(map(float, mu_values))},
            inputs=inputs, timings_s=timings,
            extra={"outputs": names, "references": CITATIONS},
        ))
    final = Path(outdir).expanduser().resolve()
    return {"paths": {n: final / n for n in [*names, "run.json"]}, "table": result}
