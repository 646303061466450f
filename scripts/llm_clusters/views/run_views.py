"""What print_clusters.py shows of a clustering run: the run with one row per cluster, one
cluster in depth (or only its item ids), the runs a result holds and the project's clustering
jobs; each as text, Markdown or JSON.

    result = read_runs(path, policy)
    run, picked = choose_run(result, run_id)
    print(show_run(result, run, picked, RunViewOptions("markdown", cluster_id=3), environment.variables))
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import Mapping

    from ..posthog.links import LinkBuilder

from ..analyse.findings import links_from_env, more_items_line, overview_findings
from ..display import clean, clusters_phrase, count, money, number, percent, seconds
from ..errors import NoClustersFound
from ..model import Cluster, Run
from ..read.reader import ReadResult
from .render import (
    DEFAULT_BUDGET,
    ID_CHARS,
    RUN_ID_CHARS,
    TITLE_CHARS,
    Page,
    cluster_title,
    item_label,
    json_text,
    run_header_lines,
)
from .run_json import SCHEMA, cluster_json, run_fields_json, run_json, share

DESCRIPTION_CHARS = 4000
MAX_CLUSTERS = 30
MAX_RUNS_LISTED = 50


class RunNotices:
    """What the output says besides the data: warnings and the run picked go on top, notes
    (skipped blocks or rows) at the end."""

    def __init__(self, headline: list[str], notes: list[str], findings: list[str] | None = None):
        self.headline = headline
        self.notes = notes
        self.findings = [] if findings is None else findings  # an overview's findings, after the headline

    @classmethod
    def for_run(cls, result: ReadResult, run: Run, picked: str | None,
                links: LinkBuilder | None) -> RunNotices:
        host_note = links.host_note() if links else None
        return cls(headline=[f"Warning: {w}" for w in result.warnings]
                   + ([f"Note: {picked}"] if picked else []),
                   notes=result.notes + run.notes + ([host_note] if host_note else []))

    def json(self) -> dict:
        return {"warnings": [clean(line, 600) for line in self.headline],
                "notes": [clean(note, 600) for note in self.notes],
                **({"findings": [clean(line, 600) for line in self.findings]} if self.findings else {})}


class RunViewOptions:
    """How a run is shown (print_clusters' views, link_builder's from-run): the flags that shape
    the output, and the link builder with --links."""

    def __init__(self, fmt: str = "text", *, cluster_id: int | None = None, ids_only: bool = False,
                 top: int = 3, sort: str = "size", max_clusters: int = MAX_CLUSTERS, full: bool = False,
                 links: LinkBuilder | None = None):
        self.fmt = fmt
        self.cluster_id = cluster_id  # None: the run view
        self.ids_only = ids_only  # with cluster_id: the item ids alone, one a line
        self.top = top
        self.sort = sort
        self.max_clusters = max_clusters
        self.full = full
        self.links = links

    def limit(self, chars: int) -> int | None:
        """`chars`, or no limit with --full."""
        return None if self.full else chars


def show_run(result: ReadResult, run: Run, picked: str | None, options: RunViewOptions,
             env: Mapping[str, str]) -> str:
    """`run`, chosen from `result` by `choose_run` (which says why in `picked`), as one cluster
    or as the whole run; an overview's findings link to PostHog as `env` says when --links gave
    no builder."""
    notices = RunNotices.for_run(result, run, picked, options.links)
    if options.cluster_id is not None:
        return cluster_view(run, options, notices)
    if run.overview is not None:  # an overview opens with its findings
        notices.findings = overview_findings(run, options.links or links_from_env(env))
    return run_view(run, options, notices, [other for other in result.runs if other is not run])


def _ordered(run: Run, sort: str) -> list[Cluster]:
    regular = [c for c in run.clusters if not c.is_noise]
    noise = [c for c in run.clusters if c.is_noise]
    if sort == "size":
        regular.sort(key=lambda c: (-c.size, c.cluster_id))
    else:
        regular.sort(key=lambda c: c.cluster_id)
    return regular + noise


# --- the run ------------------------------------------------------------------------------

def run_view(run: Run, options: RunViewOptions, notices: RunNotices, others: list[Run]) -> str:
    clusters = _ordered(run, options.sort)
    total = sum(c.size for c in run.clusters)
    shown = clusters if options.max_clusters == 0 else clusters[: options.max_clusters]
    if options.fmt == "json":
        return json_text(run_json(run, shown, total, notices.json(), others, len(clusters), options.links))
    id_limit = options.limit(ID_CHARS)
    page = Page(options.fmt)
    page.heading(f"Run {clean(run.run_id or '(no run id)', options.limit(RUN_ID_CHARS))}")
    page.lines(run_header_lines(run, total, id_limit))
    page.lines(clean(line, 600) for line in notices.headline)
    page.lines(page.escape(clean(line, 600)) for line in notices.findings)
    if options.links and run.run_id:
        page.line(page.link("Run page:", options.links.run(run.run_id)))
    _cluster_table(page, run, shown, total, options)
    if options.top or options.links:
        _best_items(page, run, shown, options)
    omitted = len(clusters) - len(shown)
    if omitted:
        page.line(f"{omitted} more clusters not shown (smallest first cut); see them with "
                  "--max-clusters 0.")
    _others_and_notes(page, others, notices.notes, id_limit)
    return page.render(budget=options.limit(DEFAULT_BUDGET), narrow="--cluster, --max-clusters or --top")


def _cluster_table(page: Page, run: Run, shown: list[Cluster], total: int, options: RunViewOptions) -> None:
    """One row per cluster shown, with PostHog's embedded metrics when the run has any."""
    has_metrics = any(c.metrics for c in run.clusters)
    rows = []
    for cluster in shown:
        row = [cluster.cluster_id, count(cluster.size), percent(share(cluster.size, total)),
               page.escape(cluster_title(cluster, options.limit(TITLE_CHARS)))]
        if has_metrics:
            m = cluster.metrics or {}
            row += [money(m.get("avg_cost")), seconds(m.get("avg_latency")),
                    percent(m.get("error_rate")), money(m.get("total_cost"))]
        rows.append(row)
    headers = ["id", "size", "share", "title"]
    if has_metrics:
        headers += ["avg cost", "avg latency", "error rate", "total cost"]
    page.table(headers, rows)
    if has_metrics:
        page.line("Metrics are PostHog's own, embedded in the run: averages over items with data.")
    if any(c.is_noise for c in shown):
        page.line("Noise (-1) holds items that fit no cluster; its rank 0 is the MOST anomalous item.")


