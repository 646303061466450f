"""Recognising a result that was cut on its way to the file, and saying how to get it whole.

Three things cut results: execute-sql's `truncate` (on by default) cuts JSON cells to 500
characters and appends `...truncated`; an MCP server cuts long answers and appends a notice;
a file can simply stop. The first two leave marks, looked for here when parsing fails.
"""

from __future__ import annotations

import re

from ..errors import TruncatedInput
from .textsource import TextSource

CELL_MARKER = "...truncated"
# Older MCP servers, newer ones, and PostHog's own result formatter when it previews a result.
SERVER_NOTICES = ("[Response truncated", "Result shortened to fit this client",
                  "[SQL result preview:", "[Incomplete SQL result preview")

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


DEFAULT_ROW_LIMIT = 100  # PostHog's rows for a query without LIMIT
MAX_ROW_LIMIT = 50_000  # PostHog's cap even with a LIMIT
_EXPLICIT_LIMIT = re.compile(r"\bLIMIT\s+\d+", re.IGNORECASE)


def response_query(response: dict) -> str | None:
    """The SQL a saved HogQL API response says it answers (its `query`), when it says."""
    query = response.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    return query if isinstance(query, str) else None


def row_cap_warning(rows: int, *, has_more: object = None, query: str | None = None) -> str | None:
    """A warning when PostHog's row limits probably cut a result that looks complete."""
    if has_more is True:
        return (f"PostHog marked the result as cut (hasMore) after {rows:,} rows. Add an explicit "
                f"LIMIT (up to {MAX_ROW_LIMIT:,}) or narrow the query, and run it again.")
    if rows >= MAX_ROW_LIMIT:
        return (f"the result has {rows:,} rows, PostHog's maximum: more rows probably exist. "
                "Narrow the query (a shorter time range, one run, one cluster).")
    if rows == DEFAULT_ROW_LIMIT and not (query and _EXPLICIT_LIMIT.search(query)):
        return (f"the result has exactly {DEFAULT_ROW_LIMIT} rows and no explicit LIMIT is known: "
                f"PostHog's default row limit probably cut it. Add LIMIT N (up to "
                f"{MAX_ROW_LIMIT:,}) to the query and run it again.")
    return None
