"""Load the catalogues named by a :class:`DataConfig` and stack them (one call).

The Python entry to the data layer: where the catalogues come from and which hosts are
selected (:class:`DataConfig`), and :func:`load_data` / :func:`load_dataset`, which read,
validate and stack them. Re-exported by :mod:`vlms_bayes.pipeline` (``pipeline.DataConfig``,
``pipeline.load_dataset``), which the README uses.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vlms_bayes.data_io.bdcat import load_bdcat
from vlms_bayes.data_io.pscomppars import load_pscomppars
from vlms_bayes.data_io.stack import StackedDataset, stack_catalogues

__all__ = ["DataConfig", "LoadedData", "load_data", "load_dataset"]


@dataclass(frozen=True)
class DataConfig:
    """Where the catalogues come from and which hosts are selected.

    Attributes
    ----------
    ps : path, optional
        Local PSCompPars CSV; None queries the archive (cached).
    bd : path, optional
        Local Brown Dwarf catalogue CSV; None uses the pinned 2023-11-20 file.
    use_bd : bool
        Whether to use the Brown Dwarf catalogue at all.
    data_dir : path, optional
        Data folder searched before any download (else ``$VLMS_BAYES_DATA_DIR``).
    refresh : bool
        Re-query the archive.
    mstar_min, mstar_max : float
        Host-mass window in solar masses.
    reference : str
        Reference object scored everywhere (TOI-6894 b).
    toi_mstar, toi_mc_mj, toi_a_au : float, optional
        Overrides of the reference object's host mass, companion mass and a.
    """

    ps: str | None = None
    bd: str | None = None
    use_bd: bool = True
    data_dir: str | None = None
    refresh: bool = False
    mstar_min: float = 0.06
    mstar_max: float = 0.20
    reference: str = "TOI-6894 b"
    toi_mstar: float | None = None
    toi_mc_mj: float | None = None
    toi_a_au: float | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DataConfig:
        """Build from the parsed data options of the command line."""
        s = lambda p: None if p is None else str(p)  # noqa: E731
        return cls(
            ps=s(args.ps), bd=s(args.bd), use_bd=not args.no_bd, data_dir=s(args.data_dir),
            refresh=args.refresh, mstar_min=args.mstar_min, mstar_max=args.mstar_max,
            reference=args.reference, toi_mstar=args.toi_mstar, toi_mc_mj=args.toi_mc_mj,
            toi_a_au=args.toi_a_au,
        )


@dataclass
class LoadedData:
    """The stacked dataset with the provenance of its inputs."""

    stacked: StackedDataset
    inputs: dict[str, Any]

    @property
    def frame(self) -> pd.DataFrame:
        """The stacked rows."""
        return self.stacked.frame


def load_data(config: DataConfig) -> LoadedData:
    """Load, validate and stack the catalogues.

    Parameters
    ----------
    config : DataConfig
        Data settings.

    Returns
    -------
    LoadedData
        The stacked dataset and the provenance of every input (path, sha256, date).
    """
    ps = load_pscomppars(
        path=config.ps, mstar_min=config.mstar_min, mstar_max=config.mstar_max,
        reference=config.reference, data_dir_=config.data_dir, refresh=config.refresh,
    )
    bd = load_bdcat(path=config.bd, data_dir_=config.data_dir) if config.use_bd else None
    overrides = {"st_mass": config.toi_mstar, "pl_bmassj": config.toi_mc_mj,
                 "pl_orbsmax": config.toi_a_au}
    stacked = stack_catalogues(
        ps.frame, bd.frame if bd is not None else None,
        window=(config.mstar_min, config.mstar_max), reference=config.reference,
        reference_overrides=overrides if any(v is not None for v in overrides.values()) else None,
    )
    inputs = {"pscomppars": ps.provenance()}
    if bd is not None:
        inputs["bd_catalogue"] = bd.provenance()
    return LoadedData(stacked, inputs)


def load_dataset(config: DataConfig) -> pd.DataFrame:
    """The stacked dataset as a DataFrame (see :mod:`vlms_bayes.data_io.schema`)."""
    return load_data(config).frame
