"""The execute-sql pipe table: odd characters in cells, nulls, warnings, line endings, many runs."""

from __future__ import annotations

import json

import pytest

from llm_clusters.errors import NoClustersFound, UnreadableInput
from llm_clusters.model import ItemPolicy
from llm_clusters.read.reader import choose_run
from localposthog.mcp_format import format_execute_sql, persisted_content
from payloads import (
    STANDARD_COLUMNS,
    execute_sql,
    expected_run,
    make_cluster,
    make_properties,
    raw_json,
    read_text,
    run_id_for,
    standard_props,
    summary,
)

NASTY_TITLES = [
    "Refunds | chargebacks",
    "ends with pipe |",
    "| starts with pipe",
    "a ]| b",
    "closing }|{ opening",
    '"]|"',
    "]",
    "}",
    '"quoted" and \\backslash\\ and \\"both\\"',
    "(null)",
    "None",
    "emoji 😀🎉 and astral 𝔘𝔫𝔦 and CJK 漢字",
    "line one\nline two|x",
    "tab\tand\rcarriage",
    "\\u0041 literal escape text",
    "[bug] login",
    "{not json",
    "",
]


def _roundtrip(props, **kwargs):
    text = persisted_content(execute_sql([props], **kwargs))
    result = read_text(text)
    assert [summary(r) for r in result.runs] == [expected_run(props)]
    return result


@pytest.mark.parametrize("title", NASTY_TITLES)
def test_odd_titles_inside_the_json_cell(title):
    clusters = [make_cluster(0, 3, title=title, description=f"desc {title}"),
                make_cluster(1, 2, title=title + "|")]
    _roundtrip(make_properties(clusters))


@pytest.mark.parametrize("job_name", [t for t in NASTY_TITLES
                                      if "\n" not in t and "\r" not in t and t != "None"])
def test_odd_text_in_a_plain_job_name_column(job_name):
    props = standard_props(job_name=job_name)
    if job_name in ("(null)",):
        # A literal "(null)" string is printed as "(null)" in quotes and must come back as text.
        assert '|"(null)"|' in execute_sql([props])
    result = _roundtrip(props)
    assert result.runs[0].job_name == (job_name or None)


def test_job_name_that_looks_like_a_table_of_its_own():
    props = standard_props(job_name="[a|b]|{c|d}")
    assert _roundtrip(props).runs[0].job_name == "[a|b]|{c|d}"


def test_multiline_job_name():
    props = standard_props(job_name="first line\nsecond line")
    assert _roundtrip(props).runs[0].job_name == "first line\nsecond line"


@pytest.mark.parametrize("null", ["(null)", "None"])
def test_null_cells(null):
    props = standard_props()
    props["$ai_clustering_job_id"] = None
    props["$ai_clustering_job_name"] = None
    props["$ai_clustering_params"] = None
    text = execute_sql([props], null=null)
    assert f"|{null}|{null}|" in text
    run = read_text(text).runs[0]
    assert run.job_id is None and run.job_name is None and run.params is None
    assert summary(run) == expected_run(props)


def test_null_clusters_cell_is_no_run():
    props = standard_props()
    props["$ai_clusters"] = None
    with pytest.raises(NoClustersFound, match="clusters"):
        read_text(execute_sql([props]))


def test_json_cell_with_pipes_and_brackets_in_every_string():
    cluster = make_cluster(0, 4, title="x]|y", description="- a ]|\n- b }|\n- c |]|}|")
    cluster["metrics"] = {"note": "]|", "avg_cost": 1.0}
    keys = ["]|key", "k|}", "plain", '"q"|']
    cluster["traces"] = {k: v for k, v in zip(keys, cluster["traces"].values())}
    for k in keys:
        cluster["traces"][k]["trace_id"] = k
    _roundtrip(make_properties([cluster, make_cluster(-1, 2, title="|")]))


@pytest.mark.parametrize("warnings", [
    [("taxonomy_warnings", "Event `$ai_trace_clusters` has no taxonomy entry | see docs")],
    [("taxonomy_warnings", "one"), ("canonical_metric_available", "<b>two</b>\n|a|b|"),
     ("other_warning", "")],
])
def test_warning_blocks_before_the_table(warnings):
    props = standard_props()
    result = _roundtrip(props, warnings=warnings)
    for tag, _ in warnings:
        assert any(f"<{tag}>" in note for note in result.notes)


