"""Compare two run folders file by file, ignoring timings, clock stamps and the folder path.

Run: ``python benchmarks/compare_run_folders.py BEFORE AFTER``. Every file is hashed
(SHA-256) after taking out what legitimately changes from one run to the next:

- JSON: the keys, at any depth, whose name holds ``timing``, ``elapsed``, ``wall``,
  ``seconds`` or ``created`` (step timings, ``wall_s``, ``created_utc``);
- JSON strings and text files (``.txt``, ``.csv``, ``.md``, ``.html``, ``.log``): the
  run folder's own path (becomes ``<RUN>``) and ISO-8601 clock stamps (``<TIME>``);
- ``.npz`` (a zip archive that stamps each member with the write time): the member names
  and their bytes;
- ``.nc`` (HDF5): every dataset's bytes and every attribute except ArviZ's
  ``created_at`` and the sampler's ``sampling_time``;
- ``run.json``: each step's ``outputs`` (file -> sha256 of its bytes) holds the normalised
  digest of that file instead, since files that record a time stamp differ byte-wise;
- ``report.html``: the seconds of the table of steps and the run's total time.

It prints one line per file that differs or exists on one side only and exits with status
1 when any does, 0 when the folders match.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np

TIMING_KEY_WORDS = ("timing", "elapsed", "wall", "seconds", "created")
HDF5_SKIPPED_ATTRS = {"created_at", "sampling_time"}
TEXT_SUFFIXES = {".txt", ".csv", ".md", ".html", ".log"}
_STEP_SECONDS = re.compile(r"(<th>step</th><th>seconds</th>.*?</table>)", re.DOTALL)
_RUN_TIME = re.compile(r"\d+ steps in [^;<]+ s")
_ISO_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _normalise_text(text: str, folder: Path) -> str:
    """``text`` with the run folder's path and ISO clock stamps replaced by placeholders."""
    for spelling in sorted({str(folder.resolve()), str(folder)}, key=len, reverse=True):
        text = text.replace(spelling, "<RUN>")
    return _ISO_STAMP.sub("<TIME>", text)


def _normalise_json(value: object, folder: Path) -> object:
    """``value`` without timing keys, its strings normalised (see :func:`_normalise_text`)."""
    if isinstance(value, dict):
        return {
            key: _normalise_json(item, folder)
            for key, item in value.items()
            if not any(word in str(key).lower() for word in TIMING_KEY_WORDS)
        }
    if isinstance(value, list):
        return [_normalise_json(item, folder) for item in value]
    if isinstance(value, str):
        return _normalise_text(value, folder)
    return value


def _hdf5_digest(path: Path) -> str:
    """SHA-256 over every object's name, attributes (less the skipped ones) and data."""
    digest = hashlib.sha256()

    def visit(name: str, obj: h5py.HLObject) -> None:
        digest.update(name.encode())
        for key in sorted(obj.attrs):
            if key in HDF5_SKIPPED_ATTRS or key in {"DIMENSION_LIST", "REFERENCE_LIST"}:
                continue
            digest.update(key.encode() + repr(obj.attrs[key]).encode())
        if isinstance(obj, h5py.Dataset):
            values = np.asarray(obj[()])
            if values.dtype.kind == "O":  # variable-length strings: hash values, not pointers
                digest.update(repr(values.tolist()).encode())
            else:
                digest.update(np.ascontiguousarray(values).tobytes())

    with h5py.File(path, "r") as handle:
        visit("/", handle)
        handle.visititems(visit)
    return digest.hexdigest()


def _digest_step_outputs(record: object, folder: Path) -> None:
    """Replace the sha256 of each step output in a ``run.json`` by its normalised digest."""
    steps = record.get("steps") if isinstance(record, dict) else None
    for step in (steps or {}).values():
        outputs = step.get("outputs") if isinstance(step, dict) else None
        if not isinstance(outputs, dict):
            continue
        for rel in outputs:
            target = folder / rel
            if target.is_file():
                outputs[rel] = file_digest(target, folder)


def file_digest(path: Path, folder: Path) -> str:
    """SHA-256 of a file of the run folder ``folder``, normalised as the module says."""
    if path.suffix == ".nc":
        return _hdf5_digest(path)
    if path.suffix == ".npz":
        digest = hashlib.sha256()
        with zipfile.ZipFile(path) as archive:
            for name in sorted(archive.namelist()):
                digest.update(name.encode() + archive.read(name))
        return digest.hexdigest()
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            parsed = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
        else:
            if path.name == "run.json":
                _digest_step_outputs(parsed, folder)
            data = json.dumps(_normalise_json(parsed, folder), sort_keys=True).encode()
    elif path.suffix in TEXT_SUFFIXES:
        try:
            text = _normalise_text(data.decode("utf-8"), folder)
        except UnicodeDecodeError:
            pass
        else:
            if path.suffix == ".html":
                text = _RUN_TIME.sub("<N> steps in <T> s", text)
                text = _STEP_SECONDS.sub(
                    lambda m: re.sub(r"<td>[-+0-9.e]+</td>", "<td><T></td>", m.group(1)), text)
            data = text.encode()
    return hashlib.sha256(data).hexdigest()


def compare(before: Path, after: Path) -> list[str]:
    """One line per relative path whose digest differs or that only one folder has."""
    files_before = {p.relative_to(before) for p in before.rglob("*") if p.is_file()}
    files_after = {p.relative_to(after) for p in after.rglob("*") if p.is_file()}
    lines = [f"only in {before}: {rel}" for rel in sorted(files_before - files_after)]
    lines += [f"only in {after}: {rel}" for rel in sorted(files_after - files_before)]
    for rel in sorted(files_before & files_after):
        if file_digest(before / rel, before) != file_digest(after / rel, after):
            lines.append(f"differs: {rel}")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    before, after = (Path(arg) for arg in argv)
    for folder in (before, after):
        if not folder.is_dir():
            print(f"not a folder: {folder}", file=sys.stderr)
            return 2
    lines = compare(before, after)
    for line in lines:
        print(line)
    n_files = sum(1 for p in before.rglob("*") if p.is_file())
    print(f"{len(lines)} difference(s) over {n_files} file(s) of {before}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
