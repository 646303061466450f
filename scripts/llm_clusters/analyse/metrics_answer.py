"""The answer `cluster_metrics.py aggregate` gives about a run: its per-cluster rows from the best
source it was given (metrics tables, else the overview's figures, else PostHog's embedded
metrics), their tests against the rest of the run, the window's totals with each cluster's
window estimates, and, for an overview, the findings lines it opens with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..model import Run
from .cluster_rows import (
    ClusterRow,
    WindowTotals,
    add_tests,
    add_window_estimates,
    rows_from_embedded,
    rows_from_tables,
)
from .findings import findings_lines, links_from_env
from .metrics_inputs import RunTables
from .overview import overview_rows, overview_totals


@dataclass
class MetricsAnswer:
    run: Run
    rows: list[ClusterRow]
    source: str  # where the rows come from: "per-item", "per-cluster", "overview" or "embedded"
    totals: WindowTotals | None  # the window's whole traffic, when known
    findings: list[str]  # an overview's opening lines
    notes: list[str]
    warnings: list[str]


def measure(tables: RunTables, env: Mapping[str, str]) -> MetricsAnswer:
    """The rows of `tables.run`, tested, with window estimates when the window's totals are known
    (from the window totals table, else from the overview); `env` gives the findings' links."""
    run, notes = tables.run, tables.notes
    warnings = tables.warnings + [w for _, table in tables.metrics for w in table.warnings]
    if tables.metrics:
        rows, source, more = rows_from_tables(run, tables.metrics)
        notes += more
    elif run.overview is not None:
        rows, source = overview_rows(run), "overview"
    else:
        rows, source = rows_from_embedded(run), "embedded"
    add_tests(rows)
    totals = None
    if tables.window:
        where, table = tables.window
        warnings += table.warnings
        totals = WindowTotals.from_table(table, where)
    elif run.overview is not None:
        totals = overview_totals(run)
    if totals:
        warnings += add_window_estimates(run, rows, totals)
    # links only for an overview's findings: a bad host in the environment stops nothing else
    findings = findings_lines(run, rows, links_from_env(env)) if source == "overview" else []
    return MetricsAnswer(run, rows, source, totals, findings, notes, warnings)