def _best_items(page: Page, run: Run, shown: list[Cluster], options: RunViewOptions) -> None:
    links = options.links
    page.heading("Best-ranked items per cluster", level=3)
    for cluster in shown:
        page.line(f"cluster {cluster.cluster_id} ({count(cluster.item_count)} "
                  f"item{'' if cluster.item_count == 1 else 's'}):")
        if links and run.run_id:
            page.line(page.link("  cluster page:", links.cluster(run.run_id, cluster.cluster_id)))
        page.bullets(page.link(item_label(item, run.level, options.limit(ID_CHARS)),
                               links.item(item, run.level) if links else None)
                     for item in cluster.items[: options.top])


def _others_and_notes(page: Page, others: list[Run], notes: list[str], id_limit: int | None) -> None:
    if others:
        names = ", ".join(clean(r.run_id or "(no id)", id_limit) for r in others[:5])
        page.line(f"Other runs in this file: {names}{' …' if len(others) > 5 else ''}")
    for note in notes:
        page.line(f"Note: {clean(note, 300)}")


# --- one cluster --------------------------------------------------------------------------

def find_cluster(run: Run, cluster_id: int) -> Cluster:
    """The run's cluster `cluster_id`; the error lists the ids it has."""
    for cluster in run.clusters:
        if cluster.cluster_id == cluster_id:
            return cluster
    ids = ", ".join(str(c.cluster_id) for c in run.clusters)
    raise NoClustersFound(f"run {clean(run.run_id)!r} has no cluster {cluster_id}; its clusters "
                          f"are: {ids}. Pass one of those to --cluster.")


def item_ids(run: Run, cluster: Cluster) -> str:
    """The cluster's item ids, one a line: generation ids at generation level, else trace ids."""
    return "\n".join(clean(i.generation_id if run.level == "generation" else (i.trace_id or i.key))
                     for i in cluster.items)


def cluster_view(run: Run, options: RunViewOptions, notices: RunNotices) -> str:
    cluster = find_cluster(run, options.cluster_id)
    if options.ids_only:
        return item_ids(run, cluster)
    total = sum(c.size for c in run.clusters)
    if options.fmt == "json":
        return json_text({"schema": SCHEMA, "run": run_fields_json(run, options.links),
                          "cluster": cluster_json(cluster, total, cluster.items, run, options.links),
                          **notices.json()})
    page = Page(options.fmt)
    page.heading(f"Cluster {cluster.cluster_id}: "
                 f"{page.escape(clean(cluster.title, options.limit(TITLE_CHARS * 2)))}")
    page.lines(clean(line, 600) for line in notices.headline)
    page.line(f"Run {clean(run.run_id, options.limit(RUN_ID_CHARS))} ({run.level or 'unknown'} level); "
              f"{count(cluster.size)} items, {percent(share(cluster.size, total))} of the run.")
    if options.links and run.run_id:
        page.line(page.link("Cluster page:", options.links.cluster(run.run_id, cluster.cluster_id)))
    _about_cluster(page, cluster, options)
    _item_table(page, run, cluster, options)
    _others_and_notes(page, [], notices.notes, options.limit(ID_CHARS))
    return page.render(budget=options.limit(DEFAULT_BUDGET * 2), narrow="--limit")


