"""Every envelope around every document shape, and every run version, read back to the same run."""

from __future__ import annotations

import io
import json

import pytest

from llm_clusters.errors import NoClustersFound
from llm_clusters.model import ItemPolicy
from llm_clusters.read.reader import read_runs
from localposthog.mcp_format import persisted_content
from payloads import (
    STANDARD_COLUMNS,
    content_blocks,
    event_name,
    execute_sql,
    expected_run,
    hogql_response,
    make_cluster,
    make_properties,
    read_text,
    row_for,
    run_id_for,
    standard_props,
    summary,
)

# -------------------------------------------------------------------------- envelopes


def _blocks_type_last(text):
    return content_blocks(text, type_last=True)


def _blocks_annotated(text):
    blocks = [{"annotations": {"audience": ["assistant"], "priority": 0.5, "x": [1, {"y": None}]},
               "type": "text", "text": text, "_meta": {"n": -1.5e3, "ok": True, "s": "}]\"text\""}}]
    return json.dumps(blocks)


def _blocks_with_image_first(text):
    return json.dumps([{"type": "image", "data": "iVBORw0K", "mimeType": "image/png"},
                       {"type": "resource", "resource": {"uri": "x://y", "text": "not the result"}},
                       {"type": "text", "text": text}])


def _call_result(text):
    return json.dumps({"content": [{"type": "text", "text": text}], "isError": False})


def _pretty_blocks(text):
    return json.dumps([{"type": "text", "text": text}], indent=2)


def _call_result_content_later(text):
    return json.dumps({"isError": False, "_meta": {"k": [1, "]}"]},
                       "structuredContent": {"results": [["not", "this"]]},
                       "content": [{"type": "text", "text": text}]})


ENVELOPES = {
    "call-result-content-later": _call_result_content_later,
    "content-blocks": lambda t: persisted_content(t, "content-blocks"),
    "content-blocks-text-first": _blocks_type_last,
    "content-blocks-annotated": _blocks_annotated,
    "content-blocks-other-blocks-first": _blocks_with_image_first,
    "content-blocks-indented": _pretty_blocks,
    "result": lambda t: persisted_content(t, "result"),
    "call-result": _call_result,
    "plain": lambda t: persisted_content(t, "plain"),
}

# -------------------------------------------------------------------------- documents
# Each returns (document text, which expected fields the document can carry).

ALL = ("run_id", "level", "job_id", "job_name", "window_start", "window_end", "total_items", "params",
       "clusters")


def _doc_pipe(p):
    return execute_sql([p]), ALL


def _doc_pipe_old_null(p):
    return execute_sql([p], null="None"), ALL


def _doc_hogql_native(p):
    return hogql_response([p]), ALL


def _doc_hogql_string(p):
    return hogql_response([p], json_as_string=True), ALL


def _doc_compact_rows(p):
    # No column names: found by content. A job name is text like any other, so it is not
    # recognised; everything else is.
    return json.dumps([row_for(p)]), tuple(f for f in ALL if f != "job_name")


def _doc_bare_clusters(p):
    return json.dumps(p["$ai_clusters"]), ("clusters",)


def _doc_clusters_string(p):
    return json.dumps(json.dumps(p["$ai_clusters"])), ("clusters",)


def _doc_properties(p):
    return json.dumps(p), ALL


def _doc_event(p):
    level = p.get("$ai_clustering_level", "trace")
    return json.dumps({"uuid": "0190a", "event": event_name(level), "distinct_id": f"clustering_{level}_1",
                       "timestamp": "2026-01-23T00:05:00Z", "properties": p}), ALL


def _doc_hogql_properties_string(p):
    return json.dumps({"columns": ["event", "timestamp", "properties"],
                       "results": [[event_name(p.get("$ai_clustering_level", "trace")),
                                    "2026-01-23T00:05:00Z", json.dumps(p)]]}), ALL


def _doc_pipe_properties(p):
    return execute_sql([{"event": "$ai_trace_clusters", "properties": json.dumps(p)}],
                       columns=("event", "properties")), ALL


DOCUMENTS = {
    "pipe": _doc_pipe,
    "pipe-None-nulls": _doc_pipe_old_null,
    "hogql-native": _doc_hogql_native,
    "hogql-json-strings": _doc_hogql_string,
    "compact-rows": _doc_compact_rows,
    "bare-clusters": _doc_bare_clusters,
    "clusters-json-string": _doc_clusters_string,
    "properties": _doc_properties,
    "event": _doc_event,
    "hogql-properties-string": _doc_hogql_properties_string,
    "pipe-properties-column": _doc_pipe_properties,
}


