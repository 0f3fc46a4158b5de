"""Read a saved Gaia RV noise model of either kind (one grid, or one grid per method).

The two model classes each write their own ``.npz`` layout (:meth:`.model.NoiseModel.save`,
:meth:`.split.MethodSplitNoiseModel.save`); a file with ``split_methods`` holds the latter.
Keeping the dispatch here, above both classes, is what lets :mod:`.split` build on
:mod:`.model` without :mod:`.model` importing :mod:`.split` back.
"""

from __future__ import annotations

import os

from vlms_bayes.models.rv_noise.model import NoiseModel, open_noise_file
from vlms_bayes.models.rv_noise.split import MethodSplitNoiseModel


def load_noise_model(path: str | os.PathLike[str]) -> NoiseModel | MethodSplitNoiseModel:
    """Load a noise model written by ``save`` of either model class.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.

    Returns
    -------
    NoiseModel or MethodSplitNoiseModel
        The latter for files with ``split_methods``.

    Raises
    ------
    InputDataError
        The file is missing, unreadable or of another format version.
    """
    with open_noise_file(path) as z:
        if "split_methods" in z.files:
            return MethodSplitNoiseModel.from_arrays(z)
        return NoiseModel.from_arrays(z)
