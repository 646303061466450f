"""cluster_metrics.py sql --overview: one constant-size query, a row per cluster, proved on the
local PostHog against the dataset's ground truth and the per-item path, at both levels."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from llm_clusters.posthog.metrics_sql import run_target
from llm_clusters.posthog.overview_sql import (
    DESCRIPTION_CHARS,
    MAX_QUERY_BYTES,
    OVERVIEW_COLUMNS,
    TITLE_CHARS,
    overview_query,
)
from test_cluster_metrics_sql import LONG_RUN_ID, hostile_copy, linear_quantile, rows_by

SIGNIFICANT = dict(rel=1e-6, abs=1e-12)  # the query prints 7 significant digits


def approx(value):
    return None if value is None else pytest.approx(value, **SIGNIFICANT)


def number(value):
    return None if value is None or value != value else value  # nan: no values


def assert_overview_matches(result, truth_run: dict) -> None:
    assert result.columns == list(OVERVIEW_COLUMNS)
    got = rows_by(result, "cluster_id")
    assert sorted(got) == sorted(c["cluster_id"] for c in truth_run["clusters"])
    for truth in truth_run["clusters"]:
        row = got[truth["cluster_id"]]
        assert row["title"] == truth["title"].replace("|", " ")[:TITLE_CHARS]
        assert len(row["description"]) <= DESCRIPTION_CHARS and "\n" not in row["description"]
        assert (row["size"], row["items_with_data"], row["error_items"]) == (
            truth["size"], truth["items_with_data"], truth["error_items"])
        items = [i for i in truth["items"].values() if i["has_data"]]
        costs = [i["cost"] for i in items if i["cost"] and i["cost"] > 0]
        latencies = [i["latency"] for i in items if i["latency"] and i["latency"] > 0]
        assert (row["cost_items"], row["latency_items"]) == (len(costs), len(latencies))
        for key in ("total_cost", "avg_cost", "avg_latency", "avg_tokens", "error_rate"):
            assert number(row[key]) == approx(truth[key]), key
        assert row["tokens"] == sum(i["tokens"] for i in items)
        for level, key in ((0.5, "p50_latency"), (0.9, "p90_latency"), (0.95, "p95_latency")):
            assert number(row[key]) == approx(linear_quantile(latencies, level) if latencies else None), key
        for values, key in ((costs, "cost_var"), (latencies, "latency_var")):
            mean = sum(values) / len(values) if values else 0
            variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else None
            assert number(row[key]) == approx(variance), key
        top = json.loads(row["top_items"])
        expected = sorted(truth["items"].items(), key=lambda kv: kv[1]["rank"])[:3]
        assert [t[0] for t in top] == [key for key, _ in expected]
        assert [t[1] for t in top] == list(range(len(top)))


@pytest.mark.engine
def test_overview_equals_ground_truth_for_every_run(localposthog_engine, ground_truth):
    levels = set()
    for run in ground_truth["runs"]:
        result = localposthog_engine.query(overview_query(run_target(run["run_id"], run["level"])))
        assert_overview_matches(result, run)
        cells = [row[-2:] for row in result.rows if row[-2] is not None]
        assert len(cells) == 1
        cell, window = (json.loads(text) for text in cells[0])
        assert cell["$ai_clustering_run_id"] == run["run_id"]
        assert window[1] == run["window_item_count"]
        assert window[0] == (run["max_samples"] or 0)
        levels.add(run["level"])
    assert levels == {"trace", "generation"}


@pytest.mark.engine
def test_overview_equals_the_per_cluster_path(localposthog_engine, ground_truth):
    from llm_clusters.posthog.metrics_sql import server_side_query

    for run in ground_truth["runs"]:
        target = run_target(run["run_id"], run["level"])
        overview = rows_by(localposthog_engine.query(overview_query(target)), "cluster_id")
        per_cluster = rows_by(localposthog_engine.query(server_side_query(target)), "cluster_id")
        for cluster_id, row in per_cluster.items():
            assert overview[cluster_id]["size"] == row["items"]
            for key in ("items_with_data", "cost_items", "latency_items", "error_items"):
                assert overview[cluster_id][key] == row[key], key
            for key in ("total_cost", "avg_cost", "avg_latency", "p95_latency", "avg_tokens", "error_rate"):
                assert number(overview[cluster_id][key]) == approx(row[key]), key


def test_overview_query_is_constant_size():
    sizes = {len(overview_query(run_target(LONG_RUN_ID.replace("generation", level))).encode())
             for level in ("trace", "generation")}
    assert max(sizes) <= MAX_QUERY_BYTES, sizes


@contextmanager
def hostile_engine(data_dir, truth_runs: list[dict], tmp_path):
    """The local PostHog over a copy of the dataset with runs under hostile ids (and, at trace
    level, items with hostile ids), and the (hostile id, copied run) cases."""
    from localposthog.engine import Engine

    cases = hostile_copy(data_dir, tmp_path, truth_runs)
    engine = Engine(tmp_path)
    try:
        yield engine, cases
    finally:
        engine.close()


@pytest.mark.engine
def test_hostile_run_and_item_ids_are_harmless(localposthog_data_dir, ground_truth, tmp_path):
    with hostile_engine(localposthog_data_dir, ground_truth["runs"], tmp_path) as (engine, cases):
        for hostile_id, truth_run in cases:
            result = engine.query(overview_query(run_target(hostile_id)))
            assert sorted(rows_by(result, "cluster_id")) == sorted(c["cluster_id"]
                                                                   for c in truth_run["clusters"])
            cell = json.loads(next(row[-2] for row in result.rows if row[-2] is not None))
            assert cell["$ai_clustering_run_id"] == hostile_id
            got = rows_by(result, "cluster_id")
            for truth in truth_run["clusters"]:
                row = got[truth["cluster_id"]]
                assert row["size"] == truth["size"]
                # At trace level each cluster's first item got the hostile id: HogQL's property
                # access compares the JSON text with its escapes, so an id holding a quote, a
                # backslash or a control character finds no events (as on PostHog).
                renamed = truth_run["level"] == "trace"
                assert (truth["items_with_data"] - renamed
                        <= row["items_with_data"] <= truth["items_with_data"])


# --- the command forms, on execute-sql's answer ---------------------------------------------

@pytest.mark.engine
@pytest.mark.parametrize("level", ["trace", "generation"])
def test_command_forms_read_the_overview_in_every_shape(run_cli, localposthog_engine, ground_truth, tmp_path,
                                                        level):

    from localposthog.answers import execute_sql_text
    from localposthog.mcp_format import persisted_content

    run = next(r for r in ground_truth["runs"] if r["level"] == level and r["job_name"])
    status, sql, _ = run_cli("sql", "--run-id", run["run_id"], "--overview", command="cluster_metrics")
    assert status == 0
    assert len("\n".join(l for l in sql.splitlines() if not l.startswith("--")).encode()) <= MAX_QUERY_BYTES
    text = execute_sql_text(localposthog_engine, sql)  # truncate on, as execute-sql's default
    assert "...truncated" not in text
    assert len(text) <= 1000 + 700 * len(run["clusters"]), len(text)
    for cell in text.split("|"):
        assert not (cell[:1] in "[{" and len(cell) > 500)
    saved = tmp_path / "overview.json"
    saved.write_text(persisted_content(text), encoding="utf-8")
    biggest = max(run["clusters"], key=lambda c: (c["size"], -c["cluster_id"]))
    for argv, stdin in ((["aggregate", str(saved)], None), (["aggregate", "-"], text.encode())):
        status, out, err = run_cli(*argv, stdin=stdin, command="cluster_metrics")
        assert status == 0, err
        assert out.splitlines()[1].startswith(f"Largest: cluster {biggest['cluster_id']} ")
        assert f"{run['window_item_count']:,} {level}s" in out  # the window's traffic, same answer
    status, out, err = run_cli("-", stdin=text.encode(), command="print_clusters")
    assert status == 0, err
    assert f"Largest: cluster {biggest['cluster_id']} " in out and run["run_id"] in out
    status, out, err = run_cli(str(saved), "--cluster", str(biggest["cluster_id"]), command="print_clusters")
    assert status == 0, err
    assert f"--cluster {biggest['cluster_id']}`" in out and out.count("\n") < 20


# --- size: the same query and a bounded answer at 100 and 10,000 items ------------------------

def _synthetic_run(data_dir, items: int, clusters: int = 12, titles=None) -> tuple[str, float]:
    """A dataset holding one trace-level run of `items` items (one generation each, every tenth
    an error), with long descriptions; returns the run id and the run's total cost."""
    import uuid
    from datetime import datetime, timedelta, timezone

    end = datetime(2026, 1, 20, 0, 0, 14, tzinfo=timezone.utc)
    start = end - timedelta(days=7)
    run_id = "1_trace_20260120_000014_019ba00d-8800-756b-9007-d44a55c23db7"
    rows, traces, total = [], [{} for _ in range(clusters)], 0.0
    for n in range(items):
        at = start + timedelta(seconds=30 + n * 7 * 86400 / (items + 1))
        trace = str(uuid.UUID(int=n + 1))
        cost = round(0.001 * (1 + n % 17), 6)
        total += cost
        properties = {"$ai_trace_id": trace, "$ai_total_cost_usd": cost, "$ai_latency": 0.5 + n % 5,
                      "$ai_input_tokens": 100, "$ai_output_tokens": 20, "$ai_model": "gpt-4o",
                      "$ai_is_error": n % 10 == 0}
        rows.append((str(uuid.UUID(int=10**9 + n)), "$ai_generation", properties, at))
        cluster = traces[n % clusters]
        cluster[trace] = {"rank": len(cluster), "distance_to_centroid": 0.1, "trace_id": trace,
                          "timestamp": at.isoformat(), "x": 0.0, "y": 0.0}
    run = {"$ai_clustering_run_id": run_id, "$ai_clustering_level": "trace",
           "$ai_window_start": start.isoformat(), "$ai_window_end": end.isoformat(),
           "$ai_total_items_analyzed": items,
           "$ai_clustering_params": {"max_samples": 10_000},
           "$ai_clusters": [{"cluster_id": i, "size": len(t),
                             "title": titles[i % len(titles)] if titles else f"Cluster title number {i}",
                             "description": "- a long description line\n" * 20, "traces": t,
                             "metrics": {"avg_cost": 0.00123456789, "avg_latency": 2.3456789,
                                         "total_cost": 1.23456789, "error_rate": 0.1, "item_count": len(t)}}
                            for i, t in enumerate(traces)]}
    rows.append((str(uuid.UUID(int=10**12)), "$ai_trace_clusters", run, end + timedelta(minutes=4)))
    with open(data_dir / "events.jsonl", "w", encoding="utf-8") as handle:
        for event_id, name, properties, at in rows:
            stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")
            handle.write(json.dumps({"uuid": event_id, "event": name, "properties": json.dumps(properties),
                                     "timestamp": stamp, "created_at": stamp, "team_id": 1,
                                     "distinct_id": "d", "person_id": str(uuid.UUID(int=1)),
                                     "elements_chain": ""}) + "\n")
    (data_dir / "jobs.json").write_text("[]", encoding="utf-8")
    (data_dir / "ground_truth.json").write_text(json.dumps({"now": (end + timedelta(hours=1)).isoformat(),
                                                            "runs": []}), encoding="utf-8")
    return run_id, total