def _project(expected: dict, fields) -> dict:
    return {k: v for k, v in expected.items() if k in fields}


def _check(result, props, fields, policy=ItemPolicy()):
    assert len(result.runs) == 1
    got = _project(summary(result.runs[0]), fields)
    want = _project(expected_run(props, policy), fields)
    assert got == want


@pytest.mark.parametrize("envelope", list(ENVELOPES))
@pytest.mark.parametrize("document", list(DOCUMENTS))
def test_every_envelope_every_document(envelope, document):
    props = standard_props("trace")
    text, fields = DOCUMENTS[document](props)
    result = read_text(ENVELOPES[envelope](text))
    _check(result, props, fields)
    # The whole run is present: four clusters, the noise last, items counted in full.
    assert [c.cluster_id for c in result.runs[0].clusters] == [0, 1, 2, -1]
    assert [c.item_count for c in result.runs[0].clusters] == [5, 6, 7, 5]


@pytest.mark.parametrize("document", ["pipe", "hogql-json-strings", "event", "compact-rows"])
def test_generation_level(document):
    props = standard_props("generation", job_name="Default - generations")
    text, fields = DOCUMENTS[document](props)
    run = read_text(persisted_content(text)).runs[0]
    _check_run = summary(run)
    assert _check_run["level"] == "generation"
    _check(read_text(persisted_content(text)), props, fields)
    item = run.clusters[0].items[0]
    # generation level: the key is the generation's uuid, trace_id its parent trace.
    assert item.generation_id == item.key
    assert item.trace_id != item.key and item.trace_id


def test_generation_level_inferred_from_items_when_nothing_else_says():
    props = standard_props("generation")
    run = read_text(json.dumps(props["$ai_clusters"])).runs[0]
    assert run.level == "generation"
    assert run.run_id is None


def test_generation_level_from_event_name_alone():
    props = standard_props("generation")
    del props["$ai_clustering_level"]
    props["$ai_clustering_run_id"] = "local seed run"  # says nothing about the level
    for cluster in props["$ai_clusters"]:
        for entry in cluster["traces"].values():
            entry["generation_id"] = None
    doc = json.dumps({"event": "$ai_generation_clusters", "properties": props})
    run = read_text(doc).runs[0]
    assert run.level == "generation"
    # Without ids on the items, the key is the generation id.
    item = run.clusters[0].items[0]
    assert item.generation_id == item.key


def test_evaluation_level():
    clusters = [make_cluster(i, 4, level="trace", metrics={
        "avg_cost": None, "avg_latency": None, "avg_tokens": None, "total_cost": None,
        "error_rate": None, "error_count": 0, "item_count": 4, "pass_rate": 0.75, "na_rate": 0.0,
        "dominant_evaluation_name": "helpfulness", "dominant_runtime": "llm_judge",
        "avg_judge_cost": 0.0003}) for i in range(2)]
    props = make_properties(clusters, level="evaluation", run_id=run_id_for("evaluation"),
                            job_name="Default - evaluations")
    for doc in (execute_sql([props]), hogql_response([props], json_as_string=True)):
        result = read_text(persisted_content(doc))
        _check(result, props, ALL)
        run = result.runs[0]
        assert run.level == "evaluation"
        assert run.clusters[0].metrics["pass_rate"] == 0.75


@pytest.mark.parametrize("document", ["pipe", "hogql-native", "hogql-json-strings", "properties",
                                      "compact-rows"])
def test_oldest_run_format(document):
    props = standard_props(old=True)
    assert "$ai_clustering_level" not in props
    text, fields = DOCUMENTS[document](props)
    result = read_text(persisted_content(text))
    run = result.runs[0]
    assert run.level == "trace"  # no level in the id: the oldest runs were all trace level
    assert run.parsed_id is not None and run.parsed_id.level is None
    _check(result, props, fields)
    assert run.total_items == sum(len(c["traces"]) for c in props["$ai_clusters"])
    for cluster in run.clusters:
        assert cluster.metrics is None
        for item in cluster.items:
            assert item.trace_id == item.key and item.generation_id is None
            assert item.timestamp is None


