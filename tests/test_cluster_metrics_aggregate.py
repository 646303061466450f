"""cluster_metrics.py aggregate and its statistics: fed the saved results of the queries `sql`
prints, it equals the dataset's ground truth; intervals and tests match reference values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from llm_clusters.analyse.stats import (
    Sample,
    regularized_beta,
    student_t_upper_tail,
    two_proportion_z,
    welch_t,
    wilson,
)
from llm_clusters.posthog.metrics_sql import in_list_queries, run_target, server_side_query
from llm_clusters.timestamps import parse_timestamp
from localposthog.mcp_format import format_execute_sql, persisted_content

COMMAND = "cluster_metrics"  # what the run_cli fixture runs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def aggregate_json(run_cli, *argv) -> dict:
    status, out, err = run_cli("aggregate", *argv, "--format", "json", "--max-clusters", "0")
    assert status == 0, err
    return json.loads(out)


# --- statistics ------------------------------------------------------------------------------

def _wilson_reference(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's interval written as the roots of (p - p̂)² = z² p (1 - p) / n."""
    a = 1 + z * z / n
    b = -(2 * k / n + z * z / n)
    c = (k / n) ** 2
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (0, 10), (5, 10), (3, 7), (1, 322), (41, 1322), (999, 1000)])
def test_wilson_matches_the_quadratic_roots(k, n):
    low, high = wilson(k, n)
    ref_low, ref_high = _wilson_reference(k, n)
    assert low == pytest.approx(max(0.0, ref_low), abs=1e-12)
    assert high == pytest.approx(min(1.0, ref_high), abs=1e-12)


def test_wilson_published_values():
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=5e-5)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=5e-5)
    assert wilson(0, 0) is None


def test_student_t_and_beta_reference_values():
    assert regularized_beta(0.5, 2, 3) == pytest.approx(11 / 16, abs=1e-12)  # P(Bin(4, ½) ≥ 2)
    assert student_t_upper_tail(12.706, 1) == pytest.approx(0.025, abs=1e-5)
    assert student_t_upper_tail(2.228, 10) == pytest.approx(0.025, abs=1e-4)
    assert student_t_upper_tail(1.812, 10) == pytest.approx(0.05, abs=1e-4)
    assert student_t_upper_tail(0.0, 7) == pytest.approx(0.5, abs=1e-12)
    assert student_t_upper_tail(-2.228, 10) == pytest.approx(0.975, abs=1e-4)
    assert student_t_upper_tail(1.959963984540054, 1e7) == pytest.approx(0.025, abs=1e-6)


def test_two_proportion_and_welch_reference_values():
    result = two_proportion_z(30, 100, 10, 100)  # pooled p = 0.2, se = sqrt(0.2 * 0.8 * 0.02)
    assert result.statistic == pytest.approx(0.2 / math.sqrt(0.0032), abs=1e-12)
    assert result.p_value == pytest.approx(0.5 * math.erfc(result.statistic / math.sqrt(2)), abs=1e-15)
    assert two_proportion_z(0, 10, 0, 10) is None and two_proportion_z(1, 0, 1, 3) is None
    # R: t.test(c(1,2,3,4,5), c(1,1.5,2,1,1.2), alternative = "greater"): t = 2.2682, p = 0.0388
    result = welch_t(Sample.of([1, 2, 3, 4, 5.0]), Sample.of([1, 1.5, 2, 1, 1.2]))
    assert result.statistic == pytest.approx(2.2682, abs=5e-5)
    assert result.p_value == pytest.approx(0.0388, abs=5e-4)
    assert welch_t(Sample.of([1.0]), Sample.of([1.0, 2.0])) is None


# --- on the engine: equal to the ground truth ----------------------------------------------

def _save(engine, sql: str, folder: Path, stamp: int) -> Path:
    from localposthog.answers import persist_execute_sql

    return persist_execute_sql(engine, sql, folder, truncate=False, stamp_ms=stamp)


def _run_query(run: dict) -> str:
    return ("SELECT JSONExtractString(properties, '$ai_clustering_run_id') AS run_id, "
            "JSONExtractString(properties, '$ai_window_start') AS window_start, "
            "JSONExtractString(properties, '$ai_window_end') AS window_end, "
            "JSONExtractRaw(properties, '$ai_clusters') AS clusters FROM events "
            f"WHERE event = '{run['event']}' AND JSONExtractString(properties, '$ai_clustering_run_id') "
            f"= '{run['run_id']}' LIMIT 1")


