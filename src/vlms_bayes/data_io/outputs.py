"""Atomic output writing and the ``run.json`` provenance record.

Outputs are never half-written: a single file is written to a temporary file in the same
folder and renamed over its target (:func:`atomic_write`); a whole command writes into a
staging folder that is moved into place only when the command succeeds
(:class:`StagedOutputDir`). A failed command leaves the output folder as it was before.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from vlms_bayes import __version__
from vlms_bayes.errors import OutputDirError


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(*, directory: bool = False) -> int:
    """Permission bits a plain ``open``/``mkdir`` would give under the current umask.

    ``tempfile.mkstemp``/``mkdtemp`` create 0600/0700 entries; published outputs get these
    bits instead so that they are as readable as any other file the user writes.
    """
    return (0o777 if directory else 0o666) & ~_current_umask()


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (or is a dangling entry)."""
    for cand in (path, *path.parents):
        if os.path.lexists(cand):
            return cand
    return Path(path.anchor or ".")


def output_dir_error(outdir: str | os.PathLike[str], exc: OSError | None = None,
                     *, why: str | None = None,
                     where: str | os.PathLike[str] | None = None,
                     option: str = "--outdir DIR") -> OutputDirError:
    """The user-facing error for an output folder that cannot be written.

    Parameters
    ----------
    outdir : path-like
        The output folder the command was asked to write.
    exc : OSError, optional
        The operating-system error met while creating or writing it.
    why : str, optional
        The reason in words, instead of ``exc``'s.
    where : path-like, optional
        The folder the failed operation wrote into (default: the error's file name), so
        that the message names it rather than a temporary entry inside it.
    option : str
        The command-line option that chooses the folder ("" when there is none to name).

    Returns
    -------
    OutputDirError
        One paragraph: which folder, why, that nothing was written, and what to do.
    """
    if why is None and exc is not None:
        if where is None:
            where = exc.filename if exc.filename is not None else outdir
        if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
            why = f"no space is left on the device of {where} ({exc.strerror})"
        elif exc.errno == errno.EROFS:
            why = f"{where} is on a read-only file system"
        elif exc.errno in (errno.EACCES, errno.EPERM):
            why = f"{where} is not writable by this user ({exc.strerror})"
        elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
            why = f"a part of the path {where} is a file, not a folder"
        else:
            why = f"{exc.strerror or exc} ({where})"
    err = OutputDirError(
        f"Cannot write the output folder {outdir}: {why}. Nothing was written there. "
        f"Choose a folder you can write to{f' ({option})' if option else ''}, or make this "
        "one writable, and run the command again.")
    err.__cause__ = exc
    return err


def check_output_dir(outdir: str | os.PathLike[str]) -> Path:
    """Check, before any work is done, that ``outdir`` can be created and written.

    Nothing is created: the folder, or its closest existing ancestor, must be a folder
    that this process may write into (``os.access``, which also sees read-only mounts).

    Parameters
    ----------
    outdir : path-like
        The output folder (it may not exist yet).

    Returns
    -------
    Path
        ``outdir``, expanded and made absolute.

    Raises
    ------
    OutputDirError
        When the folder is a file, lies under a file, or is not writable.
    """
    path = Path(outdir).expanduser().absolute()
    existing = _nearest_existing(path)
    if not existing.is_dir():
        what = "is a file" if existing == path else "is a file, not a folder"
        raise output_dir_error(path, why=f"{existing} {what}")
    if not os.access(existing, os.W_OK | os.X_OK):
        ro = False
        with contextlib.suppress(OSError):
            ro = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        why = (f"{existing} is on a read-only file system" if ro
               else f"{existing} is not writable by this user")
        raise output_dir_error(path, why=why)
    return path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[Any]:
    """Open a temporary file beside ``path`` and rename it over ``path`` on success.

    Parameters
    ----------
    path : path-like
        Final location of the file.
    mode : {"w", "wb"}
        Text or binary mode.

    Yields
    ------
    file object
        Write to it; on an exception the temporary file is removed and ``path`` untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise output_dir_error(path.parent, exc, where=path.parent, option="") from exc
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_write(path) as fh:
        fh.write(text)
    return Path(path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable")


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON (NumPy scalars and arrays allowed), atomically."""
    return write_text(path, json.dumps(obj, indent=2, default=_json_default, allow_nan=True) + "\n")


