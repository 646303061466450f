"""SKILL.md's path from a pasted cluster link to an answer with links, followed as an agent
follows it: only the commands and queries the scripts print are run, on the local PostHog."""

from __future__ import annotations

import re
import shlex

import pytest

from localposthog.answers import persist_execute_sql

pytestmark = pytest.mark.engine


def _printed_commands(text: str, script: str) -> list[list[str]]:
    return [shlex.split(line.strip())[2:] for line in text.splitlines()
            if line.strip().startswith(f"python scripts/{script}.py")]


def test_from_a_pasted_cluster_link_to_an_answer_with_links(run_cli, local_posthog, localposthog_engine,
                                                            tmp_path):
    run = next(r for r in localposthog_engine.runs if r["run_id"].startswith("1_trace_20260122"))
    cluster = run["clusters"][2]
    link = f"{local_posthog.url}/project/{local_posthog.project_id}/llm-analytics/clusters/" \
           f"{run['run_id']}/{cluster['cluster_id']}"

    # 1. parse the link: it names the run and cluster, and prints the query and command to run
    parsed = run_cli.output("parse", link, command="link_builder")
    assert f"cluster {cluster['cluster_id']} of run {run['run_id']}" in parsed
    query = "\n".join(line[4:] for line in parsed.splitlines()
                      if line.startswith("    ") and not line.strip().startswith(("python ", "export ")))
    assert query.lstrip().startswith("SELECT") and query.rstrip().endswith("LIMIT 1")

    # 2. run the query as execute-sql with truncate: false; the agent's tool saves the answer
    saved = persist_execute_sql(localposthog_engine, query, tmp_path, truncate=False, stamp_ms=1)

    # 3. the printed print_clusters command, on the saved file, shows the cluster in depth
    (file_command, live_command) = _printed_commands(parsed, "print_clusters")
    file_argv = [str(saved) if word == "SAVED_FILE" else word for word in file_command]
    detail = run_cli.output(*file_argv, "--links", "--host", local_posthog.url,
                            "--project-id", str(local_posthog.project_id), command="print_clusters")
    assert f"Cluster {cluster['cluster_id']}: {cluster['title']}" in detail
    assert f"{cluster['size']} items" in detail
    best = min(cluster["items"].items(), key=lambda kv: kv[1]["rank"])[0]
    trace_links = re.findall(rf"{re.escape(local_posthog.url)}/project/1/llm-analytics/traces/\S+", detail)
    assert trace_links and best in trace_links[0]

    # 4. the live form of the same command gives the same view without the MCP server
    run_cli.variables["POSTHOG_PERSONAL_API_KEY"] = local_posthog.api_key
    live = run_cli.output(*live_command, command="print_clusters")
    assert live == (run_cli.output(*file_argv, command="print_clusters")
                    .replace(str(saved), "PostHog's answer"))

    # 5. each item shown links to its trace page, which link_builder reads back to the trace id
    trace = run_cli.output("parse", trace_links[0], command="link_builder")
    assert f"trace id: {best}" in trace and "posthog:query-llm-trace" in trace
