"""From the local PostHog to print_clusters.py, as an agent goes: SKILL.md's queries run on the
engine, the answer is printed as execute-sql prints it, saved as the coding agent saves it,
and read back to exactly the clusters the generator made."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from llm_clusters.model import ItemPolicy
from llm_clusters.posthog.queries import list_runs_sql, load_run_sql, runs_in_range_sql
from llm_clusters.read.reader import read_runs
from localposthog.answers import hogql_response, persist_execute_sql

COMMAND = "print_clusters"  # what the run_cli fixture runs

pytestmark = pytest.mark.engine

SKILL = (Path(__file__).resolve().parent.parent / "SKILL.md").read_text(encoding="utf-8")
SQL_BLOCKS = re.findall(r"```sql\n(.*?)```", SKILL, re.DOTALL)
LOAD_RUN_SQL = next(block for block in SQL_BLOCKS if "'{run_id}'" in block)
LIST_RUNS_SQL = SQL_BLOCKS[0]  # with {days}


def _load_run_sql(run: dict) -> str:
    end = run["window_end"][:19].replace("T", " ")
    return LOAD_RUN_SQL.replace("{run_id}", run["run_id"]).replace("{window_end}", end)


def test_skill_md_shows_exactly_the_queries_the_scripts_send():
    run_id = "1_trace_20260122_000016_019ba00d-8800-756b-9007-d44a55c23db7"
    assert LIST_RUNS_SQL.replace("{days}", "7") == list_runs_sql(7) + "\n"
    assert LIST_RUNS_SQL.replace("{days}", "11") == list_runs_sql(11) + "\n"
    several = next(block for block in SQL_BLOCKS if "{first_day}" in block)
    shown = (several.replace("{first_day}", "2026-01-15").replace("{last_day}", "2026-01-22")
             .replace("{job_id}", "j\\'1"))
    assert shown == runs_in_range_sql(date(2026, 1, 15), date(2026, 1, 22), "j'1") + "\n"
    shown = LOAD_RUN_SQL.replace("{run_id}", run_id).replace("{window_end}", "2026-01-22 00:00:16")
    assert shown == load_run_sql(run_id) + "\n"


def _generated_clusters(engine, run_id: str) -> list[dict]:
    """The `$ai_clusters` the generator wrote for `run_id`, straight from the engine's events."""
    result = engine.query(
        "SELECT properties FROM events WHERE event LIKE '$ai_%_clusters' AND "
        f"JSONExtractString(properties, '$ai_clustering_run_id') = '{run_id}' LIMIT 1")
    properties = result.rows[0][0]
    properties = json.loads(properties) if isinstance(properties, str) else properties
    clusters = properties["$ai_clusters"]
    return json.loads(clusters) if isinstance(clusters, str) else clusters


def _expected(clusters: list[dict]) -> list[tuple]:
    return sorted((c["cluster_id"], c["size"], c["title"], len(c["traces"])) for c in clusters)


def _best_ranked(clusters: list[dict], cluster_id: int, n: int) -> list[str]:
    traces = next(c["traces"] for c in clusters if c["cluster_id"] == cluster_id)
    return [key for key, _ in sorted(traces.items(), key=lambda kv: kv[1]["rank"])[:n]]


def test_every_generated_run_reads_back_through_the_skills_load_query(localposthog_engine, tmp_path):
    runs = localposthog_engine.runs
    assert len(runs) >= 8
    for run in runs:
        saved = persist_execute_sql(localposthog_engine, _load_run_sql(run), tmp_path,
                                    truncate=False, stamp_ms=len(list(tmp_path.iterdir())))
        result = read_runs(str(saved), ItemPolicy(default=2))
        assert [r.run_id for r in result.runs] == [run["run_id"]]
        read = result.runs[0]
        generated = _generated_clusters(localposthog_engine, run["run_id"])
        assert sorted((c.cluster_id, c.size, c.title, c.item_count) for c in read.clusters) == \
            _expected(generated)
        assert read.level == run["level"]
        for cluster in read.clusters:
            assert [i.key for i in cluster.items] == _best_ranked(generated, cluster.cluster_id, 2)


def test_with_truncate_on_the_same_answer_is_reported_as_truncated(run_cli, localposthog_engine, tmp_path):
    run = localposthog_engine.runs[-1]
    saved = persist_execute_sql(localposthog_engine, _load_run_sql(run), tmp_path, truncate=True,
                                stamp_ms=1)
    status, out, err = run_cli(saved)
    assert status == 4
    assert "truncate: false" in err and out == ""


def test_an_mcp_server_cut_is_reported_as_truncated(run_cli, localposthog_engine, tmp_path):
    run = localposthog_engine.runs[1]
    saved = persist_execute_sql(localposthog_engine, _load_run_sql(run), tmp_path, truncate=False,
                                max_chars=20_000, stamp_ms=2)
    status, _, err = run_cli(saved)
    assert status == 4
    assert "Response truncated" in err


def test_the_runs_listing_and_a_hogql_api_answer_read_as_runs(run_cli, localposthog_engine, tmp_path):
    listing = persist_execute_sql(localposthog_engine, LIST_RUNS_SQL.replace("{days}", "7"), tmp_path,
                                  truncate=False, stamp_ms=3)
    header = listing.read_text(encoding="utf-8")
    assert "run_id|level|job_id|job_name|window_end|total_items|clusters" in header
    run = localposthog_engine.runs[2]
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(hogql_response(localposthog_engine.query(_load_run_sql(run)))))
    document = json.loads(run_cli.output(answer, "--format", "json"))
    assert document["run"]["run_id"] == run["run_id"]
    generated = _generated_clusters(localposthog_engine, run["run_id"])
    assert sorted(c["cluster_id"] for c in document["clusters"]) == sorted(c["cluster_id"] for c in generated)


def test_the_several_runs_query_loads_a_jobs_runs_in_its_date_range(run_cli, localposthog_engine, tmp_path):
    from localposthog.answers import hogql_response

    daily = sorted((r for r in localposthog_engine.runs if r["level"] == "trace" and r["job_name"]),
                   key=lambda r: r["window_end"])[-4:]
    first, last = (date.fromisoformat(r["window_end"][:10]) for r in (daily[0], daily[-1]))
    result = localposthog_engine.query(runs_in_range_sql(first, last, daily[0]["job_id"]))
    path = tmp_path / "several.json"
    path.write_text(json.dumps(hogql_response(result)), encoding="utf-8")
    out = run_cli.output(path, "--list-runs", "--format", "json")
    assert sorted(r["run_id"] for r in json.loads(out)["runs"]) == sorted(r["run_id"] for r in daily)
