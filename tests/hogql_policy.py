"""What the skill's own queries must do beyond being accepted by PostHog: run on older PostHog
versions too, and let PostHog optimise them.

- Portable: no name that only recent PostHog versions register (the generated aggregate
  combinators such as `sumOrNullIf`, and `parseDateTime64BestEffort*`), see
  ../shared/docs/hogql-acceptance.md §2-3.
- Fast: a SELECT over AI events (`$ai_generation`, `$ai_embedding`, `$ai_span`, `$ai_trace`)
  reads their properties by HogQL property access, never with a JSON function over
  `properties` (which parses prompts and completions), and is bounded by event name and time;
  one that feeds a join is also narrowed by item key (`… IN (subquery)`).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from localposthog.hogql_check import walk

AI_EVENTS = frozenset({"$ai_generation", "$ai_embedding", "$ai_span", "$ai_trace"})
_GENERATED_COMBINATOR = re.compile(
    r"^(avg|sum|min|max|count|countDistinct|median)"
    r"(If|Array|Map|State|Merge|ForEach|OrDefault|OrNull|ArgMin|ArgMax)*"
    r"(Array|Map|State|Merge|ForEach|OrDefault|OrNull|ArgMin|ArgMax)(If)?$")
# Explicit entries older PostHog versions have too (aggregations.py before the generator).
_OLD_EXPLICIT = frozenset({"countIf", "minIf", "maxIf", "sumIf", "avgIf", "countDistinctIf", "medianIf",
                           "avgArray", "sumArray", "minArray", "maxArray", "countArray"})
_RECENT_ONLY = frozenset({"parseDateTime64BestEffortOrNull", "parseDateTime64BestEffort",
                          "parseDateTime64BestEffortUSOrNull"})


def recent_only_names(tree: dict[str, Any]) -> list[str]:
    """Function names in `tree` that older PostHog versions do not register."""
    names = {node["name"] for node in walk(tree) if node["node"] == "Call"}
    return sorted(name for name in names if name in _RECENT_ONLY
                  or (_GENERATED_COMBINATOR.match(name) and name not in _OLD_EXPLICIT))


def _shallow(node: Any) -> Iterator[dict[str, Any]]:
    """The nodes one SELECT evaluates itself, not its subqueries'."""
    return walk(node, skip=("SelectQuery", "SelectSetQuery"))


def _constants(node: Any) -> Iterator[Any]:
    for child in _shallow(node):
        if child["node"] == "Constant":
            yield child.get("value")


def _own_parts(select: dict[str, Any]) -> list[Any]:
    """The parts of a SELECT evaluated over its own FROM (not its subqueries' bodies)."""
    parts = [select.get(key) for key in ("select", "where", "prewhere", "group_by", "having", "order_by")]
    join = select.get("select_from")
    while join:
        if join.get("constraint"):
            parts.append(join["constraint"])
        join = join.get("next_join")
    return parts


def _reads_events(select: dict[str, Any]) -> bool:
    join = select.get("select_from")
    while join:
        table = join.get("table") or {}
        if table.get("node") == "Field" and table.get("chain") == ["events"]:
            return True
        join = join.get("next_join")
    return False


def _is_properties(node: dict[str, Any]) -> bool:
    chain = node.get("chain") if node.get("node") == "Field" else None
    return bool(chain) and chain[-1] == "properties" and len(chain) <= 2


def problems(tree: dict[str, Any]) -> list[str]:
    """What keeps PostHog from optimising the query; empty when nothing does."""
    found = []
    for select in walk(tree):
        if select["node"] != "SelectQuery" or not _reads_events(select):
            continue
        own = _own_parts(select)
        where = select.get("where")
        names = {value for value in _constants(where) if isinstance(value, str)}
        if not names & AI_EVENTS:
            continue  # the cluster events themselves: one row per run, JSON is fine
        for node in _shallow(own):
            if (node["node"] == "Call" and node["name"].startswith("JSON") and node.get("args")
                    and _is_properties(node["args"][0])):
                found.append(f"{node['name']}(properties, …) over AI events")
        fields = {tuple(node.get("chain") or ()) for node in _shallow(where) if node["node"] == "Field"}
        if not any(chain[-1:] == ("event",) for chain in fields):
            found.append("AI events not bounded by event name")
        if not any(chain[-1:] == ("timestamp",) for chain in fields):
            found.append("AI events not bounded by time")
    return found


def narrowed_before_join(tree: dict[str, Any]) -> list[str]:
    """Subqueries over AI events taking part in a join that are not narrowed by `… IN (subquery)`."""
    found = []
    for select in walk(tree):
        if select["node"] != "SelectQuery":
            continue
        chain, join = [], select.get("select_from")
        while join:
            chain.append(join)
            join = join.get("next_join")
        for join in chain if len(chain) > 1 else []:
            table = join.get("table") or {}
            if table.get("node") != "SelectQuery" or not _reads_events(table):
                continue
            if not set(_constants(table.get("where"))) & AI_EVENTS:
                continue
            ins = [node for node in _shallow(table.get("where"))
                   if node["node"] == "CompareOperation" and node.get("op") == "in"
                   and (node.get("right") or {}).get("node") in ("SelectQuery", "SelectSetQuery")]
            if not ins:
                found.append(f"AI events joined as {join.get('alias')!r} without an IN (subquery) narrowing")
    return found
