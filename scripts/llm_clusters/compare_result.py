"""The comparison query's answer (see compare_sql) read back into runs and the counts the
matching needs, so `compare.compare_runs` gives on it what it gives on the whole runs.

The answer comes in any shape `tables.read_table` reads (execute-sql's pipe table, a HogQL
response, compact rows; saved as content blocks, `{"result": …}` or plain text; or piped).
"""

from __future__ import annotations

from .compare_evidence import ItemEvidence, Overlap, TraceSample, TraceSums
from .compare_sql import COLUMNS
from .errors import ClusterToolError, ExitStatus, NoClustersFound, UnreadableInput
from .model import Cluster, Run
from .pipetable import Table
from .tables import cell_number

# Columns that no clustering run has: they say a table is the comparison query's answer.
MARKER_COLUMNS = ("next_cluster_id", "trace_cross", "in_previous")


def is_comparison(table: Table) -> bool:
    return set(MARKER_COLUMNS) <= set(table.columns)


class CountEvidence(ItemEvidence):
    """Samples and overlaps as the comparison query counted them, by run."""

    def __init__(self, samples: dict[int, TraceSample], overlaps: dict[tuple[int, int], Overlap]):
        self._samples = samples  # id(run) -> its TraceSample
        self._overlaps = overlaps  # (id(run), id(next run)) -> their Overlap

    def sample(self, run: Run) -> TraceSample:
        return self._samples[id(run)]

    def overlap(self, before: Run, after: Run) -> Overlap:
        found = self._overlaps.get((id(before), id(after)))
        if found is None:
            raise ClusterToolError(
                f"the comparison result counts what consecutive runs share, and runs "
                f"{before.run_id!r} and {after.run_id!r} were not consecutive in it. Compare "
                "consecutive runs of the result (drop --run-id), or print a query for exactly "
                "these runs with `compare_runs.py sql --run-id A --run-id B`.", ExitStatus.USAGE)
        return found


def runs_from_table(table: Table, where: str) -> tuple[list[Run], CountEvidence, list[str]]:
    """The runs of the answer (oldest first), their counts, and notes on what was read."""
    missing = [name for name in COLUMNS if name not in table.columns]
    if missing:
        raise UnreadableInput(f"{where} is a comparison result without the columns "
                              f"{', '.join(missing)}: it was cut or edited. Save the answer to "
                              "`compare_runs.py sql` again, unchanged.")
    if not table.rows:
        raise NoClustersFound(f"{where} is a comparison result with no rows: the query found none of "
                              "the runs. Check the run ids or job id (print_clusters.py --list-runs "
                              "lists them) or widen --days, and run `compare_runs.py sql` again.")
    if table.notes:
        raise UnreadableInput(f"{where}: {'; '.join(table.notes[:3])}. Every row of a comparison "
                              "result counts; save the answer again (as JSON if a title holds '|').")
    at = {name: table.columns.index(name) for name in COLUMNS}
    runs: dict[int, Run] = {}
    sums: dict[int, dict] = {}
    seen_next: dict[tuple[int, int], int] = {}
    seen_previous: dict[tuple[int, int], int] = {}
    shared: dict[int, dict[tuple[int, int], int]] = {}
    for number, row in enumerate(table.rows, 1):
        def cell(name: str):
            return row[at[name]] if at[name] < len(row) else None

        def whole(name: str) -> int | None:
            value = cell_number(cell(name))
            return None if value is None else int(value)

        run_number, cluster_id = whole("run"), whole("cluster_id")
        if run_number is None or cluster_id is None:
            raise UnreadableInput(f"{where}, row {number}: no run number or cluster id. Save the "
                                  "answer to `compare_runs.py sql` again, unchanged.")
        if _text(cell("run_id")):
            runs[run_number] = _run(cell, whole, where)
            sums[run_number] = {"largest": (_text(cell("top_trace")), whole("top_trace_items") or 0),
                                "items": 0, "by_cluster": {}}
        if run_number not in runs:
            raise UnreadableInput(f"{where}, row {number}: run {run_number} has no row naming it "
                                  "(rows were lost or reordered). Save the answer again, unchanged.")
        if whole("size") is not None:
            size, items = whole("size"), whole("items") or 0
            runs[run_number].clusters.append(Cluster(cluster_id, size, _text(cell("title")),
                                                     _text(cell("description")), size, []))
            sums[run_number]["items"] += items
            if items:
                sums[run_number]["by_cluster"][cluster_id] = TraceSums(whole("trace_cross") or 0,
                                                                       whole("trace_squares") or 0)
            seen_next[run_number, cluster_id] = whole("in_next") or 0
            seen_previous[run_number, cluster_id] = whole("in_previous") or 0
        next_id = whole("next_cluster_id")
        if next_id is not None:
            shared.setdefault(run_number, {})[cluster_id, next_id] = whole("shared") or 0
    numbers = sorted(runs)
    if numbers != list(range(1, len(numbers) + 1)):
        raise UnreadableInput(f"{where} holds runs numbered {numbers[:12]}, not 1 to {len(numbers)}: "
                              "rows were lost. Save the answer again, unchanged.")
    samples = {id(runs[n]): TraceSample.from_sums(sum(c.size for c in runs[n].clusters), sums[n]["items"],
                                             sums[n]["by_cluster"], sums[n]["largest"]) for n in numbers}
    overlaps = {}
    for n in numbers[:-1]:
        before, after = runs[n], runs[n + 1]
        _check_complete(shared.get(n, {}), before, seen_next, n, where)
        overlaps[id(before), id(after)] = Overlap(
            shared.get(n, {}),
            {c.cluster_id: seen_next.get((n, c.cluster_id), 0) for c in before.clusters},
            {c.cluster_id: seen_previous.get((n + 1, c.cluster_id), 0) for c in after.clusters})
    return [runs[n] for n in numbers], CountEvidence(samples, overlaps), list(table.warnings)


def _check_complete(shared: dict[tuple[int, int], int], before: Run, seen_next: dict, number: int,
                    where: str) -> None:
    """Each cluster's pair rows add up to the items the next run also clustered (`in_next`)."""
    for cluster in before.clusters:
        counted = sum(n for (cid, _), n in shared.items() if cid == cluster.cluster_id)
        if counted != seen_next.get((number, cluster.cluster_id), 0):
            raise UnreadableInput(
                f"{where}: the rows of cluster {cluster.cluster_id} of run {number} count {counted} "
                f"items shared with the next run, its in_next says {seen_next.get((number, cluster.cluster_id), 0)}: "
                "rows were lost. Save the answer to `compare_runs.py sql` again, unchanged.")


def _text(value) -> str:
    return "" if value is None else str(value)


def _run(cell, whole, where: str) -> Run:
    def optional(name: str) -> str | None:
        return _text(cell(name)) or None

    return Run(clusters=[], run_id=optional("run_id"), level=optional("level"),
               job_id=optional("job_id"), job_name=optional("job_name"),
               window_start=optional("window_start"), window_end=optional("window_end"),
               total_items=whole("total_items"), source=where)