def _about_cluster(page: Page, cluster: Cluster, options: RunViewOptions) -> None:
    """What the cluster is: the noise warning, its description, PostHog's embedded metrics."""
    if cluster.is_noise:
        page.line("This is the noise cluster: items that fit no cluster. Rank 0 is the MOST "
                  "anomalous item (ranked by distance to the nearest centroid, descending).")
    description = clean(cluster.description, options.limit(DESCRIPTION_CHARS), keep_newlines=True)
    if description:
        page.block(page.escape(description))
    if cluster.metrics:
        page.line("PostHog's embedded metrics (averages over items with data): " + ", ".join(
            f"{key} {_metric(key, value)}" for key, value in sorted(cluster.metrics.items())
            if not isinstance(value, (dict, list))))


def _item_table(page: Page, run: Run, cluster: Cluster, options: RunViewOptions) -> None:
    """The cluster's items by rank, and how many more it holds than were read."""
    id_limit = options.limit(ID_CHARS)
    generations = run.level == "generation"
    headers = ["rank", "distance", "timestamp", "trace id"]
    headers += (["generation id"] if generations else []) + (["link"] if options.links else [])
    rows = []
    for item in cluster.items:
        row = [item.rank if item.rank is not None else "-", number(item.distance),
               clean(item.timestamp) or "-", clean(item.trace_id or item.key, id_limit)]
        if generations:
            row.append(clean(item.generation_id or item.key, id_limit))
        if options.links:
            url = options.links.item(item, run.level)
            row.append(page.link_cell(url))
        rows.append(row)
    page.table(headers, rows)
    read = len(cluster.items)
    if cluster.item_count > read:
        page.line(more_items_line(cluster, read) if run.overview is not None else
                  f"{count(cluster.item_count - read)} more items not shown; use --limit N "
                  "(0 for all) or --ids for the bare ids.")


def _metric(key: str, value) -> str:
    if value is None:
        return "-"
    if "cost" in key:
        return money(value)
    if "latency" in key:
        return seconds(value)
    if key.endswith("_rate"):
        return percent(value)
    if isinstance(value, float):
        return number(value)
    return clean(value, 60)


# --- listings -----------------------------------------------------------------------------

def list_runs(result: ReadResult, fmt: str) -> str:
    runs = sorted(result.runs, key=lambda r: (r.sort_time, r.run_id or ""), reverse=True)
    warnings = [f"Warning: {clean(w, 600)}" for w in result.warnings]
    if fmt == "json":
        return json_text({"schema": SCHEMA, "warnings": warnings, "runs": [
            {**run_fields_json(r), "clusters": r.cluster_count if r.listed_only else len(r.clusters),
             "clusters_include_noise": True,
             "regular_clusters": None if r.listed_only else sum(not c.is_noise for c in r.clusters)}
            for r in runs]})
    page = Page(fmt)
    page.heading(f"{len(runs)} runs, newest first")
    page.lines(warnings)
    rows = [[clean(r.run_id or "(no id)", RUN_ID_CHARS), r.level or "-", clean(r.window_end) or "-",
             f"{r.cluster_count} (noise included)" if r.listed_only else clusters_phrase(r.clusters),
             count(r.total_items)]
            for r in runs[:MAX_RUNS_LISTED]]
    page.table(["run id", "level", "window end", "clusters", "items analysed"], rows)
    if len(runs) > MAX_RUNS_LISTED:
        page.line(f"{len(runs) - MAX_RUNS_LISTED} older runs not listed; use --format json for all.")
    return page.render(budget=None)


def jobs_view(jobs: list[dict], fmt: str) -> str:
    jobs = sorted(jobs, key=lambda j: (str(j.get("analysis_level")), str(j.get("name"))))
    if fmt == "json":
        return json_text({"schema": SCHEMA, "clustering_jobs": jobs})
    page = Page(fmt)
    page.heading(f"{len(jobs)} clustering jobs")
    rows = [[clean(j.get("name"), TITLE_CHARS), clean(j.get("analysis_level")) or "-",
             "yes" if j.get("enabled") else "no", len(j.get("event_filters") or []),
             clean(j.get("id"), ID_CHARS)] for j in jobs]
    page.table(["name", "level", "enabled", "filters", "id"], rows)
    return page.render(budget=DEFAULT_BUDGET)
