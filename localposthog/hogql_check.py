"""Refuse what PostHog's HogQL printer refuses, before the local ClickHouse sees the query.

ClickHouse (and so chdb) runs far more than PostHog lets through: PostHog parses every query
with its own grammar and then prints it to ClickHouse SQL, rejecting any function call that is
not in its tables or has the wrong number of arguments. This module does the same two steps:

1. `parse_select` runs PostHog's own parser (`hogql-parser` on PyPI, the C++/ANTLR grammar
   PostHog ships) and returns the query's syntax tree as JSON data.
2. `validate` walks that tree the way `BasePrinter.visit_call` / `visit_join_expr` do and
   raises `QueryError` with PostHog's own message for: a function or aggregation not in the
   tables (`hogql_functions.json`, with the PostHog commits it was taken from), a wrong number
   of arguments or parameters, an aggregation nested in another, `FINAL`, and an unresolved
   `{placeholder}`. It also refuses `RIGHT` and `FULL` joins: PostHog's join allowlist is not
   in its public source, and for a non-LEFT join the printer puts the right table's team guard
   in WHERE, which drops the rows the outer join was written to keep. Window functions
   (`f(…) OVER …`) are not checked: the printers read print their names as written.

`hogql-parser` imports `posthog.hogql.errors` when it loads (to raise PostHog's exception
classes). Only its `*_json` functions are used here, which report errors as data and never
touch those classes, so empty stand-in modules are enough; `_load_parser` installs them only
when no real `posthog` package is importable.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import sys
import types
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from localposthog.hogql import QueryError

TABLES_FILE = Path(__file__).resolve().parent / "hogql_functions.json"

# PostHog's HOGQL_COMPARISON_MAPPING: called as functions, they must have exactly two arguments.
COMPARISON_FUNCTIONS = frozenset({
    "equals", "notEquals", "less", "greater", "lessOrEquals", "greaterOrEquals",
    "like", "ilike", "notLike", "notILike", "in", "notIn",
})
# Join types proven to print as written, with the team guard in the join's own ON clause.
ACCEPTED_JOIN_TYPES = frozenset({
    None, "JOIN", "INNER JOIN", "LEFT JOIN", "LEFT OUTER JOIN", "CROSS JOIN",
    "LEFT SEMI JOIN", "LEFT ANTI JOIN", "LEFT ANY JOIN", "ANY LEFT JOIN", "INNER ANY JOIN", "ANY INNER JOIN",
})


class ParserUnavailable(RuntimeError):
    """PostHog's parser (`hogql-parser`) is not installed; the message says how to get it."""


@dataclass(frozen=True)
class FunctionMeta:
    """One entry of PostHog's function tables, as the printer checks it."""

    name: str
    table: str  # aggregation | function | posthog_function
    min_args: int
    max_args: int | None  # None: no upper limit
    min_params: int
    max_params: int | None
    case_sensitive: bool


class FunctionTables:
    """PostHog's aggregation, ClickHouse-function and PostHog-function tables, looked up as
    PostHog's `_find_function` does: the exact name first, else the lower-cased name when that
    entry is case-insensitive (so only entries registered in lower case match any casing)."""

    def __init__(self, data: dict[str, Any]):
        self.source = data["source"]
        self._by_table: dict[str, dict[str, FunctionMeta]] = {}
        for name, entry in data["functions"].items():
            meta = FunctionMeta(name, entry["table"], entry["min_args"], entry["max_args"],
                                entry["min_params"], entry["max_params"], entry["case_sensitive"])
            self._by_table.setdefault(meta.table, {})[name] = meta
        self.names = sorted(data["functions"])

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls) -> "FunctionTables":
        return cls(json.loads(TABLES_FILE.read_text(encoding="utf-8")))

    def find(self, table: str, name: str) -> FunctionMeta | None:
        entries = self._by_table.get(table, {})
        if name in entries:
            return entries[name]
        lowered = entries.get(name.lower())
        return lowered if lowered is not None and not lowered.case_sensitive else None

    def lookup(self, name: str) -> FunctionMeta | None:
        """The entry the printer uses for `name`: aggregations, then functions, then PostHog's."""
        for table in ("aggregation", "function", "posthog_function"):
            meta = self.find(table, name)
            if meta is not None:
                return meta
        return None


def _load_parser():
    if importlib.util.find_spec("hogql_parser") is None:
        raise ParserUnavailable(
            "PostHog's HogQL parser is not installed, so queries cannot be checked the way PostHog "
            "checks them. Install the test extra: pip install -e '.[test]' (it pins hogql-parser).")
    if "posthog.hogql.errors" not in sys.modules and importlib.util.find_spec("posthog") is None:
        for name in ("posthog", "posthog.hogql", "posthog.hogql.errors"):
            sys.modules.setdefault(name, types.ModuleType(name))
    import hogql_parser

    return hogql_parser


@lru_cache(maxsize=1)
def _parser():
    return _load_parser()


