"""Clusters followed across several runs: each regular cluster of each run in exactly one
lineage, linked through the one-to-one matches of consecutive runs (cluster_matching), with how
it began and ended, and its first share tested against its last."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Cluster, Run
from .cluster_matching import Step, regular_clusters
from .compare_evidence import TraceSample
from .compare_settings import Settings
from .share_test import ShareTest, share_difference, share_tests


@dataclass
class Lineage:
    """One cluster followed across runs through one-to-one matches: `clusters[i]` is its cluster
    in run i, or None; `origin`/`end` say how it began and ended when that is known."""

    clusters: list[Cluster | None]
    shares: list[float | None]
    changes: list[str | None]  # per step, the test's call when the step matched it
    origin: str = ""
    end: str = ""
    trend: ShareTest | None = None  # its first share against its last, when in >= 2 runs

    @property
    def span(self) -> tuple[int, int]:
        present = [i for i, c in enumerate(self.clusters) if c is not None]
        return present[0], present[-1]


def lineages(runs: list[Run], steps: list[Step], samples: list[TraceSample],
             settings: Settings) -> list[Lineage]:
    """Every regular cluster of every run in exactly one lineage, oldest runs first; each
    lineage seen in two runs or more has its first share tested against its last."""
    found: list[Lineage] = []
    current: dict[Cluster, Lineage] = {}  # cluster in the latest run -> its lineage
    for index, run in enumerate(runs):
        step = steps[index - 1] if index else None
        following = _carried_on(current, step, index) if step else {}
        origins = _origins(step, index + 1) if step else {}
        for cluster in regular_clusters(run):
            lineage = following.get(cluster)
            if lineage is None:
                lineage = Lineage([None] * len(runs), [None] * len(runs), [None] * (len(runs) - 1),
                                  origin=origins.get(cluster, f"new in #{index + 1}" if index else ""))
                found.append(lineage)
                following[cluster] = lineage
            else:
                lineage.changes[index - 1] = _step_change(step, cluster)
            lineage.clusters[index] = cluster
            lineage.shares[index] = samples[index].share(cluster)
        current = following
    _test_trends(found, samples, settings)
    return found


def _carried_on(current: dict[Cluster, Lineage], step: Step, index: int) -> dict[Cluster, Lineage]:
    """The lineages of run `index - 1` that `step` matched into run `index` (0-based), by their
    cluster there; the others are given their end."""
    successor = {p.before: p for p in step.pairs}
    following: dict[Cluster, Lineage] = {}
    for lineage in current.values():
        before = lineage.clusters[index - 1]
        pair = successor.get(before)
        if pair is None:
            lineage.end = _end(step, before, index + 1)
            continue
        following[pair.after] = lineage
    return following


def _test_trends(found: list[Lineage], samples: list[TraceSample], settings: Settings) -> None:
    """Each lineage present in two runs or more: its first share against its last."""
    spanning = [lineage for lineage in found if lineage.span[0] < lineage.span[1]]
    differences = []
    for lineage in spanning:
        first, last = lineage.span
        differences.append(share_difference(samples[first], lineage.clusters[first],
                                            samples[last], lineage.clusters[last]))
    for lineage, test in zip(spanning, share_tests(differences, settings)):
        lineage.trend = test


def _step_change(step: Step, cluster: Cluster) -> str | None:
    pair = next((p for p in step.pairs if p.after is cluster), None)
    return pair.test.change if pair and pair.test else None


def _origins(step: Step, run_number: int) -> dict[Cluster, str]:
    """How clusters of run `run_number` (1-based) came out of the run before it."""
    origins = {}
    for division in step.divisions:
        if division.kind == "split":
            for part in division.parts:
                origins[part] = f"split from {division.whole.cluster_id} of #{run_number - 1}"
        else:
            ids = "+".join(str(p.cluster_id) for p in division.parts)
            origins[division.whole] = f"merged from {ids} of #{run_number - 1}"
    return origins


def _end(step: Step, cluster: Cluster, run_number: int) -> str:
    """How a cluster of the run before run `run_number` (1-based) went on, when unmatched."""
    for division in step.divisions:
        if division.kind == "split" and division.whole is cluster:
            ids = "+".join(str(p.cluster_id) for p in division.parts)
            return f"split into {ids} of #{run_number}"
        if division.kind == "merge" and any(p is cluster for p in division.parts):
            return f"merged into {division.whole.cluster_id} of #{run_number}"
    return f"vanished in #{run_number}"
