"""What changed between clustering runs: clusters matched across runs, growth and shrinkage
that a test says is more than sampling noise, new, vanished, split and merged clusters.

PostHog starts every run afresh, so cluster ids mean nothing across runs. Two runs are linked by
  - what their clusters hold: the Jaccard index of the items both runs clustered. Daily runs
    look back 7 days, so consecutive runs share most of their items; comparing only the shared
    items keeps sampling and the moving window out of the score. The item is what PostHog
    clustered: the trace id at trace level, the `$ai_generation` event id at generation level
    (a trace's generations may sit in different clusters, so trace ids would blur them);
  - what they are called: a deterministic similarity of title + description (the mean of the
    word-set and the character-trigram Jaccard indexes).
The score is a weighted sum of the two (the text alone when a pair shares no items: windows
that do not overlap), and the one-to-one matching maximising the total score is found with the
Hungarian algorithm. Splits and merges come from the same shared items.

Share changes are tested with a two-proportion z-test (unpooled). The sampling unit is the
trace: at generation level a trace's generations are not independent draws (one long agent
trace can put hundreds of generations in one cluster), so each share's variance is the
cluster-robust one with traces as clusters; at trace level this is the usual p(1-p)/n.
Consecutive runs share items, which makes the test conservative. P-values are Holm-corrected
within each pair of runs by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .compare_evidence import ItemEvidence, Overlap, Sample
from .errors import ClusterToolError, ExitStatus
from .model import Cluster, Run
from .similarity import cluster_text, max_assignment, text_similarity, words
from .stats import holm, normal_two_sided
from .text import clean

CHANGES = ("grew", "shrank", "no significant change")
CORRECTIONS = ("holm", "none")
DOMINANT_TRACE_SHARE = 0.1  # a trace holding this much of a run's items gets a note


@dataclass(frozen=True)
class Settings:
    """The thresholds of a comparison; every report states them."""

    item_weight: float = 0.7
    text_weight: float = 0.3
    min_score: float = 0.3
    split_fraction: float = 0.2
    alpha: float = 0.05
    correction: str = "holm"

    def check(self) -> None:
        problems = []
        if self.item_weight < 0 or self.text_weight < 0 or self.item_weight + self.text_weight <= 0:
            problems.append("the item and text weights must be >= 0 and not both 0")
        if not 0 <= self.min_score <= 1:
            problems.append(f"the minimum score must be between 0 and 1, got {self.min_score}")
        if not 0 < self.split_fraction <= 0.5:
            problems.append(f"the split fraction must be > 0 and <= 0.5, got {self.split_fraction}")
        if not 0 < self.alpha < 1:
            problems.append(f"alpha must be between 0 and 1 (exclusive), got {self.alpha}")
        if self.correction not in CORRECTIONS:
            problems.append(f"the correction must be one of {', '.join(CORRECTIONS)}")
        if problems:
            raise ClusterToolError("; ".join(problems) + ".", ExitStatus.USAGE)


# --- statistics ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShareTest:
    z: float | None
    p_value: float  # as computed
    p_adjusted: float  # after the correction for testing many clusters at once
    change: str  # one of CHANGES


def z_test(share_a: float, var_a: float, share_b: float, var_b: float) -> tuple[float | None, float]:
    """Unpooled two-proportion z-test of share_b - share_a: (z, two-sided p-value)."""
    spread = math.sqrt(var_a + var_b)
    if spread == 0:
        return None, 1.0 if share_a == share_b else 0.0
    z = (share_b - share_a) / spread
    return z, normal_two_sided(z)


def _difference(sample_a: Sample, a: Cluster | None, sample_b: Sample, b: Cluster | None
                ) -> tuple[float | None, float, float]:
    """(z, p-value, share of b - share of a) for a cluster of one run and one of another."""
    share_a, share_b = sample_a.share(a), sample_b.share(b)
    return (*z_test(share_a, sample_a.variance(a), share_b, sample_b.variance(b)), share_b - share_a)


def _share_tests(raw: list[tuple[float | None, float, float]], settings: Settings) -> list[ShareTest]:
    """ShareTests for (z, p, difference) triples tested together."""
    p_values = [p for _, p, _ in raw]
    adjusted = holm(p_values) if settings.correction == "holm" else p_values
    tests = []
    for (z, p, diff), p_adj in zip(raw, adjusted):
        change = CHANGES[2]
        if p_adj <= settings.alpha and diff:
            change = CHANGES[0] if diff > 0 else CHANGES[1]
        tests.append(ShareTest(z, p, p_adj, change))
    return tests


# --- one pair of runs ------------------------------------------------------------------------

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


def _regular(run: Run) -> list[Cluster]:
    return sorted((c for c in run.clusters if not c.is_noise), key=lambda c: c.cluster_id)


def _noise(run: Run) -> Cluster | None:
    return next((c for c in run.clusters if c.is_noise), None)


def _item_similarity(overlap: Overlap, before: Cluster, after: Cluster) -> float | None:
    """Jaccard index of the two clusters' items that both runs clustered."""
    common = overlap.count(before.cluster_id, after.cluster_id)
    union = (overlap.seen_before.get(before.cluster_id, 0) + overlap.seen_after.get(after.cluster_id, 0)
             - common)
    return common / union if union else None


