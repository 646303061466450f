"""The comparison query (compare_runs.py sql) on the local PostHog: its saved answer gives the
same report as the whole runs, at both levels, for runs that share no items and for renumbered
clusters; its size does not depend on the runs' size; hostile ids stay values."""

from __future__ import annotations

import json
import shutil

import pytest

from llm_clusters.posthog import compare_sql
from llm_clusters.posthog.queries import load_run_sql
from localposthog.answers import execute_sql_text, hogql_response
from localposthog.engine import Engine
from localposthog.mcp_format import PERSIST_SHAPES, persisted_content

COMMAND = "compare_runs"  # what the run_cli fixture runs

pytestmark = pytest.mark.engine
LIMIT = 4096


def reports(run_cli, engine: Engine, run_ids: list[str], sql: str, tmp_path, name: str) -> tuple[dict, dict]:
    """compare_runs.py --format json on the whole runs, and on the comparison query's answer as
    execute-sql prints it with truncate on."""
    files = []
    for number, run_id in enumerate(run_ids):
        path = tmp_path / f"{name}_run{number}.json"
        path.write_text(json.dumps(hogql_response(engine.query(load_run_sql(run_id)))), encoding="utf-8")
        files.append(str(path))
    answer = tmp_path / f"{name}_comparison.txt"
    answer.write_text(execute_sql_text(engine, sql), encoding="utf-8")
    flags = ("--format", "json", "--max-rows", "0", "--max-runs", "0")
    whole = run_cli(*files, *flags)
    counted = run_cli(str(answer), *flags)
    assert whole[0] == 0 and counted[0] == 0, (whole[2], counted[2])
    return json.loads(whole[1]), json.loads(counted[1])


def same(whole: dict, counted: dict) -> None:
    """Every field equal, the notes too; floats to 12 significant digits (sums in other orders)."""
    assert _rounded(counted) == _rounded(whole)


def _rounded(value):
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def daily(engine: Engine, level: str) -> list[str]:
    return [r["run_id"] for r in sorted((r for r in engine.runs if r["level"] == level and r["job_name"]),
                                        key=lambda r: r["window_end"])]


@pytest.mark.parametrize("level", ["trace", "generation"])
def test_consecutive_runs_give_the_whole_runs_report(run_cli, localposthog_engine, tmp_path, level):
    ids = daily(localposthog_engine, level)
    for before, after in zip(ids, ids[1:]):
        whole, counted = reports(run_cli, localposthog_engine, [before, after],
                                 compare_sql.ids_sql([after, before]), tmp_path, before)
        same(whole, counted)
        assert counted["steps"][0]["shared_items"] > 0
    # all of a job's runs at once (lineage, trends), and the same through --last N --job-id
    whole, counted = reports(run_cli, localposthog_engine, ids, compare_sql.ids_sql(ids), tmp_path, "all")
    same(whole, counted)
    texts = [run_cli(*sorted(str(p) for p in tmp_path.glob(f"all_{kind}*")), "--max-rows", "0")[1]
             for kind in ("run", "comparison")]
    assert texts[0] == texts[1] and "Lineage" in texts[0]
    job = next(r["job_id"] for r in localposthog_engine.runs if r["run_id"] == ids[0])
    _, by_job = reports(run_cli, localposthog_engine, ids, compare_sql.last_sql(len(ids), job),
                        tmp_path, "job")
    same(whole, by_job)
    assert len(counted["lineages"]) >= 5 and any(step["splits"] or step["merges"]
                                                 for step in counted["steps"])


@pytest.mark.parametrize("level", ["trace", "generation"])
def test_previous_is_found_inside_the_query(run_cli, localposthog_engine, tmp_path, level):
    ids = daily(localposthog_engine, level)
    whole, counted = reports(run_cli, localposthog_engine, ids[2:4], compare_sql.previous_sql(ids[3]),
                             tmp_path, "prev")
    same(whole, counted)
    assert [r["run_id"] for r in counted["runs"]] == ids[2:4]


