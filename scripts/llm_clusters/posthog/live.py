"""The --live flags every script shares, and reading runs straight from PostHog's answer.

Live mode sends the same queries SKILL.md shows and reads the answer with the same reader as
a saved file, streamed, so its output is the file mode's output on the same data.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time

from ..cli import missing_dependency
from ..environment import HOST_ENV, KEY_ENV, PROJECT_ENV
from ..errors import ClusterToolError, ExitStatus, NoClustersFound
from ..model import ItemPolicy
from ..read.reader import ReadResult, read_runs_from
from ..read.textsource import TextSource
from .queries import days_for_runs

if TYPE_CHECKING:  # the API client is imported in live mode only
    from typing import Mapping

    from .posthog_api import PostHogClient

ANSWER_NAME = "PostHog's answer"


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "live mode", f"query PostHog directly instead of reading a file; needs {KEY_ENV} "
        f"in the environment (never a flag), {PROJECT_ENV} or --project-id, and "
        f"{HOST_ENV} or --host (default us)")
    group.add_argument("--live", action="store_true", help="query PostHog's API directly")
    group.add_argument("--host", help="us, eu, or your PostHog's base URL")
    group.add_argument("--project-id", help="the numeric project id")
    group.add_argument("--days", type=int,
                       help="how many days back to look for runs (default 7; for the N newest runs "
                       "N+1 when that is more)")


def lookback_days(args: argparse.Namespace, runs: int = 1) -> int:
    """--days, else enough days back for the `runs` newest runs of a job (at least 7)."""
    return days_for_runs(runs, args.days)


def live_client(args: argparse.Namespace, variables: Mapping[str, str], **client_options) -> "PostHogClient":
    """The API client for --host/--project-id, the rest (and the key) from the variables."""
    from .posthog_api import ApiConfig, PostHogClient

    try:
        return PostHogClient(ApiConfig.from_env(variables, args.host, args.project_id), **client_options)
    except ModuleNotFoundError as exc:
        if exc.name != "httpx":
            raise
        raise ClusterToolError(missing_dependency("httpx"), ExitStatus.MISSING_DEPENDENCY) from None


def read_live(client: PostHogClient, sql: str, policy: ItemPolicy) -> ReadResult:
    try:
        return read_runs_from(TextSource(client.query_text(sql)), policy, ANSWER_NAME, sql)
    except NoClustersFound:
        raise NoClustersFound(
            f"PostHog found no clustering run for this query on {client.config.host}, project "
            f"{client.config.project_id}. Check the run id (list runs with --live --list-runs) "
            f"or widen --days. The query was:\n{sql}") from None
