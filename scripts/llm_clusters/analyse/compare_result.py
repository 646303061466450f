"""The comparison query's answer (see compare_sql) read back into runs and the counts the
matching needs, so `compare.compare_runs` gives on it what it gives on the whole runs.

The answer comes in any shape `table_reader.read_table` reads (execute-sql's pipe table, a HogQL
response, compact rows; saved as content blocks, `{"result": …}` or plain text; or piped).
"""

from __future__ import annotations

from ..errors import NoClustersFound, UnreadableInput, UsageError
from ..model import Cluster, Run
from ..posthog.compare_sql import COLUMNS
from ..read.tables import Table, cell_number
from .compare_evidence import ItemEvidence, Overlap, TraceSample, TraceSums

# Columns that no clustering run has: they say a table is the comparison query's answer.
MARKER_COLUMNS = ("next_cluster_id", "trace_cross", "in_previous")


def is_comparison(table: Table) -> bool:
    return set(MARKER_COLUMNS) <= set(table.columns)


class CountEvidence(ItemEvidence):
    """Samples and overlaps as the comparison query counted them, by run."""

    def __init__(self, samples: dict[Run, TraceSample], overlaps: dict[tuple[Run, Run], Overlap]):
        self._samples = samples
        self._overlaps = overlaps  # (run, next run) -> their Overlap

    def sample(self, run: Run) -> TraceSample:
        return self._samples[run]

    def overlap(self, before: Run, after: Run) -> Overlap:
        found = self._overlaps.get((before, after))
        if found is None:
            raise UsageError(
                f"the comparison result counts what consecutive runs share, and runs "
                f"{before.run_id!r} and {after.run_id!r} were not consecutive in it. Compare "
                "consecutive runs of the result (drop --run-id), or print a query for exactly "
                "these runs with `compare_runs.py sql --run-id A --run-id B`.")
        return found


def runs_from_table(table: Table, where: str) -> tuple[list[Run], CountEvidence, list[str]]:
    """The runs of the answer (oldest first), their counts, and notes on what was read."""
    _check_whole(table, where)
    at = {name: table.columns.index(name) for name in COLUMNS}
    counts = _AnswerCounts(where)
    for number, row in enumerate(table.rows, 1):
        counts.add(number, _AnswerRow(row, at))
    runs, evidence = counts.runs_and_evidence()
    return runs, evidence, list(table.warnings)


def _check_whole(table: Table, where: str) -> None:
    """A message when the answer lost columns or rows, or was read with notes."""
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


class _AnswerRow:
    """One row of the answer, its cells by column name (a short row lacks its last cells)."""

    def __init__(self, row: list, at: dict[str, int]):
        self.row = row
        self.at = at

    def cell(self, name: str):
        index = self.at[name]
        return self.row[index] if index < len(self.row) else None

    def whole(self, name: str) -> int | None:
        value = cell_number(self.cell(name))
        return None if value is None else int(value)

    def text(self, name: str) -> str:
        value = self.cell(name)
        return "" if value is None else str(value)

    def optional_text(self, name: str) -> str | None:
        return self.text(name) or None


class _RunTotals:
    """What one run's rows add up to, for its TraceSample."""

    def __init__(self, largest: tuple[str, int]):
        self.largest = largest  # the trace holding most of the run's items, and its items
        self.items = 0
        self.by_cluster: dict[int, TraceSums] = {}


