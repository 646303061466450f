"""HogQL that measures a clustering run's clusters inside PostHog: cost, latency, tokens, errors.

The server-side query is constant size whatever the run's size: it reads the run's own
`$ai_*_clusters` event, explodes `$ai_clusters` with `arrayJoin(JSONExtractArrayRaw(…))` and
`JSONExtractKeys(…, 'traces')`, and joins the items to their AI events inside the run's window,
so the item ids never leave ClickHouse. Metrics follow PostHog's own (see posthog-facts §1):

  trace level       events `$ai_generation`, `$ai_embedding` (and `$ai_span`) with `$ai_trace_id`
                    = the item key; cost, tokens and errors over generations and embeddings;
                    latency = the SUM of the trace's generation latencies; an item has data when
                    it has a generation or embedding in the window (a span alone is not data)
  generation level  the `$ai_generation` event whose `uuid` is the item key
  error             `$ai_is_error` is boolean true or the string "true"
  averages          over items whose value is > 0; error rate = error items / items with data

The queries are HogQL that PostHog accepts in every recent version (its parser and function
tables check them in the tests) and can optimise: AI events' properties are read through HogQL
property access (`properties.$ai_trace_id` is a materialised, bloom-filter-indexed column in
PostHog; `toFloat(properties.$ai_latency)`), never by parsing the whole properties JSON, which
on real traffic holds the prompts and completions; and AI events are narrowed by event name,
time and the run's own trace ids before any join. Only the run's one cluster event is read
with JSON functions. Every value put into the SQL is a validated integer or level, or a string
literal escaped by `sql_string`.

`in_list_queries` is the fallback for tools that cannot run the server-side form: one query per
chunk of a run file's item ids, each under a stated size.

`window_totals_query` measures the run's whole window, not its sample: items whose first AI
event lies in the window, their cost and errors, between explicit bounds from the run's window.
Every query ends with its own LIMIT, so PostHog's default of 100 rows never applies silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..errors import UsageError
from ..model import CLUSTER_EVENT_BY_LEVEL, METRIC_LEVELS
from ..read.truncation import MAX_ROW_LIMIT
from ..run_ids import parse_run_id
from ..timestamps import parse_timestamp
from .queries import sql_string

# Events joined to an item, and the expression that names the item they belong to.
ITEM_EVENTS = {"trace": ("$ai_generation", "$ai_embedding", "$ai_span"), "generation": ("$ai_generation",)}
ITEM_KEY = {"trace": "properties.$ai_trace_id", "generation": "toString(uuid)"}
RUN_EVENT_MARGIN = timedelta(days=1)  # a run's event is written shortly after its window ends
MAX_CLUSTER_ROWS = 1000
DEFAULT_MAX_QUERY_BYTES = 20_000

_TRACE_LATENCY = (
    "Trace latency is the SUM of the trace's generation latencies ($ai_latency), as PostHog "
    "computes it; span_s is the wall-clock span from the first to the last AI event of the item."
)
_GENERATION_LATENCY = "Latency is the generation's own $ai_latency, as PostHog uses it."
_AVERAGES = (
    "Averages and percentiles are over items whose value is > 0; error rate = error items / "
    "items with data; an error is $ai_is_error true (boolean or the string 'true')."
)
LATENCY_NOTE = f"{_TRACE_LATENCY} {_AVERAGES}"


def metric_definitions(level: str | None) -> str:
    """How the numbers are defined, for the run's level."""
    return f"{_GENERATION_LATENCY if level == 'generation' else _TRACE_LATENCY} {_AVERAGES}"


# Per-cluster columns of the server-side query, in order (the `aggregate` reader relies on them);
# `cost_sq` is the sum of the squared per-item costs, for the intervals of the window estimates.
CLUSTER_COLUMNS = (
    "cluster_id", "title", "items", "items_with_data", "total_cost", "cost_items", "avg_cost",
    "avg_latency", "p50_latency", "p90_latency", "p95_latency", "latency_items", "input_tokens",
    "output_tokens", "avg_tokens", "error_items", "error_rate", "top_model", "avg_span_s", "cost_sq",
)
ITEM_COLUMNS = (
    "cluster_id", "item", "has_data", "cost", "latency", "input_tokens", "output_tokens",
    "error_events", "model", "span_s",
)


def time_bound(value: datetime, up: bool = False) -> str:
    """A whole-second bound as `toDateTime(<unix seconds>)`: absolute, so no time zone can shift
    it, and read the same way by HogQL and ClickHouse. `up` rounds up instead of down."""
    seconds = value.timestamp()
    whole = int(seconds) + (1 if up and seconds != int(seconds) else 0)
    return f"toDateTime({whole})"


