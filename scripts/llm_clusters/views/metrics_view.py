"""How `cluster_metrics.py aggregate` shows its answer (`metrics_answer.MetricsAnswer`): the
one-line answer to the question the sort asks, then the per-cluster table with intervals and
flags, the window's totals and what the figures mean; as text, Markdown or JSON (a stable
schema). This module is the one place those formats differ."""

from __future__ import annotations

from dataclasses import dataclass

from ..analyse.cluster_rows import ALPHA, EMBEDDED_NOTE, SORT_KEYS, TESTED, ClusterRow, sorted_rows
from ..analyse.metrics_answer import MetricsAnswer
from ..analyse.stats import Interval
from ..display import clean, count, markdown, money, percent, seconds
from ..posthog.metrics_sql import metric_definitions
from .render import Page, json_text, run_header_lines
from .window_view import coverage_json, estimate_json, window_section

SCHEMA = "exploring-llm-clusters/cluster_metrics@1"
SORTS = ("cost", "latency", "errors", "size")
MAX_CLUSTERS = 30
TITLE_CHARS = 60
DEFAULT_BUDGET = 25_000


@dataclass(frozen=True)
class MetricsViewOptions:
    sort: str = "cost"  # one of SORTS: the order and the question the answer line answers
    max_clusters: int = MAX_CLUSTERS  # 0: all
    full: bool = False  # titles and the output uncut
    format: str = "text"  # text, markdown or json


def render_metrics(answer: MetricsAnswer, options: MetricsViewOptions) -> str:
    if options.format == "json":
        return json_text(metrics_json(answer, options))
    return _page(answer, options).render(budget=None if options.full else DEFAULT_BUDGET)


def _unit(answer: MetricsAnswer) -> str:
    return "generation" if answer.run.level == "generation" else "trace"


def answer_line(rows: list[ClusterRow], sort: str, unit: str, total_items: int) -> str:
    """The one-line answer to the question the sort asks, about the top regular cluster."""
    ordered = [r for r in sorted_rows(rows, sort) if not r.cluster.is_noise] or sorted_rows(rows, sort)
    top = ordered[0] if ordered else None
    if top is None or SORT_KEYS[sort](top)[0] is True:
        return f"No cluster has {'data' if sort != 'size' else 'items'} for this question."
    line = _top_figures(top, sort, unit, total_items)
    key = {"cost": "avg_cost", "latency": "avg_latency", "errors": "error_rate"}.get(sort)
    test = top.tests.get(key) if key else None  # None: not tested (too few values, or no variation)
    if test:
        verdict = "significantly" if test.significant else "not significantly"
        line += f"; {verdict} above the rest of the run ({test.test}, adjusted p={test.p_adjusted:.2g})"
    if top.cost_n is None and sort in ("cost", "latency"):
        line += " (PostHog's embedded averages)"
    first = sorted_rows(rows, sort)[0]
    if first.cluster.is_noise and first is not top:
        line += " (the noise cluster -1 ranks higher)"
    return line + "."


def _top_figures(top: ClusterRow, sort: str, unit: str, total_items: int) -> str:
    name = f"cluster {top.cluster.cluster_id} '{clean(top.cluster.title, TITLE_CHARS)}'"
    if sort == "cost":
        n = f", n={count(top.cost_n)}" if top.cost_n is not None else ""
        return (f"Most expensive: {name}, {money(top.total_cost)} total over the run's sample, "
                f"{money(top.avg_cost)} per {unit}{n}")
    if sort == "latency":
        extra = f", p95 {seconds(top.p95_latency)}" if top.p95_latency is not None else ""
        n = f", n={count(top.latency_n)}" if top.latency_n is not None else ""
        return f"Slowest: {name}, {seconds(top.avg_latency)} mean latency per {unit}{extra}{n}"
    if sort == "errors":
        return (f"Most errors: {name}, {percent(top.error_rate)} of {unit}s with data had an error "
                f"(95% CI {percent_range(top.error_interval)}, n={count(top.items_with_data)})")
    share = top.items / total_items if total_items else None
    return f"Largest: {name}, {count(top.items)} {unit}s ({percent(share)} of the run)"


def percent_range(interval: Interval | None) -> str:
    return "-" if interval is None else f"{percent(interval.low)}–{percent(interval.high)}"


def _total_items(answer: MetricsAnswer) -> int:
    return sum(r.items for r in answer.rows)


def _items_without_data(answer: MetricsAnswer) -> int:
    return sum(r.items - r.items_with_data for r in answer.rows if r.items_with_data is not None)


def _shown(answer: MetricsAnswer, options: MetricsViewOptions) -> tuple[list[ClusterRow], int]:
    """The rows shown, in order, and how many more there are."""
    ordered = sorted_rows(answer.rows, options.sort)
    shown = ordered if options.max_clusters == 0 else ordered[: options.max_clusters]
    return shown, len(ordered) - len(shown)


# --- JSON ------------------------------------------------------------------------------------

