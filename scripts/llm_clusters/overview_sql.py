"""HogQL for a run's overview: ONE constant-size query, one row per cluster, answer-ready.

The query reads the run's own `$ai_*_clusters` event (JSONExtract on that one event), explodes
`$ai_clusters`, joins the items to their AI events (read by property access, narrowed by event,
time and `properties.$ai_trace_id IN (the run's item ids)` before the join) and aggregates per
cluster the way `metrics_sql` defines the metrics. It also counts the window's whole traffic at
the run's level, so coverage and window estimates come from the same answer.

Every cell stays small enough for `execute-sql` with its default `truncate: true` (no JSON-looking
cell over 500 characters): titles and descriptions are cut inside the query and made one-line and
`|`-free, floats are rounded to `SIGNIFICANT_DIGITS`, and the run's own fields come once, as a
JSON object in the first row's `run` cell. `overview.py` reads the answer back.
"""

from __future__ import annotations

from .metrics_sql import CLUSTER_EVENTS, ITEM_EVENTS, MAX_CLUSTER_ROWS, RunTarget, _time
from .queries import sql_string

TOP_ITEMS = 3
TITLE_CHARS = 100
DESCRIPTION_CHARS = 160
ID_CHARS = 100
SIGNIFICANT_DIGITS = 7
CUT_MARK = "…"
# The embedded metrics' keys, in the order of the `embedded` cell's array.
EMBEDDED_KEYS = ("avg_cost", "avg_latency", "avg_tokens", "total_cost", "error_rate", "error_count",
                 "item_count")
# Floats rounded in the query, in the order of the array `f` the last SELECT unpacks.
ROUNDED = ("total_cost", "avg_cost", "cost_var", "avg_latency", "p50_latency", "p90_latency",
           "p95_latency", "latency_var", "avg_tokens", "error_rate")
OVERVIEW_COLUMNS = (
    "cluster_id", "size", "title", "description", "items", "items_with_data", "total_cost",
    "cost_items", "avg_cost", "cost_var", "avg_latency", "p50_latency", "p90_latency", "p95_latency",
    "latency_items", "latency_var", "input_tokens", "output_tokens", "avg_tokens", "error_items",
    "error_rate", "top_model", "embedded", "top_items", "run", "window",
)
# The `run` cell copies the run event's properties under their PostHog names, but these.
UNCOPIED = ("$ai_clusters", "$ai_clustering_params", "$ai_clustering_job_name")
# The `window` cell: the run's max_samples and its window's whole traffic at the run's level.
WINDOW_KEYS = ("max_samples", "items", "items_with_data", "total_cost", "cost_items", "error_items")
CELL_RULES = (
    f"Titles are cut to {TITLE_CHARS} characters and descriptions to {DESCRIPTION_CHARS}, ending in "
    f"'{CUT_MARK}' when cut; line breaks, control characters and '|' become spaces, so each row stays "
    f"one line. Floats carry {SIGNIFICANT_DIGITS} significant digits; a variance or percentile "
    f"without values is nan. top_items lists the {TOP_ITEMS} best-ranked items as [id, rank, "
    f"timestamp, distance] (generation level: and the trace id; ids cut to {ID_CHARS} characters); "
    f"embedded is PostHog's own metrics [{', '.join(EMBEDDED_KEYS)}]; the run cell, "
    "and the window cell, on the row of the smallest cluster id (noise, when the run has one), hold the run's "
    "properties, and its max_samples and its window's whole traffic."
)


def _rounded(value: str) -> str:
    """`value` rounded to SIGNIFICANT_DIGITS (0 and NULL kept)."""
    return f"if({value}=0,0,round({value},{SIGNIFICANT_DIGITS - 1}-toInt(floor(log10(abs({value}))))))"


def _run_event(target: RunTarget) -> str:
    low, high = target.run_event_bounds
    return (f"SELECT properties AS p FROM events WHERE event={sql_string(CLUSTER_EVENTS[target.level])}"
            f" AND timestamp>={_time(low)} AND timestamp<{_time(high, up=True)}"
            # JSONExtractString, not property access: HogQL's property access returns the JSON
            # text with its escapes (a run id holding a quote or backslash would never match).
            f" AND JSONExtractString(properties,'$ai_clustering_run_id')={sql_string(target.run_id)}"
            " ORDER BY timestamp DESC LIMIT 1")


ITEM_KEY = {"trace": "properties.$ai_trace_id", "generation": "toString(uuid)"}


