"""Inputs of ``vlms-bayes calibrate``: a truth file (TOML or JSON) and a design table.

A truth file (``--truth``) holds one value per Gaussian component for each population
parameter, at the top level or under a ``[truth]`` table, e.g.::

    [truth]
    w = [0.75, 0.25]
    mu_logq = [-4.6, -1.8]
    mu_loga = [-1.3, 0.3]
    sigma_logq = [0.5, 0.5]
    sigma_loga = [0.4, 0.5]
    rho = [0.0, 0.0]
    e_alpha = [1.0, 1.5]
    e_beta = [8.0, 3.0]

A design table (``--design``) is a stacked CSV, e.g. the ``stacked_used.csv`` of a fit.
This module only reads the files; the truth's keys are checked by
:func:`vlms_bayes.models.simulate_prior.truth_from_mapping`, the design's columns by
:func:`vlms_bayes.models.data.model_data_from_stacked`.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from vlms_bayes.errors import InputDataError


def read_truth_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The truth mapping of a ``.toml`` or ``.json`` file (its ``truth`` table if it has one).

    Raises
    ------
    InputDataError
        A missing or unreadable file, an unknown suffix, a syntax error (with its
        position), or a document that is not a table of keys.
    """
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise InputDataError(f"Truth file {p}: give a .toml or .json file, not {suffix!r}.")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputDataError(f"Truth file {p} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputDataError(f"Truth file {p} cannot be read: {exc}.") from exc
    try:
        doc: Any = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputDataError(f"Truth file {p} is not valid TOML: {exc}.") from exc
    except json.JSONDecodeError as exc:
        raise InputDataError(f"Truth file {p} is not valid JSON: {exc.msg} at line "
                             f"{exc.lineno}, column {exc.colno}.") from exc
    if isinstance(doc, dict) and "truth" in doc:
        doc = doc["truth"]
    if not isinstance(doc, dict):
        raise InputDataError(f"Truth file {p}: expected a table of parameters (key = list of "
                             f"values), got {type(doc).__name__}.")
    return doc


def read_design_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A stacked table (CSV) whose rows give ``calibrate`` its design.

    Raises
    ------
    InputDataError
        A missing, unreadable or empty file.
    """
    p = Path(path).expanduser()
    try:
        frame = pd.read_csv(p, low_memory=False)
    except FileNotFoundError as exc:
        raise InputDataError(f"Design file {p} does not exist.") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise InputDataError(f"Design file {p} cannot be read as CSV: {exc}.") from exc
    if frame.empty:
        raise InputDataError(f"Design file {p} has no rows.")
    return frame
