"""The user cache folder for downloads and the decompressed embedded snapshot.

A leaf of :mod:`vlms_bayes.data_io`: both :mod:`.files` and :mod:`.embedded` use it.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that overrides the cache folder.
CACHE_DIR_ENV = "VLMS_BAYES_CACHE_DIR"


def cache_dir() -> Path:
    """Return the user cache folder for downloads (created on demand by pooch)."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    # pooch (and requests behind it) is only needed when no folder is set; kept off the
    # `vlms-bayes --help` path
    import pooch  # heavy: pooch pulls requests

    return Path(pooch.os_cache("vlms-bayes"))
