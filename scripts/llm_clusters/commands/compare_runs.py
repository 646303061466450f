"""compare_runs.py: what changed between two or more clustering runs, read from saved results
(whole runs, or the answer to the comparison query `sql` prints) or from PostHog (--live)."""

from __future__ import annotations

import argparse

from ..analyse.compare import compare_runs, newest
from ..analyse.compare_inputs import (
    LAST_RUNS,
    check_named,
    comparison_sql,
    load_files,
    load_live,
    runs_wanted,
    too_few,
)
from ..analyse.compare_settings import CORRECTIONS, Settings
from ..analyse.similarity import DESCRIPTION_CHARS, TITLE_CHARS
from ..cli import ArgumentParser, whole_number
from ..environment import Environment
from ..errors import ExitStatus, UsageError
from ..model import LEVELS, Run
from ..posthog.link_options import add_link_options, builder_from_args
from ..posthog.live import add_live_arguments, live_client
from ..posthog.queries import MAX_RUNS_PER_QUERY, days_for_runs
from ..views.compare_report import ComparisonReport, to_json
from ..views.render import OUTPUT_FORMATS, json_text

MAX_ROWS = 20
MAX_RUNS = 10
DEFAULTS = Settings()
SQL_HELP = f"""\
Print ONE HogQL query (under 4 KB whatever the runs' size) that compares clustering runs inside
PostHog: for each pair of consecutive runs, the items each pair of their clusters shares, and
each cluster's size, title (first {TITLE_CHARS} characters), description (first
{DESCRIPTION_CHARS}; … marks a cut) and how many of its items the run before and after also
clustered. Run it with execute-sql (truncate may stay on) and pass the saved answer to
compare_runs.py FILE: the same report as on the whole runs. The runs: those named by --run-id,
one run and the previous run of its job and level (--run-id ID --previous), or the --last N
runs of a job (--job-id) or of a level."""

DESCRIPTION = f"""\
Compare two or more PostHog LLM clustering runs of one level, each read from a saved tool result
(any shape print_clusters.py reads; a file holding several runs counts as several runs), or
the saved answer to the comparison query `compare_runs.py sql` prints (what the runs' clusters
share, counted inside PostHog: the same report without downloading the runs), or that query
sent with --live. The runs are put in time order (window end) whatever order they are given in.
`compare_runs.py sql …` prints that query (see `compare_runs.py sql --help`).

Cluster ids mean nothing across runs (PostHog starts every run afresh), so clusters of
consecutive runs are matched one-to-one by a score: item overlap (Jaccard index of the items
both runs clustered: trace ids at trace level, generation ids at generation level), weight
{DEFAULTS.item_weight}, plus title+description similarity, weight {DEFAULTS.text_weight}; \
the text alone when the runs
share no items (windows that do not overlap). Splits and merges come from where the shared
items went.

Report: matched clusters with size, share and change in share, tested with a two-proportion
z-test (traces as sampling units, Holm-corrected; only significant changes are called grew or
shrank); title changes; new, vanished, split and merged clusters; the noise share; and for
three runs or more a lineage table following each cluster's share across the runs."""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="compare_runs.py", description=DESCRIPTION)
    parser.add_argument("files", nargs="*", metavar="RUN_FILE",
                        help="saved results holding the runs, or one saved comparison result "
                        "(- reads standard input, once; not with --live)")
    parser.add_argument("--run-id", action="append", metavar="ID",
                        help="compare only this run; repeat for each run (default: every run; "
                        f"with --live: the runs to compare, at most {MAX_RUNS_PER_QUERY})")
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
    add_run_choice(parser.add_argument_group("live mode only"))
    return parser


