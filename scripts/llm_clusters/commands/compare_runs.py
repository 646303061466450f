"""compare_runs.py: what changed between two or more clustering runs, read from saved results
or loaded from PostHog (--live)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Iterable, TextIO

from ..cli import ArgumentParser, guarded, whole_number
from ..compare import CORRECTIONS, Settings, compare_runs, time_order
from ..compare_view import Report, to_json
from ..errors import ClusterToolError, ExitStatus, NoClustersFound
from ..link_options import add_link_options, builder_from_args
from ..live import add_live_arguments, live_client, lookback_days, read_live
from ..model import LEVELS, ItemPolicy, Run
from ..queries import MAX_RUNS_PER_QUERY, last_runs_sql, runs_by_id_sql
from ..reader import ReadResult, read_runs
from ..render import OUTPUT_FORMATS, json_text

MAX_ROWS = 20
MAX_RUNS = 10
LAST_RUNS = 2  # --live --last default
ALL_ITEMS = ItemPolicy(default=None)  # matching needs every item of every cluster
DEFAULTS = Settings()

DESCRIPTION = f"""\
Compare two or more PostHog LLM clustering runs of one level, each read from a saved tool result
(any shape print_clusters.py reads; a file holding several runs counts as several runs), or
loaded from PostHog with --live: the runs named by --run-id (one query for all, bounded by the
times in their ids), or the --last N runs of a level (one query, N+1 days back when that is
more than --days' default 7). The runs are put in time order (window end) whatever order they
are given in.

Cluster ids mean nothing across runs (PostHog starts every run afresh), so clusters of
consecutive runs are matched one-to-one by a score: item overlap (Jaccard index of the items
both runs clustered: trace ids at trace level, generation ids at generation level), weight
{DEFAULTS.item_weight}, plus title+description similarity, weight {DEFAULTS.text_weight}; the text alone when the runs
share no items (windows that do not overlap). Splits and merges come from where the shared
items went.

Report: matched clusters with size, share and change in share, tested with a two-proportion
z-test (traces as sampling units, Holm-corrected; only significant changes are called grew or
shrank); title changes; new, vanished, split and merged clusters; the noise share; and for
three runs or more a lineage table following each cluster's share across the runs."""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="compare_runs.py", description=DESCRIPTION)
    parser.add_argument("files", nargs="*", metavar="RUN_FILE",
                        help="saved results holding the runs (- reads standard input, once; "
                        "not with --live)")
    parser.add_argument("--run-id", action="append", metavar="ID",
                        help="compare only this run; repeat for each run (default: every run; "
                        f"with --live: load each, at most {MAX_RUNS_PER_QUERY})")
    parser.add_argument("--item-weight", type=_fraction, default=DEFAULTS.item_weight, metavar="W",
                        help=f"weight of item overlap in the match score (default {DEFAULTS.item_weight})")
    parser.add_argument("--text-weight", type=_fraction, default=DEFAULTS.text_weight, metavar="W",
                        help=f"weight of title+description similarity (default {DEFAULTS.text_weight})")
    parser.add_argument("--min-score", type=_fraction, default=DEFAULTS.min_score, metavar="S",
                        help=f"lowest score that matches two clusters (default {DEFAULTS.min_score})")
    parser.add_argument("--split-fraction", type=_fraction, default=DEFAULTS.split_fraction,
                        metavar="F", help="a split's parts each hold at least this fraction of the "
                        "cluster's shared items, and a merge's the reverse "
                        f"(default {DEFAULTS.split_fraction})")
    parser.add_argument("--alpha", type=_fraction, default=DEFAULTS.alpha,
                        help=f"significance level of the share test (default {DEFAULTS.alpha})")
    parser.add_argument("--correction", choices=CORRECTIONS, default=DEFAULTS.correction,
                        help="correction for testing many clusters at once (default holm)")
    parser.add_argument("--steps", action="store_true",
                        help="with 3 runs or more, show every matched pair of every step, not "
                        "only the changes (2 runs always show them)")
    parser.add_argument("--max-rows", type=whole_number, default=MAX_ROWS, metavar="N",
                        help=f"rows per table (default {MAX_ROWS}, 0 for all)")
    parser.add_argument("--max-runs", type=whole_number, default=MAX_RUNS, metavar="N",
                        help=f"compare at most the N newest runs (default {MAX_RUNS}, 0 for all)")
    parser.add_argument("--full", action="store_true",
                        help="do not cut titles, run ids or tables (--max-rows 0)")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="text",
                        help="output format (default text)")
    add_live_arguments(parser)
    add_link_options(parser, links_flag=True)
    live = parser.add_argument_group("live mode only")
    live.add_argument("--last", type=_run_count, metavar="N",
                      help=f"load the N newest runs of --level (default {LAST_RUNS} without "
                      f"--run-id; at most {MAX_RUNS_PER_QUERY})")
    live.add_argument("--level", choices=LEVELS,
                      help="level of the runs --last loads (default trace)")
    live.add_argument("--job-id", metavar="ID",
                      help="with --last: only this clustering job's runs (\"\" for manual runs)")
    return parser


def _run_count(value: str) -> int:
    number_ = whole_number(value)
    if not 2 <= number_ <= MAX_RUNS_PER_QUERY:
        raise argparse.ArgumentTypeError(f"expected 2 to {MAX_RUNS_PER_QUERY} runs, got {value}")
    return number_


def _fraction(value: str) -> float:
    try:
        number_ = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value!r}") from None
    if not 0 <= number_ <= 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value}")
    return number_