@pytest.mark.engine
def test_same_query_and_a_bounded_answer_at_100_and_10000_items(run_cli, tmp_path):
    from localposthog.answers import execute_sql_text
    from localposthog.engine import Engine

    sizes = set()
    for items in (100, 10_000):
        data_dir = tmp_path / str(items)
        data_dir.mkdir()
        run_id, total = _synthetic_run(data_dir, items)
        status, sql, _ = run_cli("sql", "--run-id", run_id, "--overview", command="cluster_metrics")
        query = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        sizes.add(len(query.encode()))
        engine = Engine(data_dir)
        try:
            text = execute_sql_text(engine, sql)
        finally:
            engine.close()
        assert "...truncated" not in text and len(text) <= 1000 + 700 * 12, len(text)
        saved = tmp_path / f"{items}.txt"
        saved.write_text(text, encoding="utf-8")
        status, out, err = run_cli("aggregate", str(saved), "--format", "json", command="cluster_metrics")
        document = json.loads(out)
        assert status == 0, err
        assert sum(c["items"] for c in document["clusters"]) == items
        assert sum(c["items_with_data"] for c in document["clusters"]) == items
        assert sum(c["total_cost"] for c in document["clusters"]) == pytest.approx(total, rel=1e-6)
        assert sum(c["error_items"] for c in document["clusters"]) == len(range(0, items, 10))
        assert document["coverage"]["window_items"] == items
    assert len(sizes) == 1 and sizes.pop() <= MAX_QUERY_BYTES


