"""cluster_metrics.py --live against the local PostHog HTTP server (issue 6), and silent row caps
in every table cluster_metrics reads (issue 8)."""

from __future__ import annotations

import json
import re

import pytest

from llm_clusters.analyse import metrics_inputs
from llm_clusters.posthog.metrics_sql import run_target, server_side_query, window_totals_query
from llm_clusters.posthog.queries import load_run_sql
from llm_clusters.timestamps import parse_timestamp
from localposthog.answers import save_answer
from localposthog.mcp_format import format_execute_sql, persisted_content

COMMAND = "cluster_metrics"  # what the run_cli fixture runs

EXAMPLE_RUN = "examples/trace_run.execute-sql.txt"


# --- live mode --------------------------------------------------------------------------------

@pytest.mark.engine
@pytest.mark.parametrize("flags", [(), ("--format", "json", "--sort", "errors"), ("--format", "markdown",)])
def test_live_output_equals_file_output_on_the_same_data(run_cli, live_env, localposthog_engine, tmp_path,
                                                         flags):
    run = next(r for r in localposthog_engine.runs if r["window_item_count"] > r["total_items_analyzed"])
    target = run_target(run["run_id"], run["level"], run["window_start"], run["window_end"])
    window = (parse_timestamp(run["window_start"]), parse_timestamp(run["window_end"]))
    run_file = save_answer(localposthog_engine, load_run_sql(run["run_id"]), tmp_path / "run.json")
    items = save_answer(localposthog_engine, server_side_query(target, per_item=True),
                        tmp_path / "items.json")
    totals = save_answer(localposthog_engine, window_totals_query(target, window), tmp_path / "window.json")
    status, live, err = run_cli("--live", "--run-id", run["run_id"], "--window-totals", *flags)
    assert status == 0, err
    status, saved, err = run_cli("aggregate", run_file, items, "--window-totals", totals, *flags)
    assert status == 0, err
    assert live == saved
    assert "Window totals" in live or '"window_totals": {' in live
    queries = [path for method, path in live_env.requests if method == "POST"]
    assert len(queries) == 3  # run, per-item, window; then the job, for its event_filters
    # without --window-totals too, and `aggregate --live` is the same command
    status, live, err = run_cli("aggregate", "--live", "--run-id", run["run_id"], *flags)
    assert status == 0, err
    assert live == run_cli("aggregate", run_file, items, *flags)[1]


@pytest.mark.engine
def test_live_window_totals_check_the_jobs_event_filters(run_cli, live_env, localposthog_engine, monkeypatch):
    """The run does not record its job's filters; live mode reads them from the jobs API."""
    from llm_clusters.posthog.posthog_api import LiveError, PostHogClient

    run = next(r for r in localposthog_engine.runs if r["job_id"])
    filters = [{"key": "$ai_model", "value": "gpt-4o", "operator": "exact", "type": "event"}]
    monkeypatch.setattr(PostHogClient, "clustering_jobs", lambda self: [
        {"id": run["job_id"], "name": "GPT-4o only", "event_filters": filters}])
    status, out, err = run_cli("--live", "--run-id", run["run_id"], "--window-totals")
    assert status == 0, err
    assert out.splitlines()[1].startswith("Warning: job 'GPT-4o only' clusters only events matching")
    assert "$ai_model" in out.splitlines()[1] and "too high" in out.splitlines()[1]
    assert "Warning" not in run_cli("--live", "--run-id", run["run_id"])[1]  # no window totals, no check

    def refused(self):
        raise LiveError("the personal API key may not do this (403)")

    monkeypatch.setattr(PostHogClient, "clustering_jobs", refused)
    status, out, err = run_cli("--live", "--run-id", run["run_id"], "--window-totals")
    assert status == 0, err
    assert "Warning: could not read clustering job" in out and "all traffic at this level" in out


@pytest.mark.engine
def test_live_usage_errors_and_an_unknown_run(run_cli, live_env):
    assert run_cli("--live")[0] == 2  # no --run-id
    status, _, err = run_cli("aggregate", EXAMPLE_RUN, "--live", "--run-id", "x")
    assert status == 2 and "not both" in err
    status, out, err = run_cli("--live", "--run-id", "1_trace_20260101_000000")
    assert status == 5 and out == "" and "found no clustering run" in err
    assert live_env.api_key not in err


