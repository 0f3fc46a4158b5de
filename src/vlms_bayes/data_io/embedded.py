"""The dated data snapshot shipped inside the package (the last resort of every lookup).

``vlms_bayes/data/snapshot_2025-08-07/`` holds compressed copies of the public inputs
(PSCompPars of 2025-08-07, the Brown Dwarf Companion Catalogue of 2023-11-20, the Quarles
et al. 2020 tables and the 2301-source Gaia DR2 RV sample) with a ``manifest.json`` giving,
for each, the sha256 of the original file, its source, licence and citation.

:func:`embedded_path` decompresses a file once into the cache folder (a temporary folder
when the cache cannot be written), checks it against the pinned sha256 and returns its path,
so that readers see the same bytes as a downloaded or data-folder copy.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import lzma
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from vlms_bayes.data_io.cache import cache_dir
from vlms_bayes.errors import DataUnavailableError

log = logging.getLogger(__name__)

#: Date of the embedded snapshot (the PSCompPars download; the other files are older).
SNAPSHOT_DATE = "2025-08-07"
_PACKAGE_FOLDER = f"snapshot_{SNAPSHOT_DATE}"


@dataclass(frozen=True)
class EmbeddedFile:
    """One file of the embedded snapshot, as listed in its ``manifest.json``."""

    name: str
    file: str
    compression: str
    sha256: str
    stored_sha256: str
    bytes: int
    stored_bytes: int
    rows: int | None
    date: str
    description: str
    source: str
    licence: str
    citation: str

    def provenance(self) -> dict[str, Any]:
        """The snapshot's record of this file, for ``run.json``."""
        return {"snapshot": SNAPSHOT_DATE, "date": self.date, "source": self.source,
                "licence": self.licence, "citation": self.citation}


def snapshot_folder() -> Path:
    """The package folder that holds the embedded snapshot."""
    return Path(str(resources.files("vlms_bayes") / "data" / _PACKAGE_FOLDER))


@functools.cache
def manifest() -> dict[str, EmbeddedFile]:
    """The embedded files by their data-folder name (e.g. ``quarles2020/a_crit_Incl[0].txt``)."""
    path = snapshot_folder() / "manifest.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {f["name"]: EmbeddedFile(**f) for f in raw["files"]}


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _target_folder() -> Path:
    """Where decompressed files go: ``<cache>/embedded-<date>``, else a temporary folder."""
    folder = cache_dir() / f"embedded-{SNAPSHOT_DATE}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
        return folder
    except OSError:
        fallback = Path(tempfile.gettempdir()) / f"vlms-bayes-embedded-{SNAPSHOT_DATE}"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def _decompress(entry: EmbeddedFile) -> bytes:
    stored = snapshot_folder() / entry.file
    data = stored.read_bytes()
    if entry.compression == "xz":
        data = lzma.decompress(data)
    elif entry.compression != "none":
        raise ValueError(f"unknown compression {entry.compression!r} in the snapshot manifest")
    if _sha256_bytes(data) != entry.sha256:
        raise DataUnavailableError(
            f"The embedded copy of {entry.description} ({stored}) does not match its pinned "
            f"sha256 {entry.sha256[:12]}…: the installation is damaged. Reinstall vlms-bayes, "
            "or put the original file in a data folder (--data-dir)."
        )
    return data


def embedded_path(name: str, *, folder: Path | None = None) -> Path:
    """Return a verified, decompressed copy of an embedded file.

    Parameters
    ----------
    name : str
        The file's data-folder name (a key of :func:`manifest`).
    folder : pathlib.Path, optional
        Where to place it (laid out like a data folder); default: the cache folder.

    Returns
    -------
    pathlib.Path
        Path of the decompressed file, whose sha256 is the pinned one.

    Raises
    ------
    DataUnavailableError
        If the snapshot does not hold ``name`` or its copy is damaged.
    """
    entry = manifest().get(name)
    if entry is None:
        raise DataUnavailableError(
            f"'{name}' is not part of the embedded {SNAPSHOT_DATE} snapshot "
            f"(it holds {', '.join(sorted(manifest())) or 'nothing: the package data is missing'})."
        )
    target = (folder if folder is not None else _target_folder()) / name
    if (target.is_file() and target.stat().st_size == entry.bytes
            and _sha256_bytes(target.read_bytes()) == entry.sha256):
        return target
    data = _decompress(entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as fh:
        fh.write(data)
    shutil.move(fh.name, target)
    os.chmod(target, 0o644)
    return target


def materialise(folder: str | os.PathLike[str]) -> Path:
    """Write every embedded file into ``folder`` with the data-folder layout.

    The result can be used as a data folder (``--data-dir``), e.g. to inspect or to edit
    the snapshot's files.
    """
    folder = Path(folder)
    for name in manifest():
        embedded_path(name, folder=folder)
    return folder


_announced: set[str] = set()


def announce_embedded(name: str, why: str) -> None:
    """Log that an embedded file is used: one warning per process, then debug lines.

    The warning names the snapshot and how to use newer data; ``run.json`` records every
    file's origin in any case.
    """
    entry = manifest()[name]
    if _announced:
        log.debug("Also from the embedded %s snapshot: %s ('%s').", SNAPSHOT_DATE,
                  entry.description, name)
    else:
        log.warning(
            "Using the embedded %s data snapshot, starting with %s ('%s') (%s). For newer "
            "data run online with --refresh, or give the files (--ps/--bd) or a data folder "
            "(--data-dir).", SNAPSHOT_DATE, entry.description, name, why)
    _announced.add(name)
