"""SKILL.md's "Metrics per cluster" section sits where the workflow needs it, and the entry script
runs from the skill folder. (Its flags are checked with every script's in test_skill_docs.py.)"""

from __future__ import annotations

import re
from pathlib import Path

SKILL = (Path(__file__).resolve().parent.parent / "SKILL.md").read_text(encoding="utf-8")


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
