"""Recognising a result that was cut on its way to the file, and saying how to get it whole.

Three things cut results: execute-sql's `truncate` (on by default) cuts JSON cells to 500
characters and appends `...truncated`; an MCP server cuts long answers and appends a notice;
a file can simply stop. The first two leave marks, looked for here when parsing fails.
"""

from __future__ import annotations

from .errors import TruncatedInput
from .textsource import TextSource

CELL_MARKER = "...truncated"
SERVER_NOTICES = ("[Response truncated", "Result shortened to fit this client")

CELL_FIX = (
    "execute-sql cuts JSON cells to 500 characters unless the call passes `truncate: false`. "
    "Rerun the same query with `truncate: false`."
)
SERVER_FIX = (
    "The MCP server cut its answer to fit the client. Select fewer rows or columns (one run at "
    "a time, by run id), or load the run with the scripts' --live mode."
)


def server_notice_in(text: str) -> str | None:
    for notice in SERVER_NOTICES:
        if notice in text:
            return notice
    return None


def explain_truncation(source: TextSource, what: str) -> None:
    """Raise `TruncatedInput` when the text around a parse failure shows how it was cut."""
    around = source.tail + source.peek(8192)
    notice = server_notice_in(around)
    if notice:
        raise TruncatedInput(f"{what} was cut: it ends with the notice '{notice} …'. {SERVER_FIX}")
    if CELL_MARKER in around:
        raise TruncatedInput(f"{what} holds a cell cut to 500 characters and marked "
                             f"'{CELL_MARKER}'. {CELL_FIX}")
