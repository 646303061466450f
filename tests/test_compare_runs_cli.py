"""compare_runs.py on small hand-made runs: splits and merges, bounds, untrusted titles, the
thresholds stated, exit codes and messages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from payloads import execute_sql, make_cluster, make_properties, run_id_for

COMMAND = "compare_runs"  # what the run_cli fixture runs

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "compare_runs.py"
HOSTILE = "\x1b[31mRed\x1b[0m | *bold* <script>alert(1)</script> [link](http://x)\u202e"


def keys(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(n)]


def props(day: int, clusters: list[tuple[str, list[str]]], level: str = "trace") -> dict:
    """A run ending on 2026-01-<day> with (title, item keys) clusters, ids in the order given."""
    made = [make_cluster(cid, len(items), level=level, title=title, description="", keys=items,
                         metrics="absent") for cid, (title, items) in enumerate(clusters)]
    return make_properties(made, level=level, run_id=run_id_for(level, date=f"202601{day:02d}"),
                           window_end=f"2026-01-{day:02d}T00:00:00+00:00")


def save(tmp_path: Path, name: str, *runs: dict) -> str:
    path = tmp_path / name
    path.write_text(execute_sql(list(runs)), encoding="utf-8")
    return str(path)


PYTHON, SQL, SUPPORT = keys("py", 30), keys("sql", 30), keys("sup", 40)
CODING = PYTHON + SQL


def division(found: dict) -> tuple:
    """(the one cluster's id, the parts' ids, the fractions) of a split or merge in json."""
    return (found["cluster"]["cluster_id"], [p["cluster_id"] for p in found["parts"]],
            [p["fraction"] for p in found["parts"]])


def test_a_split_then_a_merge_and_the_lineage_through_them(run_cli, tmp_path):
    files = save(tmp_path, "runs.txt",
                 props(20, [("Coding help", CODING), ("Order support", SUPPORT)]),
                 props(21, [("Python debugging", PYTHON), ("SQL writing", SQL), ("Order support", SUPPORT)]),
                 props(22, [("Coding questions", CODING), ("Order support", SUPPORT)]))
    status, out, err = run_cli(files, "--format", "json")
    assert status == 0, err
    report = json.loads(out)
    split, merge = report["steps"][0], report["steps"][1]
    assert [division(s) for s in split["splits"]] == [(0, [0, 1], [0.5, 0.5])]
    assert [division(m) for m in merge["merges"]] == [(0, [0, 1], [0.5, 0.5])]
    for step in (split, merge):
        assert step["new"] == step["vanished"] == []
        assert [p["after"]["title"] for p in step["pairs"]] == ["Order support"]
    stories = {(lin["origin"], lin["end"]) for lin in report["lineages"]}
    assert stories == {(None, "split into 0+1 of #2"), ("split from 0 of #1", "merged into 0 of #3"),
                       ("merged from 0+1 of #2", None), (None, None)}
    status, text, _ = run_cli(files)
    assert "Split: 0 Coding help (60, 60.0%) split into 0 Python debugging (30, 30.0%) holding 50%" in text
    assert "Merge: 0 Coding questions (60, 60.0%) merged from" in text


def test_a_significant_growth_is_called_and_the_settings_are_stated(run_cli, tmp_path):
    before = props(20, [("Refunds", keys("r", 50)), ("Support", keys("s", 450))])
    after = props(21, [("Refunds", keys("r", 200)), ("Support", keys("s", 300))])
    path = save(tmp_path, "two.txt", before, after)
    status, out, _ = run_cli(path, "--alpha", "0.01", "--min-score", "0.5", "--item-weight", "0.6",
                             "--text-weight", "0.4", "--correction", "none")
    assert status == 0
    assert "0.6 x item overlap + 0.4 x text similarity" in out and "below 0.5" in out
    assert "alpha 0.01, not corrected" in out
    assert "10.0% -> 40.0%" in out and "+30.0 pp" in out and "grew" in out and "shrank" in out
    report = json.loads(run_cli(path, "--format", "json")[1])
    assert report["schema"] == "exploring-llm-clusters/compare_runs@1"
    assert report["settings"]["alpha"] == 0.05 and report["settings"]["correction"] == "holm"
    assert [(p["after"]["title"], p["test"]["change"]) for p in report["steps"][0]["pairs"]] == \
        [("Support", "shrank"), ("Refunds", "grew")]  # largest share first


def test_output_is_bounded_and_untrusted_titles_are_made_safe(run_cli, tmp_path):
    clusters = [(f"{HOSTILE} {i}", keys(f"c{i}", 5)) for i in range(40)]
    path = save(tmp_path, "many.txt", props(20, clusters), props(21, clusters))
    status, text, _ = run_cli(path, "--max-rows", "5")
    assert status == 0
    assert "35 more pairs not shown; see them with --max-rows 0" in text
    assert "\x1b" not in text and "\u202e" not in text
    status, md, _ = run_cli(path, "--format", "markdown")
    assert "20 more pairs not shown" in md
    assert "\\<script\\>" in md and "\\| \\*bold\\*" in md and "[link]" not in md
    assert len(md) < 10_000
    report = json.loads(run_cli(path, "--format", "json", "--max-rows", "3")[1])
    assert len(report["steps"][0]["pairs"]) == 3 and report["steps"][0]["pairs_omitted"] == 37
    assert "\x1b" not in json.dumps(report)
    status, full, _ = run_cli(path, "--full")
    assert "more pairs not shown" not in full and full.count("Red | *bold*") == 40


def test_runs_given_in_any_order_and_twice_are_compared_once_in_time_order(run_cli, tmp_path):
    runs = [props(day, [("Support", keys("s", 20 + day))]) for day in (23, 20, 22, 21)]
    files = [save(tmp_path, f"{i}.txt", run) for i, run in enumerate(runs)]
    status, out, err = run_cli(*files, files[0], "--format", "json")
    assert status == 0, err
    report = json.loads(out)
    assert [r["window_end"][:10] for r in report["runs"]] == [f"2026-01-{d}" for d in (20, 21, 22, 23)]
    assert any("given more than once" in note for note in report["notes"])
    status, out, _ = run_cli(*files, "--max-runs", "2", "--format", "json")
    report = json.loads(out)
    assert [r["window_end"][:10] for r in report["runs"]] == ["2026-01-22", "2026-01-23"]
    assert any("2 newest of 4 runs" in note and "--max-runs" in note for note in report["notes"])


@pytest.mark.parametrize("argv, status, message", [
    (["ONE"], 2, "at least two runs"),
    (["ONE", "ONE"], 2, "at least two runs"),
    (["TWO", "--run-id", "nope"], 5, "no run with id 'nope'"),
    (["TWO", "--alpha", "1.5"], 2, "--alpha"),
    (["TWO", "--split-fraction", "0.9"], 2, "split fraction"),
    (["TWO", "--item-weight", "0", "--text-weight", "0"], 2, "weights"),
    (["-", "-"], 2, "only once"),
    (["missing.txt", "TWO"], 3, "does not exist"),
])
def test_exit_codes_and_messages(run_cli, tmp_path, argv, status, message):
    one = save(tmp_path, "one.txt", props(20, [("Support", keys("s", 5))]))
    two = save(tmp_path, "two.txt", props(20, [("Support", keys("s", 5))]),
               props(21, [("Support", keys("s", 6))]))
    argv = [{"ONE": one, "TWO": two}.get(arg, arg) for arg in argv]
    got, out, err = run_cli(*argv, stdin=b"")
    assert got == status and out == ""
    assert message in err


def test_standard_input_and_the_script_itself(run_cli, tmp_path):
    two = Path(save(tmp_path, "two.txt", props(20, [("Support", keys("s", 5))]),
                    props(21, [("Support", keys("s", 6))])))
    one = save(tmp_path, "one.txt", props(22, [("Support", keys("s", 7))]))
    status, out, err = run_cli("-", one, stdin=two.read_bytes())
    assert status == 0, err
    assert "Comparing 3 trace-level runs" in out
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "exit codes:" in done.stdout and "--split-fraction" in done.stdout


def test_links_to_runs_and_clusters_for_the_users_posthog(run_cli, tmp_path):
    before = props(20, [("Coding help", CODING), ("Order support", SUPPORT)])
    after = props(21, [("Python debugging", PYTHON), ("SQL writing", SQL), ("Order support", SUPPORT)])
    after["$ai_clustering_run_id"] += "_label with space/slash#hash"
    path = save(tmp_path, "runs.txt", before, after)
    report = json.loads(run_cli(path, "--links", "--host", "eu", "--project-id", "7",
                                "--format", "json")[1])
    base = "https://eu.posthog.com/project/7/llm-analytics/clusters/"
    assert report["runs"][1]["link"] == base + quote(after["$ai_clustering_run_id"], safe="")
    (split,) = report["steps"][0]["splits"]
    assert split["cluster"]["link"] == base + before["$ai_clustering_run_id"] + "/0"
    assert [part["link"] for part in split["parts"]] == [report["runs"][1]["link"] + f"/{i}" for i in (0, 1)]
    assert json.loads(run_cli(path, "--format", "json")[1])["runs"][0]["link"] is None
    status, md, err = run_cli(path, "--links", "--format", "markdown", "--route", "ai-observability")
    assert status == 0, err
    assert "[0 Coding help](https://us.posthog.com/ai-observability/clusters/" in md
    assert "us" in md.split("Note:")[-1]  # the host was a default: the output says so


def test_a_renamed_cluster_is_matched_by_its_items_and_its_title_change_reported(run_cli, tmp_path):
    before = props(20, [("Order status questions", SUPPORT), ("Refunds", keys("r", 20))])
    after = props(21, [("Refunds", keys("r", 21)), ("Where is my parcel", SUPPORT)])
    path = save(tmp_path, "renamed.txt", before, after)
    status, out, _ = run_cli(path)
    assert status == 0
    assert "Title changes:\n    0 -> 1: Order status questions -> Where is my parcel" in out
    assert "New clusters" not in out and "Vanished clusters" not in out
    pairs = json.loads(run_cli(path, "--format", "json")[1])["steps"][0]["pairs"]
    assert [(p["before"]["cluster_id"], p["after"]["cluster_id"], p["title_changed"]) for p in pairs] == \
        [(0, 1, True), (1, 0, False)]
    assert pairs[0]["item_similarity"] == 1.0 and pairs[0]["text_similarity"] < 0.2


def test_noise_is_never_matched_and_its_share_is_tested_on_its_own(run_cli, tmp_path):
    def with_noise(day: int, regular: int, noise: int) -> dict:
        run = props(day, [("Support", keys("s", regular))])
        run["$ai_clusters"].append(make_cluster(-1, noise, keys=keys("n", noise), metrics="absent"))
        return run

    path = save(tmp_path, "noise.txt", with_noise(20, 490, 10), with_noise(21, 350, 150))
    status, out, _ = run_cli(path)
    assert status == 0
    assert "Noise (-1): 2.0% -> 30.0% (+28.0 pp, p <0.001): grew." in out
    (pair,) = json.loads(run_cli(path, "--format", "json")[1])["steps"][0]["pairs"]
    assert pair["before"]["cluster_id"] == pair["after"]["cluster_id"] == 0


def test_with_links_every_cluster_row_links_its_clusters(run_cli, tmp_path):
    """Matched (grown, shrunk or not) and lineage rows too, not only new, vanished, split, merged."""
    runs = [props(20 + day, [("Order support", SUPPORT), ("Coding help", CODING)]) for day in range(3)]
    path = save(tmp_path, "runs.txt", *runs)
    base = "https://eu.posthog.com/project/7/llm-analytics/clusters/"
    text = run_cli(path, "--links", "--steps", "--host", "eu", "--project-id", "7")[1]
    pair_rows = [line for line in text.splitlines() if re.match(r"\d+ -> \d+ ", line)]
    assert len(pair_rows) == 4  # two matched pairs in each of two steps
    for row in pair_rows:
        before, after = (int(i) for i in row.split()[0:3:2])
        assert re.search(rf"{re.escape(base)}\S+/{before} {re.escape(base)}\S+/{after}\s*$", row), row
    lineage = text.split("Lineage:")[1]
    rows = [line for line in lineage.splitlines() if line.startswith(("Order support", "Coding help"))]
    assert len(rows) == 2 and all(re.search(rf"{re.escape(base)}\S+_20260122_\S+/\d+\s*$", r) for r in rows)
    markdown_out = run_cli(path, "--links", "--format", "markdown", "--host", "eu", "--project-id", "7")[1]
    assert markdown_out.split("Lineage:")[1].count(f"]({base}") == 6  # every cell of both lineages
    document = json.loads(run_cli(path, "--links", "--format", "json", "--host", "eu",
                                  "--project-id", "7")[1])
    assert all(link and link.startswith(base)
               for lineage in document["lineages"] for link in lineage["links"])
    assert all(pair["before"]["link"] and pair["after"]["link"]
               for step in document["steps"] for pair in step["pairs"])
    assert "https://" not in run_cli(path)[1]  # no links without --links
