"""The runs compare_runs.py compares, and the evidence their matching reads: whole runs from
saved results (their items), or the comparison query's answer (its counts), saved or live."""

from __future__ import annotations

import io
from typing import BinaryIO, Iterable

from ..errors import NoClustersFound, UnreadableInput, UsageError
from ..model import ItemPolicy, Run
from ..posthog import compare_sql
from ..posthog.live import ANSWER_NAME
from ..posthog.posthog_api import PostHogClient
from ..read.reader import ReadResult, read_runs
from ..read.table_reader import read_table, read_table_from
from ..read.textsource import TextSource
from .compare_evidence import ItemEvidence
from .compare_result import is_comparison, runs_from_table

ALL_ITEMS = ItemPolicy(default=None)  # matching whole runs needs every item of every cluster
LAST_RUNS = 2  # --last default


def comparison_sql(run_ids: list[str] | None, previous: bool, last: int | None, level: str | None,
                   job_id: str | None, days: int) -> str:
    """The comparison query for the runs named, the run before one, or the last N runs."""
    if previous:
        if not run_ids or len(set(run_ids)) != 1:
            raise UsageError("--previous goes with exactly one --run-id: the run whose "
                             "previous run (same job and level) to compare it with.")
        return compare_sql.previous_sql(run_ids[0], level, days)
    if run_ids:
        if last or job_id is not None or level:
            raise UsageError("name the runs with --run-id, or pick the --last N runs (of "
                             "--level or --job-id), not both.")
        if len(set(run_ids)) < 2:
            raise UsageError("comparing needs two runs or more: repeat --run-id for each, "
                             "or use --run-id ID --previous, or --last N.")
        return compare_sql.ids_sql(run_ids, days)
    return compare_sql.last_sql(last or LAST_RUNS, job_id, level, days)


def load_live(client: PostHogClient, sql: str) -> tuple[list[Run], ItemEvidence, list[str]]:
    """The runs the comparison query finds on PostHog (maybe none), read as a saved answer is."""
    table = read_table_from(TextSource(client.query_text(sql)), ANSWER_NAME, sql)
    if not table.rows:
        return [], ItemEvidence(), list(table.warnings)
    return runs_from_table(table, ANSWER_NAME)


def check_named(runs: list[Run], run_ids: list[str] | None, client: PostHogClient) -> None:
    """A message naming the runs asked for by id that PostHog did not return."""
    missing = [rid for rid in dict.fromkeys(run_ids or []) if rid not in {run.run_id for run in runs}]
    if missing:
        raise NoClustersFound(
            f"PostHog holds no run with id {', '.join(map(repr, missing))} on "
            f"{client.config.host}, project {client.config.project_id} (looked a day either "
            "side of the times in the ids, or the last --days days when an id holds none). "
            "Check the ids with print_clusters.py --live --list-runs.")


def too_few(runs: list[Run], found: str, client: PostHogClient, days: int) -> NoClustersFound:
    """The error for a live comparison that found fewer than two runs, `found` saying which."""
    return NoClustersFound(
        f"PostHog holds {len(runs)} {found} in the last {days} days on {client.config.host}, "
        f"project {client.config.project_id}; comparing needs two. Widen --days, pick another "
        "--level or --job-id, or list the runs with print_clusters.py --live --list-runs.")


def runs_wanted(run_ids: list[str] | None, previous: bool, level: str | None, job_id: str | None,
                count: int) -> str:
    """What a live comparison that found `count` runs looked for, in words (for `too_few`)."""
    plural = "" if count == 1 else "s"
    if previous:
        return f"run{plural} of run {run_ids[0]!r}'s job and level up to its window"
    job = f" of job {job_id!r}" if job_id is not None else ""
    return f"{level or 'trace'}-level run{plural}{job}"


def load_files(paths: list[str], run_ids: list[str] | None, stdin: BinaryIO | None = None
               ) -> tuple[list[Run], ItemEvidence, list[str]]:
    """The runs in saved results: whole runs (any shape print_clusters.py reads), or ONE
    comparison query answer; only those named by `run_ids` when given."""
    if "-" in paths:  # read once, so that both readers can look at it
        stdin = io.BytesIO(stdin.read() if stdin is not None else b"")
    results = []
    for path in paths:
        if stdin is not None:
            stdin.seek(0)
        try:
            results.append(read_runs(path, ALL_ITEMS, stdin))
            continue
        except (NoClustersFound, UnreadableInput) as error:  # not runs: a comparison answer?
            if stdin is not None:
                stdin.seek(0)
            try:
                table = read_table(path, stdin)
            except UnreadableInput:
                raise error from None
            if not is_comparison(table):
                raise error from None
        if len(paths) > 1:
            raise UsageError(f"{path} is a comparison query's answer, which holds its runs' "
                             "counts only: compare it on its own, not with other files.")
        runs, evidence, notes = runs_from_table(table, "standard input" if path == "-" else path)
        return chosen(runs, run_ids), evidence, notes
    runs, notes = gather_runs(results, run_ids)
    return runs, ItemEvidence(), notes


def chosen(runs: list[Run], run_ids: list[str] | None) -> list[Run]:
    """The runs named by `run_ids` (all when None), or a message naming those missing."""
    if not run_ids:
        return runs
    seen = {run.run_id for run in runs}
    missing = [rid for rid in dict.fromkeys(run_ids) if rid not in seen]
    if missing:
        available = ", ".join(repr(r.run_id) for r in runs[:10]) or "none"
        raise NoClustersFound(
            f"no run with id {', '.join(map(repr, missing))} in the input; its runs are: "
            f"{available}{' …' if len(runs) > 10 else ''}. Pass ids from those to --run-id, "
            "or load the missing runs with a query filtered on their ids.")
    return [run for run in runs if run.run_id in run_ids]


def gather_runs(results: Iterable[ReadResult], run_ids: list[str] | None) -> tuple[list[Run], list[str]]:
    """Every run read (the same run twice only once), or those named by `run_ids`."""
    runs: list[Run] = []
    notes: list[str] = []
    seen: set[str] = set()
    for result in results:
        notes += result.notes
        for run in result.runs:
            if run.run_id and run.run_id in seen:
                notes.append(f"run {run.run_id} was given more than once; it is compared once")
                continue
            seen.add(run.run_id or "")
            runs.append(run)
            notes += run.notes
    runs = chosen(runs, run_ids)
    empty = [run for run in runs if not run.clusters]
    if empty:
        raise NoClustersFound(
            f"run {empty[0].run_id!r} holds no clusters (a runs listing counts them but does not "
            "hold them). Load each run with SKILL.md's load query, with `truncate: false`.")
    return runs, notes