@dataclass(frozen=True)
class RunTarget:
    """What the query needs to know about a run: its id, level and time bounds."""

    run_id: str
    level: str
    run_event_bounds: tuple[datetime, datetime]  # where the run's own event lies
    event_bounds: tuple[datetime, datetime]  # where its items' AI events lie (window or wider)


def run_target(run_id: str, level: str | None = None, window_start: str | None = None,
               window_end: str | None = None) -> RunTarget:
    """Validate the run id and level and set the time bounds: the run's window when known,
    else the bounds its id implies. Raises a usage error when neither gives bounds."""
    if not isinstance(run_id, str) or not run_id:
        raise UsageError("no run id: pass --run-id ID, or a run file whose run has an id.")
    parsed = parse_run_id(run_id)
    if level and parsed and parsed.level and parsed.level != level:
        raise UsageError(f"--level {level} contradicts the run id, which says {parsed.level}; "
                         "drop --level.")
    level = level or (parsed.level if parsed else None)
    if level not in METRIC_LEVELS:
        raise UsageError(
            f"the level {level!r} is not one of {', '.join(METRIC_LEVELS)}; the run id does not say it "
            "(older run ids carry none), so pass --level trace or --level generation.")
    start, end = parse_timestamp(window_start), parse_timestamp(window_end)
    if start and end:
        events = (start, end)
    elif parsed:
        events = parsed.time_bounds()
        end = end or parsed.window_end
    else:
        raise UsageError(
            f"cannot bound the query in time: the run id {run_id[:80]!r} follows no known format "
            "and no window is known. Pass --run-file with the saved run (it carries its window).")
    assert end is not None
    return RunTarget(run_id, level, (end - RUN_EVENT_MARGIN, end + RUN_EVENT_MARGIN), events)


def _run_event(target: RunTarget) -> str:
    """The run's own cluster event, as one column `p` (its properties)."""
    low, high = target.run_event_bounds
    return (
        f"SELECT properties AS p FROM events WHERE event={sql_string(CLUSTER_EVENT_BY_LEVEL[target.level])}"
        f" AND timestamp>={time_bound(low)} AND timestamp<{time_bound(high, up=True)}"
        f" AND JSONExtractString(properties,'$ai_clustering_run_id')={sql_string(target.run_id)}"
        " ORDER BY timestamp DESC LIMIT 1"
    )


# The trace id of each item: the key itself at trace level, the item's `trace_id` at generation level.
_ITEM_TRACE_IDS = {
    "trace": "JSONExtractKeys(c,'traces')",
    # each item's own small JSON, split out once (a path per key would re-parse the cluster per item)
    "generation": "arrayMap(t->JSONExtractString(t.2,'trace_id'),JSONExtractKeysAndValuesRaw(c,'traces'))",
}


def _run_trace_ids(target: RunTarget) -> str:
    """The trace ids of the run's items: AI events are narrowed to them before any join, on the
    column PostHog materialises and indexes (`properties.$ai_trace_id`)."""
    return (f"SELECT arrayJoin({_ITEM_TRACE_IDS[target.level]}) FROM ("
            f"SELECT arrayJoin(JSONExtractArrayRaw(p,'$ai_clusters')) AS c FROM ({_run_event(target)}))")


def _run_items(target: RunTarget) -> str:
    """One row per item of the run: cluster id, title, item key and the run's exact window."""
    return (
        "SELECT JSONExtractInt(c,'cluster_id') AS cluster_id,JSONExtractString(c,'title') AS title,"
        "arrayJoin(JSONExtractKeys(c,'traces')) AS item,ws,we FROM ("
        "SELECT arrayJoin(JSONExtractArrayRaw(p,'$ai_clusters')) AS c,"
        "parseDateTimeBestEffort(JSONExtractString(p,'$ai_window_start')) AS ws,"
        f"parseDateTimeBestEffort(JSONExtractString(p,'$ai_window_end')) AS we FROM ({_run_event(target)}))"
    )


def _item_events(target: RunTarget, where: str = "", kinds: tuple[str, ...] | None = None,
                 bounds: tuple[datetime, datetime] | None = None) -> str:
    """The AI events that may belong to the run's items: the right kinds (`kinds`, default the
    level's item events), in the time bounds (`bounds`, default the target's). Missing numbers
    read as 0 and a missing model as '', so sums and counts are those of present values."""
    low, high = bounds or target.event_bounds
    names = ",".join(sql_string(name) for name in kinds or ITEM_EVENTS[target.level])
    return (
        f"SELECT {ITEM_KEY[target.level]} AS item,event,timestamp AS ts,"
        "ifNull(toFloat(properties.$ai_total_cost_usd),0) AS cost,"
        "ifNull(toFloat(properties.$ai_latency),0) AS lat,"
        "ifNull(toFloat(properties.$ai_input_tokens),0) AS tin,"
        "ifNull(toFloat(properties.$ai_output_tokens),0) AS tout,"
        "ifNull(toString(properties.$ai_is_error)='true',0) AS err,"
        "ifNull(properties.$ai_model,'') AS model"
        f" FROM events WHERE event IN ({names}) AND timestamp>={time_bound(low)}"
        f" AND timestamp<{time_bound(high, up=True)}{where}"
    )


