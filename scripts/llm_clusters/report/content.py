"""The report's findings, whatever format writes them: the run and its coverage, each cluster's
share, cost, latency and error rate with 95% intervals and flags, the map's points (thinned past
a bound, and said), the comparison of the runs, and PostHog links when the host is known."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..analyse.cluster_rows import (
    TESTED,
    ClusterRow,
    WindowTotals,
    add_tests,
    add_window_estimates,
    rows_from_embedded,
    rows_from_tables,
)
from ..analyse.compare import Comparison, compare_runs, run_level, time_order
from ..analyse.compare_settings import Settings
from ..analyse.stats import Interval, Sample, WindowEstimates, mean_interval, wilson
from ..display import clean, count, percent
from ..model import Cluster, Item, Run
from ..posthog.links import LinkBuilder
from ..read.reader import ReadResult, choose_run
from ..views.render import run_header_lines
from .inputs import Inputs

MAP_POINTS = 10_000  # a PostHog run holds at most this many items (max_samples)
MAX_CLUSTERS = 60
MAX_RUNS = 10
TOP_ITEMS = 3  # best-ranked items marked on the map and listed per cluster
# One colour per cluster, largest first, then round again (the legend and labels tell repeats
# apart); noise is grey. Tableau's 20 colours, chosen to stay apart for most colour vision.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#17becf", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#f1ce63", "#499894",
           "#86bcb6", "#d37295", "#fabfd2", "#d4a6c8")
NO_LINKS = ("No PostHog links: pass --host and --project-id (or set POSTHOG_HOST and POSTHOG_PROJECT_ID) "
            "to link the run, every cluster and item.")


@dataclass(frozen=True)
class ReportOptions:
    run_id: str | None = None
    map_points: int = MAP_POINTS  # 0: all
    max_clusters: int = MAX_CLUSTERS  # 0: all
    max_runs: int = MAX_RUNS  # 0: all
    links: LinkBuilder | None = None


@dataclass
class Figure:
    """A value with its 95% interval (None when it cannot be given) and its n."""

    value: float | None
    interval: Interval | None = None
    n: int | None = None


@dataclass
class ClusterFigures:
    cluster: Cluster
    colour: int | None  # palette index; None for noise
    share: Figure
    avg_cost: Figure | None = None  # None: no metrics given
    total_cost: float | None = None
    avg_latency: Figure | None = None
    error_rate: Figure | None = None
    flags: list[str] = field(default_factory=list)  # "errors", "cost", "latency": above the rest
    window: WindowEstimates | None = None  # when window totals were given
    url: str | None = None
    top: list[tuple[Item, str | None]] = field(default_factory=list)


@dataclass
class MapData:
    """Points in the run's own x/y, by palette index (None: noise)."""

    points: list[tuple[float, float, int | None]]
    marked: list[tuple[float, float, int | None, str, str | None]]  # x, y, colour, label, url
    anchors: list[tuple[float, float, int | None, tuple[int, str]]]  # each cluster's centre: id, title
    items: int  # items in the run's clusters
    without_xy: int
    thinned: bool


@dataclass
class ReportContent:
    run: Run
    title: str
    header: list[str]
    coverage: list[str]
    clusters: list[ClusterFigures]
    clusters_omitted: int
    metrics_source: str | None  # "per-item", "per-cluster", "embedded", or None
    totals: WindowTotals | None
    map: MapData
    comparison: Comparison | None
    run_url: str | None
    read_as: list[str]
    warnings: list[str]
    notes: list[str]
    links: LinkBuilder | None = None

    @property
    def unit(self) -> str:
        return "generation" if self.run.level == "generation" else "trace"


