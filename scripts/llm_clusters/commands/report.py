"""report.py: one self-contained HTML page (or its Markdown twin) about a clustering run: the
map of its items, per-cluster bars with intervals, and how clusters moved between runs."""

from __future__ import annotations

from pathlib import Path

from ..cli import ArgumentParser, whole_number
from ..display import clean, clusters_phrase, count
from ..environment import HOST_ENV, PROJECT_ENV, Environment
from ..errors import ExitStatus, UsageError
from ..posthog.link_options import add_link_options, builder_from_args
from ..report.content import MAP_POINTS, MAX_CLUSTERS, MAX_RUNS, ReportContent, ReportOptions, build_report
from ..report.html import render_html
from ..report.inputs import read_inputs
from ..report.markdown import render_markdown

FORMATS = ("html", "markdown")

DESCRIPTION = f"""\
Write ONE report about a PostHog LLM clustering run from saved results, each recognised from
its content (any order):
  - the saved run (any shape print_clusters.py reads); several runs, in one file or several,
    add the flow of clusters from one run to the next (matched, split, merged, new, vanished);
  - the saved result of `cluster_metrics.py sql --per-item` (or its per-cluster form, or every
    `--in-list` query): cost, latency and error rate per cluster with 95% intervals and flags;
  - the saved result of `cluster_metrics.py sql --window-totals`: coverage of the window and
    per-cluster window estimates.
The report is about the newest run (or --run-id).

html (default): one self-contained page, inline SVG and CSS, no script, nothing loaded from
anywhere (a Content-Security-Policy forbids it), safe to attach: the run's coverage, the 2-D
map of its items ({MAP_POINTS:,} at most by default, thinned beyond and said), bars with 95%
intervals, the flow between runs, best-ranked items. markdown: the same findings and tables.
Links to PostHog when the host and project are known (--host/--project-id or {HOST_ENV}/
{PROJECT_ENV})."""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="report.py", description=DESCRIPTION)
    parser.add_argument("files", nargs="+", metavar="SAVED_RESULT",
                        help="saved runs, metrics and window-totals results; - reads standard input (once)")
    parser.add_argument("--output", "-o", metavar="FILE",
                        help="write the report to FILE and print one line saying what it holds "
                        "(default: the report on standard output)")
    parser.add_argument("--format", choices=FORMATS, default="html", help="html (default) or markdown")
    parser.add_argument("--run-id", help="the run the report is about (default: the newest)")
    parser.add_argument("--map-points", type=whole_number, default=MAP_POINTS, metavar="N",
                        help=f"items drawn on the map before it is thinned (default {MAP_POINTS:,}, "
                        "0 for all)")
    parser.add_argument("--max-clusters", type=whole_number, default=MAX_CLUSTERS, metavar="N",
                        help=f"clusters in the tables, largest first (default {MAX_CLUSTERS}, 0 for all)")
    parser.add_argument("--max-runs", type=whole_number, default=MAX_RUNS, metavar="N",
                        help=f"runs in the comparison, newest (default {MAX_RUNS}, 0 for all)")
    add_link_options(parser)
    return parser


def main(argv: list[str], environment: Environment) -> int:
    args = build_parser().parse_in(argv, environment)
    known = args.host or environment.setting(HOST_ENV)
    project = args.project_id or environment.setting(PROJECT_ENV)
    links = builder_from_args(args, environment.variables) if known and project else None
    report = build_report(read_inputs(args.files, environment.stdin),
                          ReportOptions(args.run_id, args.map_points, args.max_clusters,
                                        args.max_runs, links))
    page = render_html(report) if args.format == "html" else render_markdown(report)
    if not args.output:
        environment.stdout.write(page)
        return ExitStatus.OK
    _write(Path(args.output), page)
    environment.stdout.write(f"Wrote {clean(args.output, 200)} ({len(page.encode()) / 1024:,.0f} KB, "
                             f"{args.format}): {summary(report)}.\n")
    return ExitStatus.OK


def summary(report: ReportContent) -> str:
    """What the report holds, in one line."""
    runs = len(report.comparison.runs) if report.comparison else 1
    return (f"run {clean(report.run.run_id, 160)}, {clusters_phrase(report.run.clusters)}, "
            f"{count(len(report.map.points))} items on the map{' (thinned)' if report.map.thinned else ''}"
            f"{f', {runs} runs compared' if runs > 1 else ''}")


def _write(path: Path, page: str) -> None:
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write the report to {clean(str(path), 200)} ({error.strerror}); "
                         "pass a writable path to --output.") from None