@pytest.mark.engine
def test_live_overview_is_one_query_and_prints_what_the_saved_answer_prints(run_cli, live_env,
                                                                            localposthog_engine,
                                                                            ground_truth, tmp_path):
    from localposthog.answers import hogql_response

    run = next(r for r in ground_truth["runs"] if r["level"] == "trace" and r["job_name"])
    saved = tmp_path / "overview.json"
    saved.write_text(json.dumps(hogql_response(localposthog_engine.query(
        overview_query(run_target(run["run_id"]))))), encoding="utf-8")
    status, live, err = run_cli("--live", "--run-id", run["run_id"], "--overview", command="cluster_metrics")
    assert status == 0, err
    assert live == run_cli("aggregate", str(saved), command="cluster_metrics")[1]
    assert len([path for method, path in live_env.requests if method == "POST"]) == 1
    status, _, err = run_cli("--live", "--run-id", run["run_id"][:-4] + "dead", "--overview",
                             command="cluster_metrics")
    assert status == 5 and "found no clustering run" in err


@pytest.mark.engine
def test_aggregate_on_the_overview_equals_aggregate_on_the_per_item_path(run_cli, localposthog_engine,
                                                                         ground_truth, tmp_path):
    """For every run: the same figures, intervals and tests (the Welch tests from count, mean and
    variance equal those from every value), whichever path measured the run."""
    from llm_clusters.posthog.metrics_sql import server_side_query
    from llm_clusters.posthog.queries import load_run_sql
    from localposthog.answers import hogql_response

    def saved(sql: str, name: str) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(hogql_response(localposthog_engine.query(sql))), encoding="utf-8")
        return str(path)

    for run in ground_truth["runs"]:
        target = run_target(run["run_id"], run["level"])
        overview = saved(overview_query(target), "overview.json")
        run_file, items = saved(load_run_sql(run["run_id"]), "run.json"), saved(
            server_side_query(target, per_item=True), "items.json")
        argv = ["--format", "json", "--max-clusters", "0"]
        new = json.loads(run_cli("aggregate", overview, *argv, command="cluster_metrics")[1])
        old = json.loads(run_cli("aggregate", run_file, items, *argv, command="cluster_metrics")[1])
        assert [c["cluster_id"] for c in new["clusters"]] == [c["cluster_id"] for c in old["clusters"]]
        for mine, theirs in zip(new["clusters"], old["clusters"]):
            # (top_model is not compared: the per-item path takes the mode over items, the
            # server-side per-cluster query and the overview over generations)
            for key in ("items", "items_with_data", "cost_n", "latency_n", "error_items"):
                assert mine[key] == theirs[key], key
            for key in ("total_cost", "avg_cost", "avg_latency", "p50_latency", "p90_latency", "p95_latency",
                        "avg_tokens", "error_rate"):
                assert mine[key] == approx(theirs[key]), key
            for key, test in theirs["tests"].items():
                if test is None:
                    assert mine["tests"][key] is None, key
                else:
                    assert mine["tests"][key]["p_adjusted"] == pytest.approx(test["p_adjusted"],
                                                                             rel=1e-4, abs=1e-12)
                    assert mine["tests"][key]["significant"] == test["significant"]


