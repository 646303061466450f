"""Measure `cluster_metrics.py aggregate --window-totals`: do its per-cluster 95% intervals cover the
true window totals, and how far are its estimates from them?

Run by hand from the repository root, with the test extra installed (it needs chdb):

    python benchmarks/window_coverage.py [--seeds 1-8] [--scale 0.4]

For each seed it builds the local PostHog's dataset (`localposthog.dataset`), and for every run that
sampled fewer items than its window holds it runs the three queries (the run, its per-item metrics,
its window totals) on the local ClickHouse engine and aggregates them with the CLI, as an agent
would. The truth is each cluster's totals over the whole window: the run's own items where it put
them, every unsampled item where the generator would have put it. It prints, per figure (items,
cost, error items): the intervals' coverage, and the bias and error of the printed estimate and of
the plain expansion estimate N/n x the sample's total (what the window estimates were before they
were calibrated to the window's exact totals); and how far each run's estimates summed over its
clusters are from the window's exact total. tests/test_cluster_metrics_window.py runs the same
measurement and requires coverage of at least 95%.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "scripts"), str(REPO), str(REPO / "tests")]  # tests: the CLI runner

from cli_runner import CliRunner  # noqa: E402
from llm_clusters.posthog.metrics_sql import run_target, server_side_query  # noqa: E402
from llm_clusters.posthog.queries import load_run_sql  # noqa: E402
from llm_clusters.timestamps import parse_timestamp  # noqa: E402
from localposthog import dataset  # noqa: E402
from localposthog.aggregates import item_metrics  # noqa: E402
from localposthog.answers import save_answer  # noqa: E402
from localposthog.clustering_runs import NOISE_SHARE, cluster_key  # noqa: E402
from localposthog.traffic import make_traffic  # noqa: E402

FIGURES = ("items", "total_cost", "error_items")
run_cli = CliRunner("cluster_metrics")
SAMPLE_FIGURES = {"items": "items", "total_cost": "total_cost", "error_items": "error_items"}


def measure(engine, run: dict, folder: Path, *flags: str) -> dict:
    """The saved run, its per-item metrics and its window totals (the query `sql --window-totals`
    prints, run on the engine), aggregated to JSON by the CLI."""
    saved_run = save_answer(engine, load_run_sql(run["run_id"]), folder / "run.json")
    status, sql, err = run_cli("sql", "--window-totals", "--run-file", saved_run)
    if status != 0:
        raise RuntimeError(err)
    window = save_answer(engine, sql, folder / "window.json")
    target = run_target(run["run_id"], run["level"], run["window_start"], run["window_end"])
    per_item = save_answer(engine, server_side_query(target, per_item=True), folder / "items.json")
    status, out, err = run_cli("aggregate", saved_run, per_item, "--window-totals", window,
                               "--format", "json", "--max-clusters", "0", *flags)
    if status != 0:
        raise RuntimeError(err)
    return json.loads(out)


def true_window_totals(data: dataset.Dataset, run: dict) -> dict[int, dict[str, float]]:
    """Each cluster's true window totals (items, cost, items with an error). The run's own items
    are where it put them; every item of the window it did not sample is placed the way the
    generator places a sampled one (its topic's cluster, or noise with the generator's odds)."""
    traffic = make_traffic(random.Random(data.seed), data.scale)  # what build_dataset made
    start, end = parse_timestamp(run["window_start"]), parse_timestamp(run["window_end"])
    pool = traffic.traces if run["level"] == "trace" else traffic.generations
    by_key = {c["key"]: c["cluster_id"] for c in run["clusters"] if c["cluster_id"] != -1}
    hdbscan = any(c["cluster_id"] == -1 for c in run["clusters"]) or run["job_name"] != ""
    totals: dict[int, dict[str, float]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    placed = {key: c["cluster_id"] for c in run["clusters"] for key in c["items"]}
    draw = random.Random(f"{data.seed}:{run['run_id']}:unsampled")
    for item in pool:
        if not start <= item.timestamp < end:
            continue
        if item.key in placed:
            cluster = placed[item.key]
        else:
            key = cluster_key(item, end)
            outlier = (item.large and run["level"] == "trace") or draw.random() < NOISE_SHARE
            cluster = -1 if (hdbscan and outlier) or key not in by_key else by_key[key]
        events = (traffic.cost_events_by_trace[item.trace_id] if run["level"] == "trace"
                  else [traffic.generation_events[item.key]])
        metrics = item_metrics([e for e in events if start <= e["timestamp"] < end], run["level"])
        totals[cluster]["items"] += 1
        totals[cluster]["total_cost"] += (metrics and metrics["cost"]) or 0
        totals[cluster]["error_items"] += bool(metrics and metrics["error_events"] > 0)
    return dict(totals)


@dataclass
class Tally:
    """What was seen for one figure across every cluster of every measured run."""

    covered: list[bool] = field(default_factory=list)
    truth: list[float] = field(default_factory=list)
    calibrated: list[float] = field(default_factory=list)  # the printed estimate
    expansion: list[float] = field(default_factory=list)  # N/n x the cluster's sample total
    sum_gaps: list[float] = field(default_factory=list)  # per run: |sum of estimates - window total|

    def coverage(self) -> float:
        return sum(self.covered) / len(self.covered)

    @staticmethod
    def bias(estimates: list[float], truth: list[float]) -> float:
        """Mean relative error (estimate - truth) / truth over the clusters whose truth is > 0."""
        errors = [(e - t) / t for e, t in zip(estimates, truth) if t > 0]
        return math.fsum(errors) / len(errors)

    @staticmethod
    def relative_rmse(estimates: list[float], truth: list[float]) -> float:
        """Root mean squared error over the mean truth."""
        mse = math.fsum((e - t) ** 2 for e, t in zip(estimates, truth)) / len(truth)
        return math.sqrt(mse) / (math.fsum(truth) / len(truth))


def tally_run(document: dict, truth: dict[int, dict[str, float]], tallies: dict[str, Tally]) -> None:
    coverage = document["coverage"]
    n, population = coverage["items_analysed"], coverage["window_items"]
    window = coverage["window_totals"]
    for key in FIGURES:
        estimates = []
        for cluster in document["clusters"]:
            estimate = cluster["window_estimate"][key]
            true = truth.get(cluster["cluster_id"], dict.fromkeys(FIGURES, 0))[key]
            if estimate is None:
                continue
            low, high = estimate["ci95"]
            high = math.inf if high is None else high
            tally = tallies[key]
            tally.covered.append(low - 1e-9 <= true <= high + 1e-9)
            tally.truth.append(true)
            tally.calibrated.append(estimate["value"])
            tally.expansion.append(population * (cluster[SAMPLE_FIGURES[key]] or 0) / n)
            estimates.append(estimate["value"])
        if estimates and window[key] is not None:
            tallies[key].sum_gaps.append(abs(math.fsum(estimates) - window[key]))


def measure_seeds(seeds, scale: float, folder: Path) -> dict[str, Tally]:
    from localposthog.engine import Engine

    tallies = {key: Tally() for key in FIGURES}
    for seed in seeds:
        data = dataset.build_dataset(seed, scale)
        engine = Engine(dataset.write_dataset(data, folder / f"seed{seed}"))
        try:
            for run in data.runs:
                if run["format"] != "current" or run["window_item_count"] <= run["total_items_analyzed"]:
                    continue  # an older run has no window; a whole-window run is exact
                run_folder = folder / f"seed{seed}" / run["run_id"]
                run_folder.mkdir()
                tally_run(measure(engine, run, run_folder), true_window_totals(data, run), tallies)
        finally:
            engine.close()
    return tallies


def report(tallies: dict[str, Tally]) -> str:
    lines = ["| figure | clusters | coverage of the 95% intervals | mean relative error, printed | mean "
             "relative error, expansion N/n x sample | rel. RMSE, calibrated | rel. RMSE, expansion "
             "| max per-run gap of the sum to the window total |", "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for key, tally in tallies.items():
        lines.append(
            f"| {key} | {len(tally.covered):,} | {100 * tally.coverage():.1f}% "
            f"| {100 * Tally.bias(tally.calibrated, tally.truth):+.2f}% "
            f"| {100 * Tally.bias(tally.expansion, tally.truth):+.2f}% "
            f"| {100 * Tally.relative_rmse(tally.calibrated, tally.truth):.1f}% "
            f"| {100 * Tally.relative_rmse(tally.expansion, tally.truth):.1f}% "
            f"| {max(tally.sum_gaps, default=0):.6g} |")
    return "\n".join(lines)


def _seeds(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=_seeds, default=_seeds("1-8"),
                        help="dataset seeds, e.g. 1-8 (default)")
    parser.add_argument("--scale", type=float, default=0.4, help="dataset scale (default 0.4)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(report(measure_seeds(args.seeds, args.scale, Path(folder))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
