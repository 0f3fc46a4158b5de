"""User-facing errors.

Every problem a user can fix (a missing file, a wrong column, an empty selection, bad
sampler diagnostics) is raised as a :class:`VlmsBayesError` carrying a one-paragraph
message that says what is wrong and what to do next. The command line prints the
message and exits with status 2, without a traceback.
"""

from __future__ import annotations


class VlmsBayesError(Exception):
    """An error whose message is meant for the user, not a developer."""


class InputDataError(VlmsBayesError, ValueError):
    """Bad input data: a file, a column, a row or a value that cannot be used."""


class DataUnavailableError(VlmsBayesError, FileNotFoundError):
    """A data file is neither in the data folder nor in the cache, and cannot be downloaded."""


class DiagnosticsError(VlmsBayesError):
    """Sampler diagnostics failed the quality gate."""


class OutputDirError(VlmsBayesError, OSError):
    """An output folder that cannot be created or written (read-only, under a file, full)."""
