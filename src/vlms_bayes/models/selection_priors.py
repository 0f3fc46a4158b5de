"""Documented priors of the selection-function parameters, and their TOML files.

Every parameter of the per-method detection probabilities that the literature on M-dwarf
surveys constrains only to a range has a :class:`SelectionPrior`: a central value (what
the fit uses), a plausible low and high (what the robustness suite's selection variants
use), its unit and where the numbers come from. The defaults ship with the package as
``selection_priors.toml`` (shown in docs/selection.md); a user's file given with
``--selection-priors`` overrides any of them.

File format
-----------
One table per parameter, under its method::

    [rv.k_threshold]
    value = "1.5 m/s"        # astropy.units string; plain numbers for dimensionless,
    low = "0.8 m/s"          # dex and magnitude parameters
    high = "3 m/s"
    sensitivity = true       # varied by the robustness suite
    citation = "..."

or, to change only the central value, one key under the method's table::

    [rv]
    k_threshold = "2 m/s"

An unknown method or parameter, a value that is not a number (with a unit where one is
needed), a unit that does not convert to the parameter's, a low above the high, or a
central value outside [low, high] is an :class:`~vlms_bayes.errors.InputDataError` that
names the key and the file.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from astropy import units as u

from vlms_bayes.errors import InputDataError
from vlms_bayes.models.selection import SelectionModel

#: The package's defaults (next to this module).
DEFAULT_PRIORS_FILE: str = "selection_priors.toml"
_FIELDS: frozenset[str] = frozenset({"value", "low", "high", "sensitivity", "citation"})


def _identity(x: float) -> float:
    return x


def _log10(x: float) -> float:
    return math.log10(x)


@dataclass(frozen=True)
class _Target:
    """Where a prior's value goes in a :class:`SelectionModel`."""

    kind: str
    field: str
    unit: str  # canonical unit ("" dimensionless)
    transform: Callable[[float], float] = _identity
    positive: bool = True
    at_most_one: bool = False


#: Parameter key -> the :class:`SelectionModel` field it sets, in its canonical unit.
TARGETS: dict[str, _Target] = {
    "rv.k_threshold": _Target("rv", "k_threshold_ms", "m/s"),
    "rv.k_floor": _Target("rv", "k_floor_ms", "m/s"),
    "rv.mag_ref": _Target("rv", "mag_ref", "mag", positive=False),
    "rv.baseline": _Target("rv", "baseline_yr", "yr"),
    "transit.depth_threshold": _Target("transit", "depth_threshold", "", at_most_one=True),
    "transit.baseline": _Target("transit", "baseline_day", "d"),
    "imaging.q_min": _Target("imaging", "logq_min", "", _log10, at_most_one=True),
    "imaging.iwa": _Target("imaging", "iwa_arcsec", "arcsec"),
    "microlensing.zone_width": _Target("microlensing", "zone_width_dex", "dex"),
    "microlensing.q_min": _Target("microlensing", "logq_min", "", _log10, at_most_one=True),
    "astrometry.alpha_threshold": _Target("astrometry", "alpha_threshold_mas", "mas"),
}


@dataclass(frozen=True, kw_only=True)
class SelectionPrior:
    """One selection parameter's prior.

    Attributes
    ----------
    key : str
        ``method.parameter`` (a key of :data:`TARGETS`).
    value, low, high : float
        Central value and plausible range, in ``unit``.
    unit : str
        The canonical unit (astropy string; "" for dimensionless).
    citation : str
        Where the numbers come from.
    sensitivity : bool
        Whether the robustness suite refits at ``low`` and ``high``.
    """

    key: str
    value: float
    low: float
    high: float
    unit: str
    citation: str = ""
    sensitivity: bool = False

    def model_value(self, which: str = "value") -> float:
        """The value (or ``low``/``high``) as the :class:`SelectionModel` field takes it."""
        return TARGETS[self.key].transform(getattr(self, which))

    def describe(self, which: str = "value") -> str:
        """``1.5 m/s``-style text of the value, low or high."""
        v = getattr(self, which)
        return f"{v:g} {self.unit}".strip() if self.unit else f"{v:g}"


