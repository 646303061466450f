"""print_clusters.py: a compact, readable summary of one clustering run read from a saved
result, or one cluster in depth."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    pass

from ..cli import ArgumentParser, whole_number
from ..environment import Environment
from ..errors import ClusterToolError, ExitStatus, UsageError
from ..findings import links_from_env, more_items_line, overview_findings
from ..link_options import add_link_options, builder_from_args
from ..live import add_live_arguments, live_client, lookback_days, read_live
from ..model import LEVELS, ItemPolicy, Run
from ..reader import ReadResult, choose_run, read_runs
from ..render import OUTPUT_FORMATS, Page, item_label, json_text, run_header_lines
from ..text import clean, clusters_phrase, count, markdown, markdown_link, money, number, percent, seconds

if TYPE_CHECKING:  # the link builder is imported only with --links
    from ..links import LinkBuilder

SCHEMA = "exploring-llm-clusters/print_clusters@1"
TITLE_CHARS = 80
ID_CHARS = 64
RUN_ID_CHARS = 160
DESCRIPTION_CHARS = 4000
MAX_CLUSTERS = 30
DETAIL_ITEMS = 20
MAX_RUNS_LISTED = 50
DEFAULT_BUDGET = 25_000

DESCRIPTION = """\
Summarise a PostHog LLM clustering run from a saved tool result (execute-sql's pipe table,
a HogQL API response, a content-block array, {"result": ...}, a bare $ai_clusters array, an
event or its properties). The shape is detected from the content.

