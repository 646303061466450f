"""compare_runs.py --live against the local PostHog HTTP server: the same report as the file mode
on PostHog's answers to the same queries, a 429 in the middle waited out, a missing run named,
a hostile job id kept a value, and flags that do not go together refused."""

from __future__ import annotations

import json
import time

import pytest

from llm_clusters.posthog.queries import last_runs_sql, load_run_sql
from localposthog.answers import save_answer
from localposthog.server import Fault

COMMAND = "compare_runs"  # what the run_cli fixture runs

pytestmark = pytest.mark.engine
ANSWER = "PostHog's answer"


def daily_runs(engine, level: str) -> list[dict]:
    """The job's daily runs of `level`, oldest first."""
    return sorted((r for r in engine.runs if r["level"] == level and r["job_name"]),
                  key=lambda r: r["window_end"])


def same_as_file_mode(run_cli, live: tuple[int, str, str], files: list[str], *flags: str) -> None:
    status, live_out, err = live
    assert status == 0, err
    status, file_out, err = run_cli(*files, *flags)
    assert status == 0, err
    for path in files:
        file_out = file_out.replace(path, ANSWER)
    assert live_out == file_out


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_runs_named_by_id_give_the_file_modes_report(run_cli, live_env, localposthog_engine, tmp_path, fmt):
    first, _, third = daily_runs(localposthog_engine, "trace")[:3]
    ids = [third["run_id"], first["run_id"]]  # any order: the report is in time order
    files = [save_answer(localposthog_engine, load_run_sql(rid), tmp_path / f"run{i}.json")
             for i, rid in enumerate(ids)]
    flags = ("--format", fmt, "--max-rows", "0")
    live = run_cli("--live", "--run-id", ids[0], "--run-id", ids[1], *flags)
    same_as_file_mode(run_cli, live, files, *flags)
    if fmt == "json":
        assert [r["run_id"] for r in json.loads(live[1])["runs"]] == ids[::-1]
    assert len(live_env.requests) == 1  # one comparison query for all the runs


@pytest.mark.parametrize("level", ["trace", "generation"])
def test_the_last_three_runs_give_the_file_modes_report(run_cli, live_env, localposthog_engine, tmp_path,
                                                        level):
    twin = save_answer(localposthog_engine, last_runs_sql(level, 3), tmp_path / "last3.json")
    for fmt in ("text", "markdown", "json"):
        live = run_cli("--live", "--last", "3", "--level", level, "--format", fmt)
        same_as_file_mode(run_cli, live, [twin], "--format", fmt)
    report = json.loads(live[1])
    assert [r["run_id"] for r in report["runs"]] == \
        [r["run_id"] for r in daily_runs(localposthog_engine, level)[-3:]]
    assert len(live_env.requests) == 3  # one query per comparison


def test_live_alone_compares_the_last_two_trace_runs(run_cli, live_env, localposthog_engine, tmp_path):
    twin = save_answer(localposthog_engine, last_runs_sql("trace", 2), tmp_path / "last2.json")
    same_as_file_mode(run_cli, run_cli("--live"), [twin])
    assert run_cli("--live")[1] == run_cli("--live", "--last", "2", "--level", "trace")[1]


def test_job_id_picks_one_jobs_runs_and_is_kept_a_value(run_cli, live_env, localposthog_engine):
    job = daily_runs(localposthog_engine, "generation")[0]["job_id"]
    status, out, err = run_cli("--live", "--last", "2", "--level", "generation", "--job-id", job,
                               "--format", "json")
    assert status == 0, err
    assert [r["run_id"] for r in json.loads(out)["runs"]] == \
        [r["run_id"] for r in daily_runs(localposthog_engine, "generation")[-2:]]
    # the manual run is alone at its level: too few to compare, and the message says so
    status, out, err = run_cli("--live", "--level", "generation", "--job-id", "")
    assert (status, out) == (5, "")
    assert "holds 1 generation-level run of job ''" in err and "--days" in err
    # a quote cannot widen the query to every run
    status, _, err = run_cli("--live", "--job-id", "x' OR 1=1 OR '")
    assert status == 5 and "holds 0 trace-level runs" in err


def test_a_429_during_the_load_is_waited_out(run_cli, live_env, localposthog_engine):
    first, second = (r["run_id"] for r in daily_runs(localposthog_engine, "generation")[:2])
    expected = run_cli("--live", "--run-id", first, "--run-id", second)
    assert expected[0] == 0, expected[2]
    live_env.add_faults(Fault(status=429, retry_after="1"))  # the comparison query is throttled
    started = time.monotonic()
    assert run_cli("--live", "--run-id", first, "--run-id", second) == expected
    assert time.monotonic() - started >= 1.0
    assert len(live_env.requests) == 1 + 2


def test_a_missing_run_id_is_named(run_cli, live_env, localposthog_engine):
    present = daily_runs(localposthog_engine, "trace")[0]["run_id"]
    missing = ["1_trace_20260110_000000_gone", "no-such-run"]
    status, out, err = run_cli("--live", "--run-id", present, "--run-id", missing[0],
                               "--run-id", missing[1])
    assert (status, out) == (5, "")
    assert f"no run with id {missing[0]!r}, {missing[1]!r}" in err and present not in err


def test_api_errors_surface_as_in_print_clusters(run_cli, live_env):
    run_cli.variables["POSTHOG_PERSONAL_API_KEY"] = "phx_SECRET_wrong_key_123"
    status, out, err = run_cli("--live", "--last", "2")
    assert (status, out) == (7, "")
    assert "refused the personal API key (401" in err and "phx_SECRET" not in err


@pytest.mark.parametrize("argv, words", [
    (["saved.json", "--live"], "not both"),
    (["--live", "--run-id", "a", "--run-id", "b", "--last", "2"], "not both"),
    (["--live", "--run-id", "a", "--level", "generation"], "not both"),
    (["--live", "--run-id", "a", "--run-id", "a"], "two runs or more"),
    (["--live", "--last", "1"], "expected 2 to 10 runs"),
    (["--live", "--last", "11"], "expected 2 to 10 runs"),
    (["--live", *[f for i in range(11) for f in ("--run-id", f"r{i}")]], "at most 10 runs"),
    (["saved.json", "--last", "3"], "go with --live"),
    (["saved.json", "--job-id", "j"], "go with --live"),
    ([], "or --live"),
])
def test_flags_that_do_not_go_together_are_usage_errors(run_cli, argv, words):
    status, out, err = run_cli(*argv)
    assert (status, out) == (2, "")
    assert words in err


def test_the_last_n_runs_look_back_far_enough_for_n_daily_runs():
    from llm_clusters.posthog.queries import days_for_runs

    assert [days_for_runs(n) for n in (1, 2, 6, 7, 10)] == [7, 7, 7, 8, 11]
    assert days_for_runs(10, 3) == 3  # --days wins
