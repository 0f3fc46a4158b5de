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


class GateRejectedError(DiagnosticsError):
    """A fit failed the diagnostics gate; its draws were kept in a separate folder.

    Parameters
    ----------
    message : str
        What failed, where the draws are and what to change.
    rejected_dir : path-like or None
        The folder holding the rejected fit (None when it was not kept).
    failures : list of str
        The gate's failed checks.
    """

    def __init__(self, message: str, *, rejected_dir: object = None,
                 failures: list[str] | None = None) -> None:
        super().__init__(message)
        self.rejected_dir = rejected_dir
        self.failures = list(failures or [])

    def __reduce__(self) -> tuple[object, ...]:
        # keyword-only fields survive pickling (a robustness refit runs in a worker process)
        return (type(self), (str(self),), {"rejected_dir": self.rejected_dir,
                                           "failures": self.failures})
