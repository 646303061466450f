"""report.py: one self-contained HTML page (and its Markdown twin) about a run, its metrics and
its changes between runs; untrusted text stays text; bounded size and time. The same pages in a
real browser: test_report_browser.py."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import time
from pathlib import Path

import pytest

from benchmarks.bench_print_clusters import write_json_shape
from llm_clusters.analyse.compare import compare_runs, time_order
from llm_clusters.display import money
from llm_clusters.model import ItemPolicy
from llm_clusters.posthog.metrics_sql import run_target, server_side_query
from llm_clusters.posthog.queries import load_run_sql
from llm_clusters.read.reader import read_runs
from llm_clusters.report.html import CSS
from localposthog.answers import save_answer
from payloads import content_blocks, execute_sql, make_cluster, make_properties
from report_pages import HOSTILE, HOSTILE_RUN_ID, check_self_contained, hostile_run_file

COMMAND = "report"  # what the run_cli fixture runs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "trace_run.execute-sql.txt"
RECENT = ROOT / "examples" / "recent_runs.execute-sql.txt"


def page_of(run_cli, *argv) -> str:
    status, out, err = run_cli(*argv)
    assert status == 0, err
    return out


def located(path: Path) -> int:
    """Items of the newest run with x and y, read independently of the report."""
    runs = read_runs(str(path), ItemPolicy(default=None)).runs
    run = max(runs, key=lambda r: (r.sort_time, r.run_id or ""))
    return sum(1 for c in run.clusters for i in c.items if i.x is not None and i.y is not None)


def map_marks(page: str) -> int:
    svg = page.split('<svg class="map"', 1)[1].split("</svg>", 1)[0]
    groups = re.findall(r'<g class="pts [^"]+">(.*?)</g>', svg)
    return sum(group.count("<circle") for group in groups)


# --- the page -----------------------------------------------------------------------------------

def test_the_page_is_self_contained_and_its_policy_allows_only_its_own_stylesheet(run_cli):
    page = page_of(run_cli, EXAMPLE)
    check_self_contained(page)
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1)
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert style == CSS
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert directives["style-src"] == f"'sha256-{digest}'"
    assert page.count("<style>") == 1 and "<script" not in page.lower()


def test_the_map_has_one_mark_per_located_item_and_marks_the_best_ranked(run_cli):
    page = page_of(run_cli, EXAMPLE)
    assert map_marks(page) == located(EXAMPLE) > 0
    run = read_runs(str(EXAMPLE), ItemPolicy(default=3)).runs[0]
    assert page.split('<g class="top">', 1)[1].split("</g>", 1)[0].count("<circle") == sum(
        len(c.items) for c in run.clusters)
    for cluster in run.clusters:
        assert f"cluster {cluster.cluster_id}, rank 0: {cluster.items[0].trace_id}" in page


def test_clusters_and_items_link_to_posthog_only_when_host_and_project_are_known(run_cli):
    assert "<a href" not in page_of(run_cli, EXAMPLE) and "No PostHog links" in page_of(run_cli, EXAMPLE)
    linked = page_of(run_cli, EXAMPLE, "--host", "eu", "--project-id", "42")
    run = read_runs(str(EXAMPLE), ItemPolicy(default=3)).runs[0]
    base = "https://eu.posthog.com/project/42/llm-analytics"
    assert f'href="{base}/clusters/{run.run_id}"' in linked
    for cluster in run.clusters:
        assert f'href="{base}/clusters/{run.run_id}/{cluster.cluster_id}"' in linked
        assert f'href="{base}/traces/{cluster.items[0].trace_id}?timestamp=' in linked


def test_a_run_without_coordinates_gets_a_note_instead_of_a_map(run_cli, tmp_path):
    clusters = [make_cluster(0, 5), make_cluster(-1, 3)]
    for cluster in clusters:
        for entry in cluster["traces"].values():
            del entry["x"], entry["y"]
    path = tmp_path / "run.txt"
    path.write_text(content_blocks(execute_sql([make_properties(clusters)])))
    page = page_of(run_cli, path)
    assert 'class="map"' not in page and "records no 2-D coordinates" in page


# --- untrusted text -----------------------------------------------------------------------------

def test_hostile_titles_descriptions_and_ids_are_escaped_everywhere(run_cli, tmp_path):
    path = hostile_run_file(tmp_path)
    page = page_of(run_cli, path, "--host", "us", "--project-id", "1")
    structure = check_self_contained(page)
    assert structure.title == f"Clusters of run {HOSTILE_RUN_ID}"
    for payload in HOSTILE:
        assert payload not in page  # never raw
        escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
            '"', "&quot;").replace("'", "&#x27;")
        assert escaped in page
    assert all(href.startswith("https://us.posthog.com/project/1/") for href in structure.hrefs)


def test_the_markdown_twin_escapes_hostile_text(run_cli, tmp_path):
    out = page_of(run_cli, hostile_run_file(tmp_path), "--format", "markdown")
    assert not re.search(r"(?<!\\)<", out)  # every < escaped
    assert r"\<script\>document.title='PWNED';window.pwned=1\</script\>" in out


# --- the Markdown twin --------------------------------------------------------------------------

def test_markdown_holds_the_same_clusters_shares_and_intervals_as_the_page(run_cli):
    html_page, md = page_of(run_cli, EXAMPLE), page_of(run_cli, EXAMPLE, "--format", "markdown")
    run = read_runs(str(EXAMPLE), ItemPolicy(default=0)).runs[0]
    total = sum(c.size for c in run.clusters)
    for cluster in run.clusters:
        share = f"{100 * cluster.size / total:.1f}%"
        assert share in html_page and share in md
    intervals = re.findall(r"\((\d+\.\d%–\d+\.\d%)\)", md)
    assert len(intervals) >= len(run.clusters)
    assert all(i in html_page for i in intervals)
    assert "<" not in md.replace("\\<", "")


# --- inputs, errors -----------------------------------------------------------------------------

def test_output_file_and_its_summary_line(run_cli, tmp_path):
    target = tmp_path / "report.html"
    status, out, err = run_cli(EXAMPLE, "--output", target)
    assert status == 0, err
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert out.startswith(f"Wrote {target} (") and "120 items on the map" in out


def test_standard_input(run_cli):
    status, out, _ = run_cli("-", stdin=EXAMPLE.read_bytes())
    assert status == 0 and "Read standard input: 1 clustering run" in out
    assert map_marks(out) == located(EXAMPLE)


@pytest.mark.parametrize("argv, status, says", [
    ([], 2, "SAVED_RESULT"),
    ([EXAMPLE, "--format", "pdf"], 2, "--format"),
    ([EXAMPLE, "--run-id", "nope"], 5, "no run with id 'nope'"),
    ([ROOT / "nowhere.txt"], 3, "does not exist"),
    (["-", "-"], 2, "only once"),
    ([EXAMPLE, "--output", ROOT / "no-such-folder" / "r.html"], 2, "cannot write the report"),
])
def test_bad_input_is_one_message_and_a_documented_exit_code(run_cli, argv, status, says):
    code, out, err = run_cli(*argv)
    assert (code, out) == (status, "") and says in err and "Traceback" not in err


def test_a_table_that_is_no_known_result_is_refused_with_what_was_expected(run_cli, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("name|value\na|1\n")
    code, _, err = run_cli(EXAMPLE, other)
    assert code == 3 and "neither a clustering run nor a result the report reads" in err


def test_help_lists_the_exit_codes(run_cli):
    code, out, _ = run_cli("--help")  # argparse writes --help to the command's own stdout
    assert code == 0 and "exit codes:" in out and "--map-points" in out


# --- size and speed -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run_10000(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("large") / "run10000.json"
    write_json_shape(path, 10_000, clusters_as_string=False)
    return path


def test_a_10000_item_run_gives_a_page_under_2_mb_written_in_under_a_second(run_cli, run_10000, tmp_path):
    target = tmp_path / "report.html"
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        status, _, err = run_cli(run_10000, "--output", target)
        timings.append(time.perf_counter() - started)
        assert status == 0, err
    page = target.read_text()
    assert len(page.encode()) < 2_000_000
    assert min(timings) < 1.0, timings
    assert map_marks(page) == located(run_10000) == 10_000
    assert "Thinned" not in page


def test_a_larger_run_is_thinned_for_the_map_and_the_page_says_so(run_cli, run_10000):
    page = page_of(run_cli, run_10000, "--map-points", "2000")
    marks = map_marks(page)
    assert 2000 <= marks <= 2000 + 26  # rounded up per cluster, 25 clusters and noise
    shown = html.unescape(page)
    assert f"{marks:,} of the run's 10,000 items" in shown and "Thinned for the map" in shown
    assert map_marks(page_of(run_cli, run_10000, "--map-points", "0")) == 10_000


# --- the local PostHog: metrics, window totals, comparisons -----------------------------------

def consecutive_runs(engine) -> list[list[dict]]:
    """The dataset's runs grouped by job and level, oldest first."""
    groups: dict[tuple, list[dict]] = {}
    for run in engine.runs:
        groups.setdefault((run["job_id"], run["level"]), []).append(run)
    return [sorted(runs, key=lambda r: r["window_end"]) for runs in groups.values()]


