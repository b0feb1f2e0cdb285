"""Exit codes and the exceptions that map to them."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes of `omniload`, documented in the README."""

    OK = 0
    INTERNAL_ERROR = 1
    USAGE_ERROR = 2
    SOURCE_ERROR = 3
    DESTINATION_ERROR = 4
    EXTRACT_FAILED = 5
    LOAD_FAILED = 6
    CANCELLED = 7
    SETUP_ERROR = 8
    INTERRUPTED = 130


class OmniloadError(Exception):
    """A failure that ends the run with one line of output and a named exit code."""

    exit_code = ExitCode.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(OmniloadError):
    """An option, URI or environment variable has an invalid value."""

    exit_code = ExitCode.USAGE_ERROR


class SourceError(OmniloadError):
    """The Asana API rejected the token or the workspace, or could not be reached."""

    exit_code = ExitCode.SOURCE_ERROR


class DestinationError(OmniloadError):
    """The DuckDB file cannot be used: missing folder, not writable, locked or not DuckDB."""

    exit_code = ExitCode.DESTINATION_ERROR


class ExtractError(OmniloadError):
    """tap-asana failed during the run."""

    exit_code = ExitCode.EXTRACT_FAILED


class LoadError(OmniloadError):
    """target-duckdb failed during the run."""

    exit_code = ExitCode.LOAD_FAILED


class CancelledError(OmniloadError):
    """The user declined the confirmation prompt."""

    exit_code = ExitCode.CANCELLED


class SetupError(OmniloadError):
    """A required executable (tap-asana, target-duckdb) is not installed."""

    exit_code = ExitCode.SETUP_ERROR
