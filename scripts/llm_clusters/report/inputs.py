"""What the report reads: every saved result given, each recognised from its content as runs, a
per-item or per-cluster metrics result, or a window-totals result.

The kinds are tried in order: a clustering run first (what the other scripts read), then a
table recognised by its columns. A new kind of result (say, a server-side overview) is one more
entry in `TABLE_KINDS` and one more field of `Inputs`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from ..analyse.cluster_rows import ITEM_KEY_COLUMNS
from ..display import clean, count
from ..errors import NoClustersFound, UnreadableInput, UsageError
from ..model import ItemPolicy, Run
from ..read.reader import ReadResult, read_runs
from ..read.table_reader import SavedTable, read_table
from ..read.tables import Table

ALL_ITEMS = ItemPolicy(default=None)  # the map, the metrics and the matching need every item


def _names(table: Table) -> set[str]:
    return {c.strip().strip('"`').lower() for c in table.columns}


def _is_per_item(table: Table) -> bool:
    return bool(_names(table) & set(ITEM_KEY_COLUMNS))


def _is_per_cluster(table: Table) -> bool:
    return "cluster_id" in _names(table)


def _is_window_totals(table: Table) -> bool:
    return "items" in _names(table) and bool(_names(table) & {"window_start", "window_end"})


# (kind, recognises the table), first match wins
TABLE_KINDS: tuple[tuple[str, Callable[[Table], bool]], ...] = (
    ("per-item metrics", _is_per_item),
    ("per-cluster metrics", _is_per_cluster),
    ("window totals", _is_window_totals),
)


@dataclass
class Inputs:
    runs: list[Run] = field(default_factory=list)
    metrics: list[SavedTable] = field(default_factory=list)
    window: SavedTable | None = None
    read_as: list[str] = field(default_factory=list)  # one line per input: what it was read as
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # rows are probably missing


def read_inputs(paths: list[str], stdin: BinaryIO | None = None) -> Inputs:
    """Every input read and sorted by kind; runs given twice are kept once."""
    if paths.count("-") > 1:
        raise UsageError("standard input (-) can be read only once; save each result to its own "
                         "file.")
    if "-" in paths:  # read twice at most (as runs, then as a table): keep it
        stdin = io.BytesIO(stdin.read() if stdin is not None else b"")
    inputs = Inputs()
    seen: set[str] = set()
    for path in paths:
        if stdin is not None and path == "-":
            stdin.seek(0)
        try:
            result = read_runs(path, ALL_ITEMS, stdin)
        except NoClustersFound as no_run:
            if stdin is not None and path == "-":
                stdin.seek(0)
            _add_table(inputs, path, read_table(path, stdin), no_run)
            continue
        _add_runs(inputs, path, result, seen)
    if not inputs.runs:
        raise NoClustersFound("none of the inputs holds a clustering run; the report needs one. Pass "
                              "the saved result of SKILL.md's load query (with `truncate: false`) "
                              "first, then any metrics or window-totals results.")
    empty = [run for run in inputs.runs if not run.clusters]
    if empty:
        raise NoClustersFound(
            f"run {clean(empty[0].run_id, 160)!r} holds no clusters (a runs listing counts them but "
            "does not hold them). Load the run with SKILL.md's load query, with `truncate: false`.")
    return inputs


def _add_runs(inputs: Inputs, path: str, result: ReadResult, seen: set[str]) -> None:
    """The runs `path` holds, each run id kept once across all inputs (`seen`)."""
    inputs.notes += result.notes
    inputs.warnings += result.warnings
    kept = []
    for run in result.runs:
        if run.run_id and run.run_id in seen:
            inputs.notes.append(f"run {clean(run.run_id, 160)} was given more than once; it is used once")
            continue
        seen.add(run.run_id or "")
        kept.append(run)
        inputs.notes += run.notes
    inputs.runs += kept
    inputs.read_as.append(f"{_name(path)}: {len(kept)} clustering run{'' if len(kept) == 1 else 's'}")


def _add_table(inputs: Inputs, path: str, table: Table, no_run: NoClustersFound) -> None:
    kind = next((name for name, recognises in TABLE_KINDS if recognises(table)), None)
    if kind is None:
        raise UnreadableInput(
            f"{_name(path)} is neither a clustering run nor a result the report reads (columns: "
            f"{', '.join(clean(c, 40) for c in table.columns[:12]) or 'none'}). Expected the saved "
            "run (SKILL.md's load query), or the saved result of `cluster_metrics.py sql --per-item`, "
            "of its per-cluster query, or of `sql --window-totals`.") from no_run
    inputs.notes += [f"{_name(path)}: {note}" for note in table.notes]
    inputs.warnings += table.warnings
    if kind == "window totals":
        if inputs.window is not None:
            raise UsageError(f"two window-totals results ({_name(inputs.window[0])} and "
                             f"{_name(path)}); pass the one for the report's run.")
        inputs.window = SavedTable(path, table)
    else:
        inputs.metrics.append(SavedTable(path, table))
    inputs.read_as.append(f"{_name(path)}: {kind} ({count(len(table.rows))} row"
                          f"{'' if len(table.rows) == 1 else 's'})")


def _name(path: str) -> str:
    return "standard input" if path == "-" else clean(path, 200)
