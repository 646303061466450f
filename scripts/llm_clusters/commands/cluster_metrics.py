"""cluster_metrics.py: which cluster costs most, is slowest, fails most.

`sql` prints the HogQL that measures a run's clusters inside PostHog (one constant-size query);
`aggregate` turns a saved run and a saved metrics result into the per-cluster table, with
intervals and tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from ..cli import ArgumentParser, positive_number, whole_number
from ..cluster_rows import (
    ALPHA,
    EMBEDDED_NOTE,
    SORT_KEYS,
    ClusterRow,
    WindowTotals,
    add_tests,
    add_window_estimates,
    rows_from_embedded,
    rows_from_tables,
    sorted_rows,
)
from ..drilldown_sql import DEFAULT_LIMIT as DRILLDOWN_LIMIT
from ..drilldown_sql import MAX_LIMIT as DRILLDOWN_MAX
from ..drilldown_sql import SORTS as DRILLDOWN_SORTS
from ..environment import Environment
from ..errors import ClusterToolError, ExitStatus
from ..findings import findings_lines, links_from_env
from ..live import ANSWER_NAME, add_live_arguments, live_client, lookback_days, read_live
from ..metrics_queries import load_run, pick_run, run_target_of, run_window, sql_text
from ..metrics_sql import (
    DEFAULT_MAX_QUERY_BYTES,
    LATENCY_NOTE,
    LEVELS,
    metric_definitions,
    run_target,
    server_side_query,
    window_totals_query,
)
from ..model import ItemPolicy, Run
from ..overview import overview_rows, overview_totals
from ..overview_sql import overview_query
from ..pipetable import Table
from ..queries import load_run_sql
from ..render import OUTPUT_FORMATS, Page, json_text, run_header_lines
from ..tables import read_table, read_table_from
from ..text import clean, count, markdown, money, percent, seconds
from ..textsource import TextSource
from ..window_view import coverage_json, estimate_json, window_section

if TYPE_CHECKING:  # the API client is imported in live mode only
    from ..posthog_api import PostHogClient

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
    sql.add_argument("--level", choices=LEVELS, help="the run's level when its id does not say it")
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
                     help=f"with --in-list: the size limit of each query (default {DEFAULT_MAX_QUERY_BYTES:,})")
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

SCHEMA = "exploring-llm-clusters/cluster_metrics@1"
SORTS = ("cost", "latency", "errors", "size")
MAX_CLUSTERS = 30
TITLE_CHARS = 60
DEFAULT_BUDGET = 25_000


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


@dataclass
class Inputs:
    """What `aggregate` reads, from saved files or from PostHog's answers: the run, the metrics
    tables, the window totals table, notes, and warnings that rows are probably missing."""

    run: Run
    metrics: list[tuple[str, Table]]
    window: tuple[str, Table] | None
    notes: list[str]
    warnings: list[str]


def aggregate_command(args, environment: Environment) -> str:
    inputs = _live_inputs(args, environment.variables) if args.live else _file_inputs(args, environment.stdin)
    run, notes = inputs.run, inputs.notes
    warnings = inputs.warnings + [w for _, table in inputs.metrics for w in table.warnings]
    if inputs.metrics:
        rows, source, more = rows_from_tables(run, inputs.metrics)
        notes += more
    elif run.overview is not None:
        rows, source = overview_rows(run), "overview"
    else:
        rows, source = rows_from_embedded(run), "embedded"
    add_tests(rows)
    totals = overview_totals(run) if run.overview is not None and not inputs.window else None
    if totals:
        warnings += add_window_estimates(run, rows, totals)
    if inputs.window:
        where, table = inputs.window
        warnings += table.warnings
        totals = WindowTotals.from_table(table, where)
        warnings += add_window_estimates(run, rows, totals)
    lead = findings_lines(run, rows, links_from_env(environment.variables)) if source == "overview" else []
    return render_aggregate(run, rows, source, args, notes, warnings, totals, lead)


def _file_inputs(args, stdin) -> Inputs:
    if not args.run_file:
        raise ClusterToolError("give the saved run (RUN_FILE, - for standard input), or --live "
                               "--run-id ID.", ExitStatus.USAGE)
    window_file = args.window_totals
    if window_file == "":
        raise ClusterToolError("--window-totals needs the saved result of `cluster_metrics.py sql "
                               "--window-totals` (only --live runs the query itself).", ExitStatus.USAGE)
    if [args.run_file, *args.metrics_files, window_file].count("-") > 1:
        raise ClusterToolError("only one of the files can be - (standard input).", ExitStatus.USAGE)
    run, notes, warnings = load_run(args.run_file, args.run_id, stdin, items=bool(args.metrics_files))
    metrics = [(path, read_table(path, stdin)) for path in args.metrics_files]
    window = (window_file, read_table(window_file, stdin)) if window_file else None
    return Inputs(run, metrics, window, notes, warnings)


def _live_inputs(args, variables: Mapping[str, str]) -> Inputs:
    """The run, its per-item metrics and (with --window-totals) its window's totals, each by the
    query `sql` prints, read from PostHog's answers the way the saved files are read."""
    if args.run_file or args.metrics_files:
        raise ClusterToolError("give saved files or --live, not both.", ExitStatus.USAGE)
    if not args.run_id:
        raise ClusterToolError("--live needs --run-id ID (list runs with `print_clusters.py --live "
                               "--list-runs`).", ExitStatus.USAGE)
    if args.overview:
        return _live_overview(args, variables)
    with live_client(args, variables) as client:
        run, notes, warnings = pick_run(read_live(client, load_run_sql(args.run_id, lookback_days(args)),
                                                 ItemPolicy(default=None)), args.run_id)
        target = run_target_of(run)

        def ask(sql: str) -> tuple[str, Table]:
            return ANSWER_NAME, read_table_from(TextSource(client.query_text(sql)), ANSWER_NAME, sql)

        metrics = [ask(server_side_query(target, per_item=True))]
        window = None
        if args.window_totals is not None:
            bounds = run_window(run)
            if bounds is None:
                raise ClusterToolError(f"run {clean(run.run_id, 160)!r} records no window, so its "
                                       "window's totals cannot be bounded.", ExitStatus.NO_CLUSTERS)
            window = ask(window_totals_query(target, bounds))
            warnings += _job_scope_warnings(client, run)
    return Inputs(run, metrics, window, notes, warnings)


