"""The local PostHog's data is what it claims: SQL on the engine recomputes the ground truth and
the metrics embedded in the cluster events, and PostHog's row limits hold."""

from __future__ import annotations

import json

import pytest

from localposthog import dataset
from localposthog.hogql import QueryError

pytestmark = pytest.mark.engine

# Per-item metrics the way PostHog's clustering workflow computes them, written as an agent would.
ITEM_METRICS = {
    "trace": """
        SELECT properties.$ai_trace_id AS item_id, 1 AS has_data,
               sum(toFloat(properties.$ai_total_cost_usd)) AS cost,
               sumIf(toFloat(properties.$ai_latency), event = '$ai_generation') AS latency,
               sum(ifNull(toInt(properties.$ai_input_tokens), 0)
                   + ifNull(toInt(properties.$ai_output_tokens), 0)) AS tokens,
               countIf(properties.$ai_is_error = 'true') AS errors
        FROM events
        WHERE event IN ('$ai_generation', '$ai_embedding') AND {window}
        GROUP BY item_id""",
    "generation": """
        SELECT toString(uuid) AS item_id, 1 AS has_data,
               toFloat(properties.$ai_total_cost_usd) AS cost,
               toFloat(properties.$ai_latency) AS latency,
               ifNull(toInt(properties.$ai_input_tokens), 0)
                   + ifNull(toInt(properties.$ai_output_tokens), 0) AS tokens,
               properties.$ai_is_error = 'true' AS errors
        FROM events
        WHERE event = '$ai_generation' AND {window}""",
}

CLUSTER_METRICS = """
    WITH run AS (
        SELECT properties AS p FROM events
        WHERE event IN ('$ai_trace_clusters', '$ai_generation_clusters')
          AND JSONExtractString(properties, '$ai_clustering_run_id') = '{run_id}'
    ),
    members AS (
        SELECT JSONExtractInt(cluster, 'cluster_id') AS cluster_id, item_id
        FROM (SELECT arrayJoin(JSONExtractArrayRaw(p, '$ai_clusters')) AS cluster FROM run)
        ARRAY JOIN JSONExtractKeys(cluster, 'traces') AS item_id
    )
    SELECT cluster_id, count() AS size, sum(has_data) AS items_with_data,
           countIf(has_data = 1 AND errors > 0) AS error_items,
           sumIf(cost, cost > 0) AS total_cost, avgIf(cost, cost > 0) AS avg_cost,
           avgIf(latency, latency > 0) AS avg_latency, avgIf(tokens, tokens > 0) AS avg_tokens
    FROM members LEFT JOIN ({items}) AS m ON members.item_id = m.item_id
    GROUP BY cluster_id
    ORDER BY cluster_id
    LIMIT 1000
"""

WINDOW = ("timestamp >= "
          "(SELECT parseDateTime64BestEffort(JSONExtractString(p, '$ai_window_start'), 6) FROM run) "
          "AND timestamp < "
          "(SELECT parseDateTime64BestEffort(JSONExtractString(p, '$ai_window_end'), 6) FROM run)")


def _approx(value):
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("run_index", range(12))
def test_sql_on_the_engine_recomputes_the_ground_truth(localposthog_engine, ground_truth, run_index):
    run = ground_truth["runs"][run_index]
    sql = CLUSTER_METRICS.format(run_id=run["run_id"], items=ITEM_METRICS[run["level"]].format(window=WINDOW))
    result = localposthog_engine.query(sql)
    by_id = {row[0]: dict(zip(result.columns, row)) for row in result.rows}

    assert sorted(by_id) == sorted(c["cluster_id"] for c in run["clusters"])
    for truth in run["clusters"]:
        got = by_id[truth["cluster_id"]]
        assert got["size"] == truth["size"] == len(truth["items"])
        assert got["items_with_data"] == truth["items_with_data"]
        assert got["error_items"] == truth["error_items"]
        for key in ("total_cost", "avg_cost", "avg_latency", "avg_tokens"):
            # ClickHouse answers "no values" with 0 for sumIf and NaN (sent as null) for avgIf.
            expected = truth[key] if truth[key] is not None else (0 if key == "total_cost" else None)
            assert got[key] == _approx(expected), (truth["title"], key)


