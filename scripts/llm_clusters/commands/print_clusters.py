"""print_clusters.py: a compact, readable summary of one clustering run read from a saved
result, or one cluster in depth."""

from __future__ import annotations

from ..cli import ArgumentParser, whole_number
from ..environment import Environment
from ..errors import ExitStatus, UsageError
from ..model import LEVELS, ItemPolicy
from ..posthog.link_options import add_link_options, builder_from_args
from ..posthog.live import add_live_arguments, live_client, lookback_days, read_live
from ..read.reader import ReadResult, choose_run, read_runs
from ..views.render import OUTPUT_FORMATS
from ..views.run_views import MAX_CLUSTERS, RunViewOptions, jobs_view, list_runs, show_run

DETAIL_ITEMS = 20  # items read and shown with --cluster

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
    """The view the flags ask for, of the runs read."""
    stdout = environment.stdout
    if args.list_runs:
        stdout.write(list_runs(result, args.format) + "\n")
        return
    run, picked = choose_run(result, args.run_id)
    links = builder_from_args(args, environment.variables) if args.links else None
    options = RunViewOptions(args.format, cluster_id=args.cluster, ids_only=args.ids, top=args.top,
                             sort=args.sort, max_clusters=args.max_clusters, full=args.full, links=links)
    stdout.write(show_run(result, run, picked, options, environment.variables) + "\n")


def _live(args, environment: Environment) -> int:
    """The same views, on PostHog's answer to the skill's own queries."""
    with live_client(args, environment.variables) as client:
        if args.list_jobs:
            environment.stdout.write(jobs_view(client.clustering_jobs(), args.format) + "\n")
            return ExitStatus.OK
        from ..posthog.queries import latest_run_sql, list_runs_sql, load_run_sql

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
