"""HogQL for a run's overview: ONE constant-size query, one row per cluster, answer-ready.

The query reads the run's own `$ai_*_clusters` event (JSONExtract on that one event) and
explodes `$ai_clusters`. The window's AI events are scanned ONCE, narrowed by event name and
time bounds and read by property access, into one row per item (`traffic`): that gives both the
window's whole traffic at the run's level (so coverage and window estimates come from the same
answer) and, joined to the run's items, each cluster's figures as `metrics_sql` defines them.
No raw AI event is joined: the join is between the run's items and those per-item rows, and a
second scan narrowed by `$ai_trace_id IN (…)` would only read the same events again.

Every cell stays small enough for `execute-sql` with its default `truncate: true` (no JSON-looking
cell over 500 characters): titles and descriptions are cut inside the query and made one-line and
`|`-free, floats are rounded to `SIGNIFICANT_DIGITS`, and the run's own fields come once, in the
`run` and `window_totals` cells of one row. `overview.py` reads the answer back. The text is
compact (no spaces after commas, short aliases) to stay within MAX_QUERY_BYTES whatever the run;
aliases avoid HogQL's keywords (`window`, `timestamp`, `totals`, …), which it refuses as aliases.
"""

from __future__ import annotations

from ..model import CLUSTER_EVENT_BY_LEVEL
from .metrics_sql import ITEM_EVENTS, MAX_CLUSTER_ROWS, RunTarget, time_bound
from .queries import sql_string

MAX_QUERY_BYTES = 4096
TOP_ITEMS = 3
TITLE_CHARS = 100
DESCRIPTION_CHARS = 160
ID_CHARS = 100
SIGNIFICANT_DIGITS = 7
CUT_MARK = "…"
# The embedded metrics' keys, in the order of the `embedded` cell's array.
EMBEDDED_KEYS = ("avg_cost", "avg_latency", "total_cost", "error_rate", "item_count")
# Floats rounded in the query, in the order of the array `f` the last SELECT unpacks.
ROUNDED = ("total_cost", "avg_cost", "cost_var", "avg_latency", "p50_latency", "p90_latency",
           "p95_latency", "latency_var", "avg_tokens", "error_rate")
OVERVIEW_COLUMNS = (
    "cluster_id", "size", "title", "description", "items_with_data", "total_cost",
    "cost_items", "avg_cost", "cost_var", "avg_latency", "p50_latency", "p90_latency", "p95_latency",
    "latency_items", "latency_var", "tokens", "avg_tokens", "error_items",
    "error_rate", "top_model", "embedded", "top_items", "run", "window_totals",
)
# The `run` cell copies the run event's properties under their PostHog names, but these.
UNCOPIED = ("$ai_clusters", "$ai_clustering_params", "$ai_clustering_job_name")
# The `window_totals` cell's array: the run's max_samples and its window's whole traffic at its level.
WINDOW_KEYS = ("max_samples", "items", "items_with_data", "total_cost", "error_items")
CELL_RULES = (
    f"Titles and descriptions are cut to {TITLE_CHARS} and {DESCRIPTION_CHARS} characters, then end "
    f"in '{CUT_MARK}'; line breaks, control characters and '|' become spaces, so each row stays one "
    f"line. Floats carry {SIGNIFICANT_DIGITS} significant digits; a variance, percentile or rate "
    f"without values is nan. top_items: the {TOP_ITEMS} best-ranked items as [id, rank, timestamp, "
    f"distance] (generation level: and the trace id; ids cut to {ID_CHARS} characters). embedded: "
    f"PostHog's own metrics [{', '.join(EMBEDDED_KEYS)}] (all null: the run has none). On the row "
    "of the smallest cluster id (noise, when the run has one): run, the run's properties; window_totals, "
    f"[{', '.join(WINDOW_KEYS)}] of the window's whole traffic at the run's level."
)


def rounded_sql(value: str) -> str:
    """`value` rounded to SIGNIFICANT_DIGITS (0 and NULL kept)."""
    return f"if({value}=0,0,round({value},{SIGNIFICANT_DIGITS - 1}-toInt(floor(log10(abs({value}))))))"


def sql_names(names) -> str:
    return ",".join(sql_string(name) for name in names)


