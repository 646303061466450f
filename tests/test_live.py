"""--live mode against the local PostHog HTTP server: same output as the file mode on the same
data, retries, errors a person can act on, and a key that never shows."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from llm_clusters.posthog.posthog_api import ApiConfig, LiveError, PostHogClient
from llm_clusters.posthog.queries import latest_run_sql, list_runs_sql, load_run_sql
from localposthog.answers import persist_execute_sql, save_answer
from localposthog.server import NO_SCOPE_API_KEY

COMMAND = "print_clusters"  # what the run_cli fixture runs

pytestmark = pytest.mark.engine


def test_live_output_equals_file_output_on_the_same_data(run_cli, live_env, localposthog_engine, tmp_path):
    run_id = localposthog_engine.runs[3]["run_id"]
    cases = [
        (["--run-id", run_id], load_run_sql(run_id)),
        (["--run-id", run_id, "--cluster", "0", "--limit", "5"], load_run_sql(run_id)),
        (["--latest", "--level", "generation"], latest_run_sql("generation")),
        (["--list-runs"], list_runs_sql()),
        (["--format", "markdown"], latest_run_sql("trace")),
    ]
    for index, (flags, sql) in enumerate(cases):
        status, live_out, err = run_cli("--live", *flags)
        assert status == 0, err
        twin = save_answer(localposthog_engine, sql, tmp_path / f"answer{index}.json")
        file_flags = [f for f in flags if f not in ("--latest", "--level", "generation")]
        status, file_out, err = run_cli(twin, *file_flags)
        assert status == 0, err
        assert live_out == file_out.replace(twin, "PostHog's answer"), flags
    # and the pipe table execute-sql prints reads to the same view as the API's JSON
    saved = persist_execute_sql(localposthog_engine, load_run_sql(run_id), tmp_path,
                                truncate=False, stamp_ms=1)
    assert run_cli(str(saved), "--format", "json")[1].replace(str(saved), "X") == \
        run_cli("--live", "--run-id", run_id, "--format", "json")[1].replace("PostHog's answer", "X")


def test_a_runs_listing_names_every_run_and_its_cluster_count(run_cli, live_env, localposthog_engine):
    status, out, err = run_cli("--live", "--list-runs", "--format", "json")
    assert status == 0, err
    listed = {r["run_id"]: r["clusters"] for r in json.loads(out)["runs"]}
    truth = {r["run_id"]: len(r["clusters"]) for r in localposthog_engine.runs}
    assert listed == truth


def test_a_listing_is_not_shown_as_an_empty_run(run_cli, live_env, localposthog_engine, tmp_path):
    twin = save_answer(localposthog_engine, list_runs_sql(), tmp_path / "listing.json")
    status, out, err = run_cli(twin)
    assert status == 5 and out == ""
    assert "holds no clusters JSON" in err


def test_clustering_jobs_are_listed(run_cli, live_env, localposthog_engine):
    status, out, err = run_cli("--live", "--list-jobs")
    assert status == 0, err
    for job in localposthog_engine.jobs:
        assert job["name"] in out and job["id"] in out


def test_a_429_is_waited_out_and_the_query_succeeds(run_cli, live_env):
    live_env.fail_next(429, retry_after="1")
    started = time.monotonic()
    status, out, err = run_cli("--live", "--top", "0")
    assert status == 0, err
    assert time.monotonic() - started >= 1.0
    assert "Run 1_trace_" in out


def test_retry_after_as_an_http_date_is_honoured(live_env):
    config = ApiConfig(live_env.url, str(live_env.project_id), live_env.api_key)
    now = datetime(2026, 1, 22, 6, 0, tzinfo=timezone.utc)
    live_env.fail_next(503, retry_after=format_datetime(now + timedelta(seconds=42), usegmt=True))
    waits: list[float] = []
    with PostHogClient(config, sleep=waits.append, clock=now.timestamp) as client:
        assert client.query("SELECT 1 AS one LIMIT 1")["results"] == [[1]]
    assert waits == [42.0]


def test_persistent_500s_end_with_a_clear_message_after_the_retry_budget(live_env):
    config = ApiConfig(live_env.url, str(live_env.project_id), live_env.api_key)
    live_env.fail_next(500, times=10)
    waits: list[float] = []
    with PostHogClient(config, retries=3, sleep=waits.append) as client:
        with pytest.raises(LiveError) as caught:
            client.query("SELECT 1 LIMIT 1")
    assert waits == [0.5, 1.0, 2.0]
    assert "500" in caught.value.message and "3 retries" in caught.value.message


def test_a_slow_server_hits_the_timeout_with_a_clear_message(live_env):
    config = ApiConfig(live_env.url, str(live_env.project_id), live_env.api_key)
    live_env.slow_next(2.0)
    with PostHogClient(config, retries=0, timeout=httpx.Timeout(0.5)) as client:
        with pytest.raises(LiveError) as caught:
            client.query("SELECT 1 LIMIT 1")
    assert "did not answer in time" in caught.value.message


@pytest.mark.parametrize("key, project, words", [
    ("phx_SECRET_wrong_key_123", None, "refused the personal API key (401"),
    (NO_SCOPE_API_KEY, None, "`query:read` scope"),
    (None, "999", "project 999 was not found"),
])
def test_auth_and_project_errors_say_what_to_fix(run_cli, live_env, key, project, words):
    if key:
        run_cli.variables["POSTHOG_PERSONAL_API_KEY"] = key
    flags = ["--project-id", project] if project else []
    status, out, err = run_cli("--live", *flags)
    assert (status, out) == (7, "")
    assert words in err and "Traceback" not in err


def test_the_key_never_appears_in_any_output(run_cli, live_env):
    secret = live_env.api_key
    outputs = []
    for flags in (["--live", "--list-runs"], ["--live", "--run-id", "nope"],
                  ["--live", "--project-id", "5"], ["--live", "--host", "ftp://x"]):
        outputs.extend(run_cli(*flags)[1:])
    live_env.fail_next(500, times=10)
    config = ApiConfig(live_env.url, str(live_env.project_id), secret)
    with PostHogClient(config, retries=1, sleep=lambda _: None) as client:
        with pytest.raises(LiveError) as caught:
            client.query("SELECT 1 LIMIT 1")
    outputs += [caught.value.message, repr(config), str(config)]
    run_cli.variables["POSTHOG_PERSONAL_API_KEY"] = "phx_SECRET_wrong_key_123"
    outputs.extend(run_cli("--live")[1:])
    assert all(secret not in text and "phx_SECRET" not in text for text in outputs)


def test_a_query_error_shows_posthogs_message_and_the_query(live_env):
    config = ApiConfig(live_env.url, str(live_env.project_id), live_env.api_key)
    with PostHogClient(config) as client:
        with pytest.raises(LiveError) as caught:
            client.query("SELECT no_such_column FROM events LIMIT 1")
    assert "rejected the query (400)" in caught.value.message
    assert "SELECT no_such_column FROM events LIMIT 1" in caught.value.message


def test_missing_configuration_is_a_usage_message(run_cli):
    assert run_cli("--live")[0] == 7  # no variables: no key
    run_cli.variables["POSTHOG_PERSONAL_API_KEY"] = "k"
    status, _, err = run_cli("--live")
    assert status == 2 and "--project-id" in err
    status, _, err = run_cli("--live", "--project-id", "1", "--host", "https://user:pw@x.com")
    assert status == 2 and "must not hold credentials" in err
