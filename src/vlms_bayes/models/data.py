"""Turn the stacked dataset into the arrays the mixture model and its NumPy twin use.

Measurement model
-----------------
* ``log q`` and ``log a`` (log10) are observed with Gaussian noise. The catalogue's
  asymmetric errors (``*_err_hi``, ``*_err_lo``, positive) become one standard deviation,
  their mean; a missing error (or one below the floor) is replaced by a configurable
  floor (default 0.05 dex in log q, 0.02 dex in log a). A split normal would break the
  analytic convolution with the population normals, and the asymmetry in log space is
  small for nearly all catalogue rows.
* **Method-aware errors of log q** (the stacked column ``logq_rule``,
  :mod:`vlms_bayes.data_io.stack`): microlensing rows carry the error of the measured
  mass ratio, σ(log q)² = σ(log M_c)² − σ(log M_L)² (both masses share the lens-mass
  error), floored at ``lens_logq_err_floor`` (0.03 dex, ≈ 7 % in q: the archive rounds
  masses to two significant figures, which alone leaves ≈ 0.02 dex of noise in the
  difference, and light-curve fits give q to a few to ~15 %); imaged companions, whose
  masses come from evolutionary models at an uncertain age, have σ(log q) floored at
  ``model_mass_logq_err_floor`` (0.1 dex: masses change by 20–30 % between model grids
  and across the age range of young hosts; Bowler 2016, PASP 128, 102001). Every other
  row adds host and companion errors in quadrature. ``lens_errors=False`` restores the
  quadrature sum for microlensing (for the ablation in docs/bayes.md).
* ``mass_kind == "msini"`` rows observe log q + log10(sin i) with an isotropic
  inclination, which the likelihood marginalises by an adaptive quadrature
  (:func:`vlms_bayes.models.likelihood.msini_qa_logpdf`). Other mass kinds are
  treated as true masses.
* **Projected separations** (``sep_kind == "projected"``: microlensing and imaging rows
  without an orbit) observe log a + log10(sin φ), with φ the angle between the
  star–companion line and the line of sight. For a circular orbit seen from an isotropic
  direction at a random phase, cos φ is uniform on (0, 1) — the distribution of cos i —
  so sin φ has the same density as sin i, and the likelihood marginalises it with the
  same kernel, the roles of log q and log a swapped. (An eccentric orbit's separation
  r ≠ a adds a spread the model ignores.) ``projection=False`` treats them as semi-major
  axes (the former model; for the ablation). A row cannot be both a minimum mass and a
  projected separation (no catalogue row is).
* Eccentricities: ``measured`` values observe the true e with Gaussian noise (mean of
  the two errors, floored at ``e_err_floor`` = 0.05); ``upper_limit`` rows say only
  that e < the limit (a censored term); ``fixed_zero`` rows (e = 0 without an error:
  assumed, not measured) are *unknown* by default, or measured at e = 0 with the floor error when
  ``fixed_zero="measured"``; ``missing`` rows contribute nothing to the e part but still
  inform (log q, log a).
* Rows whose mass is only a limit (``mass_is_limit``) are left out: a limit is not a mass.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from vlms_bayes import orbits
from vlms_bayes.data_io.schema import model_view, require_columns
from vlms_bayes.errors import InputDataError

log = logging.getLogger(__name__)

#: Codes of the eccentricity information of a row.
E_NONE, E_MEASURED, E_LIMIT = 0, 1, 2


@dataclass(frozen=True, kw_only=True)
class MeasurementConfig:
    """How catalogue uncertainties become a likelihood.

    Parameters
    ----------
    logq_err_floor, loga_err_floor : float
        Smallest (and missing-value) standard deviation of log10 q and log10 a, dex.
    e_err_floor : float
        Smallest (and missing-value) standard deviation of a measured eccentricity.
    fixed_zero : {"unknown", "measured"}
        How to treat e = 0 orbits given without an uncertainty.
    lens_logq_err_floor : float
        Floor of σ(log10 q) for microlensing rows (``logq_rule == "lens"``), dex.
    model_mass_logq_err_floor : float
        Floor of σ(log10 q) for masses from evolutionary models (imaging), dex.
    lens_errors : bool
        Use the microlensing rule for σ(log q) (False: host and companion mass errors
        in quadrature, the former treatment).
    projection : bool
        Marginalise projected separations over the projection (False: treat them as
        semi-major axes, the former treatment).
    """

    logq_err_floor: float = 0.05
    loga_err_floor: float = 0.02
    e_err_floor: float = 0.05
    fixed_zero: Literal["unknown", "measured"] = "unknown"
    lens_logq_err_floor: float = 0.03
    model_mass_logq_err_floor: float = 0.10
    lens_errors: bool = True
    projection: bool = True

    def __post_init__(self) -> None:
        for name in ("logq_err_floor", "loga_err_floor", "e_err_floor", "lens_logq_err_floor",
                     "model_mass_logq_err_floor"):
            if not getattr(self, name) > 0:
                raise InputDataError(f"{name} must be positive, got {getattr(self, name)!r}.")
        if self.fixed_zero not in ("unknown", "measured"):
            raise InputDataError(
                f"fixed_zero must be 'unknown' or 'measured', got {self.fixed_zero!r}.")

    def to_dict(self) -> dict[str, object]:
        """Plain dict for run.json."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class ModelData:
    """Arrays of one fitted sample (one entry per object, in ``names`` order)."""

    names: tuple[str, ...]
    y_logq: NDArray[np.float64]
    s_logq: NDArray[np.float64]
    y_loga: NDArray[np.float64]
    s_loga: NDArray[np.float64]
    msini: NDArray[np.bool_]
    e_kind: NDArray[np.int64]
    e_obs: NDArray[np.float64]
    s_e: NDArray[np.float64]
    e_limit: NDArray[np.float64]
    methods: tuple[str, ...] = field(default=())
    #: Host masses (Msun) for the selection functions (empty when not needed).
    m_star_msun: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    #: True where log a is a projected separation (empty: none is).
    projected: NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, bool))
    #: Host magnitudes V, Ks and Gaia G for the selection functions (NaN: unknown;
    #: empty: not given).
    host_vmag: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    host_kmag: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    host_gmag: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))

    @property
    def n(self) -> int:
        """Number of objects."""
        return len(self.names)

    @property
    def is_projected(self) -> NDArray[np.bool_]:
        """Projected-separation flag of each object (all False when none was given)."""
        if len(self.projected) == self.n:
            return np.asarray(self.projected, bool)
        return np.zeros(self.n, bool)

    @property
    def plain(self) -> NDArray[np.bool_]:
        """Objects with a true mass and a true semi-major axis (no projection kernel)."""
        return ~np.asarray(self.msini, bool) & ~self.is_projected

    @property
    def idx_measured(self) -> NDArray[np.int64]:
        """Indices of objects with a measured eccentricity."""
        return np.flatnonzero(self.e_kind == E_MEASURED)

    @property
    def idx_limit(self) -> NDArray[np.int64]:
        """Indices of objects with an eccentricity upper limit."""
        return np.flatnonzero(self.e_kind == E_LIMIT)