def _in_bounds(target: RunTarget, kinds: tuple[str, ...]) -> str:
    """AI events of the given kinds inside the target's time bounds (whole seconds, for the
    partition pruning) and before the run's window end."""
    low, high = target.event_bounds
    names = ",".join(sql_string(name) for name in kinds)
    return (f"event IN ({names}) AND timestamp>={_time(low)} AND timestamp<{_time(high, up=True)}"
            " AND timestamp<(SELECT we FROM run)")


def _names(kinds) -> str:
    return ",".join(sql_string(name) for name in kinds)


def _clusters(target: RunTarget) -> str:
    """One row per cluster: what it shows besides its measured figures."""
    embedded = _names(EMBEDDED_KEYS)
    trace = ",JSONExtractString(t.2,'trace_id')" if target.level == "generation" else ""
    item = (f"(substringUTF8(t.1,1,{ID_CHARS}),JSONExtractInt(t.2,'rank'),JSONExtractString(t.2,'timestamp'),"
            f"round(JSONExtractFloat(t.2,'distance_to_centroid'),4){trace})")
    # Title and description made one line and |-free, cut to their length and marked when cut.
    texts = (f"arrayMap((s,n)->if(lengthUTF8(s)>n,concat(substringUTF8(s,1,n-1),{sql_string(CUT_MARK)}),s),"
             "arrayMap(s->replaceRegexpAll(s,'[[:cntrl:]|]+',' '),[JSONExtractString(c,'title'),"
             f"JSONExtractString(c,'description')]),[{TITLE_CHARS},{DESCRIPTION_CHARS}])")
    metrics = f"arrayMap(k->JSONExtract(c,'metrics',k,'Nullable(Float64)'),[{embedded}])"
    return (
        f"SELECT JSONExtractInt(c,'cluster_id') AS cid,JSONExtractInt(c,'size') AS size,{texts} AS td,"
        f"if(JSONLength(c,'metrics')>0,toJSONString(arrayMap(v->{_rounded('v')},{metrics})),NULL) AS embedded,"
        f"toJSONString(arraySort(t->t.2,arrayFilter(t->t.2<{TOP_ITEMS},arrayMap(t->{item},"
        "JSONExtractKeysAndValuesRaw(c,'traces'))))) AS top_items"
        " FROM (SELECT arrayJoin(JSONExtractArrayRaw(p,'$ai_clusters')) AS c FROM run)"
    )


def _measured(target: RunTarget) -> str:
    """Per cluster, the measured figures: one row per item of the run (an item no event matched
    keeps its row, without data), then per cluster, as `metrics_sql` defines the metrics. `f`
    holds the floats, rounded, in the order of ROUNDED."""
    key = ITEM_KEY[target.level]
    data = _names(name for name in ITEM_EVENTS[target.level] if name != "$ai_span")
    events = (
        f"SELECT {key} AS item,event,toFloat(properties.$ai_total_cost_usd) AS cost,"
        "toFloat(properties.$ai_latency) AS lat,toFloat(properties.$ai_input_tokens) AS tin,"
        "toFloat(properties.$ai_output_tokens) AS tout,properties.$ai_is_error='true' AS err,"
        f"properties.$ai_model AS model FROM events WHERE {_in_bounds(target, ITEM_EVENTS[target.level])}"
        f" AND timestamp>=(SELECT ws FROM run) AND {key} IN (SELECT item FROM items)"
    )
    per_item = (
        f"SELECT i.cid AS cid,countIf(e.event IN ({data}))>0 AS d,sum(e.cost) AS cost,"
        "sumIf(e.lat,e.event='$ai_generation') AS lat,if(d,ifNull(sum(e.tin),0),0) AS tin,"
        "if(d,ifNull(sum(e.tout),0),0) AS tout,countIf(e.err) AS errs,"
        "groupArrayIf(e.model,e.event='$ai_generation' AND e.model!='') AS models,"
        "if(d AND cost>0,cost,NULL) AS pc,if(d AND lat>0,lat,NULL) AS pl,"
        f"if(d AND tin+tout>0,tin+tout,NULL) AS pt FROM items AS i LEFT JOIN ({events}) AS e"
        " ON i.item=e.item GROUP BY i.cid,i.item"
    )
    return (
        "SELECT cid,count() AS items,countIf(d) AS items_with_data,count(pc) AS cost_items,"
        "count(pl) AS latency_items,sum(tin) AS input_tokens,sum(tout) AS output_tokens,"
        "countIf(d AND errs>0) AS error_items,arrayFlatten(groupArray(models)) AS ms,"
        f"arrayMap(v->{_rounded('v')},arrayConcat([sum(pc),avg(pc),varSamp(pc),avg(pl)],"
        "quantiles(0.5,0.9,0.95)(pl),[varSamp(pl),avg(pt),error_items/items_with_data])) AS f"
        f" FROM ({per_item}) GROUP BY cid"
    )


