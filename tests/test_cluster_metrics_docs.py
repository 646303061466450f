"""SKILL.md's "Metrics per cluster" section documents every cluster_metrics.py subcommand and
flag, and no flag the script does not have."""

from __future__ import annotations

import re
from pathlib import Path

from llm_clusters.commands import cluster_metrics

SKILL = (Path(__file__).resolve().parent.parent / "SKILL.md").read_text(encoding="utf-8")


def test_skill_md_documents_every_subcommand_and_flag_and_no_other():
    section = SKILL.split("\n## Metrics per cluster\n", 1)[1].split("\n## ", 1)[0]
    parser = cluster_metrics.build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    flags = {flag for sub in commands.choices.values() for action in sub._actions
             for flag in action.option_strings if flag.startswith("--") and flag != "--help"}
    assert set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", section)) == flags
    for name in commands.choices:
        assert f"cluster_metrics.py {name}" in section or f"`{name}`" in section, name


def test_the_section_follows_summarise_the_run():
    headings = re.findall(r"^## (.+)$", SKILL, re.MULTILINE)
    assert headings[headings.index("3. Summarise the run") + 1] == "Metrics per cluster"


def test_the_entry_script_runs_from_the_skill_folder():
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "scripts/cluster_metrics.py", "sql", "--run-id",
                           "1_trace_20260120_000014"], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "SELECT cluster_id," in done.stdout and done.stderr == ""