def compare_pair(before: Run, after: Run, settings: Settings,
                 samples: tuple[Sample, Sample] | None = None, overlap: Overlap | None = None) -> Step:
    """One step; `samples` and `overlap` default to those computed from the runs' items."""
    old, new = _regular(before), _regular(after)
    overlap = overlap or Overlap.of_runs(before, after)
    texts_new = [cluster_text(b) for b in new]

    grid: list[list[tuple[float, float | None, float | None]]] = []
    for a in old:
        text_a = cluster_text(a)
        row = []
        for b, text_b in zip(new, texts_new):
            items = _item_similarity(overlap, a, b)
            text = text_similarity(text_a, text_b)
            row.append((_score(items, text, settings), items, text))
        grid.append(row)

    sample_old, sample_new = samples or (Sample(before), Sample(after))
    pairs = [Pair(old[i], new[j], grid[i][j][0], grid[i][j][1], grid[i][j][2],
                  sample_old.share(old[i]), sample_new.share(new[j]))
             for i, j in max_assignment([[cell[0] for cell in row] for row in grid])
             if grid[i][j][0] >= settings.min_score]

    divisions = _divisions(old, new, overlap, settings)
    divided_old = {id(c) for d in divisions for c in ([d.whole] if d.kind == "split" else d.parts)}
    divided_new = {id(c) for d in divisions for c in (d.parts if d.kind == "split" else [d.whole])}
    pairs = [p for p in pairs if id(p.before) not in divided_old and id(p.after) not in divided_new]
    matched_old = {id(p.before) for p in pairs} | divided_old
    matched_new = {id(p.after) for p in pairs} | divided_new

    noise_old, noise_new = _noise(before), _noise(after)
    raw = [_difference(sample_old, p.before, sample_new, p.after) for p in pairs]
    raw.append(_difference(sample_old, noise_old, sample_new, noise_new))
    tests = _share_tests(raw, settings)
    for pair, test in zip(pairs, tests):
        pair.test = test
    return Step(
        before=before, after=after, shared_items=overlap.items, pairs=pairs,
        new=[c for c in new if id(c) not in matched_new],
        vanished=[c for c in old if id(c) not in matched_old],
        divisions=divisions, noise_before=sample_old.share(noise_old),
        noise_after=sample_new.share(noise_new),
        noise_test=tests[-1],
        total_before=sample_old.total, total_after=sample_new.total,
    )


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
    for kind, wholes, others, common_items, seen_other in (
            ("split", old, new, lambda w, o: overlap.count(w, o), overlap.seen_after),
            ("merge", new, old, lambda w, o: overlap.count(o, w), overlap.seen_before)):
        for whole in wholes:
            common = {other.cluster_id: common_items(whole.cluster_id, other.cluster_id) for other in others}
            items = sum(common.values())
            if not items:
                continue
            parts = []
            for other in others:
                n = common[other.cluster_id]
                if (n >= settings.split_fraction * items
                        and n >= settings.split_fraction * seen_other.get(other.cluster_id, 0)):
                    parts.append((-n, other.cluster_id, other, n / items))
            if len(parts) >= 2:
                parts.sort(key=lambda p: p[:2])
                found.append(Division(kind, whole, [p[2] for p in parts], [p[3] for p in parts], items))
    return found


# --- many runs -------------------------------------------------------------------------------

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


@dataclass
class Comparison:
    runs: list[Run]
    level: str | None
    settings: Settings
    steps: list[Step]
    lineages: list[Lineage]
    notes: list[str]


def run_level(run: Run) -> str | None:
    parsed = run.parsed_id
    return run.level or (parsed.level if parsed else None)


def time_order(runs: Sequence[Run]) -> list[Run]:
    """Oldest first, by window end (or the run id's time), then run id."""
    return sorted(runs, key=lambda run: (run.sort_time, run.run_id or ""))


