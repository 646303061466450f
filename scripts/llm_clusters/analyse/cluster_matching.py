"""What changed from one clustering run to the next: its clusters matched one-to-one with the
previous run's (by shared items and text, maximising the total score), the share test of each
match and of the noise, new and vanished clusters, splits and merges (see compare.py for the
method)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Cluster, Run
from .compare_evidence import Overlap, TraceSample
from .compare_settings import Settings
from .share_test import ShareTest, share_difference, share_tests
from .similarity import cluster_text, max_assignment, text_similarity, words


@dataclass(frozen=True)
class MatchScore:
    """How alike a cluster of one run is to one of the next: the score the matching maximises,
    and what it is made of (None where there is no evidence either way)."""

    score: float
    item_similarity: float | None  # Jaccard index of the items both runs clustered
    text_similarity: float | None  # of title + description


@dataclass
class Pair:
    before: Cluster
    after: Cluster
    score: float
    item_similarity: float | None
    text_similarity: float | None
    share_before: float
    share_after: float
    test: ShareTest | None = None

    @property
    def title_changed(self) -> bool:
        return words(self.before.title) != words(self.after.title)


@dataclass
class Division:
    """A split (one cluster before, several after) or a merge (several before, one after);
    `fractions[i]`: the share of the one cluster's shared items found in part i; shared items are
    those in a regular cluster of both runs."""

    kind: str  # "split" | "merge"
    whole: Cluster
    parts: list[Cluster]
    fractions: list[float]
    shared_items: int

    @property
    def clusters_before(self) -> list[Cluster]:
        return [self.whole] if self.kind == "split" else self.parts

    @property
    def clusters_after(self) -> list[Cluster]:
        return self.parts if self.kind == "split" else [self.whole]


@dataclass
class Step:
    """What changed from one run to the next."""

    before: Run
    after: Run
    shared_items: int
    pairs: list[Pair]
    new: list[Cluster]
    vanished: list[Cluster]
    divisions: list[Division]
    noise_before: float
    noise_after: float
    noise_test: ShareTest
    total_before: int = 0  # items in all clusters of each run, noise included: shares' base
    total_after: int = 0

    @property
    def splits(self) -> list[Division]:
        return [d for d in self.divisions if d.kind == "split"]

    @property
    def merges(self) -> list[Division]:
        return [d for d in self.divisions if d.kind == "merge"]


def regular_clusters(run: Run) -> list[Cluster]:
    """The run's clusters but noise, by cluster id."""
    return sorted((c for c in run.clusters if not c.is_noise), key=lambda c: c.cluster_id)


def noise_cluster(run: Run) -> Cluster | None:
    return next((c for c in run.clusters if c.is_noise), None)


def compare_pair(before: Run, after: Run, settings: Settings,
                 samples: tuple[TraceSample, TraceSample] | None = None,
                 overlap: Overlap | None = None) -> Step:
    """One step; `samples` and `overlap` default to those computed from the runs' items."""
    old, new = regular_clusters(before), regular_clusters(after)
    overlap = overlap or Overlap.of_runs(before, after)
    sample_old, sample_new = samples or (TraceSample(before), TraceSample(after))
    pairs = [Pair(a, b, match.score, match.item_similarity, match.text_similarity,
                  sample_old.share(a), sample_new.share(b))
             for a, b, match in _best_matches(old, new, overlap, settings)]

    divisions = _divisions(old, new, overlap, settings)
    divided_old = {c for d in divisions for c in d.clusters_before}
    divided_new = {c for d in divisions for c in d.clusters_after}
    pairs = [p for p in pairs if p.before not in divided_old and p.after not in divided_new]
    matched_old = {p.before for p in pairs} | divided_old
    matched_new = {p.after for p in pairs} | divided_new

    noise_old, noise_new = noise_cluster(before), noise_cluster(after)
    differences = [share_difference(sample_old, p.before, sample_new, p.after) for p in pairs]
    differences.append(share_difference(sample_old, noise_old, sample_new, noise_new))
    tests = share_tests(differences, settings)
    for pair, test in zip(pairs, tests):
        pair.test = test
    return Step(
        before=before, after=after, shared_items=overlap.items, pairs=pairs,
        new=[c for c in new if c not in matched_new],
        vanished=[c for c in old if c not in matched_old],
        divisions=divisions, noise_before=sample_old.share(noise_old),
        noise_after=sample_new.share(noise_new),
        noise_test=tests[-1],
        total_before=sample_old.total, total_after=sample_new.total,
    )


