"""cluster_metrics.py sql --cluster N: one cluster's items with their figures, filtered, sorted
and cut inside PostHog, checked on the local PostHog against the dataset's ground truth."""

from __future__ import annotations

import pytest

from llm_clusters.posthog.drilldown_sql import DRILLDOWN_COLUMNS, MAX_LIMIT, drilldown_query
from llm_clusters.posthog.metrics_sql import run_target
from test_overview_sql import hostile_engine

COMMAND = "cluster_metrics"  # what the run_cli fixture runs


def expected(cluster: dict, key, errors_only: bool) -> list[str]:
    items = [(k, v) for k, v in cluster["items"].items() if v["is_error"] or not errors_only]
    return [k for k, _ in sorted(items, key=key)]


@pytest.mark.engine
@pytest.mark.parametrize("level", ["trace", "generation"])
def test_drilldown_equals_ground_truth(localposthog_engine, ground_truth, level):
    run = next(r for r in ground_truth["runs"] if r["level"] == level and r["job_name"])
    target = run_target(run["run_id"])
    for cluster in run["clusters"]:
        by_cost = lambda kv: (-(kv[1]["cost"] or 0), kv[1]["rank"])  # noqa: E731
        result = localposthog_engine.query(drilldown_query(target, cluster["cluster_id"], "cost", 3, True))
        assert result.columns == list(DRILLDOWN_COLUMNS)
        assert [row[0] for row in result.rows] == expected(cluster, by_cost, True)[:3]
        errors = sum(1 for item in cluster["items"].values() if item["is_error"])
        assert all(row[-1] == errors for row in result.rows)
        result = localposthog_engine.query(drilldown_query(target, cluster["cluster_id"], "rank", MAX_LIMIT))
        rows = {row[0]: dict(zip(result.columns, row)) for row in result.rows}
        assert list(rows) == expected(cluster, lambda kv: kv[1]["rank"], False)[:MAX_LIMIT]
        for key, truth in cluster["items"].items():
            row = rows[key]
            assert bool(row["has_data"]) == truth["has_data"]
            if truth["has_data"]:
                assert (row["cost"] or 0) == pytest.approx(truth["cost"] or 0, rel=1e-6, abs=1e-12)
                assert (row["latency"] or 0) == pytest.approx(truth["latency"] or 0, rel=1e-6, abs=1e-12)
                assert row["tokens"] == truth["tokens"]
                assert (row["error_events"] > 0) == truth["is_error"]
            assert row["trace_id"] == (truth["trace_id"] if level == "generation" else key)


@pytest.mark.engine
def test_drilldown_sorts_by_latency_and_time(localposthog_engine, ground_truth):
    run = next(r for r in ground_truth["runs"] if r["level"] == "trace" and r["job_name"])
    cluster = run["clusters"][0]
    target = run_target(run["run_id"])
    rows = localposthog_engine.query(drilldown_query(target, cluster["cluster_id"], "latency", 5)).rows
    latencies = [row[6] for row in rows]
    assert latencies == sorted(latencies, reverse=True) and len(rows) == 5
    assert latencies[0] == pytest.approx(max(i["latency"] or 0 for i in cluster["items"].values()), rel=1e-6)
    rows = localposthog_engine.query(drilldown_query(target, cluster["cluster_id"], "time", 5)).rows
    times = [row[3] for row in rows]
    assert times == sorted(times, reverse=True)


def test_cli_forms_and_bad_input(run_cli):
    status, out, err = run_cli("sql", "--run-id", "1_trace_20260120_000014_x", "--cluster", "2",
                               "--errors-only", "--sort", "errors", "--limit", "3")
    assert status == 0 and err == "" and "LIMIT 3" in out and "e.errors>0" in out
    assert run_cli("sql", "--run-id", "1_trace_20260120_000014_x", "--cluster", "2",
                   "--limit", "5000")[0] == 2
    assert run_cli("sql", "--run-id", "1_trace_20260120_000014_x", "--cluster", "x")[0] == 2
    assert run_cli("sql", "--run-id", "1_trace_20260120_000014_x", "--cluster", "1", "--sort", "size")[0] == 2


@pytest.mark.engine
def test_hostile_run_ids_are_harmless(run_cli, localposthog_data_dir, ground_truth, tmp_path):
    with hostile_engine(localposthog_data_dir, ground_truth["runs"], tmp_path) as (engine, cases):
        for hostile_id, truth_run in cases:
            cluster = truth_run["clusters"][0]
            status, out, err = run_cli("sql", "--run-id", hostile_id, "--cluster", str(cluster["cluster_id"]),
                                       "--limit", "1000")
            assert status == 0, err
            assert len(engine.query(out).rows) == cluster["size"]