def _run_event(target: RunTarget) -> str:
    low, high = target.run_event_bounds
    event = sql_string(CLUSTER_EVENT_BY_LEVEL[target.level])
    return (f"SELECT properties AS p FROM events WHERE event={event}"
            f" AND timestamp>={time_bound(low)} AND timestamp<{time_bound(high, up=True)}"
            # JSONExtractString, not property access: HogQL's property access returns the JSON
            # text with its escapes (a run id holding a quote or backslash would never match).
            f" AND JSONExtractString(properties,'$ai_clustering_run_id')={sql_string(target.run_id)}"
            " ORDER BY timestamp DESC LIMIT 1")


def run_cte(target: RunTarget) -> str:
    """The run's event (`p`, its properties) and its exact window (`ws`, `we`), for `WITH run AS (…)`."""
    return ("SELECT p,parseDateTimeBestEffort(JSONExtractString(p,'$ai_window_start')) AS ws,"
            "parseDateTimeBestEffort(JSONExtractString(p,'$ai_window_end')) AS we"
            f" FROM ({_run_event(target)})")


ITEM_KEY = {"trace": "properties.$ai_trace_id", "generation": "toString(uuid)"}


def events_in_bounds(target: RunTarget, kinds: tuple[str, ...]) -> str:
    """The WHERE conditions for AI events of the given kinds inside the target's time bounds
    (whole seconds, for the partition pruning) and before the run's window end."""
    low, high = target.event_bounds
    return (f"event IN ({sql_names(kinds)}) AND timestamp>={time_bound(low)}"
            f" AND timestamp<{time_bound(high, up=True)} AND timestamp<(SELECT we FROM run)")


def _data_events(level: str) -> str:
    """The events that make an item one "with data" (a span alone does not)."""
    return sql_names(name for name in ITEM_EVENTS[level] if name != "$ai_span")


def _shown(target: RunTarget) -> str:
    """One row per cluster: what it shows besides its measured figures."""
    trace = ",JSONExtractString(t.2,'trace_id')" if target.level == "generation" else ""
    item = (f"(substringUTF8(t.1,1,{ID_CHARS}),JSONExtractInt(t.2,'rank'),JSONExtractString(t.2,'timestamp'),"
            f"round(JSONExtractFloat(t.2,'distance_to_centroid'),4){trace})")
    texts = (f"arrayMap((s,n)->concat(replaceRegexpAll(substringUTF8(s,1,n),'[[:cntrl:]|]+',' '),"
             f"if(lengthUTF8(s)>n,{sql_string(CUT_MARK)},'')),arrayMap(k->JSONExtractString(c,k),"
             f"['title','description']),[{TITLE_CHARS},{DESCRIPTION_CHARS}])")
    metrics = f"arrayMap(k->JSONExtract(c,'metrics',k,'Nullable(Float64)'),[{sql_names(EMBEDDED_KEYS)}])"
    return (
        f"SELECT cid,{texts} AS td,"
        f"toJSONString(arrayMap(v->{rounded_sql('v')},{metrics})) AS embedded,"
        f"toJSONString(arraySort(t->t.2,arrayFilter(t->t.2<{TOP_ITEMS},arrayMap(t->{item},"
        "JSONExtractKeysAndValuesRaw(c,'traces'))))) AS top_items FROM clusters"
    )


def _traffic(target: RunTarget) -> str:
    """One row per item of the window's traffic at the run's level, from ONE scan of the AI
    events narrowed by event and time: whether its first event lies in the window (`inside`), and
    its figures over its events inside the window, as `metrics_sql` defines them (`pc`, `pl`,
    `pt`: cost, latency and tokens when the item has data and the value is > 0, else NULL)."""
    key = ITEM_KEY[target.level]
    kinds = ("$ai_trace", *ITEM_EVENTS["trace"]) if target.level == "trace" else ITEM_EVENTS[target.level]
    events = (
        f"SELECT {key} AS item,event,timestamp<(SELECT ws FROM run) AS b,"
        "NOT b AND event!='$ai_trace' AS w,"
        "toFloat(properties.$ai_total_cost_usd) AS cost,toFloat(properties.$ai_latency) AS lat,"
        "ifNull(toFloat(properties.$ai_input_tokens),0)"
        "+ifNull(toFloat(properties.$ai_output_tokens),0) AS tok,"
        "properties.$ai_is_error='true' AS err,properties.$ai_model AS model"
        f" FROM events WHERE {events_in_bounds(target, kinds)}"
        " AND timestamp>=(SELECT ws FROM run)-toIntervalDay(1)"
    )
    return (
        "SELECT item,countIf(b)=0 AS inside,"
        f"countIf(w AND event IN ({_data_events(target.level)}))>0 AS d,"
        "sumIf(cost,w) AS c,sumIf(lat,w AND event='$ai_generation') AS l,"
        "sumIf(tok,w) AS tokens,countIf(w AND err) AS errs,"
        "groupArrayIf(model,w AND event='$ai_generation' AND model!='') AS models,if(d AND c>0,c,NULL) AS pc,"
        "if(d AND l>0,l,NULL) AS pl,if(d AND tokens>0,tokens,NULL) AS pt"
        f" FROM ({events}) GROUP BY item HAVING item!=''"
    )


