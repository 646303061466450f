"""The text `cluster_metrics.py sql` prints: the query asked for (per cluster, per item,
overview, drill-down, window totals or IN-list chunks), led by comment lines that define the
numbers and say where the time bounds come from; and the saved run it may start from."""

from __future__ import annotations

import textwrap
from datetime import datetime

from ..display import clean
from ..errors import UsageError
from ..model import ItemPolicy, Run
from ..read.reader import ReadResult, choose_run, read_runs
from ..timestamps import parse_timestamp
from .drilldown_sql import drilldown_query
from .metrics_sql import (
    RunTarget,
    in_list_queries,
    metric_definitions,
    run_target,
    server_side_query,
    window_scope,
    window_totals_query,
)
from .overview_sql import CELL_RULES, overview_query


def load_run(path: str, run_id: str | None, stdin, items: bool) -> tuple[Run, list[str], list[str]]:
    """The run in a saved file (all its items when `items`), notes on what was read, and
    warnings that rows are probably missing."""
    return pick_run(read_runs(path, ItemPolicy(default=None if items else 0), stdin), run_id)


def pick_run(result: ReadResult, run_id: str | None) -> tuple[Run, list[str], list[str]]:
    run, picked = choose_run(result, run_id)
    return run, ([picked] if picked else []) + result.notes + run.notes, result.warnings


def run_target_of(run: Run, level: str | None = None) -> RunTarget:
    return run_target(run.run_id, level or run.level, run.window_start, run.window_end)


def run_window(run: Run) -> tuple[datetime, datetime] | None:
    start, end = parse_timestamp(run.window_start), parse_timestamp(run.window_end)
    return (start, end) if start and end else None


def sql_text(args, stdin=None) -> str:
    """The query (or IN-list queries) `cluster_metrics.py sql` prints for its parsed `args`."""
    _check_sql_args(args)
    run, target, notes = _sql_target(args, stdin)
    if args.window_totals:
        assert run is not None
        return _window_totals_sql(run, target, notes)
    if args.cluster is not None:
        only = ", only those with an error event" if args.errors_only else ""
        return "\n".join(_comment(
            f"items of cluster {args.cluster} of run {_comment_safe(target.run_id)} ({target.level} level), "
            f"sorted by {args.sort}{only}, at most {args.limit}; matched = how many items passed the "
            f"filter. {metric_definitions(target.level)}", notes)
            + [drilldown_query(target, args.cluster, args.sort, args.limit, args.errors_only)])
    if args.overview:
        return "\n".join(_comment(
            f"overview of run {_comment_safe(target.run_id)} ({target.level} level): a row per cluster. "
            f"{metric_definitions(target.level)} {CELL_RULES} Save the result and pass it to "
            "`aggregate` or print_clusters.py.", notes) + [overview_query(target)])
    if args.in_list:
        assert run is not None
        return _in_list_sql(run, target, notes, args.max_query_bytes)
    comment = _metrics_comment(target, notes)
    if not run or not run_window(run):
        comment.append("-- time bounds: the window the run id implies (7 days before its end, "
                       "1 day margin); the run's exact window is applied inside the query")
    return "\n".join(comment + [server_side_query(target, per_item=args.per_item)])


def _check_sql_args(args) -> None:
    if args.in_list and not args.run_file:
        raise UsageError("--in-list needs --run-file: the item ids come from the saved run.")
    if args.window_totals and not args.run_file:
        raise UsageError("--window-totals needs --run-file: its time bounds are the run's exact "
                         "window, which the saved run carries (or use --live).")
    if not args.run_file and not args.run_id:
        raise UsageError("say which run: --run-id ID, or --run-file FILE (a saved run).")


def _sql_target(args, stdin) -> tuple[Run | None, RunTarget, list[str]]:
    """The saved run when given, the run the query targets, and notes for the comment lines."""
    if not args.run_file:
        return None, run_target(args.run_id, args.level), []
    run, notes, warnings = load_run(args.run_file, args.run_id, stdin, items=args.in_list)
    if not run.run_id:
        raise UsageError(f"the run in {args.run_file} has no run id; pass --run-id.")
    return run, run_target_of(run, args.level), [f"warning: {w}" for w in warnings] + notes


def _metrics_comment(target: RunTarget, notes: list[str]) -> list[str]:
    comment = _comment(f"{target.level}-level metrics for run {_comment_safe(target.run_id)}", [])
    comment += [f"-- {line}" for line in _wrap(metric_definitions(target.level))]
    return comment + [f"-- note: {_comment_safe(note)}" for note in notes]


def _in_list_sql(run: Run, target: RunTarget, notes: list[str], max_query_bytes: int) -> str:
    comment = _metrics_comment(target, notes)
    keys = [item.key for cluster in run.clusters for item in cluster.items]
    window = run_window(run)
    queries = in_list_queries(target, keys, max_query_bytes, window)
    if not window:
        comment.append("-- time bounds: the run file has no window, so the queries use the window "
                       "its id implies (7 days before its end, 1 day margin), wider than the run's")
    comment.append(f"-- {len(queries)} queries for {len(set(keys)):,} items, each at most "
                   f"{max_query_bytes:,} bytes; items with no row had no data. Save each "
                   "result and pass them all to `aggregate`.")
    parts = ["\n".join(comment)]
    for index, query in enumerate(queries, 1):
        parts.append(f"-- query {index} of {len(queries)}\n{query}")
    return "\n\n".join(parts)


def _window_totals_sql(run: Run, target: RunTarget, notes: list[str]) -> str:
    window = run_window(run)
    if window is None:
        raise UsageError("the saved run has no window ($ai_window_start/$ai_window_end), so the "
                         "window's totals cannot be bounded exactly. Save the run with its window "
                         "columns (see SKILL.md) or use --live.")
    comment = [f"-- the whole traffic of the window of run {_comment_safe(target.run_id)} "
               f"({target.level} level): one row",
               *(f"-- {line}" for line in _wrap(window_scope(target.level))),
               *(f"-- note: {_comment_safe(note)}" for note in notes),
               "-- Save the result and pass it to `aggregate --window-totals FILE`."]
    return "\n".join(comment + [window_totals_query(target, window)])


def _comment(text: str, notes: list[str]) -> list[str]:
    """`text` wrapped into `--` comment lines, then a line per note."""
    return [f"-- {line}" for line in _wrap(text)] + [f"-- note: {_comment_safe(note)}" for note in notes]


def _comment_safe(text: str) -> str:
    """Text for a `--` comment line: one line, no control characters."""
    return clean(text, 200)


def _wrap(text: str, width: int = 96) -> list[str]:
    return textwrap.wrap(text, width)
