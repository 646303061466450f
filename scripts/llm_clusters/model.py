"""The clustering run as the scripts see it: runs, clusters, items, and which items to keep.

A run of 10,000 items per cluster must not cost 10,000 objects when only the three most
representative are shown, so clusters keep their items through an `ItemCollector` that holds
only as many as the caller asked for (and counts the rest).

The classes are named tuples and plain classes, not dataclasses: importing `dataclasses` (and the
`inspect` it loads) costs more start-up time than reading a small run.
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import Any

from .run_ids import RunId, parse_run_id

NOISE_CLUSTER_ID = -1
# Every level PostHog clusters at, and the event each level's runs are stored as.
CLUSTER_EVENT_BY_LEVEL = {"trace": "$ai_trace_clusters", "generation": "$ai_generation_clusters",
                          "evaluation": "$ai_evaluation_clusters"}
LEVEL_BY_CLUSTER_EVENT = {event: level for level, event in CLUSTER_EVENT_BY_LEVEL.items()}
LEVELS = tuple(CLUSTER_EVENT_BY_LEVEL)
# The levels whose items the metrics queries join to AI events (an evaluation item is not one).
METRIC_LEVELS = ("trace", "generation")
INFINITY = float("inf")


class Item(namedtuple("Item", "key rank distance x y timestamp trace_id generation_id")):
    """One clustered item: a trace (trace level) or a generation event (generation level).
    key: str; rank: int | None; distance, x, y: float | None; timestamp, trace_id,
    generation_id: str | None."""

    __slots__ = ()


def number_or_none(value: Any) -> float | None:
    """A JSON value as a float; None for null, booleans and anything `float()` refuses."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def integer_or_none(value: Any) -> int | None:
    """A JSON value as an int when it is a whole number, else None."""
    number = number_or_none(value)
    return int(number) if number is not None and number == int(number) else None


