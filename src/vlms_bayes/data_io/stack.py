"""Stack PSCompPars and the Brown Dwarf catalogue into one row per companion.

The rules, in order:

1. Each catalogue is mapped onto the stacked schema (:mod:`vlms_bayes.data_io.schema`):
   uncertainties become positive ``*_err_hi`` / ``*_err_lo`` columns, flags say what each
   number is (mass kind, eccentricity status, a derived from the period).
2. Rows whose host lies in the host-mass window are kept, plus the reference object
   wherever its host lies (flagged ``is_reference``; ``in_window`` tells whether it is fitted).
3. **Duplicates.** A Brown Dwarf catalogue row is dropped when PSCompPars has a companion of
   the same host (names compared without case, spaces or punctuation) with a period within
   5 % (or, when either period is missing, a mass within a factor 1.5). PSCompPars is kept
   because it is the archive's curated composite and carries the errors and flags the
   analysis needs. Dropped rows are reported.
4. Semi-major axes missing in a catalogue are derived from the period with Kepler's third law
   (host + companion mass), with propagated uncertainties (``a_from_period``).
5. **What each method measures** (``sep_kind``, ``logq_rule``):

   * Microlensing and imaging give a *projected* separation, not a semi-major axis (no
     orbit is fitted): ``sep_kind = "projected"`` unless a was derived from a period.
   * Microlensing measures the mass ratio q from the light curve, and both masses share
     the lens-mass error (M_c = q M_L): σ(log q)² = σ(log M_c)² − σ(log M_L)²
     (:func:`vlms_bayes.orbits.logq_errors_lens`; ``logq_rule = "lens"``), not the
     quadrature sum, which counts the lens-mass error twice (median 0.51 dex instead of
     ≈ 0.04 on the 2025-08-07 snapshot).
   * Imaged companions' masses come from evolutionary models at an uncertain age
     (``logq_rule = "evolutionary_model"``); the model adds a systematic floor to their
     σ(log q) (:class:`vlms_bayes.models.data.MeasurementConfig`).
   * Every other row: host and companion errors independent, added in quadrature
     (``logq_rule = "quadrature"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vlms_bayes import orbits
from vlms_bayes.data_io.bdcat import map_method
from vlms_bayes.data_io.schema import STACKED_COLUMNS
from vlms_bayes.errors import InputDataError

#: TOI-6894 b as in the NASA Exoplanet Archive (Bryant et al. 2025, Nat. Astron.;
#: arXiv:2506.07931), used when a local catalogue lacks it.
TOI6894B: dict[str, object] = {
    "name": "TOI-6894 b", "hostname": "TOI-6894", "discoverymethod": "Transit",
    "st_mass": 0.207, "st_mass_err_hi": 0.011, "st_mass_err_lo": 0.011,
    "pl_bmassj": 0.168, "pl_bmassj_err_hi": 0.022, "pl_bmassj_err_lo": 0.022,
    "mass_kind": "true", "mass_is_limit": False,
    "pl_orbper": 3.37077196, "pl_orbper_err_hi": 5.9e-7, "pl_orbper_err_lo": 5.9e-7,
    "pl_orbsmax": 0.02604, "pl_orbsmax_err_hi": 0.00045, "pl_orbsmax_err_lo": 0.00045,
    "pl_orbeccen": 0.029, "pl_orbeccen_err_hi": 0.030, "pl_orbeccen_err_lo": 0.030,
    "st_metfe": 0.142, "st_rad": 0.2276,
}

_PS_MASS_KIND = {"mass": "true", "msini": "msini", "m-r relationship": "mass_radius"}
#: Discovery methods that report a projected separation rather than a semi-major axis.
PROJECTED_METHODS: tuple[str, ...] = ("Microlensing", "Imaging")
#: Host magnitudes carried into the stacked dataset (for the selection functions).
HOST_MAGNITUDES: tuple[str, ...] = ("sy_vmag", "sy_kmag", "sy_gaiamag")


def _abs(x: pd.Series) -> pd.Series:
    return pd.to_numeric(x, errors="coerce").abs()


def _ecc_status(e: pd.Series, err_hi: pd.Series, lim: pd.Series | None) -> pd.Series:
    status = pd.Series("measured", index=e.index, dtype=object)
    no_err = err_hi.isna() | (err_hi == 0)
    status[(e == 0) & no_err] = "fixed_zero"
    if lim is not None:
        status[lim == 1] = "upper_limit"
        status[lim == -1] = "missing"  # a lower limit carries no usable value here
    status[e.isna()] = "missing"
    return status


def ps_to_stacked(ps: pd.DataFrame) -> pd.DataFrame:
    """Map validated PSCompPars rows onto the stacked schema (before derived columns)."""
    prov = ps["pl_bmassprov"].astype(str).str.strip().str.lower()
    met_ok = ps["st_metratio"].astype(str).isin(["[Fe/H]", "[M/H]"])
    out = pd.DataFrame({
        "name": ps["pl_name"].astype(str),
        "hostname": ps["hostname"].astype(str),
        "source": "PSCompPars",
        "discoverymethod": ps["discoverymethod"].astype(object).fillna("Unknown"),
        "st_mass": ps["st_mass"], "st_mass_err_hi": _abs(ps["st_masserr1"]),
        "st_mass_err_lo": _abs(ps["st_masserr2"]),
        "pl_bmassj": ps["pl_bmassj"], "pl_bmassj_err_hi": _abs(ps["pl_bmassjerr1"]),
        "pl_bmassj_err_lo": _abs(ps["pl_bmassjerr2"]),
        "mass_kind": prov.map(_PS_MASS_KIND).fillna("other"),
        "mass_is_limit": ps["pl_bmassjlim"] == 1,
        "pl_orbper": ps["pl_orbper"], "pl_orbper_err_hi": _abs(ps["pl_orbpererr1"]),
        "pl_orbper_err_lo": _abs(ps["pl_orbpererr2"]),
        "pl_orbsmax": ps["pl_orbsmax"], "pl_orbsmax_err_hi": _abs(ps["pl_orbsmaxerr1"]),
        "pl_orbsmax_err_lo": _abs(ps["pl_orbsmaxerr2"]),
        "a_from_period": False,
        "pl_orbeccen": ps["pl_orbeccen"], "pl_orbeccen_err_hi": _abs(ps["pl_orbeccenerr1"]),
        "pl_orbeccen_err_lo": _abs(ps["pl_orbeccenerr2"]),
        "ecc_status": _ecc_status(ps["pl_orbeccen"], _abs(ps["pl_orbeccenerr1"]),
                                  ps["pl_orbeccenlim"]),
        "st_metfe": ps["st_met"].where(met_ok),
        "st_rad": ps["st_rad"],
        **{m: pd.to_numeric(ps[m], errors="coerce") if m in ps.columns else np.nan
           for m in HOST_MAGNITUDES},
    })
    return out


def bd_to_stacked(bd: pd.DataFrame) -> pd.DataFrame:
    """Map validated Brown Dwarf catalogue rows onto the stacked schema.

    The true ``mass`` is used where given, else ``msini`` (flagged ``msini``).
    """
    has_true = bd["mass"].notna()
    pick = lambda a, b: bd[a].where(has_true, bd[b])  # noqa: E731
    out = pd.DataFrame({
        "name": bd["host_star"].astype(str) + " (BD)",
        "hostname": bd["host_star"].astype(str),
        "source": "BDcat",
        "discoverymethod": bd["method"].map(map_method),
        "st_mass": bd["Mstar"], "st_mass_err_hi": _abs(bd["p_Mstar"]),
        "st_mass_err_lo": _abs(bd["m_Mstar"]),
        "pl_bmassj": pick("mass", "msini"), "pl_bmassj_err_hi": _abs(pick("p_mass", "p_msini")),
        "pl_bmassj_err_lo": _abs(pick("m_mass", "m_msini")),
        "mass_kind": np.where(has_true, "true", np.where(bd["msini"].notna(), "msini", "other")),
        "mass_is_limit": False,
        "pl_orbper": bd["period"], "pl_orbper_err_hi": _abs(bd["p_period"]),
        "pl_orbper_err_lo": _abs(bd["m_period"]),
        "pl_orbsmax": np.nan, "pl_orbsmax_err_hi": np.nan, "pl_orbsmax_err_lo": np.nan,
        "a_from_period": False,
        "pl_orbeccen": bd["ecc"], "pl_orbeccen_err_hi": _abs(bd["p_ecc"]),
        "pl_orbeccen_err_lo": _abs(bd["m_ecc"]),
        "ecc_status": _ecc_status(bd["ecc"], _abs(bd["p_ecc"]), None),
        "st_metfe": bd["FeH"],
        "st_rad": np.nan,
        **{m: np.nan for m in HOST_MAGNITUDES},
    })
    return out


def derive_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill a from the period where missing, and compute q, log q, log a and their errors."""
    out = frame.copy()
    need_a = out["pl_orbsmax"].isna() & out["pl_orbper"].notna() & out["st_mass"].notna()
    if need_a.any():
        sub = out.loc[need_a]
        a, a_hi, a_lo = orbits.semimajor_axis_errors_au(
            sub["pl_orbper"], sub["pl_orbper_err_hi"], sub["pl_orbper_err_lo"],
            sub["st_mass"], sub["st_mass_err_hi"], sub["st_mass_err_lo"],
            sub["pl_bmassj"], sub["pl_bmassj_err_hi"], sub["pl_bmassj_err_lo"],
        )
        out.loc[need_a, "pl_orbsmax"] = a
        out.loc[need_a, "pl_orbsmax_err_hi"] = a_hi
        out.loc[need_a, "pl_orbsmax_err_lo"] = a_lo
        out.loc[need_a, "a_from_period"] = True
    out["q"] = orbits.mass_ratio(out["pl_bmassj"], out["st_mass"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["logq"] = np.log10(out["q"])
        out["loga"] = np.log10(out["pl_orbsmax"])
    mc_hi, mc_lo = orbits.log10_errors(out["pl_bmassj"], out["pl_bmassj_err_hi"],
                                       out["pl_bmassj_err_lo"])
    ms_hi, ms_lo = orbits.log10_errors(out["st_mass"], out["st_mass_err_hi"],
                                       out["st_mass_err_lo"])
    out["logq_err_hi"], out["logq_err_lo"] = orbits.logq_errors(mc_hi, mc_lo, ms_hi, ms_lo)
    method = out["discoverymethod"].astype(str)
    lens = (method == "Microlensing").to_numpy()
    if lens.any():
        l_hi, l_lo = orbits.logq_errors_lens(mc_hi, mc_lo, ms_hi, ms_lo)
        out.loc[lens, "logq_err_hi"] = np.asarray(l_hi)[lens]
        out.loc[lens, "logq_err_lo"] = np.asarray(l_lo)[lens]
    out["logq_rule"] = np.where(lens, "lens", np.where(method == "Imaging",
                                                       "evolutionary_model", "quadrature"))
    from_period = out["a_from_period"].fillna(False).astype(bool)
    out["sep_kind"] = np.where(method.isin(PROJECTED_METHODS) & ~from_period,
                               "projected", "true")
    out["loga_err_hi"], out["loga_err_lo"] = orbits.log10_errors(
        out["pl_orbsmax"], out["pl_orbsmax_err_hi"], out["pl_orbsmax_err_lo"])
    return out


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def find_duplicates(ps_rows: pd.DataFrame, bd_rows: pd.DataFrame) -> pd.DataFrame:
    """Pairs (BD row, PSCompPars row) describing the same companion (rule 3 of the module).

    Returns
    -------
    pandas.DataFrame
        Columns ``bd_index``, ``ps_index``, ``bd_name``, ``ps_name``, ``rule``.
    """
    pairs = []
    ps_hosts = ps_rows["hostname"].map(_norm)
    for i, row in bd_rows.iterrows():
        same_host = ps_rows.loc[ps_hosts == _norm(row["hostname"])]
        for j, other in same_host.iterrows():
            p1, p2 = row["pl_orbper"], other["pl_orbper"]
            if np.isfinite(p1) and np.isfinite(p2):
                match, rule = abs(p1 / p2 - 1.0) <= 0.05, "host+period"
            else:
                m1, m2 = row["pl_bmassj"], other["pl_bmassj"]
                match, rule = (np.isfinite(m1) and np.isfinite(m2)
                               and max(m1, m2) / min(m1, m2) <= 1.5), "host+mass"
            if match:
                pairs.append((i, j, row["name"], other["name"], rule))
                break
    return pd.DataFrame(pairs, columns=["bd_index", "ps_index", "bd_name", "ps_name", "rule"])


@dataclass
class StackedDataset:
    """The stacked dataset and what was done to build it."""

    frame: pd.DataFrame
    duplicates: pd.DataFrame
    window: tuple[float, float]
    reference: str | None
    reference_origin: str | None
    notes: list[str] = field(default_factory=list)


def stack_catalogues(
    ps: pd.DataFrame | None,
    bd: pd.DataFrame | None,
    *,
    window: tuple[float, float] = (0.06, 0.20),
    reference: str | None = "TOI-6894 b",
    reference_overrides: dict[str, float | None] | None = None,
) -> StackedDataset:
    """Build the stacked dataset from validated catalogue frames.

    Parameters
    ----------
    ps : pandas.DataFrame or None
        Validated PSCompPars rows (:func:`~vlms_bayes.data_io.pscomppars.validate_pscomppars`).
    bd : pandas.DataFrame or None
        Validated Brown Dwarf catalogue rows.
    window : (float, float)
        Host-mass window in solar masses, inclusive.
    reference : str or None
        Reference object's name. TOI-6894 b is added from its archive parameters when the
        catalogue lacks it; any other name must be in the catalogue.
    reference_overrides : dict, optional
        ``st_mass``, ``pl_bmassj``, ``pl_orbsmax`` values replacing the reference's.

    Returns
    -------
    StackedDataset
        One row per companion, in the column order of the schema.

    Raises
    ------
    InputDataError
        If the window selects no companion, or the reference is unknown.
    """
    lo, hi = window
    if not (lo < hi):
        raise InputDataError(f"The host-mass window [{lo}, {hi}] Msun is empty; give "
                             "--mstar-min smaller than --mstar-max.")
    parts, notes = [], []
    ps_rows = ps_to_stacked(ps) if ps is not None else None
    bd_rows = bd_to_stacked(bd) if bd is not None else None
    keep_ps = None
    if ps_rows is not None:
        keep_ps = ps_rows["st_mass"].between(lo, hi) | (ps_rows["name"] == reference)
        parts.append(ps_rows.loc[keep_ps])
    dups = pd.DataFrame(columns=["bd_index", "ps_index", "bd_name", "ps_name", "rule"])
    if bd_rows is not None:
        bd_keep = bd_rows.loc[bd_rows["st_mass"].between(lo, hi)]
        if ps_rows is not None:
            dups = find_duplicates(ps_rows.loc[keep_ps], bd_keep)
            bd_keep = bd_keep.drop(index=dups["bd_index"])
        parts.append(bd_keep)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    ref_origin = None
    if reference:
        is_ref = frame["name"] == reference if len(frame) else pd.Series(dtype=bool)
        if is_ref.any():
            ref_origin = "catalogue"
        elif reference == TOI6894B["name"]:
            ref = pd.DataFrame([{**TOI6894B, "source": "reference", "a_from_period": False,
                                 "ecc_status": "measured"}])
            frame = pd.concat([frame, ref], ignore_index=True)
            ref_origin = "built-in (Bryant et al. 2025 archive values)"
            notes.append("TOI-6894 b is not in the PSCompPars input; its archive parameters "
                         "(Bryant et al. 2025) were added as the reference object.")
        else:
            raise InputDataError(
                f"The reference object {reference!r} is not in the PSCompPars input. Give a "
                "name exactly as in the archive's pl_name column, or --reference 'TOI-6894 b'."
            )
    if reference_overrides:
        col_map = {"st_mass": "st_mass", "pl_bmassj": "pl_bmassj", "pl_orbsmax": "pl_orbsmax"}
        is_ref = frame["name"] == reference
        for key, value in reference_overrides.items():
            if value is None:
                continue
            if not np.isfinite(value) or value <= 0:
                raise InputDataError(f"Override {key}={value} for {reference} must be positive.")
            frame.loc[is_ref, col_map[key]] = float(value)
            notes.append(f"{reference}: {key} overridden to {value:g} by the user.")
    frame = derive_columns(frame)
    frame["is_reference"] = frame["name"] == reference if reference else False
    frame["in_window"] = frame["st_mass"].between(lo, hi)
    n_in = int(frame["in_window"].sum())
    if n_in == 0:
        raise InputDataError(
            f"The host-mass window {lo:g}–{hi:g} Msun selects no companion from the inputs. "
            "Widen it with --mstar-min/--mstar-max, or check that the catalogue files are the "
            "right ones."
        )
    for col in ("mass_is_limit", "a_from_period", "in_window", "is_reference"):
        frame[col] = frame[col].astype(bool)
    frame = frame[list(STACKED_COLUMNS)].sort_values(
        ["is_reference", "source", "hostname", "name"], ascending=[False, True, True, True]
    ).reset_index(drop=True)
    return StackedDataset(frame, dups, (lo, hi), reference, ref_origin, notes)
