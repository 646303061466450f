"""Per-cluster measurements of a run: from per-item values (PostHog's aggregation), from a
per-cluster table, or from the run's embedded metrics; the tests that flag clusters above the
rest of the run; and estimates of each cluster's totals over the run's whole window.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..display import clean
from ..errors import ClusterToolError, ExitStatus, UsageError
from ..model import Cluster, Run
from ..posthog.metrics_sql import CLUSTER_COLUMNS
from ..read.tables import Table, cell_bool, cell_integer, cell_number
from ..timestamps import parse_timestamp
from .stats import (
    Estimate,
    Interval,
    Sample,
    TestResult,
    WindowEstimates,
    holm,
    ratio_total,
    two_proportion_z,
    welch_t,
    wilson,
    window_count,
)

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from ..read.table_reader import SavedTable

ALPHA = 0.05


ITEM_KEY_COLUMNS = ("item", "item_id", "trace_id", "generation_id", "key")


EMBEDDED_NOTE = ("These are PostHog's own metrics embedded in the run: averages over items with "
                 "data (values > 0). They carry no per-item values, so only the error rate can be "
                 "tested; for costs and latencies you can test, run `cluster_metrics.py sql "
                 "--per-item` and pass its saved result.")


@dataclass
class ItemValues:
    """One item's measurements, as the per-item query returns them."""

    has_data: bool
    cost: float | None = None
    latency: float | None = None
    tokens: float | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None
    errors: float | None = None
    model: str | None = None


@dataclass(frozen=True)
class TestOutcome:
    """A cluster's one-sided test against the rest of the run, Holm-adjusted across the run's
    clusters; `significant`: adjusted p below ALPHA with the cluster above the rest."""

    test: str  # the test's name, as printed
    statistic: float
    p_value: float
    p_adjusted: float
    significant: bool

    def as_json(self) -> dict:
        return asdict(self)


@dataclass
class ClusterRow:
    """A cluster's measurements, however they were obtained, and its tests."""

    cluster: Cluster
    items: int
    items_with_data: int | None
    total_cost: float | None = None
    avg_cost: float | None = None
    cost_n: int | None = None
    avg_latency: float | None = None
    p50_latency: float | None = None
    p90_latency: float | None = None
    p95_latency: float | None = None
    latency_n: int | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None
    avg_tokens: float | None = None
    error_items: int | None = None
    top_model: str | None = None
    cost_squares: float | None = None  # sum of the squared per-item costs, for the window estimates
    costs: list[float] = field(default_factory=list, repr=False)
    latencies: list[float] = field(default_factory=list, repr=False)
    # Count, mean and variance when only those are known (the overview query), for the tests.
    cost_sample: Sample | None = field(default=None, repr=False)
    latency_sample: Sample | None = field(default=None, repr=False)
    # Per tested measure (TESTED): its outcome, None where the test could not run.
    tests: dict[str, TestOutcome | None] = field(default_factory=dict)
    window: WindowEstimates | None = None  # estimates for the whole window, when known

    @property
    def error_rate(self) -> float | None:
        if not self.items_with_data or self.error_items is None:
            return None
        return self.error_items / self.items_with_data

    @property
    def error_interval(self) -> Interval | None:
        if self.error_items is None or not self.items_with_data:
            return None
        return wilson(self.error_items, self.items_with_data)


def _column(columns: list[str], *names: str) -> int | None:
    lowered = [c.strip().strip('"`').lower() for c in columns]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _cells(index: dict[str, int | None], row: list) -> dict:
    """A row's cells by name, from each name's column position (None: no such column)."""
    return {name: row[i] if i is not None and i < len(row) else None for name, i in index.items()}


def rows_from_tables(run: Run, tables: list[SavedTable]) -> tuple[list[ClusterRow], str, list[str]]:
    """Cluster rows from per-item tables (merged) or one per-cluster table."""
    notes: list[str] = []
    per_item: dict[str, ItemValues] = {}
    for path, table in tables:
        notes += [f"{path}: {note}" for note in table.notes]
        if _column(table.columns, *ITEM_KEY_COLUMNS) is None:
            if _column(table.columns, "cluster_id") is not None and len(tables) == 1:
                return rows_from_cluster_table(run, table), "per-cluster", notes
            raise ClusterToolError(
                f"{path} has neither an item column nor cluster_id (columns: "
                f"{', '.join(clean(c, 40) for c in table.columns[:12])}). Pass the saved result of "
                "`cluster_metrics.py sql --per-item` (or of the per-cluster query).", ExitStatus.UNREADABLE)
        per_item.update(_item_values(table))
    return rows_from_items(run, per_item, notes), "per-item", notes