Default view: the run's header and one row per cluster (size, share of the run, title,
PostHog's embedded metrics when present), with each cluster's best-ranked items. In the
noise cluster (-1, "outliers") rank 0 is the MOST anomalous item, not the most typical."""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="print_clusters.py", description=DESCRIPTION)
    parser.add_argument("file", nargs="?",
                        help="the saved result file, or - for standard input (not with --live)")
    parser.add_argument("--run-id", help="which run to show when the file holds several "
                        "(default: the newest)")
    parser.add_argument("--list-runs", action="store_true",
                        help="list the runs in the file, one line each, and stop")
    parser.add_argument("--cluster", type=int, metavar="ID",
                        help="show one cluster in depth: description and items by rank")
    parser.add_argument("--limit", type=whole_number, metavar="N",
                        help=f"with --cluster: how many items to show (default {DETAIL_ITEMS}, 0 for all)")
    parser.add_argument("--ids", action="store_true",
                        help="with --cluster: print only the item ids (trace ids at trace level, "
                        "generation ids at generation level), one a line; --limit applies, "
                        "default all")
    parser.add_argument("--top", type=whole_number, default=3, metavar="N",
                        help="items shown under each cluster in the default view (default 3)")
    parser.add_argument("--sort", choices=("size", "id"), default="size",
                        help="order of clusters (default size, largest first; noise always last)")
    parser.add_argument("--max-clusters", type=whole_number, default=MAX_CLUSTERS, metavar="N",
                        help=f"clusters shown in the default view (default {MAX_CLUSTERS}, 0 for all)")
    parser.add_argument("--full", action="store_true",
                        help="do not cut long titles, descriptions or ids, nor the output size")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="text",
                        help="output format (default text); json keeps PostHog's field names")
    add_live_arguments(parser)
    add_link_options(parser, links_flag=True)
    live = parser.add_argument_group("live mode only")
    live.add_argument("--latest", action="store_true",
                      help="load the newest run of --level (the default without --run-id)")
    live.add_argument("--level", choices=LEVELS, default=None,
                      help="level of the run to load with --latest (default trace), or to list")
    live.add_argument("--list-jobs", action="store_true",
                      help="list the project's clustering jobs and stop")
    return parser


class Report:
    """What the output says besides the data: warnings and the run picked go on top, notes
    (skipped blocks or rows) at the end."""

    def __init__(self, headline: list[str], notes: list[str], findings: list[str] | None = None):
        self.headline = headline
        self.notes = notes
        self.findings = [] if findings is None else findings  # an overview's findings, after the headline

    def json(self) -> dict:
        return {"warnings": [clean(line, 600) for line in self.headline],
                "notes": [clean(note, 600) for note in self.notes],
                **({"findings": [clean(line, 600) for line in self.findings]} if self.findings else {})}


class Options:
    """How the run is shown: the flags that shape the output, and the link builder with --links."""

    def __init__(self, top: int, sort: str, max_clusters: int, full: bool, fmt: str,
                 links: LinkBuilder | None = None):
        self.top = top
        self.sort = sort
        self.max_clusters = max_clusters
        self.full = full
        self.fmt = fmt
        self.links = links

    def link(self, label: str, url: str | None) -> str:
        """A link after its label: clickable in Markdown, plain in text."""
        if self.fmt == "markdown":
            return markdown_link(label.strip().rstrip(":"), url)
        return f"{label} {url}" if url else label


def main(argv: list[str], environment: Environment) -> int:
    parser = build_parser()
    args = parser.parse_in(argv, environment)
    if args.ids and args.cluster is None:
        raise UsageError("--ids needs --cluster ID (the cluster whose item ids to print)", parser.prog)
    if args.live:
        if args.file:
            raise UsageError("give a saved file or --live, not both", parser.prog)
        return _live(args, environment)
    if not args.file:
        raise UsageError("give the saved result file (or - for standard input), or --live", parser.prog)
    if args.latest or args.list_jobs:
        raise UsageError("--latest and --list-jobs go with --live", parser.prog)
    _show(read_runs(args.file, _policy(args), environment.stdin), args, environment)
    return ExitStatus.OK


def _show(result: ReadResult, args, environment: Environment) -> None:
    stdout = environment.stdout
    if args.list_runs:
        stdout.write(list_runs(result, args.format) + "\n")
        return
    run, picked = choose_run(result, args.run_id)
    links = builder_from_args(args, environment.variables) if args.links else None
    report = Report(headline=[f"Warning: {w}" for w in result.warnings]
                    + ([f"Note: {picked}"] if picked else []),
                    notes=result.notes + run.notes
                    + ([links.host_note()] if links and links.host_note() else []))
    options = Options(args.top, args.sort, args.max_clusters, args.full, args.format, links)
    if run.overview is not None and args.cluster is None:  # an overview opens with its findings
        report.findings = overview_findings(run, links or links_from_env(environment.variables))
    if args.cluster is not None:
        stdout.write(cluster_view(run, args.cluster, args, options, report) + "\n")
    else:
        stdout.write(run_view(run, options, report, other_runs(result, run)) + "\n")


def _live(args, environment: Environment) -> int:
    """The same views, on PostHog's answer to the skill's own queries."""
    with live_client(args, environment.variables) as client:
        if args.list_jobs:
            environment.stdout.write(jobs_view(client.clustering_jobs(), args.format) + "\n")
            return ExitStatus.OK
        from ..queries import latest_run_sql, list_runs_sql, load_run_sql

        if args.list_runs:
            sql = list_runs_sql(lookback_days(args), args.level)
        elif args.run_id:
            sql = load_run_sql(args.run_id, lookback_days(args))
        else:
            sql = latest_run_sql(args.level or "trace", lookback_days(args))
        _show(read_live(client, sql, _policy(args)), args, environment)
    return ExitStatus.OK


def _policy(args) -> ItemPolicy:
    if args.list_runs:
        return ItemPolicy(default=0)
    if args.cluster is not None:
        limit = args.limit if args.limit is not None else (0 if args.ids else DETAIL_ITEMS)
        return ItemPolicy(default=0, per_cluster=((args.cluster, limit or None),))
    return ItemPolicy(default=args.top)


def other_runs(result: ReadResult, shown: Run) -> list[Run]:
    return [run for run in result.runs if run is not shown]


def _ordered(run: Run, sort: str) -> list:
    regular = [c for c in run.clusters if not c.is_noise]
    noise = [c for c in run.clusters if c.is_noise]
    if sort == "size":
        regular.sort(key=lambda c: (-c.size, c.cluster_id))
    else:
        regular.sort(key=lambda c: c.cluster_id)
    return regular + noise


def _share(size: int, total: int) -> float | None:
    return size / total if total else None


def run_view(run: Run, options: Options, report: Report, others: list[Run]) -> str:
    clusters = _ordered(run, options.sort)
    total = sum(c.size for c in run.clusters)
    shown = clusters if options.max_clusters == 0 else clusters[: options.max_clusters]
    if options.fmt == "json":
        return json_text(_run_json(run, shown, total, report, others, len(clusters), options.links))
    limit = None if options.full else TITLE_CHARS
    id_limit = None if options.full else ID_CHARS
    page = Page(options.fmt)
    page.heading(f"Run {clean(run.run_id or '(no run id)', None if options.full else RUN_ID_CHARS)}")
    page.lines(run_header_lines(run, total, id_limit))
    page.lines(clean(line, 600) for line in report.headline)
    page.lines(markdown(clean(line, 600)) if options.fmt == "markdown" else clean(line, 600)
               for line in report.findings)
    if options.links and run.run_id:
        page.line(options.link("Run page:", options.links.run(run.run_id)))
    has_metrics = any(c.metrics for c in clusters)
    rows = []
    for cluster in shown:
        title = clean(cluster.title, limit)
        if cluster.is_noise:
            title = f"[noise] {title}"
        row = [cluster.cluster_id, count(cluster.size), percent(_share(cluster.size, total)),
               markdown(title) if options.fmt == "markdown" else title]
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
    if options.top or options.links:
        page.heading("Best-ranked items per cluster", level=3)
        for cluster in shown:
            page.line(f"cluster {cluster.cluster_id} ({count(cluster.item_count)} "
                      f"item{'' if cluster.item_count == 1 else 's'}):")
            if options.links and run.run_id:
                page.line(options.link("  cluster page:", options.links.cluster(run.run_id, cluster.cluster_id)))
            page.bullets(options.link(item_label(item, run.level, id_limit),
                                      options.links.item(item, run.level) if options.links else None)
                         for item in cluster.items[: options.top])
    omitted = len(clusters) - len(shown)
    if omitted:
        page.line(f"{omitted} more clusters not shown (smallest first cut); see them with "
                  "--max-clusters 0.")
    _others_and_notes(page, others, report.notes, id_limit)
    return page.render(budget=None if options.full else DEFAULT_BUDGET,
                       narrow="--cluster, --max-clusters or --top")


def _others_and_notes(page: Page, others: list[Run], notes: list[str], id_limit: int | None) -> None:
    if others:
        names = ", ".join(clean(r.run_id or "(no id)", id_limit) for r in others[:5])
        page.line(f"Other runs in this file: {names}{' …' if len(others) > 5 else ''}")
    for note in notes:
        page.line(f"Note: {clean(note, 300)}")


def _item_json(item, level: str | None, links: LinkBuilder | None) -> dict:
    fields = {"key": clean(item.key), "rank": item.rank, "distance_to_centroid": item.distance,
              "timestamp": item.timestamp, "trace_id": clean(item.trace_id) or None,
              "generation_id": clean(item.generation_id) or None, "x": item.x, "y": item.y}
    if links:
        fields["url"] = links.item(item, level)
    return fields


def _cluster_json(cluster, total: int, items: list, run: Run, links: LinkBuilder | None) -> dict:
    url = {"url": links.cluster(run.run_id, cluster.cluster_id)} if links and run.run_id else {}
    return {
        "cluster_id": cluster.cluster_id,
        "is_noise": cluster.is_noise,
        "size": cluster.size,
        "share": _share(cluster.size, total),
        "title": clean(cluster.title),
        "description": clean(cluster.description, keep_newlines=True),
        "metrics": cluster.metrics,
        "centroid_x": cluster.centroid_x,
        "centroid_y": cluster.centroid_y,
        "item_count": cluster.item_count,
        "items": [_item_json(i, run.level, links) for i in items],
        "items_omitted": cluster.item_count - len(items),
        **url,
    }


def _run_fields_json(run: Run, links: LinkBuilder | None = None) -> dict:
    url = {"url": links.run(run.run_id)} if links and run.run_id else {}
    return {
        "run_id": clean(run.run_id) or None, "level": run.level, "job_id": clean(run.job_id) or None,
        "job_name": clean(run.job_name) or None, "window_start": run.window_start,
        "window_end": run.window_end, "total_items_analyzed": run.total_items,
        "params": run.params, "event": run.event, "source": run.source, **url,
    }


def _run_json(run: Run, shown: list, total: int, report: Report, others: list[Run],
              cluster_total: int, links: LinkBuilder | None) -> dict:
    return {
        "schema": SCHEMA,
        "run": _run_fields_json(run, links),
        "clusters": [_cluster_json(c, total, c.items, run, links) for c in shown],
        "clusters_omitted": cluster_total - len(shown),
        "other_runs": [clean(r.run_id) or None for r in others],
        **report.json(),
    }


def cluster_view(run: Run, cluster_id: int, args, options: Options, report: Report) -> str:
    matching = [c for c in run.clusters if c.cluster_id == cluster_id]
    if not matching:
        ids = ", ".join(str(c.cluster_id) for c in run.clusters)
        raise ClusterToolError(f"run {clean(run.run_id)!r} has no cluster {cluster_id}; its "
                               f"clusters are: {ids}. Pass one of those to --cluster.",
                               ExitStatus.NO_CLUSTERS)
    cluster = matching[0]
    items = cluster.items
    if args.ids:
        ids = [clean(i.generation_id if run.level == "generation" else (i.trace_id or i.key)) for i in items]
        return "\n".join(ids)
    total = sum(c.size for c in run.clusters)
    if args.format == "json":
        document = {"schema": SCHEMA, "run": _run_fields_json(run, options.links),
                    "cluster": _cluster_json(cluster, total, items, run, options.links),
                    **report.json()}
        return json_text(document)
    id_limit = None if args.full else ID_CHARS
    page = Page(args.format)
    title = clean(cluster.title, None if args.full else TITLE_CHARS * 2)
    page.heading(f"Cluster {cluster.cluster_id}: {markdown(title) if args.format == 'markdown' else title}")
    page.lines(clean(line, 600) for line in report.headline)
    page.line(f"Run {clean(run.run_id, None if args.full else RUN_ID_CHARS)} ({run.level or 'unknown'} level); "
              f"{count(cluster.size)} items, {percent(_share(cluster.size, total))} of the run.")
    if options.links and run.run_id:
        page.line(options.link("Cluster page:", options.links.cluster(run.run_id, cluster.cluster_id)))
    if cluster.is_noise:
        page.line("This is the noise cluster: items that fit no cluster. Rank 0 is the MOST "
                  "anomalous item (ranked by distance to the nearest centroid, descending).")
    description = clean(cluster.description, None if args.full else DESCRIPTION_CHARS, keep_newlines=True)
    if description:
        page.block(markdown(description) if args.format == "markdown" else description)
    if cluster.metrics:
        page.line("PostHog's embedded metrics (averages over items with data): " + ", ".join(
            f"{key} {_metric(key, value)}" for key, value in sorted(cluster.metrics.items())
            if not isinstance(value, (dict, list))))
    headers = ["rank", "distance", "timestamp", "trace id"]
    if run.level == "generation":
        headers.append("generation id")
    if options.links:
        headers.append("link")
    rows = []
    for item in items:
        row = [item.rank if item.rank is not None else "-", number(item.distance),
               clean(item.timestamp) or "-", clean(item.trace_id or item.key, id_limit)]
        if run.level == "generation":
            row.append(clean(item.generation_id or item.key, id_limit))
        if options.links:
            url = options.links.item(item, run.level)
            row.append(markdown_link("open", url) if args.format == "markdown" else url or "-")
        rows.append(row)
    page.table(headers, rows)
    if cluster.item_count > len(items):
        page.line(more_items_line(cluster, len(items)) if run.overview is not None else
                  f"{count(cluster.item_count - len(items))} more items not shown; use --limit N "
                  "(0 for all) or --ids for the bare ids.")
    _others_and_notes(page, [], report.notes, id_limit)
    return page.render(budget=None if args.full else DEFAULT_BUDGET * 2, narrow="--limit")


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


def list_runs(result: ReadResult, fmt: str) -> str:
    runs = sorted(result.runs, key=lambda r: (r.sort_time, r.run_id or ""), reverse=True)
    warnings = [f"Warning: {clean(w, 600)}" for w in result.warnings]
    if fmt == "json":
        return json_text({"schema": SCHEMA, "warnings": warnings, "runs": [
            {**_run_fields_json(r), "clusters": r.cluster_count if r.listed_only else len(r.clusters),
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