def test_oldest_run_with_label_and_old_total_name_in_event():
    props = standard_props(old=True, run_id="1_20250110_030000_my_label_with_under_scores")
    run = read_text(json.dumps({"event": "$ai_trace_clusters", "properties": props})).runs[0]
    assert run.parsed_id.label == "my_label_with_under_scores"
    assert run.total_items == props["$ai_total_traces_analyzed"]


@pytest.mark.parametrize("metrics", [None, "absent"])
def test_metrics_null_or_absent(metrics):
    clusters = [make_cluster(i, 3, metrics=metrics) for i in range(2)]
    props = make_properties(clusters)
    for doc in (execute_sql([props]), hogql_response([props])):
        result = read_text(doc)
        _check(result, props, ALL)
        assert all(c.metrics is None for c in result.runs[0].clusters)


def test_noise_cluster_centroid_empty_and_ranked_by_anomaly():
    noise = make_cluster(-1, 6, ranks=[5, 3, 0, 1, 4, 2])
    assert noise["centroid"] == []
    props = make_properties([make_cluster(0, 4), noise])
    run = read_text(execute_sql([props]), ItemPolicy(default=2)).runs[0]
    cluster = run.clusters[-1]
    assert cluster.is_noise and cluster.title == "Outliers"
    assert [i.rank for i in cluster.items] == [0, 1]  # rank 0 (most anomalous) first
    assert cluster.item_count == 6
    keys = list(noise["traces"])
    assert [i.key for i in cluster.items] == [keys[2], keys[3]]


def test_unlabelled_clusters():
    clusters = [make_cluster(0, 3, title="", description=""),
                make_cluster(1, 3, title="Cluster 1", description="")]
    clusters[1].pop("description")
    props = make_properties(clusters)
    for doc in (execute_sql([props]), json.dumps(props)):
        run = read_text(doc).runs[0]
        assert [c.title for c in run.clusters] == ["Cluster 0", "Cluster 1"]
        assert [c.description for c in run.clusters] == ["", ""]


def test_empty_traces_cluster():
    props = make_properties([make_cluster(0, 0), make_cluster(1, 2)])
    run = read_text(execute_sql([props])).runs[0]
    assert [c.item_count for c in run.clusters] == [0, 2]
    assert run.clusters[0].items == []


def test_read_runs_from_file_and_stdin(tmp_path):
    props = standard_props()
    path = tmp_path / "mcp-posthog-execute-sql-1.txt"
    path.write_text(persisted_content(execute_sql([props])), encoding="utf-8")
    from_file = read_runs(str(path), ItemPolicy())
    from_stdin = read_runs("-", ItemPolicy(), stdin=io.BytesIO(path.read_bytes()))
    assert summary(from_file.runs[0]) == summary(from_stdin.runs[0]) == expected_run(props)


def test_missing_file_and_folder(tmp_path):
    from llm_clusters.errors import UnreadableInput

    with pytest.raises(UnreadableInput, match="does not exist"):
        read_runs(str(tmp_path / "nope.txt"), ItemPolicy())
    with pytest.raises(UnreadableInput, match="folder"):
        read_runs(str(tmp_path), ItemPolicy())


def test_several_content_blocks_each_a_document():
    a = standard_props(run_id=run_id_for("trace", date="20260120"))
    b = standard_props(run_id=run_id_for("trace", date="20260121"), window_end="2026-01-21T00:00:00+00:00")
    result = read_text(content_blocks(execute_sql([a]), hogql_response([b])))
    assert [summary(r) for r in result.runs] == [expected_run(a), expected_run(b)]


def test_warning_block_then_table_in_separate_blocks():
    props = standard_props()
    text = content_blocks("<taxonomy_warnings>\nEvent `x` not found\n</taxonomy_warnings>",
                          execute_sql([props]))
    result = read_text(text)
    assert [summary(r) for r in result.runs] == [expected_run(props)]
    assert any("taxonomy_warnings" in note for note in result.notes)


def test_item_policy_none_keeps_everything_in_rank_order():
    cluster = make_cluster(0, 40, ranks=list(reversed(range(40))))
    props = make_properties([cluster])
    run = read_text(execute_sql([props]), ItemPolicy(default=None)).runs[0]
    assert [i.rank for i in run.clusters[0].items] == list(range(40))


