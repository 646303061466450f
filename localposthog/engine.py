"""A real ClickHouse (chdb, in-process) holding the dataset's `events` table, queried like PostHog.

`Engine.query(hogql)` first refuses what PostHog refuses (`hogql_check.py`: PostHog's parser and
function tables), then rewrites HogQL sugar (see `hogql.py`), applies PostHog's row limits (100
rows and `hasMore` when the outermost SELECT has no LIMIT; at most 50,000 with one), runs the
query in UTC, and returns column names, ClickHouse types and rows as PostHog's JSON API would
(datetimes as ISO strings with `Z`, UUIDs as strings, `properties` as the JSON string). Its clock
stands at the dataset's `now` (a few hours after the last run), so `now() - INTERVAL 7 DAY` works.
The table is laid out as PostHog's: a MergeTree sorted by team, day and event, with `$ai_trace_id`
materialised into an indexed column and the other small `$ai_` properties in a map column.

chdb keeps one ClickHouse per process and its sessions share state, so every engine gets its own
database in one shared session, and queries run one at a time under a lock.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from localposthog import dataset
from localposthog.hogql import AI_BLOBS, AI_PROPERTY_GROUP, MATERIALIZED_PROPERTIES, QueryError, rewrite
from localposthog.hogql_check import check_query

DEFAULT_ROWS = 100  # PostHog returns this many rows when the query has no LIMIT
MAX_ROWS = 50_000  # and never more than this
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"

_COLUMNS = (
    ("uuid", "UUID"),
    ("event", "String"),
    ("properties", "String"),
    ("timestamp", "DateTime64(6, 'UTC')"),
    ("team_id", "Int64"),
    ("distinct_id", "String"),
    ("elements_chain", "String"),
    ("created_at", "DateTime64(6, 'UTC')"),
    ("person_id", "UUID"),
)
# PostHog's events table: its sort key, the AI properties it materialises as columns with a
# bloom-filter index, and the map of the other small AI properties (its `ai` property group);
# HogQL's `properties.$ai_…` reads those instead of the JSON (see hogql.py).
_SORT_KEY = "team_id, toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid)"
_MATERIALIZED = tuple(
    f"`{column}` Nullable(String) MATERIALIZED JSONExtract(properties, '{name}', 'Nullable(String)'), "
    f"INDEX `bloom_filter_{column}` `{column}` TYPE bloom_filter(0.001) GRANULARITY 1"
    for name, column in MATERIALIZED_PROPERTIES.items()
) + (
    f"`{AI_PROPERTY_GROUP}` Map(String, String) MATERIALIZED mapFilter((k, v) -> startsWith(k, '$ai_') "
    f"AND k NOT IN ({', '.join(repr(b) for b in AI_BLOBS)}), "
    "CAST(JSONExtractKeysAndValuesRaw(properties), 'Map(String, String)'))",
)
_SETTINGS = (
    "session_timezone = 'UTC', cast_string_to_date_time_mode = 'best_effort', "
    "output_format_json_quote_64bit_integers = 0, max_execution_time = 10"
)

_session = None
_lock = threading.Lock()
_database_numbers = itertools.count()


def _shared_session():
    global _session
    if _session is None:
        from chdb import (
            session as chdb_session,  # imported here: chdb is a test/dev dependency
        )

        _session = chdb_session.Session()
    return _session


@dataclass(frozen=True)
class QueryResult:
    """One answered query. `has_more`, `limit` and `offset` are None when PostHog omits them
    (the query had its own LIMIT, or is a UNION)."""

    hogql: str
    clickhouse: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    has_more: bool | None
    limit: int | None
    offset: int | None


class Engine:
    """The dataset in `data_dir` loaded into its own ClickHouse database."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.ground_truth = dataset.load_ground_truth(self.data_dir)
        self.jobs = dataset.load_jobs(self.data_dir)
        self.now = datetime.fromisoformat(self.ground_truth["now"])
        self.database = f"localposthog_{next(_database_numbers)}"
        self._load()

    @classmethod
    def open(cls, data_dir: Path | None = None, seed: int = 0, scale: float = 1.0) -> "Engine":
        """An engine over the dataset in `data_dir` (default `localposthog/data/`), built if missing."""
        return cls(dataset.ensure_dataset(Path(data_dir or DEFAULT_DATA_DIR), seed, scale))

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.ground_truth["runs"]

    def _load(self) -> None:
        columns = ", ".join(name for name, _ in _COLUMNS)
        structure = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)
        table = ", ".join((structure, *_MATERIALIZED))
        path = _escape(str((self.data_dir / dataset.EVENTS_FILE).resolve()))
        with _lock:
            session = _shared_session()
            session.query(f"CREATE DATABASE IF NOT EXISTS {self.database}")
            session.query(f"CREATE TABLE {self.database}.events ({table}) "
                          f"ENGINE = MergeTree ORDER BY ({_SORT_KEY})")
            session.query(f"INSERT INTO {self.database}.events ({columns}) SELECT {columns} "
                          f"FROM file('{path}', 'JSONEachRow', '{_escape(structure)}')")

    def close(self) -> None:
        with _lock:
            _shared_session().query(f"DROP DATABASE IF EXISTS {self.database}")

    def query(self, hogql: str) -> QueryResult:
        """Run a HogQL query as PostHog's query API would; QueryError says what is wrong, in
        PostHog's words when PostHog's parser or printer would refuse the query."""
        _accepted(hogql)
        prepared = rewrite(hogql, now=self.now)
        paginate = not prepared.has_limit and not prepared.is_set_query
        cap = MAX_ROWS if prepared.has_limit else DEFAULT_ROWS + 1 if paginate else DEFAULT_ROWS
        sql = f"{prepared.sql}\nSETTINGS limit = {cap}, {_SETTINGS}"
        payload = json.loads(self._run(sql))
        columns = [c["name"] for c in payload["meta"]]
        types = [c["type"] for c in payload["meta"]]
        rows = [_json_row(row, types) for row in payload["data"]]
        has_more = None
        if paginate:
            has_more = len(rows) > DEFAULT_ROWS
            rows = rows[:DEFAULT_ROWS]
        return QueryResult(hogql=hogql, clickhouse=prepared.sql, columns=columns, types=types, rows=rows,
                           has_more=has_more, limit=DEFAULT_ROWS if paginate else None,
                           offset=0 if paginate else None)

    def _run(self, sql: str) -> str:
        with _lock:
            session = _shared_session()
            session.query(f"USE {self.database}")
            try:
                return session.query(sql, "JSONCompact").bytes().decode("utf-8")
            except Exception as error:  # chdb raises its own error types; all mean a bad query here
                raise QueryError(_clean_clickhouse_error(str(error), self.database)) from None


