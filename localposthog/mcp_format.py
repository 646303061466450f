"""What PostHog's MCP tools and a coding agent hand back, rebuilt from query results.

`execute-sql` answers with a pipe-delimited table, not JSON; an MCP server may cut long answers;
a coding agent saves a too-large answer to a file in one of a few layouts. These functions
produce each of those byte for byte, so the skill's reader is tested on what it really meets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

TRUNCATE_AT = 500
TRUNCATED_MARKER = "...truncated"
NULL_CELL = "(null)"
OLD_NULL_CELL = "None"

MCP_CUT_NOTICE = (
    "[Response truncated - exceeded maximum length. "
    "Use more specific filters or pagination to get complete results.]"
)
MCP_SHORTENED_NOTICE = "Result shortened to fit this client: {shown} of {total} characters shown."
# PostHog's SQLResultsFormatter, given a result budget, ends a cut preview with one of these.
PREVIEW_GUIDANCE = ("Omitted rows or shortened cells are not evidence of missing data. Select fewer "
                    "columns, aggregate, filter, or paginate with a stable ORDER BY to inspect more data.")
INCOMPLETE_PREVIEW_NOTICE = (f"[Incomplete SQL result preview. Any JSON shown may be cut off. "
                             f"{PREVIEW_GUIDANCE}]")

PERSIST_SHAPES = ("content-blocks", "result", "plain")


def format_cell(value: Any, *, truncate: bool = True, null: str = NULL_CELL) -> str:
    """One cell of the execute-sql table, as PostHog's `SQLResultsFormatter` writes it: Python's
    `str()` of the value (so a dict or list cell is Python's repr, not JSON, and a float keeps
    its `.0`), NULL as `(null)` and a literal "(null)" quoted; a JSON-looking cell (a dict or
    list, or text starting with `{` or `[`) over 500 characters is cut and marked when
    truncating."""
    if value is None:
        return null
    text = str(value)
    if text == NULL_CELL:
        return '"(null)"'
    looks_json = isinstance(value, (dict, list)) or text[:1] in ("{", "[")
    if truncate and looks_json and len(text) > TRUNCATE_AT:
        return text[:TRUNCATE_AT] + TRUNCATED_MARKER
    return text


def format_execute_sql(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    truncate: bool = True,
    warnings: Sequence[tuple[str, str]] = (),
    null: str = NULL_CELL,
) -> str:
    """The text execute-sql returns: optional warning blocks, a header line, one line per row.

    Cells are joined by `|` with no quoting, so a `|` inside a value is not escaped; there is no
    trailing newline, and an empty result is the header line alone.
    """
    lines = ["|".join(columns)]
    lines.extend("|".join(format_cell(v, truncate=truncate, null=null) for v in row) for row in rows)
    table = "\n".join(lines)
    blocks = "".join(f"<{tag}>\n{body}\n</{tag}>\n\n" for tag, body in warnings)
    return blocks + table


def cut_like_mcp_server(text: str, max_chars: int, *, style: str = "old") -> str:
    """A cut of a long answer: older MCP servers append a fixed notice at 80,000 characters,
    newer ones shorten to a client budget and say so ("new"); PostHog's formatter, given a
    result budget, cuts the text and ends it with its preview notice ("preview")."""
    if len(text) <= max_chars:
        return text
    if style == "old":
        return text[:max_chars] + "\n\n" + MCP_CUT_NOTICE
    if style == "preview":
        return text[:max_chars] + "\n" + INCOMPLETE_PREVIEW_NOTICE
    return text[:max_chars] + "\n\n" + MCP_SHORTENED_NOTICE.format(shown=max_chars, total=len(text))


def persisted_content(text: str, shape: str = "content-blocks") -> str:
    """The file a coding agent writes for a too-large tool answer, in one of its layouts."""
    if shape == "content-blocks":
        return json.dumps([{"type": "text", "text": text}])
    if shape == "result":
        return json.dumps({"result": text})
    if shape == "plain":
        return text
    raise ValueError(f"unknown persisted shape {shape!r}; expected one of {PERSIST_SHAPES}")


def persist(text: str, folder: Path, *, shape: str = "content-blocks", tool: str = "execute-sql",
            stamp_ms: int = 0) -> Path:
    """Write `text` as Claude Code does (`mcp-<server>-<tool>-<ms>.txt`) and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mcp-posthog-{tool}-{stamp_ms}.txt"
    path.write_text(persisted_content(text, shape), encoding="utf-8")
    return path
