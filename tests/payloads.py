"""Builders of clustering-run payloads for the reader tests, and the expected reading of them.

A payload is what PostHog stores on an `$ai_*_clusters` event: the properties dict, whose
`$ai_clusters` is a list of cluster objects. `expected_run` says what the reader must make of
it (independently of the reader's code), `summary` reduces a `Run` to the same shape, so a test
is `assert summary(run) == expected_run(props, policy)`.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from llm_clusters.model import ItemPolicy, Run
from localposthog.mcp_format import format_execute_sql

TEAM = 1
JOB_ID = "019cb7f3-a126-7809-bffc-7f13bffe1325"

# The columns of the upstream SKILL.md's query, in its order.
STANDARD_COLUMNS = ("run_id", "level", "job_id", "job_name", "window_start", "window_end",
                    "total_items", "clusters", "params")
_PROPERTY_FOR_COLUMN = {
    "run_id": "$ai_clustering_run_id",
    "level": "$ai_clustering_level",
    "job_id": "$ai_clustering_job_id",
    "job_name": "$ai_clustering_job_name",
    "window_start": "$ai_window_start",
    "window_end": "$ai_window_end",
    "total_items": "$ai_total_items_analyzed",
    "clusters": "$ai_clusters",
    "params": "$ai_clustering_params",
}


def hexid(n: int, salt: int = 0) -> str:
    """A deterministic UUID-looking id."""
    h = f"{(n * 2654435761 + salt * 97) & 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def item_entry(rank: int, *, level: str = "trace", key: str, parent: str | None = None,
               old: bool = False, distance: float | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "distance_to_centroid": round(0.05 + 0.01 * rank, 6) if distance is None else distance,
        "rank": rank,
        "x": round(-2.5 + 0.1 * rank, 4),
        "y": round(1.5 - 0.05 * rank, 4),
    }
    if old:
        return entry
    entry["timestamp"] = f"2026-01-22T15:{rank % 60:02d}:00+00:00"
    if level == "generation":
        entry["trace_id"] = parent or hexid(rank, 7)
        entry["generation_id"] = key
    else:
        entry["trace_id"] = key
        entry["generation_id"] = None
    return entry


def make_cluster(cluster_id: int, n_items: int, *, level: str = "trace", title: str | None = None,
                 description: str | None = None, old: bool = False, metrics: Any = "default",
                 ranks: Sequence[int] | None = None, salt: int = 0,
                 keys: Sequence[str] | None = None) -> dict[str, Any]:
    """A cluster object as PostHog writes it. `ranks` gives the items' ranks in storage order
    (default 0..n-1); `metrics="absent"` leaves the key out."""
    noise = cluster_id == -1
    ranks = list(range(n_items)) if ranks is None else list(ranks)
    keys = list(keys) if keys is not None else [hexid(1000 * (cluster_id + 2) + i, salt)
                                                for i in range(len(ranks))]
    traces = {}
    for key, rank in zip(keys, ranks):
        parent = hexid(len(traces), salt + 11) if level == "generation" else None
        traces[key] = item_entry(rank, level=level, key=key, parent=parent, old=old)
    cluster: dict[str, Any] = {
        "cluster_id": cluster_id,
        "size": len(traces),
        "title": title if title is not None else ("Outliers" if noise else f"Cluster {cluster_id} title"),
        "description": description if description is not None else (
            "Items that did not fit into any cluster" if noise
            else f"- bullet about {cluster_id}\n- another"),
        "traces": traces,
        "centroid": [] if noise else [round(0.01 * i, 3) for i in range(100)],
        "centroid_x": 1.25 * cluster_id,
        "centroid_y": -0.5 * cluster_id,
    }
    if metrics == "default":
        cluster["metrics"] = {"avg_cost": 0.0012, "avg_latency": 1.5, "avg_tokens": 900.0,
                              "total_cost": 0.0012 * len(traces), "error_rate": 0.05,
                              "error_count": 1, "item_count": len(traces)}
    elif metrics != "absent":
        cluster["metrics"] = metrics
    return cluster


def run_id_for(level: str | None = "trace", *, date: str = "20260123", time: str = "000000",
               job: bool = True, label: str | None = None) -> str:
    parts = [str(TEAM)] + ([level] if level else []) + [date, time]
    if job:
        parts.append(JOB_ID)
    if label:
        parts.append(label)
    return "_".join(parts)


def make_properties(clusters: list[dict], *, level: str = "trace", run_id: str | None = None,
                    old: bool = False, job_name: str = "Default - traces",
                    window_end: str = "2026-01-23T00:00:00+00:00") -> dict[str, Any]:
    """The properties of a clustering event. `old=True`: the oldest format (no level, job or
    params, `$ai_total_traces_analyzed`, run id without level)."""
    total = sum(len(c["traces"]) for c in clusters)
    if old:
        return {
            "$ai_clustering_run_id": run_id or run_id_for(None, job=False),
            "$ai_window_start": "2026-01-16T00:00:00+00:00",
            "$ai_window_end": window_end,
            "$ai_total_traces_analyzed": total,
            "$ai_clusters": clusters,
        }
    return {
        "$ai_clustering_run_id": run_id or run_id_for(level),
        "$ai_clustering_level": level,
        "$ai_clustering_job_id": JOB_ID,
        "$ai_clustering_job_name": job_name,
        "$ai_window_start": "2026-01-16T00:00:00+00:00",
        "$ai_window_end": window_end,
        "$ai_total_items_analyzed": total,
        "$ai_clusters": clusters,
        "$ai_clustering_params": {"clustering_method": "hdbscan", "clustering_method_params": {},
                                  "embedding_normalization": "l2",
                                  "dimensionality_reduction_method": "umap",
                                  "dimensionality_reduction_ndims": 100,
                                  "visualization_method": "umap", "max_samples": 1500},
    }


def standard_props(level: str = "trace", *, n_clusters: int = 3, items: int = 5, noise: bool = True,
                   **kwargs) -> dict[str, Any]:
    old = kwargs.pop("old", False)
    metrics = "absent" if old else "default"
    clusters = [make_cluster(i, items + i, level=level, old=old, metrics=metrics) for i in range(n_clusters)]
    if noise:
        clusters.append(make_cluster(-1, items, level=level, old=old, metrics=metrics))
    return make_properties(clusters, level=level, old=old, **kwargs)


def event_name(level: str) -> str:
    return f"$ai_{level}_clusters"


# ---------------------------------------------------------------------------- documents

def row_for(props: dict, columns: Sequence[str] = STANDARD_COLUMNS) -> list:
    """One result row with the given columns, taken from the properties (None when absent)."""
    out = []
    for column in columns:
        key = _PROPERTY_FOR_COLUMN.get(column, column)
        if column == "total_items" and key not in props:
            key = "$ai_total_traces_analyzed"
        out.append(props.get(key))
    return out


def raw_json(row: Sequence) -> list:
    """A result row as HogQL returns the skill's queries: JSON columns (`JSONExtractRaw`) arrive
    as strings of compact JSON. (execute-sql would print a native dict or list as Python's repr.)"""
    return [json.dumps(v, separators=(",", ":"), ensure_ascii=False) if isinstance(v, (dict, list)) else v
            for v in row]


def execute_sql(props_list: Sequence[dict], columns: Sequence[str] = STANDARD_COLUMNS, *,
                header: Sequence[str] | None = None, **kwargs) -> str:
    """The execute-sql text for one row per run (truncate off unless asked)."""
    kwargs.setdefault("truncate", False)
    rows = [raw_json(row_for(p, columns)) for p in props_list]
    return format_execute_sql(list(header or columns), rows, **kwargs)


def hogql_response(props_list: Sequence[dict], columns: Sequence[str] = STANDARD_COLUMNS, *,
                   json_as_string: bool = False) -> str:
    """A HogQL API response. `json_as_string`: JSON columns arrive as JSON text, as
    JSONExtractRaw returns them."""
    rows = []
    for props in props_list:
        row = row_for(props, columns)
        if json_as_string:
            row = [json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for v in row]
        rows.append(row)
    return json.dumps({"columns": list(columns), "types": [], "results": rows, "hasMore": False,
                       "limit": 100, "offset": 0}, ensure_ascii=False)


# ---------------------------------------------------------------------------- expectations

def _expected_items(traces: dict, limit: int | None, level: str | None) -> list[tuple]:
    rows = []
    for key, entry in traces.items():
        rank = entry.get("rank")
        dist = entry.get("distance_to_centroid")
        rows.append(((rank if rank is not None else float("inf")),
                     (dist if dist is not None else float("inf")), key, entry))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    if limit is not None:
        rows = rows[:limit]
    out = []
    for _, _, key, entry in rows:
        trace_id = entry.get("trace_id") or None
        generation_id = entry.get("generation_id") or None
        if level == "trace" and trace_id is None:
            trace_id = key
        if level == "generation" and generation_id is None:
            generation_id = key
        out.append((key, entry.get("rank"), entry.get("distance_to_centroid"),
                    entry.get("timestamp") or None, trace_id, generation_id))
    return out


def expected_run(props: dict, policy: ItemPolicy = ItemPolicy(), *, level: str | None = None) -> dict:
    level = level or props.get("$ai_clustering_level") or "trace"
    clusters = []
    for c in props["$ai_clusters"]:
        clusters.append({
            "cluster_id": c["cluster_id"],
            "size": c["size"],
            "title": c["title"] or f"Cluster {c['cluster_id']}",
            "description": c.get("description") or "",
            "item_count": len(c["traces"]),
            "items": _expected_items(c["traces"], policy.limit_for(c["cluster_id"]), level),
            "metrics": c.get("metrics"),
        })
    total = props.get("$ai_total_items_analyzed", props.get("$ai_total_traces_analyzed"))
    return {
        "run_id": props.get("$ai_clustering_run_id") or None,
        "level": level,
        "job_id": props.get("$ai_clustering_job_id") or None,
        "job_name": props.get("$ai_clustering_job_name") or None,
        "window_start": props.get("$ai_window_start"),
        "window_end": props.get("$ai_window_end"),
        "total_items": total,
        "params": props.get("$ai_clustering_params"),
        "clusters": clusters,
    }


def summary(run: Run) -> dict:
    return {
        "run_id": run.run_id,
        "level": run.level,
        "job_id": run.job_id,
        "job_name": run.job_name,
        "window_start": run.window_start,
        "window_end": run.window_end,
        "total_items": run.total_items,
        "params": run.params,
        "clusters": [{
            "cluster_id": c.cluster_id,
            "size": c.size,
            "title": c.title,
            "description": c.description,
            "item_count": c.item_count,
            "items": [(i.key, i.rank, i.distance, i.timestamp, i.trace_id, i.generation_id) for i in c.items],
            "metrics": c.metrics,
        } for c in run.clusters],
    }


def clusters_only(expected: dict) -> dict:
    """The parts of an expectation that a document holding only `$ai_clusters` can give."""
    return {"clusters": expected["clusters"]}


# ---------------------------------------------------------------------------- reading

def read_text(text: str, policy: ItemPolicy = ItemPolicy(), name: str = "input"):
    """Read `text` as the bytes of a saved file (UTF-8), the way `read_runs` reads a file."""
    import io

    from llm_clusters.read.reader import read_runs_from
    from llm_clusters.read.textsource import text_from_binary

    data = text.encode("utf-8", "surrogatepass")
    return read_runs_from(text_from_binary(io.BytesIO(data), name), policy, name)


def content_blocks(*texts: str, extra: dict | None = None, type_last: bool = False) -> str:
    blocks = []
    for text in texts:
        block = {"text": text, "type": "text"} if type_last else {"type": "text", "text": text}
        if extra:
            block.update(extra)
        blocks.append(block)
    return json.dumps(blocks)
