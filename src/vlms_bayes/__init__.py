"""vlms-bayes: the origin of the giant companions of very-low-mass stars.

The package is organised in layers (see ``DESIGN.md`` of the project):

``data_io``
    Everything that touches files or the network; returns validated pandas frames.
``models``
    Probabilistic models built from data (no sampling).
``inference``
    Samplers, memberships, model comparison and the frequentist baselines.
``feasibility``
    Dynamics: Kozai–Lidov, tides, disk migration, stability limits.

Heavy dependencies (JAX, PyMC, numba) are imported lazily by the functions that need
them, so ``import vlms_bayes`` and ``vlms-bayes --help`` stay fast.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vlms-bayes")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