class _AnswerCounts:
    """The runs and counts of the answer, read row by row: keyed by run number (1 = oldest)
    and, for clusters, (run number, cluster id)."""

    def __init__(self, where: str):
        self.where = where
        self.runs: dict[int, Run] = {}
        self.totals: dict[int, _RunTotals] = {}
        self.seen_next: dict[tuple[int, int], int] = {}
        self.seen_previous: dict[tuple[int, int], int] = {}
        self.shared: dict[int, dict[tuple[int, int], int]] = {}  # (cluster id, next cluster id)

    def add(self, number: int, row: _AnswerRow) -> None:
        """Row `number` (1-based): a run's first row names the run, a cluster's first row
        describes the cluster, and each row may count the items a pair of clusters shares."""
        run_number, cluster_id = row.whole("run"), row.whole("cluster_id")
        if run_number is None or cluster_id is None:
            raise UnreadableInput(f"{self.where}, row {number}: no run number or cluster id. Save the "
                                  "answer to `compare_runs.py sql` again, unchanged.")
        if row.text("run_id"):
            self.runs[run_number] = _run(row, self.where)
            self.totals[run_number] = _RunTotals((row.text("top_trace"), row.whole("top_trace_items") or 0))
        if run_number not in self.runs:
            raise UnreadableInput(f"{self.where}, row {number}: run {run_number} has no row naming it "
                                  "(rows were lost or reordered). Save the answer again, unchanged.")
        if row.whole("size") is not None:
            self._add_cluster(run_number, cluster_id, row)
        next_id = row.whole("next_cluster_id")
        if next_id is not None:
            self.shared.setdefault(run_number, {})[cluster_id, next_id] = row.whole("shared") or 0

    def _add_cluster(self, run_number: int, cluster_id: int, row: _AnswerRow) -> None:
        size, items = row.whole("size"), row.whole("items") or 0
        self.runs[run_number].clusters.append(Cluster(cluster_id, size, row.text("title"),
                                                      row.text("description"), size, []))
        totals = self.totals[run_number]
        totals.items += items
        if items:
            totals.by_cluster[cluster_id] = TraceSums(row.whole("trace_cross") or 0,
                                                      row.whole("trace_squares") or 0)
        self.seen_next[run_number, cluster_id] = row.whole("in_next") or 0
        self.seen_previous[run_number, cluster_id] = row.whole("in_previous") or 0

    def runs_and_evidence(self) -> tuple[list[Run], CountEvidence]:
        """The runs, oldest first, and their counts; a message when rows were lost."""
        numbers = sorted(self.runs)
        if numbers != list(range(1, len(numbers) + 1)):
            raise UnreadableInput(f"{self.where} holds runs numbered {numbers[:12]}, not 1 to "
                                  f"{len(numbers)}: rows were lost. Save the answer again, unchanged.")
        samples = {self.runs[n]: self._sample(n) for n in numbers}
        overlaps = {(self.runs[n], self.runs[n + 1]): self._overlap(n) for n in numbers[:-1]}
        return [self.runs[n] for n in numbers], CountEvidence(samples, overlaps)

    def _sample(self, number: int) -> TraceSample:
        totals = self.totals[number]
        return TraceSample.from_sums(sum(c.size for c in self.runs[number].clusters), totals.items,
                                     totals.by_cluster, totals.largest)

    def _overlap(self, number: int) -> Overlap:
        """What run `number` shares with the next run."""
        before, after = self.runs[number], self.runs[number + 1]
        shared = self.shared.get(number, {})
        self._check_complete(shared, before, number)
        return Overlap(
            shared,
            {c.cluster_id: self.seen_next.get((number, c.cluster_id), 0) for c in before.clusters},
            {c.cluster_id: self.seen_previous.get((number + 1, c.cluster_id), 0) for c in after.clusters})

    def _check_complete(self, shared: dict[tuple[int, int], int], before: Run, number: int) -> None:
        """Each cluster's pair rows add up to the items the next run also clustered (`in_next`)."""
        for cluster in before.clusters:
            counted = sum(n for (cid, _), n in shared.items() if cid == cluster.cluster_id)
            in_next = self.seen_next.get((number, cluster.cluster_id), 0)
            if counted != in_next:
                raise UnreadableInput(
                    f"{self.where}: the rows of cluster {cluster.cluster_id} of run {number} count "
                    f"{counted} items shared with the next run, its in_next says {in_next}: rows "
                    "were lost. Save the answer to `compare_runs.py sql` again, unchanged.")


def _run(row: _AnswerRow, where: str) -> Run:
    return Run(clusters=[], run_id=row.optional_text("run_id"), level=row.optional_text("level"),
               job_id=row.optional_text("job_id"), job_name=row.optional_text("job_name"),
               window_start=row.optional_text("window_start"), window_end=row.optional_text("window_end"),
               total_items=row.whole("total_items"), source=where)