@lru_cache(maxsize=1024)
def _accepted(hogql: str) -> None:
    """Check `hogql` as PostHog would, once per distinct query: PostHog's ANTLR parser takes up to
    a second on a 4 KB query, and tests and benchmarks send the same queries many times. (A
    refused query raises, so it is not cached and is checked again.)"""
    check_query(hogql)


def _escape(text: str) -> str:
    """Text for a ClickHouse string literal."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


_DATETIME_TYPE = re.compile(r"^(Nullable\()?DateTime(64)?\b")


def _json_row(row: list[Any], types: list[str]) -> list[Any]:
    """Values as PostHog's API serialises them: datetimes as ISO 8601 in UTC with a `Z`."""
    return [_iso_datetime(v) if v is not None and _DATETIME_TYPE.match(t) else v for v, t in zip(row, types)]


def _iso_datetime(value: str) -> str:
    return value.replace(" ", "T", 1) + "Z"


_CODE_PREFIX = re.compile(r"^Code: \d+\. DB::Exception: ")
_HINTS = {
    "UNKNOWN_TABLE": "the local PostHog only has the `events` table",
    "UNKNOWN_FUNCTION": "HogQL sugar the local PostHog does not translate, or not a ClickHouse function",
    "UNKNOWN_IDENTIFIER": "events columns are uuid, event, properties, timestamp, team_id, distinct_id, "
                          "elements_chain, created_at, person_id; read other fields with properties.$name",
}


def _clean_clickhouse_error(message: str, database: str) -> str:
    """ClickHouse's message without its code prefix, scope dump or internal database name."""
    first = message.strip().splitlines()[0] if message.strip() else "query failed"
    name = re.search(r"\(([A-Z_]+)\)\s*$", first)
    text = _CODE_PREFIX.sub("", first)
    text = re.sub(r"\s*In scope .*$", "", text)
    text = re.sub(r"\s*Maybe you meant[^?]*\?", "", text)
    text = re.sub(r"\s*\([A-Z_]+\)\s*$", "", text)
    text = text.replace(f"{database}.", "")
    hint = _HINTS.get(name.group(1)) if name else None
    return f"{text} ({hint})" if hint else text
