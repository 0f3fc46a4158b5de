"""Where data files come from: the data folder, the cache, a pinned download, the snapshot.

Every static file vlms-bayes uses is listed in :data:`REGISTRY` with its sha256 and, where
one exists, a pinned URL. :func:`resolve_data_file` looks for it, in order,

1. in the data folder (the ``data_dir`` argument, else the ``VLMS_BAYES_DATA_DIR``
   environment variable), under the same file name (sub-folders as listed);
2. in the user cache folder (``VLMS_BAYES_CACHE_DIR``, else the platform cache folder);
3. on the network, through :mod:`pooch`, which checks the hash and stores the file in the
   cache (skipped when offline: ``allow_download=False`` or ``VLMS_BAYES_OFFLINE=1``);
4. in the dated snapshot embedded in the package (:mod:`vlms_bayes.data_io.embedded`),
   with one log line saying so.

No network call is made when a local copy exists. The returned :class:`ResolvedFile` says
which of these places the file came from, for ``run.json``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlms_bayes.data_io.cache import CACHE_DIR_ENV as CACHE_DIR_ENV  # re-exported
from vlms_bayes.data_io.cache import cache_dir
from vlms_bayes.data_io.embedded import announce_embedded, embedded_path, manifest
from vlms_bayes.errors import DataUnavailableError

log = logging.getLogger(__name__)

DATA_DIR_ENV = "VLMS_BAYES_DATA_DIR"
#: Set to 1 to never touch the network (the ``--offline`` option sets it too).
OFFLINE_ENV = "VLMS_BAYES_OFFLINE"


_NETWORK_FAILED: list[str] = []


def offline(*, remembered: bool = True) -> bool:
    """True when the network is not to be used.

    That is when ``$VLMS_BAYES_OFFLINE`` asks for it, or (with ``remembered``) when a
    download or archive query of this process has already failed, so that one command
    does not wait on the network once per file.
    """
    if remembered and _NETWORK_FAILED:
        return True
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def mark_network_failed(why: str) -> None:
    """Remember for the rest of the process that the network could not be used."""
    _NETWORK_FAILED.append(why)


@dataclass(frozen=True)
class RegisteredFile:
    """A static data file with a pinned source.

    Attributes
    ----------
    name : str
        Path of the file relative to the data folder (e.g. ``quarles2020/a_crit_Incl[0].txt``).
    url : str or None
        Pinned download address (a commit, not a branch, where the host allows it); None for
        a dated snapshot that no address serves any more (the archive's reply changes daily).
    sha256 : str
        Expected sha256 of the file's bytes.
    description : str
        What the file is, for error messages and ``run.json``.
    """

    name: str
    url: str | None
    sha256: str
    description: str


_BD_COMMIT = "afbd4374575e9ca6b2b11872fba08847fcab0f05"
_BD_ORIG_COMMIT = "2c578d005ba1ab0c675642634eb4da8a9566d59c"
_QUARLES_COMMIT = "de72287f87d61b7525958a56118bc05c84816e61"
_GH = "https://raw.githubusercontent.com"

#: The dated PSCompPars snapshot (also embedded in the package).
PS_SNAPSHOT = "pscomppars_2025-08-07.csv"

REGISTRY: dict[str, RegisteredFile] = {
    f.name: f
    for f in (
        RegisteredFile(
            PS_SNAPSHOT, None,
            "3fe95de7a6669b13ebb9985d2843d3c69a123f670cd28aa6e10f2b2e7ef6ca9d",
            "NASA Exoplanet Archive PSCompPars snapshot of 2025-08-07",
        ),
        RegisteredFile(
            "BD_catalogue_20-11-23.csv",
            f"{_GH}/adam-stevenson/brown-dwarf-desert/{_BD_COMMIT}/BD_catalogue_20-11-23.csv",
            "7372d43935bb30b4125516f128fe69c7ba5f27e03dd8a703a1f04d1172f7bd44",
            "Brown Dwarf Companion Catalogue (Stevenson et al. 2023), update of 2023-11-20",
        ),
        RegisteredFile(
            "BD_catalogue.csv",
            f"{_GH}/adam-stevenson/brown-dwarf-desert/{_BD_ORIG_COMMIT}/BD_catalogue.csv",
            "50c40f902df1d687a683555c190f93847f551c6b1b2b21d328c81a3ea412b30a",
            "Brown Dwarf Companion Catalogue (Stevenson et al. 2023), journal version",
        ),
        RegisteredFile(
            "quarles2020/a_crit_Incl[0].txt",
            f"{_GH}/saturnaxis/ThreeBody_Stability/{_QUARLES_COMMIT}/a_crit_Incl%5B0%5D.txt",
            "94f2a50bfaa524f68cc81418dd2eb71338f35552ee218067e77695ffaee607f7",
            "Quarles et al. (2020) stability limits, planet inclination 0 deg",
        ),
        RegisteredFile(
            "quarles2020/a_crit_Incl[30].txt",
            f"{_GH}/saturnaxis/ThreeBody_Stability/{_QUARLES_COMMIT}/a_crit_Incl%5B30%5D.txt",
            "46ffc5cf124dd623bb8dae6555d24d56c01da11180060ec6de352efc388ea750",
            "Quarles et al. (2020) stability limits, planet inclination 30 deg",
        ),
        RegisteredFile(
            "quarles2020/a_crit_Incl[45].txt",
            f"{_GH}/saturnaxis/ThreeBody_Stability/{_QUARLES_COMMIT}/a_crit_Incl%5B45%5D.txt",
            "c6ee2c767ce9f27e9dd11a1420d98481eb58787f107dbb9188642460725cdeb3",
            "Quarles et al. (2020) stability limits, planet inclination 45 deg",
        ),
        RegisteredFile(
            "quarles2020/a_crit_Incl[180].txt",
            f"{_GH}/saturnaxis/ThreeBody_Stability/{_QUARLES_COMMIT}/a_crit_Incl%5B180%5D.txt",
            "20606ff89d611a4f360aad6915fc364376501a8c025848622a6e8359843406d9",
            "Quarles et al. (2020) stability limits, planet inclination 180 deg",
        ),
        RegisteredFile(
            "gaia_dr2_rv_sample.fits.gz",
            f"{_GH}/quadrychance/paired/main/tests/noise_model/catalog.fits.gz",
            "a3f81ac8103132e811d5226bb6860705c05731a33a44d33e8cf66db667a0c932",
            "2301 Gaia DR2 sources with RV (test catalogue of the paired pipeline, MIT)",
        ),
    )
}


def data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the data folder in force, or None when none is set.

    Parameters
    ----------
    data_dir : path-like, optional
        An explicit folder (the ``--data-dir`` option). Overrides the environment.

    Returns
    -------
    pathlib.Path or None
        The explicit folder, else ``$VLMS_BAYES_DATA_DIR``, else None.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else None


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ResolvedFile:
    """A registered file found on this machine, and where.

    Attributes
    ----------
    path : pathlib.Path
        Local path of the file.
    origin : str
        ``"data folder"``, ``"cache"``, ``"download"`` or ``"embedded snapshot"``.
    entry : RegisteredFile
        The registry entry.
    """

    path: Path
    origin: str
    entry: RegisteredFile

    @functools.cached_property
    def sha256(self) -> str:
        """The sha256 of the file found (hashed once)."""
        return sha256_of(self.path)

    def provenance(self) -> dict[str, Any]:
        """A record for ``run.json``: path, origin, sha256 and, for the snapshot, its source."""
        rec: dict[str, Any] = {"path": str(self.path), "origin": self.origin,
                               "sha256": self.sha256, "pinned_sha256": self.entry.sha256}
        if self.origin == "embedded snapshot":
            rec.update(manifest()[self.entry.name].provenance())
        return rec


def _download(entry: RegisteredFile) -> Path:
    import pooch  # heavy: pooch pulls requests; keeps --help fast

    pooch.get_logger().setLevel(logging.WARNING)  # our own line says what is downloaded
    target = cache_dir() / entry.name
    log.info("Downloading %s from %s", entry.name, entry.url)
    path = pooch.retrieve(
        url=entry.url, known_hash=f"sha256:{entry.sha256}",
        fname=target.name, path=target.parent, progressbar=False,
    )
    return Path(path)


def resolve_data_file(
    name: str,
    *,
    data_dir_: str | os.PathLike[str] | None = None,
    allow_download: bool = True,
    check_hash: bool = False,
    why: str | None = None,
) -> ResolvedFile:
    """Find a registered data file: data folder, cache, download, embedded snapshot.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY`.
    data_dir_ : path-like, optional
        Data folder to search first (else ``$VLMS_BAYES_DATA_DIR``).
    allow_download : bool
        If False (or ``$VLMS_BAYES_OFFLINE`` is set), never touch the network.
    check_hash : bool
        Verify the sha256 of a data-folder or cache copy too (downloads and the embedded
        snapshot are always verified).
    why : str, optional
        Why the network is not used, for the log line of an embedded file (default: what
        this function found: offline, or the download's failure).

    Returns
    -------
    ResolvedFile
        The path and where it came from.

    Raises
    ------
    DataUnavailableError
        If a local copy fails its hash check, or the file is nowhere (not even in the
        snapshot, which happens only when the package data was removed).
    """
    if name not in REGISTRY:
        raise KeyError(f"{name!r} is not a registered data file; known: {sorted(REGISTRY)}")
    entry = REGISTRY[name]
    folder = data_dir(data_dir_)
    places = ([(folder / name, "data folder")] if folder is not None else [])
    places.append((cache_dir() / name, "cache"))
    for cand, origin in places:
        if cand.is_file():
            if check_hash and sha256_of(cand) != entry.sha256:
                raise DataUnavailableError(
                    f"The local copy {cand} of {entry.description} does not match its pinned "
                    f"sha256 ({entry.sha256[:12]}…). Replace it with the original file or "
                    "remove it so that it is found elsewhere."
                )
            return ResolvedFile(cand, origin, entry)
    failure = _NETWORK_FAILED[0] if _NETWORK_FAILED else "offline"
    if allow_download and not offline() and entry.url is not None:
        try:
            return ResolvedFile(_download(entry), "download", entry)
        except Exception as exc:  # network errors come in many types (requests, OSError, ...)
            failure = f"the download failed: {type(exc).__name__}"
            mark_network_failed(failure)
            log.debug("download of %s failed: %s", name, exc)
    if name in manifest():
        path = embedded_path(name)
        announce_embedded(name, why or failure)
        return ResolvedFile(path, "embedded snapshot", entry)
    where = (f"the data folder {folder}" if folder
             else f"a data folder (--data-dir or ${DATA_DIR_ENV})")
    src = f"from {entry.url} " if entry.url else ""
    raise DataUnavailableError(
        f"{entry.description} ('{name}') is not available ({failure}) and the package's "
        f"embedded snapshot is missing. Download it {src}and put it in {where} as '{name}'."
    )


def fetch_data_file(
    name: str,
    *,
    data_dir_: str | os.PathLike[str] | None = None,
    allow_download: bool = True,
    check_hash: bool = False,
) -> Path:
    """Return a local path to a registered data file (see :func:`resolve_data_file`)."""
    return resolve_data_file(name, data_dir_=data_dir_, allow_download=allow_download,
                             check_hash=check_hash).path