def parse_select(sql: str) -> dict[str, Any]:
    """PostHog's syntax tree of one SELECT (or UNION of them); a syntax error is a QueryError
    with the parser's own message."""
    tree = json.loads(_parser().parse_select_json(sql))
    if tree.get("error"):
        raise QueryError(tree.get("message") or "Syntax error")
    return tree


def check_query(sql: str, *, allow_placeholders: bool = False) -> dict[str, Any]:
    """Parse and validate `sql` as PostHog would; returns the tree. `allow_placeholders` accepts
    `{name}` templates (the skill's documented queries) that PostHog fills before printing."""
    tree = parse_select(sql)
    validate(tree, allow_placeholders=allow_placeholders)
    return tree


def validate(tree: dict[str, Any], *, allow_placeholders: bool = False,
             tables: FunctionTables | None = None) -> None:
    """Raise QueryError, with PostHog's message, for the first thing its printer would refuse."""
    _Validator(tables or FunctionTables.load(), allow_placeholders).visit(tree, ())


def walk(node: Any, skip: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """Every node of a syntax tree, parents before children; nodes of a kind in `skip` (such
    as "SelectQuery", to stay out of subqueries) are left out with everything below them."""
    if isinstance(node, dict):
        if node.get("node") in skip:
            return
        if "node" in node:
            yield node
        for value in node.values():
            yield from walk(value, skip)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value, skip)


def _plural(count: int | None, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _check_count(found: int, low: int, high: int | None, name: str, term: str, unit: str) -> None:
    """PostHog's `validate_function_args`, message for message."""
    too_few, too_many = found < low, high is not None and found > high
    if low == high and (too_few or too_many):
        raise QueryError(f"{term.capitalize()} '{name}' expects {_plural(low, unit)}, found {found}")
    if too_few:
        raise QueryError(f"{term.capitalize()} '{name}' expects at least {_plural(low, unit)}, found {found}")
    if too_many:
        raise QueryError(f"{term.capitalize()} '{name}' expects at most {_plural(high, unit)}, found {found}")


class _Validator:
    def __init__(self, tables: FunctionTables, allow_placeholders: bool):
        self.tables = tables
        self.allow_placeholders = allow_placeholders

    def visit(self, node: Any, aggregations: tuple[str, ...]) -> None:
        """`aggregations`: the aggregation calls enclosing this node within its SELECT."""
        if isinstance(node, list):
            for item in node:
                self.visit(item, aggregations)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("node")
        if kind in ("SelectQuery", "SelectSetQuery"):
            aggregations = ()  # a subquery starts a new aggregation scope
        elif kind == "Call":
            aggregations = self._check_call(node, aggregations)
        elif kind == "JoinExpr":
            self._check_join(node)
        elif kind == "Placeholder" and not self.allow_placeholders:
            field = ".".join(str(part) for part in (node.get("expr") or {}).get("chain") or [])
            raise QueryError(f"Unresolved placeholder: {{{field}}}" if field
                             else "You can not use placeholders here")
        for key, value in node.items():
            if key not in ("node", "start", "end"):
                self.visit(value, aggregations)

    def _check_call(self, node: dict[str, Any], aggregations: tuple[str, ...]) -> tuple[str, ...]:
        name, args, params = node["name"], node.get("args") or [], node.get("params")
        if name in COMPARISON_FUNCTIONS:
            if len(args) != 2:
                raise QueryError(f"Comparison '{name}' requires exactly two arguments")
            return aggregations
        meta = self.tables.lookup(name)
        if meta is None:
            close = difflib.get_close_matches(name, self.tables.names, 1)
            hint = f". Perhaps you meant '{close[0]}(...)'?" if close else ""
            raise QueryError(f"Unsupported function call '{name}(...)'{hint}")
        term = "aggregation" if meta.table == "aggregation" else "function"
        _check_count(len(args), meta.min_args, meta.max_args, name, term, "argument")
        if meta.min_params and meta.table != "posthog_function":
            if params is None:
                raise QueryError(f"{term.capitalize()} '{name}' requires parameters in addition to arguments")
            _check_count(len(params), meta.min_params, meta.max_params, name, term, "parameter")
        if meta.table != "aggregation":
            return aggregations
        if aggregations:
            raise QueryError(f"Aggregation '{name}' cannot be nested inside another aggregation "
                             f"'{aggregations[-1]}'.")
        return (*aggregations, name)

    @staticmethod
    def _check_join(node: dict[str, Any]) -> None:
        if node.get("table_final"):
            raise QueryError("The FINAL keyword is not supported in HogQL as it causes slow queries")
        join_type = node.get("join_type")
        if join_type not in ACCEPTED_JOIN_TYPES:
            raise QueryError(
                f"{join_type} is not accepted here: PostHog's printer checks join types against an "
                "allowlist and moves a non-LEFT join's team guard into WHERE, which drops the rows an "
                "outer join keeps. Write it as a LEFT JOIN with the two sides swapped.")
