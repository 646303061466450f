"""cluster_metrics.py sql: the server-side query and the IN-list fallback, proved on the local
PostHog against the dataset's ground truth, and safe with hostile run and item ids."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from llm_clusters.posthog.metrics_sql import (
    CLUSTER_COLUMNS,
    ITEM_COLUMNS,
    in_list_queries,
    run_target,
    server_side_query,
    sql_string,
)
from llm_clusters.timestamps import parse_timestamp
from localposthog import dataset

COMMAND = "cluster_metrics"  # what the run_cli fixture runs

HOSTILE_LABELS = ["it's", "back\\slash\\", "x' OR 1=1 -- ", "\\' ) UNION SELECT 1 --", "Ünïcødé ☃ 𝄞",
                  "new\nline\ttab", "quote\"s and `ticks`", "end\\"]
LONG_RUN_ID = "1234567890_generation_20260120_000014_019ba00d-8800-756b-9007-d44a55c23db7_" + "x" * 50


def query_text(printed: str) -> str:
    return "\n".join(line for line in printed.splitlines() if not line.startswith("--"))


def rows_by(result, key: str) -> dict:
    return {row[result.columns.index(key)]: dict(zip(result.columns, row)) for row in result.rows}


def linear_quantile(values: list[float], level: float) -> float:
    """ClickHouse's `quantile` on fewer than 8,192 values: linear interpolation between ranks."""
    ordered = sorted(values)
    position = level * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def assert_clusters_match(result, truth_run: dict) -> None:
    got = rows_by(result, "cluster_id")
    assert sorted(got) == sorted(c["cluster_id"] for c in truth_run["clusters"])
    assert list(got)[-1] == truth_run["clusters"][-1]["cluster_id"] or -1 not in got
    for truth in truth_run["clusters"]:
        row = got[truth["cluster_id"]]
        assert row["title"] == truth["title"]
        assert (row["items"], row["items_with_data"], row["error_items"]) == (
            truth["size"], truth["items_with_data"], truth["error_items"])
        for key in ("total_cost", "avg_cost", "avg_latency", "avg_tokens", "error_rate"):
            assert row[key] == pytest.approx(truth[key], abs=1e-9, rel=0), key
        items = [i for i in truth["items"].values() if i["has_data"]]
        assert row["input_tokens"] + row["output_tokens"] == sum(i["tokens"] for i in items)
        latencies = [i["latency"] for i in items if i["latency"] and i["latency"] > 0]
        assert row["latency_items"] == len(latencies)
        assert row["cost_items"] == sum(1 for i in items if i["cost"] and i["cost"] > 0)
        for level, key in ((0.5, "p50_latency"), (0.9, "p90_latency"), (0.95, "p95_latency")):
            expected = linear_quantile(latencies, level) if latencies else None
            assert row[key] == pytest.approx(expected, abs=1e-9, rel=0), key


def assert_items_match(rows: dict, truth_run: dict, missing_means_no_data: bool = False) -> None:
    truth_items = {key: item for cluster in truth_run["clusters"] for key, item in cluster["items"].items()}
    if not missing_means_no_data:
        assert sorted(rows) == sorted(truth_items)
    for key, truth in truth_items.items():
        row = rows.get(key)
        if row is None:
            assert missing_means_no_data and not truth["has_data"], key
            continue
        assert bool(row["has_data"]) == truth["has_data"], key
        if truth["has_data"]:
            assert row["cost"] == pytest.approx(truth["cost"] or 0, abs=1e-9, rel=0)
            assert row["latency"] == pytest.approx(truth["latency"] or 0, abs=1e-9, rel=0)
            assert row["input_tokens"] + row["output_tokens"] == truth["tokens"]
            assert (row["error_events"] > 0) == truth["is_error"]


# --- the query's text ----------------------------------------------------------------------

@pytest.mark.parametrize("value", HOSTILE_LABELS + ["", "plain", "\0nul", "\r"])
def test_sql_string_escapes_every_quote_and_backslash(value):
    literal = sql_string(value)
    body = literal[1:-1]
    assert literal[0] == literal[-1] == "'"
    # Every quote in the body is escaped by an odd run of backslashes; no raw line breaks.
    for index, char in enumerate(body):
        if char == "'":
            run = len(body[:index]) - len(body[:index].rstrip("\\"))
            assert run % 2 == 1
    assert "\n" not in body and "\r" not in body and "\0" not in body
    assert (len(body) - len(body.rstrip("\\"))) % 2 == 0  # the closing quote is not escaped


