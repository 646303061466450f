"""What `cluster_metrics.py aggregate` measures a run from: the run, its metrics tables and its
window's totals table, read from saved files or from PostHog's answers to the queries
`cluster_metrics.py sql` prints (read the way the saved files are read)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from ..display import clean
from ..errors import ClusterToolError, ExitStatus
from ..model import ItemPolicy, Run
from ..posthog.live import ANSWER_NAME, read_live
from ..posthog.metrics_queries import load_run, pick_run, run_target_of, run_window
from ..posthog.metrics_sql import run_target, server_side_query, window_totals_query
from ..posthog.overview_sql import overview_query
from ..posthog.queries import load_run_sql
from ..read.table_reader import SavedTable, read_table, read_table_from
from ..read.textsource import TextSource

if TYPE_CHECKING:  # the API client is imported in live mode only
    from ..posthog.posthog_api import PostHogClient


@dataclass
class RunTables:
    """A run and the tables read to measure it: the metrics tables and the window totals table,
    each with where it was read; notes, and warnings that rows are probably missing."""

    run: Run
    metrics: list[SavedTable]
    window: SavedTable | None
    notes: list[str]
    warnings: list[str]


def read_saved_tables(run_file: str, metrics_files: list[str], window_file: str | None,
                      run_id: str | None, stdin: BinaryIO | None) -> RunTables:
    """The saved run (all its items when there are per-item metrics to match them to), the saved
    metrics results and, when given, the saved window totals."""
    run, notes, warnings = load_run(run_file, run_id, stdin, items=bool(metrics_files))
    metrics = [SavedTable(path, read_table(path, stdin)) for path in metrics_files]
    window = SavedTable(window_file, read_table(window_file, stdin)) if window_file else None
    return RunTables(run, metrics, window, notes, warnings)


def ask_live_tables(client: PostHogClient, run_id: str, lookback_days: int,
                    window_totals: bool) -> RunTables:
    """The run, its per-item metrics and (with `window_totals`) its window's totals, each by the
    query `sql` prints."""
    run, notes, warnings = pick_run(read_live(client, load_run_sql(run_id, lookback_days),
                                              ItemPolicy(default=None)), run_id)
    target = run_target_of(run)

    def ask(sql: str) -> SavedTable:
        return SavedTable(ANSWER_NAME, read_table_from(TextSource(client.query_text(sql)), ANSWER_NAME, sql))

    metrics = [ask(server_side_query(target, per_item=True))]
    window = None
    if window_totals:
        bounds = run_window(run)
        if bounds is None:
            raise ClusterToolError(f"run {clean(run.run_id, 160)!r} records no window, so its "
                                   "window's totals cannot be bounded.", ExitStatus.NO_CLUSTERS)
        window = ask(window_totals_query(target, bounds))
        warnings += job_scope_warnings(client, run)
    return RunTables(run, metrics, window, notes, warnings)


def ask_live_overview(client: PostHogClient, run_id: str) -> RunTables:
    """The run, its measured figures and its window's totals from ONE query, the overview
    (the figures ride on `run.overview`, so no metrics table)."""
    result = read_live(client, overview_query(run_target(run_id)), ItemPolicy(default=0))
    run, notes, warnings = pick_run(result, run_id)
    return RunTables(run, [], None, notes, warnings + job_scope_warnings(client, run))


def job_scope_warnings(client: PostHogClient, run: Run) -> list[str]:
    """A run does not record its job's event_filters, but the jobs API does: when the job filters
    events, the window totals (all traffic at the level) count more than the run sampled from."""
    from ..posthog.posthog_api import LiveError  # live mode only

    if not run.job_id:
        return []
    try:
        job = next((job for job in client.clustering_jobs() if job.get("id") == run.job_id), None)
    except LiveError as error:
        return [f"could not read clustering job {clean(run.job_id, 60)} to check its event_filters "
                f"({clean(error.message, 200)}): the window totals count all traffic at this level."]
    filters = (job or {}).get("event_filters")
    if not filters:
        return []
    return [f"job {clean(job.get('name'), 60)!r} clusters only events matching its event_filters "
            f"{clean(json.dumps(filters, ensure_ascii=False), 300)}; the window totals count ALL "
            f"{run.level} traffic in the window, so the per-cluster window estimates are too high "
            "by the share of traffic the filters leave out."]
