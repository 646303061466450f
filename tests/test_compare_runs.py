"""compare_runs.py on the local PostHog's daily runs: every planted change found (growth, a new
cluster, a vanished one, a split), nothing the ground truth does not hold; runs whose windows do
not overlap matched by their text; the report independent of the order of its inputs.

The runs reach the script as an agent saves them: SKILL.md's load query on the engine, printed
as execute-sql prints it, saved as the coding agent saves it."""

from __future__ import annotations

import json
import random
import uuid

import pytest

from localposthog.answers import hogql_response, persist_execute_sql
from test_end_to_end_local import (
    _load_run_sql,  # SKILL.md's load query, filled in for a run
)

COMMAND = "compare_runs"  # what the run_cli fixture runs

pytestmark = pytest.mark.engine
LEVELS = ("trace", "generation")
GROWING = {"grows", "appears"}  # planted changes whose clusters' shares may rise significantly
SHRINKING = {"vanishes"}


def daily_runs(ground_truth: dict, level: str) -> list[dict]:
    return [r for r in ground_truth["runs"] if r["level"] == level and r["job_name"]]


@pytest.fixture(scope="module")
def saved_runs(localposthog_engine, ground_truth, tmp_path_factory) -> dict[str, str]:
    """run id -> the file holding that daily run as the agent saved it."""
    folder = tmp_path_factory.mktemp("compare_runs")
    saved = {}
    for stamp, run in enumerate(r for level in LEVELS for r in daily_runs(ground_truth, level)):
        path = persist_execute_sql(localposthog_engine, _load_run_sql(run), folder, truncate=False,
                                   stamp_ms=stamp)
        saved[run["run_id"]] = str(path)
    return saved


def keys_by_cluster(ground_truth: dict) -> dict[str, dict[int, str]]:
    """run id -> cluster id -> the generator's topic key (noise is "noise")."""
    return {r["run_id"]: {c["cluster_id"]: c["key"] for c in r["clusters"]} for r in ground_truth["runs"]}


def compare_json(run_cli, *argv: str) -> dict:
    status, out, err = run_cli(*argv, "--format", "json", "--max-rows", "0")
    assert status == 0, err
    return json.loads(out)


@pytest.mark.parametrize("level", LEVELS)
def test_every_planted_change_is_reported_and_nothing_else(run_cli, saved_runs, ground_truth, level):
    runs = daily_runs(ground_truth, level)
    files = [saved_runs[r["run_id"]] for r in runs]
    random.Random(level).shuffle(files)
    report = compare_json(run_cli, *files)
    planted = {c["kind"]: c for c in ground_truth["planted_changes"] if c["level"] == level}
    assert set(planted) == {"grows", "appears", "vanishes", "splits"}
    kind_of = {c["key"]: c["kind"] for c in planted.values()}
    keys = keys_by_cluster(ground_truth)
    run_ids = [r["run_id"] for r in report["runs"]]
    assert run_ids == [r["run_id"] for r in runs]  # time order, whatever the order given

    def key(number: int, cluster: dict | int) -> str:
        cluster_id = cluster if isinstance(cluster, int) else cluster["cluster_id"]
        return keys[run_ids[number - 1]][cluster_id]

    calls = []  # (topic key, "grew" / "shrank") for every significant change reported
    new, vanished, splits, merges = [], [], [], []
    for step in report["steps"]:
        before, after = step["before"], step["after"]
        for pair in step["pairs"]:
            assert key(before, pair["before"]) == key(after, pair["after"]), pair
            if pair["test"]["change"] != "no significant change":
                calls.append((key(after, pair["after"]), pair["test"]["change"]))
        assert step["noise"]["test"]["change"] == "no significant change"
        new += [(run_ids[after - 1], key(after, c)) for c in step["new"]]
        vanished += [(run_ids[before - 1], key(before, c)) for c in step["vanished"]]
        splits += [(run_ids[before - 1], key(before, s["cluster"]),
                    sorted(key(after, part) for part in s["parts"])) for s in step["splits"]]
        merges += step["merges"]
    for lineage in report["lineages"]:
        if lineage["trend"] and lineage["trend"]["change"] != "no significant change":
            last = max(i for i, cid in enumerate(lineage["cluster_ids"]) if cid is not None)
            calls.append((key(last + 1, lineage["cluster_ids"][last]), lineage["trend"]["change"]))

    assert new == [(planted["appears"]["first_run_id"], "invoices")]
    assert vanished == [(planted["vanishes"]["last_run_id"], "legacy_search")]
    assert splits == [(planted["splits"]["last_run_before"], "coding",
                       sorted(part["key"] for part in planted["splits"]["into"]))]
    assert merges == []
    assert ("refunds", "grew") in calls
    for topic, change in calls:  # only planted changes, each in its own direction
        assert kind_of.get(topic) in (GROWING if change == "grew" else SHRINKING), (topic, change)