HOSTILE_TITLES = ["[1,2] | not json", '{"a": 1} |x|', "it's \\ back\\", "line\nbreak\ttab\r",
                  "\x1b[31mred\x1b[0m", "é☃𝄞 " * 60, "(null)", "x' OR 1=1 -- "]


@pytest.mark.engine
def test_hostile_titles_and_descriptions_are_harmless(run_cli, tmp_path):
    from localposthog.answers import execute_sql_text
    from localposthog.engine import Engine

    run_id, _ = _synthetic_run(tmp_path, 200, clusters=len(HOSTILE_TITLES), titles=HOSTILE_TITLES)
    status, sql, _ = run_cli("sql", "--run-id", run_id, "--overview", command="cluster_metrics")
    engine = Engine(tmp_path)
    try:
        text = execute_sql_text(engine, sql)
        result = engine.query(sql)
    finally:
        engine.close()
    assert len(text.split("\n")) == 1 + len(HOSTILE_TITLES)  # a line per row, nothing cut
    assert "...truncated" not in text
    titles = [row[2] for row in result.rows]
    for title, hostile in zip(titles, HOSTILE_TITLES):
        assert "|" not in title and "\n" not in title and "\x1b" not in title
        assert title.replace(" ", "")[:20] == "".join(c for c in hostile if c not in "|\n\t\r\x1b ")[:20]
    saved = tmp_path / "overview.txt"
    saved.write_text(text, encoding="utf-8")
    run_cli.variables.update({"POSTHOG_HOST": "https://eu.posthog.com", "POSTHOG_PROJECT_ID": "12"})
    status, out, err = run_cli("aggregate", str(saved), "--format", "json", "--max-clusters", "0",
                               command="cluster_metrics")
    assert status == 0, err
    document = json.loads(out)
    assert sorted(c["cluster_id"] for c in document["clusters"]) == list(range(len(HOSTILE_TITLES)))
    assert "https://eu.posthog.com/project/12/" in document["findings"][0]
    status, out, err = run_cli(str(saved), "--format", "markdown", command="print_clusters")
    assert status == 0, err
    assert "\x1b" not in out and "Largest: cluster" in out


