"""One exception hierarchy for herit, each class carrying its process exit code.

The command-line layer turns any :class:`HeritError` into a single line
``herit: error: <message>`` (plus an optional hint) and exits with
:attr:`HeritError.exit_code`.  Any other exception is a bug (exit code 1).

Exit codes
----------
=====  ==========================================================================
code   meaning
=====  ==========================================================================
0      success
1      internal error (a bug in herit: please report it with ``OUT.log``)
2      usage error: bad option, out-of-range value, conflicting options
3      unreadable or malformed input file
4      data that cannot be analysed (no overlapping samples, constant phenotype, ...)
5      no convergence
6      stale or mismatched artifact (rebuild it with the command named)
7      output cannot be written (directory missing, not writable, disk full)
130    interrupted (Ctrl-C / SIGINT, SIGTERM)
=====  ==========================================================================
"""

from __future__ import annotations

EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "internal error (a bug in herit; please report it with OUT.log)",
    2: "usage error: bad option, out-of-range value or conflicting options",
    3: "unreadable or malformed input file",
    4: "data that cannot be analysed (no overlapping samples, constant phenotype, ...)",
    5: "no convergence",
    6: "stale or mismatched artifact (rebuild it with the command named in the message)",
    7: "output cannot be written (directory missing, not writable, disk full)",
    130: "interrupted (SIGINT or SIGTERM)",
}


class HeritError(Exception):
    """Base class of every error herit reports to the user.

    Parameters
    ----------
    message : str
        One line naming the file, line, column or value involved.
    hint : str, optional
        A short suggestion printed on a second line.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(HeritError):
    """An option value is out of range, or options conflict."""

    exit_code = 2


class InputError(HeritError):
    """An input file is missing, unreadable or malformed."""

    exit_code = 3


class DataError(HeritError):
    """The inputs are well formed but cannot be analysed."""

    exit_code = 4


class ConvergenceError(HeritError):
    """An iterative fit did not converge."""

    exit_code = 5


class ArtifactMismatchError(HeritError):
    """An artifact is stale, of the wrong kind, or built from other inputs."""

    exit_code = 6


class OutputError(HeritError):
    """An output file cannot be written."""

    exit_code = 7


class Interrupted(HeritError):
    """The run was interrupted by SIGINT or SIGTERM."""

    exit_code = 130