@pytest.fixture(scope="module")
def saved(localposthog_engine, tmp_path_factory):
    """For one trace run and one generation run: the saved run, per-item, per-cluster and
    IN-list results, as a coding agent persists execute-sql answers (truncate off)."""
    folder = tmp_path_factory.mktemp("cluster_metrics")
    files = {}
    for number, level in enumerate(("trace", "generation")):
        run = next(r for r in localposthog_engine.runs if r["level"] == level and r["job_name"])
        target = run_target(run["run_id"])
        base = 10 * number
        keys = [key for cluster in run["clusters"] for key in cluster["items"]]
        window = (parse_timestamp(run["window_start"]), parse_timestamp(run["window_end"]))
        files[level] = {
            "truth": run,
            "run": _save(localposthog_engine, _run_query(run), folder, base + 1),
            "per_item": _save(localposthog_engine, server_side_query(target, per_item=True),
                              folder, base + 2),
            "per_cluster": _save(localposthog_engine, server_side_query(target), folder, base + 3),
            "in_list": [_save(localposthog_engine, query, folder, base + 4 + n)
                        for n, query in enumerate(in_list_queries(target, keys, 12_000, window))],
        }
    return files


def assert_equals_truth(document: dict, truth_run: dict, exact_n: bool = True) -> None:
    got = {c["cluster_id"]: c for c in document["clusters"]}
    assert sorted(got) == sorted(c["cluster_id"] for c in truth_run["clusters"])
    for truth in truth_run["clusters"]:
        row = got[truth["cluster_id"]]
        assert (row["items"], row["items_with_data"], row["error_items"]) == (
            truth["size"], truth["items_with_data"], truth["error_items"])
        for key in ("total_cost", "avg_cost", "avg_latency", "avg_tokens", "error_rate"):
            assert row[key] == pytest.approx(truth[key], abs=1e-9, rel=0), key
        expected_ci = wilson(truth["error_items"], truth["items_with_data"])
        assert row["error_rate_ci95"] == (list(expected_ci) if expected_ci else None)
        if exact_n:
            items = [i for i in truth["items"].values() if i["has_data"]]
            assert row["cost_n"] == sum(1 for i in items if i["cost"] and i["cost"] > 0)


@pytest.mark.engine
@pytest.mark.parametrize("level", ["trace", "generation"])
def test_aggregate_of_the_per_item_result_equals_ground_truth(run_cli, saved, level):
    files = saved[level]
    document = aggregate_json(run_cli, files["run"], files["per_item"])
    assert (document["schema"] == "exploring-llm-clusters/cluster_metrics@1"
            and document["source"] == "per-item")
    assert all(set(c["tests"]) == {"error_rate", "avg_cost", "avg_latency"} for c in document["clusters"])
    assert_equals_truth(document, files["truth"])
    assert document["items_without_data"] == sum(c["size"] - c["items_with_data"]
                                                 for c in files["truth"]["clusters"])


@pytest.mark.engine
@pytest.mark.parametrize("level", ["trace", "generation"])
def test_aggregate_of_the_per_cluster_and_in_list_results_equals_ground_truth(run_cli, saved, level):
    files = saved[level]
    document = aggregate_json(run_cli, files["run"], files["per_cluster"])
    assert document["source"] == "per-cluster"
    assert_equals_truth(document, files["truth"])
    document = aggregate_json(run_cli, files["run"], *files["in_list"])
    assert_equals_truth(document, files["truth"])


@pytest.mark.engine
def test_the_cli_from_a_saved_run_to_the_table(run_cli, localposthog_engine, saved, tmp_path):
    """sql --run-file and sql --in-list --run-file, run on the engine, saved, aggregated."""
    files = saved["trace"]
    status, out, err = run_cli("sql", "--run-file", files["run"])
    assert status == 0, err
    assert len(localposthog_engine.query(out).rows) == len(files["truth"]["clusters"])
    status, out, err = run_cli("sql", "--in-list", "--run-file", files["run"], "--max-query-bytes", "9000")
    assert status == 0, err
    chunks = [part.split("\n", 1)[1].strip() for part in out.split("\n-- query ")[1:]]
    assert len(chunks) > 1 and all(len(chunk.encode()) <= 9000 for chunk in chunks)
    saved_chunks = [_save(localposthog_engine, chunk, tmp_path, n) for n, chunk in enumerate(chunks)]
    assert_equals_truth(aggregate_json(run_cli, files["run"], *saved_chunks), files["truth"])


