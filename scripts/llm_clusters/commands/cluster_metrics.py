"""cluster_metrics.py: which cluster costs most, is slowest, fails most.

`sql` prints the HogQL that measures a run's clusters inside PostHog (one constant-size query);
`aggregate` turns a saved run and a saved metrics result into the per-cluster table, with
intervals and tests.
"""

from __future__ import annotations

from typing import Mapping

from ..analyse.metrics_answer import measure
from ..analyse.metrics_inputs import RunTables, ask_live_overview, ask_live_tables, read_saved_tables
from ..cli import ArgumentParser, positive_number, whole_number
from ..environment import Environment
from ..errors import ExitStatus, UsageError
from ..model import METRIC_LEVELS
from ..posthog.drilldown_sql import DEFAULT_LIMIT as DRILLDOWN_LIMIT
from ..posthog.drilldown_sql import MAX_LIMIT as DRILLDOWN_MAX
from ..posthog.drilldown_sql import SORTS as DRILLDOWN_SORTS
from ..posthog.live import add_live_arguments, live_client, lookback_days
from ..posthog.metrics_queries import sql_text
from ..posthog.metrics_sql import DEFAULT_MAX_QUERY_BYTES, LATENCY_NOTE
from ..views.metrics_view import MAX_CLUSTERS, SORTS, MetricsViewOptions, render_metrics
from ..views.render import OUTPUT_FORMATS

DESCRIPTION = """\
Measure a PostHog LLM clustering run per cluster: cost, latency, tokens, errors.

  sql        print ONE HogQL query (at most 4 KB whatever the run's size) that reads the run's
             $ai_clusters inside PostHog and joins its items to their AI events. --overview: a
             small row per cluster (figures, best items, the window's traffic) that execute-sql
             returns whole with its default truncate: true; start here. --cluster N: that
             cluster's items, filtered and sorted (drill-down). Without either, a row per
             cluster (--per-item: per item) to run with truncate: false. --in-list prints
             chunked IN (...) queries instead, for tools that cannot run it.
  aggregate  read the saved overview (or a saved run and, optionally, the saved result of
             the per-item or per-cluster query) and print the per-cluster table: every rate
             with n and a 95% Wilson interval, clusters significantly above the rest flagged;
             an overview opens with findings lines.
             --window-totals FILE adds the window's whole traffic and per-cluster estimates.
  --live     `cluster_metrics.py --live --run-id ID [--overview | --window-totals]`: the same
             table, the queries sent to PostHog's API (short for `aggregate --live ...`).

A run clusters a SAMPLE of its window (at most max_samples items): its figures are the
sample's. Check the coverage line before quoting totals."""

SQL_HELP = """\
Print the HogQL for a run given by its id (--run-id) or by a saved run (--run-file).
Time bounds always come from the run's window or, failing that, from its id.""" + "\n\n" + LATENCY_NOTE + (
    " At generation level, latency is the generation's own $ai_latency.")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="cluster_metrics.py", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", metavar="{sql,aggregate}", parser_class=ArgumentParser)
    commands.required = True
    sql = commands.add_parser("sql", help="print the HogQL that measures a run's clusters",
                              description=SQL_HELP, prog="cluster_metrics.py sql")
    sql.add_argument("--run-id", help="the run's id ($ai_clustering_run_id); with --run-file, which run "
                     "of the file to use")
    sql.add_argument("--run-file", metavar="FILE", help="a saved result holding the run (any shape "
                     "print_clusters.py reads), - for standard input")
    sql.add_argument("--level", choices=METRIC_LEVELS, help="the run's level when its id does not say it")
    sql.add_argument("--overview", action="store_true", help="ONE query giving a row per cluster: "
                     "measured figures, best-ranked items, embedded metrics and the window's whole "
                     "traffic, small enough for execute-sql with truncate on (feed its saved result "
                     "to `aggregate` or print_clusters.py)")
    sql.add_argument("--cluster", type=int, metavar="N", help="drill down: ONE query for cluster N's "
                     "items, each with cost, latency, tokens, error events, model, first event time and "
                     "trace id, filtered, sorted and cut inside PostHog")
    sql.add_argument("--errors-only", action="store_true", help="with --cluster: only items with an "
                     "error event")
    sql.add_argument("--sort", choices=tuple(DRILLDOWN_SORTS), default="rank", help="with --cluster: "
                     "rank (default), cost, latency, errors (most error events) or time (newest first)")
    sql.add_argument("--limit", type=positive_number, default=DRILLDOWN_LIMIT, metavar="K",
                     help=f"with --cluster: at most K items (default {DRILLDOWN_LIMIT}, at most "
                     f"{DRILLDOWN_MAX})")
    sql.add_argument("--per-item", action="store_true", help="one row per item instead of per cluster "
                     "(feed its saved result to `aggregate`)")
    sql.add_argument("--window-totals", action="store_true", help="with --run-file: the query for the "
                     "window's whole traffic at the run's level (items, cost, errors; one row), whose "
                     "saved result `aggregate --window-totals FILE` turns into per-cluster estimates")
    sql.add_argument("--in-list", action="store_true", help="with --run-file: per-item queries listing "
                     "the item ids in IN (...), chunked; for tools that cannot run the server-side form")
    sql.add_argument("--max-query-bytes", type=positive_number, default=DEFAULT_MAX_QUERY_BYTES, metavar="N",
                     help="with --in-list: the size limit of each query (default "
                     f"{DEFAULT_MAX_QUERY_BYTES:,})")
    add_aggregate_arguments(commands.add_parser(
        "aggregate", prog="cluster_metrics.py aggregate",
        help="the per-cluster table from a saved run and saved metrics results",
        description="Print cost, latency, tokens and errors per cluster, each rate with its n "
        "and 95% Wilson interval, and flag clusters significantly above the rest of the run."))
    return parser


