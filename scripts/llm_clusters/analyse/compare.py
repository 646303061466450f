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

Here: the comparison of several runs in time order. One step from a run to the next is in
cluster_matching, the share test in share_test, lineages across the runs in lineage, the
thresholds in compare_settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..display import clean
from ..errors import UsageError
from ..model import Run
from .cluster_matching import Step, compare_pair
from .compare_evidence import ItemEvidence, TraceSample
from .compare_settings import Settings
from .lineage import Lineage, lineages

DOMINANT_TRACE_SHARE = 0.1  # a trace holding this much of a run's items gets a note


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


def newest(runs: list[Run], limit: int) -> tuple[list[Run], int]:
    """The `limit` newest runs (all when 0) and how many older ones were left out."""
    if not limit or len(runs) <= limit:
        return runs, 0
    return time_order(runs)[-limit:], len(runs) - limit


def compare_runs(runs: Sequence[Run], settings: Settings = Settings(),
                 evidence: ItemEvidence | None = None) -> Comparison:
    """The comparison of `runs` (any order); `evidence` gives each run's TraceSample and each
    consecutive pair's Overlap (default: computed from the runs' items)."""
    settings.check()
    evidence = evidence or ItemEvidence()
    if len(runs) < 2:
        raise UsageError(f"comparing needs at least two runs; got {len(runs)}. Pass two or "
                         "more saved run files (or a file holding several runs).")
    ordered = time_order(runs)
    levels = sorted({level for level in map(run_level, ordered) if level})
    if len(levels) > 1:
        listing = "; ".join(f"{clean(run.run_id, 100) or '(no run id)'}: {run_level(run) or 'unknown'}"
                            for run in ordered[:10])
        raise UsageError(
            f"the runs are of different levels ({', '.join(levels)}): {listing}. Clusters of "
            "traces and of generations cannot be matched; compare runs of one level at a time "
            "(pick them with --run-id).")
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


def _dominant_traces(samples: list[TraceSample]) -> list[str]:
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
