"""A query's answer in the shapes PostHog and a coding agent hand back.

- `hogql_response`: the JSON body of `POST /api/projects/{id}/query/`; `save_answer`
  saves it for a query, as `curl -o FILE` would.
- `execute_sql_text`: the text of the MCP `execute-sql` tool (pipe table, `(null)`, truncation),
  formatted by `mcp_format` from the same rows the query API returns.
- `persist_execute_sql`: that text saved the way Claude Code saves a too-large tool result.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from localposthog import mcp_format
from localposthog.engine import Engine, QueryResult


def hogql_response(result: QueryResult) -> dict[str, Any]:
    """The query API's JSON body for a HogQLQuery (fields the skill reads, plus PostHog's usual ones)."""
    return {
        "columns": result.columns,
        "types": [[name, kind] for name, kind in zip(result.columns, result.types)],
        "results": result.rows,
        "hasMore": result.has_more,
        "limit": result.limit,
        "offset": result.offset,
        "hogql": result.hogql,
        "clickhouse": result.clickhouse,
        "error": None,
        "timings": [],
        "modifiers": {},
        "query_status": None,
    }


def save_answer(engine: Engine, sql: str, path: Path) -> str:
    """Run `sql` and save the query API's JSON answer to `path`; the path, as a command takes it."""
    path.write_text(json.dumps(hogql_response(engine.query(sql))), encoding="utf-8")
    return str(path)


def execute_sql_text(engine: Engine, sql: str, *, truncate: bool = True, max_chars: int | None = None,
                     cut_style: str = "old") -> str:
    """Exactly what `execute-sql` prints for `sql`; `max_chars` adds the MCP server's cut."""
    result = engine.query(sql)
    text = mcp_format.format_execute_sql(result.columns, result.rows, truncate=truncate)
    return mcp_format.cut_like_mcp_server(text, max_chars, style=cut_style) if max_chars else text


def persist_execute_sql(engine: Engine, sql: str, folder: Path, *, shape: str = "content-blocks",
                        truncate: bool = True, max_chars: int | None = None,
                        stamp_ms: int | None = None) -> Path:
    """Run `sql`, save its execute-sql text as a coding agent would, and return the file's path."""
    text = execute_sql_text(engine, sql, truncate=truncate, max_chars=max_chars)
    stamp = int(time.time() * 1000) if stamp_ms is None else stamp_ms
    return mcp_format.persist(text, Path(folder), shape=shape, stamp_ms=stamp)