def metrics_json(answer: MetricsAnswer, options: MetricsViewOptions) -> dict:
    run, total_items = answer.run, _total_items(answer)
    shown, omitted = _shown(answer, options)
    return {
        "schema": SCHEMA, "warnings": [clean(w, 600) for w in answer.warnings],
        "run": {"run_id": clean(run.run_id) or None, "level": run.level,
                "window_start": run.window_start, "window_end": run.window_end},
        "source": answer.source, "sort": options.sort,
        "answer": answer_line(answer.rows, options.sort, _unit(answer), total_items),
        "findings": answer.findings, "items": total_items,
        "items_without_data": _items_without_data(answer) if answer.source != "embedded" else None,
        "coverage": coverage_json(run, total_items, answer.totals),
        "tests": {"alpha": ALPHA, "correction": "holm", "sided": "greater"},
        "clusters": [_row_json(r) for r in shown], "clusters_omitted": omitted,
        "notes": [clean(n) for n in answer.notes],
    }


def _row_json(row: ClusterRow) -> dict:
    interval = row.error_interval
    return {
        "cluster_id": row.cluster.cluster_id, "title": clean(row.cluster.title),
        "is_noise": row.cluster.is_noise, "items": row.items, "items_with_data": row.items_with_data,
        "items_without_data": None if row.items_with_data is None else row.items - row.items_with_data,
        "total_cost": row.total_cost, "avg_cost": row.avg_cost, "cost_n": row.cost_n,
        "avg_latency": row.avg_latency, "p50_latency": row.p50_latency, "p90_latency": row.p90_latency,
        "p95_latency": row.p95_latency, "latency_n": row.latency_n, "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens, "avg_tokens": row.avg_tokens, "error_items": row.error_items,
        "error_rate": row.error_rate, "error_rate_ci95": list(interval) if interval else None,
        "top_model": clean(row.top_model) or None,
        "tests": {key: None if test is None else test.as_json() for key, test in row.tests.items()},
        "window_estimate": None if row.window is None else {
            key: estimate_json(estimate) for key, estimate in row.window.by_figure()},
    }


# --- text and Markdown -----------------------------------------------------------------------

def _page(answer: MetricsAnswer, options: MetricsViewOptions) -> Page:
    run, unit, total_items = answer.run, _unit(answer), _total_items(answer)
    shown, omitted = _shown(answer, options)
    limit = None if options.full else TITLE_CHARS

    def inline(text: str) -> str:
        """Text from the run (titles, findings) inside a line: escaped in Markdown."""
        return markdown(text) if options.format == "markdown" else text

    def title(row: ClusterRow) -> str:
        text = clean(row.cluster.title, limit)
        return inline(f"[noise] {text}" if row.cluster.is_noise else text)

    page = Page(options.format)
    run_id = clean(run.run_id or "(no run id)", None if options.full else 160)
    page.heading(f"Metrics per cluster: run {run_id}")
    page.lines(f"Warning: {clean(w, 600)}" for w in answer.warnings)
    page.lines(inline(line) for line in answer.findings)
    page.line(inline(answer_line(answer.rows, options.sort, unit, total_items)))
    page.lines(run_header_lines(run, total_items, None if options.full else 64)[:2])
    page.table(["id", "title", f"{unit}s", "with data", "total cost (sample)", "avg cost (n)",
                "avg latency (n)", "p95 latency", "error rate (95% CI; n = with data)", "above the rest"],
               [_table_row(row, title(row)) for row in shown])
    if answer.totals:
        window_section(page, answer.rows, shown, answer.totals, unit, title)
    _explain(page, answer, total_items)
    if omitted:
        page.line(f"{omitted} more clusters not shown; see them with --max-clusters 0.")
    page.lines(f"Note: {clean(note, 300)}" for note in answer.notes)
    return page


def _table_row(row: ClusterRow, title: str) -> list:
    rate = ("-" if row.error_rate is None
            else f"{percent(row.error_rate)} ({percent_range(row.error_interval)})")
    return [row.cluster.cluster_id, title, count(row.items), count(row.items_with_data),
            money(row.total_cost), _with_n(money(row.avg_cost), row.cost_n),
            _with_n(seconds(row.avg_latency), row.latency_n), seconds(row.p95_latency), rate, _flags(row)]


def _explain(page: Page, answer: MetricsAnswer, total_items: int) -> None:
    """Where the figures come from and what the flags test."""
    level = answer.run.level
    if answer.source == "embedded":
        page.line(EMBEDDED_NOTE)
    else:
        page.line(f"Computed from {answer.source} metrics the way PostHog computes its own. "
                  f"{metric_definitions(level)}")
        page.line(f"Items without data (no AI event in the window): {count(_items_without_data(answer))} "
                  f"of {count(total_items)}; counted in the item column, not in the rates.")
    page.line("Above the rest: one-sided tests against the run's other clusters, Holm-corrected, "
              f"p < {ALPHA}: error rate by two-proportion z-test, mean cost and latency by Welch t-test."
              + (" At generation level a trace's generations are not independent: treat p-values "
                 "as optimistic." if level == "generation" else ""))


def _flags(row: ClusterRow) -> str:
    return ", ".join(f"{TESTED[key]}↑ p={test.p_adjusted:.2g}" for key, test in row.tests.items()
                     if test and test.significant)


def _with_n(value: str, n: int | None) -> str:
    return value if n is None or value == "-" else f"{value} ({count(n)})"