@pytest.mark.engine
def test_sql_string_reads_back_unchanged_on_clickhouse(localposthog_engine):
    values = HOSTILE_LABELS + ["", "\0nul"]
    query = "SELECT " + ",".join(f"{sql_string(v)} AS v{n}" for n, v in enumerate(values))
    assert localposthog_engine.query(query).rows == [values]


def test_query_is_constant_size_under_4_kb_for_any_real_run_id():
    for level in ("trace", "generation"):
        for per_item in (False, True):
            query = server_side_query(run_target(LONG_RUN_ID.replace("generation", level)), per_item)
            assert len(query.encode()) <= 4096, (level, per_item, len(query.encode()))


def test_query_reads_ai_events_by_property_access_narrowed_to_the_run_and_has_a_limit():
    target = run_target("1_trace_20260120_000014_019ba00d-8800-756b-9007-d44a55c23db7")
    for query in (server_side_query(target), server_side_query(target, per_item=True)):
        assert "toFloat(properties.$ai_total_cost_usd)" in query
        assert "properties.$ai_trace_id IN (SELECT arrayJoin(JSONExtractKeys(c,'traces'))" in query
        assert "RIGHT JOIN" not in query and "OrNull" not in query
        assert query.rstrip().split("\n")[-1].split(" LIMIT ")[-1].isdigit()
        assert "timestamp>=toDateTime(" in query and "timestamp<toDateTime(" in query


def test_run_target_validates_level_and_bounds():
    with pytest.raises(Exception, match="--level"):
        run_target("1_20260120_000014")  # the oldest ids carry no level
    with pytest.raises(Exception, match="contradicts"):
        run_target("1_trace_20260120_000014", "generation")
    with pytest.raises(Exception, match="cannot bound"):
        run_target("not a run id", "trace")
    target = run_target("weird id", "trace", "2026-01-13T00:00:14.345678+00:00",
                        "2026-01-20T00:00:14.345678+00:00")
    assert target.event_bounds == (parse_timestamp("2026-01-13T00:00:14.345678+00:00"),
                                   parse_timestamp("2026-01-20T00:00:14.345678+00:00"))
    end = parse_timestamp("2026-01-20T00:00:14+00:00")
    assert run_target("1_trace_20260120_000014").event_bounds == (end - timedelta(days=8),
                                                                  end + timedelta(days=1))


def test_cli_prints_the_latency_definition_and_exit_codes(run_cli):
    status, out, err = run_cli("sql", "--run-id", "1_trace_20260120_000014_x")
    assert status == 0 and err == ""
    assert "SUM of the trace's generation latencies" in out and "as PostHog" in out
    status, out, err = run_cli("sql", "--run-id", "1_generation_20260120_000014_x")
    assert status == 0 and "generation's own $ai_latency" in out
    assert run_cli("sql")[0] == 2
    assert run_cli("sql", "--in-list", "--run-id", "1_trace_20260120_000014")[0] == 2
    assert run_cli("sql", "--run-id", "1_20260120_000014")[0] == 2


def test_in_list_queries_respect_the_byte_limit_and_cover_every_item():
    target = run_target("1_trace_20260120_000014_" + "'" * 3)
    keys = [f"trace-{n:05d}-{'é' * (n % 3)}'" for n in range(2000)]
    queries = in_list_queries(target, keys, max_bytes=6000)
    assert len(queries) > 1 and all(len(q.encode()) <= 6000 for q in queries)
    assert sum(q.count("'trace-") for q in queries) == 2000
    with pytest.raises(Exception, match="too small"):
        in_list_queries(target, keys, max_bytes=500)


# --- on the engine: equal to the ground truth ----------------------------------------------

@pytest.mark.engine
def test_server_side_query_equals_ground_truth_for_every_run(localposthog_engine, ground_truth):
    levels = set()
    for run in ground_truth["runs"]:
        target = run_target(run["run_id"], run["level"])
        result = localposthog_engine.query(server_side_query(target))
        assert result.columns == list(CLUSTER_COLUMNS)
        assert_clusters_match(result, run)
        levels.add(run["level"])
    assert levels == {"trace", "generation"}


@pytest.mark.engine
@pytest.mark.parametrize("level", ["trace", "generation"])
def test_per_item_query_and_in_list_fallback_equal_ground_truth(localposthog_engine, ground_truth, level):
    run = next(r for r in ground_truth["runs"] if r["level"] == level and r["job_name"])
    target = run_target(run["run_id"])
    result = localposthog_engine.query(server_side_query(target, per_item=True))
    assert result.columns == list(ITEM_COLUMNS)
    assert_items_match(rows_by(result, "item"), run)
    keys = [key for cluster in run["clusters"] for key in cluster["items"]]
    window = (parse_timestamp(run["window_start"]), parse_timestamp(run["window_end"]))
    rows = {}
    for query in in_list_queries(target, keys, max_bytes=12_000, window=window):
        rows.update(rows_by(localposthog_engine.query(query), "item"))
    assert_items_match(rows, run, missing_means_no_data=True)


