"""Read the answer of the overview query (`overview_sql.py`) back: a run (clusters with their
best-ranked items and embedded metrics), the measured per-cluster rows and the window's totals.

The answer arrives in any shape the reader knows (execute-sql's pipe table, a HogQL response,
content blocks…); `interpret.Interpreter` hands a table with the overview's columns to
`run_from_overview`, which keeps the measured cells on `Run.overview` for `overview_rows`.
"""

from __future__ import annotations

import json
from typing import Any

from ..model import Cluster, Item, ItemPolicy, Run, integer_or_none, number_or_none, text_or_none
from ..posthog.overview_sql import EMBEDDED_KEYS, OVERVIEW_COLUMNS, WINDOW_KEYS
from ..read.tables import Table, cell_integer, cell_number
from .cluster_rows import ClusterRow, WindowTotals
from .stats import Sample


def _json(value: Any) -> Any:
    """A JSON cell: parsed already (pipe table) or still text (HogQL response)."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _first(cells: list[dict], name: str, kind: type) -> Any:
    """The first JSON cell `name` holding a `kind`: the row that carries the run's cells."""
    return next((value for value in (_json(c[name]) for c in cells) if isinstance(value, kind)), None)


def run_from_overview(table: Table, where: str, policy: ItemPolicy) -> Run | None:
    """The run an overview describes; None when it has no row (no such run)."""
    if not table.rows:
        return None
    index = {c.strip().lower(): i for i, c in enumerate(table.columns)}
    cells = [{name: row[index[name]] if name in index and index[name] < len(row) else None
              for name in OVERVIEW_COLUMNS} for row in table.rows]
    fields = _first(cells, "run", dict) or {}
    values = _first(cells, "window_totals", list) or []
    window = dict(zip(WINDOW_KEYS, values))
    level = fields.get("$ai_clustering_level") or None
    clusters = [_cluster(c, level, policy) for c in cells if integer_or_none(c["cluster_id"]) is not None]
    total = fields.get("$ai_total_items_analyzed", fields.get("$ai_total_traces_analyzed"))
    max_samples = integer_or_none(window.get("max_samples"))
    run = Run(
        clusters=clusters, run_id=text_or_none(fields.get("$ai_clustering_run_id")), level=level,
        job_id=text_or_none(fields.get("$ai_clustering_job_id")),
        job_name=text_or_none(fields.get("$ai_clustering_job_name")),
        window_start=text_or_none(fields.get("$ai_window_start")),
        window_end=text_or_none(fields.get("$ai_window_end")),
        total_items=integer_or_none(total), params={"max_samples": max_samples} if max_samples else None,
        source=where, notes=list(table.notes))
    if not fields:
        run.notes.append(f"{where}: no row carries the run cell, so the run's id, window and "
                         "window totals are unknown")
    run.overview = {"cells": cells, "window": window}
    return run


def _cluster(cells: dict, level: str | None, policy: ItemPolicy) -> Cluster:
    cluster_id = int(integer_or_none(cells["cluster_id"]))
    top = _json(cells["top_items"])
    items = [_item(entry, level) for entry in (top if isinstance(top, list) else [])
             if isinstance(entry, list) and entry]
    limit = policy.limit_for(cluster_id)
    embedded = _json(cells["embedded"])
    has_metrics = isinstance(embedded, list) and any(value is not None for value in embedded)
    metrics = dict(zip(EMBEDDED_KEYS, embedded)) if has_metrics else None
    size = integer_or_none(cells["size"]) or 0
    return Cluster(cluster_id=cluster_id, size=size,
                   title=text_or_none(cells["title"]) or f"Cluster {cluster_id}",
                   description=text_or_none(cells["description"]) or "", item_count=size,
                   items=items if limit is None else items[:limit], metrics=metrics)


def _item(entry: list, level: str | None) -> Item:
    """[id, rank, timestamp, distance(, trace id at generation level)]."""
    key = str(entry[0])
    trace_id = text_or_none(entry[4]) if len(entry) > 4 else None
    generation = level == "generation"
    return Item(key=key, rank=integer_or_none(entry[1]) if len(entry) > 1 else None,
                distance=number_or_none(entry[3]) if len(entry) > 3 else None, x=None, y=None,
                timestamp=text_or_none(entry[2]) if len(entry) > 2 else None,
                trace_id=trace_id if generation else key, generation_id=key if generation else None)


def overview_rows(run: Run) -> list[ClusterRow]:
    """The measured per-cluster rows of an overview, with the samples its tests need."""
    by_id = {integer_or_none(c["cluster_id"]): c for c in run.overview["cells"]
             if integer_or_none(c["cluster_id"]) is not None}
    rows = []
    for cluster in run.clusters:
        cells = by_id[cluster.cluster_id]
        number = lambda name: cell_number(cells.get(name))  # noqa: E731
        whole = lambda name: cell_integer(cells.get(name))  # noqa: E731
        row = ClusterRow(
            cluster=cluster, items=cluster.size, items_with_data=whole("items_with_data") or 0,
            total_cost=number("total_cost"), avg_cost=number("avg_cost"), cost_n=whole("cost_items"),
            avg_latency=number("avg_latency"), p50_latency=number("p50_latency"),
            p90_latency=number("p90_latency"), p95_latency=number("p95_latency"),
            latency_n=whole("latency_items"), avg_tokens=number("avg_tokens"),
            error_items=whole("error_items") or 0,
            top_model=None if cells.get("top_model") in (None, "") else str(cells["top_model"]))
        row.cost_sample = _sample(row.cost_n, row.avg_cost, number("cost_var"))
        row.latency_sample = _sample(row.latency_n, row.avg_latency, number("latency_var"))
        row.cost_squares = _squares(row.cost_sample)
        rows.append(row)
    return rows


def _sample(n: int | None, mean: float | None, variance: float | None) -> Sample:
    return Sample(n or 0, mean, variance if (n or 0) > 1 else None)


def _squares(sample: Sample) -> float | None:
    """The sum of squared values, from count, mean and variance (for the window estimates)."""
    if not sample.n or sample.mean is None:
        return 0.0 if not sample.n else None
    return (sample.variance or 0.0) * (sample.n - 1) + sample.n * sample.mean * sample.mean


def overview_totals(run: Run) -> WindowTotals | None:
    """The window's whole traffic, as the overview's run cell carries it."""
    window = run.overview["window"]
    if "items" not in window:
        return None
    whole = lambda name: integer_or_none(window.get(name))  # noqa: E731
    return WindowTotals(run.level, run.window_start, run.window_end, whole("items") or 0,
                        whole("items_with_data"), number_or_none(window.get("total_cost")),
                        whole("error_items"))