@pytest.mark.engine
def test_metrics_and_window_totals_add_intervals_flags_and_estimates(run_cli, localposthog_engine, tmp_path):

    run = localposthog_engine.runs[0]
    saved = save_answer(localposthog_engine, load_run_sql(run["run_id"]), tmp_path / "run.json")
    target = run_target(run["run_id"], run["level"], run["window_start"], run["window_end"])
    per_item = save_answer(localposthog_engine, server_side_query(target, per_item=True),
                           tmp_path / "items.json")
    sql = run_cli.output("sql", "--window-totals", "--run-file", saved, command="cluster_metrics")
    window = save_answer(localposthog_engine, sql, tmp_path / "window.json")
    expected = json.loads(run_cli.output("aggregate", saved, per_item, "--window-totals", window,
                                         "--format", "json", "--max-clusters", "0",
                                         command="cluster_metrics"))
    page = page_of(run_cli, window, per_item, saved, "--max-clusters", "0")  # any order
    md = page_of(run_cli, saved, per_item, window, "--format", "markdown", "--max-clusters", "0")
    assert "per-item metrics" in page and "window totals (1 row)" in page
    assert "The whole window" in page and "The whole window" in md
    for row in expected["clusters"]:
        if row["total_cost"]:
            assert (f'<td class="num">{money(row["total_cost"])}</td>' in page
                    and money(row["total_cost"]) in md)
        if row["error_rate_ci95"]:
            low, high = (f"{100 * v:.1f}%" for v in row["error_rate_ci95"])
            assert f"({low}–{high})" in md and f"({low}–{high})" in page
        estimate = row["window_estimate"]["items"]
        if estimate and not estimate["exact"]:
            assert f"{round(estimate['value']):,} ({round(estimate['ci95'][0]):,}–" in page
    flagged = [r for r in expected["clusters"] if any(t and t["significant"] for t in r["tests"].values())]
    assert len(re.findall(r'<td class="flag">↑[^<]+</td>', page)) == len(flagged)


