"""cluster_metrics.py --window-totals: what a run's numbers cover (issue 8).

On the local PostHog, where most runs sampled fewer items than their window holds: the window
totals equal a direct count and sum over the events; the per-cluster 95% intervals cover the true
window totals of at least 95% of clusters across seeds; a run that analysed its whole window gets
exact figures; sample figures are never labelled as window totals.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from benchmarks import window_coverage
from llm_clusters.analyse.stats import (
    Estimate,
    hypergeometric_interval,
    hypergeometric_tail,
    ratio_total,
    window_count,
)
from llm_clusters.posthog.metrics_sql import run_target, server_side_query
from llm_clusters.timestamps import parse_timestamp
from localposthog import dataset
from localposthog.answers import save_answer

COMMAND = "cluster_metrics"  # what the run_cli fixture runs

pytestmark = pytest.mark.engine


_measure = window_coverage.measure


# --- the window's totals, directly from the events ---------------------------------------------

def _events(data_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (data_dir / dataset.EVENTS_FILE).read_text().splitlines()]
    for row in rows:
        row["properties"] = json.loads(row["properties"])
        row["at"] = datetime.fromisoformat(row["timestamp"] + "+00:00")
    return rows


def _direct_totals(events: list[dict], run: dict) -> dict:
    """Items whose first AI event is in the window; their cost and errors from their events in it."""
    start, end = parse_timestamp(run["window_start"]), parse_timestamp(run["window_end"])
    by_item: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        if run["level"] == "generation" and event["event"] == "$ai_generation":
            by_item[event["uuid"]].append(event)
        elif run["level"] == "trace" and event["event"] in ("$ai_trace", "$ai_generation", "$ai_embedding",
                                                            "$ai_span"):
            by_item[event["properties"].get("$ai_trace_id")].append(event)
    items = cost = errors = 0
    for item_events in by_item.values():
        inside = [e for e in item_events if e["at"] < end]
        if not inside or not start <= min(e["at"] for e in inside):
            continue
        items += 1
        cost += sum(e["properties"].get("$ai_total_cost_usd") or 0
                    for e in inside if e["event"] != "$ai_trace")
        errors += any(dataset.is_error_event(e["properties"]) for e in inside)
    return {"items": items, "total_cost": cost, "error_items": errors}


def test_window_totals_equal_a_direct_count_and_sum_over_the_events(localposthog_engine,
                                                                     localposthog_data_dir, tmp_path):
    events = _events(localposthog_data_dir)
    sampled = 0
    for index, run in enumerate(r for r in localposthog_engine.runs if r["format"] == "current"):
        folder = tmp_path / str(index)
        folder.mkdir()
        document = _measure(localposthog_engine, run, folder)
        totals = document["coverage"]["window_totals"]
        direct = _direct_totals(events, run)
        assert totals["items"] == direct["items"] == run["window_item_count"], run["run_id"]
        assert totals["error_items"] == direct["error_items"]
        assert totals["total_cost"] == pytest.approx(direct["total_cost"], rel=1e-12)
        assert document["coverage"]["items_analysed"] == run["total_items_analyzed"]
        assert document["coverage"]["exact"] is (run["window_item_count"] == run["total_items_analyzed"])
        sampled += run["window_item_count"] > run["total_items_analyzed"]
    assert sampled >= 5  # the dataset has runs that sampled their window


def test_a_run_that_analysed_its_whole_window_shows_exact_figures(run_cli, localposthog_engine, tmp_path):
    run = next(r for r in localposthog_engine.runs
               if r["format"] == "current" and r["window_item_count"] == r["total_items_analyzed"])
    document = _measure(localposthog_engine, run, tmp_path)
    truth = {c["cluster_id"]: c for c in run["clusters"]}
    for cluster in document["clusters"]:
        estimate = cluster["window_estimate"]
        assert all(e["exact"] for e in estimate.values())
        assert estimate["items"]["value"] == truth[cluster["cluster_id"]]["size"]
        assert estimate["total_cost"]["value"] == pytest.approx(
            truth[cluster["cluster_id"]]["total_cost"] or 0)
    status, out, _ = run_cli("aggregate", tmp_path / "run.json", tmp_path / "items.json",
                             "--window-totals", tmp_path / "window.json")
    assert "the run analysed every trace in the window" in out and "(exact)" in out
    assert "estimate" not in out.lower()


def test_sample_figures_are_never_labelled_as_window_totals(run_cli, localposthog_engine, tmp_path):
    run = next(r for r in localposthog_engine.runs if r["window_item_count"] > r["total_items_analyzed"])
    _measure(localposthog_engine, run, tmp_path)
    status, out, _ = run_cli("aggregate", tmp_path / "run.json", tmp_path / "items.json",
                             "--window-totals", tmp_path / "window.json")
    assert status == 0
    sample_part, window_part = out.split("\nWindow totals\n")
    assert "window" not in sample_part.split("\nid ")[1].split("\n")[0]  # the sample table's header
    assert "total cost (sample)" in sample_part and "total over the run's sample" in sample_part
    assert "max_samples=" in sample_part  # the coverage line
    assert (f"the run analysed {run['total_items_analyzed']:,} of the window's {run['window_item_count']:,}"
            in window_part)
    assert "ESTIMATES for the whole window" in window_part and "(estimate, 95% CI)" in window_part
    assert "event_filters" in window_part  # the scope is said
    status, out, _ = run_cli("aggregate", tmp_path / "run.json", tmp_path / "items.json")
    assert "window" not in out.split("\nid ")[1].split("\n")[0] and "Window totals" not in out


def test_the_per_cluster_result_gives_the_same_estimates_and_embedded_metrics_no_cost_interval(run_cli, 
        localposthog_engine, tmp_path):
    run = next(r for r in localposthog_engine.runs
               if r["window_item_count"] > r["total_items_analyzed"] and r["has_embedded_metrics"])
    per_item = _measure(localposthog_engine, run, tmp_path)
    target = run_target(run["run_id"], run["level"], run["window_start"], run["window_end"])
    per_cluster = save_answer(localposthog_engine, server_side_query(target), tmp_path / "clusters.json")
    for metrics, cost in (([per_cluster], True), ([], False)):
        status, out, err = run_cli("aggregate", tmp_path / "run.json", *metrics, "--window-totals",
                                   tmp_path / "window.json", "--format", "json", "--max-clusters", "0")
        assert status == 0, err
        got = {c["cluster_id"]: c["window_estimate"] for c in json.loads(out)["clusters"]}
        for cluster in per_item["clusters"]:
            mine, theirs = got[cluster["cluster_id"]], cluster["window_estimate"]
            assert mine["items"] == theirs["items"] and mine["error_items"] == theirs["error_items"]
            if cost:
                assert mine["total_cost"]["value"] == pytest.approx(theirs["total_cost"]["value"], rel=1e-9)
                assert mine["total_cost"]["ci95"] == pytest.approx(theirs["total_cost"]["ci95"], rel=1e-6)
            else:
                assert mine["total_cost"] is None


def test_window_totals_of_another_window_or_a_smaller_population_are_refused(run_cli, localposthog_engine,
                                                                             tmp_path):
    runs = [r for r in localposthog_engine.runs if r["level"] == "trace" and r["job_name"]]
    _measure(localposthog_engine, runs[-1], tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _measure(localposthog_engine, runs[-2], other)
    status, out, err = run_cli("aggregate", tmp_path / "run.json", tmp_path / "items.json",
                               "--window-totals", other / "window.json")
    assert status == 2 and out == "" and "is not the run's" in err
    smaller = tmp_path / "smaller.json"
    answer = json.loads((tmp_path / "window.json").read_text())
    answer["results"][0][answer["columns"].index("items")] = 10
    smaller.write_text(json.dumps(answer))
    status, out, err = run_cli("aggregate", tmp_path / "run.json", tmp_path / "items.json",
                               "--window-totals", smaller)
    assert status == 0, err
    assert "Warning: the window totals count 10 items, fewer than" in out
    assert "ESTIMATE" not in out and "Coverage:" not in out


# --- the per-cluster intervals cover the truth --------------------------------------------------

SEEDS = range(1, 9)
SCALE = 0.4


def test_the_intervals_cover_the_true_window_totals_and_the_estimates_add_up(tmp_path):
    """The measurement benchmarks/window_coverage.py prints, on the same seeds."""
    pytest.importorskip("chdb")
    tallies = window_coverage.measure_seeds(SEEDS, SCALE, tmp_path)
    for key, tally in tallies.items():
        assert len(tally.covered) >= 200, key
        assert tally.coverage() >= 0.95, (key, sum(tally.covered), len(tally.covered))
        assert tally.sum_gaps and max(tally.sum_gaps) < 0.005, key  # they add up to the cent
    cost = tallies["total_cost"]  # calibrating to the exact total must not make the estimates worse
    assert window_coverage.Tally.relative_rmse(cost.calibrated, cost.truth) < \
        window_coverage.Tally.relative_rmse(cost.expansion, cost.truth)


# --- the estimators themselves ------------------------------------------------------------------

def test_the_estimators_collapse_to_the_exact_figure_on_the_whole_window():
    assert window_count(30, 100, 100) == Estimate(30, 30, 30, exact=True)
    assert ratio_total(2.5, 1.0, 30, 10.0, 4.0, 100, 100, 10.0) == Estimate(2.5, 2.5, 2.5, exact=True)
    estimate = window_count(30, 100, 400)
    assert estimate.value == 120 and 30 <= estimate.low < 120 < estimate.high <= 330
    nearly = window_count(30, 399, 400)
    assert nearly.high - nearly.low <= 1  # one unseen item: at most one more
    assert window_count(1, 5, 3) is None  # a sample larger than its window: not an estimate



def test_the_ratio_estimator_splits_the_known_total_with_certain_bounds():
    # a cluster holding 2.0 of the sample's 5.0 (its values 1, 0.5, 0.5); 10 sampled of 40, total 24.0
    cost = ratio_total(2.0, 1.5, 3, 5.0, 5.5, 10, 40, 24.0)
    assert cost.value == pytest.approx(24.0 * 2.0 / 5.0)
    assert 2.0 <= cost.low < cost.value < cost.high <= 24.0 - 3.0
    rest = ratio_total(3.0, 4.0, 2, 5.0, 5.5, 10, 40, 24.0)
    assert cost.value + rest.value == pytest.approx(24.0)  # the clusters add up to the known total
    lone = ratio_total(0.5, 0.25, 1, 5.0, 5.5, 10, 40, 24.0)  # one value: no spread to measure
    assert (lone.low, lone.high) == (0.5, 24.0 - 4.5)  # so only the certain bounds are left
    assert ratio_total(0.0, 0.0, 0, 0.0, 0.0, 10, 40, 24.0) is None  # no cost sampled: nothing to split by
    # the ratio estimator's variance: a larger sample of the same spread gives a narrower interval
    wide = ratio_total(20.0, 15.0, 30, 50.0, 55.0, 100, 1000, 240.0)
    narrow = ratio_total(200.0, 150.0, 300, 500.0, 550.0, 1000, 10000, 2400.0)
    assert (narrow.high - narrow.low) / narrow.value < (wide.high - wide.low) / wide.value


def _pmf(x: int, n: int, successes: int, population: int) -> float:
    return math.comb(successes, x) * math.comb(population - successes, n - x) / math.comb(population, n)


def test_the_hypergeometric_tails_and_the_interval_coverage_by_brute_force():
    population, n = 30, 10
    for successes in range(population + 1):
        support = range(max(0, n - (population - successes)), min(n, successes) + 1)
        for k in range(n + 1):
            assert hypergeometric_tail(k, n, successes, population, True) == pytest.approx(
                sum(_pmf(x, n, successes, population) for x in support if x >= k), abs=1e-12)
            assert hypergeometric_tail(k, n, successes, population, False) == pytest.approx(
                sum(_pmf(x, n, successes, population) for x in support if x <= k), abs=1e-12)
        covered = sum(_pmf(x, n, successes, population) for x in support
                      if hypergeometric_interval(x, n, population)[0] <= successes
                      <= hypergeometric_interval(x, n, population)[1])
        assert covered >= 0.95, successes
    # far from the mode the terms underflow; the tails must still be right
    assert window_count(1, 1500, 100_000).low >= 1 and window_count(1, 1500, 100_000).high < 500