def _sigma(frame: pd.DataFrame, col: str, floor: float) -> NDArray[np.float64]:
    hi, lo = _number(frame, f"{col}_err_hi"), _number(frame, f"{col}_err_lo")
    both = np.where(np.isnan(hi), lo, np.where(np.isnan(lo), hi, 0.5 * (np.abs(hi) + np.abs(lo))))
    return np.fmax(np.nan_to_num(both, nan=floor), floor)


def _text(frame: pd.DataFrame, col: str, default: str) -> NDArray[np.str_]:
    if col not in frame.columns:
        return np.full(len(frame), default)
    return frame[col].fillna(default).astype(str).to_numpy()


def _number(frame: pd.DataFrame, col: str) -> NDArray[np.float64]:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(float)


def logq_sigma(rows: pd.DataFrame, cfg: MeasurementConfig) -> NDArray[np.float64]:
    """σ(log10 q) of each row by its ``logq_rule``, with the rule's floor (module docstring).

    Rows without the column (stacked files written before it existed) are treated by
    their discovery method: microlensing as ``"lens"``, imaging as ``"evolutionary_model"``
    — but their stored errors are then the quadrature sum, so rebuild the stacked file with
    ``vlms-bayes data`` to get the microlensing rule.
    """
    method = _text(rows, "discoverymethod", "")
    default_rule = np.where(method == "Microlensing", "lens",
                            np.where(method == "Imaging", "evolutionary_model", "quadrature"))
    rule = (_text(rows, "logq_rule", "") if "logq_rule" in rows.columns
            else default_rule)
    rule = np.where(rule == "", default_rule, rule)
    sig = _sigma(rows, "logq", cfg.logq_err_floor)
    lens = rule == "lens"
    if lens.any():
        if cfg.lens_errors:
            sig_lens = _sigma(rows, "logq", cfg.lens_logq_err_floor)
        else:  # the former treatment: both mass errors in quadrature
            mc = orbits.log10_errors(_number(rows, "pl_bmassj"), _number(rows, "pl_bmassj_err_hi"),
                                     _number(rows, "pl_bmassj_err_lo"))
            ms = orbits.log10_errors(_number(rows, "st_mass"), _number(rows, "st_mass_err_hi"),
                                     _number(rows, "st_mass_err_lo"))
            hi, lo = orbits.logq_errors(mc[0], mc[1], ms[0], ms[1])
            both = np.where(np.isnan(hi), lo, np.where(np.isnan(lo), hi, 0.5 * (hi + lo)))
            sig_lens = np.fmax(np.nan_to_num(both, nan=cfg.logq_err_floor), cfg.logq_err_floor)
        sig = np.where(lens, sig_lens, sig)
    model_mass = rule == "evolutionary_model"
    return np.where(model_mass, np.fmax(sig, cfg.model_mass_logq_err_floor), sig)


