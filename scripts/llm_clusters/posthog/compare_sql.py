"""ONE HogQL query that compares clustering runs inside PostHog: what their clusters share.

The query reads the runs' own `$ai_*_clusters` events (JSONExtract on those events only),
unpacks `$ai_clusters` and each cluster's `traces` there, and returns counts, never items. Its
text is constant in size whatever the runs' size. The runs are put in time order (window end,
then run id, as `compare.time_order` orders them) and numbered 1, 2, … (`run`). One row per
cluster of each run and cluster of the NEXT run that share items (`next_cluster_id`, `shared`),
or one row with `next_cluster_id` NULL for a cluster that shares none (and for the last run).
The run's columns are filled on its first row only, the cluster's on its first row only (empty
elsewhere; numbers there come as text):

  cluster        cluster_id, size, title (cut to TITLE_CHARS, line breaks made spaces),
                 description (cut to DESCRIPTION_CHARS, line breaks and `|` made spaces; both
                 end with … when cut),
                 items (keys in `traces`), in_previous / in_next (how many of its items the run
                 before / after clustered), trace_cross = Σ over its traces of (the trace's items
                 in the cluster × the trace's items in the run), trace_squares = Σ (items in the
                 cluster)²: what the share test's trace-clustered variance needs
  pair           next_cluster_id, shared
  run            run_id, level, job_id, job_name, window_start, window_end, total_items,
                 top_trace (its first 200 characters), top_trace_items: the trace holding
                 most of the run's items

Which runs: those named (`ids_sql`), a run and the previous run of its job and level found
inside the query (`previous_sql`), or a job's last N runs (`last_sql`). A run whose event was
written twice is read once (LIMIT 1 BY its id).
"""

from __future__ import annotations

from ..analyse.similarity import DESCRIPTION_CHARS, TITLE_CHARS
from ..errors import UsageError
from ..model import CLUSTER_EVENT_BY_LEVEL
from ..read.truncation import MAX_ROW_LIMIT
from ..run_ids import parse_run_id
from .metrics_sql import RUN_EVENT_MARGIN, run_target, time_bound
from .queries import (
    CLUSTER_EVENTS_SQL,
    MAX_RUNS_PER_QUERY,
    RUN_FIELDS,
    checked_days,
    cluster_events_filter,
    sql_string,
)

# Cluster columns come first: a `|` in a title is then put back into the title (the first
# free-text column) when execute-sql's pipe table is read.
COLUMNS = (
    "run", "cluster_id", "size", "title", "description", "items", "in_previous", "in_next",
    "trace_cross", "trace_squares", "next_cluster_id", "shared", "run_id", "level", "job_id",
    "job_name", "window_start", "window_end", "total_items", "top_trace", "top_trace_items",
)
_RUN_META = ("run_id", "level", "job_id", "job_name", "window_start", "window_end", "total_items")


def _compact(sql: str) -> str:
    """`sql` with no line breaks and no space after commas (the field expressions hold no
    string literal with either)."""
    return " ".join(sql.split()).replace(", ", ",")


_RUN_ID = _compact(RUN_FIELDS["run_id"])
_JOB_ID = _compact(RUN_FIELDS["job_id"])


def _text(expr: str, chars: int, spaces: str) -> str:
    """`expr` cut to `chars` characters (… marks a cut), runs of `spaces` characters made one
    space, and a space put before a leading [ or {: a pipe table then keeps one line per row,
    and no cell looks like JSON (the scripts show text without its outer spaces)."""
    return (f"concat(if(substringUTF8({expr},1,1) IN ('[','{{'),' ',''),"
            f"replaceRegexpAll(substringUTF8({expr},1,{chars}),'[{spaces}]+',' '),"
            f"if(lengthUTF8({expr})>{chars},'…',''))")