def _best_matches(old: list[Cluster], new: list[Cluster], overlap: Overlap,
                  settings: Settings) -> list[tuple[Cluster, Cluster, MatchScore]]:
    """The one-to-one matching of `old` to `new` clusters maximising the total score, without
    the pairs scoring below the settings' minimum."""
    grid = match_grid(old, new, overlap, settings)
    assignment = max_assignment([[match.score for match in row] for row in grid])
    return [(old[i], new[j], grid[i][j]) for i, j in assignment if grid[i][j].score >= settings.min_score]


def match_grid(old: list[Cluster], new: list[Cluster], overlap: Overlap,
               settings: Settings) -> list[list[MatchScore]]:
    """`grid[i][j]`: how alike old[i] and new[j] are."""
    texts_new = [cluster_text(b) for b in new]
    grid = []
    for a in old:
        text_a = cluster_text(a)
        row = []
        for b, text_b in zip(new, texts_new):
            items = _item_similarity(overlap, a, b)
            text = text_similarity(text_a, text_b)
            row.append(MatchScore(_score(items, text, settings), items, text))
        grid.append(row)
    return grid


def _item_similarity(overlap: Overlap, before: Cluster, after: Cluster) -> float | None:
    """Jaccard index of the two clusters' items that both runs clustered."""
    common = overlap.count(before.cluster_id, after.cluster_id)
    union = (overlap.seen_before.get(before.cluster_id, 0) + overlap.seen_after.get(after.cluster_id, 0)
             - common)
    return common / union if union else None


def _score(items: float | None, text: float | None, settings: Settings) -> float:
    parts = [(settings.item_weight, items), (settings.text_weight, text)]
    weight = sum(w for w, value in parts if value is not None)
    if not weight:
        return 0.0
    return sum(w * value for w, value in parts if value is not None) / weight


def _divisions(old: list[Cluster], new: list[Cluster], overlap: Overlap,
               settings: Settings) -> list[Division]:
    """Splits: a cluster whose shared items now sit in >= 2 clusters, each holding at least
    `split_fraction` of them and made of them for at least that fraction. Merges: the reverse.
    Items that went to (or came from) noise are left out: noise is reported on its own."""
    found = []
    for whole in old:
        common = {other.cluster_id: overlap.count(whole.cluster_id, other.cluster_id) for other in new}
        found.append(_division("split", whole, new, common, overlap.seen_after, settings))
    for whole in new:
        common = {other.cluster_id: overlap.count(other.cluster_id, whole.cluster_id) for other in old}
        found.append(_division("merge", whole, old, common, overlap.seen_before, settings))
    return [division for division in found if division is not None]


def _division(kind: str, whole: Cluster, others: list[Cluster], common: dict[int, int],
              seen_other: dict[int, int], settings: Settings) -> Division | None:
    """`whole` divided among the clusters of the other run, if it is: `common` counts, per
    cluster id of the other run, the items it shares with `whole`; `seen_other`, per cluster id,
    how many of its items the run of `whole` clustered."""
    items = sum(common.values())
    if not items:
        return None
    least = settings.split_fraction
    parts = [other for other in others
             if common[other.cluster_id] >= least * items
             and common[other.cluster_id] >= least * seen_other.get(other.cluster_id, 0)]
    if len(parts) < 2:
        return None
    parts.sort(key=lambda part: (-common[part.cluster_id], part.cluster_id))
    return Division(kind, whole, parts, [common[part.cluster_id] / items for part in parts], items)