def test_every_run_has_errors_missing_data_and_more_items_than_sampled(ground_truth):
    runs = ground_truth["runs"]
    assert len(runs) == 12
    assert any(r["window_item_count"] > r["total_items_analyzed"] for r in runs)
    clusters = [c for r in runs for c in r["clusters"]]
    assert sum(c["error_items"] for c in clusters) > 0
    assert any(i["cost"] is None for c in clusters for i in c["items"].values() if i["has_data"])


def test_embedded_metrics_equal_the_ground_truth(localposthog_engine, ground_truth):
    result = localposthog_engine.query(
        "SELECT JSONExtractString(properties, '$ai_clustering_run_id') AS run_id, "
        "JSONExtractRaw(properties, '$ai_clusters') AS clusters FROM events "
        "WHERE event IN ('$ai_trace_clusters', '$ai_generation_clusters') LIMIT 100")
    embedded = {run_id: json.loads(text) for run_id, text in result.rows}
    checked = 0
    for run in ground_truth["runs"]:
        clusters = {c["cluster_id"]: c for c in embedded[run["run_id"]]}
        for truth in run["clusters"]:
            metrics = clusters[truth["cluster_id"]].get("metrics")
            assert (metrics is not None) == run["has_embedded_metrics"]
            if metrics is None:
                continue
            checked += 1
            assert metrics["item_count"] == truth["items_with_data"]
            assert metrics["error_count"] == truth["error_items"]
            assert metrics["total_cost"] == _approx(truth["total_cost"])
            assert metrics["error_rate"] == _approx(truth["error_rate"])
    assert checked > 40


def test_cluster_events_have_posthogs_shape(localposthog_engine, ground_truth):
    result = localposthog_engine.query(
        "SELECT event, distinct_id, properties FROM events "
        "WHERE event IN ('$ai_trace_clusters', '$ai_generation_clusters') ORDER BY timestamp LIMIT 100")
    shapes = {"oldest": 0, "current": 0}
    for event, distinct_id, text in result.rows:
        props = json.loads(text)
        clusters = props["$ai_clusters"]
        assert [c["cluster_id"] for c in clusters if c["cluster_id"] != -1] == sorted(
            c["cluster_id"] for c in clusters if c["cluster_id"] != -1)
        assert all(c["cluster_id"] != -1 for c in clusters[:-1]), "noise must come last"
        for cluster in clusters:
            ranked = sorted(cluster["traces"].values(), key=lambda item: item["rank"])
            distances = [item["distance_to_centroid"] for item in ranked]
            descending = cluster["cluster_id"] == -1
            assert distances == sorted(distances, reverse=descending)
            assert cluster["size"] == len(cluster["traces"])
        if "$ai_total_traces_analyzed" in props:
            shapes["oldest"] += 1
            assert distinct_id.startswith("trace_clustering_")
            assert "$ai_clustering_level" not in props
            first_item = next(iter(clusters[0]["traces"].values()))
            assert set(first_item) == {"distance_to_centroid", "rank", "x", "y"}
        else:
            shapes["current"] += 1
            level = props["$ai_clustering_level"]
            assert event == f"$ai_{level}_clusters" and distinct_id == f"clustering_{level}_1"
            assert props["$ai_clustering_run_id"].startswith(f"1_{level}_")
            assert props["$ai_clustering_params"]["max_samples"] > 0
    assert shapes == {"oldest": 1, "current": 11}


def test_planted_drift_shows_in_the_runs(ground_truth):
    changes = {(c["level"], c["kind"]): c for c in ground_truth["planted_changes"]}
    for level in ("trace", "generation"):
        sizes = list(changes[(level, "grows")]["sizes"].values())
        assert sizes[-1] > 1.3 * sizes[0]
        appears = list(changes[(level, "appears")]["sizes"].values())
        assert appears[0] == 0 and appears[-1] > 0
        vanishes = list(changes[(level, "vanishes")]["sizes"].values())
        assert vanishes[0] > 0 and vanishes[-1] == 0
        split = changes[(level, "splits")]
        runs = {r["run_id"]: r for r in ground_truth["runs"]}
        before = {i for c in runs[split["last_run_before"]]["clusters"] if c["key"] == "coding"
                  for i in c["items"]}
        after = {i for c in runs[split["first_run_after"]]["clusters"] if c["key"].startswith("coding/")
                 for i in c["items"]}
        assert before & after, "consecutive runs must share items for a split to be traceable"


