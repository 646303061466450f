"""A query result as a table (columns, rows, and what the reading skipped or suspects missing),
and its cells read as numbers or booleans whichever shape gave them: the pipe table gives text
(NULL as None), JSON gives numbers. Reading a saved result into a `Table` is `table_reader`'s."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import Any


class Table:
    """A result table: column names, rows of cells, notes on what was skipped, and warnings,
    signs that rows are missing (row limits)."""

    def __init__(self, columns: list[str], rows: list[list] | None = None, notes: list[str] | None = None,
                 warnings: list[str] | None = None):
        self.columns = columns
        self.rows = [] if rows is None else rows
        self.notes = [] if notes is None else notes
        self.warnings = [] if warnings is None else warnings


def cell_number(value: Any) -> float | None:
    """A numeric cell as a float; None for NULL, empty text, NaN or anything not a number."""
    if value is None or isinstance(value, bool):
        return float(value) if isinstance(value, bool) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def cell_integer(value: Any) -> int | None:
    """A numeric cell as an int (a fraction cut towards zero); None as for `cell_number`."""
    number = cell_number(value)
    return None if number is None else int(number)


def cell_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes"):
        return True
    if text in ("0", "false", "f", "no", ""):
        return False
    number = cell_number(value)
    return None if number is None else number != 0
