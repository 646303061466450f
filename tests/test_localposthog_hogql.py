"""HogQL sugar is rewritten into ClickHouse without touching string literals, or refused clearly."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localposthog.hogql import QueryError, rewrite


def test_property_chain_becomes_a_json_read_named_like_hogql():
    sql = rewrite("SELECT properties.$current_url FROM events").sql
    assert ("JSONExtractRaw(properties, '$current_url')" in sql
            and sql.endswith("AS `$current_url` FROM events"))


def test_nested_and_table_qualified_chains():
    sql = rewrite("SELECT e.properties.$ai_input_state.topic AS t FROM events e").sql
    assert "JSONExtractRaw(e.properties, '$ai_input_state', 'topic')" in sql


def test_to_float_and_to_int_become_accurate_casts():
    sql = rewrite("SELECT toFloat(properties.$ai_latency), toInt(x) AS n FROM events").sql
    assert ("accurateCastOrNull(replaceRegexpAll(" in sql
            and "'Float64') AS `toFloat(properties.$ai_latency)`" in sql)
    assert "accurateCastOrNull(x, 'Int64') AS n" in sql


def test_clickhouse_functions_pass_through_verbatim():
    query = ("SELECT JSONExtractString(properties, '$ai_model') AS m, "
             "arrayJoin(JSONExtractArrayRaw(properties, '$ai_clusters')) AS c "
             "FROM events WHERE timestamp > toStartOfDay(toDateTime(0)) LIMIT 3")
    prepared = rewrite(query)
    assert prepared.sql == query and prepared.has_limit


def test_functions_printed_under_another_name_are_rewritten_as_posthog_prints_them():
    sql = rewrite("SELECT parseDateTimeBestEffort('2026-01-01T00:00:00.5+00:00') AS a, "
                  "parseDateTimeBestEffort(concat('2026', '-01-01'), 'UTC') AS b").sql
    assert sql == ("SELECT parseDateTime64BestEffortOrNull('2026-01-01T00:00:00.5+00:00', 6) AS a, "
                   "parseDateTime64BestEffortOrNull(concat('2026', '-01-01'), 6, 'UTC') AS b")


def test_ai_properties_are_read_where_posthog_stores_them():
    sql = rewrite("SELECT properties.$ai_trace_id, e.properties.$ai_trace_id AS t, properties.$ai_model, "
                  "properties.$ai_input FROM events AS e WHERE properties.$ai_trace_id IN ('x')").sql
    assert sql.startswith("SELECT `mat_$ai_trace_id` AS `$ai_trace_id`, e.`mat_$ai_trace_id` AS t, "
                          "replaceRegexpAll(nullIf(nullIf(properties_group_ai['$ai_model'], ''), 'null')")
    assert "nullIf(JSONExtractRaw(properties, '$ai_input'), '')" in sql  # prompts stay in the JSON only
    assert sql.endswith("WHERE `mat_$ai_trace_id` IN ('x')")


@pytest.mark.engine
def test_property_group_and_json_reads_agree_on_every_ai_property(localposthog_engine):
    keys = ("$ai_model", "$ai_total_cost_usd", "$ai_latency", "$ai_is_error", "$ai_input_tokens",
            "$ai_span_name")
    grouped = ", ".join(f"properties.{k}" for k in keys)
    raw = ", ".join(f"replaceRegexpAll(nullIf(nullIf(JSONExtractRaw(properties, '{k}'), ''), 'null'), "
                    "'^\"|\"$', '')" for k in keys)
    rows = localposthog_engine.query(f"SELECT {grouped}, {raw} FROM events WHERE event LIKE '$ai_%' "
                                     "ORDER BY uuid LIMIT 5000").rows
    assert len(rows) > 1000 and all(row[:len(keys)] == row[len(keys):] for row in rows)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_string_literals_are_never_rewritten(text):
    literal = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    sql = rewrite(f"SELECT properties.$ai_model = {literal}, toFloat({literal}) FROM events").sql
    assert literal in sql


def test_sugar_inside_strings_comments_and_quoted_names_is_left_alone():
    query = ("SELECT 'properties.$ai_model toFloat(1) now()' AS `properties.$x` "
             "-- properties.$y now()\nFROM events")
    assert rewrite(query, now=datetime(2026, 1, 22, tzinfo=timezone.utc)).sql == query


def test_the_clock_is_frozen_only_when_asked():
    assert rewrite("SELECT now() - INTERVAL 7 DAY AS t").sql == "SELECT now() - INTERVAL 7 DAY AS t"
    frozen = rewrite("SELECT now64(), today() AS d", now=datetime(2026, 1, 22, 6, tzinfo=timezone.utc)).sql
    assert frozen == ("SELECT toDateTime64('2026-01-22 06:00:00.000000', 6, 'UTC') AS `now64()`, "
                      "toDate('2026-01-22') AS d")


@pytest.mark.parametrize("query, named", [
    ("SELECT person.properties.email FROM events", "person"),
    ("SELECT * FROM events WHERE {filters}", "placeholder"),
    ("SELECT * FROM file('/etc/passwd')", "file()"),
    ("SELECT * FROM url('http://example.com')", "url()"),
    ("DROP TABLE events", "only SELECT"),
    ("SELECT 1; SELECT 2", "multiple statements"),
    ("SELECT 1 FORMAT JSON", "FORMAT"),
    ("SELECT 1 SETTINGS max_threads = 1", "SETTINGS"),
    ("SELECT 'unterminated", "unterminated"),
    ("SELECT (1", "parentheses"),
    ("", "empty"),
])
def test_unsupported_constructs_are_named(query, named):
    with pytest.raises(QueryError, match=named.replace("(", r"\(").replace(")", r"\)")):
        rewrite(query)


@pytest.mark.parametrize("query, has_limit", [
    ("SELECT 1", False),
    ("SELECT 1 LIMIT 5", True),
    ("SELECT 1 LIMIT 5 OFFSET 10", True),
    ("SELECT a FROM t LIMIT 1 BY a", False),
    ("SELECT a FROM (SELECT a FROM t LIMIT 3)", False),
    ("SELECT 'LIMIT 3'", False),
])
def test_outer_limit_detection(query, has_limit):
    assert rewrite(query).has_limit is has_limit


def test_trailing_semicolon_is_accepted():
    assert rewrite("SELECT 1;").sql == "SELECT 1"
