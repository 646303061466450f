"""How `cluster_metrics.py aggregate --window-totals` shows a run's window: its exact totals, how
much of it the run analysed, and each cluster's window totals (exact when the run analysed every
item, else estimates calibrated to the exact totals, with their intervals)."""

from __future__ import annotations

import math
from typing import Callable

from ..analyse.cluster_rows import ClusterRow, WindowTotals
from ..analyse.stats import COUNT_METHOD, ERROR_METHOD, TOTAL_METHOD, Estimate
from ..display import clean, clusters_phrase, count, money, percent
from ..model import Run
from ..posthog.metrics_sql import window_scope
from .render import Page, estimate_text, whole

FIGURES = ("items", "total_cost", "error_items")
METHODS = {"items": COUNT_METHOD, "error_items": ERROR_METHOD, "total_cost": TOTAL_METHOD}


def assumption(unit: str) -> str:
    return (f"Assumes the run sampled its window's {unit}s uniformly at random (every {unit} equally "
            "likely to be analysed); a job that samples otherwise makes these estimates biased.")


def window_section(page: Page, rows: list[ClusterRow], shown: list[ClusterRow], totals: WindowTotals,
                   unit: str, title: Callable[[ClusterRow], str]) -> None:
    page.heading("Window totals", level=3)
    window = f" {clean(totals.start, 40)} to {clean(totals.end, 40)}" if totals.start and totals.end else ""
    page.line(f"Whole window{window} (exact, counted over the events): {count(totals.items)} {unit}s, "
              f"{count(totals.items_with_data)} with data, {money(totals.total_cost)} total cost, "
              f"{count(totals.error_items)} {unit}s with an error.")
    estimated = [row for row in shown if row.window]
    if not estimated:  # the totals do not fit this run (a warning above says why)
        page.line(window_scope(unit))
        return
    n = sum(row.items for row in rows)
    exact = n == totals.items
    if exact:
        page.line(f"Coverage: the run analysed every {unit} in the window ({count(n)} of "
                  f"{count(totals.items)}): the per-cluster figures are the window's exact totals.")
        kind = "exact"
    else:
        page.line(f"Coverage: the run analysed {count(n)} of the window's {count(totals.items)} {unit}s "
                  f"({percent(n / totals.items)}); the table above describes that sample only. "
                  "Per-cluster ESTIMATES for the whole window, calibrated so that they add up to the "
                  "window's exact totals, with 95% intervals from the sampling. " + assumption(unit))
        kind = "estimate, 95% CI"
    table = [[row.cluster.cluster_id, title(row), count(row.items), estimate_text(row.window.items, whole),
              estimate_text(row.window.total_cost, money), estimate_text(row.window.error_items, whole)]
             for row in estimated]
    table.append(["all", f"sum over all {clusters_phrase(row.cluster for row in rows)}", count(n),
                  *(_sum(rows, key, show) for key, show in zip(FIGURES, (whole, money, whole)))])
    page.table(["id", "title", f"{unit}s in the run", f"window {unit}s ({kind})", f"window cost ({kind})",
                f"window {unit}s with an error ({kind})"], table)
    if not exact:
        page.line(f"Method: {unit}s by {COUNT_METHOD}; cost by {TOTAL_METHOD}; {unit}s with an error "
                  f"by {ERROR_METHOD}. A cost estimate shows - without per-item (or per-cluster) metrics "
                  "or when the sample holds no cost to split the window's by.")
    page.line(window_scope(unit))


def _sum(rows: list[ClusterRow], key: str, show) -> str:
    """The estimates summed over every cluster (shown or not): the window's exact total."""
    estimates = [row.window.figure(key) if row.window else None for row in rows]
    if any(estimate is None for estimate in estimates):
        return "-"
    return show(math.fsum(estimate.value for estimate in estimates))


def estimate_json(estimate: Estimate | None) -> dict | None:
    if estimate is None:
        return None
    high = None if math.isinf(estimate.high) else estimate.high  # None: no upper bound
    return {"value": estimate.value, "ci95": [estimate.low, high], "exact": estimate.exact}


def coverage_json(run: Run, n: int, totals: WindowTotals | None) -> dict:
    unit = "generation" if run.level == "generation" else "trace"
    return {"items_analysed": n, "max_samples": (run.params or {}).get("max_samples"),
            "window_items": totals.items if totals else None,
            "exact": (n == totals.items) if totals else None,
            "window_totals": None if totals is None else {
                "window_start": totals.start, "window_end": totals.end, "items": totals.items,
                "items_with_data": totals.items_with_data, "total_cost": totals.total_cost,
                "error_items": totals.error_items, "scope": window_scope(run.level or "trace"),
                "methods": METHODS, "calibrated": True, "assumption": assumption(unit)}}
