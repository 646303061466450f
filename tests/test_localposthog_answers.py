"""Answers shaped like PostHog's: the execute-sql text, the files an agent persists, and the CLI."""

from __future__ import annotations

import io
import json

import pytest

from localposthog import __main__ as cli
from localposthog.answers import execute_sql_text, hogql_response, persist_execute_sql

pytestmark = pytest.mark.engine

CLUSTERS_SQL = ("SELECT JSONExtractString(properties, '$ai_clustering_run_id') AS run_id, "
                "JSONExtractRaw(properties, '$ai_clusters') AS clusters FROM events "
                "WHERE event = '$ai_trace_clusters' "
                "AND JSONExtractString(properties, '$ai_clustering_run_id') = '{}'")


def _latest_trace_run(ground_truth):
    return [r for r in ground_truth["runs"] if r["level"] == "trace"][-1]


def test_truncated_clusters_cell_is_marked(localposthog_engine, ground_truth):
    run = _latest_trace_run(ground_truth)
    text = execute_sql_text(localposthog_engine, CLUSTERS_SQL.format(run["run_id"]), truncate=True)
    header, row = text.split("\n")
    assert header == "run_id|clusters"
    run_id, cell = row.split("|", 1)
    assert run_id == run["run_id"]
    assert cell.endswith("...truncated") and len(cell) == 500 + len("...truncated")


def test_untruncated_clusters_cell_holds_every_cluster(localposthog_engine, ground_truth):
    run = _latest_trace_run(ground_truth)
    text = execute_sql_text(localposthog_engine, CLUSTERS_SQL.format(run["run_id"]), truncate=False)
    # Titles may contain '|', so only the first '|' of the row separates the two cells.
    clusters = json.loads(text.split("\n")[1].split("|", 1)[1])
    assert [(c["cluster_id"], c["title"], set(c["traces"])) for c in clusters] == [
        (c["cluster_id"], c["title"], set(c["items"])) for c in run["clusters"]]
    assert any("|" in c["title"] for c in clusters)


def test_nulls_print_as_null_marker(localposthog_engine):
    text = execute_sql_text(localposthog_engine, "SELECT properties.$ai_error AS error, event FROM events "
                                                 "WHERE event = '$ai_trace' LIMIT 2")
    assert text.split("\n")[1:] == ["(null)|$ai_trace", "(null)|$ai_trace"]


def test_an_empty_result_is_the_header_alone(localposthog_engine):
    assert execute_sql_text(localposthog_engine, "SELECT uuid, event FROM events WHERE 1 = 0") == "uuid|event"


def test_mcp_server_cut_is_applied_on_request(localposthog_engine, ground_truth):
    run = _latest_trace_run(ground_truth)
    text = execute_sql_text(localposthog_engine, CLUSTERS_SQL.format(run["run_id"]), truncate=False,
                            max_chars=2000)
    assert text.startswith("run_id|clusters\n") and text.endswith("get complete results.]")


@pytest.mark.parametrize("shape", ["content-blocks", "result", "plain"])
def test_persisted_file_holds_the_execute_sql_text(localposthog_engine, ground_truth, tmp_path, shape):
    run = _latest_trace_run(ground_truth)
    sql = CLUSTERS_SQL.format(run["run_id"])
    path = persist_execute_sql(localposthog_engine, sql, tmp_path, shape=shape, truncate=False, stamp_ms=17)
    assert path == tmp_path / "mcp-posthog-execute-sql-17.txt"
    raw = path.read_text(encoding="utf-8")
    text = {"content-blocks": lambda: json.loads(raw)[0]["text"], "result": lambda: json.loads(raw)["result"],
            "plain": lambda: raw}[shape]()
    assert text == execute_sql_text(localposthog_engine, sql, truncate=False)


def test_hogql_response_has_posthogs_fields(localposthog_engine):
    body = hogql_response(localposthog_engine.query("SELECT 1 AS one"))
    assert {"columns", "results", "types", "hasMore", "limit", "offset"} <= set(body)
    assert body["results"] == [[1]] and body["types"] == [["one", "UInt8"]]


def _run_cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def test_cli_query_prints_the_execute_sql_text(localposthog_data_dir, localposthog_engine):
    sql = "SELECT event, count() AS n FROM events GROUP BY event ORDER BY event"
    code, out, err = _run_cli("query", "--data", str(localposthog_data_dir), sql)
    assert code == 0 and err == ""
    assert out == execute_sql_text(localposthog_engine, sql) + "\n"


@pytest.mark.engine
def test_cli_query_reads_stdin_and_persists(localposthog_data_dir, tmp_path):
    code, out, _ = _run_cli("query", "--data", str(localposthog_data_dir), "--persist-dir", str(tmp_path),
                            "--shape", "result", "-", stdin="SELECT 1 AS one")
    path = out.strip()
    assert code == 0 and path.startswith(str(tmp_path))
    assert json.loads(open(path, encoding="utf-8").read()) == {"result": "one\n1"}


@pytest.mark.engine
def test_cli_query_error_is_a_message_not_a_traceback(localposthog_data_dir):
    code, out, err = _run_cli("query", "--data", str(localposthog_data_dir), "SELECT * FROM persons")
    assert code == 1 and out == ""
    assert err.startswith("error: query failed:") and "persons" in err and "Traceback" not in err


def test_cli_runs_lists_every_run(localposthog_data_dir, ground_truth):
    code, out, _ = _run_cli("runs", "--data", str(localposthog_data_dir), "--json")
    assert code == 0
    assert [r["run_id"] for r in json.loads(out)] == [r["run_id"] for r in ground_truth["runs"]]
    code, table, _ = _run_cli("runs", "--data", str(localposthog_data_dir))
    assert all(r["run_id"] in table for r in ground_truth["runs"])


def test_cli_build_rejects_a_bad_scale(tmp_path):
    code, _, err = _run_cli("build", "--out", str(tmp_path), "--scale", "0.01")
    assert code == 2 and "scale" in err