def main(argv: list[str], stdin=None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def body() -> int:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.live:
            _check_live(parser, args)
            runs, notes = load_live_runs(args)
        else:
            if not args.files:
                parser.error("give the saved run files (- for standard input), or --live")
            if args.last or args.level or args.job_id is not None:
                parser.error("--last, --level and --job-id go with --live")
            if args.files.count("-") > 1:
                raise ClusterToolError("standard input (-) can be read only once; save each "
                                       "result to its own file.", ExitStatus.USAGE)
            runs, notes = load_runs(args.files, args.run_id, stdin)
        runs, cut = newest(runs, args.max_runs)
        if cut:
            notes.append(f"compared the {len(runs)} newest of {len(runs) + cut} runs; compare "
                         "more with --max-runs N (0 for all)")
        settings = Settings(args.item_weight, args.text_weight, args.min_score,
                            args.split_fraction, args.alpha, args.correction)
        comparison = compare_runs(runs, settings)
        comparison.notes[:0] = notes
        rows = 0 if args.full else args.max_rows
        links = builder_from_args(args, os.environ) if args.links else None
        if links and links.host_note():
            comparison.notes.append(links.host_note())
        if args.format == "json":
            document = to_json(comparison, rows, links)
            stdout.write(json_text(document) + "\n")
        else:
            report = Report(comparison, args.format, rows, args.full, args.steps, links)
            stdout.write(report.render() + "\n")
        return ExitStatus.OK

    return guarded(body, stderr)


def _check_live(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.files:
        parser.error("give saved run files or --live, not both")
    if args.run_id and (args.last or args.level or args.job_id is not None):
        parser.error("--live loads either the runs named by --run-id or the --last N runs of "
                     "--level (and --job-id), not both")
    if args.run_id and len(set(args.run_id)) < 2:
        parser.error("--live compares two runs or more: repeat --run-id for each, or use "
                     "--last N")
    if args.run_id and len(set(args.run_id)) > MAX_RUNS_PER_QUERY:
        parser.error(f"--live loads at most {MAX_RUNS_PER_QUERY} runs by --run-id ("
                     f"one query), got {len(set(args.run_id))}")


def load_live_runs(args: argparse.Namespace) -> tuple[list[Run], list[str]]:
    """The runs named by --run-id, in one query (bounded by the times in their ids), or the
    --last N runs of a level in one query; read as the file mode reads PostHog's answer."""
    with live_client(args) as client:
        if not args.run_id:
            level, count_ = args.level or "trace", args.last or LAST_RUNS
            days = lookback_days(args, count_)
            sql = last_runs_sql(level, count_, days, args.job_id)
            try:
                result = read_live(client, sql, ALL_ITEMS)
            except NoClustersFound:
                result = ReadResult(runs=[])
            if len(result.runs) < 2:
                job = f" of job {args.job_id!r}" if args.job_id is not None else ""
                raise NoClustersFound(
                    f"PostHog holds {len(result.runs)} {level}-level run{'' if len(result.runs) == 1 else 's'}"
                    f"{job} in the last {days} days on {client.config.host}, project "
                    f"{client.config.project_id}; comparing needs two. Widen --days, pick another "
                    "--level or --job-id, or list the runs with print_clusters.py --live --list-runs.")
            return gather_runs([result], None)
        wanted = list(dict.fromkeys(args.run_id))
        try:  # all the runs in one query, bounded by the times in their ids
            result = read_live(client, runs_by_id_sql(wanted, lookback_days(args)), ALL_ITEMS)
        except NoClustersFound:
            result = ReadResult(runs=[])
        found = {run.run_id for run in result.runs}
        missing = [run_id for run_id in wanted if run_id not in found]
        if missing:
            raise NoClustersFound(
                f"PostHog holds no run with id {', '.join(map(repr, missing))} on "
                f"{client.config.host}, project {client.config.project_id} (looked a day either "
                "side of the time in the id, or the last --days days when the id holds none). "
                "Check the ids with print_clusters.py --live --list-runs.")
        return gather_runs([result], args.run_id)


def load_runs(paths: list[str], run_ids: list[str] | None, stdin=None) -> tuple[list[Run], list[str]]:
    """Every run in the files (the same run twice only once), or those named by `run_ids`."""
    return gather_runs((read_runs(path, ALL_ITEMS, stdin) for path in paths), run_ids)


def gather_runs(results: Iterable[ReadResult], run_ids: list[str] | None) -> tuple[list[Run], list[str]]:
    """Every run read (the same run twice only once), or those named by `run_ids`."""
    runs: list[Run] = []
    notes: list[str] = []
    seen: set[str] = set()
    for result in results:
        notes += result.notes
        for run in result.runs:
            if run.run_id and run.run_id in seen:
                notes.append(f"run {run.run_id} was given more than once; it is compared once")
                continue
            seen.add(run.run_id or "")
            runs.append(run)
            notes += run.notes
    if run_ids:
        missing = [rid for rid in dict.fromkeys(run_ids) if rid not in seen]
        if missing:
            available = ", ".join(repr(r.run_id) for r in runs[:10]) or "none"
            raise NoClustersFound(
                f"no run with id {', '.join(map(repr, missing))} in the input; its runs are: "
                f"{available}{' …' if len(runs) > 10 else ''}. Pass ids from those to --run-id, "
                "or load the missing runs with a query filtered on their ids.")
        runs = [run for run in runs if run.run_id in run_ids]
    empty = [run for run in runs if not run.clusters]
    if empty:
        raise NoClustersFound(
            f"run {empty[0].run_id!r} holds no clusters (a runs listing counts them but does not "
            "hold them). Load each run with SKILL.md's load query, with `truncate: false`.")
    return runs, notes


def newest(runs: list[Run], limit: int) -> tuple[list[Run], int]:
    """The `limit` newest runs (all when 0) and how many older ones were left out."""
    if not limit or len(runs) <= limit:
        return runs, 0
    return time_order(runs)[-limit:], len(runs) - limit
