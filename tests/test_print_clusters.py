"""print_clusters.py as a user runs it: golden outputs on the bundled examples, bounds,
untrusted text, exit codes and messages."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from localposthog.mcp_format import format_execute_sql, persisted_content
from payloads import raw_json

COMMAND = "print_clusters"  # what the run_cli fixture runs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
SCRIPT = ROOT / "scripts" / "print_clusters.py"
RUN_COLUMNS = ["run_id", "level", "job_id", "job_name", "window_start", "window_end",
               "total_items", "clusters", "params"]


GOLDEN_CASES = {
    "trace_default.txt": ("trace_run.execute-sql.txt",),
    "trace_markdown.md": ("trace_run.execute-sql.txt", "--format", "markdown"),
    "trace_noise_cluster.txt": ("trace_run.execute-sql.txt", "--cluster", "-1", "--limit", "5"),
    "trace_ids.txt": ("trace_run.execute-sql.txt", "--cluster", "2", "--ids"),
    "recent_default.txt": ("recent_runs.execute-sql.txt",),
    "recent_list.txt": ("recent_runs.execute-sql.txt", "--list-runs"),
    "recent_older_run.txt": ("recent_runs.execute-sql.txt", "--run-id",
                             "2_trace_20260123_000000_019cb7f3-a126-7809-bffc-7f13bffe1325",
                             "--sort", "id", "--top", "1"),
    "generation_default.txt": ("generation_run.hogql.json",),
    "generation_cluster.json": ("generation_run.hogql.json", "--cluster", "1", "--limit", "2",
                                "--format", "json"),
    "legacy_default.txt": ("legacy_run.execute-sql.txt",),
    "legacy_json.json": ("legacy_run.execute-sql.txt", "--format", "json", "--top", "1"),
}


@pytest.mark.parametrize("golden", sorted(GOLDEN_CASES))
def test_golden_output(run_cli, golden):
    example, *flags = GOLDEN_CASES[golden]
    status, out, err = run_cli(str(EXAMPLES / example), *flags)
    assert status == 0, err
    # Paths differ between machines: the golden files name the example relative to the repo.
    out = out.replace(str(EXAMPLES), "examples")
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")


def test_examples_are_what_the_generator_writes(tmp_path):
    sys.path.insert(0, str(EXAMPLES))
    try:
        import generate
    finally:
        sys.path.remove(str(EXAMPLES))
    for path in generate.write_examples(tmp_path):
        assert path.read_bytes() == (EXAMPLES / path.name).read_bytes(), path.name


def test_json_output_keeps_posthog_field_names_and_counts_what_it_omits(run_cli):
    status, out, _ = run_cli(str(EXAMPLES / "trace_run.execute-sql.txt"), "--format", "json")
    assert status == 0
    document = json.loads(out)
    assert document["schema"] == "exploring-llm-clusters/print_clusters@1"
    assert document["run"]["level"] == "trace"
    first = document["clusters"][0]
    assert {"cluster_id", "size", "title", "description", "metrics", "items"} <= set(first)
    assert first["items_omitted"] == first["item_count"] - len(first["items"]) > 0
    assert [c["cluster_id"] for c in document["clusters"]][-1] == -1  # noise last


def _synthetic_run(clusters: int, items_per_cluster: int, title: str = "Topic {i}",
                   item_id: str = "{c}-{r}") -> bytes:
    rng = random.Random(7)
    payload = [{
        "cluster_id": c, "size": items_per_cluster, "title": title.format(i=c),
        "description": "- a bullet\n- another",
        "traces": {item_id.format(c=c, r=r): {"distance_to_centroid": rng.random(), "rank": r,
                                              "x": 0.0, "y": 0.0,
                                              "timestamp": "2026-01-22T15:30:00+00:00",
                                              "trace_id": item_id.format(c=c, r=r),
                                              "generation_id": None}
                   for r in range(items_per_cluster)},
        "centroid": [0.1] * 100, "centroid_x": 0.0, "centroid_y": 0.0,
        "metrics": {"avg_cost": 0.01, "avg_latency": 1.5, "error_rate": 0.02, "total_cost": 1.2},
    } for c in range(clusters)]
    row = ["7_trace_20260125_000000", "trace", "", "", "2026-01-18T00:00:00+00:00",
           "2026-01-25T00:00:00+00:00", clusters * items_per_cluster, payload,
           {"max_samples": 1500}]
    return persisted_content(format_execute_sql(RUN_COLUMNS, [raw_json(row)], truncate=False)).encode()


def test_a_run_of_25_clusters_prints_within_12000_characters(run_cli):
    status, out, _ = run_cli("-", stdin=_synthetic_run(25, 60))
    assert status == 0
    assert "cluster 24 (60 items)" in out
    assert len(out) <= 12_000, len(out)


def test_no_input_makes_the_default_view_exceed_25000_characters(run_cli):
    huge = _synthetic_run(400, 5, title="T{i} " + "very long title " * 400,
                          item_id="{c}-{r}-" + "x" * 5000)
    status, out, _ = run_cli("-", stdin=huge)
    assert status == 0
    assert len(out) <= 25_000, len(out)
    assert "370 more clusters not shown" in out and "--max-clusters 0" in out


def test_untrusted_text_cannot_reach_the_terminal(run_cli):
    hostile = "Evil\x1b]8;;http://x\x07link\x1b[2J\x1b[31mred\u202eevil\r\nnext\x00line\x9b1m"
    status, out, _ = run_cli("-", stdin=_synthetic_run(1, 2, title=hostile, item_id="id\x1b[1m{r}"))
    assert status == 0
    for bad in ("\x1b", "\x07", "\u202e", "\x00", "\r", "\x9b"):
        assert bad not in out
    assert "Evillinkredevil nextline" in out  # text kept, controls gone, line break folded


def test_markdown_escapes_untrusted_titles(run_cli):
    status, out, _ = run_cli("-", "--format", "markdown",
                             stdin=_synthetic_run(1, 1, title="[click](http://evil) | <b>x</b>"))
    assert status == 0
    assert "[click](http://evil)" not in out and "<b>" not in out
    assert r"\[click\](http://evil) \| \<b\>x\</b\>" in out


@pytest.mark.parametrize("argv, message", [
    (["--no-such-flag", "x"], "unrecognized arguments"),
    (["--ids", "examples/trace_run.execute-sql.txt"], "--ids needs --cluster"),
    (["--top", "-1", "x"], "expected a number >= 0"),
])
def test_usage_errors_exit_2_with_a_message(run_cli, argv, message):
    status, out, err = run_cli(*argv)
    assert status == 2
    assert message in err and "--help" in err and out == ""


def test_each_failure_has_its_exit_code_and_a_message_not_a_traceback(run_cli, tmp_path):
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    cut = tmp_path / "cut.txt"
    cut.write_text((EXAMPLES / "trace_run.execute-sql.txt").read_text()[:20_000])
    empty_result = tmp_path / "empty.txt"
    empty_result.write_text(persisted_content("run_id|clusters"))
    truncated_cell = tmp_path / "truncated.txt"
    truncated_cell.write_text(persisted_content(format_execute_sql(
        RUN_COLUMNS, [["1_trace_20260125_000000", "trace", "", "", "", "", 5, _cell_payload(), "{}"]],
        truncate=True)))
    cases = {binary: (3, "not UTF-8"), cut: (4, "cut"), empty_result: (5, "'run_id', 'clusters'"),
             truncated_cell: (4, "truncate: false"), tmp_path / "missing.txt": (3, "does not exist"),
             tmp_path: (3, "is a folder")}
    for path, (expected, words) in cases.items():
        status, out, err = run_cli(str(path))
        assert (status, out) == (expected, ""), (path, err)
        assert words in err and "Traceback" not in err, err
        assert err.startswith("error: ") and err.count("\n") == 1


def _cell_payload() -> str:
    return json.dumps([{"cluster_id": i, "size": 1, "title": f"T{i}", "description": "d" * 80,
                        "traces": {f"t{i}": {"rank": 0}}} for i in range(10)])


def test_unknown_cluster_and_unknown_run_say_what_exists(run_cli):
    status, _, err = run_cli(str(EXAMPLES / "trace_run.execute-sql.txt"), "--cluster", "99")
    assert status == 5 and "0, 1, 2, 3, 4, 5, -1" in err
    status, _, err = run_cli(str(EXAMPLES / "recent_runs.execute-sql.txt"), "--run-id", "nope")
    assert status == 5 and "2_trace_20260124_000000" in err


def test_the_script_runs_from_any_directory_and_reads_stdin(tmp_path):
    data = (EXAMPLES / "legacy_run.execute-sql.txt").read_bytes()
    done = subprocess.run([sys.executable, str(SCRIPT), "-"], input=data, cwd=tmp_path,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b"Run 2_20250310_000000" in done.stdout


def test_help_documents_the_exit_codes():
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    for line in ("3  unreadable input", "4  truncated input", "5  no clusters found",
                 "6  a dependency is missing"):
        assert line in done.stdout


def _without_dependencies(tmp_path) -> dict:
    """An environment whose interpreter cannot import ijson or httpx, as on a machine
    where they were never installed."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('ijson', 'tabulate', 'httpx'):\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\", name=name)\n"
        "sys.meta_path.insert(0, Block())\n")
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