def test_no_clusters_names_keys_seen():
    with pytest.raises(NoClustersFound, match="'event'.*'count'|'count'.*'event'"):
        read_text(json.dumps({"columns": ["event", "count"], "results": [["$pageview", 3]]}))
    with pytest.raises(NoClustersFound, match="hello"):
        read_text(json.dumps({"hello": 1}))


def test_standard_columns_cover_the_properties():
    # Guards the builders: every standard column maps to a property the payload has.
    props = standard_props()
    assert None not in row_for(props, STANDARD_COLUMNS)


@pytest.mark.parametrize("document", ["hogql-native", "pipe", "bare-clusters"])
def test_traces_before_cluster_id_still_follow_the_per_cluster_policy(document):
    # Key order is not guaranteed: with `traces` first, the collector cannot know the cluster's
    # own limit while it reads the items.
    clusters = [make_cluster(i, 10) for i in (0, 1, -1)]
    clusters = [{"traces": c["traces"], **{k: v for k, v in c.items() if k != "traces"}} for c in clusters]
    props = make_properties(clusters)
    policy = ItemPolicy(default=2, per_cluster=((1, None), (-1, 5)))
    text, fields = DOCUMENTS[document](props)
    run = read_text(text, policy).runs[0]
    assert [len(c.items) for c in run.clusters] == [2, 10, 5]
    _check(read_text(text, policy), props, fields, policy)


@pytest.mark.parametrize("document", ["properties", "event", "hogql-properties-string",
                                      "pipe-properties-column"])
def test_clusters_property_stored_as_a_json_string(document):
    props = standard_props()
    as_string = dict(props, **{"$ai_clusters": json.dumps(props["$ai_clusters"])})
    text, fields = DOCUMENTS[document](as_string)
    _check(read_text(persisted_content(text)), props, fields)


@pytest.mark.parametrize("document", ["pipe", "hogql-json-strings"])
def test_large_run_through_the_bulk_path(document):
    # 30,000 uniformly shaped items in one cluster, ranks stored in reverse: the bulk path must
    # keep the three best and count them all; one odd entry (extra key) among them too.
    big = make_cluster(0, 30_000, ranks=list(range(29_999, -1, -1)), metrics=None)
    odd = list(big["traces"])[15_000]
    big["traces"][odd] = dict(big["traces"][odd], extra="x")
    props = make_properties([big, make_cluster(-1, 3)])
    text, fields = DOCUMENTS[document](props)
    result = read_text(persisted_content(text))
    _check(result, props, fields)
    cluster = result.runs[0].clusters[0]
    assert cluster.item_count == 30_000
    assert [i.rank for i in cluster.items] == [0, 1, 2]


# -------------------------------------------------------------------------- a bad $ai_clusters

BAD_CLUSTERS = {"an object": {"0": {"cluster_id": 0}}, "a number": 5,
                "a string": "not clusters", "an array of numbers": [1, 2, 3],
                "an array of strings": ["a", "b"], "an array of other objects": [{"x": 1}]}


@pytest.mark.parametrize("kind", BAD_CLUSTERS)
@pytest.mark.parametrize("shape", ["event", "execute-sql", "hogql"])
def test_a_clusters_value_that_is_not_an_array_of_clusters_is_unreadable(tmp_path, kind, shape):
    from llm_clusters.errors import ExitStatus, UnreadableInput

    props = {**standard_props(), "$ai_clusters": BAD_CLUSTERS[kind]}
    text = {"event": lambda: json.dumps({"event": event_name("trace"), "properties": props}),
            "execute-sql": lambda: execute_sql([props]),
            "hogql": lambda: hogql_response([props], json_as_string=True)}[shape]()
    path = tmp_path / "run.txt"
    path.write_text(text)
    with pytest.raises(UnreadableInput) as caught:
        read_runs(str(path), ItemPolicy())
    assert caught.value.status == ExitStatus.UNREADABLE
    assert "$ai_clusters value is" in caught.value.message and "JSONExtractRaw" in caught.value.message


def test_an_empty_clusters_array_and_a_listing_count_stay_readable(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"event": event_name("trace"),
                                "properties": {**standard_props(), "$ai_clusters": []}}))
    assert read_runs(str(path), ItemPolicy()).runs[0].clusters == []
    listing = ("run_id", "level", "job_name", "window_end", "total_items", "clusters")
    props = {**standard_props(), "$ai_clusters": 4}
    path.write_text(execute_sql([props], listing))
    assert read_runs(str(path), ItemPolicy()).runs[0].cluster_count == 4
