"""The robustness suite: which conclusions survive which analysis choices.

``run_robustness`` is the Python API of ``vlms-bayes robustness``; the variants are pure
functions of the stacked data in :mod:`vlms_bayes.pipeline.robustness.variants`.
"""

from vlms_bayes.pipeline.robustness.suite import SensitivityGrid, run_robustness, variant_seed
from vlms_bayes.pipeline.robustness.variants import GROUPS, build_variants

__all__ = ["GROUPS", "SensitivityGrid", "build_variants", "run_robustness", "variant_seed"]