COMMANDS = ("sql", "aggregate")


def main(argv: list[str], environment: Environment) -> int:
    if "--live" in argv and not any(word in COMMANDS for word in argv):
        argv = ["aggregate", *argv]  # `cluster_metrics.py --live --run-id ID` is aggregate's live form
    args = build_parser().parse_in(argv, environment)
    if args.command == "sql":
        environment.stdout.write(sql_text(args, environment.stdin) + "\n")
    else:
        environment.stdout.write(aggregate_command(args, environment) + "\n")
    return ExitStatus.OK


# --- aggregate -------------------------------------------------------------------------------


def add_aggregate_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("run_file", metavar="RUN_FILE", nargs="?", help="the saved run (any shape "
                        "print_clusters.py reads), - for standard input (not with --live)")
    parser.add_argument("metrics_files", metavar="METRICS_FILE", nargs="*",
                        help="saved results of `sql --per-item` (or of the per-cluster query, or of "
                        "every `--in-list` query); none: show PostHog's embedded metrics")
    parser.add_argument("--run-id", help="which run of RUN_FILE (default: the newest); with --live, "
                        "the run to measure")
    parser.add_argument("--window-totals", nargs="?", const="", metavar="FILE",
                        help="the saved result of `sql --window-totals` (with --live: no FILE, the "
                        "query is run): adds the window's whole traffic and, per cluster, estimates "
                        "for the whole window with 95%% intervals")
    parser.add_argument("--overview", action="store_true", help="with --live: send ONE query, the "
                        "overview `sql --overview` prints, instead of loading the whole run and its "
                        "per-item figures (the window's totals come with it)")
    parser.add_argument("--sort", choices=SORTS, default="cost",
                        help="order and one-line answer: cost (total), latency (mean), errors "
                        "(error rate) or size (default cost)")
    parser.add_argument("--max-clusters", type=whole_number, default=MAX_CLUSTERS, metavar="N",
                        help=f"clusters shown (default {MAX_CLUSTERS}, 0 for all)")
    parser.add_argument("--full", action="store_true", help="do not cut titles nor the output size")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="text",
                        help="output format (default text); json has a stable schema")
    add_live_arguments(parser)


def aggregate_command(args, environment: Environment) -> str:
    if args.live:
        tables = _live_tables(args, environment.variables)
    else:
        tables = _saved_tables(args, environment.stdin)
    answer = measure(tables, environment.variables)
    return render_metrics(answer, MetricsViewOptions(args.sort, args.max_clusters, args.full, args.format))


def _saved_tables(args, stdin) -> RunTables:
    if not args.run_file:
        raise UsageError("give the saved run (RUN_FILE, - for standard input), or --live "
                         "--run-id ID.")
    window_file = args.window_totals
    if window_file == "":
        raise UsageError("--window-totals needs the saved result of `cluster_metrics.py sql "
                         "--window-totals` (only --live runs the query itself).")
    if [args.run_file, *args.metrics_files, window_file].count("-") > 1:
        raise UsageError("only one of the files can be - (standard input).")
    return read_saved_tables(args.run_file, args.metrics_files, window_file, args.run_id, stdin)


def _live_tables(args, variables: Mapping[str, str]) -> RunTables:
    if args.run_file or args.metrics_files:
        raise UsageError("give saved files or --live, not both.")
    if not args.run_id:
        raise UsageError("--live needs --run-id ID (list runs with `print_clusters.py --live "
                         "--list-runs`).")
    with live_client(args, variables) as client:
        if args.overview:
            return ask_live_overview(client, args.run_id)
        return ask_live_tables(client, args.run_id, lookback_days(args), args.window_totals is not None)