def test_the_dataset_is_deterministic_and_scales():
    small = dataset.build_dataset(seed=3, scale=1.0)
    again = dataset.build_dataset(seed=3, scale=1.0)
    assert small.ground_truth == again.ground_truth
    assert dataset.build_dataset(seed=4, scale=1.0).ground_truth != small.ground_truth
    bigger = dataset.build_dataset(seed=3, scale=2.0)
    assert len(bigger.events) > 1.7 * len(small.events)


def test_a_scale_too_small_for_the_drift_is_refused():
    with pytest.raises(ValueError, match="scale"):
        dataset.build_dataset(seed=0, scale=0.1)


def test_error_flags_come_in_every_shape(localposthog_engine):
    result = localposthog_engine.query(
        "SELECT JSONType(properties, '$ai_is_error') AS kind, "
        "JSONExtractRaw(properties, '$ai_is_error') AS raw, count() AS n "
        "FROM events WHERE event = '$ai_generation' GROUP BY kind, raw ORDER BY kind, raw")
    shapes = {(kind, raw) for kind, raw, _ in result.rows}
    assert {("Bool", "true"), ("String", '"true"'), ("String", '"false"'), ("Null", "")} <= shapes


def test_no_limit_returns_100_rows_and_has_more(localposthog_engine):
    result = localposthog_engine.query("SELECT uuid FROM events")
    assert (len(result.rows), result.has_more, result.limit, result.offset) == (100, True, 100, 0)


def test_no_limit_on_a_small_result_has_no_more(localposthog_engine):
    result = localposthog_engine.query("SELECT event, count() FROM events GROUP BY event")
    assert result.has_more is False and len(result.rows) == 6


def test_explicit_limit_is_obeyed_and_capped(localposthog_engine):
    result = localposthog_engine.query("SELECT uuid FROM events LIMIT 250")
    assert len(result.rows) == 250 and result.has_more is None and result.limit is None
    total = localposthog_engine.query("SELECT count() FROM events").rows[0][0]
    everything = localposthog_engine.query("SELECT uuid FROM events LIMIT 100000")
    assert len(everything.rows) == min(total, 50_000)


def test_limit_by_is_not_a_limit(localposthog_engine):
    result = localposthog_engine.query("SELECT event, uuid FROM events ORDER BY event LIMIT 1 BY event")
    assert result.has_more is False and len(result.rows) == 6


def test_a_subquery_limit_does_not_lift_the_default(localposthog_engine):
    result = localposthog_engine.query("SELECT uuid FROM (SELECT uuid FROM events LIMIT 500)")
    assert len(result.rows) == 100 and result.has_more is True


def test_values_are_serialised_like_posthogs_api(localposthog_engine):
    result = localposthog_engine.query(
        "SELECT uuid, timestamp, properties, team_id FROM events WHERE event = '$ai_generation' "
        "ORDER BY timestamp LIMIT 1")
    uuid, timestamp, properties, team_id = result.rows[0]
    assert result.types[:2] == ["UUID", "DateTime64(6, 'UTC')"]
    assert len(uuid) == 36 and timestamp.startswith("2026-01-12T") and timestamp.endswith("Z")
    assert isinstance(json.loads(properties), dict) and team_id == 1


def test_clusters_come_back_as_a_json_string_cell(localposthog_engine):
    result = localposthog_engine.query(
        "SELECT JSONExtractRaw(properties, '$ai_clusters') FROM events "
        "WHERE event = '$ai_trace_clusters' LIMIT 1")
    assert result.types == ["String"]
    assert isinstance(json.loads(result.rows[0][0]), list)


@pytest.mark.parametrize("sql, named", [
    ("SELECT * FROM persons", "persons"),
    ("SELECT nosuchfunction(1)", "nosuchfunction"),
    ("SELECT missing_column FROM events", "missing_column"),
])
def test_clickhouse_errors_name_what_is_wrong(localposthog_engine, sql, named):
    with pytest.raises(QueryError, match=named) as error:
        localposthog_engine.query(sql)
    assert "DB::Exception" not in str(error.value) and "localposthog_" not in str(error.value)


def test_the_clock_stands_at_the_datasets_end(localposthog_engine, ground_truth):
    result = localposthog_engine.query(
        "SELECT now(), today(), countIf(timestamp >= now() - INTERVAL 1 DAY) AS last_day, "
        "countIf(timestamp >= now()) AS future FROM events")
    (now, today, last_day, future), = result.rows
    assert now == ground_truth["now"].replace("+00:00", "Z") and today == ground_truth["now"][:10]
    assert last_day > 0 and future == 0
    assert result.columns[:2] == ["now()", "today()"]