def _live_overview(args, variables: Mapping[str, str]) -> Inputs:
    """The run, its measured figures and its window's totals from ONE query, the overview."""
    with live_client(args, variables) as client:
        result = read_live(client, overview_query(run_target(args.run_id)), ItemPolicy(default=0))
        run, notes, warnings = pick_run(result, args.run_id)
        return Inputs(run, [], None, notes, warnings + _job_scope_warnings(client, run))


def _job_scope_warnings(client: PostHogClient, run: Run) -> list[str]:
    """A run does not record its job's event_filters, but the jobs API does: when the job filters
    events, the window totals (all traffic at the level) count more than the run sampled from."""
    from ..posthog_api import LiveError  # live mode only

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


# --- the window's whole traffic -----------------------------------------------------------------


def answer_line(rows: list[ClusterRow], sort: str, unit: str, total_items: int) -> str:
    """The one-line answer to the question the sort asks, about the top regular cluster."""
    ordered = [r for r in sorted_rows(rows, sort) if not r.cluster.is_noise] or sorted_rows(rows, sort)
    top = ordered[0] if ordered else None
    if top is None or SORT_KEYS[sort](top)[0] is True:
        return f"No cluster has {'data' if sort != 'size' else 'items'} for this question."
    name = f"cluster {top.cluster.cluster_id} '{clean(top.cluster.title, TITLE_CHARS)}'"
    if sort == "cost":
        n = f", n={count(top.cost_n)}" if top.cost_n is not None else ""
        line = (f"Most expensive: {name}, {money(top.total_cost)} total over the run's sample, "
                f"{money(top.avg_cost)} per {unit}{n}")
    elif sort == "latency":
        extra = f", p95 {seconds(top.p95_latency)}" if top.p95_latency is not None else ""
        n = f", n={count(top.latency_n)}" if top.latency_n is not None else ""
        line = f"Slowest: {name}, {seconds(top.avg_latency)} mean latency per {unit}{extra}{n}"
    elif sort == "errors":
        line = (f"Most errors: {name}, {percent(top.error_rate)} of {unit}s with data had an error "
                f"({_interval(top.error_interval)}, n={count(top.items_with_data)})")
    else:
        line = f"Largest: {name}, {count(top.items)} {unit}s ({percent(top.items / total_items if total_items else None)} of the run)"
    key = {"cost": "avg_cost", "latency": "avg_latency", "errors": "error_rate"}.get(sort)
    test = top.tests.get(key) if key else None  # None: not tested (too few values, or no variation)
    if test:
        verdict = "significantly" if test["significant"] else "not significantly"
        line += f"; {verdict} above the rest of the run ({test['test']}, adjusted p={test['p_adjusted']:.2g})"
    if top.cost_n is None and sort in ("cost", "latency"):
        line += " (PostHog's embedded averages)"
    first = sorted_rows(rows, sort)[0]
    if first.cluster.is_noise and first is not top:
        line += " (the noise cluster -1 ranks higher)"
    return line + "."


def _interval(interval: tuple[float, float] | None) -> str:
    return "95% CI -" if interval is None else f"95% CI {percent(interval[0])}–{percent(interval[1])}"


def _flags(row: ClusterRow) -> str:
    names = {"error_rate": "errors", "avg_cost": "cost", "avg_latency": "latency"}
    return ", ".join(f"{names[key]}↑ p={test['p_adjusted']:.2g}" for key, test in row.tests.items()
                     if test and test["significant"])