def _item_values(table: Table) -> dict[str, ItemValues]:
    index = {name: _column(table.columns, *names) for name, names in {
        "item": ITEM_KEY_COLUMNS, "has_data": ("has_data",), "cost": ("cost",), "latency": ("latency",),
        "input_tokens": ("input_tokens",), "output_tokens": ("output_tokens",),
        "errors": ("error_events", "errors", "error_count"), "model": ("model",)}.items()}

    def cell(row: list, name: str):
        position = index[name]
        return row[position] if position is not None and position < len(row) else None

    values = {}
    for row in table.rows:
        key = cell(row, "item")
        if key is None:
            continue
        has_data = cell_bool(cell(row, "has_data"))
        tin, tout = cell_number(cell(row, "input_tokens")), cell_number(cell(row, "output_tokens"))
        values[str(key)] = ItemValues(
            has_data=True if has_data is None else has_data, cost=cell_number(cell(row, "cost")),
            latency=cell_number(cell(row, "latency")), tokens=(tin or 0) + (tout or 0),
            input_tokens=tin, output_tokens=tout, errors=cell_number(cell(row, "errors")),
            model=None if cell(row, "model") in (None, "") else str(cell(row, "model")))
    return values


def _quantile(ordered: list[float], level: float) -> float | None:
    """Linear interpolation between order statistics, as ClickHouse's `quantile` does."""
    if not ordered:
        return None
    position = level * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def rows_from_items(run: Run, values: dict[str, ItemValues], notes: list[str]) -> list[ClusterRow]:
    """PostHog's aggregation over per-item values: averages over values > 0, error rate over
    items with data. An item of the run with no row has no data."""
    rows, seen, missing = [], set(), 0
    for cluster in run.clusters:
        with_data = []
        for item in cluster.items:
            seen.add(item.key)
            value = values.get(item.key)
            missing += value is None
            if value is not None and value.has_data:
                with_data.append(value)
        costs = [v.cost for v in with_data if v.cost is not None and v.cost > 0]
        latencies = sorted(v.latency for v in with_data if v.latency is not None and v.latency > 0)
        tokens = [v.tokens for v in with_data if v.tokens and v.tokens > 0]
        models = Counter(v.model for v in with_data if v.model)
        rows.append(ClusterRow(
            cluster=cluster, items=max(cluster.size, cluster.item_count), items_with_data=len(with_data),
            total_cost=math.fsum(costs) if costs else None, avg_cost=_mean(costs), cost_n=len(costs),
            avg_latency=_mean(latencies), p50_latency=_quantile(latencies, 0.5),
            p90_latency=_quantile(latencies, 0.9), p95_latency=_quantile(latencies, 0.95),
            latency_n=len(latencies),
            input_tokens=math.fsum(v.input_tokens or 0 for v in with_data),
            output_tokens=math.fsum(v.output_tokens or 0 for v in with_data), avg_tokens=_mean(tokens),
            error_items=sum(1 for v in with_data if v.errors and v.errors > 0),
            top_model=min(models, key=lambda m: (-models[m], m)) if models else None,
            cost_squares=math.fsum(c * c for c in costs), costs=costs, latencies=latencies))
    if missing:
        notes.append(f"{missing:,} items of the run have no row in the metrics: counted as items "
                     "without data (the IN-list queries return no row for them; a per-item result "
                     "cut short does too)")
    extra = len(set(values) - seen)
    if extra:
        notes.append(f"{extra:,} rows of the metrics name items that are not in this run; ignored")
    return rows