def _traffic(target: RunTarget) -> str:
    """One row: the `run` cell (the run's properties, its max_samples, and its window's whole
    traffic at its level: items whose first AI event lies in the window, their cost and errors)
    and the id of the cluster on the first row, which carries it."""
    key = ITEM_KEY[target.level]
    data = _names(name for name in ITEM_EVENTS[target.level] if name != "$ai_span")
    kinds = ("$ai_trace", *ITEM_EVENTS["trace"]) if target.level == "trace" else ITEM_EVENTS[target.level]
    per_item = (
        f"SELECT {key} AS item,min(timestamp)>=(SELECT ws FROM run) AS inside,countIf(event IN ({data}))>0 AS d,"
        "sumIf(toFloat(properties.$ai_total_cost_usd),event!='$ai_trace') AS cost,"
        "countIf(event!='$ai_trace' AND properties.$ai_is_error='true') AS errs"
        f" FROM events WHERE {_in_bounds(target, kinds)} AND timestamp>=(SELECT ws FROM run)-toIntervalDay(1)"
        f" AND {key}!='' GROUP BY item"
    )
    copied = ("arrayStringConcat(arrayMap(x->concat(toJSONString(x.1),':',x.2),arrayFilter(x->x.1 NOT IN "
              f"({_names(UNCOPIED)}),JSONExtractKeysAndValuesRaw(p))),',')")
    window = ",".join(f"'{',' if index else '{'}\"{name}\":',toJSONString({value})" for index, (name, value) in enumerate(zip(WINDOW_KEYS, (
        "JSONExtractInt(p,'$ai_clustering_params','max_samples')", "n", "nd", "wc", "nc", "ne"))))
    return (
        f"SELECT concat('{{',{copied},'}}') AS run,concat({window},'}}') AS window FROM run CROSS JOIN ("
        "SELECT countIf(inside) AS n,countIf(inside AND d) AS nd,sumIf(cost,inside) AS wc,"
        f"countIf(inside AND cost>0) AS nc,countIf(inside AND errs>0) AS ne FROM ({per_item})) AS w"
    )


def overview_query(target: RunTarget) -> str:
    """ONE query of constant size: a row per cluster (noise last) with the run's figures."""
    unpack = {name: f"f[{index}]" for index, name in enumerate(ROUNDED, 1)}
    unpack.update(cluster_id="c.cid", title="td[1]", description="td[2]", input_tokens="toInt(input_tokens)",
                  output_tokens="toInt(output_tokens)", run="if(c.cid=(SELECT min(cid) FROM items),run,NULL)",
                  window="if(c.cid=(SELECT min(cid) FROM items),window,NULL)",
                  top_model="nullIf(arraySort(x->(-countEqual(ms,x),x),arrayDistinct(ms))[1],'')")
    columns = ",".join(f"{unpack[name]} AS {name}" if name in unpack else name for name in OVERVIEW_COLUMNS)
    ctes = {
        "run": "SELECT p,parseDateTimeBestEffort(JSONExtractString(p,'$ai_window_start')) AS ws,"
               "parseDateTimeBestEffort(JSONExtractString(p,'$ai_window_end')) AS we"
               f" FROM ({_run_event(target)})",
        "items": "SELECT JSONExtractInt(c,'cluster_id') AS cid,arrayJoin(JSONExtractKeys(c,'traces')) AS item"
                 " FROM (SELECT arrayJoin(JSONExtractArrayRaw(p,'$ai_clusters')) AS c FROM run)",
    }
    with_clause = ",\n".join(f"{name} AS ({sql})" for name, sql in ctes.items())
    return (f"WITH {with_clause}\nSELECT {columns}\nFROM ({_clusters(target)}) AS c"
            f"\nLEFT JOIN ({_measured(target)}) AS k ON c.cid=k.cid\nCROSS JOIN ({_traffic(target)}) AS r"
            f"\nORDER BY cluster_id=-1,cluster_id LIMIT {MAX_CLUSTER_ROWS}")