def model_data_from_stacked(
    stacked: pd.DataFrame,
    *,
    measurement: MeasurementConfig | None = None,
    include_reference: bool = False,
    min_rows: int = 3,
) -> tuple[ModelData, pd.DataFrame]:
    """Select the model's rows of the stacked dataset and build its arrays.

    Parameters
    ----------
    stacked : pandas.DataFrame
        The stacked dataset (:mod:`vlms_bayes.data_io.schema`).
    measurement : MeasurementConfig, optional
        Error floors and the treatment of fixed-zero eccentricities.
    include_reference : bool
        Also fit the reference object when it lies outside the host-mass window.
    min_rows : int
        Fewest rows accepted (a population fit needs a few; scoring one object needs 1).

    Returns
    -------
    data : ModelData
        The arrays.
    rows : pandas.DataFrame
        The stacked rows used, in the same order (the "exact data used").

    Raises
    ------
    InputDataError
        Missing columns, non-finite log q / log a, or fewer rows than the model needs.
    """
    cfg = measurement or MeasurementConfig()
    need = ("name", "logq", "loga", "pl_bmassj", "pl_orbsmax", "st_mass", "mass_kind",
            "pl_orbeccen", "ecc_status", "in_window", "is_reference")
    require_columns(stacked, need, what="The stacked dataset",
                    fix="Build it with 'vlms-bayes data' or the vlms_bayes.pipeline loader.")
    rows = model_view(stacked, include_reference=include_reference)
    if "mass_is_limit" in rows.columns:
        lim = rows["mass_is_limit"].fillna(False).astype(bool).to_numpy()
        if lim.any():
            # named with their reason by left_out_objects (one warning from the fit)
            log.debug("leaving out %d row(s) whose companion mass is only a limit", lim.sum())
            rows = rows.loc[~lim].reset_index(drop=True)
    yq = pd.to_numeric(rows["logq"], errors="coerce").to_numpy(float)
    ya = pd.to_numeric(rows["loga"], errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(yq) & np.isfinite(ya))
    if bad.any():
        names = rows.loc[bad, "name"].astype(str).tolist()[:5]
        raise InputDataError(
            f"{bad.sum()} row(s) have no finite logq/loga although they have a mass and an a "
            f"(e.g. {names}); check pl_bmassj, st_mass and pl_orbsmax of those rows.")
    if len(rows) < min_rows:
        raise InputDataError(
            f"Only {len(rows)} object(s) have a companion mass and a semi-major axis in the "
            "host-mass window; widen --mstar-min/--mstar-max or check the catalogue.")
    status = rows["ecc_status"].astype(str).to_numpy()
    e_val = pd.to_numeric(rows["pl_orbeccen"], errors="coerce").to_numpy(float)
    kind = np.full(len(rows), E_NONE, dtype=np.int64)
    kind[(status == "measured") & np.isfinite(e_val)] = E_MEASURED
    if cfg.fixed_zero == "measured":
        kind[status == "fixed_zero"] = E_MEASURED
        e_val = np.where(status == "fixed_zero", 0.0, e_val)
    lim_ok = (status == "upper_limit") & np.isfinite(e_val) & (e_val > 0) & (e_val < 1)
    kind[lim_ok] = E_LIMIT
    s_e = _sigma(rows, "pl_orbeccen", cfg.e_err_floor)
    msini = (rows["mass_kind"].astype(str) == "msini").to_numpy()
    projected = (_text(rows, "sep_kind", "true") == "projected") & cfg.projection
    both = msini & projected
    if both.any():
        names = rows.loc[both, "name"].astype(str).tolist()[:5]
        raise InputDataError(
            f"{both.sum()} row(s) have both a minimum mass (mass_kind 'msini') and a "
            f"projected separation (sep_kind 'projected'), e.g. {names}; the model has no "
            "kernel for both. Set sep_kind to 'true' or mass_kind to 'true' for those rows.")
    data = ModelData(
        names=tuple(rows["name"].astype(str)),
        y_logq=yq, s_logq=logq_sigma(rows, cfg),
        y_loga=ya, s_loga=_sigma(rows, "loga", cfg.loga_err_floor),
        msini=msini, projected=projected,
        e_kind=kind,
        e_obs=np.where(kind == E_MEASURED, e_val, np.nan),
        s_e=np.where(kind == E_MEASURED, s_e, np.nan),
        e_limit=np.where(kind == E_LIMIT, e_val, np.nan),
        methods=tuple(rows.get("discoverymethod", pd.Series([""] * len(rows))).astype(str)),
        m_star_msun=pd.to_numeric(rows["st_mass"], errors="coerce").to_numpy(float),
        host_vmag=_number(rows, "sy_vmag"), host_kmag=_number(rows, "sy_kmag"),
        host_gmag=_number(rows, "sy_gaiamag"),
    )
    return data, rows


