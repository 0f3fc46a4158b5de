"""Gaia RV inference: p-values, K posteriors, the catalogue, detectability and exclusion.

``chi2`` and ``kernels`` (numba/JAX kernels), ``pvalues`` (RV-variability p-values),
``semiamplitude`` (K posteriors), ``catalogue`` (scoring a catalogue, Dask at scale),
``detectability`` (injection–recovery completeness) and ``exclusion`` (which perturbers
Gaia would have seen). Nothing is imported here, so importing one of them does not load
the JAX or numba stacks of the others.
"""