def compare_runs(runs: Sequence[Run], settings: Settings = Settings(),
                 evidence: ItemEvidence | None = None) -> Comparison:
    """The comparison of `runs` (any order); `evidence` gives each run's Sample and each
    consecutive pair's Overlap (default: computed from the runs' items)."""
    settings.check()
    evidence = evidence or ItemEvidence()
    if len(runs) < 2:
        raise ClusterToolError(f"comparing needs at least two runs; got {len(runs)}. Pass two or "
                               "more saved run files (or a file holding several runs).",
                               ExitStatus.USAGE)
    ordered = time_order(runs)
    levels = sorted({level for level in map(run_level, ordered) if level})
    if len(levels) > 1:
        listing = "; ".join(f"{clean(run.run_id, 100) or '(no run id)'}: {run_level(run) or 'unknown'}"
                            for run in ordered[:10])
        raise ClusterToolError(
            f"the runs are of different levels ({', '.join(levels)}): {listing}. Clusters of "
            "traces and of generations cannot be matched; compare runs of one level at a time "
            "(pick them with --run-id).", ExitStatus.USAGE)
    notes = []
    if any(run_level(run) is None for run in ordered):
        notes.append("some runs record no level; they were compared as if of the same level")
    jobs = sorted({run.job_name or run.job_id or "" for run in ordered} - {""})
    if len(jobs) > 1:
        notes.append(f"the runs come from different clustering jobs ({', '.join(jobs)}); "
                     "their samples may cover different traffic")
    samples = [evidence.sample(run) for run in ordered]
    notes += _dominant_traces(samples)
    steps = [compare_pair(a, b, settings, (samples[i], samples[i + 1]), evidence.overlap(a, b))
             for i, (a, b) in enumerate(zip(ordered, ordered[1:]))]
    for step in steps:
        if not step.shared_items:
            notes.append(f"runs {step.before.run_id} and {step.after.run_id} share no items "
                         "(their windows do not overlap, or they sample different traffic): their "
                         "clusters were matched by text alone, and splits and merges cannot be seen")
    return Comparison(ordered, levels[0] if levels else None, settings, steps,
                      lineages(ordered, steps, samples, settings), notes)


def _dominant_traces(samples: list[Sample]) -> list[str]:
    """A note naming the traces that hold much of a run's items (long agent traces at generation
    level): every share of that run moves with such a trace."""
    dominant: dict[str, list[str]] = {}
    for number, sample in enumerate(samples, 1):
        unit, share = sample.largest_unit()
        if share >= DOMINANT_TRACE_SHARE:
            dominant.setdefault(unit, []).append(f"{share:.0%} of #{number}")
    if not dominant:
        return []
    held = "; ".join(f"trace {clean(unit, 80)} holds {', '.join(runs)}"
                     for unit, runs in sorted(dominant.items())[:3])
    more = f"; {len(dominant) - 3} more traces" if len(dominant) > 3 else ""
    return [f"single traces hold much of some runs' items ({held}{more}): shares move with such "
            "a trace, which the share test allows for (traces are its sampling units); look at "
            "the trace before reading a trend"]


def lineages(runs: list[Run], steps: list[Step], samples: list[Sample],
             settings: Settings) -> list[Lineage]:
    """Every regular cluster of every run in exactly one lineage, oldest runs first; each
    lineage seen in two runs or more has its first share tested against its last."""
    found: list[Lineage] = []
    current: dict[int, Lineage] = {}  # id(cluster in the latest run) -> its lineage
    for index, run in enumerate(runs):
        step = steps[index - 1] if index else None
        successor = {id(p.before): p for p in step.pairs} if step else {}
        origins = _origins(step, index + 1) if step else {}
        following: dict[int, Lineage] = {}
        for lineage in current.values():
            before = lineage.clusters[index - 1]
            pair = successor.get(id(before))
            if pair is None:
                lineage.end = _end(step, before, index + 1)
                continue
            following[id(pair.after)] = lineage
        for cluster in _regular(run):
            lineage = following.get(id(cluster))
            if lineage is None:
                lineage = Lineage([None] * len(runs), [None] * len(runs), [None] * (len(runs) - 1),
                                  origin=origins.get(id(cluster), f"new in #{index + 1}" if index else ""))
                found.append(lineage)
                following[id(cluster)] = lineage
            else:
                lineage.changes[index - 1] = _step_change(step, cluster)
            lineage.clusters[index] = cluster
            lineage.shares[index] = samples[index].share(cluster)
        current = following
    spanning = [lineage for lineage in found if lineage.span[0] < lineage.span[1]]
    raw = []
    for lineage in spanning:
        first, last = lineage.span
        raw.append(_difference(samples[first], lineage.clusters[first],
                               samples[last], lineage.clusters[last]))
    for lineage, test in zip(spanning, _share_tests(raw, settings)):
        lineage.trend = test
    return found


def _step_change(step: Step, cluster: Cluster) -> str | None:
    pair = next((p for p in step.pairs if p.after is cluster), None)
    return pair.test.change if pair and pair.test else None


def _origins(step: Step, run_number: int) -> dict[int, str]:
    """How clusters of run `run_number` (1-based) came out of the run before it."""
    origins = {}
    for division in step.divisions:
        if division.kind == "split":
            for part in division.parts:
                origins[id(part)] = f"split from {division.whole.cluster_id} of #{run_number - 1}"
        else:
            ids = "+".join(str(p.cluster_id) for p in division.parts)
            origins[id(division.whole)] = f"merged from {ids} of #{run_number - 1}"
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
