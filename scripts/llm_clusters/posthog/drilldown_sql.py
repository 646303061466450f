"""HogQL for a drill-down: one cluster's items with their figures, filtered, sorted and cut
inside PostHog, so "three traces of this cluster that failed" is one query and no filter of
the agent's own.

The query reads the cluster's items from the run's own event, narrows the AI events by event,
time and the cluster's item ids before joining them, and measures each item over its events
inside the run's window, as `metrics_sql` defines the metrics. `matched` says how many items
passed the filter, so a cut answer says what it left out.
"""

from __future__ import annotations

from ..errors import UsageError
from .metrics_sql import ITEM_EVENTS, RunTarget
from .overview_sql import ID_CHARS, ITEM_KEY, events_in_bounds, rounded_sql, run_cte, sql_names

DRILLDOWN_COLUMNS = ("item", "trace_id", "rank", "first_event", "has_data", "cost", "latency", "tokens",
                     "error_events", "model", "matched")
# Each sort puts the most interesting item first; ties go to the best rank.
SORTS = {
    "rank": "rank",
    "cost": "cost DESC,rank",
    "latency": "latency DESC,rank",
    "errors": "error_events DESC,cost DESC,rank",
    "time": "first_event DESC,rank",
}
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def drilldown_query(target: RunTarget, cluster_id: int, sort: str = "rank", limit: int = DEFAULT_LIMIT,
                    errors_only: bool = False) -> str:
    """ONE query: the items of cluster `cluster_id`, each with its cost, latency, tokens, error
    events, model and first event's time in the run's window; `errors_only` keeps the items
    with an error event; sorted by `sort` (SORTS), at most `limit` rows."""
    if not isinstance(cluster_id, int) or isinstance(cluster_id, bool):
        raise UsageError("--cluster takes a cluster id, a whole number such as 3 or -1.")
    if sort not in SORTS:
        raise UsageError(f"--sort {sort!r} is not one of {', '.join(SORTS)}.")
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be from 1 to {MAX_LIMIT}, got {limit}.")
    key = ITEM_KEY[target.level]
    kinds = ITEM_EVENTS[target.level]
    data = sql_names(name for name in kinds if name != "$ai_span")
    trace = "JSONExtractString(t.2,'trace_id')" if target.level == "generation" else "t.1"
    items = (f"SELECT t.1 AS item,substringUTF8({trace},1,{ID_CHARS * 2}) AS trace_id,"
             "JSONExtractInt(t.2,'rank') AS rank"
             " FROM (SELECT arrayJoin(JSONExtractKeysAndValuesRaw(c,'traces')) AS t FROM (SELECT arrayJoin("
             "JSONExtractArrayRaw(p,'$ai_clusters')) AS c FROM run) "
             f"WHERE JSONExtractInt(c,'cluster_id')={cluster_id})")
    events = (
        f"SELECT {key} AS item,min(timestamp) AS first_at,countIf(event IN ({data}))>0 AS d,"
        "sum(toFloat(properties.$ai_total_cost_usd)) AS cost,"
        "sumIf(toFloat(properties.$ai_latency),event='$ai_generation') AS latency,"
        "sum(ifNull(toFloat(properties.$ai_input_tokens),0)"
        "+ifNull(toFloat(properties.$ai_output_tokens),0)) AS tokens,"
        "countIf(properties.$ai_is_error='true') AS errors,"
        "groupArrayIf(properties.$ai_model,event='$ai_generation' AND properties.$ai_model!='') AS ms"
        f" FROM events WHERE {events_in_bounds(target, kinds)} AND timestamp>=(SELECT ws FROM run)"
        f" AND {key} IN (SELECT item FROM items) GROUP BY item"
    )
    where = "\nWHERE e.errors>0" if errors_only else ""
    return (
        f"WITH run AS ({run_cte(target)}),\nitems AS ({items})\n"
        "SELECT i.item AS item,i.trace_id AS trace_id,i.rank AS rank,e.first_at AS first_event,"
        f"ifNull(e.d,0)>0 AS has_data,{rounded_sql('e.cost')} AS cost,"
        f"{rounded_sql('e.latency')} AS latency,"
        "e.tokens AS tokens,e.errors AS error_events,"
        "arraySort(x->(-countEqual(e.ms,x),x),arrayDistinct(e.ms))[1] AS model,count() OVER () AS matched"
        f"\nFROM items AS i\nLEFT JOIN ({events}) AS e ON i.item=e.item{where}"
        f"\nORDER BY {SORTS[sort]} LIMIT {int(limit)}"
    )
