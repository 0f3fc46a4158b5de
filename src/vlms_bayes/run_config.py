"""``vlms-bayes run --config run.toml``: every setting of ``run`` in one TOML file.

The file has top-level keys (``outdir``, ``seed``, ``force``) and the sections ``[data]``,
``[baseline]``, ``[fit]`` and ``[feasibility]`` (see ``examples/run.toml`` and
:data:`SCHEMA`). Its values become the defaults of the ``run`` parser, so any option given
on the command line overrides the file. Relative paths in the file are relative to the
file's folder. An unknown section or key, or a value of the wrong type, is an
:class:`~vlms_bayes.errors.InputDataError` naming the key and the file.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlms_bayes.errors import InputDataError

#: TOML (section, key) -> (argparse dest, kind). Kinds: path, str, int, float, bool,
#: int_list, ``int_list:N`` (exactly N non-negative integers, e.g. the caps of
#: ``--integrate-candidates``), str_list, and "not_bool" for a switch stored inverted
#: (``enabled = false`` sets the command line's ``--no-fit`` / ``--skip-feasibility``,
#: ``use_bd = false`` ``--no-bd``).
SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "": {"outdir": ("outdir", "path"), "seed": ("seed", "int"), "force": ("force", "bool")},
    "data": {
        "ps": ("ps", "path"), "bd": ("bd", "path"), "use_bd": ("no_bd", "not_bool"),
        "data_dir": ("data_dir", "path"), "refresh": ("refresh", "bool"),
        "mstar_min": ("mstar_min", "float"), "mstar_max": ("mstar_max", "float"),
        "reference": ("reference", "str"), "toi_mstar": ("toi_mstar", "float"),
        "toi_mc_mj": ("toi_mc_mj", "float"), "toi_a_au": ("toi_a_au", "float"),
    },
    "baseline": {
        "q_split": ("q_split", "float"), "fixed_e": ("fixed_e", "str"),
        "n_boot": ("n_boot", "int"), "label_file": ("label_file", "path"),
        "label_column": ("label_column", "str"),
    },
    "fit": {
        "enabled": ("no_fit", "not_bool"), "components": ("components", "int"),
        "backend": ("backend", "str"), "chains": ("chains", "int"), "draws": ("draws", "int"),
        "tune": ("tune", "int"), "target_accept": ("target_accept", "float"),
        "retry_target_accept": ("retry_target_accept", "float"),
        "loo_components": ("loo_components", "int_list"),
        "logq_err_floor": ("logq_err_floor", "float"),
        "loga_err_floor": ("loga_err_floor", "float"),
        "e_err_floor": ("e_err_floor", "float"),
        "include_reference": ("include_reference", "bool"),
        "allow_bad_diagnostics": ("allow_bad_diagnostics", "bool"),
        "selection": ("selection", "str"),
        "selection_priors": ("selection_priors", "path"),
    },
    "feasibility": {
        "enabled": ("skip_feasibility", "not_bool"), "grid": ("grid", "int"),
        "draws": ("mc_draws", "int"), "horizon_gyr": ("horizon_gyr", "float"),
        "backend": ("feasibility_backend", "str"),
        "secular_triples": ("secular_check", "int"),
        "radii": ("feasibility_radii", "str"), "lags": ("feasibility_lags", "str"),
        "host_spin": ("feasibility_host_spin", "str"),
        "probability_systems": ("probability_systems", "int"),
        "integrate_candidates": ("integrate_candidates", "int_list:3"),
        "sensitivity_integrate": ("sensitivity_integrate", "int_list:2"),
        "companions": ("companions", "path"), "gaia_nss": ("gaia_nss", "bool"),
        "gaia_nss_file": ("gaia_nss_file", "path"),
        "gaia_rv_catalogue": ("gaia_rv_catalogue", "path"),
        "wide_binaries": ("wide_binaries", "bool"),
    },
    "robustness": {
        "enabled": ("robustness", "bool"), "jobs": ("robustness_jobs", "int"),
        "variants": ("robustness_variants", "str_list"),
    },
}


def _convert(value: Any, kind: str, *, where: str, base: Path) -> Any:
    def bad(what: str) -> InputDataError:
        return InputDataError(f"{where} must be {what}, got {value!r}.")

    if kind in ("bool", "not_bool"):
        if not isinstance(value, bool):
            raise bad("true or false")
        return (not value) if kind == "not_bool" else value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        return float(value)
    if kind.startswith("int_list:"):
        n = int(kind.split(":")[1])
        if not (isinstance(value, list) and len(value) == n and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
            raise bad(f"a list of {n} non-negative integers (e.g. "
                      f"{list(range(1, n + 1))})")
        return tuple(value)
    if kind == "int_list":
        if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise bad("a list of integers (e.g. [1, 2, 3])")
        return list(value)
    if kind == "str_list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad('a list of strings (e.g. ["methods", "window"])')
        return list(value)
    if not isinstance(value, str):
        raise bad("a string")
    if kind == "path":
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p
    return value


def load_run_config(path: str | Path) -> dict[str, Any]:
    """Read a ``run.toml`` into parser defaults (argparse dest -> value).

    Parameters
    ----------
    path : path-like
        The TOML file.

    Returns
    -------
    dict
        Argparse destination -> value, for ``ArgumentParser.set_defaults``.

    Raises
    ------
    InputDataError
        The file is missing or not TOML, or has an unknown section/key or a wrong type.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputDataError(f"Config file {path} not found; give the path of a run.toml "
                             "(see examples/run.toml).")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputDataError(f"Config file {path} is not valid TOML: {exc}.") from exc
    base = path.resolve().parent
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            if key not in SCHEMA or key == "":
                known = ", ".join(f"[{s}]" for s in SCHEMA if s)
                raise InputDataError(f"Unknown section [{key}] in config file {path}; "
                                     f"known sections: {known}.")
            items, section = value.items(), key
        else:
            items, section = [(key, value)], ""
        for k, v in items:
            spec = SCHEMA[section].get(k)
            label = f"{section}.{k}" if section else k
            if spec is None:
                known = ", ".join(sorted(SCHEMA[section]))
                where = f"section [{section}]" if section else "the top level"
                raise InputDataError(f"Unknown key '{label}' in config file {path}; keys "
                                     f"allowed in {where}: {known}.")
            dest, kind = spec
            out[dest] = _convert(v, kind, where=f"'{label}' in {path}", base=base)
    return out


def apply_config(parser: argparse.ArgumentParser, subparser: argparse.ArgumentParser,
                 config_path: str | Path, argv: Sequence[str] | None) -> argparse.Namespace:
    """Re-parse ``argv`` with the config file's values as the subcommand's defaults.

    Options given on the command line therefore override the file.
    """
    defaults = load_run_config(config_path)
    for action in subparser._actions:
        if action.choices is not None and action.dest in defaults \
                and defaults[action.dest] not in action.choices:
            raise InputDataError(
                f"{action.dest} = {defaults[action.dest]!r} in config file {config_path} is "
                f"not one of {', '.join(map(str, action.choices))}.")
    subparser.set_defaults(**defaults)
    return parser.parse_args(argv)
