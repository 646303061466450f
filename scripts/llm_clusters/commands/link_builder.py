"""link_builder.py: links into PostHog's UI for a run, a cluster, a trace or a generation, a
run file's worth of them at once, and the way back from a pasted link to the query that loads
what it names."""

from __future__ import annotations

import argparse

from ..cli import ArgumentParser, whole_number
from ..environment import Environment
from ..errors import ExitStatus
from ..model import ItemPolicy
from ..posthog.link_options import add_link_options, builder_from_args
from ..posthog.links import LinkBuilder, LinkError, check_timestamp, parse_link
from ..read.reader import choose_run, read_runs
from ..views.link_views import (
    Link,
    cluster_links,
    generation_links,
    links_view,
    overview_links,
    run_links,
    run_links_view,
    trace_links,
)
from ..views.pasted_links import parse_view
from ..views.render import OUTPUT_FORMATS
from ..views.run_views import MAX_CLUSTERS, RunViewOptions

DESCRIPTION = """\
Links into PostHog's UI that a user can click to check what the agent says: the clusters
overview, a run, a cluster, a trace, a generation inside its trace, or all of a saved run's
(`from-run`). `parse URL` reads a pasted link back: what it names and the query or command
that loads it.

Links are written as PostHog's UI writes them (run ids with encodeURIComponent, query strings
with URLSearchParams), for US cloud, EU cloud or a self-hosted PostHog (--host, else env
POSTHOG_HOST, else us), under /llm-analytics/ (default) or /ai-observability/ (--route), and
project-scoped with --project-id (else env POSTHOG_PROJECT_ID); the route family comes from
--route, else env POSTHOG_ROUTE. Set the three variables once and no call needs the flags.
Several ids give several links, one a line, in the order given:
  link_builder.py cluster RUN_ID 1 2 3
  link_builder.py trace ID ID --timestamp TS --timestamp TS     (timestamps paired with ids)
Flags go after the subcommand:
  link_builder.py cluster RUN_ID 3 --host eu --format markdown"""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="link_builder.py", description=DESCRIPTION)
    output = ArgumentParser(add_help=False)
    output.add_argument("--format", choices=OUTPUT_FORMATS, default="text",
                        help="output format (default text: the bare link); markdown writes "
                        "clickable [label](link); json has a `schema` field")
    links = ArgumentParser(add_help=False, parents=[output])
    add_link_options(links)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, parents=(links,)) -> ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary, parents=list(parents))

    command("overview", "the clusters overview page")
    run = command("run", "runs' pages, one link per run id")
    run.add_argument("run_id", metavar="RUN_ID", nargs="+", help="run ids ($ai_clustering_run_id)")
    cluster = command("cluster", "clusters' pages in one run, one link per cluster id")
    cluster.add_argument("run_id", metavar="RUN_ID", help="the run id ($ai_clustering_run_id)")
    cluster.add_argument("cluster_id", metavar="CLUSTER_ID", type=_cluster_id, nargs="+",
                         help="cluster ids (-1 is the noise cluster)")
    trace = command("trace", "traces' pages, one link per trace id")
    trace.add_argument("trace_id", metavar="TRACE_ID", nargs="+")
    trace.add_argument("--timestamp", metavar="TS", type=_timestamp, action="append",
                       help="the trace's timestamp (ISO 8601), which makes the page load fast; "
                       "repeat it once per id, in the same order")
    generation = command("generation", "generations (by event uuid) inside their traces: "
                         "TRACE_ID GENERATION_ID pairs")
    generation.add_argument("ids", metavar="TRACE_ID GENERATION_ID", nargs="+",
                            help="a trace id then a generation id, repeated for more links")
    generation.add_argument("--timestamp", metavar="TS", type=_timestamp, action="append",
                            help="the generation's or trace's timestamp (ISO 8601); repeat it "
                            "once per pair, in the same order")
    parse = command("parse", "read a pasted PostHog link: what it names and what loads it",
                    parents=(output,))
    parse.add_argument("url", metavar="URL")
    from_run = command("from-run", "links to a saved run, each of its clusters and their "
                       "best-ranked items")
    from_run.add_argument("file", help="the saved result file (any shape print_clusters.py "
                          "reads), or - for standard input")
    from_run.add_argument("--run-id", help="which run when the file holds several (default: the newest)")
    from_run.add_argument("--cluster", type=_cluster_id, metavar="ID", help="only this cluster")
    from_run.add_argument("--top", type=whole_number, default=3, metavar="N",
                          help="item links per cluster, best rank first (default 3, 0 for none)")
    from_run.add_argument("--max-clusters", type=whole_number, default=MAX_CLUSTERS, metavar="N",
                          help=f"clusters listed (default {MAX_CLUSTERS}, 0 for all)")
    from_run.add_argument("--full", action="store_true",
                          help="do not cut long titles or ids, nor the output size")
    return parser


def _cluster_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number such as 3 or -1, got {value!r}") from None


def _timestamp(value: str) -> str:
    try:
        return check_timestamp(value)
    except LinkError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def main(argv: list[str], environment: Environment) -> int:
    args = build_parser().parse_in(argv, environment)
    if args.command == "parse":
        view = parse_view(parse_link(args.url), args.format)
    elif args.command == "from-run":
        view = from_run_view(args, builder_from_args(args, environment.variables), environment.stdin)
    else:
        view = single_view(args, builder_from_args(args, environment.variables))
    environment.stdout.write(view + "\n")
    return ExitStatus.OK


def single_links(args: argparse.Namespace, links: LinkBuilder) -> list[Link]:
    """One link per id given, in the order given."""
    if args.command == "overview":
        return overview_links(links)
    if args.command == "run":
        return run_links(args.run_id, links)
    if args.command == "cluster":
        return cluster_links(args.run_id, args.cluster_id, links)
    if args.command == "trace":
        return trace_links(args.trace_id, args.timestamp, links)
    return generation_links(args.ids, args.timestamp, links)


def single_view(args: argparse.Namespace, links: LinkBuilder) -> str:
    return links_view(single_links(args, links), links, args.format)


def from_run_view(args: argparse.Namespace, links: LinkBuilder, stdin) -> str:
    policy = (ItemPolicy(default=0, per_cluster=((args.cluster, args.top),))
              if args.cluster is not None else ItemPolicy(default=args.top))
    run, picked = choose_run(read_runs(args.file, policy, stdin), args.run_id)
    options = RunViewOptions(args.format, cluster_id=args.cluster, max_clusters=args.max_clusters,
                             full=args.full)
    return run_links_view(run, picked, links, options)