def add_run_choice(group, run_id: bool = False) -> None:
    """How the comparison query picks its runs: `sql` and --live share these flags."""
    if run_id:
        group.add_argument("--run-id", action="append", metavar="ID",
                           help=f"a run to compare; repeat for each (2 to {MAX_RUNS_PER_QUERY})")
    group.add_argument("--previous", action="store_true",
                       help="with one --run-id: compare it with the previous run of its job and "
                       "level, found inside the query")
    group.add_argument("--last", type=_run_count, metavar="N",
                       help=f"the N newest runs of --job-id, or of --level (default {LAST_RUNS} "
                       f"without --run-id; at most {MAX_RUNS_PER_QUERY})")
    group.add_argument("--level", choices=LEVELS,
                       help="the runs' level, for --last without --job-id (default trace) or a "
                       "run id that does not say it")
    group.add_argument("--job-id", metavar="ID",
                       help="with --last: only this clustering job's runs (\"\" for manual runs)")


def build_sql_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="compare_runs.py sql", description=SQL_HELP)
    add_run_choice(parser, run_id=True)
    parser.add_argument("--days", type=int,
                        help="how many days back to look for runs with --last, for the previous "
                        "run with --previous, or for ids with no time in them (default 7; for "
                        "--last N, N+1 when that is more)")
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


def main(argv: list[str], environment: Environment) -> int:
    if argv[:1] == ["sql"]:
        args = build_sql_parser().parse_in(argv[1:], environment)
        environment.stdout.write(comparison_sql(args.run_id, args.previous, args.last, args.level,
                                                args.job_id, _days(args)) + "\n")
        return ExitStatus.OK
    parser = build_parser()
    args = parser.parse_in(argv, environment)
    if args.live:
        runs, evidence, notes = _live_runs(args, parser.prog, environment)
    else:
        runs, evidence, notes = _saved_runs(args, parser.prog, environment)
    environment.stdout.write(_compared(runs, evidence, notes, args, environment) + "\n")
    return ExitStatus.OK


def _live_runs(args: argparse.Namespace, prog: str, environment: Environment):
    if args.files:
        raise UsageError("give saved run files or --live, not both", prog)
    sql = comparison_sql(args.run_id, args.previous, args.last, args.level, args.job_id, _days(args))
    with live_client(args, environment.variables) as client:
        runs, evidence, notes = load_live(client, sql)
        check_named(runs, args.run_id, client)
        if len(runs) < 2:
            wanted = runs_wanted(args.run_id, args.previous, args.level, args.job_id, len(runs))
            raise too_few(runs, wanted, client, _days(args))
    return runs, evidence, notes


def _saved_runs(args: argparse.Namespace, prog: str, environment: Environment):
    if not args.files:
        raise UsageError("give the saved run files (- for standard input), or --live", prog)
    if args.last or args.level or args.job_id is not None or args.previous:
        raise UsageError("--last, --level, --job-id and --previous go with --live (or `sql`)", prog)
    if args.files.count("-") > 1:
        raise UsageError("standard input (-) can be read only once; save each result to its own file.")
    return load_files(args.files, args.run_id, environment.stdin)


def _compared(runs: list[Run], evidence, notes: list[str], args: argparse.Namespace,
              environment: Environment) -> str:
    """The comparison of the newest --max-runs runs, in the output format asked for."""
    runs, cut = newest(runs, args.max_runs)
    if cut:
        notes.append(f"compared the {len(runs)} newest of {len(runs) + cut} runs; compare "
                     "more with --max-runs N (0 for all)")
    settings = Settings(args.item_weight, args.text_weight, args.min_score,
                        args.split_fraction, args.alpha, args.correction)
    comparison = compare_runs(runs, settings, evidence)
    comparison.notes[:0] = notes
    rows = 0 if args.full else args.max_rows
    links = builder_from_args(args, environment.variables) if args.links else None
    if links and links.host_note():
        comparison.notes.append(links.host_note())
    if args.format == "json":
        return json_text(to_json(comparison, rows, links))
    return ComparisonReport(comparison, args.format, rows, args.full, args.steps, links).render()


def _days(args: argparse.Namespace) -> int:
    """--days, else far enough back for the runs wanted: the N+1 days of --last N, at least 7."""
    return days_for_runs(args.last or LAST_RUNS, args.days)


