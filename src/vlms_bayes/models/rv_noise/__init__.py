"""Gaia per-transit RV noise model: one (colour, magnitude) grid, or one per method.

``model`` (the grid, its estimators and the smoothing GP), ``legacy`` (the reference
pipeline's smoothing), ``split`` (one model per Gaia RV method) and ``io`` (read a saved
model of either kind). The names below are re-exported for convenience.
"""

from vlms_bayes.models.rv_noise.io import load_noise_model
from vlms_bayes.models.rv_noise.model import (
    TEST_CONFIG,
    NoiseGridConfig,
    NoiseModel,
    eps_to_s2,
    fit_noise_model,
    s2_to_eps,
)
from vlms_bayes.models.rv_noise.split import MethodSplitNoiseModel, fit_split_noise_model

__all__ = [
    "TEST_CONFIG",
    "MethodSplitNoiseModel",
    "NoiseGridConfig",
    "NoiseModel",
    "eps_to_s2",
    "fit_noise_model",
    "fit_split_noise_model",
    "load_noise_model",
    "s2_to_eps",
]
