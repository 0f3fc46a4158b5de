"""Shared test fixtures.

Real catalogues are read from the reference data folder: ``$VLMS_BAYES_DATA_DIR`` if set,
else ``../shared/data`` beside the repository, else (a fresh clone) the dated snapshot
embedded in the package, unpacked once per session into a temporary data folder. So the
tests that need real catalogues run everywhere; ``.ci/run`` uses the shared folder (and
``VLMS_BAYES_REQUIRE_DATA=1`` makes a missing one an error there), while
``tests/data_io/test_embedded.py`` checks the embedded path itself.

No test uses the network: ``VLMS_BAYES_OFFLINE=1`` is set for the whole session (tests
that exercise the download or the archive query monkeypatch the transport).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIRE_DATA = os.environ.get("VLMS_BAYES_REQUIRE_DATA", "") not in ("", "0", "false")
PS_SNAPSHOT = "pscomppars_2025-08-07.csv"

os.environ["VLMS_BAYES_OFFLINE"] = "1"
# one persistent JAX compilation cache for the session (and the CLI subprocesses): fits of
# the same data and settings in different tests load the compiled sampler instead of
# recompiling it (~30 s each on 2 cores)
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="vlms-bayes-jax-cache-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], True)


def _reference_data_dir() -> Path | None:
    env = os.environ.get("VLMS_BAYES_DATA_DIR")
    cand = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return cand if cand.is_dir() else None


@pytest.fixture(scope="session")
def shared_data_dir(tmp_path_factory) -> Path:
    """The reference data folder, else the embedded snapshot laid out as one."""
    folder = _reference_data_dir()
    if folder is not None:
        return folder
    if REQUIRE_DATA:
        pytest.fail("reference data folder not found (VLMS_BAYES_DATA_DIR or ../shared/data) "
                    "and VLMS_BAYES_REQUIRE_DATA is set")
    from vlms_bayes.data_io.embedded import materialise

    return materialise(tmp_path_factory.mktemp("embedded_data"))


@pytest.fixture(scope="session")
def registered_file(shared_data_dir):
    """Return a function name -> path of a registered file in the reference data folder."""
    from vlms_bayes.data_io.files import fetch_data_file

    def get(name: str) -> Path:
        return fetch_data_file(name, data_dir_=shared_data_dir, allow_download=False)

    return get


@pytest.fixture
def online(monkeypatch, tmp_path):
    """A fresh user: no data folder, an empty cache, and the network allowed.

    Tests that use it monkeypatch the transport (pooch, astroquery) themselves.
    """
    from vlms_bayes.data_io import files

    monkeypatch.setenv(files.CACHE_DIR_ENV, str(tmp_path / "user_cache"))
    monkeypatch.delenv(files.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(files.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(files, "_NETWORK_FAILED", [])


@pytest.fixture(scope="session")
def ps_snapshot(shared_data_dir) -> Path:
    """The dated PSCompPars snapshot of the reference data folder."""
    path = shared_data_dir / PS_SNAPSHOT
    assert path.is_file(), f"{path} missing from the reference data folder"
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
    from vlms_bayes.cli import request_jax_host_devices

    request_jax_host_devices(2)
    import jax

    jax.config.update("jax_compilation_cache_dir", str(JAX_TEST_CACHE))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return JAX_TEST_CACHE