def test_a_legacy_run_and_a_manual_run_give_the_whole_runs_report(run_cli, localposthog_engine, tmp_path):
    legacy = next(r["run_id"] for r in localposthog_engine.runs if r["run_id"].count("_") == 2)
    manual = next(r["run_id"] for r in localposthog_engine.runs if r["run_id"].endswith("cost_review"))
    for pair in ([legacy, daily(localposthog_engine, "trace")[-1]],
                 [manual, daily(localposthog_engine, "generation")[-1]]):
        whole, counted = reports(run_cli, localposthog_engine, pair, compare_sql.ids_sql(pair),
                                 tmp_path, pair[0])
        same(whole, counted)


@pytest.fixture(scope="module")
def altered_engine(localposthog_data_dir, tmp_path_factory):
    """The dataset plus copies of a daily trace run: one with its clusters renumbered, one
    whose items were all renamed (it shares none with any run), one whose cluster 0 has a
    hostile title and a long JSON-looking description; and runs of 100 and 10,000 items made
    of one cluster each."""
    folder = tmp_path_factory.mktemp("altered")
    for name in localposthog_data_dir.iterdir():
        shutil.copy(name, folder / name.name)
    lines = (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
    base = next(json.loads(line) for line in lines
                if '"$ai_trace_clusters"' in line and "1_trace_20260121" in line)
    props = json.loads(base["properties"])
    extra = []

    def add(run_id: str, clusters: list[dict], end: str) -> None:
        event = dict(base, uuid=f"00000000-0000-4000-8000-{len(extra):012d}",
                     timestamp=end.replace("T", " ")[:19] + ".000000")
        event["properties"] = json.dumps({**props, "$ai_clustering_run_id": run_id, "$ai_clusters": clusters,
                                          "$ai_window_end": end, "$ai_clustering_job_id": "altered"})
        extra.append(json.dumps(event))

    ids = sorted({c["cluster_id"] for c in props["$ai_clusters"]} - {-1})
    renumber = dict(zip(ids, reversed([i + 10 for i in ids])))
    for _ in range(2):  # written twice: the query reads each run once
        add("1_trace_20260121_000015_renumbered",
            [{**c, "cluster_id": renumber.get(c["cluster_id"], -1)} for c in props["$ai_clusters"]],
            "2026-01-21T00:00:15.345678+00:00")
    add("1_trace_20260121_120000_renamed",
        [{**c, "traces": {f"x-{k}": {**v, "trace_id": f"x-{k}"} for k, v in c["traces"].items()}}
         for c in props["$ai_clusters"]],
        "2026-01-21T12:00:00.000000+00:00")
    hostile = [{**c, "title": "[{\"a\": 1}] | it's \\ a\r\ntitle\t|" * 5, "description": "{" + "x|\n" * 1500}
               if c["cluster_id"] == 0 else c for c in props["$ai_clusters"]]
    add("1_trace_20260121_130000_hostile", hostile, "2026-01-21T13:00:00.000000+00:00")
    for size, end in ((100, "2026-01-20T06:00:00.000000+00:00"),
                      (10_000, "2026-01-20T07:00:00.000000+00:00")):
        traces = {f"t{size}-{i}": {"rank": i, "distance_to_centroid": 0.1, "trace_id": f"t{size}-{i % 97}"}
                  for i in range(size)}
        add(f"1_trace_{end[:10].replace('-', '')}_{end[11:13]}0000_size{size:05d}",
            [{"cluster_id": 0, "size": size, "title": "Synthetic", "description": "", "traces": traces}], end)
    (folder / "events.jsonl").write_text("\n".join(lines + extra) + "\n", encoding="utf-8")
    engine = Engine(folder)
    yield engine
    engine.close()


def test_renumbered_clusters_and_renamed_items_give_the_whole_runs_report(run_cli, altered_engine, tmp_path):
    original = "1_trace_20260121_000015_019ba00d-8800-756b-9007-d44a55c23db7"
    previous = "1_trace_20260120_000014_019ba00d-8800-756b-9007-d44a55c23db7"
    for other in ("1_trace_20260121_000015_renumbered", "1_trace_20260121_120000_renamed"):
        for pair in ([previous, other], [original, other]):
            whole, counted = reports(run_cli, altered_engine, pair, compare_sql.ids_sql(pair),
                                     tmp_path, other[-7:])
            same(whole, counted)
            if other.endswith("renamed"):  # no items in common: matched by text alone
                assert counted["steps"][0]["shared_items"] == 0 and counted["steps"][0]["pairs"]
    # a renumbered copy matches every cluster to its twin, all items shared
    _, counted = reports(run_cli, altered_engine, [original, "1_trace_20260121_000015_renumbered"],
                         compare_sql.ids_sql([original, "1_trace_20260121_000015_renumbered"]),
                         tmp_path, "twin")
    step = counted["steps"][0]
    assert not step["new"] and not step["vanished"] and all(p["item_similarity"] == 1 for p in step["pairs"])
    assert all(p["before"]["cluster_id"] != p["after"]["cluster_id"] for p in step["pairs"])


def test_the_query_size_does_not_depend_on_the_runs_size(altered_engine):
    small, large = "1_trace_20260120_060000_size00100", "1_trace_20260120_070000_size10000"
    before = daily(altered_engine, "trace")[1]
    sizes = {}
    for run in (small, large):
        sql = compare_sql.ids_sql([before, run])
        sizes[run] = compare_sql.query_bytes(sql)
        result = altered_engine.query(sql)
        at = {name: result.columns.index(name) for name in ("run_id", "items")}
        items = {row[at["run_id"]]: row[at["items"]] for row in result.rows if row[at["run_id"]]}
        assert int(items[run]) == int(run.rsplit("size", 1)[1])
        assert len(result.rows) < 30  # rows per cluster pair, never per item
    assert len(set(sizes.values())) == 1 and max(sizes.values()) <= LIMIT
    # the longest forms, with ten daily-run ids
    ids = daily(altered_engine, "trace") + daily(altered_engine, "generation")
    for sql in (compare_sql.ids_sql(ids[:10]), compare_sql.previous_sql(ids[3]),
                compare_sql.last_sql(10, "019ba00d-8800-756b-9007-d44a55c23db7")):
        assert compare_sql.query_bytes(sql) <= LIMIT


def test_every_cell_survives_truncation_and_the_commands_work(run_cli, localposthog_engine, tmp_path):
    ids = daily(localposthog_engine, "generation")
    sql = compare_sql.ids_sql(ids)
    text = execute_sql_text(localposthog_engine, sql)
    assert "...truncated" not in text and "(null)" in text
    status, printed, err = run_cli("sql", "--run-id", ids[0], "--run-id", ids[1])
    assert status == 0 and printed.strip() == compare_sql.ids_sql(ids[:2]), err
    assert run_cli("sql", "--run-id", ids[1], "--previous")[1].strip() == compare_sql.previous_sql(ids[1])
    job = "019ba00d-8801-7cc9-bdf7-22c021b93c94"
    assert run_cli("sql", "--last", "6", "--job-id", job)[1].strip() == compare_sql.last_sql(6, job)
    # every shape the answer is saved in, and piped on standard input: one report
    shapes = {shape: persisted_content(text, shape) for shape in PERSIST_SHAPES}
    shapes["hogql-json"] = json.dumps(hogql_response(localposthog_engine.query(sql)))
    reports_seen = set()
    for shape, content in shapes.items():
        saved = tmp_path / f"answer-{shape}.txt"
        saved.write_text(content, encoding="utf-8")
        status, printed, err = run_cli(str(saved), "--format", "markdown")
        assert status == 0, (shape, err)
        reports_seen.add(printed.replace(str(saved), "FILE"))
        status, piped, err = run_cli("-", "--format", "markdown", stdin=content.encode())
        assert status == 0 and piped.replace("standard input", "FILE") in reports_seen, (shape, err)
    assert len(reports_seen) == 1 and "Lineage" in reports_seen.pop()
    # runs that were not consecutive in the answer cannot be compared from it
    status, out, err = run_cli(str(saved), "--run-id", ids[0], "--run-id", ids[2])
    assert (status, out) == (2, "") and "were not consecutive" in err


def test_hostile_ids_stay_values(run_cli, localposthog_engine):
    hostile = "1_trace_20260121_000015_x') OR 1=1 --\n"
    for sql in (compare_sql.ids_sql([hostile, "x' OR '1'='1"]), compare_sql.previous_sql(hostile),
                compare_sql.last_sql(3, "' OR 1=1 OR '")):
        assert localposthog_engine.query(sql).rows == []
    status, out, err = run_cli("sql", "--run-id", "only-one")
    assert status == 2 and "two runs or more" in err
    status, out, err = run_cli("sql", "--run-id", "a", "--run-id", "b", "--previous")
    assert status == 2 and "exactly one --run-id" in err
    status, out, err = run_cli("sql", "--run-id", "no-time-in-it", "--previous")
    assert (status, out) == (2, "") and "carries its window end" in err


def test_live_previous_sends_the_same_query_and_prints_the_files_report(run_cli, live_env,
                                                                        localposthog_engine, tmp_path):
    ids = daily(localposthog_engine, "generation")
    answer = tmp_path / "answer.txt"
    answer.write_text(execute_sql_text(localposthog_engine, compare_sql.previous_sql(ids[-1])),
                      encoding="utf-8")
    status, live, err = run_cli("--live", "--run-id", ids[-1], "--previous", "--format", "json")
    assert status == 0, err
    assert len(live_env.requests) == 1
    status, saved, err = run_cli(str(answer), "--format", "json")
    assert status == 0, err
    assert json.loads(live)["runs"] == json.loads(saved)["runs"]
    assert [r["run_id"] for r in json.loads(live)["runs"]] == ids[-2:]
    # the first run of a job has no previous run: said, exit 5
    status, out, err = run_cli("--live", "--run-id", ids[0], "--previous")
    assert (status, out) == (5, "") and "comparing needs two" in err


def test_hostile_titles_and_long_descriptions_survive_truncation(run_cli, altered_engine, tmp_path):
    pair = ["1_trace_20260121_000015_019ba00d-8800-756b-9007-d44a55c23db7", "1_trace_20260121_130000_hostile"]
    text = execute_sql_text(altered_engine, compare_sql.ids_sql(pair))
    assert "...truncated" not in text and "x x x" in text and "…" in text
    whole, counted = reports(run_cli, altered_engine, pair, compare_sql.ids_sql(pair), tmp_path, "hostile")
    same(whole, counted)
    assert any("it's" in p["after"]["title"] and "|" in p["after"]["title"]
               for p in counted["steps"][0]["pairs"])


def test_an_empty_or_cut_answer_is_said_not_compared(run_cli, localposthog_engine, tmp_path):
    ids = daily(localposthog_engine, "trace")
    text = execute_sql_text(localposthog_engine, compare_sql.ids_sql(ids[:3]))
    empty = tmp_path / "empty.txt"
    empty.write_text(text.split("\n")[0], encoding="utf-8")
    status, out, err = run_cli(str(empty))
    assert (status, out) == (5, "") and "no rows" in err
    lines = text.split("\n")
    dropped = tmp_path / "dropped.txt"  # the run's first row lost: its clusters have no run
    dropped.write_text("\n".join([lines[0], *lines[2:]]), encoding="utf-8")
    status, out, err = run_cli(str(dropped))
    assert (status, out) == (3, "") and "has no row naming it" in err
    pair_row = next(i for i, line in enumerate(lines)  # a row of a pair only: no size, a next cluster
                    if i > 1 and line.split("|")[2] == "" and line.split("|")[10] != "(null)")
    dropped.write_text("\n".join(lines[:pair_row] + lines[pair_row + 1:]), encoding="utf-8")
    status, out, err = run_cli(str(dropped))
    assert (status, out) == (3, "") and "rows were lost" in err