def left_out_objects(stacked: pd.DataFrame, *, include_reference: bool = False) -> pd.DataFrame:
    """Objects of the fitted sample that the model leaves out, each with its reason.

    The sample is the host-mass window (plus the reference object with
    ``include_reference``); :func:`model_data_from_stacked` keeps only rows with a
    companion mass, a semi-major axis and a host mass, and no rows whose mass is a limit.
    This names every other row of the sample, so that no object disappears silently.

    Parameters
    ----------
    stacked : pandas.DataFrame
        The stacked dataset.
    include_reference : bool
        As in :func:`model_data_from_stacked`.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``discoverymethod``, ``source`` and ``reason`` (the missing
        values, e.g. "no semi-major axis (pl_orbsmax)"), in catalogue order; empty when
        nothing is left out.
    """
    cols = ["name", "discoverymethod", "source", "reason"]
    if not {"name", "in_window"} <= set(stacked.columns):
        return pd.DataFrame(columns=cols)
    sample = stacked["in_window"].fillna(False).astype(bool)
    if include_reference and "is_reference" in stacked.columns:
        sample |= stacked["is_reference"].fillna(False).astype(bool)
    rows = stacked.loc[sample]
    checks = (("pl_bmassj", "no companion mass (pl_bmassj)"),
              ("pl_orbsmax", "no semi-major axis (pl_orbsmax) nor a period to derive it from"),
              ("st_mass", "no host mass (st_mass)"))
    reasons = [[] for _ in range(len(rows))]
    for col, why in checks:
        miss = rows[col].isna().to_numpy() if col in rows.columns else np.ones(len(rows), bool)
        for i in np.flatnonzero(miss):
            reasons[i].append(why)
    if "mass_is_limit" in rows.columns:
        lim = rows["mass_is_limit"].fillna(False).astype(bool).to_numpy()
        for i in np.flatnonzero(lim):
            if not reasons[i]:
                reasons[i].append("companion mass is only a limit")
    keep = [i for i, r in enumerate(reasons) if r]
    out = pd.DataFrame({
        "name": rows["name"].astype(str).to_numpy()[keep],
        "discoverymethod": rows.get("discoverymethod", pd.Series([""] * len(rows)))
        .fillna("").astype(str).to_numpy()[keep],
        "source": rows.get("source", pd.Series([""] * len(rows))).fillna("").astype(str)
        .to_numpy()[keep],
        "reason": ["; ".join(reasons[i]) for i in keep]}, columns=cols)
    return out.reset_index(drop=True)