def test_crlf_line_endings():
    a = standard_props(run_id=run_id_for(date="20260120"), window_end="2026-01-20T00:00:00+00:00",
                       job_name="with | pipe")
    b = standard_props(run_id=run_id_for(date="20260121"), window_end="2026-01-21T00:00:00+00:00")
    text = execute_sql([a, b], warnings=[("taxonomy_warnings", "w")]).replace("\n", "\r\n")
    for doc in (text, persisted_content(text)):
        result = read_text(doc)
        assert [summary(r) for r in result.runs] == [expected_run(a), expected_run(b)]


def test_crlf_after_a_plain_last_column():
    props = standard_props()
    columns = ("clusters", "run_id", "job_name")
    text = execute_sql([props, props], columns=columns).replace("\n", "\r\n")
    runs = read_text(text).runs
    assert [r.job_name for r in runs] == ["Default - traces"] * 2
    assert [r.run_id for r in runs] == [props["$ai_clustering_run_id"]] * 2


def test_utf8_bom():
    props = standard_props()
    for doc in (execute_sql([props]), persisted_content(execute_sql([props])),
                json.dumps(props)):
        assert summary(read_text("\ufeff" + doc).runs[0]) == expected_run(props)


def test_empty_result_names_the_columns():
    text = execute_sql([])
    assert text == "|".join(STANDARD_COLUMNS)
    with pytest.raises(NoClustersFound) as info:
        read_text(persisted_content(text))
    for column in ("run_id", "clusters", "window_end"):
        assert column in info.value.message
    assert info.value.status == 5


def _three_runs():
    return [standard_props(run_id=run_id_for(date=d), window_end=f"{d[:4]}-{d[4:6]}-{d[6:]}T00:00:00+00:00")
            for d in ("20260121", "20260123", "20260122")]


def test_several_rows_are_several_runs_and_the_newest_is_chosen():
    runs = _three_runs()
    result = read_text(persisted_content(execute_sql(runs)))
    assert [summary(r) for r in result.runs] == [expected_run(p) for p in runs]
    run, note = choose_run(result, None)
    assert run.run_id == runs[1]["$ai_clustering_run_id"]
    assert note and "3 runs" in note and "newest" in note


def test_newest_from_run_id_when_window_end_missing():
    runs = _three_runs()
    for p in runs:
        del p["$ai_window_end"]
    result = read_text(execute_sql(runs, columns=("run_id", "clusters")))
    assert choose_run(result, None)[0].run_id == runs[1]["$ai_clustering_run_id"]


def test_run_id_picks_and_unknown_run_id_lists_ids():
    runs = _three_runs()
    result = read_text(execute_sql(runs))
    wanted = runs[2]["$ai_clustering_run_id"]
    run, note = choose_run(result, wanted)
    assert run.run_id == wanted and note is None
    with pytest.raises(NoClustersFound) as info:
        choose_run(result, "1_trace_19990101_000000")
    for p in runs:
        assert p["$ai_clustering_run_id"] in info.value.message


def test_single_run_no_note():
    result = read_text(execute_sql([standard_props()]))
    assert choose_run(result, None)[1] is None


def test_unaliased_column_names():
    props = standard_props()
    header = ["JSONExtractString(properties, '$ai_clustering_run_id')",
              "JSONExtractString(properties, '$ai_clustering_level')",
              "properties.$ai_clustering_job_id",
              "JSONExtractString(properties, '$ai_clustering_job_name')",
              "JSONExtractString(properties, '$ai_window_start')",
              "JSONExtractString(properties, '$ai_window_end')",
              "JSONExtractInt(properties, '$ai_total_items_analyzed')",
              "JSONExtractRaw(properties, '$ai_clusters')",
              "JSONExtractRaw(properties, '$ai_clustering_params')"]
    text = execute_sql([props], header=header)
    assert summary(read_text(persisted_content(text)).runs[0]) == expected_run(props)


