"""SKILL.md and references/ stay true: valid Agent Skills frontmatter, every SQL block runs on
the local PostHog and returns the columns it names, every command runs, and the flags the docs
mention are exactly the flags the scripts have."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest

from documented_sql import DOCS, sql_blocks

ROOT = Path(__file__).resolve().parent.parent
SKILL = ROOT / "SKILL.md"
SCRIPTS = sorted(p.stem for p in (ROOT / "scripts").glob("*.py"))
ALLOWED_KEYS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
EXAMPLES = ROOT / "examples"


def _frontmatter() -> tuple[dict[str, str], str]:
    text = SKILL.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    assert match, "SKILL.md must open with --- frontmatter ---"
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        assert sep and not line.startswith(" "), f"frontmatter line is not `key: value`: {line!r}"
        fields[key.strip()] = value.strip()
    return fields, match.group(2)


def test_frontmatter_follows_the_agent_skills_spec():
    fields, body = _frontmatter()
    assert set(fields) <= ALLOWED_KEYS and {"name", "description"} <= set(fields)
    assert fields["name"] == ROOT.name or fields["name"] == "exploring-llm-clusters"
    assert fields["name"] == "exploring-llm-clusters"
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", fields["name"]) and len(fields["name"]) <= 64
    description = fields["description"]
    assert 0 < len(description) <= 1024 and "<" not in description and ">" not in description
    for trigger in ("cluster", "outlier", "/llm-analytics/clusters", "execute-sql"):
        assert trigger in description
    assert len(body.splitlines()) < 500


def test_references_say_when_to_read_them_and_long_ones_have_contents():
    for doc in DOCS[1:]:
        lines = doc.read_text(encoding="utf-8").splitlines()
        opening = " ".join(lines[1:4]).strip()
        assert opening.startswith("Read this when"), doc.name
        if len(lines) > 100:
            assert any(line.startswith("Contents:") for line in lines[:12]), doc.name
        assert f"references/{doc.name}" in SKILL.read_text(encoding="utf-8"), \
            f"SKILL.md never says when to open {doc.name}"


# --- SQL ------------------------------------------------------------------------------------

def _substitute(sql: str, engine) -> str:
    """Fill the documented placeholders with values from the local dataset."""
    run = next(r for r in engine.runs if r["run_id"].startswith("1_trace_2026012"))
    values = {
        "{run_id}": run["run_id"],
        "{window_end}": run["window_end"][:19].replace("T", " "),
        "{window_start}": run["window_start"][:19].replace("T", " "),
        "{level}": "trace",
        "{cluster_id}": "0",
        "{trace_id}": next(iter(run["clusters"][0]["items"].values()))["trace_id"],
        "{job_id}": run["job_id"],
        "{days}": "7",
        "{first_day}": "2026-01-15",  # a week of daily runs, up to the run's
        "{last_day}": run["window_end"][:10],
    }
    for placeholder, value in values.items():
        sql = sql.replace(placeholder, value)
    leftover = re.findall(r"\{[a-z_]+\}", sql)
    assert not leftover, f"placeholders with no test value: {leftover}"
    return sql


@pytest.mark.engine
def test_every_sql_block_runs_on_the_local_posthog_and_returns_its_columns(localposthog_engine):
    blocks = sql_blocks()
    assert len(blocks) >= 2
    for doc, block in blocks:
        result = localposthog_engine.query(_substitute(block, localposthog_engine))
        named = re.findall(r"\bAS\s+([a-z_][a-z0-9_]*)\s*(?:,|\n|$)", block.split("\nFROM")[0],
                           re.IGNORECASE)
        assert result.columns[: len(named)] == named or set(named) <= set(result.columns), (doc, block)
        assert result.rows, f"{doc}: a documented query returned nothing on the dataset:\n{block}"


# --- commands -------------------------------------------------------------------------------

def _command_lines() -> list[tuple[str, str]]:
    lines = []
    for doc in DOCS:
        for block in re.findall(r"```sh\n(.*?)```", doc.read_text(encoding="utf-8"), re.DOTALL):
            lines += [(doc.name, line.strip()) for line in block.splitlines()
                      if line.strip().startswith("python scripts/")]
    return lines


PLACEHOLDERS = {
    "SAVED_FILE": str(EXAMPLES / "trace_run.execute-sql.txt"),
    "RUN_FILE": str(EXAMPLES / "trace_run.execute-sql.txt"),
    "RUN_ID": "2_trace_20260125_000000_019cb7f3-a126-7809-bffc-7f13bffe1325",
    "URL": "https://us.posthog.com/llm-analytics/clusters/2_trace_20260125_000000_x/3",
    "CLUSTER_ID": "1",
    "TRACE_ID": "ec9f5f84-6d09-42c8-9c75-a5fa88433e82",
    "GENERATION_ID": "390ab80b-53f8-40f0-9363-e634454ca93c",
}


# compare_runs needs several runs: the example file of three daily runs.
SCRIPT_PLACEHOLDERS = {"compare_runs": {"SAVED_FILE": str(EXAMPLES / "recent_runs.execute-sql.txt")}}


@pytest.mark.engine
def test_every_documented_command_runs_on_the_examples(run_cli, tmp_path, local_posthog, localposthog_engine):
    # live-mode commands run against the local PostHog, as a user's would against theirs
    run_cli.variables.update({"POSTHOG_HOST": local_posthog.url,
                              "POSTHOG_PROJECT_ID": str(local_posthog.project_id),
                              "POSTHOG_PERSONAL_API_KEY": local_posthog.api_key})
    lines = _command_lines()
    assert any("print_clusters.py" in line for _, line in lines)
    metrics_file = comparison_file = None
    for doc, line in lines:
        words = shlex.split(re.sub(r"\[[A-Z_ .]+\]", "", line))
        script = Path(words[1]).stem
        if "METRICS_FILE" in words:
            metrics_file = metrics_file or _per_cluster_metrics(tmp_path)
        if "COMPARISON_FILE" in words:
            comparison_file = comparison_file or _comparison_result(tmp_path, localposthog_engine)
        values = {**PLACEHOLDERS, **SCRIPT_PLACEHOLDERS.get(script, {}), "METRICS_FILE": metrics_file,
                  "COMPARISON_FILE": comparison_file, "REPORT_FILE": str(tmp_path / "report.html")}
        argv = [values.get(w, w) for w in words[2:]]
        status, out, err = run_cli(*argv, command=script)
        assert status == 0, f"{doc}: `{line}` exited {status}: {err}"
        assert out.strip(), f"{doc}: `{line}` printed nothing"


def _comparison_result(tmp_path: Path, engine) -> str:
    """The comparison query's answer for two daily trace runs, as execute-sql prints it, saved."""
    from llm_clusters.posthog.compare_sql import ids_sql
    from localposthog.answers import execute_sql_text
    from localposthog.mcp_format import persisted_content
    ids = sorted(r["run_id"] for r in engine.runs if r["level"] == "trace" and r["job_name"])[:2]
    path = tmp_path / "comparison.txt"
    path.write_text(persisted_content(execute_sql_text(engine, ids_sql(ids))), encoding="utf-8")
    return str(path)