def test_file_mode_needs_the_window_file(run_cli):
    status, _, err = run_cli("aggregate", EXAMPLE_RUN, "--window-totals")
    assert status == 2 and "sql --window-totals" in err
    assert run_cli("aggregate")[0] == 2
    status, _, err = run_cli("sql", "--window-totals", "--run-id", "1_trace_20260120_000014")
    assert status == 2 and "--run-file" in err


# --- row caps ---------------------------------------------------------------------------------

ITEM_COLUMNS = ["cluster_id", "item", "has_data", "cost", "latency", "input_tokens", "output_tokens",
                "error_events", "model"]


def _item_rows(count: int) -> list[list]:
    return [[0, f"item-{i}", 1, 0.01, 1.0, 10, 5, 0, "gpt-4o"] for i in range(count)]


@pytest.mark.parametrize("rows, warned", [(99, False), (100, True), (101, False)])
def test_a_100_row_metrics_table_without_limit_is_flagged(run_cli, tmp_path, rows, warned):
    path = tmp_path / "items.txt"
    path.write_text(persisted_content(format_execute_sql(ITEM_COLUMNS, _item_rows(rows), truncate=False)))
    status, out, err = run_cli("aggregate", EXAMPLE_RUN, path)
    assert status == 0, err
    assert ("default row limit probably cut it" in out) is warned
    if warned:  # above the output, right under the heading
        assert out.splitlines()[1].startswith("Warning: ") and "Add LIMIT N" in out.splitlines()[1]
    status, out, _ = run_cli("aggregate", EXAMPLE_RUN, path, "--format", "json")
    assert bool(json.loads(out)["warnings"]) is warned


@pytest.mark.parametrize("response, warned", [
    ({"hasMore": True}, True),
    ({"query": {"kind": "HogQLQuery", "query": "SELECT … FROM events"}}, True),
    ({"query": {"kind": "HogQLQuery", "query": "SELECT … FROM events LIMIT 100"}}, False),
    ({"hasMore": False, "query": "select … limit 100"}, False),
])
def test_a_hogql_answer_is_flagged_from_its_own_signs(run_cli, tmp_path, response, warned):
    path = tmp_path / "items.json"
    path.write_text(json.dumps({"columns": ITEM_COLUMNS, "results": _item_rows(100), **response}))
    status, out, err = run_cli("aggregate", EXAMPLE_RUN, path, "--format", "json")
    assert status == 0, err
    assert bool(json.loads(out)["warnings"]) is warned, json.loads(out)["warnings"]


def test_a_window_totals_file_is_checked_too(run_cli, tmp_path):
    path = tmp_path / "window.json"
    path.write_text(json.dumps({"columns": ["items"], "results": [[5000]], "hasMore": True}))
    status, out, err = run_cli("aggregate", EXAMPLE_RUN, "--window-totals", path)
    assert status == 0, err
    assert "Warning: " in out and "hasMore" in out and "Window totals" in out


@pytest.mark.engine
def test_a_live_answer_cut_at_100_rows_is_flagged(run_cli, live_env, localposthog_engine, monkeypatch):
    """The live per-item query sets LIMIT 50000; were it to lack one, the cut answer would warn."""
    run = next(r for r in localposthog_engine.runs if r["window_item_count"] > r["total_items_analyzed"])
    status, out, err = run_cli("--live", "--run-id", run["run_id"])
    assert status == 0 and "Warning" not in out
    monkeypatch.setattr(metrics_inputs, "server_side_query", lambda target, per_item: re.sub(
        r"\nLIMIT \d+$|LIMIT \d+$", "", server_side_query(target, per_item)))
    status, out, err = run_cli("--live", "--run-id", run["run_id"])
    assert status == 0, err
    assert "Warning: PostHog's answer: PostHog marked the result as cut (hasMore) after 100 rows" in out


def test_every_query_the_script_prints_sets_its_own_limit(run_cli, tmp_path):
    """The outermost SELECT of each printed query ends with an explicit LIMIT."""
    queries = []
    for flags in ((), ("--per-item",), ("--window-totals",)):
        status, out, err = run_cli("sql", "--run-file", EXAMPLE_RUN, *flags)
        assert status == 0, err
        queries.append("\n".join(line for line in out.splitlines() if not line.startswith("--")))
    status, out, err = run_cli("sql", "--in-list", "--run-file", EXAMPLE_RUN, "--max-query-bytes", "4000")
    queries += [part.split("\n", 1)[1] for part in out.split("\n-- query ")[1:]]
    assert len(queries) > 4
    for query in queries:
        assert re.search(r"\bLIMIT \d+\s*$", query), query[-200:]