@pytest.mark.parametrize("groups", [[[1.0, 2.0, 4.0], [10.0], [3.5, 3.5, 8.0, 0.25]], [[5.0], []], [[], []]])
def test_pooled_sample_equals_the_sample_of_all_values(groups):
    from llm_clusters.analyse.stats import Sample

    pooled = Sample.pooled([Sample.of(values) for values in groups])
    whole = Sample.of([v for values in groups for v in values])
    assert pooled.n == whole.n
    assert pooled.mean == (None if whole.mean is None else pytest.approx(whole.mean))
    assert pooled.variance == (None if whole.variance is None else pytest.approx(whole.variance))


# HogQL's grammar keywords; as an alias only DATE, FIRST, ID and KEY are accepted.
HOGQL_KEYWORDS = set("""all and anti any array as ascending asof between both by case cast cohort \
collate cross
cube current desc descending distinct else end extract final for following from full group having is if
ilike in inner interval join last leading left like limit not nulls offset on or order outer over partition
preceding prewhere range return right rollup row rows sample select semi settings substring then ties
timestamp totals trailing trim truncate to top unbounded union using when where window with""".split())


def test_no_alias_is_a_hogql_keyword():
    import re

    from llm_clusters.posthog.drilldown_sql import drilldown_query

    for level in ("trace", "generation"):
        target = run_target(f"1_{level}_20260120_000014_019ba00d-8800-756b-9007-d44a55c23db7")
        for query in (overview_query(target), drilldown_query(target, 1, "time", 3, True)):
            aliases = {name.lower() for name in re.findall(r"\bAS ([A-Za-z_]\w*)", query)}
            assert aliases and not aliases & HOGQL_KEYWORDS, aliases & HOGQL_KEYWORDS


@pytest.mark.engine
def test_every_runs_overview_fits_execute_sql_with_truncate_on(localposthog_engine, ground_truth):
    from localposthog.answers import execute_sql_text

    for run in ground_truth["runs"]:
        text = execute_sql_text(localposthog_engine, overview_query(run_target(run["run_id"], run["level"])))
        assert "...truncated" not in text
        assert len(text) <= 1000 + 700 * len(run["clusters"]), (run["run_id"], len(text))
        assert len(text.split("\n")) == 1 + len(run["clusters"])  # one line a row: nothing split or cut
        assert max(len(cell) for line in text.split("\n") for cell in line.split("|")
                   if cell[:1] in "[{") <= 500