def test_a_file_holding_several_runs_counts_as_several_and_run_ids_pick_among_them(run_cli, 
        localposthog_engine, ground_truth, saved_runs, tmp_path):
    runs = daily_runs(ground_truth, "trace")
    answers = [hogql_response(localposthog_engine.query(_load_run_sql(r))) for r in runs]
    combined = {**answers[0], "results": [row for answer in answers for row in answer["results"]]}
    together = tmp_path / "runs.json"
    together.write_text(json.dumps(combined), encoding="utf-8")
    separate = compare_json(run_cli, *(saved_runs[r["run_id"]] for r in runs))
    assert {**compare_json(run_cli, str(together)), "notes": []} == {**separate, "notes": []}
    picked = compare_json(run_cli, str(together), "--run-id", runs[3]["run_id"],
                          "--run-id", runs[0]["run_id"])
    assert [r["run_id"] for r in picked["runs"]] == [runs[0]["run_id"], runs[3]["run_id"]]


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_the_report_does_not_depend_on_the_order_of_its_inputs(run_cli, saved_runs, ground_truth, fmt):
    files = [saved_runs[r["run_id"]] for r in daily_runs(ground_truth, "generation")]
    outputs = set()
    for seed in range(3):
        random.Random(seed).shuffle(files)
        status, out, err = run_cli(*files, "--format", fmt)
        assert status == 0, err
        outputs.add(out)
    assert len(outputs) == 1


def _with_fresh_item_ids(properties: dict) -> dict:
    """The run's clusters with every item renamed: no item in common with any other run."""
    clusters = properties["$ai_clusters"]
    clusters = json.loads(clusters) if isinstance(clusters, str) else clusters
    for cluster in clusters:
        renamed = {}
        for key, entry in cluster["traces"].items():
            fresh = str(uuid.uuid5(uuid.NAMESPACE_OID, key))
            renamed[fresh] = {**entry, "trace_id": fresh if entry.get("trace_id") == key else
                              str(uuid.uuid5(uuid.NAMESPACE_OID, entry.get("trace_id") or key))}
            if entry.get("generation_id"):
                renamed[fresh]["generation_id"] = fresh
        cluster["traces"] = renamed
    return {**properties, "$ai_clusters": clusters}


@pytest.mark.parametrize("level", LEVELS)
def test_runs_sharing_no_items_are_still_matched_by_their_text(run_cli, 
        localposthog_engine, ground_truth, saved_runs, tmp_path, level):
    first, last = daily_runs(ground_truth, level)[0], daily_runs(ground_truth, level)[-1]
    result = localposthog_engine.query(
        "SELECT properties FROM events WHERE event LIKE '$ai_%_clusters' AND "
        f"JSONExtractString(properties, '$ai_clustering_run_id') = '{first['run_id']}' LIMIT 1")
    properties = result.rows[0][0]
    properties = json.loads(properties) if isinstance(properties, str) else properties
    disjoint = tmp_path / "first_run_renamed.json"
    disjoint.write_text(json.dumps(_with_fresh_item_ids(properties)), encoding="utf-8")

    report = compare_json(run_cli, str(disjoint), saved_runs[last["run_id"]])
    keys = keys_by_cluster(ground_truth)
    (step,) = report["steps"]
    assert step["shared_items"] == 0
    assert any("share no items" in note for note in report["notes"])
    pairs = {(keys[first["run_id"]][p["before"]["cluster_id"]],
              keys[last["run_id"]][p["after"]["cluster_id"]])
             for p in step["pairs"]}
    stable = {c["key"] for c in first["clusters"]} & {c["key"] for c in last["clusters"]} - {"noise"}
    assert stable and {(k, k) for k in stable} <= pairs
    # Without shared items a split cannot be seen: "Coding help" may be matched to one of its
    # parts by text ("Split out of 'Coding help'"), and nothing else may be mismatched.
    assert all(a == b or (a, b.split("/")[0]) == ("coding", "coding") for a, b in pairs)
    assert step["splits"] == step["merges"] == []


def test_runs_of_different_levels_are_refused_with_a_clear_message(run_cli, saved_runs, ground_truth):
    trace, generation = daily_runs(ground_truth, "trace")[0], daily_runs(ground_truth, "generation")[0]
    status, out, err = run_cli(saved_runs[trace["run_id"]], saved_runs[generation["run_id"]])
    assert status == 2 and out == ""
    assert "different levels (generation, trace)" in err and "--run-id" in err
