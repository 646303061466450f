"""Shared fixtures. The local PostHog (dataset, engine, HTTP server) is built once per session."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cli_runner import CliRunner


def pytest_collection_modifyitems(config, items):
    """Without chdb (installed by the test extra), tests that need the local engine are skipped
    with the reason, not failed."""
    if importlib.util.find_spec("chdb") is None:
        skip = pytest.mark.skip(reason="needs chdb: pip install -e '.[test]'")
        for item in items:
            if "engine" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def localposthog_data_dir(tmp_path_factory) -> Path:
    """The default dataset (seed 0, scale 1), written once per test session."""
    from localposthog import dataset

    return dataset.write_dataset(dataset.build_dataset(seed=0, scale=1.0),
                                 tmp_path_factory.mktemp("localposthog"))


@pytest.fixture(scope="session")
def localposthog_engine(localposthog_data_dir):
    """The dataset loaded into chdb; skips when chdb is not installed."""
    pytest.importorskip("chdb")
    from localposthog.engine import Engine

    engine = Engine(localposthog_data_dir)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def ground_truth(localposthog_engine) -> dict:
    return localposthog_engine.ground_truth


@pytest.fixture
def local_posthog(localposthog_engine):
    """PostHog's query and clustering-jobs API on 127.0.0.1 (a free port), fresh faults per test.

    `local_posthog.url`, `.api_key`, `.project_id`; `local_posthog.fail_next(429, retry_after=2)`,
    `.fail_next(500)`, `.slow_next(1.5)` shape the next answers; `.requests` lists what was asked.
    """
    from localposthog.server import LocalPostHog

    with LocalPostHog(localposthog_engine) as server:
        yield server


@pytest.fixture
def run_cli(request) -> CliRunner:
    """The test module's script (its `COMMAND`, e.g. "print_clusters"), run in-process."""
    return CliRunner(getattr(request.module, "COMMAND", None))


@pytest.fixture
def live_env(local_posthog, run_cli):
    """The local PostHog, with the variables --live reads pointing at it."""
    run_cli.variables.update({"POSTHOG_HOST": local_posthog.url,
                              "POSTHOG_PROJECT_ID": str(local_posthog.project_id),
                              "POSTHOG_PERSONAL_API_KEY": local_posthog.api_key})
    return local_posthog