def build_report(inputs: Inputs, options: ReportOptions) -> ReportContent:
    notes, warnings = list(inputs.notes), list(inputs.warnings)
    run, picked = choose_run(ReadResult(inputs.runs), options.run_id)
    if picked:
        notes.insert(0, f"the inputs hold {len(inputs.runs)} runs; the report is about the newest "
                     "(pick another with --run-id)")
    rows, source = _rows(run, inputs, notes)
    totals = _window_totals(run, rows, inputs, warnings)
    colours = _colours(run)
    figures = _figures(run, rows, colours, options.links)
    shown = figures if options.max_clusters == 0 else figures[: options.max_clusters]
    links = options.links
    if links and links.host_note():
        notes.append(links.host_note())
    total = sum(c.size for c in run.clusters)
    header = run_header_lines(run, total, 64)  # [run, coverage, clustering params]
    return ReportContent(
        run=run, title=f"Clusters of run {clean(run.run_id or '(no run id)', 160)}",
        header=[header[0], *header[2:]], coverage=_coverage(run, header[1], total, totals), clusters=shown,
        clusters_omitted=len(figures) - len(shown), metrics_source=source, totals=totals,
        map=map_data(run, colours, options),
        comparison=_comparison(run, inputs.runs, options.max_runs, notes),
        run_url=links.run(run.run_id) if links and run.run_id else None,
        read_as=inputs.read_as, warnings=warnings, notes=notes, links=links)


def _window_totals(run: Run, rows: list[ClusterRow] | None, inputs: Inputs,
                   warnings: list[str]) -> WindowTotals | None:
    """The window totals when given and about this run (with each cluster's window estimates
    when there are metrics); None, with a warning, when they describe another population."""
    if inputs.window is None:
        return None
    totals = WindowTotals.from_table(inputs.window.table, inputs.window.name)
    refused = add_window_estimates(run, rows or [], totals)  # refuses another level or window
    if not refused and totals.items < sum(c.size for c in run.clusters):
        refused = [f"the window totals count {totals.items:,} items, fewer than the run analysed: they "
                   "do not describe this run's window, so they are not used."]
    warnings += refused
    return None if refused else totals


def _rows(run: Run, inputs: Inputs, notes: list[str]) -> tuple[list[ClusterRow] | None, str | None]:
    if inputs.metrics:
        rows, source, more = rows_from_tables(run, inputs.metrics)
        notes += more
    elif any(c.metrics for c in run.clusters):
        rows, source = rows_from_embedded(run), "embedded"
    else:
        return None, None
    add_tests(rows)
    return rows, source


def _colours(run: Run) -> dict[int, int | None]:
    """Palette index per cluster id: by size, largest first; noise has none."""
    regular = sorted((c for c in run.clusters if not c.is_noise), key=lambda c: (-c.size, c.cluster_id))
    colours: dict[int, int | None] = {c.cluster_id: i % len(PALETTE) for i, c in enumerate(regular)}
    colours.update({c.cluster_id: None for c in run.clusters if c.is_noise})
    return colours


def ordered(run: Run) -> list[Cluster]:
    """Largest first, noise last."""
    return (sorted((c for c in run.clusters if not c.is_noise), key=lambda c: (-c.size, c.cluster_id))
            + [c for c in run.clusters if c.is_noise])


def _figures(run: Run, rows: list[ClusterRow] | None, colours: dict, links: LinkBuilder | None
             ) -> list[ClusterFigures]:
    total = sum(c.size for c in run.clusters)
    by_id = {row.cluster.cluster_id: row for row in rows or []}
    figures = []
    for cluster in ordered(run):
        figure = ClusterFigures(
            cluster=cluster, colour=colours[cluster.cluster_id],
            share=Figure(cluster.size / total if total else None,
                         wilson(cluster.size, total) if total else None, total),
            url=links.cluster(run.run_id, cluster.cluster_id) if links and run.run_id else None,
            top=[(item, links.item(item, run.level) if links else None)
                 for item in cluster.items[:TOP_ITEMS]])
        row = by_id.get(cluster.cluster_id)
        if row is not None:
            _measure(figure, row)
        figures.append(figure)
    return figures


def _measure(figure: ClusterFigures, row: ClusterRow) -> None:
    figure.total_cost = row.total_cost
    if row.costs:
        sample = Sample.of(row.costs)
        figure.avg_cost = Figure(row.avg_cost, _interval(sample), sample.n)
    else:  # the per-cluster query's sum of squares gives the spread; the embedded averages none
        variance = None
        n = row.cost_n
        if n and n > 1 and row.cost_squares is not None and row.avg_cost is not None:
            variance = max(0.0, (row.cost_squares - n * row.avg_cost ** 2) / (n - 1))
        figure.avg_cost = Figure(row.avg_cost, mean_interval(n or 0, row.avg_cost, variance), n)
    latency = Sample.of(row.latencies) if row.latencies else None
    figure.avg_latency = Figure(row.avg_latency, _interval(latency) if latency else None,
                                row.latency_n)
    figure.error_rate = Figure(row.error_rate, row.error_interval, row.items_with_data)
    figure.flags = [TESTED[key] for key, test in row.tests.items() if test and test.significant]
    figure.window = row.window


