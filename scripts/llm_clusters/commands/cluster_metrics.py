"""cluster_metrics.py: which cluster costs most, is slowest, fails most.

`sql` prints the HogQL that measures a run's clusters inside PostHog (one constant-size query);
`aggregate` turns a saved run and a saved metrics result into the per-cluster table, with
intervals and tests.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import TextIO

from ..cli import ArgumentParser, guarded
from ..errors import ClusterToolError, ExitStatus
from ..metrics_sql import (DEFAULT_MAX_QUERY_BYTES, LATENCY_NOTE, LEVELS, in_list_queries, parse_time,
                           run_target, server_side_query)
from ..model import ItemPolicy, Run
from ..reader import choose_run, read_runs
from ..text import clean

DESCRIPTION = """\
Measure a PostHog LLM clustering run per cluster: cost, latency, tokens, errors.

  sql        print ONE HogQL query (about 3 KB whatever the run's size) that reads the run's
             $ai_clusters inside PostHog and joins its items to their AI events; run it with
             execute-sql (truncate: false) or the query API. --per-item gives a row per item.
             --in-list prints chunked IN (...) queries instead, for tools that cannot run it.
  aggregate  read a saved run and, optionally, the saved result of the per-item (or
             per-cluster) query, and print the per-cluster table: every rate with n and a 95%
             Wilson interval, clusters significantly above the rest of the run flagged."""

SQL_HELP = """\
Print the HogQL for a run given by its id (--run-id) or by a saved run (--run-file).
Time bounds always come from the run's window or, failing that, from its id.""" + "\n\n" + LATENCY_NOTE


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
    sql.add_argument("--level", choices=LEVELS, help="the run's level when its id does not say it")
    sql.add_argument("--per-item", action="store_true", help="one row per item instead of per cluster "
                     "(feed its saved result to `aggregate`)")
    sql.add_argument("--in-list", action="store_true", help="with --run-file: per-item queries listing "
                     "the item ids in IN (...), chunked; for tools that cannot run the server-side form")
    sql.add_argument("--max-query-bytes", type=_positive, default=DEFAULT_MAX_QUERY_BYTES, metavar="N",
                     help=f"with --in-list: the size limit of each query (default {DEFAULT_MAX_QUERY_BYTES:,})")
    return parser


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value}")
    return number


def main(argv: list[str], stdin=None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def body() -> int:
        args = build_parser().parse_args(argv)
        stdout.write(sql_command(args, stdin) + "\n")
        return ExitStatus.OK

    return guarded(body, stderr)


def load_run(path: str, run_id: str | None, stdin, items: bool) -> tuple[Run, list[str]]:
    """The run in a saved file (all its items when `items`), and notes on what was read."""
    result = read_runs(path, ItemPolicy(default=None if items else 0), stdin)
    run, picked = choose_run(result, run_id)
    return run, ([picked] if picked else []) + result.notes + run.notes


def sql_command(args, stdin=None) -> str:
    if args.in_list and not args.run_file:
        raise ClusterToolError("--in-list needs --run-file: the item ids come from the saved run.",
                               ExitStatus.USAGE)
    if not args.run_file and not args.run_id:
        raise ClusterToolError("say which run: --run-id ID, or --run-file FILE (a saved run).",
                               ExitStatus.USAGE)
    if args.run_file:
        run, notes = load_run(args.run_file, args.run_id, stdin, items=args.in_list)
        if not run.run_id:
            raise ClusterToolError(f"the run in {args.run_file} has no run id; pass --run-id.",
                                   ExitStatus.USAGE)
        target = run_target(run.run_id, args.level or run.level, run.window_start, run.window_end)
    else:
        run, notes = None, []
        target = run_target(args.run_id, args.level)
    comment = [f"-- {target.level}-level metrics for run {_comment_safe(target.run_id)}",
               *(f"-- {line}" for line in _wrap(LATENCY_NOTE)),
               *(f"-- note: {_comment_safe(note)}" for note in notes)]
    if not args.in_list:
        if not run or not (parse_time(run.window_start) and parse_time(run.window_end)):
            comment.append("-- time bounds: the window the run id implies (7 days before its end, "
                           "1 day margin); the run's exact window is applied inside the query")
        return "\n".join(comment + [server_side_query(target, per_item=args.per_item)])
    assert run is not None
    keys = [item.key for cluster in run.clusters for item in cluster.items]
    start, end = parse_time(run.window_start), parse_time(run.window_end)
    queries = in_list_queries(target, keys, args.max_query_bytes, (start, end) if start and end else None)
    comment.append(f"-- {len(queries)} queries for {len(set(keys)):,} items, each at most "
                   f"{args.max_query_bytes:,} bytes; items with no row had no data. Save each "
                   "result and pass them all to `aggregate`.")
    parts = ["\n".join(comment)]
    for index, query in enumerate(queries, 1):
        parts.append(f"-- query {index} of {len(queries)}\n{query}")
    return "\n\n".join(parts)


def _comment_safe(text: str) -> str:
    """Text for a `--` comment line: one line, no control characters."""
    return clean(text, 200)


def _wrap(text: str, width: int = 96) -> list[str]:
    return textwrap.wrap(text, width)
