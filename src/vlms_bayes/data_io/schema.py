"""The stacked dataset: one row per companion, the contract between data and analysis.

``vlms_companions_stacked.csv`` keeps the original system's columns
(``st_mass, pl_bmassj, q, pl_orbsmax, pl_orbeccen, discoverymethod, st_metfe, logq, loga,
source``) and adds, for every measured quantity, its upper and lower uncertainty as
*positive* numbers (``*_err_hi``, ``*_err_lo``; NaN when the catalogue gives none) and
flags that say what each number is.

Flags
-----
``mass_kind``
    ``"true"`` (a dynamical or transit true mass), ``"msini"`` (a minimum mass),
    ``"mass_radius"`` (from a mass–radius relation), or ``"other"``.
``ecc_status``
    ``"measured"`` (a value with an uncertainty, or a value > 0 given without one),
    ``"upper_limit"`` (``pl_orbeccen`` is an upper limit), ``"fixed_zero"`` (e = 0 with no
    uncertainty: a circular orbit that was assumed, not measured), or ``"missing"``.
``a_from_period``
    True where ``pl_orbsmax`` was derived from the period by Kepler's third law.
``sep_kind``
    ``"true"`` (a semi-major axis from an orbit or a period) or ``"projected"`` (a
    projected separation: microlensing and imaging rows without a period).
``logq_rule``
    How the log q uncertainty was obtained: ``"quadrature"`` (independent host and
    companion mass errors), ``"lens"`` (microlensing: q measured, both masses share the
    lens-mass error) or ``"evolutionary_model"`` (imaging: masses from evolutionary
    models, whose systematics the model adds as a floor).
``sy_vmag``, ``sy_kmag``, ``sy_gaiamag``
    Host magnitudes (V, Ks, Gaia G) where the archive gives them, for the selection
    functions (radial-velocity precision depends on the host's brightness).
``in_window``
    True where the host mass lies inside the host-mass window of the run.
``is_reference``
    True for the reference object (TOI-6894 b by default). It is scored by every
    classifier; it is fitted only when its host lies inside the window (e.g. when the
    window is widened to 0.06–0.21 Msun), like any other row.

Views
-----
:func:`complete_case` gives the original complete-case view used by the frequentist
baselines (in-window rows with M_star, M_c, a and e all present, e not an upper limit);
:func:`model_view` gives every in-window row with mass and a, for the Bayesian model,
which handles missing, fixed and limited eccentricities in its likelihood.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from vlms_bayes.errors import InputDataError

#: Columns of the original system, in its order.
ORIGINAL_COLUMNS: tuple[str, ...] = (
    "st_mass", "pl_bmassj", "q", "pl_orbsmax", "pl_orbeccen", "discoverymethod",
    "st_metfe", "logq", "loga", "source",
)

#: All columns of the stacked dataset, in file order.
STACKED_COLUMNS: tuple[str, ...] = (
    "name", "hostname", "source", "discoverymethod",
    "st_mass", "st_mass_err_hi", "st_mass_err_lo",
    "pl_bmassj", "pl_bmassj_err_hi", "pl_bmassj_err_lo", "mass_kind", "mass_is_limit",
    "q", "logq", "logq_err_hi", "logq_err_lo",
    "pl_orbper", "pl_orbper_err_hi", "pl_orbper_err_lo",
    "pl_orbsmax", "pl_orbsmax_err_hi", "pl_orbsmax_err_lo", "a_from_period", "sep_kind",
    "loga", "loga_err_hi", "loga_err_lo", "logq_rule",
    "pl_orbeccen", "pl_orbeccen_err_hi", "pl_orbeccen_err_lo", "ecc_status",
    "st_metfe", "st_rad", "sy_vmag", "sy_kmag", "sy_gaiamag",
    "in_window", "is_reference",
)
SEP_KINDS: tuple[str, ...] = ("true", "projected")
LOGQ_RULES: tuple[str, ...] = ("quadrature", "lens", "evolutionary_model")

MASS_KINDS: tuple[str, ...] = ("true", "msini", "mass_radius", "other")
ECC_STATUSES: tuple[str, ...] = ("measured", "upper_limit", "fixed_zero", "missing")
SOURCES: tuple[str, ...] = ("PSCompPars", "BDcat", "reference")


#: What to do about a frame that lacks stacked-dataset columns.
STACKED_FIX = ("Pass the stacked dataset (or its complete-case view) from vlms_bayes.data_io, "
               "or build it with 'vlms-bayes data'.")


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, what: str, fix: str,
                    kind: str = "", show_found: bool = True) -> None:
    """Raise :class:`InputDataError` when ``frame`` lacks any of ``columns``.

    The one check of required columns in the package: every reader and every step that
    needs columns calls it, so that each message names the input, the missing columns,
    what the input has and what to do.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table read or given.
    columns : iterable of str
        Columns that must be present, in the order the message lists the missing ones.
    what : str
        The input, as the message's subject: a file (``"ps.csv"``) or a step's data
        (``"The data of the e-a figure"``).
    fix : str
        What to do, one or more sentences (e.g. which columns a file must provide).
    kind : str
        Word before "column(s)" (``"required"``, ``"Gaia"``), or empty.
    show_found : bool
        List the columns ``frame`` has (off for archive tables of hundreds of columns).

    Raises
    ------
    InputDataError
        "``what`` lacks the ``kind`` column(s) a, b (it has ...). ``fix``"
    """
    missing = [str(c) for c in columns if c not in frame.columns]
    if not missing:
        return
    found = (f" (it has {', '.join(map(str, frame.columns)) or 'no columns'})"
             if show_found else "")
    label = f"{kind} column(s)" if kind else "column(s)"
    raise InputDataError(f"{what} lacks the {label} {', '.join(missing)}{found}. {fix}")


def complete_case(stacked: pd.DataFrame, *, fixed_zero_as_measured: bool = True) -> pd.DataFrame:
    """Rows the frequentist baselines use: in the window, with M_star, M_c, a and e.

    Parameters
    ----------
    stacked : pandas.DataFrame
        The stacked dataset.
    fixed_zero_as_measured : bool
        Keep e = 0 orbits given without an uncertainty (the original's behaviour). The
        e-distribution fits decide separately how to treat them.

    Returns
    -------
    pandas.DataFrame
        A copy of the selected rows, index reset.
    """
    ok = stacked["in_window"].astype(bool)
    for col in ("st_mass", "pl_bmassj", "pl_orbsmax", "pl_orbeccen"):
        ok &= stacked[col].notna()
    status_ok = ["measured", "fixed_zero"] if fixed_zero_as_measured else ["measured"]
    ok &= stacked["ecc_status"].isin(status_ok)
    return stacked.loc[ok].reset_index(drop=True)


def model_view(stacked: pd.DataFrame, *, include_reference: bool = False) -> pd.DataFrame:
    """Rows the Bayesian model uses: in the window with a companion mass and an a.

    Parameters
    ----------
    stacked : pandas.DataFrame
        The stacked dataset.
    include_reference : bool
        Also keep the reference object when it lies outside the window.

    Returns
    -------
    pandas.DataFrame
        A copy of the selected rows, index reset.
    """
    ok = stacked["in_window"].astype(bool)
    if include_reference:
        ok |= stacked["is_reference"].astype(bool)
    ok &= stacked["pl_bmassj"].notna() & stacked["pl_orbsmax"].notna()
    ok &= stacked["st_mass"].notna()
    return stacked.loc[ok].reset_index(drop=True)