def rows_from_cluster_table(run: Run, table: Table) -> list[ClusterRow]:
    """Cluster rows from the per-cluster query's result (its own counts, no per-item values)."""
    columns = {name: _column(table.columns, name) for name in CLUSTER_COLUMNS}
    by_id = {}
    for row in table.rows:
        cells = _cells(columns, row)
        cluster_id = cell_number(cells["cluster_id"])
        if cluster_id is not None:
            by_id[int(cluster_id)] = cells
    rows = []
    for cluster in run.clusters:
        cells = by_id.get(cluster.cluster_id, {})
        number = lambda name: cell_number(cells.get(name))  # noqa: E731
        count = lambda name: cell_integer(cells.get(name))  # noqa: E731
        rows.append(ClusterRow(
            cluster=cluster, items=count("items") or cluster.size,
            items_with_data=count("items_with_data") or 0,
            total_cost=number("total_cost"), avg_cost=number("avg_cost"), cost_n=count("cost_items"),
            avg_latency=number("avg_latency"), p50_latency=number("p50_latency"),
            p90_latency=number("p90_latency"), p95_latency=number("p95_latency"),
            latency_n=count("latency_items"),
            input_tokens=number("input_tokens"), output_tokens=number("output_tokens"),
            avg_tokens=number("avg_tokens"), error_items=count("error_items") or 0,
            top_model=None if cells.get("top_model") in (None, "") else str(cells["top_model"]),
            cost_squares=number("cost_sq")))
    return rows


def rows_from_embedded(run: Run) -> list[ClusterRow]:
    if not any(c.metrics for c in run.clusters):
        raise ClusterToolError(
            f"run {clean(run.run_id, 160)!r} carries no embedded metrics (older runs have none). "
            "Measure it: run `cluster_metrics.py sql --per-item --run-id <id>` with execute-sql "
            "(truncate: false), then `cluster_metrics.py aggregate RUN_FILE <saved result>`.",
            ExitStatus.NO_CLUSTERS)
    rows = []
    for cluster in run.clusters:
        m = cluster.metrics or {}
        number = lambda key: cell_number(m.get(key))  # noqa: E731
        rows.append(ClusterRow(
            cluster=cluster, items=cluster.size, items_with_data=cell_integer(m.get("item_count")),
            total_cost=number("total_cost"), avg_cost=number("avg_cost"), avg_latency=number("avg_latency"),
            avg_tokens=number("avg_tokens"), error_items=cell_integer(m.get("error_count"))))
    return rows


@dataclass(frozen=True)
class WindowTotals:
    """The one row of `sql --window-totals`: exact figures for the whole window."""

    level: str | None
    start: str | None
    end: str | None
    items: int
    items_with_data: int | None
    total_cost: float | None
    error_items: int | None

    @classmethod
    def from_table(cls, table: Table, where: str) -> "WindowTotals":
        index = {name: _column(table.columns, name) for name in
                 ("level", "window_start", "window_end", "items", "items_with_data", "total_cost",
                  "error_items")}
        if index["items"] is None or len(table.rows) != 1:
            raise ClusterToolError(
                f"{where} is not the result of `cluster_metrics.py sql --window-totals` (expected one "
                f"row with an items column; found {len(table.rows)} rows, columns "
                f"{', '.join(clean(c, 40) for c in table.columns[:12])}).", ExitStatus.UNREADABLE)
        cells = _cells(index, table.rows[0])
        whole = lambda name: cell_integer(cells[name])  # noqa: E731
        text = lambda name: None if cells[name] in (None, "") else str(cells[name])  # noqa: E731
        return cls(text("level"), text("window_start"), text("window_end"), whole("items") or 0,
                   whole("items_with_data"), cell_number(cells["total_cost"]), whole("error_items"))


