"""The HogQL the skill sends: listing runs and loading one, the same text SKILL.md shows.

Every value put into SQL goes through `sql_string` (or is validated as a number or a level),
so a hostile run id cannot change a query. Every query bounds `timestamp` and sets its LIMIT.
"""

from __future__ import annotations

from datetime import date

from ..errors import UsageError
from ..model import CLUSTER_EVENT_BY_LEVEL, LEVELS
from ..run_ids import parse_run_id

MAX_RUNS_PER_QUERY = 10  # whole runs in one answer (each up to ~10,000 items)

# What the skill selects of a run's event, by output column; SKILL.md shows the same SQL.
RUN_FIELDS = {
    "run_id": "JSONExtractString(properties, '$ai_clustering_run_id')",
    "level": "JSONExtractString(properties, '$ai_clustering_level')",
    "job_id": "JSONExtractString(properties, '$ai_clustering_job_id')",
    "job_name": "JSONExtractString(properties, '$ai_clustering_job_name')",
    "window_start": "JSONExtractString(properties, '$ai_window_start')",
    "window_end": "JSONExtractString(properties, '$ai_window_end')",
    # the oldest runs counted `$ai_total_traces_analyzed`
    "total_items": "if(JSONHas(properties, '$ai_total_items_analyzed'),\n"
                   "       JSONExtractInt(properties, '$ai_total_items_analyzed'),\n"
                   "       JSONExtractInt(properties, '$ai_total_traces_analyzed'))",
    "clusters": "JSONExtractRaw(properties, '$ai_clusters')",
    "params": "JSONExtractRaw(properties, '$ai_clustering_params')",
}


def _select_list(fields: dict[str, str]) -> str:
    return ",\n".join(f"    {expression} AS {name}" for name, expression in fields.items())


RUN_COLUMNS_SQL = _select_list(RUN_FIELDS)
# A listing counts each run's clusters instead of returning them.
LIST_COLUMNS_SQL = _select_list({
    **{name: RUN_FIELDS[name]
       for name in ("run_id", "level", "job_id", "job_name", "window_end", "total_items")},
    "clusters": "JSONLength(properties, '$ai_clusters')",
})


def sql_string(value: str) -> str:
    """`value` as a string literal that HogQL and ClickHouse read back unchanged: backslash
    and quote escaped, control characters written as escapes, so no value can end the literal."""
    escaped = (value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t").replace("\0", "\\0"))
    return f"'{escaped}'"


CLUSTER_EVENTS_SQL = f"({', '.join(sql_string(event) for event in CLUSTER_EVENT_BY_LEVEL.values())})"


def cluster_events_filter(level: str | None) -> str:
    if level is None:
        return f"event IN {CLUSTER_EVENTS_SQL}"
    if level not in LEVELS:
        raise UsageError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    return f"event = {sql_string(CLUSTER_EVENT_BY_LEVEL[level])}"


def checked_days(days: int) -> int:
    """A look-back in days, refused outside 1 to 365."""
    if not 1 <= days <= 365:
        raise UsageError(f"--days must be from 1 to 365, got {days}")
    return days


def days_for_runs(count: int, days: int | None = None) -> int:
    """How far back to look for the `count` newest runs of one job and level: each job runs once a
    day, so `count` runs span `count` days; one more covers a run written late. At least 7 (the
    window of one run), or `days` when the user gave it."""
    return days if days is not None else max(7, count + 1)


def list_runs_sql(days: int = 7, level: str | None = None, limit: int = 50) -> str:
    return (f"SELECT\n{LIST_COLUMNS_SQL}\nFROM events\nWHERE {cluster_events_filter(level)}\n"
            f"    AND timestamp >= now() - INTERVAL {checked_days(days)} DAY\n"
            f"ORDER BY timestamp DESC\nLIMIT {int(limit)}")


def load_run_sql(run_id: str, days: int = 7) -> str:
    """One run by id, time-bounded by the window end its id carries (else the last `days`):
    the run's event is written when the clustering job finishes, soon after the window ends."""
    parsed = parse_run_id(run_id)
    if parsed:
        end = parsed.window_end.strftime("%Y-%m-%d %H:%M:%S")
        bounds = (f"timestamp >= toDateTime('{end}', 'UTC') - INTERVAL 1 DAY\n"
                  f"    AND timestamp < toDateTime('{end}', 'UTC') + INTERVAL 1 DAY")
    else:
        bounds = f"timestamp >= now() - INTERVAL {checked_days(days)} DAY"
    return (f"SELECT\n{RUN_COLUMNS_SQL}\nFROM events\nWHERE {cluster_events_filter(None)}\n    AND {bounds}\n"
            f"    AND JSONExtractString(properties, '$ai_clustering_run_id') = {sql_string(run_id)}\n"
            "LIMIT 1")


def runs_in_range_sql(first_day: date, last_day: date, job_id: str | None = None,
                      limit: int = MAX_RUNS_PER_QUERY) -> str:
    """Several whole runs in one query: those whose event was written from `first_day` to
    `last_day` (UTC, both included; a run's event is written the day its window ends, the date
    in its id), of one clustering job when `job_id` is given; newest first."""
    if last_day < first_day:
        raise UsageError(f"the date range ends ({last_day}) before it starts ({first_day})")
    job = _job_filter(job_id)
    return (f"SELECT\n{RUN_COLUMNS_SQL}\nFROM events\nWHERE {cluster_events_filter(None)}\n"
            f"    AND timestamp >= toDateTime('{first_day.isoformat()}', 'UTC')\n"
            f"    AND timestamp < toDateTime('{last_day.isoformat()}', 'UTC') + INTERVAL 1 DAY\n{job}"
            f"ORDER BY timestamp DESC\nLIMIT {_run_count(limit)}")


def _job_filter(job_id: str | None) -> str:
    """The condition keeping one clustering job's runs ("" keeps manual and legacy runs, which have
    no job), as a line of the WHERE clause; none when `job_id` is None."""
    return ("" if job_id is None else
            f"    AND JSONExtractString(properties, '$ai_clustering_job_id') = {sql_string(job_id)}\n")


def _run_count(count: int) -> int:
    if not 1 <= count <= MAX_RUNS_PER_QUERY:
        raise UsageError(f"load from 1 to {MAX_RUNS_PER_QUERY} runs at once, not {count}: "
                         "every run is a whole $ai_clusters column")
    return int(count)


def latest_run_sql(level: str, days: int = 7) -> str:
    return last_runs_sql(level, 1, days)


def last_runs_sql(level: str, count: int, days: int = 7, job_id: str | None = None) -> str:
    """The `count` newest runs of one level, whole, newest first; only one clustering job's runs
    when `job_id` is given ("" picks manual and legacy runs, which have no job)."""
    _run_count(count)
    job = _job_filter(job_id)
    return (f"SELECT\n{RUN_COLUMNS_SQL}\nFROM events\nWHERE {cluster_events_filter(level)}\n"
            f"    AND timestamp >= now() - INTERVAL {checked_days(days)} DAY\n{job}"
            f"ORDER BY timestamp DESC\nLIMIT {int(count)}")
