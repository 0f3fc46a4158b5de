"""Where data files come from: the data folder, the cache, or a pinned download.

Every static file vlms-bayes uses is listed in :data:`REGISTRY` with a pinned URL and its
sha256. :func:`fetch_data_file` looks for it, in order,

1. in the data folder (the ``data_dir`` argument, else the ``VLMS_BAYES_DATA_DIR``
   environment variable), under the same file name (sub-folders as listed);
2. in the user cache folder (``VLMS_BAYES_CACHE_DIR``, else the platform cache folder);
3. on the network, through :mod:`pooch`, which checks the hash and stores the file in the
   cache.

With no local copy and no network the error names the missing file and says how to
provide it. No network call is made when a local copy exists.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from vlms_bayes.errors import DataUnavailableError

DATA_DIR_ENV = "VLMS_BAYES_DATA_DIR"
CACHE_DIR_ENV = "VLMS_BAYES_CACHE_DIR"


@dataclass(frozen=True)
class RegisteredFile:
    """A static data file with a pinned source.

    Attributes
    ----------
    name : str
        Path of the file relative to the data folder (e.g. ``quarles2020/a_crit_Incl[0].txt``).
    url : str
        Pinned download address (a commit, not a branch, where the host allows it).
    sha256 : str
        Expected sha256 of the file's bytes.
    description : str
        What the file is, for error messages and ``run.json``.
    """

    name: str
    url: str
    sha256: str
    description: str


_BD_COMMIT = "afbd4374575e9ca6b2b11872fba08847fcab0f05"
_BD_ORIG_COMMIT = "2c578d005ba1ab0c675642634eb4da8a9566d59c"
_QUARLES_COMMIT = "de72287f87d61b7525958a56118bc05c84816e61"
_GH = "https://raw.githubusercontent.com"

REGISTRY: dict[str, RegisteredFile] = {
    f.name: f
    for f in (
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


def cache_dir() -> Path:
    """Return the user cache folder for downloads (created on demand by pooch)."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("vlms-bayes"))


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_local(name: str, *, data_dir_: str | os.PathLike[str] | None = None) -> Path | None:
    """Look for ``name`` in the data folder and then the cache; return its path or None."""
    folder = data_dir(data_dir_)
    candidates = []
    if folder is not None:
        candidates.append(folder / name)
    candidates.append(cache_dir() / name)
    for cand in candidates:
        if cand.is_file():
            return cand
    return None


def fetch_data_file(
    name: str,
    *,
    data_dir_: str | os.PathLike[str] | None = None,
    allow_download: bool = True,
    check_hash: bool = False,
) -> Path:
    """Return a local path to a registered data file, downloading it if needed.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY`.
    data_dir_ : path-like, optional
        Data folder to search first (else ``$VLMS_BAYES_DATA_DIR``).
    allow_download : bool
        If False, never touch the network.
    check_hash : bool
        Verify the sha256 of a local copy too (downloads are always verified).

    Returns
    -------
    pathlib.Path
        Path of the file.

    Raises
    ------
    DataUnavailableError
        If the file is not available locally and cannot be downloaded.
    """
    if name not in REGISTRY:
        raise KeyError(f"{name!r} is not a registered data file; known: {sorted(REGISTRY)}")
    entry = REGISTRY[name]
    local = find_local(name, data_dir_=data_dir_)
    if local is not None:
        if check_hash and sha256_of(local) != entry.sha256:
            raise DataUnavailableError(
                f"The local copy {local} of {entry.description} does not match its pinned "
                f"sha256 ({entry.sha256[:12]}…). Replace it with the file from {entry.url} "
                "or remove it so that it is downloaded again."
            )
        return local
    folder = data_dir(data_dir_)
    where = f"the data folder {folder}" if folder else f"a data folder (set ${DATA_DIR_ENV})"
    how = (
        f"Download it from {entry.url} and put it in {where} as '{name}', "
        f"or run once with network access so that it is cached in {cache_dir()}."
    )
    if not allow_download:
        raise DataUnavailableError(
            f"{entry.description} ('{name}') is not available offline. {how}"
        )
    import pooch

    target = cache_dir() / name
    try:
        path = pooch.retrieve(
            url=entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=target.name,
            path=target.parent,
            progressbar=False,
        )
    except Exception as exc:  # network errors come in many types (requests, OSError, ...)
        raise DataUnavailableError(
            f"Could not download {entry.description} ('{name}'): {exc}. {how}"
        ) from exc
    return Path(path)