def add_window_estimates(run: Run, rows: list[ClusterRow], totals: WindowTotals) -> list[str]:
    """Each cluster's estimated window totals (`row.window`), from the run's sample of n items out
    of the window's N; warnings when the totals do not describe this run's window."""
    _check_same_window(run, totals)
    n = sum(r.items for r in rows)
    if totals.items < n:
        return [f"the window totals count {totals.items:,} items, fewer than the {n:,} the run "
                "analysed: they do not describe this run's population (another scope or window), so "
                "no per-cluster window estimates are shown."]
    # The ratio estimators split the window's exact totals by each cluster's share of the sample's,
    # so they need every cluster's sampled cost (and its squares, for the variance).
    splittable = totals.total_cost is not None and all(
        row.cost_n is not None and (row.total_cost is None or row.cost_squares is not None) for row in rows)
    whole = math.fsum(row.total_cost or 0.0 for row in rows)
    whole_squares = math.fsum(row.cost_squares or 0.0 for row in rows)
    sampled_errors = sum(row.error_items or 0 for row in rows)
    for row in rows:
        cost = errors = None
        if splittable:
            cost = ratio_total(row.total_cost or 0.0, row.cost_squares or 0.0, row.cost_n or 0, whole,
                               whole_squares, n, totals.items, totals.total_cost)
        if row.error_items is not None and totals.error_items is not None:
            whole_window = n == totals.items or (totals.error_items == 0 and sampled_errors == 0)
            errors = (Estimate(row.error_items, row.error_items, row.error_items, exact=True) if whole_window
                      else window_count(row.error_items, sampled_errors, totals.error_items))
        row.window = WindowEstimates(window_count(row.items, n, totals.items), cost, errors)
    return []


def _check_same_window(run: Run, totals: WindowTotals) -> None:
    """Refuse totals of another level or window than the run's."""
    if totals.level and run.level and totals.level != run.level:
        raise UsageError(f"the window totals are for the {totals.level} level, the run is "
                         f"{run.level} level: run `sql --window-totals` for this run.")
    for mine, theirs, name in ((run.window_start, totals.start, "start"),
                               (run.window_end, totals.end, "end")):
        mine_time, their_time = parse_timestamp(mine), parse_timestamp(theirs)
        if mine_time and their_time and mine_time != their_time:
            raise UsageError(f"the window totals' window {name} ({clean(theirs, 40)}) is not the "
                             f"run's ({clean(mine, 40)}): run `sql --window-totals` for this run.")


TESTED = {"error_rate": "errors", "avg_cost": "cost", "avg_latency": "latency"}  # measure: its flag


def add_tests(rows: list[ClusterRow]) -> None:
    """Flag clusters above the rest of the run: error rate (two-proportion z-test), mean cost and
    mean latency (Welch t-test); one-sided, Holm-corrected across the clusters of each test."""
    tested: dict[str, list[tuple[ClusterRow, TestResult]]] = {key: [] for key in TESTED}
    for row in rows:
        row.tests = dict.fromkeys(TESTED)  # a stable shape: None where a test could not run
    total_errors = sum(r.error_items or 0 for r in rows)
    total_with_data = sum(r.items_with_data or 0 for r in rows)
    for row in rows:
        if row.error_items is not None and row.items_with_data:
            result = two_proportion_z(row.error_items, row.items_with_data, total_errors - row.error_items,
                                      total_with_data - row.items_with_data)
            if result:
                tested["error_rate"].append((row, result))
        for key, attribute, summary in (("avg_cost", "costs", "cost_sample"),
                                        ("avg_latency", "latencies", "latency_sample")):
            if getattr(row, summary) is not None:  # summaries only: the rest pooled from them
                rest_sample = Sample.pooled([getattr(other, summary) for other in rows if other is not row])
                result = welch_t(getattr(row, summary), rest_sample)
            else:
                rest = [v for other in rows if other is not row for v in getattr(other, attribute)]
                result = welch_t(Sample.of(getattr(row, attribute)), Sample.of(rest))
            if result:
                tested[key].append((row, result))
    for key, pairs in tested.items():
        adjusted = holm([result.p_value for _, result in pairs])
        for (row, result), p_adjusted in zip(pairs, adjusted):
            row.tests[key] = TestOutcome(result.test, result.statistic, result.p_value, p_adjusted,
                                         significant=p_adjusted < ALPHA and result.statistic > 0)


SORT_KEYS = {
    "cost": lambda r: (r.total_cost is None, -(r.total_cost or 0)),
    "latency": lambda r: (r.avg_latency is None, -(r.avg_latency or 0)),
    "errors": lambda r: (r.error_rate is None, -(r.error_rate or 0), -(r.error_items or 0)),
    "size": lambda r: (-r.items,),
}


def sorted_rows(rows: list[ClusterRow], sort: str) -> list[ClusterRow]:
    return sorted(rows, key=lambda r: (*SORT_KEYS[sort](r), r.cluster.cluster_id))
