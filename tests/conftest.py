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

from vlms_bayes.inference.sampling import xla_flags_with_host_devices

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIRE_DATA = os.environ.get("VLMS_BAYES_REQUIRE_DATA", "") not in ("", "0", "false")
PS_SNAPSHOT = "pscomppars_2025-08-07.csv"

os.environ["VLMS_BAYES_OFFLINE"] = "1"
# One JAX compilation cache for the whole session, in-process and in every subprocess (CLI
# runs, robustness workers, the tutorial's kernel): fits of the same settings and data shapes
# in different tests load the compiled sampler instead of recompiling it (~10 s each on 2
# cores). JAX opens its cache once, at the first compilation, so this must be fixed before
# any test compiles. A fresh directory per session, so that the suite's time is that of a
# fresh machine; export JAX_COMPILATION_CACHE_DIR to keep one between sessions.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="vlms-bayes-jax-cache-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], True)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
#: JAX host devices of the test session (and its subprocesses): one per chain of the default
#: fit, as ``vlms-bayes fit``/``run`` ask for (:func:`vlms_bayes.cli.jax_host_devices`), so
#: that NumPyro runs the chains of every fit in parallel rather than vectorised (half the
#: CPU time: a vectorised NUTS step runs every chain to the deepest tree). Set here, before
#: anything imports JAX, so that it does not depend on which test happens to import it first;
#: a count already given in ``XLA_FLAGS`` is kept.
JAX_TEST_DEVICES = 4
os.environ["XLA_FLAGS"] = xla_flags_with_host_devices(os.environ.get("XLA_FLAGS", ""),
                                                      JAX_TEST_DEVICES)


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


@pytest.fixture(scope="session")
def jax_test_cache() -> Path:
    """The session's JAX compilation cache directory (host devices: :data:`JAX_TEST_DEVICES`).

    Modules that sample use it with ``pytestmark = pytest.mark.usefixtures("jax_test_cache")``
    and tests that start a process hand it on (``JAX_COMPILATION_CACHE_DIR``, inherited anyway
    from this environment): one cache, so a compiled sampler is reused across tests, the
    CLI's subprocesses and the robustness suite's workers alike.
    """
    import jax

    cache = Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    assert jax.config.jax_compilation_cache_dir == str(cache)
    return cache
