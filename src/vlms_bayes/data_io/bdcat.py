"""The Brown Dwarf Companion Catalogue (Stevenson et al. 2023).

The catalogue gives periods, not semi-major axes; ``mass`` is a true mass where known and
``msini`` a minimum mass; ``p_X`` / ``m_X`` are the upper / lower uncertainties of column
``X``; the host mass is ``Mstar``. :func:`load_bdcat` reads the pinned 2023-11-20 file (data
folder, cache, download or the embedded snapshot) or a local file, and validates it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlms_bayes.data_io.files import REGISTRY, ResolvedFile, resolve_data_file, sha256_of
from vlms_bayes.data_io.schema import require_columns
from vlms_bayes.data_io.validate import coerce_numeric, require_eccentricity, require_positive
from vlms_bayes.errors import InputDataError

DEFAULT_FILE = "BD_catalogue_20-11-23.csv"

REQUIRED: tuple[str, ...] = (
    "host_star", "method", "mass", "msini", "period", "ecc", "Mstar",
)
NUMERIC: tuple[str, ...] = (
    "mass", "p_mass", "m_mass", "msini", "p_msini", "m_msini", "period", "p_period",
    "m_period", "ecc", "p_ecc", "m_ecc", "Mstar", "p_Mstar", "m_Mstar", "FeH",
)

#: Catalogue method labels mapped onto the archive's ``discoverymethod`` vocabulary.
METHOD_MAP: dict[str, str] = {
    "rv": "Radial Velocity",
    "transit": "Transit",
    "imaging": "Imaging",
    "gaia binary_masses": "Astrometry",
}


def map_method(method: Any) -> str:
    """Map a BD-catalogue method to the archive vocabulary.

    ``rv+...`` combinations (RV with Hipparcos/Gaia astrometry) were found by RV and count
    as ``Radial Velocity``; unknown labels are kept as they are.
    """
    if method is None or (isinstance(method, float) and np.isnan(method)):
        return "Unknown"
    key = str(method).strip().lower()
    if key in METHOD_MAP:
        return METHOD_MAP[key]
    if key.startswith("rv"):
        return "Radial Velocity"
    return str(method)


@dataclass(frozen=True)
class BdCatData:
    """A loaded Brown Dwarf catalogue and where it came from."""

    frame: pd.DataFrame
    path: Path
    sha256: str
    pinned: bool
    resolved: ResolvedFile | None = None

    def provenance(self) -> dict[str, Any]:
        """A record for ``run.json`` and ``SUMMARY.txt``.

        ``origin`` is ``"file"`` for ``--bd``, else where the pinned file was found
        (``"data folder"``, ``"cache"``, ``"download"`` or ``"embedded snapshot"``).
        """
        entry = REGISTRY[DEFAULT_FILE]
        rec = {
            "origin": "file", "path": str(self.path),
            "sha256": self.sha256, "date": "2023-11-20" if self.pinned else None,
            "url": entry.url if self.pinned else None, "rows": len(self.frame),
        }
        if self.resolved is not None:
            rec.update({k: v for k, v in self.resolved.provenance().items() if k != "sha256"})
        return rec


def validate_bdcat(frame: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Check columns and values of the Brown Dwarf catalogue; return numeric columns as float.

    Raises
    ------
    InputDataError
        Missing required columns, non-numeric or non-positive masses, e outside [0, 1).
    """
    require_columns(frame, REQUIRED, what=str(source), kind="required", show_found=False,
                    fix=f"The Brown Dwarf Companion Catalogue CSV must provide: "
                        f"{', '.join(REQUIRED)} (with p_X/m_X uncertainty columns where "
                        "available), as in the file BD_catalogue_20-11-23.csv.")
    out = frame.copy()
    coerce_numeric(out, NUMERIC, source=source, label="host_star")
    require_positive(out, ("mass", "msini", "Mstar"), source=source, label="host_star")
    require_eccentricity(out, "ecc", source=source, label="host_star")
    return out


def read_bdcat_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a Brown Dwarf catalogue CSV; clear errors for missing or non-CSV files."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(
            f"Brown Dwarf catalogue file {path} does not exist. Pass the path of the "
            "catalogue CSV with --bd, leave --bd out to use the pinned 2023-11-20 version, "
            "or use --no-bd."
        )
    try:
        frame = pd.read_csv(path, comment=None, low_memory=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(
            f"{path} is not a readable CSV file ({type(exc).__name__}: {exc}). Pass the "
            "Brown Dwarf Companion Catalogue in CSV format with --bd."
        ) from exc
    return frame


def load_bdcat(
    *, path: str | os.PathLike[str] | None = None,
    data_dir_: str | os.PathLike[str] | None = None,
) -> BdCatData:
    """Load the Brown Dwarf catalogue from a local file or the pinned 2023-11-20 version.

    Parameters
    ----------
    path : path-like, optional
        A local catalogue CSV (``--bd``).
    data_dir_ : path-like, optional
        Data folder searched for the pinned file before the cache and the network.

    Returns
    -------
    BdCatData
        The validated frame with its provenance.
    """
    if path is None:
        resolved = resolve_data_file(DEFAULT_FILE, data_dir_=data_dir_)
        frame = validate_bdcat(read_bdcat_csv(resolved.path), source=str(resolved.path))
        return BdCatData(frame, resolved.path, resolved.sha256, True, resolved)
    path = Path(path)
    frame = validate_bdcat(read_bdcat_csv(path), source=str(path))
    return BdCatData(frame, path, sha256_of(path), False)