@pytest.mark.engine
def test_cli_query_runs_verbatim_on_the_engine(run_cli, localposthog_engine, ground_truth):
    run = next(r for r in ground_truth["runs"] if r["level"] == "generation")
    status, out, _ = run_cli("sql", "--run-id", run["run_id"])
    assert status == 0
    assert_clusters_match(localposthog_engine.query(out), run)  # comments and all


# --- hostile ids, end to end ---------------------------------------------------------------

def hostile_copy(source_dir: Path, target_dir: Path, truth_runs: list[dict]) -> list[tuple[str, dict]]:
    """A copy of the dataset with, for each level, runs that copy a real run under hostile run
    ids; at trace level their items also get hostile ids (with copies of their events)."""
    for name in (dataset.JOBS_FILE, dataset.GROUND_TRUTH_FILE):
        shutil.copy(source_dir / name, target_dir / name)
    lines = (source_dir / dataset.EVENTS_FILE).read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    added, cases = [], []
    for level in ("trace", "generation"):
        run = next(r for r in truth_runs if r["level"] == level and r["job_name"])
        run_event = next(e for e in events if e["event"] == f"$ai_{level}_clusters"
                         and json.loads(e["properties"])["$ai_clustering_run_id"] == run["run_id"])
        prefix = run["run_id"][: len(f"1_{level}_20260120_000014")]
        for n, label in enumerate(HOSTILE_LABELS):
            hostile_id = f"{prefix}_{label}"
            properties = json.loads(run_event["properties"])
            properties["$ai_clustering_run_id"] = hostile_id
            if level == "trace":
                _rename_items(properties, events, added, label, n)
            added.append({**run_event,
                          "uuid": f"00000000-0000-4000-8000-{n + (100 if level == 'trace' else 0):012d}",
                          "properties": json.dumps(properties)})
            cases.append((hostile_id, run))
    with open(target_dir / dataset.EVENTS_FILE, "w", encoding="utf-8") as handle:
        for event in events + added:
            handle.write(json.dumps(event) + "\n")
    return cases


def _rename_items(properties: dict, events: list[dict], added: list[dict], label: str, n: int) -> None:
    """Give the first item of each cluster a hostile id, and its events copies under that id."""
    for index, cluster in enumerate(properties["$ai_clusters"]):
        old = next(iter(cluster["traces"]))
        new = f"{label}|{n}|{index}"
        cluster["traces"] = {(new if key == old else key): entry for key, entry in cluster["traces"].items()}
        for number, event in enumerate(e for e in events
                                       if json.loads(e["properties"]).get("$ai_trace_id") == old):
            props = json.loads(event["properties"])
            props["$ai_trace_id"] = new
            added.append({**event, "uuid": f"00000000-0000-4000-9{n:03d}-{index:04d}{number:08d}",
                          "properties": json.dumps(props)})


@pytest.mark.engine
def test_hostile_run_and_item_ids_end_to_end(run_cli, localposthog_engine, localposthog_data_dir,
                                             ground_truth, tmp_path):
    from localposthog.engine import Engine

    cases = hostile_copy(localposthog_data_dir, tmp_path, ground_truth["runs"])
    engine = Engine(tmp_path)
    try:
        for hostile_id, truth_run in cases:
            assert_clusters_match(engine.query(server_side_query(run_target(hostile_id))), truth_run)
            status, out, err = run_cli("sql", "--run-id", hostile_id, "--per-item")
            assert status == 0, err
            result = engine.query(out)
            assert len(result.rows) == sum(c["size"] for c in truth_run["clusters"])
            if truth_run["level"] == "trace":
                hostile_items = [row for row in result.rows if "|" in row[1]]
                assert len(hostile_items) == len(truth_run["clusters"])
                assert all(row[2] for row in hostile_items)  # their events were found
                keys = [row[1] for row in result.rows]
                window = (parse_timestamp(truth_run["window_start"]),
                          parse_timestamp(truth_run["window_end"]))
                found = set()
                for query in in_list_queries(run_target(hostile_id), keys, 8000, window):
                    found.update(rows_by(engine.query(query), "item"))
                assert {row[1] for row in hostile_items} <= found
    finally:
        engine.close()
