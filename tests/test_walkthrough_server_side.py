"""SKILL.md's server-side path, followed as an agent follows it on the local PostHog: four
questions answered with the small queries the scripts print, each sent as execute-sql with
its default `truncate: true` and read back inline (piped to the scripts on `-`), no run
downloaded and no filter written by hand.

  1. the most expensive cluster, and its error rate with an interval  (overview → aggregate)
  2. what changed since the previous run                              (comparison → compare_runs)
  3. three failed traces of that cluster, with links                  (drill-down → link_builder)
"""

from __future__ import annotations

import json
import re

import pytest

from localposthog.answers import execute_sql_text

pytestmark = pytest.mark.engine

INLINE_LIMIT = 25_000  # characters a coding agent shows inline before it saves a result to a file


def ask_posthog(engine, printed: str) -> str:
    """What execute-sql answers to the query a script printed (its comment lines are notes)."""
    query = "\n".join(line for line in printed.splitlines() if not line.startswith("--"))
    answer = execute_sql_text(engine, query)  # truncate: true, as the tool defaults
    assert "...truncated" not in answer and len(answer) < INLINE_LIMIT
    return answer


def test_four_questions_from_small_server_side_answers(run_cli, localposthog_engine, local_posthog):
    run_cli.variables.update({"POSTHOG_HOST": local_posthog.url,
                              "POSTHOG_PROJECT_ID": str(local_posthog.project_id)})
    run = [r for r in localposthog_engine.runs if r["level"] == "trace" and r["job_name"]][-1]
    truth = {c["cluster_id"]: c for c in run["clusters"]}

    # 1. overview: the findings name the most expensive cluster; the JSON view gives its error rate
    overview = ask_posthog(localposthog_engine, run_cli.output(
        "sql", "--run-id", run["run_id"], "--overview", command="cluster_metrics"))
    text = run_cli.output("aggregate", "-", stdin=overview.encode(), command="cluster_metrics")
    finding = re.search(r"^Most expensive in total: cluster (-?\d+) '([^']*)' (\S+), \$([\d.]+)", text, re.M)
    assert finding, text[:2000]
    regular = {cid: c for cid, c in truth.items() if cid != -1}
    costliest = max(regular.values(), key=lambda c: c["total_cost"] or 0)
    assert int(finding.group(1)) == costliest["cluster_id"]
    assert finding.group(3).endswith(f"/clusters/{run['run_id']}/{costliest['cluster_id']}")
    document = json.loads(run_cli.output("aggregate", "-", "--format", "json", stdin=overview.encode(),
                                         command="cluster_metrics"))
    row = next(c for c in document["clusters"] if c["cluster_id"] == costliest["cluster_id"])
    assert row["error_items"] == costliest["error_items"]
    assert row["error_rate"] == pytest.approx(costliest["error_rate"], rel=1e-9)
    low, high = row["error_rate_ci95"]
    assert low < row["error_rate"] < high and high - low < 0.5

    # 2. comparison with the previous run of the same job, found inside the query
    comparison = ask_posthog(localposthog_engine, run_cli.output(
        "sql", "--run-id", run["run_id"], "--previous", command="compare_runs"))
    report = run_cli.output("-", stdin=comparison.encode(), command="compare_runs")
    previous = [r for r in localposthog_engine.runs if r["job_id"] == run["job_id"]][-2]
    assert previous["run_id"] in report and run["run_id"] in report
    assert costliest["title"].split(" |")[0] in report

    # 3. three failed traces of that cluster, then one link per trace in one call
    failed = ask_posthog(localposthog_engine, run_cli.output(
        "sql", "--run-id", run["run_id"], "--cluster", str(costliest["cluster_id"]),
        "--errors-only", "--sort", "cost", "--limit", "3", command="cluster_metrics"))
    header, *rows = [line.split("|") for line in failed.splitlines()]
    traces = [dict(zip(header, cells)) for cells in rows]
    assert len(traces) == 3 and all(int(t["error_events"]) > 0 for t in traces)
    assert {t["item"] for t in traces} <= set(costliest["items"])
    stamps = [arg for t in traces for arg in ("--timestamp", t["first_event"])]
    links = run_cli.output("trace", *(t["trace_id"] for t in traces), *stamps, command="link_builder").split()
    assert len(links) == 3
    for link, trace in zip(links, traces):
        assert link.startswith(f"{local_posthog.url}/project/{local_posthog.project_id}"
                               "/llm-analytics/traces/")
        assert trace["trace_id"] in link and "timestamp=" in link