@pytest.mark.engine
def test_a_comparison_draws_a_node_per_cluster_and_a_band_per_match_split_and_merge(
        run_cli, localposthog_engine, tmp_path):
    runs = max(consecutive_runs(localposthog_engine), key=len)
    files = [save_answer(localposthog_engine, load_run_sql(r["run_id"]), tmp_path / f"{n}.json")
             for n, r in enumerate(runs)]
    page = page_of(run_cli, *files, "--max-runs", "0")
    read = [run for f in files for run in read_runs(str(f), ItemPolicy(default=None)).runs]
    comparison = compare_runs(time_order(read))
    flow = page.split('<svg class="flow"', 1)[1].split("</svg>", 1)[0]
    assert flow.count("<rect") == sum(len(run.clusters) for run in read)
    assert flow.count('<path class="band') == sum(
        len(step.pairs) + sum(len(d.parts) for d in step.divisions) for step in comparison.steps)
    kinds = {kind for step in comparison.steps for kind, present in
             (("split", step.splits), ("merged", step.merges), ("new", step.new),
              ("vanished", step.vanished)) if present}
    assert kinds, "the dataset plants drift: some change must be found"
    for kind in kinds:
        assert f"<li>{kind}:" in page


def test_runs_of_another_level_are_left_out_of_the_comparison_and_said(run_cli):
    generation = ROOT / "examples" / "generation_run.hogql.json"
    level = read_runs(str(generation), ItemPolicy(default=0)).runs[0].level
    run_id = read_runs(str(RECENT), ItemPolicy(default=0)).runs[0].run_id
    page = html.unescape(page_of(run_cli, RECENT, generation, "--run-id", run_id))
    assert level == "generation" and "1 runs of another level than this run's (trace) are left out" in page
    assert page.count("<h3>#") == 2  # the three trace runs: two steps
    alone = html.unescape(page_of(run_cli, generation, EXAMPLE))
    assert 'class="flow"' not in alone and "left out of the comparison" in alone


@pytest.mark.engine
def test_window_totals_of_another_run_are_refused(run_cli, localposthog_engine, tmp_path):

    first, second = [r for r in localposthog_engine.runs if r["level"] == "trace" and r["job_id"]][:2]
    saved = [save_answer(localposthog_engine, load_run_sql(r["run_id"]), tmp_path / f"{n}.json")
             for n, r in enumerate((first, second))]
    sql = run_cli.output("sql", "--window-totals", "--run-file", saved[1], command="cluster_metrics")
    window = save_answer(localposthog_engine, sql, tmp_path / "window.json")
    code, _, err = run_cli(saved[0], window)
    assert code == 2 and "is not the run's" in err
