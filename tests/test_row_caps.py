"""Results silently cut by PostHog's row limits are called out: 100 rows without a LIMIT,
`hasMore`, or 50,000 rows; a deliberate `LIMIT 100` is not."""

from __future__ import annotations

import json

import pytest

from llm_clusters.read.truncation import row_cap_warning
from localposthog.mcp_format import format_execute_sql, persisted_content
from payloads import raw_json

COMMAND = "print_clusters"  # what the run_cli fixture runs

COLUMNS = ["run_id", "clusters"]


def _rows(count: int) -> list[list]:
    cluster = [{"cluster_id": 0, "size": 1, "title": "T", "traces": {"t": {"rank": 0}}}]
    return [[f"1_trace_202601{1 + day // 24:02d}_{day % 24:02d}0000", cluster] for day in range(count)]


@pytest.mark.parametrize("rows, warned", [(99, False), (100, True), (101, False)])
def test_an_execute_sql_table_of_exactly_100_rows_is_flagged(run_cli, tmp_path, rows, warned):
    path = tmp_path / "runs.txt"
    path.write_text(persisted_content(format_execute_sql(COLUMNS, [raw_json(r) for r in _rows(rows)],
                                                         truncate=False)))
    for flags in ((), ("--list-runs",), ("--format", "json")):
        out = run_cli.output(path, *flags)
        assert ("default row limit probably cut it" in out) is warned, flags
        assert ("Add LIMIT N" in out) is warned


def _response(rows: int, **extra) -> dict:
    return {"columns": COLUMNS, "results": _rows(rows), "types": [], **extra}


@pytest.mark.parametrize("response, words", [
    (_response(100), "default row limit probably cut it"),
    (_response(100, query={"kind": "HogQLQuery", "query": "SELECT … FROM events"}),
     "default row limit probably cut it"),
    (_response(3, hasMore=True), "marked the result as cut (hasMore) after 3 rows"),
    (_response(100, query={"kind": "HogQLQuery", "query": "SELECT … LIMIT 100"}), None),
    (_response(100, hasMore=False, query="select … limit 100"), None),
])
def test_a_hogql_response_is_flagged_from_its_own_signs(run_cli, tmp_path, response, words):
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(response))
    out = run_cli.output(path, "--list-runs")
    if words:
        assert "Warning:" in out and words in out
    else:
        assert "Warning:" not in out


def test_the_row_limits_themselves():
    assert row_cap_warning(50_000, query="SELECT 1 LIMIT 50000").startswith("the result has 50,000 rows")
    assert row_cap_warning(100, query="SELECT 1 LIMIT 100") is None
    assert row_cap_warning(100, query="SELECT 'LIMIT' FROM t") is not None
    assert row_cap_warning(7) is None
