"""Exit statuses and the one exception type every script turns into a message."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1  # an unexpected failure: a bug in the scripts
    USAGE = 2  # wrong flags or arguments
    UNREADABLE = 3  # the input could not be read as any known result shape
    TRUNCATED = 4  # the input was cut somewhere before it reached the file
    NO_CLUSTERS = 5  # the input was read but holds no clustering run
    MISSING_DEPENDENCY = 6  # ijson or httpx is not installed
    LIVE_API = 7  # live mode: PostHog's API refused or failed (key, scope, project, retries)


EXIT_CODES_HELP = """\
exit codes:
  0  ok
  1  unexpected error (a bug: please report it with the command line)
  2  usage error (unknown flag, bad value)
  3  unreadable input (not a known result shape, invalid JSON, not UTF-8)
  4  truncated input (a cell cut by execute-sql's truncate, a server's length cut,
     or JSON that stops early): rerun the query as the message says
  5  no clusters found (the result holds no $ai_clusters data)
  6  a dependency is missing (the message gives the install command)
  7  live mode: PostHog's API refused or failed (key, scope, project, server)"""


class ClusterToolError(Exception):
    """A failure the user can act on: `message` says what was wrong, what was expected and what
    to do next; `status` is the process exit code."""

    def __init__(self, message: str, status: ExitStatus = ExitStatus.ERROR):
        super().__init__(message)
        self.message = message
        self.status = status


class UsageError(ClusterToolError):
    """Wrong flags, arguments or combinations of them. With `prog`, the message ends by pointing
    at that script's --help."""

    def __init__(self, message: str, prog: str | None = None):
        if prog:
            message = f"{message}. Run `{prog} --help` for the flags and what they take."
        super().__init__(message, ExitStatus.USAGE)


class UnreadableInput(ClusterToolError):
    def __init__(self, message: str):
        super().__init__(message, ExitStatus.UNREADABLE)


class TruncatedInput(ClusterToolError):
    def __init__(self, message: str):
        super().__init__(message, ExitStatus.TRUNCATED)


class NoClustersFound(ClusterToolError):
    def __init__(self, message: str):
        super().__init__(message, ExitStatus.NO_CLUSTERS)
