"""Shared test fixtures.

Real catalogues are read from the reference data folder: ``$VLMS_BAYES_DATA_DIR`` if set,
else ``../shared/data`` beside the repository. When the folder is missing:

* with ``VLMS_BAYES_REQUIRE_DATA=1`` (set by ``.ci/run``) the tests that need it fail;
* otherwise they skip with the reason stated (registered files are downloaded by pooch
  when the network is there; the archive snapshot cannot be, since it is dated).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIRE_DATA = os.environ.get("VLMS_BAYES_REQUIRE_DATA", "") not in ("", "0", "false")
PS_SNAPSHOT = "pscomppars_2025-08-07.csv"


def _reference_data_dir() -> Path | None:
    env = os.environ.get("VLMS_BAYES_DATA_DIR")
    cand = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return cand if cand.is_dir() else None


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The reference data folder; fails in CI, skips elsewhere when it is missing."""
    folder = _reference_data_dir()
    if folder is None:
        msg = ("reference data folder not found (set VLMS_BAYES_DATA_DIR or place the data "
               "in ../shared/data)")
        if REQUIRE_DATA:
            pytest.fail(msg)
        pytest.skip(msg)
    return folder


@pytest.fixture(scope="session")
def registered_file(shared_data_dir_or_none):
    """Return a function name -> path of a registered file (data folder, cache or pooch)."""
    from vlms_bayes.data_io.files import fetch_data_file
    from vlms_bayes.errors import DataUnavailableError

    def get(name: str) -> Path:
        try:
            return fetch_data_file(name, data_dir_=shared_data_dir_or_none)
        except DataUnavailableError as exc:
            if REQUIRE_DATA:
                pytest.fail(str(exc))
            pytest.skip(f"{name} unavailable offline: {exc}")

    return get


@pytest.fixture(scope="session")
def shared_data_dir_or_none() -> Path | None:
    folder = _reference_data_dir()
    if folder is None and REQUIRE_DATA:
        pytest.fail("reference data folder not found and VLMS_BAYES_REQUIRE_DATA is set")
    return folder


@pytest.fixture(scope="session")
def ps_snapshot(shared_data_dir) -> Path:
    """The dated PSCompPars snapshot (only in the reference data folder)."""
    path = shared_data_dir / PS_SNAPSHOT
    if not path.is_file():
        if REQUIRE_DATA:
            pytest.fail(f"{path} missing")
        pytest.skip(f"{path} missing")
    return path


@pytest.fixture(autouse=True)
def _close_figures():
    """Tests that draw figures directly leave none open for the next (pyplot keeps them)."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


#: Persistent JAX compilation cache shared by the test modules (and, through the
#: environment, by the worker processes of the robustness suite).
JAX_TEST_CACHE = Path(tempfile.gettempdir()) / "vlms_bayes_test_jax_cache"


@pytest.fixture(scope="session")
def jax_test_cache() -> Path:
    """Two host devices for parallel chains and a persistent compilation cache.

    Use with ``pytestmark = pytest.mark.usefixtures("jax_test_cache")`` in modules that
    sample; the first module to request it fixes the device count (JAX reads it once).
    """
    from vlms_bayes.inference.sampling import prepare_jax

    prepare_jax(2)
    import jax

    jax.config.update("jax_compilation_cache_dir", str(JAX_TEST_CACHE))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return JAX_TEST_CACHE
