"""Data-driven starting values for the mixture sampler.

A K-component Gaussian mixture (scikit-learn, full covariances) fitted to the observed
(log q, log a), with its components sorted by mean log q, gives the populations' starting
means, scales, correlations and weights. Without such a start the chains of a mixture can
settle in different modes (label swaps, or splits along log a), which the R-hat gate
catches but cannot repair.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from vlms_bayes.models.data import ModelData


def initial_values(data: ModelData, n_components: int, *, random_seed: int,
                   model: Any = None, weight_name: str | None = None) -> dict[str, Any]:
    """Starting values (constrained space) for :func:`vlms_bayes.inference.sampling.sample`.

    Parameters
    ----------
    data : ModelData
        The fitted objects.
    n_components : int
        K.
    random_seed : int
        Seed of the Gaussian-mixture initialisation.
    model : pymc.Model, optional
        The model to start: a selection-aware one has its Dirichlet prior on the detected
        fractions ``f_det`` (the weights of a mixture fitted to the observed sample are
        exactly a start for those); otherwise the weights are ``w``.
    weight_name : str, optional
        The weights' variable name when there is no PyMC model (the JAX density's).

    Returns
    -------
    dict
        ``mu_logq`` (strictly increasing), ``mu_loga``, ``sigma_logq``, ``sigma_loga``,
        ``rho_beta`` and, for K > 1, ``w`` or ``f_det``.
    """
    from sklearn.mixture import GaussianMixture  # heavy: scikit-learn

    k = int(n_components)
    x = np.c_[data.y_logq, data.y_loga]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny samples
        gmm = GaussianMixture(k, covariance_type="full", n_init=5, reg_covar=1e-3,
                              random_state=int(random_seed)).fit(x)
    order = np.argsort(gmm.means_[:, 0])
    mu = gmm.means_[order]
    cov = gmm.covariances_[order]
    sd_q = np.sqrt(cov[:, 0, 0])
    sd_a = np.sqrt(cov[:, 1, 1])
    rho = np.clip(cov[:, 0, 1] / (sd_q * sd_a), -0.8, 0.8)
    mu_q = mu[:, 0] + 1e-3 * np.arange(k)  # strictly increasing for the ordered transform
    out: dict[str, Any] = {
        "mu_logq": mu_q, "mu_loga": mu[:, 1],
        "sigma_logq": np.clip(sd_q, 0.05, 3.0), "sigma_loga": np.clip(sd_a, 0.05, 3.0),
        "rho_beta": (rho + 1.0) / 2.0,
    }
    if k > 1:
        w = np.clip(gmm.weights_[order], 0.02, None)
        name = weight_name or (
            "f_det" if model is not None and "f_det" in model.named_vars else "w")
        out[name] = w / w.sum()
    return out


def powerlaw_initial_values(init: dict[str, Any]) -> dict[str, Any]:
    """Starting values for a power-law binary-like population (``binary_shape="powerlaw"``).

    The Gaussian-mixture start of :func:`initial_values` (K components by mean log q)
    loses its last component's log q mean, scale and correlation: that population has
    none. Its log a mean and scale stay; ``gamma_q`` starts at its prior median (the
    density's default).
    """
    out = dict(init)
    for name in ("mu_logq", "sigma_logq", "rho_beta"):
        out[name] = np.asarray(init[name])[:-1]
    return out
