"""What the matching of two runs reads, as counts: each run's TraceSample (its items grouped
by trace, for the share test's variance) and each pair's Overlap (items each pair of clusters
shares). ItemEvidence counts them from whole runs; the comparison query's answer gives them
ready counted (compare_result.CountEvidence)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from ..model import Cluster, Run


class TraceSums(NamedTuple):
    """One cluster's sums over its traces (y_t: the trace's items in the cluster, m_t: in the
    run): what the cluster-robust variance of its share needs."""

    cross: int  # sum of y_t * m_t
    squares: int  # sum of y_t^2


class TraceSample:
    """A run's items grouped by sampling unit (the trace), to give each share its variance:
    per cluster, its TraceSums. Built from a run's items, or from those sums (`from_sums`)."""

    def __init__(self, run: Run):
        unit_sizes: Counter = Counter()
        by_cluster: dict[int, Counter] = {}
        for cluster in run.clusters:
            units = Counter(item.trace_id or item.key for item in cluster.items)
            if units:
                by_cluster[cluster.cluster_id] = units
            unit_sizes.update(units)
        largest = min(unit_sizes.items(), key=lambda kv: (-kv[1], kv[0]), default=("", 0))
        self._set(sum(c.size for c in run.clusters), sum(unit_sizes.values()),
                  {cid: TraceSums(sum(y * unit_sizes[t] for t, y in units.items()),
                                  sum(y * y for y in units.values()))
                   for cid, units in by_cluster.items()}, largest)

    @classmethod
    def from_sums(cls, total: int, items: int, by_cluster: dict[int, TraceSums],
                  largest: tuple[str, int]) -> "TraceSample":
        """`total`: the run's cluster sizes summed; `items`: the items listed; `by_cluster`:
        cluster id -> its TraceSums; `largest`: the trace with most items, and its items."""
        sample = cls.__new__(cls)
        sample._set(total, items, by_cluster, largest)
        return sample

    def _set(self, total: int, items: int, by_cluster: dict[int, TraceSums],
             largest: tuple[str, int]) -> None:
        self.total = total
        self.items = items
        self.by_cluster = by_cluster
        self.largest = largest
        self._sum_squares = sum(sums.cross for sums in by_cluster.values())  # = sum of m_t^2

    def largest_unit(self) -> tuple[str, float]:
        """The trace holding most of the run's items, and its share of them."""
        unit, size = self.largest
        return (unit, size / self.items) if self.items else ("", 0.0)

    def share(self, cluster: Cluster | None) -> float:
        return (cluster.size / self.total) if cluster is not None and self.total else 0.0

    def variance(self, cluster: Cluster | None) -> float:
        """Cluster-robust variance of the share: sum over traces of (y_t - p m_t)^2 / M^2."""
        if not self.total or cluster is None:
            return 0.0
        p = self.share(cluster)
        sums = self.by_cluster.get(cluster.cluster_id)
        if not sums:  # the run carried no items: treat each item as its own trace
            return p * (1 - p) / self.total
        spread = sums.squares - 2 * p * sums.cross + p * p * self._sum_squares
        return max(spread, 0.0) / (self.items * self.items)


@dataclass
class Overlap:
    """What the clusters of two runs share, as counts: all the matching needs. `shared`:
    (cluster id before, cluster id after) -> items in both; `seen_before`/`seen_after`: per
    cluster, how many of its items the other run clustered (in any cluster, noise included)."""

    shared: dict[tuple[int, int], int]
    seen_before: dict[int, int]
    seen_after: dict[int, int]

    @classmethod
    def of_runs(cls, before: Run, after: Run) -> "Overlap":
        """Counted from the items of both runs."""
        cluster_after = {item.key: c.cluster_id for c in after.clusters for item in c.items}
        shared: Counter = Counter()
        for cluster in before.clusters:
            for item in cluster.items:
                if item.key in cluster_after:
                    shared[cluster.cluster_id, cluster_after[item.key]] += 1
        seen_before: Counter = Counter()
        seen_after: Counter = Counter()
        for (cid_before, cid_after), n in shared.items():
            seen_before[cid_before] += n
            seen_after[cid_after] += n
        return cls(dict(shared), dict(seen_before), dict(seen_after))

    @property
    def items(self) -> int:
        return sum(self.shared.values())

    def count(self, before: int, after: int) -> int:
        return self.shared.get((before, after), 0)


class ItemEvidence:
    """Samples and overlaps computed from the runs' items (saved or loaded whole runs)."""

    def sample(self, run: Run) -> TraceSample:
        return TraceSample(run)

    def overlap(self, before: Run, after: Run) -> Overlap:
        return Overlap.of_runs(before, after)