def write_csv(path: str | os.PathLike[str], frame: Any, **kwargs: Any) -> Path:
    """Write a pandas DataFrame as CSV atomically (``index=False`` unless given)."""
    kwargs.setdefault("index", False)
    with atomic_write(path) as fh:
        frame.to_csv(fh, **kwargs)
    return Path(path)


def save_figure(path: str | os.PathLike[str], fig: Any, *, close: bool = True,
                **kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (PNG unless the suffix says otherwise).

    The figure is closed afterwards (``close=False`` keeps it): pyplot keeps every open
    figure alive, and a long run or a notebook making dozens of them would hold them all.
    """
    path = Path(path)
    kwargs.setdefault("dpi", 150)
    kwargs.setdefault("bbox_inches", "tight")
    try:
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, format=path.suffix.lstrip(".") or "png", **kwargs)
    finally:
        if close:
            import matplotlib.pyplot as plt  # heavy: matplotlib

            plt.close(fig)
    return path


class StagedOutputDir:
    """Write a command's outputs into a staging folder; publish them only on success.

    Use as a context manager; :attr:`path` is the staging folder to write into. On a clean
    exit each staged file is moved into the final folder (created if needed), replacing
    files of the same name and leaving other files there alone. On an exception the
    staging folder is deleted and the final folder is untouched (not even created).
    A folder that cannot be created or written raises
    :class:`~vlms_bayes.errors.OutputDirError` on entry, before any work is done.

    Parameters
    ----------
    outdir : path-like
        The final output folder.
    replace : bool
        Replace the final folder as a whole instead of file by file (files of an earlier
        content that the new one lacks are then gone too).
    """

    def __init__(self, outdir: str | os.PathLike[str], *, replace: bool = False) -> None:
        self.outdir = Path(outdir).expanduser().resolve()
        self.path: Path | None = None
        self.replace = replace

    def __enter__(self) -> Path:
        check_output_dir(self.outdir)
        parent = self.outdir.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.outdir.name}.staging.",
                                              dir=parent))
        except OSError as exc:
            raise output_dir_error(self.outdir, exc, where=parent) from exc
        return self.path

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.path is not None
        try:
            if exc_type is None:
                try:
                    self._publish()
                except OSError as exc:
                    raise output_dir_error(self.outdir, exc) from exc
        finally:
            shutil.rmtree(self.path, ignore_errors=True)

    def _publish(self) -> None:
        assert self.path is not None
        if self.replace and self.outdir.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{self.outdir.name}.old.",
                                        dir=self.outdir.parent))
            os.replace(self.outdir, old / self.outdir.name)
            try:
                os.chmod(self.path, default_mode(directory=True))
                os.replace(self.path, self.outdir)
            except BaseException:
                os.replace(old / self.outdir.name, self.outdir)
                raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
            self.path.mkdir()
            return
        if not self.outdir.exists():
            os.chmod(self.path, default_mode(directory=True))
            os.replace(self.path, self.outdir)
            self.path.mkdir()  # so that the rmtree in __exit__ has something to remove
            return
        for src in sorted(self.path.rglob("*")):
            if src.is_dir():
                continue
            dest = self.outdir / src.relative_to(self.path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)


def environment_info() -> dict[str, Any]:
    """Versions of Python, the platform and the main scientific packages."""
    pkgs = {}
    for name in ("numpy", "scipy", "pandas", "astropy", "scikit-learn", "pymc", "arviz",
                 "jax", "numpyro", "numba", "astroquery", "pooch", "matplotlib"):
        try:
            pkgs[name] = version(name)
        except PackageNotFoundError:
            pkgs[name] = None
    return {
        "vlms_bayes": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": pkgs,
    }


def run_record(
    *,
    command: str,
    config: Mapping[str, Any],
    seeds: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    timings_s: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the ``run.json`` record of a command.

    Parameters
    ----------
    command : str
        The subcommand (``run``, ``baseline``, ...).
    config : mapping
        Every setting that influenced the result.
    seeds : mapping, optional
        Random seeds used, by purpose.
    inputs : mapping, optional
        Input files: name -> ``{"path", "sha256", "date", ...}``.
    timings_s : mapping, optional
        Wall time of each step in seconds.
    extra : mapping, optional
        Anything else to record (e.g. a backend fallback).

    Returns
    -------
    dict
        The record, ready for :func:`write_json`.
    """
    return {
        "command": command,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "environment": environment_info(),
        "config": dict(config),
        "seeds": dict(seeds or {}),
        "inputs": dict(inputs or {}),
        "timings_s": dict(timings_s or {}),
        **dict(extra or {}),
    }
