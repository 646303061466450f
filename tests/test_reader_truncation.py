"""A result cut on its way to the file is reported as cut (exit 4), never read as data."""

from __future__ import annotations

import json

import pytest

from llm_clusters.errors import ClusterToolError, ExitStatus, TruncatedInput
from localposthog.mcp_format import (
    MCP_CUT_NOTICE,
    TRUNCATED_MARKER,
    cut_like_mcp_server,
    persisted_content,
)
from payloads import (
    content_blocks,
    execute_sql,
    expected_run,
    hogql_response,
    read_text,
    run_id_for,
    standard_props,
    summary,
)

SHAPES = ("content-blocks", "result", "plain")


def _props(n=2, items=30):
    return [standard_props(items=items, run_id=run_id_for(date=f"202601{20 + i}"),
                           window_end=f"2026-01-{20 + i}T00:00:00+00:00") for i in range(n)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("null", ["(null)", "None"])
def test_truncated_cell_says_truncate_false(shape, null):
    text = execute_sql(_props(1), truncate=True, null=null)
    assert TRUNCATED_MARKER in text
    with pytest.raises(TruncatedInput) as info:
        read_text(persisted_content(text, shape))
    assert "truncate: false" in info.value.message
    assert info.value.status == ExitStatus.TRUNCATED == 4


def test_truncated_cell_in_a_later_row_only():
    runs = _props(2)
    text = execute_sql(runs[:1]) + "\n" + execute_sql(runs[1:], truncate=True).split("\n", 1)[1]
    with pytest.raises(TruncatedInput, match="truncate: false"):
        read_text(text)


def test_truncated_cell_in_a_hogql_response_string():
    # Someone pasted the truncated text into a JSON string cell.
    props = _props(1)[0]
    cut = json.dumps(props["$ai_clusters"])[:500] + TRUNCATED_MARKER
    doc = json.dumps({"columns": ["run_id", "clusters"], "results": [[props["$ai_clustering_run_id"], cut]]})
    with pytest.raises(TruncatedInput):
        read_text(doc)


def _cut_points(text):
    """Places to cut the table: inside the first JSON cell, inside a title, at a row boundary."""
    header_end = text.index("\n")
    second_row = text.index("\n", header_end + 1)
    json_start = text.index("[{", header_end)
    title = text.index('"title"', json_start)
    return {
        "mid-json": json_start + 1000,
        "mid-title": title + 12,
        "mid-escape": text.index("\\n", json_start) + 1,
        "row-boundary": second_row,
        "row-boundary-after-newline": second_row + 1,
        "mid-second-row-plain": second_row + 10,
    }


@pytest.mark.parametrize("style", ["old", "new", "preview"])
@pytest.mark.parametrize("where", ["mid-json", "mid-title", "mid-escape", "row-boundary",
                                   "row-boundary-after-newline", "mid-second-row-plain"])
@pytest.mark.parametrize("shape", SHAPES)
def test_mcp_server_cut(style, where, shape):
    text = execute_sql(_props(2))
    cut_at = _cut_points(text)[where]
    cut = cut_like_mcp_server(text, cut_at, style=style)
    assert len(cut) > cut_at
    with pytest.raises(TruncatedInput) as info:
        read_text(persisted_content(cut, shape))
    assert "cut" in info.value.message
    assert "fewer rows" in info.value.message or "narrow" in info.value.message


@pytest.mark.parametrize("style", ["old", "new", "preview"])
def test_mcp_server_cut_of_a_hogql_json_text(style):
    text = hogql_response(_props(2))
    cut = cut_like_mcp_server(text, len(text) // 2, style=style)
    with pytest.raises(TruncatedInput, match="cut"):
        read_text(persisted_content(cut))


def test_mcp_cut_right_after_the_header():
    text = execute_sql(_props(1))
    cut = cut_like_mcp_server(text, text.index("\n"), style="old")
    with pytest.raises(TruncatedInput):
        read_text(cut)


def test_notice_alone():
    with pytest.raises(TruncatedInput):
        read_text(persisted_content(MCP_CUT_NOTICE))


@pytest.mark.parametrize("fraction", [0.001, 0.1, 0.37, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("kind", ["blocks-pipe", "blocks-hogql", "result-pipe", "hogql", "properties",
                                  "blocks-pipe-several", "call-result"])
def test_json_that_simply_stops(kind, fraction):
    runs = _props(2)
    whole = {
        "blocks-pipe": lambda: persisted_content(execute_sql(runs)),
        "blocks-hogql": lambda: persisted_content(hogql_response(runs, json_as_string=True)),
        "result-pipe": lambda: persisted_content(execute_sql(runs), "result"),
        "hogql": lambda: hogql_response(runs),
        "properties": lambda: json.dumps(runs[0]),
        "blocks-pipe-several": lambda: content_blocks(execute_sql(runs[:1]), execute_sql(runs[1:])),
        "call-result": lambda: json.dumps({"isError": False,
                                           "content": [{"type": "text", "text": execute_sql(runs)}]}),
    }[kind]()
    cut = whole[: max(1, int(len(whole) * fraction))]
    with pytest.raises(TruncatedInput) as info:
        read_text(cut)
    assert info.value.status == 4


def test_content_blocks_cut_just_before_the_closing_bracket():
    whole = persisted_content(execute_sql(_props(1)))
    assert whole.endswith('"}]')
    for end in (1, 2, 3):
        with pytest.raises(TruncatedInput):
            read_text(whole[:-end])


def test_pipe_table_cut_at_the_end_of_a_json_cell_is_not_data():
    # The cut falls exactly after a complete clusters cell: what remains of the row is missing.
    runs = _props(1)
    text = execute_sql(runs)
    end = text.index("]|", text.index("[{")) + 1
    with pytest.raises(ClusterToolError):
        read_text(persisted_content(text[:end]))


def test_whole_file_reads_where_cuts_fail():
    # The control for the cut tests: the same inputs uncut read back fine.
    runs = _props(2)
    for text in (persisted_content(execute_sql(runs)), hogql_response(runs), json.dumps(runs[0])):
        result = read_text(text)
        assert summary(result.runs[0]) == expected_run(runs[0])


@pytest.mark.parametrize("columns", [("run_id", "clusters", "params"), ("run_id", "clusters")])
@pytest.mark.parametrize("row", [0, 1])
@pytest.mark.parametrize("fraction", [0.0001, 0.3, 0.7, 0.9999])
def test_plain_table_that_stops_inside_a_json_cell(columns, row, fraction):
    # No notice, no envelope: the text simply stops inside the clusters cell of a row. Even when
    # an earlier row is whole, the cut row must not be dropped with a mere note.
    text = execute_sql(_props(2), columns=columns)
    line_start = [i + 1 for i, c in enumerate(text) if c == "\n"][row]
    start = text.index("[{", line_start)
    end = text.index("]|", start) if "params" in columns else text.find("\n", start) % (len(text) + 1)
    cut = text[: start + max(1, int((end - start) * fraction))]
    with pytest.raises(TruncatedInput):
        read_text(cut)


@pytest.mark.parametrize("escape", ["\\ud83d", "\\ude00", "\\ude00\\ud83d"])
@pytest.mark.parametrize("layer", ["blocks-pipe", "hogql", "blocks-hogql-string"])
def test_lone_surrogate_escapes_never_crash(escape, layer):
    # JSON allows a lone surrogate escape; it is not Unicode. Either the run is read (the odd
    # character replaced) or the reader says why it cannot be; never a UnicodeDecodeError.
    props = standard_props()
    props["$ai_clusters"][0]["title"] = "TITLE"
    whole = {"blocks-pipe": lambda: persisted_content(execute_sql([props])),
             "hogql": lambda: hogql_response([props]),
             "blocks-hogql-string": lambda: persisted_content(
                 hogql_response([props], json_as_string=True))}[layer]()
    assert whole.count("TITLE") == 1
    text = whole.replace("TITLE", "T" + escape + "E")
    try:
        result = read_text(text)
    except ClusterToolError as exc:
        assert exc.status == ExitStatus.UNREADABLE and "surrogate" in exc.message
    else:
        title = result.runs[0].clusters[0].title
        assert title.startswith("T") and title.endswith("E")
        assert summary(result.runs[0])["clusters"][1:] == expected_run(props)["clusters"][1:]


def test_lone_surrogate_in_a_plain_text_cell_becomes_a_replacement_character():
    props = standard_props(job_name="X")
    text = persisted_content(execute_sql([props])).replace("X", "A\\ud83dB", 1)
    run = read_text(text).runs[0]
    assert run.job_name == "A\ufffdB"
    run.job_name.encode("utf-8")  # printable


def test_posthogs_row_preview_notice_is_truncation():
    # PostHog's formatter, over its result budget, drops whole rows and says so on a last line
    lines = execute_sql(_props(2)).split("\n")
    preview = "\n".join(lines[:2]) + ("\n[SQL result preview: Showing 1 of 2 returned rows. Omitted rows or "
                                      "shortened cells are not evidence of missing data.]")
    with pytest.raises(TruncatedInput, match="SQL result preview"):
        read_text(persisted_content(preview))
