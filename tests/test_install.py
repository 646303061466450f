"""The README's install commands put a working skill into a skills folder: they are run as
written into a temporary folder, and every script runs from there (`python scripts/X.py`, as
SKILL.md says), on the bundled examples, away from the repository's other files. The Claude Code
plugin manifests name the root SKILL.md as the plugin's one skill."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = ROOT / "examples"
SKILL_NAME = re.search(r"^name: (\S+)$", (ROOT / "SKILL.md").read_text(encoding="utf-8"),
                       re.MULTILINE).group(1)


def _install_block() -> str:
    section = README.split("## Install the skill", 1)[1]
    return next(block for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL) if "cp -R" in block)


def _install(skills: Path) -> Path:
    """The README's commands, with SKILLS pointing at `skills` and pip replaced by a check that
    the dependencies it names are the scripts' own (this interpreter already has them)."""
    lines = []
    for line in _install_block().strip().splitlines():
        if line.startswith("SKILLS="):
            continue  # the test's own folder instead of the user's
        if "pip install" in line:
            assert line.split("pip install", 1)[1].split() == ["httpx", "ijson"]
            continue
        lines.append(line)
    done = subprocess.run(["bash", "-euc", "\n".join(lines)], cwd=ROOT,
                          env={**os.environ, "SKILLS": str(skills)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return skills / SKILL_NAME


def _run(folder: Path, script: str, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "POSTHOG_HOST", "POSTHOG_PROJECT_ID", "POSTHOG_ROUTE")}
    return subprocess.run([sys.executable, f"scripts/{script}.py", *argv], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_documented_install_gives_a_skill_whose_scripts_run(tmp_path):
    folder = _install(tmp_path / "skills")
    assert ((folder / "SKILL.md").read_text(encoding="utf-8")
            == (ROOT / "SKILL.md").read_text(encoding="utf-8"))
    assert not (folder / "tests").exists() and not (folder / "localposthog").exists()
    trace_run = str(EXAMPLES / "trace_run.execute-sql.txt")
    runs = str(EXAMPLES / "recent_runs.execute-sql.txt")
    checks = {
        "print_clusters": ([trace_run], "clusters + noise"),
        "cluster_metrics": (["sql", "--run-id", "1_trace_20260120_000014"], "SELECT"),
        "compare_runs": ([runs], "Comparing 3 trace-level runs"),
        "link_builder": (["cluster", "1_trace_20260120_000014", "1", "2"],
                         "/clusters/1_trace_20260120_000014/2"),
        "report": ([trace_run, "--format", "markdown"], "clusters"),
    }
    assert set(checks) == {path.stem for path in (ROOT / "scripts").glob("*.py")}
    for script, (argv, expected) in checks.items():
        helped = _run(folder, script, "--help")
        assert helped.returncode == 0 and "exit codes:" in helped.stdout, (script, helped.stderr)
        done = _run(folder, script, *argv)
        assert done.returncode == 0, (script, done.stderr)
        assert expected in done.stdout, script
        assert str(ROOT) not in done.stderr  # nothing reached back into the repository


def test_the_plugin_manifests_name_the_root_skill():
    plugin = json.loads((ROOT / ".claude-plugin" / "plugin.json").read_text(encoding="utf-8"))
    marketplace = json.loads((ROOT / ".claude-plugin" / "marketplace.json").read_text(encoding="utf-8"))
    assert plugin["name"] == SKILL_NAME and plugin["skills"] == ["./"]
    (entry,) = marketplace["plugins"]
    assert entry["name"] == plugin["name"] and entry["source"] == "./"
    assert f"/plugin install {entry['name']}@{marketplace['name']}" in README


def test_ci_runs_exactly_the_readmes_test_command():
    """A new user's test command and CI's are the same line: install the test extra, lint, test."""
    section = README.split("## Try it", 1)[1].split("\n## ", 1)[0]
    readme_command = next(block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
                          if "[test]" in block)
    ci_commands = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                   if line.startswith("python3 ")]
    assert ci_commands == [readme_command]
    assert "ruff check" in readme_command and "pytest" in readme_command