def text_or_none(value: Any) -> str | None:
    """A JSON value as text; None for null and the empty string."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


class ItemPolicy(namedtuple("ItemPolicy", "default per_cluster", defaults=(3, ()))):
    """How many items to keep per cluster, best rank first: None keeps all. `default`: the
    limit of every cluster not in `per_cluster`, a tuple of (cluster id, limit) pairs."""

    __slots__ = ()

    def limit_for(self, cluster_id: int | None) -> int | None:
        if cluster_id is None:
            return self._largest()
        for cid, limit in self.per_cluster:
            if cid == cluster_id:
                return limit
        return self.default

    def _largest(self) -> int | None:
        limits = [self.default, *(limit for _, limit in self.per_cluster)]
        return None if None in limits else max(limits)  # type: ignore[type-var]


class ItemCollector:
    """Receives a cluster's `traces` entries one at a time; keeps the best-ranked `limit`.

    Entries mostly arrive in rank order, so once `limit` are kept, a worse rank is refused
    with one comparison.
    """

    __slots__ = ("limit", "count", "_kept", "_worst")

    def __init__(self, limit: int | None):
        self.limit = limit
        self.count = 0
        self._kept: list[tuple[float, float, str, dict]] = []
        self._worst = INFINITY  # rank of the last kept entry once the list was trimmed

    def add(self, key: Any, entry: Any) -> None:
        self.count += 1
        if self.limit == 0:
            return
        if entry.__class__ is not dict:
            entry = {}
        rank = entry.get("rank")
        if rank.__class__ is not int:
            rank = number_or_none(rank)
            rank = INFINITY if rank is None else rank
        if rank > self._worst:
            return
        distance = entry.get("distance_to_centroid")
        if distance.__class__ is not float:
            distance = number_or_none(distance)
            distance = INFINITY if distance is None else distance
        self._kept.append((rank, distance, str(key), entry))
        if self.limit is not None and len(self._kept) >= 2 * self.limit + 64:
            self._trim()

    def add_run(self, keys: list, ranks: list | None, entry_at) -> None:
        """Add many entries at once: `ranks` in key order (None when entries have no rank),
        `entry_at(i)` builds entry i; only entries that may be kept are built."""
        if self.limit == 0:
            self.count += len(keys)
            return
        worst = self._worst
        for index, key in enumerate(keys):
            rank = ranks[index] if ranks is not None else None
            if rank.__class__ is int and rank > worst:
                self.count += 1
                continue
            self.add(key, entry_at(index))
            worst = self._worst

    def _trim(self) -> None:
        self._kept.sort(key=_sort_key)
        del self._kept[self.limit :]
        self._worst = self._kept[-1][0] if self._kept else INFINITY

    def items(self) -> list[Item]:
        if self.limit is None:
            self._kept.sort(key=_sort_key)
        else:
            self._trim()
        return [_item(key, entry) for _, _, key, entry in self._kept]


def _sort_key(kept: tuple[float, float, str, dict]) -> tuple[float, float, str]:
    return kept[0], kept[1], kept[2]


def _item(key: str, entry: dict) -> Item:
    return Item(
        key=key,
        rank=integer_or_none(entry.get("rank")),
        distance=number_or_none(entry.get("distance_to_centroid")),
        x=number_or_none(entry.get("x")),
        y=number_or_none(entry.get("y")),
        timestamp=text_or_none(entry.get("timestamp")),
        trace_id=text_or_none(entry.get("trace_id")),
        generation_id=text_or_none(entry.get("generation_id")),
    )


class Cluster:
    """One cluster of a run: its items are the kept ones, `item_count` counts them all.
    Compared and hashed by identity (no __eq__), so a cluster is its own key in the matching."""

    def __init__(self, cluster_id: int, size: int, title: str, description: str, item_count: int,
                 items: list[Item], centroid_x: float | None = None, centroid_y: float | None = None,
                 metrics: dict | None = None):
        self.cluster_id = cluster_id
        self.size = size
        self.title = title
        self.description = description
        self.item_count = item_count
        self.items = items
        self.centroid_x = centroid_x
        self.centroid_y = centroid_y
        self.metrics = metrics

    def __repr__(self) -> str:
        return f"Cluster({self.cluster_id}, size={self.size}, title={self.title!r})"

    @property
    def is_noise(self) -> bool:
        return self.cluster_id == NOISE_CLUSTER_ID


class Run:
    """One clustering run: an `$ai_*_clusters` event, however it reached the file.
    `cluster_count` is set when the input only counted the run's clusters (a runs listing),
    holding none of them."""

    def __init__(self, clusters: list[Cluster], run_id: str | None = None, level: str | None = None,
                 job_id: str | None = None, job_name: str | None = None, window_start: str | None = None,
                 window_end: str | None = None, total_items: int | None = None, params: dict | None = None,
                 event: str | None = None, source: str = "", notes: list[str] | None = None,
                 cluster_count: int | None = None, overview: dict | None = None):
        self.clusters = clusters
        self.run_id = run_id
        self.level = level
        self.job_id = job_id
        self.job_name = job_name
        self.window_start = window_start
        self.window_end = window_end
        self.total_items = total_items
        self.params = params
        self.event = event
        self.source = source
        self.notes = [] if notes is None else notes
        self.cluster_count = cluster_count
        # Set when the input is the overview query's answer: its per-cluster cells and run cell
        # (`overview.overview_rows` and `overview_totals` read them).
        self.overview = overview

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, level={self.level!r}, clusters={len(self.clusters)})"

    @property
    def listed_only(self) -> bool:
        return self.cluster_count is not None and not self.clusters

    @property
    def parsed_id(self) -> RunId | None:
        return parse_run_id(self.run_id) if self.run_id else None

    @property
    def sort_time(self) -> str:
        """A sortable stamp for "newest": the window end, else the time in the run id."""
        parsed = self.parsed_id
        if self.window_end:
            return self.window_end
        return parsed.window_end.isoformat() if parsed else ""