@pytest.mark.engine
def test_aggregate_text_answers_the_sort_first_and_is_deterministic(run_cli, saved):
    files = saved["trace"]
    outputs = {}
    for sort in ("cost", "latency", "errors", "size"):
        status, out, err = run_cli("aggregate", files["run"], files["per_item"], "--sort", sort)
        assert status == 0 and err == ""
        assert run_cli("aggregate", files["run"], files["per_item"], "--sort", sort)[1] == out
        outputs[sort] = out.splitlines()[1]
    assert (outputs["cost"].startswith("Most expensive: cluster ")
            and " total over the run's sample, $" in outputs["cost"])
    assert " per trace, n=" in outputs["cost"]
    assert (outputs["latency"].startswith("Slowest: cluster ")
            and "mean latency per trace" in outputs["latency"])
    assert outputs["errors"].startswith("Most errors: cluster ") and "95% CI" in outputs["errors"]
    assert outputs["size"].startswith("Largest: cluster ")
    truth = files["truth"]
    regular = [c for c in truth["clusters"] if c["cluster_id"] != -1]
    top = max(regular, key=lambda c: c["total_cost"] or 0)
    assert outputs["cost"].startswith(f"Most expensive: cluster {top['cluster_id']} '{top['title']}'")
    status, out, _ = run_cli("aggregate", files["run"], files["per_item"], "--format", "markdown",
                             "--max-clusters", "2")
    assert status == 0 and out.startswith("## Metrics per cluster") and "more clusters not shown" in out


@pytest.mark.engine
def test_items_missing_from_the_metrics_are_counted_as_without_data(run_cli, saved, tmp_path):
    files = saved["trace"]
    rows = [["cluster_id", "item", "has_data", "cost", "latency", "input_tokens", "output_tokens",
             "error_events", "model"]]
    truth = files["truth"]
    kept = list(truth["clusters"][0]["items"].items())[:3]
    for key, item in kept:
        rows.append([truth["clusters"][0]["cluster_id"], key, 1, item["cost"] or 0, item["latency"] or 0,
                     item["tokens"], 0, int(item["is_error"]), "gpt-4o"])
    path = tmp_path / "partial.txt"
    path.write_text(persisted_content(format_execute_sql(rows[0], rows[1:])), encoding="utf-8")
    document = aggregate_json(run_cli, files["run"], path)
    total = sum(c["size"] for c in truth["clusters"])
    assert document["items"] == total and document["items_without_data"] == total - 3
    assert any("have no row in the metrics" in note for note in document["notes"])


# --- PostHog's embedded metrics --------------------------------------------------------------

def test_without_a_metrics_file_it_shows_posthogs_embedded_averages(run_cli):
    status, out, err = run_cli("aggregate", EXAMPLES / "trace_run.execute-sql.txt")
    assert status == 0, err
    assert "PostHog's own metrics embedded in the run" in out and "PostHog's embedded averages" in out
    document = aggregate_json(run_cli, EXAMPLES / "trace_run.execute-sql.txt")
    assert document["source"] == "embedded" and document["items_without_data"] is None
    for cluster in document["clusters"]:
        if cluster["items_with_data"]:
            assert cluster["error_rate_ci95"] == list(wilson(cluster["error_items"],
                                                             cluster["items_with_data"]))


def test_a_run_without_embedded_metrics_says_how_to_measure_it(run_cli):
    status, out, err = run_cli("aggregate", EXAMPLES / "legacy_run.execute-sql.txt")
    assert status == 5 and out == ""
    assert "sql --per-item" in err


def test_usage_errors(run_cli):
    assert run_cli("aggregate")[0] == 2
    assert run_cli("aggregate", "-", "-")[0] == 2
    assert run_cli("aggregate", EXAMPLES / "trace_run.execute-sql.txt", "--sort", "price")[0] == 2
    status, _, err = run_cli("aggregate", EXAMPLES / "trace_run.execute-sql.txt",
                             EXAMPLES / "trace_run.execute-sql.txt")
    assert status == 3 and "neither an item column nor cluster_id" in err
