"""Chunk boundaries anywhere: the same input read in pieces of 1, 2, 3, … characters reads the same.

`CHUNK_CHARS` sets both how many bytes a file read takes and how long the pieces of a string
layer are, so tiny values put escapes, `\\uXXXX`, surrogate pairs, `]|`, CRLF and content-block
boundaries across chunks. Also the item policy (top N by rank, all counted).
"""

from __future__ import annotations

import json

import pytest

import llm_clusters.read.textsource as textsource
from llm_clusters.model import ItemCollector, ItemPolicy
from localposthog.mcp_format import cut_like_mcp_server, persisted_content
from payloads import (
    content_blocks,
    execute_sql,
    expected_run,
    hogql_response,
    make_cluster,
    make_properties,
    read_text,
    run_id_for,
    summary,
)

CHUNKS = [1, 2, 3, 7, 64]

TITLES = ['emoji 😀 pair', '"q" \\ back\\\\slash', "a ]| b }|", "tab\t nl\n cr\r end", "\u2028 \x00 \x1f ctl",
          "𝔘𝔫𝔦𝔠𝔬𝔡𝔢|", "\\u0041 not an escape", "(null)"]


def _nasty_props(level="trace", date="20260123", job_name="job | 😀 \\ \"x\""):
    clusters = [make_cluster(i, 4 + i, level=level, title=t, description=t * 2, salt=i)
                for i, t in enumerate(TITLES)]
    clusters.append(make_cluster(-1, 5, level=level, ranks=[4, 2, 0, 3, 1], title="Outliers 😀"))
    return make_properties(clusters, level=level, run_id=run_id_for(level, date=date), job_name=job_name,
                           window_end=f"{date[:4]}-{date[4:6]}-{date[6:]}T00:00:00+00:00")


def _documents():
    a = _nasty_props()
    b = _nasty_props("generation", date="20260124", job_name="[bug] login|x")
    table = execute_sql([a, b], warnings=[("taxonomy_warnings", "w|x"), ("canonical_metric_available", "m")])
    return {
        "blocks-pipe": (persisted_content(table), [a, b]),
        "blocks-pipe-crlf": (persisted_content(table.replace("\n", "\r\n")), [a, b]),
        "plain-pipe-crlf-bom": ("\ufeff" + table.replace("\n", "\r\n"), [a, b]),
        "result-pipe": (persisted_content(table, "result"), [a, b]),
        "several-blocks": (content_blocks(execute_sql([a]), hogql_response([b], json_as_string=True)),
                           [a, b]),
        "blocks-hogql-string": (persisted_content(hogql_response([a, b], json_as_string=True)), [a, b]),
        "hogql-native": (hogql_response([a, b]), [a, b]),
        "event": (json.dumps({"event": "$ai_trace_clusters", "properties": a}), [a]),
        "ensure-ascii-false-blocks": (json.dumps([{"type": "text", "text": table}], ensure_ascii=False),
                                      [a, b]),
    }


DOCUMENTS = _documents()


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_chunk_size_does_not_change_the_result(name, monkeypatch):
    text, props = DOCUMENTS[name]
    policy = ItemPolicy(default=2, per_cluster=((-1, 3),))
    want = [expected_run(p, policy) for p in props]
    reference = read_text(text, policy)
    assert [summary(r) for r in reference.runs] == want
    for size in CHUNKS:
        monkeypatch.setattr(textsource, "CHUNK_CHARS", size)
        got = read_text(text, policy)
        assert [summary(r) for r in got.runs] == want, f"chunk size {size}"
        assert got.notes == reference.notes


