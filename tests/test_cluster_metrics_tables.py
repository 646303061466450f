"""table_reader.read_table: a metrics result in every saved shape, and the plain pipe-table fast path
giving exactly what the streaming reader gives."""

from __future__ import annotations

import io
import json

import pytest

from llm_clusters.errors import TruncatedInput, UnreadableInput
from llm_clusters.model import ItemPolicy
from llm_clusters.read.pipetable import read_pipe_table
from llm_clusters.read.table_reader import read_table
from llm_clusters.read.tables import cell_bool, cell_number
from llm_clusters.read.textsource import text_from_str
from localposthog.mcp_format import (
    MCP_CUT_NOTICE,
    format_execute_sql,
    persisted_content,
)

COLUMNS = ["cluster_id", "item", "has_data", "cost", "model"]
ROWS = [[0, "a", 1, 0.5, "gpt-4o"], [-1, "b", 0, None, None], [2, "c", True, 1e-7, "(null)"]]


def read_text(text: str):
    return read_table("-", io.BytesIO(text.encode("utf-8")))


@pytest.mark.parametrize("shape", ["content-blocks", "result", "plain"])
def test_every_envelope_of_a_pipe_table(shape):
    table = read_text(persisted_content(format_execute_sql(COLUMNS, ROWS), shape))
    assert table.columns == COLUMNS
    assert table.rows == [["0", "a", "1", "0.5", "gpt-4o"], ["-1", "b", "0", None, None],
                          ["2", "c", "True", "1e-07", "(null)"]]  # str(True), as PostHog prints it


def test_json_shapes():
    response = {"columns": COLUMNS, "results": ROWS, "types": []}
    assert read_text(json.dumps(response)).rows == ROWS
    assert read_text(persisted_content(json.dumps(response))).columns == COLUMNS
    objects = [dict(zip(COLUMNS, row)) for row in ROWS]
    assert read_text(json.dumps(objects)).rows == ROWS
    assert read_text(json.dumps(ROWS)).columns == [f"column_{i}" for i in range(1, 6)]
    with pytest.raises(UnreadableInput):
        read_text(json.dumps({"hello": 1}))


@pytest.mark.parametrize("text", [
    "a|b\n1|2\r\n3|4",  # CRLF
    "a|b\n1|x|y\n3|4",  # a `|` inside a value
    "a|b\n1|[1,2]\n3|{}",  # JSON cells
    "item|title\nk1|two\nlines\nk2|ok",  # a line break inside a value
    "a|b\n1|2\n\n3|(null)",  # a blank line
    "<taxonomy_warnings>\nx\n</taxonomy_warnings>\n\na|b\n1|2",
    "only\nx\ny",
])
def test_fast_path_gives_what_the_streaming_reader_gives(text):
    fast = read_text(text)
    body = text.split("</taxonomy_warnings>\n\n")[-1]
    slow = read_pipe_table(text_from_str(body), ItemPolicy(default=0), "test")
    assert (fast.columns, fast.rows) == (slow.columns, slow.rows)


def test_a_cut_table_is_reported():
    with pytest.raises(TruncatedInput):
        read_text(format_execute_sql(COLUMNS, ROWS) + "\n\n" + MCP_CUT_NOTICE)


def test_cells():
    assert ([cell_number(v) for v in ("1.5", 2, None, "", "nan", "x", True)]
            == [1.5, 2.0, None, None, None, None, 1.0])
    assert ([cell_bool(v) for v in ("1", "0", "true", "false", True, None, "2")]
            == [True, False, True, False, True, None, True])