def _interval(sample: Sample) -> Interval | None:
    return mean_interval(sample.n, sample.mean, sample.variance)


def _coverage(run: Run, sample_line: str, clustered: int, totals: WindowTotals | None) -> list[str]:
    unit = "generation" if run.level == "generation" else "trace"
    lines = [sample_line]
    if totals is None:
        lines.append("Every figure is the sample's: the window's own totals were not given (pass the "
                     "saved result of `cluster_metrics.py sql --window-totals` to add them).")
    elif totals.items == clustered:
        lines.append(f"The run analysed every {unit} of its window ({count(clustered)}): its figures "
                     "are the window's exact figures.")
    else:
        fraction = percent(clustered / totals.items) if totals.items else "-"
        lines.append(f"The run analysed {count(clustered)} of the window's {count(totals.items)} {unit}s "
                     f"({fraction}). Shares, costs, latencies and error rates are the sample's; the "
                     "window figures per cluster are ESTIMATES with 95% intervals.")
    return lines


def map_data(run: Run, colours: dict, options: ReportOptions) -> MapData:
    """Every item with x/y, or an even spread of each cluster's items (by rank, so each keeps
    its centre and its edge) when the run holds more than `options.map_points`."""
    items = sum(len(c.items) for c in run.clusters)
    located = sum(1 for c in run.clusters for i in c.items if _has_xy(i))
    limit = options.map_points or located
    thinned = located > limit
    points, marked, anchors = [], [], []
    for cluster in sorted(run.clusters, key=lambda c: (not c.is_noise, -c.size, c.cluster_id)):
        colour = colours[cluster.cluster_id]
        mine = [i for i in cluster.items if _has_xy(i)]
        kept = _spread(mine, math.ceil(len(mine) * limit / located)) if thinned else mine
        points += [(i.x, i.y, colour) for i in kept]
        for item in mine[:TOP_ITEMS]:
            url = options.links.item(item, run.level) if options.links else None
            ident = item.generation_id if run.level == "generation" else (item.trace_id or item.key)
            marked.append((item.x, item.y, colour, f"cluster {cluster.cluster_id}, rank "
                           f"{'-' if item.rank is None else item.rank}: {clean(ident or item.key, 64)}", url))
        anchor = _anchor(cluster, mine)
        if anchor and not cluster.is_noise:
            anchors.append((*anchor, colour, (cluster.cluster_id, cluster.title)))
    return MapData(points, marked, anchors, items, items - located, thinned)


def _has_xy(item: Item) -> bool:
    return item.x is not None and item.y is not None and math.isfinite(item.x) and math.isfinite(item.y)


def _spread(items: list[Item], keep: int) -> list[Item]:
    if keep >= len(items):
        return items
    step = len(items) / keep
    return [items[int(i * step)] for i in range(keep)]


def _anchor(cluster: Cluster, items: list[Item]) -> tuple[float, float] | None:
    if cluster.centroid_x is not None and cluster.centroid_y is not None:
        return cluster.centroid_x, cluster.centroid_y
    if not items:
        return None
    return sum(i.x for i in items) / len(items), sum(i.y for i in items) / len(items)


def _comparison(run: Run, runs: list[Run], max_runs: int, notes: list[str]) -> Comparison | None:
    """The runs of the report's run's level compared, oldest first; None with fewer than two."""
    level = run_level(run)
    same = [r for r in runs if run_level(r) in (level, None) or level is None]
    if len(same) < len(runs):
        notes.append(f"{len(runs) - len(same)} runs of another level than this run's ({level}) are left out "
                     "of the comparison: clusters of different levels cannot be matched")
    if len(same) < 2:
        return None
    ordered_runs = time_order(same)
    if max_runs and len(ordered_runs) > max_runs:
        notes.append(f"the comparison covers the {max_runs} newest of {len(ordered_runs)} runs; "
                     "show more with --max-runs N (0 for all)")
        ordered_runs = ordered_runs[-max_runs:]
    comparison = compare_runs(ordered_runs, Settings())
    notes += comparison.notes
    return comparison


def flagged_text(figure: ClusterFigures) -> str:
    return ", ".join(f"{name} above the rest" for name in figure.flags)

