"""Read any query result (not only clustering runs) as a `Table`: columns and rows.

The same saved shapes as `reader.read_runs` (content blocks, `{"result": …}`, plain text; warning
blocks; execute-sql's pipe table, a HogQL response, compact JSON rows, a list of objects), read
with the same layers: `reader.documents` for the envelope, `read_pipe_table` and
`parse_json_document` for the document. Cells keep the type the shape gave them: the pipe table
gives text (NULL as None), JSON gives numbers; `tables.cell_number`/`cell_bool` read either.

Every table is checked for PostHog's silent row limits (`truncation.row_cap_warning`): its
`warnings` say when rows are probably missing, for the caller to print above its output.
"""

from __future__ import annotations

from typing import Any, BinaryIO, NamedTuple

from ..errors import UnreadableInput
from ..model import ItemPolicy
from .jsonparse import parse_json_document
from .pipetable import plain_cell_value, read_pipe_table
from .reader import document_body, documents, read_input
from .tables import Table
from .textsource import TextSource, text_from_str
from .truncation import response_query, row_cap_warning


class SavedTable(NamedTuple):
    """A table and where it was read from (a path, or PostHog's answer), for messages."""

    name: str
    table: Table


_POLICY = ItemPolicy(default=0)  # a metrics table holds no `traces`; keep none if one does
FAST_PATH_CHARS = 64 << 20  # a larger table is streamed


def read_table(path: str, stdin: BinaryIO | None = None, query: str | None = None) -> Table:
    """The first table in the file at `path` ("-" reads `stdin`); its notes say what was skipped,
    its warnings whether rows are probably missing. `query`: the SQL that produced it, if known."""
    return read_input(path, stdin, lambda source, name: read_table_from(source, name, query))


def read_table_from(source: TextSource, name: str, query: str | None = None) -> Table:
    for document, where in documents(source, name):
        table = _table_from_document(document, where, query)
        if table is not None:
            return table
    raise UnreadableInput(f"{name} holds no table: expected execute-sql's pipe table or a HogQL "
                          "response with columns and results.")


def _table_from_document(source: TextSource, where: str, query: str | None) -> Table | None:
    notes: list[str] = []
    source, head = document_body(source, where, notes)
    if not head:
        return None
    has_more = None
    if head[0] in ("[", "{"):
        value = parse_json_document(source, _POLICY, where)
        if isinstance(value, dict):
            has_more, query = value.get("hasMore"), response_query(value) or query
        table = table_from_value(value, where)
    else:
        table = _read_plain_pipe_table(source, where)
    table.notes[:0] = notes
    warning = row_cap_warning(len(table.rows), has_more=has_more, query=query)
    if warning:
        table.warnings.append(f"{where}: {warning}")
    return table


def _read_plain_pipe_table(source: TextSource, where: str) -> Table:
    """A metrics result (scalars only) split by lines and `|`, about five times faster than the
    streaming reader; any line that does not split into one cell per column (a `|` or a line
    break inside a value, a JSON cell, a server's notice) hands the whole text to it instead."""
    text = source.peek(FAST_PATH_CHARS + 1)
    if len(text) > FAST_PATH_CHARS:
        return read_pipe_table(source, _POLICY, where)
    source.consume(len(text))
    lines = text.split("\n")
    columns = [c.strip() for c in lines[0].rstrip("\r").split("|")]
    rows = []
    for line in lines[1:]:
        if not line.rstrip("\r"):
            continue
        cells = line.split("|")
        if len(columns) < 2 or len(cells) != len(columns) or any(c[:1] in ("[", "{") for c in cells):
            return read_pipe_table(text_from_str(text), _POLICY, where)
        rows.append([plain_cell_value(c) for c in cells])
    return Table(columns, rows)


def table_from_value(value: Any, where: str) -> Table:
    """A table from a parsed JSON value: a HogQL response (`columns` + `results`), a list of
    objects (keys become columns), or a list of rows (columns named by position)."""
    if isinstance(value, dict) and isinstance(value.get("results"), list):
        columns = value.get("columns")
        rows = value["results"]
        if isinstance(columns, list) and all(isinstance(c, str) for c in columns):
            return Table([str(c) for c in columns], [list(r) for r in rows if isinstance(r, list)])
        value = rows
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(dict.fromkeys(key for row in value for key in row))
        return Table(columns, [[row.get(c) for c in columns] for row in value])
    if isinstance(value, list) and all(isinstance(v, list) for v in value):
        width = max((len(v) for v in value), default=0)
        return Table([f"column_{i + 1}" for i in range(width)], value)
    raise UnreadableInput(f"{where} is JSON but not a table: expected a HogQL response "
                          "({\"columns\": …, \"results\": …}), a list of rows or a list of objects.")