def render_aggregate(run: Run, rows: list[ClusterRow], source: str, args, notes: list[str],
                     warnings: list[str] | None = None, totals: WindowTotals | None = None,
                     lead: list[str] | None = None) -> str:
    unit = "generation" if run.level == "generation" else "trace"
    warnings = warnings or []
    ordered = sorted_rows(rows, args.sort)
    shown = ordered if args.max_clusters == 0 else ordered[: args.max_clusters]
    total_items = sum(r.items for r in rows)
    answer = answer_line(rows, args.sort, unit, total_items)
    without = sum(r.items - r.items_with_data for r in rows if r.items_with_data is not None)
    if args.format == "json":
        return json_text({
            "schema": SCHEMA, "warnings": [clean(w, 600) for w in warnings],
            "run": {"run_id": clean(run.run_id) or None, "level": run.level,
                    "window_start": run.window_start, "window_end": run.window_end},
            "source": source, "sort": args.sort, "answer": answer, "findings": lead or [],
            "items": total_items,
            "items_without_data": without if source != "embedded" else None,
            "coverage": coverage_json(run, total_items, totals),
            "tests": {"alpha": ALPHA, "correction": "holm", "sided": "greater"},
            "clusters": [_row_json(r) for r in shown], "clusters_omitted": len(ordered) - len(shown),
            "notes": [clean(n) for n in notes],
        })
    limit = None if args.full else TITLE_CHARS
    page = Page(args.format)
    page.heading(f"Metrics per cluster: run {clean(run.run_id or '(no run id)', None if args.full else 160)}")
    page.lines(f"Warning: {clean(w, 600)}" for w in warnings)
    page.lines(markdown(line) if args.format == "markdown" else line for line in lead or [])
    page.line(markdown(answer) if args.format == "markdown" else answer)
    page.lines(run_header_lines(run, total_items, None if args.full else 64)[:2])
    headers = ["id", "title", f"{unit}s", "with data", "total cost (sample)", "avg cost (n)", "avg latency (n)",
               "p95 latency", "error rate (95% CI; n = with data)", "above the rest"]
    table = []
    for row in shown:
        rate = "-" if row.error_rate is None else f"{percent(row.error_rate)} ({_interval(row.error_interval)[7:]})"
        table.append([row.cluster.cluster_id, _title(row, args.format, limit),
                      count(row.items), count(row.items_with_data), money(row.total_cost),
                      _with_n(money(row.avg_cost), row.cost_n), _with_n(seconds(row.avg_latency), row.latency_n),
                      seconds(row.p95_latency), rate, _flags(row)])
    page.table(headers, table)
    if totals:
        window_section(page, rows, shown, totals, unit, lambda row: _title(row, args.format, limit))
    if source == "embedded":
        page.line(EMBEDDED_NOTE)
    else:
        page.line(f"Computed from {source} metrics the way PostHog computes its own. {metric_definitions(run.level)}")
        page.line(f"Items without data (no AI event in the window): {count(without)} of {count(total_items)}; "
                  "counted in the item column, not in the rates.")
    page.line("Above the rest: one-sided tests against the run's other clusters, Holm-corrected, "
              f"p < {ALPHA}: error rate by two-proportion z-test, mean cost and latency by Welch t-test."
              + (" At generation level a trace's generations are not independent: treat p-values "
                 "as optimistic." if run.level == "generation" else ""))
    if len(ordered) > len(shown):
        page.line(f"{len(ordered) - len(shown)} more clusters not shown; see them with --max-clusters 0.")
    page.lines(f"Note: {clean(note, 300)}" for note in notes)
    return page.render(budget=None if args.full else DEFAULT_BUDGET)


def _title(row: ClusterRow, fmt: str, limit: int | None) -> str:
    title = clean(row.cluster.title, limit)
    title = f"[noise] {title}" if row.cluster.is_noise else title
    return markdown(title) if fmt == "markdown" else title


def _with_n(value: str, n: int | None) -> str:
    return value if n is None or value == "-" else f"{value} ({count(n)})"


def _row_json(row: ClusterRow) -> dict:
    return {
        "cluster_id": row.cluster.cluster_id, "title": clean(row.cluster.title), "is_noise": row.cluster.is_noise,
        "items": row.items, "items_with_data": row.items_with_data,
        "items_without_data": None if row.items_with_data is None else row.items - row.items_with_data,
        "total_cost": row.total_cost, "avg_cost": row.avg_cost, "cost_n": row.cost_n,
        "avg_latency": row.avg_latency, "p50_latency": row.p50_latency, "p90_latency": row.p90_latency,
        "p95_latency": row.p95_latency, "latency_n": row.latency_n, "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens, "avg_tokens": row.avg_tokens, "error_items": row.error_items,
        "error_rate": row.error_rate, "error_rate_ci95": list(row.error_interval) if row.error_interval else None,
        "top_model": clean(row.top_model) or None, "tests": row.tests,
        "window_estimate": None if row.window is None else {
            key: estimate_json(estimate) for key, estimate in row.window.items()},
    }
