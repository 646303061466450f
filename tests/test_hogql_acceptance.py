"""Every query the skill can send is HogQL that PostHog accepts, on older versions too, and can
optimise; and the local engine refuses, in PostHog's words, what PostHog refuses.

The queries come from every query builder in the library (found by name: public functions
ending in `_sql`, `_query` or `_queries`; a new one that no case below covers fails the
coverage test), the SQL blocks of SKILL.md and references/, and what the scripts print.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import io
import json
import pkgutil
import re
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

if importlib.util.find_spec("hogql_parser") is None:
    pytest.skip("needs PostHog's parser: pip install -e '.[test]'", allow_module_level=True)

import llm_clusters  # noqa: E402
from cli_runner import CliRunner  # noqa: E402
from documented_sql import sql_blocks  # noqa: E402
from hogql_policy import narrowed_before_join, problems, recent_only_names  # noqa: E402
from llm_clusters.analyse import compare_inputs  # noqa: E402
from llm_clusters.posthog import (
    compare_sql,  # noqa: E402
    drilldown_sql,  # noqa: E402
    metrics_sql,  # noqa: E402
    overview_sql,  # noqa: E402
    queries,  # noqa: E402
)
from localposthog.hogql import QueryError  # noqa: E402
from localposthog.hogql_check import FunctionTables, check_query  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOSTILE_ID = "1_trace_20260120_000014_it's \\' ) UNION SELECT 1 -- {x} \n☃"
RUN_ID = "1_trace_20260120_000014_019ba00d-8800-756b-9007-d44a55c23db7"
WINDOW = (datetime(2026, 1, 13, 0, 0, 14, 345678, tzinfo=timezone.utc),
          datetime(2026, 1, 20, 0, 0, 14, 345678, tzinfo=timezone.utc))


def _targets():
    return [metrics_sql.run_target(RUN_ID), metrics_sql.run_target(RUN_ID.replace("trace", "generation")),
            metrics_sql.run_target(HOSTILE_ID, "trace", *(w.isoformat() for w in WINDOW))]


# Each query builder of the library, with the calls that give every shape of query it builds.
BUILDER_CASES = {
    "queries.list_runs_sql": lambda: [queries.list_runs_sql(), queries.list_runs_sql(30, "generation", 10)],
    "queries.load_run_sql": lambda: [queries.load_run_sql(RUN_ID), queries.load_run_sql(HOSTILE_ID),
                                     queries.load_run_sql("no date in it", days=3)],
    "queries.latest_run_sql": lambda: [queries.latest_run_sql("trace"),
                                       queries.latest_run_sql("generation", 2)],
    "queries.last_runs_sql": lambda: [queries.last_runs_sql("trace", 6), queries.last_runs_sql(
        "generation", 3, 14, job_id="it's"), queries.last_runs_sql("trace", 2, job_id="")],
    "queries.runs_in_range_sql": lambda: [
        queries.runs_in_range_sql(date(2026, 1, 15), date(2026, 1, 22)),
        queries.runs_in_range_sql(date(2026, 1, 20), date(2026, 1, 20), "it's")],
    "metrics_sql.server_side_query": lambda: [metrics_sql.server_side_query(t, per_item)
                                              for t in _targets() for per_item in (False, True)],
    "metrics_sql.window_totals_query": lambda: [metrics_sql.window_totals_query(t, WINDOW)
                                                for t in _targets()],
    "metrics_sql.in_list_queries": lambda: [q for t in _targets() for q in metrics_sql.in_list_queries(
        t, ["a", "it's", HOSTILE_ID, *(f"{n:032x}" for n in range(300))], 4000, WINDOW)],
    "compare_sql.ids_sql": lambda: [compare_sql.ids_sql([RUN_ID, HOSTILE_ID]), compare_sql.ids_sql(
        [RUN_ID, "no date in it", RUN_ID.replace("trace", "generation")], days=3)],
    "compare_sql.previous_sql": lambda: [compare_sql.previous_sql(RUN_ID),
                                         compare_sql.previous_sql(HOSTILE_ID)],
    "compare_sql.last_sql": lambda: [compare_sql.last_sql(6, "it's"),
                                     compare_sql.last_sql(3, level="generation"),
                                     compare_sql.last_sql(2, "", days=30)],
    "compare_inputs.comparison_sql": lambda: [
        compare_inputs.comparison_sql([RUN_ID], True, None, None, None, 7),
        compare_inputs.comparison_sql([RUN_ID, HOSTILE_ID], False, None, None, None, 7),
        compare_inputs.comparison_sql(None, False, 5, None, "job", 7)],
    "overview_sql.overview_query": lambda: [overview_sql.overview_query(t) for t in _targets()],
    "drilldown_sql.drilldown_query": lambda: [
        drilldown_sql.drilldown_query(t, cluster, sort, 5, errors_only) for t in _targets()
        for cluster, sort, errors_only in ((0, "rank", False), (-1, "cost", True), (3, "latency", False),
                                           (1, "errors", True), (2, "time", False))],
}


# Functions whose names look like query builders but build no SQL.
NOT_SQL = {"links.encode_query": "a URL's query string",
           "truncation.response_query": "reads a response's query",
           "overview_sql.rounded_sql": "an expression inside the overview query"}


def _discovered_builders() -> set[str]:
    found = set()
    for module_info in pkgutil.walk_packages(llm_clusters.__path__, "llm_clusters."):
        module = importlib.import_module(module_info.name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if (function.__module__ == module.__name__ and not name.startswith("_")
                    and re.search(r"_(sql|query|queries)$", name)):
                found.add(f"{module.__name__.rsplit('.', 1)[-1]}.{name}")
    return found


def _cli_queries() -> list[str]:
    """What the scripts print as SQL, split into single queries (comment lines dropped)."""
    run_file = ROOT / "examples" / "trace_run.execute-sql.txt"
    commands = [
        ("cluster_metrics", ["sql", "--run-id", RUN_ID]),
        ("cluster_metrics", ["sql", "--run-id", RUN_ID, "--per-item"]),
        ("cluster_metrics", ["sql", "--run-file", str(run_file)]),
        ("cluster_metrics", ["sql", "--run-file", str(run_file), "--window-totals"]),
        ("cluster_metrics", ["sql", "--run-file", str(run_file), "--in-list", "--max-query-bytes", "3000"]),
        ("cluster_metrics", ["sql", "--run-id", RUN_ID, "--overview"]),
        ("cluster_metrics", ["sql", "--run-id", RUN_ID, "--cluster", "2", "--errors-only", "--sort", "cost"]),
        ("compare_runs", ["sql", "--run-id", RUN_ID, "--previous"]),
        ("compare_runs", ["sql", "--run-id", RUN_ID, "--run-id", HOSTILE_ID]),
        ("compare_runs", ["sql", "--last", "6", "--job-id", "019ba00d-8800-756b-9007-d44a55c23db7"]),
    ]
    run = CliRunner(None)
    printed = [run.output(*argv, command=command) for command, argv in commands]
    link = "https://us.posthog.com/project/1/llm-analytics/clusters/" + RUN_ID
    out = run.output("parse", link, command="link_builder")
    printed.append(re.search(r"\n(    SELECT\n.*?\n    LIMIT \d+)\n", out, re.DOTALL).group(1))
    return [block.strip() for text in printed
            for block in re.split(r"\n\s*\n", "\n".join(line for line in text.splitlines()
                                                         if not line.lstrip().startswith("--")))
            if block.strip()]


def _all_queries() -> list[tuple[str, str]]:
    cases = [(name, sql) for name, build in BUILDER_CASES.items() for sql in build()]
    cases += [(f"printed by a script #{n}", sql) for n, sql in enumerate(_cli_queries())]
    cases += [(f"{doc} sql block", sql) for doc, sql in sql_blocks()]
    return cases


ALL_QUERIES = _all_queries()


def test_every_query_builder_in_the_library_is_covered():
    assert _discovered_builders() - set(NOT_SQL) == set(BUILDER_CASES)


def test_the_cases_reach_every_place_queries_come_from():
    sources = {name.split(" #")[0].split(" sql block")[0] for name, _ in ALL_QUERIES}
    assert {"printed by a script", "SKILL.md", "sql-cookbook.md", *BUILDER_CASES} <= sources
    assert len(ALL_QUERIES) > 40


@pytest.mark.parametrize("source, sql", ALL_QUERIES, ids=[f"{n}:{s}" for n, (s, _) in enumerate(ALL_QUERIES)])
def test_query_is_accepted_portable_and_optimisable(source, sql):
    tree = check_query(sql, allow_placeholders=True)
    assert recent_only_names(tree) == [], f"{source}: names only recent PostHog versions have"
    assert problems(tree) == [], source
    assert narrowed_before_join(tree) == [], source


# --- the validator and the engine refuse what PostHog refuses --------------------------------

PLANTED = [
    ("SELECT sumz(1) FROM events", "Unsupported function call 'sumz(...)'. Perhaps you meant 'sum(...)'?"),
    ("SELECT JSONExtractKeys(properties, 'a', 'b', 'c', 'd', 'e') FROM events",
     "Function 'JSONExtractKeys' expects at most 5 arguments, found 6"),
    ("SELECT if(event = 'x', 1) FROM events", "Function 'if' expects 3 arguments, found 2"),
    ("SELECT quantile(timestamp) FROM events",
     "Aggregation 'quantile' requires parameters in addition to arguments"),
    ("SELECT quantilesIf(0.5, 0.9)(timestamp, 1) FROM events",
     "Aggregation 'quantilesIf' expects 1 parameter"),
    ("SELECT sum(count()) FROM events",
     "Aggregation 'count' cannot be nested inside another aggregation 'sum'."),
    ("SELECT TODATETIME('2026-01-01') FROM events", "Unsupported function call 'TODATETIME(...)'"),
    ("SELECT e.event FROM events AS e RIGHT JOIN (SELECT 1 AS x) AS i ON e.team_id = i.x",
     "RIGHT JOIN is not accepted here"),
    ("SELECT e.event FROM events AS e FULL OUTER JOIN (SELECT 1 AS x) AS i ON e.team_id = i.x",
     "FULL OUTER JOIN is not accepted here"),
    ("SELECT event FROM events FINAL",
     "The FINAL keyword is not supported in HogQL as it causes slow queries"),
    ("SELECT event FROM events WHERE event = {name}", "Unresolved placeholder: {name}"),
    ("SELECT event FROM events LIMIT", "no viable alternative at input 'SELECT event FROM events LIMIT'"),
]


@pytest.mark.parametrize("sql, message", PLANTED)
def test_validator_refuses_with_posthogs_message(sql, message):
    with pytest.raises(QueryError) as refused:
        check_query(sql)
    assert str(refused.value).startswith(message)


@pytest.mark.engine
@pytest.mark.parametrize("sql, message", PLANTED)
def test_local_engine_refuses_before_clickhouse_runs_it(localposthog_engine, sql, message):
    with pytest.raises(QueryError) as refused:
        localposthog_engine.query(sql)
    assert str(refused.value).startswith(message)


@pytest.mark.engine
def test_query_api_answers_a_refused_query_with_posthogs_400(local_posthog):
    import httpx

    response = httpx.post(f"{local_posthog.url}/api/projects/{local_posthog.project_id}/query/",
                          headers={"Authorization": f"Bearer {local_posthog.api_key}"},
                          json={"query": {"kind": "HogQLQuery",
                                          "query": "SELECT sumOrNullIfz(1) FROM events"}})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error" and body["attr"] is None
    assert body["detail"].startswith("Unsupported function call 'sumOrNullIfz(...)'")


@pytest.mark.engine
def test_clickhouse_accepts_what_the_validator_refuses(localposthog_engine):
    """The point of the validator: chdb alone would have run these."""
    for sql in ("SELECT quantile(0.5)(number) FROM system.numbers LIMIT 1"
                .replace("system.numbers", "numbers(3)"),
                "SELECT toDateTime('2026-01-01') AS t"):
        assert localposthog_engine._run(sql)


def test_tables_name_their_source_commits():
    tables = FunctionTables.load()
    files = {entry["path"]: entry["commit"] for entry in tables.source["files"]}
    assert "posthog/hogql/functions/aggregations.py" in files
    assert re.fullmatch(r"[0-9a-f]{40}", files["posthog/hogql/functions/aggregations.py"])
    assert tables.lookup("nullIf").name == "nullif"  # registered lower-case, case-insensitive
    assert tables.lookup("NullIf").name == "nullif" and tables.lookup("TODATETIME") is None
    shipped = json.loads((ROOT / "localposthog" / "hogql_functions.json").read_text())
    assert shipped["functions"]["if"]["max_args"] == 3


def test_refresh_reads_the_tables_of_a_posthog_checkout(tmp_path, monkeypatch):
    """Against a stand-in checkout: PostHog's layout, a two-entry table, its files in git."""
    from localposthog import refresh_hogql_tables

    functions = tmp_path / "posthog" / "hogql" / "functions"
    functions.mkdir(parents=True)
    for package in (tmp_path / "posthog", tmp_path / "posthog" / "hogql", functions):
        (package / "__init__.py").write_text("")
    (functions / "mapping.py").write_text(
        "from dataclasses import dataclass\n"
        "@dataclass\nclass HogQLFunctionMeta:\n    clickhouse_name: str\n    min_args: int = 0\n"
        "    max_args: int | None = 0\n    min_params: int = 0\n    max_params: int | None = 0\n"
        "    aggregate: bool = False\n    case_sensitive: bool = True\n"
        "HOGQL_AGGREGATIONS = {'sum': HogQLFunctionMeta('sum', 1, 1, aggregate=True, case_sensitive=False)}\n"
        "HOGQL_CLICKHOUSE_FUNCTIONS = {'toFloat': HogQLFunctionMeta('accurateCastOrNull', 1, 1),\n"
        "                              'sum': HogQLFunctionMeta('plus', 2, 2)}\n"
        "HOGQL_POSTHOG_FUNCTIONS = {}\n")
    out = tmp_path / "tables.json"
    for name in [m for m in sys.modules if m == "posthog" or m.startswith("posthog.")]:
        monkeypatch.delitem(sys.modules, name)  # the parser's stand-ins; the checkout's package loads
    assert refresh_hogql_tables.main(["--posthog", str(tmp_path), "--out", str(out)]) == 0
    tables = FunctionTables(json.loads(out.read_text()))
    assert tables.lookup("SUM").table == "aggregation" and tables.lookup("sum").max_args == 1
    assert tables.lookup("toFloat").name == "toFloat" and tables.lookup("tofloat") is None
    assert {f["path"] for f in tables.source["files"]} >= {"posthog/hogql/functions/mapping.py"}


@pytest.mark.engine
def test_execute_sql_stand_in_prints_posthogs_refusal(localposthog_data_dir):
    from localposthog.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    status = main(["query", "--data", str(localposthog_data_dir),
                   "SELECT e.event FROM events AS e RIGHT JOIN (SELECT 1 AS x) AS i ON e.team_id = i.x"],
                  stdout=out, stderr=err)
    assert status == 1 and out.getvalue() == ""
    assert err.getvalue().startswith("error: query failed: RIGHT JOIN is not accepted here")
    assert "Traceback" not in err.getvalue()


def test_without_posthogs_parser_the_engine_says_how_to_install_it(monkeypatch):
    from localposthog import hogql_check

    monkeypatch.setattr(hogql_check.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(hogql_check.ParserUnavailable, match=r"pip install -e '\.\[test\]'"):
        hogql_check._load_parser()