# The templates are written compactly (no space after commas) to keep the query under 4 KB.
# HogQL checks aggregations' parameters: `quantilesIf` takes one, so the percentiles use
# `quantiles` over NULL-outside-the-condition values (aggregations skip NULLs).
# The run's items joined to their events (already narrowed to those items); `w` marks the events
# inside the run's window, and an item no event matched keeps one row with `w` false. A LEFT JOIN
# from the items: PostHog puts a non-LEFT join's team guard in WHERE, dropping unmatched items.
_JOINED = (
    "SELECT i.cluster_id AS cluster_id,i.title AS title,i.item AS item,e.event AS event,e.ts AS ts,"
    "e.cost AS cost,e.lat AS lat,e.tin AS tin,e.tout AS tout,e.err AS err,e.model AS model,"
    "(e.ts>=i.ws AND e.ts<i.we) AS w\nFROM ({items}) AS i\nLEFT JOIN ({events}) AS e ON e.item=i.item"
)
# One row per item; a span alone is not data (PostHog measures generations and embeddings).
_PER_ITEM = (
    "SELECT cluster_id,title,item,countIf(w AND event!='$ai_span')>0 AS d,"
    "sumIf(cost,w) AS cost,sumIf(lat,w AND event='$ai_generation') AS lat,sumIf(tin,w) AS tin,"
    "sumIf(tout,w) AS tout,countIf(w AND err) AS errs,"
    "groupArrayIf(model,w AND event='$ai_generation' AND model!='') AS models,"
    "dateDiff('ms',minIf(ts,w),maxIf(ts,w))/1000 AS span"
    "\nFROM ({joined})\nGROUP BY cluster_id,title,item"
)
# The most frequent model in the array `ms` (ties: alphabetical first), NULL when there is none.
_MODE = "nullIf(arraySort(x->(-countEqual({ms},x),x),arrayDistinct({ms}))[1],'')"
_PER_CLUSTER = (
    "SELECT cluster_id,title,count() AS items,countIf(d) AS items_with_data,"
    "sum(if(d AND cost>0,cost,NULL)) AS total_cost,countIf(d AND cost>0) AS cost_items,"
    "avg(if(d AND cost>0,cost,NULL)) AS avg_cost,avg(if(d AND lat>0,lat,NULL)) AS avg_latency,"
    "quantiles(0.5,0.9,0.95)(if(d AND lat>0,lat,NULL)) AS q,countIf(d AND lat>0) AS latency_items,"
    "sum(tin) AS input_tokens,sum(tout) AS output_tokens,"
    "avg(if(d AND tin+tout>0,tin+tout,NULL)) AS avg_tokens,countIf(d AND errs>0) AS error_items,"
    "arrayFlatten(groupArray(models)) AS ms,avg(if(d,span,NULL)) AS avg_span_s,"
    "sumIf(cost*cost,d AND cost>0) AS cost_sq"
    "\nFROM ({per_item})\nGROUP BY cluster_id,title"
)


def _per_item_select(target: RunTarget) -> str:
    events = _item_events(target, f" AND properties.$ai_trace_id IN ({_run_trace_ids(target)})")
    return _PER_ITEM.format(joined=_JOINED.format(items=_run_items(target), events=events))


def server_side_query(target: RunTarget, per_item: bool = False) -> str:
    """ONE query of constant size: a row per cluster (or, with `per_item`, a row per item)."""
    per_item_sql = _per_item_select(target)
    if per_item:
        return (
            "SELECT cluster_id,item,d AS has_data,cost,lat AS latency,tin AS input_tokens,"
            f"tout AS output_tokens,errs AS error_events,{_MODE.format(ms='models')} AS model,span AS span_s"
            f"\nFROM ({per_item_sql})\nORDER BY cluster_id=-1,cluster_id,item LIMIT {MAX_ROW_LIMIT}")
    return (
        "SELECT cluster_id,title,items,items_with_data,total_cost,cost_items,avg_cost,avg_latency,"
        "if(latency_items>0,q[1],NULL) AS p50_latency,if(latency_items>0,q[2],NULL) AS p90_latency,"
        "if(latency_items>0,q[3],NULL) AS p95_latency,latency_items,input_tokens,output_tokens,"
        "avg_tokens,error_items,if(items_with_data>0,error_items/items_with_data,NULL) AS error_rate,"
        f"{_MODE.format(ms='ms')} AS top_model,avg_span_s,cost_sq"
        f"\nFROM ({_PER_CLUSTER.format(per_item=per_item_sql)})"
        f"\nORDER BY cluster_id=-1,cluster_id LIMIT {MAX_CLUSTER_ROWS}"
    )


