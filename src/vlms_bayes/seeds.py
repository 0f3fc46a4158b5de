"""Named random streams: one master seed per command, one derived seed per stream.

``--seed S`` (and ``seed=`` of the :mod:`vlms_bayes.pipeline` functions) is the run's
*master* seed. No two consumers of random numbers use it directly: each gets
:func:`derive_seed` ``(S, name)`` of its own stream, so that the baselines' bootstrap and
the sampler's chains never start from the same random state.

Streams (:data:`STREAMS`)
-------------------------
``baselines``
    The frequentist baselines: GMM initialisations, Beta bootstrap, logistic CV folds
    (:func:`vlms_bayes.inference.baselines.compute_baselines`).
``sampler``
    The chains of the Bayesian fit (:func:`vlms_bayes.inference.fit.run_fit`).
``sampler_naive``
    The chains of the fit without the selection correction that ``vlms-bayes run``
    adds for the side-by-side comparison.

The feasibility study takes the master seed itself: its streams (the map's cells, the
Gaia RV exclusion, the secular check, the origin probabilities) are spawn-keyed children
of it (:data:`vlms_bayes.feasibility.draws.STREAMS`). The robustness suite gives each
variant its own master seed (:func:`vlms_bayes.pipeline.robustness.variant_seed`; the
default variant keeps ``S``) and derives the variant's streams from it as above, so its
default variant reproduces ``vlms-bayes baseline`` and ``vlms-bayes fit`` with seed ``S``.

The derivation is :class:`numpy.random.SeedSequence` ``(S, spawn_key=(k,))`` with ``k``
the first four bytes of the SHA-256 of the stream's name (never one of the small
feasibility keys), reduced to 31 bits so that every library accepts it (scikit-learn,
NumPyro's PRNG keys).
"""

from __future__ import annotations

import hashlib

import numpy as np

from vlms_bayes.errors import InputDataError

#: Streams that :func:`derive_seed` knows (see the module docstring).
STREAMS: tuple[str, ...] = ("baselines", "sampler", "sampler_naive")


def stream_key(name: str) -> int:
    """Spawn key of a stream: the first four bytes of SHA-256 of its name (little end)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def derive_seed(seed: int, stream: str) -> int:
    """The seed of one named stream of the master seed ``seed``.

    Parameters
    ----------
    seed : int
        The master seed (the user's ``--seed``), >= 0.
    stream : str
        One of :data:`STREAMS`.

    Returns
    -------
    int
        A seed in [0, 2**31 - 1), the same for the same (seed, stream) on every machine.

    Raises
    ------
    ValueError
        For a stream that is not in :data:`STREAMS` (a programming error).
    InputDataError
        For a negative seed.
    """
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; known: {', '.join(STREAMS)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputDataError(f"The seed must be an integer >= 0, not {seed!r}; give "
                             "--seed N with N >= 0.")
    state = np.random.SeedSequence(int(seed), spawn_key=(stream_key(stream),))
    return int(state.generate_state(1, np.uint32)[0]) % (2**31 - 1)
