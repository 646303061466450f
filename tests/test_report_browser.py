"""report.py's pages in a real browser: headless Chromium opens each page and checks it loads
with no console error, asks for nothing but itself, draws one mark per item, shows hostile text
as text and runs none of it; a screenshot of each goes to the test artefacts
($TEST_ARTEFACTS, default test-artefacts/). Skipped, saying why, without Chromium (.ci/run
installs Debian's `chromium`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from browser import Browser, find_chromium
from llm_clusters.model import ItemPolicy
from llm_clusters.posthog.queries import load_run_sql
from llm_clusters.read.reader import read_runs
from localposthog.answers import hogql_response
from report_pages import HOSTILE, HOSTILE_RUN_ID, hostile_run_file

COMMAND = "report"  # what the run_cli fixture runs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "trace_run.execute-sql.txt"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    find_chromium() is None, reason="needs Chromium: apt-get install chromium (.ci/run installs it)")]


@pytest.fixture(scope="module")
def browser():
    with Browser.launch() as running:
        yield running


@pytest.fixture(scope="session")
def artefacts() -> Path:
    folder = Path(os.environ.get("TEST_ARTEFACTS") or ROOT / "test-artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_report(run_cli, target: Path, *argv) -> Path:
    run_cli.output(*argv, "--output", target)
    return target


def opened_cleanly(browser: Browser, path: Path):
    """The page, checked: loaded with no console error or refusal, asked only for itself, ran
    nothing (no script element, no handler, `window.pwned` unset)."""
    page = browser.open(path)
    assert page.errors == []
    assert page.requests == [path.resolve().as_uri()]
    assert page.evaluate("document.querySelectorAll("
                         "'script, img, iframe, object, embed, foreignObject').length") == 0
    assert page.evaluate("[...document.querySelectorAll('*')].some(e => [...e.attributes].some("
                         "a => a.name.startsWith('on')))") is False
    assert page.evaluate("typeof window.pwned") == "undefined"
    return page


def map_marks(page) -> int:
    return page.evaluate("document.querySelectorAll('svg.map g.pts circle').length")


def located_items(path: Path, run_id: str | None = None) -> int:
    runs = read_runs(str(path), ItemPolicy(default=None)).runs
    run = (next(r for r in runs if r.run_id == run_id) if run_id
           else max(runs, key=lambda r: (r.sort_time, r.run_id or "")))
    return sum(1 for c in run.clusters for i in c.items if i.x is not None and i.y is not None)


def test_the_example_report_loads_cleanly_with_one_mark_per_item(run_cli, browser, tmp_path, artefacts):
    path = write_report(run_cli, tmp_path / "example.html", EXAMPLE)
    page = opened_cleanly(browser, path)
    assert map_marks(page) == located_items(EXAMPLE) == 120
    assert page.evaluate("document.querySelectorAll('svg.map g.top circle').length") > 0
    width = page.evaluate("document.querySelector('svg.map').getBoundingClientRect().width")
    assert width == 880  # drawn at its size: the stylesheet applied, nothing collapsed
    page.screenshot(artefacts / "report-example.png")
    assert (artefacts / "report-example.png").stat().st_size > 10_000


def test_hostile_titles_appear_as_text_and_nothing_they_hold_runs(run_cli, browser, tmp_path, artefacts):
    path = write_report(run_cli, tmp_path / "hostile.html", hostile_run_file(tmp_path),
                        "--host", "us", "--project-id", "1")
    page = opened_cleanly(browser, path)
    assert page.evaluate("document.title") == f"Clusters of run {HOSTILE_RUN_ID}"
    text = page.evaluate("document.body.textContent")
    for payload in HOSTILE:
        assert payload in text
    hrefs = page.evaluate("[...document.querySelectorAll('a')].map(a => a.getAttribute('href'))")
    assert hrefs and all(href.startswith("https://us.posthog.com/project/1/") for href in hrefs)
    page.screenshot(artefacts / "report-hostile.png")


def test_the_pages_policy_blocks_a_script_and_a_load_that_escaping_would_have_missed(run_cli, browser,
                                                                                     tmp_path):
    page_text = write_report(run_cli, tmp_path / "page.html", EXAMPLE).read_text()
    injected = tmp_path / "injected.html"
    injected.write_text(page_text.replace("</body>", "<script>document.title='PWNED'</script>"
                                          '<img src="https://example.invalid/x.png"></body>'))
    page = browser.open(injected)
    assert page.evaluate("document.title") != "PWNED"
    assert any("Content Security Policy" in error and "script" in error for error in page.errors)
    assert any("Content Security Policy" in error and "example.invalid" in error for error in page.errors)


@pytest.mark.engine
def test_every_local_run_and_each_comparison_of_consecutive_runs_renders(run_cli, browser,
                                                                         localposthog_engine, tmp_path,
                                                                         artefacts):
    groups: dict[tuple, list[dict]] = {}
    for run in localposthog_engine.runs:
        groups.setdefault((run["job_id"], run["level"]), []).append(run)
    for runs in groups.values():
        runs.sort(key=lambda r: r["window_end"])
        files = []
        for run in runs:
            saved = tmp_path / f"{len(files)}-{run['level']}.json"
            saved.write_text(json.dumps(hogql_response(localposthog_engine.query(load_run_sql(run["run_id"])))))
            files.append(saved)
            page = opened_cleanly(browser, write_report(run_cli, tmp_path / "run.html", saved))
            assert map_marks(page) == located_items(saved)
        for before, after in zip(files, files[1:]):
            page = opened_cleanly(browser, write_report(run_cli, tmp_path / "pair.html", before, after))
            clusters = sum(len(r.clusters) for f in (before, after)
                           for r in read_runs(str(f), ItemPolicy(default=0)).runs)
            assert page.evaluate("document.querySelectorAll('svg.flow rect').length") == clusters
        if len(files) > 2:
            page = opened_cleanly(browser, write_report(run_cli, tmp_path / "all.html", *files))
            page.screenshot(artefacts / f"report-comparison-{runs[0]['level']}.png")