def test_columns_found_by_content_when_names_say_nothing():
    props = standard_props()
    columns = ("run_id", "level", "job_id", "window_start", "window_end", "total_items", "clusters", "params")
    text = execute_sql([props], columns=columns, header=[f"c{i}" for i in range(len(columns))])
    run = read_text(text).runs[0]
    want = expected_run(props)
    want["job_name"] = None
    assert summary(run) == want
    assert run.params == props["$ai_clustering_params"]
    assert run.window_start == props["$ai_window_start"]


def test_title_starting_with_bracket_in_plain_column_then_json():
    props = standard_props(job_name="[bug] login")
    columns = ("job_name", "clusters", "run_id")
    text = execute_sql([props], columns=columns)
    assert text.splitlines()[1].startswith("[bug] login|[{")
    run = read_text(text).runs[0]
    assert run.job_name == "[bug] login"
    assert run.run_id == props["$ai_clustering_run_id"]


def test_plain_text_cell_that_is_complete_json_stays_a_value():
    # A job name that is valid JSON is parsed as JSON by the table, but must not break the row.
    props = standard_props(job_name="[1, 2]")
    run = read_text(execute_sql([props], columns=("run_id", "job_name", "clusters"))).runs[0]
    assert run.run_id == props["$ai_clustering_run_id"]
    assert summary(run)["clusters"] == expected_run(props)["clusters"]


def test_blank_lines_and_trailing_newline():
    props = standard_props()
    text = execute_sql([props, props]).replace("\n", "\n\n") + "\n"
    assert len(read_text(text).runs) == 2


def test_numbers_in_cells_as_python_prints_them():
    props = standard_props()  # PostHog's formatter writes str(cell): a float keeps its ".0"
    text = format_execute_sql(["total_items", "clusters"], [raw_json([1500.0, props["$ai_clusters"]])],
                              truncate=False)
    assert text.splitlines()[1].startswith("1500.0|")
    assert read_text(text).runs[0].total_items == 1500


def test_item_policy_per_cluster():
    clusters = [make_cluster(0, 10), make_cluster(1, 10), make_cluster(-1, 10, ranks=list(range(9, -1, -1)))]
    props = make_properties(clusters)
    policy = ItemPolicy(default=2, per_cluster=((1, None), (-1, 4)))
    run = read_text(execute_sql([props]), policy).runs[0]
    assert [len(c.items) for c in run.clusters] == [2, 10, 4]
    assert [c.item_count for c in run.clusters] == [10, 10, 10]
    assert [i.rank for i in run.clusters[2].items] == [0, 1, 2, 3]
    assert summary(run) == expected_run(props, policy)


@pytest.mark.parametrize("job_name", ["a|[1]", "a|{}", "x|[1]|y", "[1]|[2]", "a|[1]|", 'a|["(null)"]',
                                      "a|(null)", "a|None|b", "[x|]", "[1,2]", '{"k":"v"}', "a||b"])
def test_job_name_pieces_that_look_like_json_or_null(job_name):
    # Split at its `|`, a piece of the name parses as JSON or reads as NULL; the name must be
    # put back together exactly and no other column touched.
    props = standard_props(job_name=job_name)
    result = _roundtrip(props)
    assert result.runs[0].job_name == job_name
    assert result.runs[0].run_id == props["$ai_clustering_run_id"]


def test_a_text_cell_reading_None_is_null():
    # Older servers print NULL as `None`, and no server quotes a text value "None": the two are
    # indistinguishable, so the reader takes `None` for NULL (a job literally named None is lost).
    props = standard_props(job_name="None")
    run = read_text(execute_sql([props])).runs[0]
    assert run.job_name is None
    assert summary(run)["clusters"] == expected_run(props)["clusters"]


def test_a_native_array_printed_as_python_repr_says_how_to_select_it():
    # execute-sql prints a native array column with str(): Python's repr, not JSON
    clusters = standard_props()["$ai_clusters"]
    text = format_execute_sql(["run_id", "clusters"], [["1_trace_20260125_000000", clusters]], truncate=False)
    with pytest.raises(UnreadableInput, match="Python's repr"):
        read_text(text)