def _per_cluster_metrics(tmp_path: Path) -> str:
    """A saved per-cluster metrics result for the trace example, as execute-sql prints it."""
    from localposthog.mcp_format import format_execute_sql, persisted_content
    columns = ["cluster_id", "items", "items_with_data", "total_cost", "error_items"]
    rows = [[c, 10, 8, 0.5 * (c + 2), c % 3] for c in (0, 1, 2, 3, 4, 5, -1)]
    path = tmp_path / "metrics.txt"
    path.write_text(persisted_content(format_execute_sql(columns, rows, truncate=False)))
    return str(path)


# --- flags ----------------------------------------------------------------------------------

def _flags(parser: argparse.ArgumentParser) -> set[str]:
    flags = set()
    for action in parser._actions:
        flags.update(o for o in action.option_strings if o.startswith("--") and o != "--help")
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= _flags(sub)
    return flags


def _script_flags() -> dict[str, set[str]]:
    return {script: _flags(importlib.import_module(f"llm_clusters.commands.{script}").build_parser())
            for script in SCRIPTS}


def _documented_flags() -> set[str]:
    text = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))


def test_every_script_is_documented_in_skill_md():
    text = SKILL.read_text(encoding="utf-8")
    for script in SCRIPTS:
        assert f"scripts/{script}.py" in text, script


def test_every_flag_a_script_has_is_documented():
    documented = _documented_flags()
    for script, flags in _script_flags().items():
        assert flags <= documented, (f"{script}.py flags missing from SKILL.md/references: "
                                     f"{sorted(flags - documented)}")


def test_every_flag_the_docs_mention_exists():
    existing = set().union(*_script_flags().values()) | {"--help"}
    assert _documented_flags() <= existing, sorted(_documented_flags() - existing)


@pytest.mark.engine
def test_the_cookbooks_cluster_items_query_returns_the_cluster_in_rank_order(localposthog_engine):
    block = next(b for doc, b in sql_blocks() if "AS item_key" in b)
    run = next(r for r in localposthog_engine.runs if r["run_id"].startswith("1_trace_2026012"))
    for cluster in run["clusters"]:
        sql = _substitute(block, localposthog_engine).replace(
            "= 0\n", f"= {cluster['cluster_id']}\n")
        rows = localposthog_engine.query(sql).rows
        assert len(rows) == min(cluster["size"], 100)
        assert [row[1] for row in rows] == list(range(len(rows)))
        assert {row[0] for row in rows} <= set(cluster["items"])


# Each script that has a section of its own documents there every flag and subcommand it has,
# and no flag it does not have.
SCRIPT_SECTIONS = {"3. Summarise the run": "print_clusters", "Metrics per cluster": "cluster_metrics",
                   "Compare runs": "compare_runs", "Links": "link_builder", "Report": "report"}


def _section(title: str) -> str:
    text = SKILL.read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("title, script", sorted(SCRIPT_SECTIONS.items()))
def test_a_scripts_section_documents_exactly_its_flags_and_subcommands(title, script):
    section = _section(title)
    parser = importlib.import_module(f"llm_clusters.commands.{script}").build_parser()
    documented = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", section))
    if script == "print_clusters":  # its live flags have their own section
        documented |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", _section("Live mode")))
    assert documented == _flags(parser), sorted(documented ^ _flags(parser))
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name in action.choices:
                assert f"`{name}" in section or f"{script}.py {name}" in section, name


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_help_text_prints_its_percent_signs_once():
    """RawDescriptionHelpFormatter leaves descriptions alone, so a "%%" there prints as "%%"."""
    for script in SCRIPTS:
        parser = importlib.import_module(f"llm_clusters.commands.{script}").build_parser()
        for each in _parsers(parser):
            assert "%%" not in each.format_help(), (script, each.prog)
