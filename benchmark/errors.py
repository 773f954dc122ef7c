"""The spoofbench error hierarchy.

Every error a user can cause derives from :class:`SpoofbenchError`; the CLI prints its message
and exits non-zero. Messages name the file, line and field, echo the bad value and say what was
expected.
"""
from __future__ import annotations

from os import PathLike


class SpoofbenchError(Exception):
    """Base class of all errors caused by bad input, configuration or environment."""


def located(message: str, path: str | PathLike | None = None, line: int | None = None,
            field: str | None = None) -> str:
    """Prefix ``message`` with ``path:line: field:`` where known."""
    where = ""
    if path is not None:
        where = str(path)
        if line is not None:
            where += f":{line}"
        where += ": "
    if field is not None:
        where += f"{field}: "
    return where + message


class InputFileError(SpoofbenchError):
    """A problem in a user's file (score file, key file, manifest, config), with its location."""

    def __init__(self, message: str, path: str | PathLike | None = None,
                 line: int | None = None, field: str | None = None):
        self.path, self.line, self.field = path, line, field
        super().__init__(located(message, path, line, field))


class ScoreFileError(InputFileError):
    """A score or key file that cannot be used as it is."""


class ManifestError(InputFileError):
    """A corpus manifest, protocol file or corpus layout that cannot be used as it is."""


class ConfigError(InputFileError):
    """A YAML config (benchmark, protocol, codec matrix, training) that cannot be used."""


class CodecError(SpoofbenchError):
    """A codec condition that cannot be applied (missing encoder, ffmpeg failure, bad input)."""


class DetectorError(SpoofbenchError):
    """A detector that cannot be built, loaded or run on the given input."""


class CheckpointError(DetectorError):
    """A checkpoint that is missing or belongs to another architecture."""


class UnknownPluginError(SpoofbenchError, KeyError):
    """A name that is not in a registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SubmissionError(SpoofbenchError):
    """A leaderboard submission that does not meet the rules."""