def test_help_needs_no_dependency(tmp_path):
    env = _without_dependencies(tmp_path)
    for script in sorted((ROOT / "scripts").glob("*.py")):
        done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                              text=True, env=env, timeout=60)
        assert done.returncode == 0 and "exit codes:" in done.stdout, (script.name, done.stderr)


def test_a_missing_dependency_gives_the_install_command_and_exit_6(tmp_path):
    env = _without_dependencies(tmp_path)
    done = subprocess.run([sys.executable, str(SCRIPT), str(EXAMPLES / "trace_run.execute-sql.txt")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 6
    assert "python -m pip install httpx ijson" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_output_is_deterministic(run_cli):
    first = run_cli(str(EXAMPLES / "recent_runs.execute-sql.txt"), "--format", "json")
    assert first == run_cli(str(EXAMPLES / "recent_runs.execute-sql.txt"), "--format", "json")


def test_json_output_keeps_untrusted_text_inert(run_cli):
    hostile = "a\x9b31mb\u202ec\u200bd\x1b[2Je"
    status, out, _ = run_cli("-", "--format", "json", stdin=_synthetic_run(1, 1, title=hostile))
    assert status == 0
    for bad in ("\x9b", "\u202e", "\u200b", "\x1b"):
        assert bad not in out
    assert json.loads(out)["clusters"][0]["title"] == "abcde"  # escape sequences and marks removed


def test_json_output_escapes_what_it_does_not_clean(run_cli):
    # params are shown as PostHog stored them: kept, but a terminal-steering character is escaped
    params = {"clustering_method": "hdbscan\x9b2J\u202e"}
    row = ["7_trace_20260125_000000", "trace", "", "", "", "", 1,
           [{"cluster_id": 0, "size": 1, "title": "T", "traces": {"t": {"rank": 0}}}], params]
    data = persisted_content(format_execute_sql(RUN_COLUMNS, [raw_json(row)], truncate=False)).encode()
    status, out, _ = run_cli("-", "--format", "json", stdin=data)
    assert status == 0 and "\x9b" not in out and "\u202e" not in out
    assert "\\u009b" in out and json.loads(out)["run"]["params"] == params


@pytest.mark.parametrize("markdown", [False, True])
def test_tables_are_written_as_tabulate_writes_them(markdown):
    """render.format_table against tabulate itself (the test extra has it), on random tables with
    empty cells, None, numbers, spaces and non-ASCII text."""
    import random

    from tabulate import tabulate

    from llm_clusters.views.render import format_table

    rng = random.Random(13)
    alphabet = ["a", "Z", "0", " ", "-", "%", "→", "–", "é", "字", "テ", "$", "."]
    for _ in range(300):
        columns = rng.randint(1, 7)
        headers = ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(columns)]
        rows = [[rng.choice([None, rng.randint(-5, 10_000),
                             "".join(rng.choices(alphabet, k=rng.randint(0, 30)))])
                 for _ in range(columns)]
                for _ in range(rng.randint(1, 6))]
        expected = tabulate(rows, headers=headers, tablefmt="pipe" if markdown else "simple",
                            disable_numparse=True)
        assert format_table(headers, rows, markdown=markdown) == expected, (headers, rows)


IMPORT_PROBE = """
import io, sys
sys.path.insert(0, {scripts!r})
from llm_clusters.cli import run_command
from llm_clusters.environment import Environment
assert run_command("print_clusters", {argv!r}, \
Environment(io.BytesIO(), io.StringIO(), sys.stderr, {{}})) == 0
print(" ".join(sorted(name for name in sys.modules if name.split(".")[0] in
                      ("llm_clusters", "httpx", "tabulate", "typing", "shutil", "dataclasses"))))
"""


def _imported(*argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c",
                           IMPORT_PROBE.format(scripts=str(ROOT / "scripts"), argv=list(argv))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_each_view_imports_only_what_it_needs():
    """Start-up time is mostly imports: no link builder without --links, no HTTP client or
    query text without --live, no typing, no tabulate, no shutil (argparse's help formatter), no
    dataclasses (and the inspect module it loads)."""
    plain = _imported(str(EXAMPLES / "trace_run.execute-sql.txt"))
    assert "llm_clusters.read.reader" in plain
    for module in ("llm_clusters.posthog.links", "llm_clusters.posthog.posthog_api", "httpx", "tabulate",
                   "typing", "shutil", "dataclasses"):
        assert module not in plain, module
    assert "llm_clusters.posthog.links" in _imported(str(EXAMPLES / "trace_run.execute-sql.txt"), "--links")