# Per cluster, the measured figures from its items' totals (an item of the run with no event in
# the window keeps its row, without data); `f` holds the floats, rounded, in the order of ROUNDED.
_MEASURED = (
    "SELECT i.cid AS cid,count() AS items,countIf(a.d) AS items_with_data,count(a.pc) AS cost_items,"
    "count(a.pl) AS latency_items,sum(a.tokens) AS tokens,countIf(a.d AND a.errs>0) AS error_items,"
    "arrayFlatten(groupArray(a.models)) AS ms,arrayMap(v->{rounded},arrayConcat([sum(a.pc),avg(a.pc),"
    "varSamp(a.pc),avg(a.pl)],quantiles(0.5,0.9,0.95)(a.pl),[varSamp(a.pl),avg(a.pt),"
    "error_items/items_with_data])) AS f"
    " FROM items AS i LEFT JOIN traffic AS a ON i.item=a.item GROUP BY i.cid"
)
# One row: the `run` cell (the run's properties), the `window_totals` cell (its max_samples and its
# window's whole traffic: items whose first AI event lies in the window, with data, their cost,
# with an error) and the cluster id whose row carries them.
_TRAFFIC = (
    "SELECT concat('{{',arrayStringConcat(arrayMap(x->concat(toJSONString(x.1),':',x.2),arrayFilter("
    "x->x.1 NOT IN ({uncopied}),JSONExtractKeysAndValuesRaw(p))),','),'}}') AS run,toJSONString(["
    "JSONExtractInt(p,'$ai_clustering_params','max_samples'),n,nd,wc,ne]) AS wt,"
    "(SELECT min(cid) FROM items) AS first FROM run CROSS JOIN (SELECT countIf(inside) AS n,"
    "countIf(inside AND d) AS nd,sumIf(c,inside) AS wc,countIf(inside AND errs>0) AS ne"
    " FROM traffic) AS w"
)


def overview_query(target: RunTarget) -> str:
    """ONE query of constant size: a row per cluster (noise last) with the run's figures."""
    unpack = {name: f"f[{index}]" for index, name in enumerate(ROUNDED, 1)}
    unpack.update(cluster_id="c.cid", size="items", title="td[1]", description="td[2]",
                  run="if(c.cid=first,run,NULL)",
                  window_totals="if(c.cid=first,wt,NULL)",
                  top_model="arraySort(x->(-countEqual(ms,x),x),arrayDistinct(ms))[1]")
    columns = ",".join(f"{unpack[name]} AS {name}" if name in unpack else name for name in OVERVIEW_COLUMNS)
    ctes = {
        "run": run_cte(target),
        "clusters": "SELECT arrayJoin(JSONExtractArrayRaw(p,'$ai_clusters')) AS c,"
                    "JSONExtractInt(c,'cluster_id') AS cid FROM run",
        "items": "SELECT cid,arrayJoin(JSONExtractKeys(c,'traces')) AS item FROM clusters",
        "traffic": _traffic(target),
    }
    with_clause = ",\n".join(f"{name} AS ({sql})" for name, sql in ctes.items())
    return (f"WITH {with_clause}\nSELECT {columns}\nFROM ({_shown(target)}) AS c"
            f"\nLEFT JOIN ({_MEASURED.format(rounded=rounded_sql('v'))}) AS k ON c.cid=k.cid"
            f"\nCROSS JOIN ({_TRAFFIC.format(uncopied=sql_names(UNCOPIED))}) AS r"
            f"\nORDER BY cluster_id<0,cluster_id LIMIT {MAX_CLUSTER_ROWS}")