@dataclass(frozen=True)
class SelectionPriors:
    """The priors of every selection parameter and the file they came from.

    Attributes
    ----------
    priors : tuple of SelectionPrior
        One per key of :data:`TARGETS`, in its order.
    source : str
        ``"package default"`` or the path of the file that overrode some of them.
    """

    priors: tuple[SelectionPrior, ...]
    source: str = "package default"

    def __getitem__(self, key: str) -> SelectionPrior:
        for p in self.priors:
            if p.key == key:
                return p
        raise KeyError(key)

    def model(self, base: SelectionModel | None = None, *,
              at: Mapping[str, str] | None = None) -> SelectionModel:
        """A :class:`SelectionModel` with these central values.

        Parameters
        ----------
        base : SelectionModel, optional
            Settings not covered by a prior (quadrature, host treatment, widths) come from
            it (default: :class:`SelectionModel`'s).
        at : mapping, optional
            Key -> ``"low"`` or ``"high"``: take that end of the range for these keys.
        """
        model = dataclasses.replace(base or SelectionModel(), priors_file=self.file)
        at = dict(at or {})
        unknown = sorted(set(at) - set(TARGETS))
        if unknown:
            raise InputDataError(f"Unknown selection parameter(s) {unknown}; valid: "
                                 f"{sorted(TARGETS)}.")
        per_kind: dict[str, dict[str, float]] = {}
        for p in self.priors:
            t = TARGETS[p.key]
            per_kind.setdefault(t.kind, {})[t.field] = p.model_value(at.get(p.key, "value"))
        return dataclasses.replace(model, **{
            kind: dataclasses.replace(getattr(model, kind), **fields)
            for kind, fields in per_kind.items()})

    @property
    def file(self) -> str | None:
        """The user's file these priors were read from (None: the package defaults)."""
        return None if self.source == "package default" else self.source

    def sensitivity_keys(self) -> list[str]:
        """Keys the robustness suite varies (``sensitivity = true``), in file order."""
        return [p.key for p in self.priors if p.sensitivity]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for run.json."""
        return {"source": self.source,
                "priors": {p.key: dataclasses.asdict(p) for p in self.priors}}


def _where(path: str, key: str) -> str:
    return f"selection priors file {path}, key {key!r}"


def parse_quantity(raw: Any, unit: str, *, key: str, path: str) -> float:
    """A TOML value as a float in ``unit`` (astropy.units string or a plain number).

    Plain numbers are accepted for dimensionless, dex and magnitude parameters; a
    dimensional parameter needs its unit in a string.

    Raises
    ------
    InputDataError
        Not a number, a number without a needed unit, or a unit that does not convert.
    """
    target = u.Unit(unit) if unit else u.dimensionless_unscaled
    plain_ok = unit in ("", "dex", "mag")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InputDataError(f"{_where(path, key)}: {raw!r} is not a number; give e.g. "
                             f"{'2e-3' if plain_ok else repr('1.5 ' + unit)}.")
    if isinstance(raw, int | float):
        if not plain_ok:
            raise InputDataError(f"{_where(path, key)}: {raw!r} has no unit; give it as a "
                                 f"string with a unit convertible to {unit}, e.g. "
                                 f"\"{raw} {unit}\".")
        value = float(raw)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", u.UnitsWarning)
                q = u.Quantity(raw)
        except (TypeError, ValueError) as exc:
            raise InputDataError(f"{_where(path, key)}: cannot read {raw!r} as a number with "
                                 f"a unit ({exc}); give e.g. "
                                 f"\"{'0.002' if not unit else '1.5 ' + unit}\".") from None
        if q.unit == u.dimensionless_unscaled and plain_ok:
            value = float(q.value)
        else:
            try:
                value = float(q.to_value(target))
            except u.UnitConversionError:
                raise InputDataError(
                    f"{_where(path, key)}: {raw!r} is in {q.unit}, which does not convert "
                    f"to {unit or 'a dimensionless number'}.") from None
    if not math.isfinite(value):
        raise InputDataError(f"{_where(path, key)}: {raw!r} is not a finite number.")
    return value


def _check(p: SelectionPrior, path: str) -> None:
    t = TARGETS[p.key]
    if p.low > p.high:
        raise InputDataError(f"{_where(path, p.key)}: low ({p.describe('low')}) is above "
                             f"high ({p.describe('high')}).")
    if not p.low <= p.value <= p.high:
        raise InputDataError(f"{_where(path, p.key)}: the value {p.describe()} lies outside "
                             f"its plausible range [{p.describe('low')}, "
                             f"{p.describe('high')}]; give low and high too.")
    if t.positive and p.low <= 0:
        raise InputDataError(f"{_where(path, p.key)}: must be positive, got low "
                             f"{p.describe('low')}.")
    if t.at_most_one and p.high > 1:
        raise InputDataError(f"{_where(path, p.key)}: a ratio must not exceed 1, got high "
                             f"{p.describe('high')}.")


def _entries(doc: Mapping[str, Any], path: str) -> dict[str, dict[str, Any]]:
    """``method.parameter`` -> its fields, from a parsed TOML document."""
    out: dict[str, dict[str, Any]] = {}
    kinds = sorted({k.split(".")[0] for k in TARGETS})
    for kind, table in doc.items():
        if kind not in kinds:
            raise InputDataError(f"{_where(path, kind)}: unknown method; valid: "
                                 f"{', '.join(kinds)}.")
        if not isinstance(table, Mapping):
            raise InputDataError(f"{_where(path, kind)}: expected a table of parameters "
                                 f"([{kind}]), got {table!r}.")
        for name, entry in table.items():
            key = f"{kind}.{name}"
            if key not in TARGETS:
                valid = sorted(k.split(".", 1)[1] for k in TARGETS if k.startswith(kind + "."))
                raise InputDataError(f"{_where(path, key)}: unknown parameter; valid for "
                                     f"{kind}: {', '.join(valid)}.")
            if isinstance(entry, Mapping):
                bad = sorted(set(entry) - _FIELDS)
                if bad:
                    raise InputDataError(f"{_where(path, key)}: unknown field(s) {bad}; "
                                         f"valid: {', '.join(sorted(_FIELDS))}.")
                out[key] = dict(entry)
            else:
                out[key] = {"value": entry}
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputDataError(f"Selection priors file {path} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputDataError(f"Selection priors file {path} is not valid TOML: {exc}.") from None


def _apply(base: dict[str, SelectionPrior], entries: Mapping[str, Mapping[str, Any]],
           path: str) -> dict[str, SelectionPrior]:
    out = dict(base)
    for key, fields in entries.items():
        t = TARGETS[key]
        old = out.get(key)
        kw: dict[str, Any] = {}
        for f in ("value", "low", "high"):
            if f in fields:
                kw[f] = parse_quantity(fields[f], t.unit, key=f"{key}.{f}" if f != "value"
                                       else key, path=path)
        if "citation" in fields:
            if not isinstance(fields["citation"], str):
                raise InputDataError(f"{_where(path, key + '.citation')}: expected text.")
            kw["citation"] = fields["citation"]
        if "sensitivity" in fields:
            if not isinstance(fields["sensitivity"], bool):
                raise InputDataError(f"{_where(path, key + '.sensitivity')}: expected true or "
                                     "false.")
            kw["sensitivity"] = fields["sensitivity"]
        if old is None:
            missing = [f for f in ("value", "low", "high") if f not in kw]
            if missing:
                raise InputDataError(f"{_where(path, key)}: the package defaults need value, "
                                     f"low and high; missing {missing}.")
            new = SelectionPrior(key=key, unit=t.unit, **kw)
        else:
            new = dataclasses.replace(old, **kw)
        _check(new, path)
        out[key] = new
    return out


def default_selection_priors() -> SelectionPriors:
    """The package's priors (``selection_priors.toml`` next to this module)."""
    ref = resources.files("vlms_bayes.models").joinpath(DEFAULT_PRIORS_FILE)
    with resources.as_file(ref) as path:
        doc = _read_toml(Path(path))
    got = _apply({}, _entries(doc, DEFAULT_PRIORS_FILE), DEFAULT_PRIORS_FILE)
    missing = [k for k in TARGETS if k not in got]
    if missing:  # a packaging error, not a user's
        raise InputDataError(f"The package's {DEFAULT_PRIORS_FILE} lacks {missing}.")
    return SelectionPriors(tuple(got[k] for k in TARGETS))


def load_selection_priors(path: str | Path | None) -> SelectionPriors:
    """The package's priors, overridden by the TOML file at ``path`` (None: defaults).

    Raises
    ------
    InputDataError
        A missing or malformed file, or any bad key, value or unit in it (the message names
        the key and the file).
    """
    defaults = default_selection_priors()
    if path is None:
        return defaults
    p = Path(path).expanduser()
    entries = _entries(_read_toml(p), str(p))
    got = _apply({q.key: q for q in defaults.priors}, entries, str(p))
    return SelectionPriors(tuple(got[k] for k in TARGETS), source=str(p))
