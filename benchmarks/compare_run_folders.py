"""Compare two run folders file by file, ignoring timing fields.

Run: ``python benchmarks/compare_run_folders.py BEFORE AFTER``. Every file is hashed
(SHA-256); a JSON file is hashed after dropping, at any depth, the keys whose name holds
one of ``timing``, ``elapsed``, ``wall``, ``date``, ``time`` or ``seconds`` (the run
record's timings and clock stamps). A text file (``.txt``, ``.log``, ``.html``, ``.md``)
is hashed after dropping the lines that mention a timing word. The script prints one line
per file that differs or exists on one side only and exits with status 1 when any does,
0 when the folders match.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

TIMING_WORDS = ("timing", "elapsed", "wall", "date", "time", "seconds")
TEXT_SUFFIXES = {".txt", ".log", ".html", ".md"}
_TIMING_LINE = re.compile("|".join(TIMING_WORDS), re.IGNORECASE)


def _drop_timings(value: object) -> object:
    """``value`` with every dict key that names a timing removed, recursively."""
    if isinstance(value, dict):
        return {
            key: _drop_timings(item)
            for key, item in value.items()
            if not any(word in str(key).lower() for word in TIMING_WORDS)
        }
    if isinstance(value, list):
        return [_drop_timings(item) for item in value]
    return value


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content with its timing fields left out."""
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            parsed = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
        else:
            data = json.dumps(_drop_timings(parsed), sort_keys=True).encode()
    elif path.suffix in TEXT_SUFFIXES:
        try:
            lines = data.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            pass
        else:
            data = "\n".join(line for line in lines if not _TIMING_LINE.search(line)).encode()
    return hashlib.sha256(data).hexdigest()


def compare(before: Path, after: Path) -> list[str]:
    """One line per relative path whose digest differs or that only one folder has."""
    files_before = {p.relative_to(before) for p in before.rglob("*") if p.is_file()}
    files_after = {p.relative_to(after) for p in after.rglob("*") if p.is_file()}
    lines = [f"only in {before}: {rel}" for rel in sorted(files_before - files_after)]
    lines += [f"only in {after}: {rel}" for rel in sorted(files_after - files_before)]
    for rel in sorted(files_before & files_after):
        if file_digest(before / rel) != file_digest(after / rel):
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