def _query(where: str, count: int) -> str:
    """The query over the `count` newest cluster events matching `where`."""
    # the oldest runs record no level: their event's name says it
    fields = {**RUN_FIELDS, "run_id": "rid",
              "level": f"coalesce(nullif({RUN_FIELDS['level']},''),splitByChar('_',event)[2])"}
    # the run's fields travel as one tuple, `rm`, and are unpacked on its first row
    meta = f"({','.join(_compact(fields[name]) for name in _RUN_META)}) AS rm"
    title = _text("t0", TITLE_CHARS, "\\\\t\\\\n\\\\r")
    description = _text("d0", DESCRIPTION_CHARS, "|\\\\t\\\\n\\\\r")
    clusters = (f"SELECT {meta},dense_rank() OVER (ORDER BY rm.6,rm.1) AS r,"
                "arrayJoin(JSONExtractArrayRaw(properties,'$ai_clusters')) AS c FROM ("
                f"SELECT properties,event,{_RUN_ID} AS rid FROM events WHERE {where}"
                f" ORDER BY timestamp DESC LIMIT 1 BY rid LIMIT {count})")
    # The cluster's fields are read before its items are unpacked, not once per item.
    items = ("SELECT r,rm,id,size,title,description,arrayJoin(kvs) AS kv FROM ("
             "SELECT r,rm,JSONExtractInt(c,'cluster_id') AS id,JSONExtractInt(c,'size') AS size,"
             "JSONExtractString(c,'title') AS t0,JSONExtractString(c,'description') AS d0,"
             f"{title} AS title,{description} AS description,"
             f"JSONExtractKeysAndValuesRaw(c,'traces') AS kvs FROM ({clusters}))")
    # Per item: its trace's items in the run (m) and in the cluster (y); whether the next run
    # has the key (hn) and in which cluster (ni), whether the run before has it (pv).
    units = ("SELECT *,count() OVER (PARTITION BY r,u) AS m,count() OVER (PARTITION BY r,id,u) AS y,"
             "count() OVER nw AS hn,max(id) OVER nw AS ni,count() OVER (PARTITION BY k ORDER BY r"
             " RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS pv FROM ("
             "SELECT r,rm,id,size,title,description,tupleElement(kv,1) AS k,"
             f"coalesce(nullif(JSONExtractString(tupleElement(kv,2),'trace_id'),''),k) AS u FROM ({items}))"
             " WINDOW nw AS (PARTITION BY k ORDER BY r RANGE BETWEEN 1 FOLLOWING AND 1 FOLLOWING)")
    pairs = ("SELECT r,rm,id,size,title,description,if(hn>0,ni,NULL) AS nx,"
             "count() AS n,sum(m) AS cm,sum(y) AS cy,countIf(pv>0) AS np,"
             f"min((-m,u)) AS mu FROM ({units}) GROUP BY r,rm,id,size,title,description,nx")
    windows = ("SELECT *,row_number() OVER (PARTITION BY r ORDER BY id=-1,id,nx) AS fr,"
               "row_number() OVER (PARTITION BY r,id ORDER BY nx) AS fc,min(mu) OVER (PARTITION BY r) AS t,"
               "sum(n) OVER w AS ci,sum(cm) OVER w AS ncm,sum(cy) OVER w AS ncy,sum(np) OVER w AS nnp,"
               f"sum(if(nx IS NULL,0,n)) OVER w AS nnx FROM ({pairs}) WINDOW w AS (PARTITION BY r,id)")
    # Cells that repeat what an earlier row said are left empty (not NULL: a shorter table).
    numbers = ("size", "items", "in_previous", "in_next", "trace_cross", "trace_squares", "total_items")

    def blank(first: str, value: str, name: str) -> str:
        return f"if({first}=1,{f'toString({value})' if name in numbers else value},'') AS {name}"

    run_cells = ",".join(blank("fr", f"rm.{i}", name) for i, name in enumerate(_RUN_META, 1))
    cluster_cells = ",".join(blank("fc", value, name) for name, value in (
        ("size", "size"), ("title", "title"), ("description", "description"), ("items", "ci"),
        ("in_previous", "nnp"), ("in_next", "nnx"), ("trace_cross", "ncm"), ("trace_squares", "ncy")))
    return (f"SELECT r AS run,id AS cluster_id,{cluster_cells},nx AS next_cluster_id,"
            f"if(nx IS NULL,NULL,n) AS shared,{run_cells},if(fr=1,substringUTF8(t.2,1,200),'') AS top_trace,"
            f"if(fr=1,toString(-t.1),'') AS top_trace_items\nFROM ({windows})"
            f"\nORDER BY run,cluster_id=-1,cluster_id,next_cluster_id LIMIT {MAX_ROW_LIMIT}")


