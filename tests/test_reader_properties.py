"""Property-based: random runs in random layers read back the same; no input raises anything but
the reader's own errors."""

from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llm_clusters.read.textsource as textsource
from llm_clusters.errors import ClusterToolError
from llm_clusters.model import ItemPolicy
from llm_clusters.read.reader import read_runs_from
from localposthog.mcp_format import persisted_content
from payloads import (
    content_blocks,
    execute_sql,
    expected_run,
    hexid,
    hogql_response,
    item_entry,
    make_properties,
    read_text,
    summary,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any character a title can hold: everything but lone surrogates (not valid in UTF-8 files).
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
NASTY = st.sampled_from(list('|"\\\n\r\t[]{}()')
                        + ["]|", "}|", "\\u", "😀", "(null)", "None", "\x00", "\u2028"])
TEXT = st.lists(st.one_of(ANY_CHAR, NASTY), max_size=40).map("".join)


@st.composite
def clusters(draw):
    level = draw(st.sampled_from(["trace", "generation"]))
    ids = draw(st.lists(st.integers(0, 10_000), max_size=6, unique=True))
    if draw(st.booleans()):
        ids.append(-1)
    out = []
    for cluster_id in ids:
        count = draw(st.integers(0, 30))
        ranks = draw(st.lists(st.integers(0, 40), min_size=count, max_size=count))
        keys = draw(st.lists(st.one_of(TEXT, st.just(hexid(cluster_id))), min_size=count, max_size=count,
                             unique=True))
        traces = {}
        for index, (key, rank) in enumerate(zip(keys, ranks)):
            distance = draw(st.one_of(st.none(), st.floats(0, 10, allow_nan=False)))
            traces[key] = item_entry(rank, level=level, key=key, parent=hexid(index), distance=distance,
                                     old=draw(st.booleans()))
        out.append({
            "cluster_id": cluster_id,
            "size": len(traces),
            "title": draw(TEXT),
            "description": draw(TEXT),
            "traces": traces,
            "centroid": [] if cluster_id == -1 else [0.5, -1.25],
            "centroid_x": 0.0,
            "centroid_y": 1.0,
            "metrics": draw(st.one_of(st.none(), st.just({"avg_cost": 0.1, "error_rate": None,
                                                          "item_count": len(traces)}))),
        })
    return level, out


def _wrap(draw, document: str) -> str:
    shape = draw(st.sampled_from(["content-blocks", "result", "plain", "blocks-type-last",
                                  "blocks-raw-utf8"]))
    if shape == "blocks-type-last":
        return content_blocks(document, type_last=True)
    if shape == "blocks-raw-utf8":
        return json.dumps([{"type": "text", "text": document}], ensure_ascii=False)
    return persisted_content(document, shape)


JOB_NAME = TEXT.filter(lambda s: "\n" not in s and "\r" not in s and s != "None")


@given(data=st.data(), run=clusters(), job_name=JOB_NAME, limit=st.sampled_from([0, 1, 3, None]))
@SETTINGS
def test_random_runs_in_random_layers_read_back(data, run, job_name, limit):
    level, cluster_list = run
    props = make_properties(cluster_list, level=level, job_name=job_name)
    if not cluster_list:
        return  # an empty clusters array is covered by test_empty_clusters_array
    layer = data.draw(st.sampled_from(["pipe", "pipe-None", "hogql-native", "hogql-string"]))
    if layer == "pipe":
        document = execute_sql([props])
    elif layer == "pipe-None":
        document = execute_sql([props], null="None")
    else:
        document = hogql_response([props], json_as_string=layer == "hogql-string")
    text = _wrap(data.draw, document)
    policy = ItemPolicy(default=limit)
    result = read_text(text, policy)
    assert [summary(r) for r in result.runs] == [expected_run(props, policy)]


@given(data=st.data(), run=clusters(), chunk=st.sampled_from([1, 2, 3, 5, 8, 13]))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_runs_at_random_chunk_sizes(data, run, chunk):
    level, cluster_list = run
    if not cluster_list:
        return
    props = make_properties(cluster_list, level=level)
    text = _wrap(data.draw, execute_sql([props]))
    original = textsource.CHUNK_CHARS
    textsource.CHUNK_CHARS = chunk
    try:
        result = read_text(text)
    finally:
        textsource.CHUNK_CHARS = original
    assert [summary(r) for r in result.runs] == [expected_run(props)]


def test_empty_clusters_array():
    props = make_properties([])
    runs = read_text(execute_sql([props])).runs
    assert len(runs) == 1 and runs[0].clusters == []


def _read_bytes(data: bytes):
    return read_runs_from(textsource.text_from_binary(io.BytesIO(data), "fuzz"), ItemPolicy(), "fuzz")


def _only_own_errors(data: bytes):
    try:
        _read_bytes(data)
    except ClusterToolError as exc:
        assert exc.message and int(exc.status) in (3, 4, 5)


@given(st.binary(max_size=400))
@SETTINGS
def test_random_bytes_raise_only_reader_errors(data):
    _only_own_errors(data)


@given(st.lists(st.one_of(TEXT, st.sampled_from(['[{"type":"text","text":"', '{"result":"', '{"content":[',
                                                   '"}]', "|", "\n", "[{", '{"cluster_id":',
                                                   "<taxonomy_warnings>", "</taxonomy_warnings>",
                                                   '"traces":{', "\\", '\\"', "\\ud83d", "...truncated",
                                                   "[Response truncated", "clusters\n"])),
                max_size=30).map("".join))
@SETTINGS
def test_random_text_raises_only_reader_errors(text):
    _only_own_errors(text.encode("utf-8"))


_VALID = [
    persisted_content(execute_sql([make_properties([
        {"cluster_id": 0, "size": 1, "title": "a|b😀", "description": "",
         "traces": {"k": item_entry(0, key="k")}, "centroid": []}])])),
    hogql_response([make_properties([{"cluster_id": -1, "size": 1, "title": "t",
                                       "traces": {"k": item_entry(0, key="k")}}])],
                   json_as_string=True),
    persisted_content(hogql_response([make_properties([{"cluster_id": 3, "size": 0, "title": "x",
                                                        "traces": {}}])]),
                      "result"),
]


@given(st.sampled_from(_VALID), st.integers(0, 10_000), st.integers(0, 10_000),
       st.sampled_from(["cut", "delete", "insert", "replace"]), st.one_of(NASTY, ANY_CHAR))
@SETTINGS
def test_mutated_valid_inputs_raise_only_reader_errors(text, a, b, op, char):
    i, j = sorted((a % (len(text) + 1), b % (len(text) + 1)))
    mutated = {"cut": text[:i], "delete": text[:i] + text[j:], "insert": text[:i] + char + text[i:],
               "replace": text[:i] + char + text[i + 1:]}[op]
    _only_own_errors(mutated.encode("utf-8", "surrogatepass"))