def _exact_time(value: datetime) -> str:
    return f"parseDateTimeBestEffort({sql_string(_iso(value))})"


# --- the window's whole traffic ---------------------------------------------------------------

# The window's items are those whose FIRST AI event lies in the window (the item timestamp a run
# records); a trace's `$ai_trace` event counts for that, not for its data.
WINDOW_EVENTS = {"trace": ("$ai_trace", *ITEM_EVENTS["trace"]), "generation": ITEM_EVENTS["generation"]}
FIRST_EVENT_LOOKBACK = timedelta(days=1)  # how far before the window a trace's earlier events are looked for
WINDOW_SCOPE = (
    "Scope: every {unit} whose first AI event lies in the run's window (start inclusive, end "
    "exclusive), all traffic at that level: a run does not record its job's event_filters, so "
    "a job that filters events sampled from a narrower population. Cost and errors count the "
    "item's events inside the window, as the run's own metrics do."
)


def window_scope(level: str) -> str:
    return WINDOW_SCOPE.format(unit="generation" if level == "generation" else "trace")


def window_totals_query(target: RunTarget, window: tuple[datetime, datetime]) -> str:
    """ONE row: the whole traffic of the run's window at its level (items, items with data,
    total cost, items with an error), between explicit bounds taken from the run's `window`."""
    start, end = window
    data = ",".join(sql_string(name) for name in ITEM_EVENTS[target.level] if name != "$ai_span")
    events = _item_events(target, kinds=WINDOW_EVENTS[target.level],
                          bounds=(start - FIRST_EVENT_LOOKBACK, end))
    return (
        f"SELECT {sql_string(_iso(start))} AS window_start,{sql_string(_iso(end))} AS window_end,"
        f"{sql_string(target.level)} AS level,count() AS items,countIf(d) AS items_with_data,"
        "sum(cost) AS total_cost,countIf(cost>0) AS cost_items,countIf(errs>0) AS error_items\nFROM ("
        f"SELECT item,min(ts) AS first_ts,countIf(event IN ({data}))>0 AS d,"
        "sumIf(cost,event!='$ai_trace') AS cost,countIf(err AND event!='$ai_trace') AS errs"
        f"\nFROM ({events})\nWHERE ts<{_exact_time(end)} AND item!=''\nGROUP BY item"
        f" HAVING first_ts>={_exact_time(start)})\nLIMIT 1"
    )


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def in_list_queries(target: RunTarget, keys: list[str], max_bytes: int = DEFAULT_MAX_QUERY_BYTES,
                    window: tuple[datetime, datetime] | None = None) -> list[str]:
    """Per-item queries naming the items in `IN (…)` lists, each at most `max_bytes` (UTF-8):
    the fallback where the server-side form cannot run. Items with no event in the window
    get no row (count them as items without data). `window` is the run's exact window; without
    it, the time bounds of `target` are used as they are."""
    low, high = window or target.event_bounds
    mode = _MODE.format(ms="groupArrayIf(model,event='$ai_generation' AND model!='')")
    head = (
        "SELECT item,countIf(event!='$ai_span')>0 AS has_data,sum(cost) AS cost,"
        "sumIf(lat,event='$ai_generation') AS latency,sum(tin) AS input_tokens,sum(tout) AS output_tokens,"
        f"countIf(err) AS error_events,{mode} AS model,"
        "dateDiff('ms',min(ts),max(ts))/1000 AS span_s\nFROM ("
    )
    tail = (f")\nWHERE ts>={_exact_time(low)} AND ts<{_exact_time(high)}\n"
            f"GROUP BY item ORDER BY item LIMIT {MAX_ROW_LIMIT}")
    def query(literals: list[str]) -> str:
        where = f" AND {ITEM_KEY[target.level]} IN ({','.join(literals)})"
        return head + _item_events(target, where) + tail

    fixed = len(query([]).encode())
    if fixed >= max_bytes:
        raise UsageError(f"--max-query-bytes {max_bytes} is too small: a query without any "
                         f"item already takes {fixed} bytes.")
    queries, chunk, size = [], [], fixed
    for key in sorted(set(keys)):
        literal = sql_string(key)
        cost = len(literal.encode()) + (1 if chunk else 0)
        if chunk and size + cost > max_bytes:
            queries.append(query(chunk))
            chunk, size = [], fixed
            cost = len(literal.encode())
        if fixed + cost > max_bytes:
            raise UsageError(f"the item id {key[:60]!r}… alone is longer than --max-query-bytes "
                             f"{max_bytes} allows; raise it.")
        chunk.append(literal)
        size += cost
    if chunk:
        queries.append(query(chunk))
    return queries