def _runs_count(count: int) -> int:
    if not 2 <= count <= MAX_RUNS_PER_QUERY:
        raise UsageError(f"one query compares at least 2 and at most {MAX_RUNS_PER_QUERY} runs, "
                         f"not {count}.")
    return count


def ids_sql(run_ids: list[str], days: int = 7) -> str:
    """The runs named by `run_ids`, time-bounded by the window ends their ids carry (a day
    either side), or by the last `days` days when an id carries none."""
    unique = list(dict.fromkeys(run_ids))
    _runs_count(len(unique))
    parsed = [parse_run_id(run_id) for run_id in unique]
    if all(parsed):
        ends = [p.window_end for p in parsed]
        bounds = (f"timestamp>={time_bound(min(ends) - RUN_EVENT_MARGIN)}"
                  f" AND timestamp<{time_bound(max(ends) + RUN_EVENT_MARGIN, up=True)}")
    else:
        bounds = _recent(days)
    ids = ",".join(sql_string(run_id) for run_id in unique)
    return _query(f"event IN {CLUSTER_EVENTS_SQL} AND {bounds} AND {_RUN_ID} IN ({ids})", len(unique))


def previous_sql(run_id: str, level: str | None = None, days: int = 7) -> str:
    """The run `run_id` and the run before it of the same job and level: found inside the
    query among that job's runs whose event lies up to `days` days before (and whose window
    ends no later than the run's)."""
    parsed = parse_run_id(run_id) if isinstance(run_id, str) else None
    if parsed is None:
        raise UsageError(
            f"--previous needs a run id that carries its window end (such as "
            f"1_trace_20260122_000016_<job id>) to bound the search; {run_id[:80]!r} does not. "
            "Name both runs with --run-id instead (list them with print_clusters.py --list-runs).")
    target = run_target(run_id, level)
    low, high = target.run_event_bounds
    end = high - RUN_EVENT_MARGIN
    event = f"event={sql_string(CLUSTER_EVENT_BY_LEVEL[target.level])}"
    job = (f"SELECT {_JOB_ID} FROM events WHERE {event} AND timestamp>={time_bound(low)}"
           f" AND timestamp<{time_bound(high, up=True)} AND {_RUN_ID}={sql_string(run_id)}")
    window_end = f"parseDateTimeBestEffort({_compact(RUN_FIELDS['window_end'])})"
    where = (f"{event} AND timestamp>={time_bound(low)} - INTERVAL {checked_days(days)} DAY"
             f" AND timestamp<{time_bound(high, up=True)} AND {_JOB_ID} IN ({job})"
             f" AND {window_end}<{time_bound(end)} + INTERVAL 1 SECOND")
    return _query(where, 2)


def last_sql(count: int, job_id: str | None = None, level: str | None = None, days: int = 7) -> str:
    """The `count` newest runs of the clustering job `job_id` ("" for manual runs; a job
    clusters one level), or of `level` (default trace) when no job is given."""
    event = cluster_events_filter(level or "trace" if job_id is None else level)
    job = "" if job_id is None else f" AND {_JOB_ID}={sql_string(job_id)}"
    return _query(f"{event} AND {_recent(days)}{job}", _runs_count(count))


def _recent(days: int) -> str:
    return f"timestamp>=now() - INTERVAL {checked_days(days)} DAY"


def query_bytes(sql: str) -> int:
    """The query's size in bytes without comment lines, as the size limit counts it."""
    return len("\n".join(line for line in sql.split("\n") if not line.lstrip().startswith("--")).encode())