@pytest.mark.parametrize("size", CHUNKS)
def test_truncation_found_at_any_chunk_size(size, monkeypatch):
    from llm_clusters.errors import TruncatedInput

    props = _nasty_props()
    table = execute_sql([props])
    cases = [
        persisted_content(table)[: len(persisted_content(table)) // 2],
        persisted_content(cut_like_mcp_server(table, len(table) // 2, style="new")),
        execute_sql([props], truncate=True),
    ]
    monkeypatch.setattr(textsource, "CHUNK_CHARS", size)
    for case in cases:
        with pytest.raises(TruncatedInput):
            read_text(case)


def test_every_split_of_a_surrogate_pair_escape():
    # Decode a JSON string holding escaped emoji with the cut falling at every offset.
    from llm_clusters.read.textsource import TextSource, json_string_source

    value = "a😀b\\😀\"|" * 3 + "𝔘" * 5
    encoded = json.dumps(value)  # ensure_ascii: \ud83d\ude00
    body = encoded[1:] + "tail"
    for first in range(1, len(body)):
        for second in (1, 5, 13):
            pieces = [body[:first]] + [body[i:i + second] for i in range(first, len(body), second)]
            source = TextSource(iter(pieces))
            inner = json_string_source(source, "test")
            decoded = "".join(iter(inner.read, ""))
            assert decoded == value, (first, second)
            assert "".join(iter(source.read, "")) == "tail"


def test_safe_cut_points_decode_apart():
    from json.decoder import scanstring

    from llm_clusters.read.textsource import escape_safe_cut

    for value in ["😀" * 20, "\\\\ud83d" * 6, "x\\😀" * 9, "\n\t\"" * 10, "é𝔘\\u" * 8]:
        body = json.dumps(value)[1:-1]
        for end in range(len(body) + 1):
            cut = escape_safe_cut(body[:end])
            assert cut <= end
            left, _ = scanstring(body[:cut] + '"', 0, False)
            right, _ = scanstring(body[cut:] + '"', 0, False)
            assert left + right == value, (value, end, cut)


# ---------------------------------------------------------------------------- item policy

def test_collector_keeps_top_n_by_rank_and_counts_all():
    collector = ItemCollector(3)
    ranks = [9, 4, 7, 0, 8, 2, 6, 1, 5, 3] * 30  # 300 entries, forcing trims
    for index, rank in enumerate(ranks):
        collector.add(f"k{index:03d}", {"rank": rank, "distance_to_centroid": index / 1000})
    items = collector.items()
    assert collector.count == 300
    assert [(i.rank, i.key) for i in items] == [(0, "k003"), (0, "k013"), (0, "k023")]


def test_collector_limit_zero_counts_only():
    collector = ItemCollector(0)
    collector.add_run(["a", "b"], [0, 1], lambda i: {"rank": i})
    collector.add("c", {"rank": 0})
    assert collector.count == 3 and collector.items() == []


def test_collector_unranked_entries_last_then_by_distance():
    collector = ItemCollector(None)
    collector.add("a", {"distance_to_centroid": 0.5})
    collector.add("b", {"rank": "2"})
    collector.add("c", {"rank": None, "distance_to_centroid": 0.1})
    collector.add("d", {"rank": 1})
    collector.add("e", "not a dict")
    assert [i.key for i in collector.items()] == ["d", "b", "c", "a", "e"]


@pytest.mark.parametrize("limit", [0, 1, 3, 50, None])
def test_bulk_path_and_mixed_shapes_keep_the_best(limit):
    # Uniform entries go through the bulk fast path; one oddly shaped entry in the middle and
    # shuffled ranks must not change which are kept.
    import random

    rng = random.Random(limit or 7)
    ranks = list(range(200))
    rng.shuffle(ranks)
    cluster = make_cluster(0, 200, ranks=ranks)
    odd_key = list(cluster["traces"])[100]
    cluster["traces"][odd_key] = {"rank": cluster["traces"][odd_key]["rank"], "extra": {"nested": [1]},
                                  "distance_to_centroid": 0.2, "trace_id": odd_key}
    noise = make_cluster(-1, 40, ranks=list(reversed(range(40))))
    props = make_properties([cluster, noise])
    policy = ItemPolicy(default=limit)
    run = read_text(hogql_response([props]), policy).runs[0]
    assert summary(run)["clusters"] == expected_run(props, policy)["clusters"]
    assert [c.item_count for c in run.clusters] == [200, 40]
    kept = len(run.clusters[0].items)
    assert kept == (200 if limit is None else limit)
    assert [i.rank for i in run.clusters[1].items] == list(range(40 if limit is None else min(limit, 40)))


def test_noise_rank_zero_is_kept_first_even_when_stored_last():
    noise = make_cluster(-1, 10, ranks=list(range(9, -1, -1)))
    props = make_properties([make_cluster(0, 3), noise])
    run = read_text(execute_sql([props]), ItemPolicy(default=1)).runs[0]
    assert run.clusters[-1].items[0].rank == 0
    assert run.clusters[-1].items[0].key == list(noise["traces"])[-1]
