"""The table `execute-sql` prints: a header line, then one line per row, cells joined by `|`.

Nothing is quoted or escaped, so a `|` or a line break inside a value looks like a cell or row
boundary. JSON cells are delimited by parsing them (a `|` inside JSON strings is harmless);
plain cells that hold a `|` are put back together by column count, into a text column.
"""

from __future__ import annotations

import re

from ..errors import TruncatedInput, UnreadableInput
from ..model import ItemPolicy
from .jsonparse import parse_json_cell
from .tables import Table
from .textsource import TextSource
from .truncation import SERVER_FIX, server_notice_in

NULL_CELLS = ("(null)", "None")
QUOTED_NULL = '"(null)"'
_CELL_DELIMITER = re.compile(r"[|\n]")
_LINE_END = re.compile(r"\n")
# Columns whose values are free text, so a stray `|` most likely belongs to them.
TEXT_COLUMNS = ("job_name", "title", "description", "name", "label", "cluster_title", "summary")


def plain_cell_value(text: str):
    """A plain (not JSON) cell's value: None for a NULL cell, its text otherwise."""
    if text.endswith("\r"):
        text = text[:-1]
    if text in NULL_CELLS:
        return None
    if text == QUOTED_NULL:
        return "(null)"
    return text


def read_pipe_table(source: TextSource, policy: ItemPolicy, what: str) -> Table:
    header, _ = source.take_until(_LINE_END)
    columns = [c.strip() for c in header.rstrip("\r").split("|")]
    table = Table(columns)
    row_number = 0
    while True:
        ahead = source.peek(1)
        if ahead in ("\n", "\r"):  # blank lines between rows
            source.consume(1)
            continue
        if not ahead:
            break
        line_start = source.peek(120)
        notice = server_notice_in(line_start)
        if notice and line_start.lstrip().startswith(notice):
            raise TruncatedInput(f"{what} was cut after {row_number} rows: it ends with the "
                                 f"notice '{notice} …'. {SERVER_FIX}")
        row_number += 1
        cells, texts = _read_row(source, policy, len(columns), f"{what}, row {row_number}")
        cells = _fit_to_columns(cells, texts, columns)
        if cells is None:
            table.notes.append(f"row {row_number} could not be split into {len(columns)} cells "
                               "and was skipped")
            continue
        table.rows.append(cells)
    return table


def _read_row(source: TextSource, policy: ItemPolicy, width: int, what: str) -> tuple[list, list]:
    """The row's cell values, and each cell's text as printed (None for a long JSON cell), so
    that cells split at a `|` inside a value can be put back together exactly."""
    cells: list = []
    texts: list = []
    while True:
        first = source.peek(1)
        if first in ("[", "{"):
            value, text = parse_json_cell(source, policy, what)
            if value is not None:
                cells.append(value)
                texts.append(text)
                delimiter = source.peek(2)
                if delimiter.startswith("\r\n"):
                    source.consume(2)
                    return cells, texts
                source.consume(1)
                if delimiter[:1] != "|":
                    if delimiter[:1] not in ("\n", ""):
                        raise UnreadableInput(
                            f"{what}: a JSON cell is followed by {delimiter[:1]!r} instead of '|' or "
                            "a line break. Expected the execute-sql text exactly as returned.")
                    return cells, texts
                continue
        text, delimiter = source.take_until(_CELL_DELIMITER)
        # A line break before the row has all its cells is part of a multi-line value.
        while delimiter == "\n" and len(cells) + 1 < width and _continues(source):
            more, delimiter = source.take_until(_CELL_DELIMITER)
            text += "\n" + more
        cells.append(plain_cell_value(text))
        texts.append(text[:-1] if text.endswith("\r") else text)
        if delimiter != "|":
            return cells, texts


def _continues(source: TextSource) -> bool:
    ahead = source.peek(120)
    return bool(ahead) and not server_notice_in(ahead)


def _fit_to_columns(cells: list, texts: list, columns: list[str]) -> list | None:
    """Rejoin cells split at a `|` that belonged to a value, preferring text columns.

    The pieces are joined as printed, not as parsed: in a job name `a|[1]` or `a|(null)` the
    second piece only looks like JSON or NULL."""
    extra = len(cells) - len(columns)
    if extra < 0:
        return None
    names = [c.lower() for c in columns]
    text_columns = [i for i, name in enumerate(names) if name in TEXT_COLUMNS]
    if extra:
        candidates = text_columns + [i for i in range(len(columns)) if i not in text_columns]
        for index in candidates:
            group = texts[index : index + extra + 1]
            if all(isinstance(c, str) for c in group) and len(group) == extra + 1:
                cells = cells[:index] + ["|".join(group)] + cells[index + extra + 1 :]
                texts = texts[:index] + ["|".join(group)] + texts[index + extra + 1 :]
                break
        else:
            return None
    for index in text_columns:  # a job name such as `[1,2]` is text, even if it parses as JSON
        if isinstance(cells[index], (dict, list)) and isinstance(texts[index], str):
            cells[index] = texts[index]
    return cells
