"""Streaming JSON: ijson's C parser, fed text piece by piece, building Python values whose
`traces` maps go straight into bounded item collectors and whose centroid vectors are dropped.

Two entry points: `parse_json_document` for a text that is one JSON value, and
`parse_json_cell` for a JSON value embedded in a pipe table, which ends where the value ends.
"""

from __future__ import annotations

import re
from operator import itemgetter

from ..errors import TruncatedInput, UnreadableInput
from ..model import ItemCollector, ItemPolicy
from .textsource import TextSource, splice_embedded_json
from .truncation import explain_truncation

_UNSET = object()
DROPPED = ()  # stands in for a centroid vector, which no script needs

# A closing bracket that could end a pipe-table cell: followed by `|`, a line break, or the end
# of the piece at hand. Inside compact JSON a bracket is followed by `,`, `]` or `}` instead.
_CELL_END = re.compile(r"[\]}](?=[|\r\n]|\Z)")
# How much of a cell that starts like JSON is kept in case it is plain text after all.
FALLBACK_CHARS = 1 << 16


class _Dropped:
    __slots__ = ()


class ValueBuilder:
    """Turns ijson `basic_parse` events into Python values, as `json.loads` would, except for
    the two bulky parts of a clustering run."""

    def __init__(self, policy: ItemPolicy):
        self._policy = policy
        self._stack: list = []
        self._keys: list = []
        self.value = _UNSET

    @property
    def done(self) -> bool:
        return self.value is not _UNSET

    def feed(self, events: list) -> None:
        stack = self._stack
        keys = self._keys
        index, count = 0, len(events)
        while index < count:
            event, value = events[index]
            index += 1
            if event == "map_key":
                index = self._after_key(events, index)
                continue
            if event == "start_map" or event == "start_array":
                stack.append(self._open(event))
                keys.append(None)
                continue
            if event == "end_map" or event == "end_array":
                value = stack.pop()
                keys.pop()
                if value.__class__ is _Dropped:
                    value = DROPPED
            if not stack:
                self.value = value
                continue
            top = stack[-1]
            kind = top.__class__
            if kind is dict:
                top[keys[-1]] = value
            elif kind is list:
                top.append(value)
            elif kind is ItemCollector:
                top.add(keys[-1], value)

    def _after_key(self, events: list, index: int) -> int:
        """Take the key event just before `index`; return the index of the next event to feed.
        In a `traces` map the key may begin a run of item entries, handed over whole."""
        top = self._stack[-1]
        if top.__class__ is ItemCollector:
            taken = _add_item_run(top, events, index - 1)
            if taken:
                return index - 1 + taken
        self._keys[-1] = events[index - 1][1]
        return index

    def _open(self, event: str):
        top = self._stack[-1] if self._stack else None
        if top.__class__ is _Dropped:
            return top
        if top.__class__ is dict:
            key = self._keys[-1]
            if key == "traces" and event == "start_map":
                cluster_id = top.get("cluster_id")
                if not isinstance(cluster_id, int):
                    cluster_id = None  # not read yet (or not a number): the largest limit applies
                return ItemCollector(self._policy.limit_for(cluster_id))
            if key == "centroid" and event == "start_array":
                return _Dropped()
        return {} if event == "start_map" else []


_END_MAP = ("end_map", None)
_START_MAP = ("start_map", None)
_START_ARRAY = ("start_array", None)
_first = itemgetter(0)
_second = itemgetter(1)


def _add_item_run(collector: ItemCollector, events: list, start: int) -> int:
    """Hand `collector` the longest run of item entries starting at `events[start]` (a key of
    the `traces` map) that all have the same flat shape; return how many events they took.

    PostHog writes every entry of a run with the same keys in the same order, so the entries
    of a batch are a periodic pattern of events: checking the pattern and slicing out the
    columns happens at C speed, and only the entries the collector keeps become dicts.
    """
    names = _flat_entry_fields(events, start)
    if names is None:
        return 0
    period = 2 * len(names) + 3  # the key, start_map, a key and a value per field, end_map
    count = _entries_alike(events, start, period, names)
    if count == 0:
        return 0
    stop = start + count * period
    keys = list(map(_second, events[start:stop:period]))
    rank = (list(map(_second, events[start + 3 + 2 * names.index("rank") : stop : period]))
            if "rank" in names else None)

    def entry_at(row: int) -> dict:
        base = start + row * period + 3
        return {name: events[base + 2 * f][1] for f, name in enumerate(names)}

    collector.add_run(keys, rank, entry_at)
    return count * period


def _flat_entry_fields(events: list, start: int) -> list | None:
    """The field names of the entry whose key is `events[start]`, when it is a map of scalars
    that ends within `events`; else None."""
    try:
        end = events.index(_END_MAP, start + 2)
    except ValueError:
        return None
    body = events[start + 2 : end]
    if events[start + 1] != _START_MAP or _START_MAP in body or _START_ARRAY in body:
        return None
    return [name for _, name in body[0::2]]


def _entries_alike(events: list, start: int, period: int, names: list) -> int:
    """How many consecutive entries from `events[start]` on have the shape of the first: each
    `period` events long, with the fields `names` in that order, none holding a nested value."""
    count = (len(events) - start) // period
    stop = start + count * period
    # Each check compares whole event tuples in C: the entry's key event, its start and end, and
    # its field names in order. A value slot holding the start of a nested value ends the run.
    key_kinds = list(map(_first, events[start:stop:period]))
    if key_kinds.count("map_key") != len(key_kinds):
        count = min(count, next(i for i, kind in enumerate(key_kinds) if kind != "map_key"))
    expected = [(start + 1, _START_MAP), (start + period - 1, _END_MAP)]
    expected += [(start + 2 + 2 * f, ("map_key", name)) for f, name in enumerate(names)]
    for offset, event in expected:
        column = events[offset : start + count * period : period]
        if column.count(event) != len(column):
            count = min(count, next(i for i, e in enumerate(column) if e != event))
    for f in range(len(names)):
        column = events[start + 3 + 2 * f : start + count * period : period]
        for nested in (_START_MAP, _START_ARRAY):
            if nested in column:
                count = min(count, column.index(nested))
    return count


def _ijson():
    """ijson, imported on first parse: --help and usage errors work before it is installed, and
    a missing ijson is reported (exit 6) when a file is read."""
    import ijson

    return ijson


class _PushParser:
    def __init__(self, policy: ItemPolicy, what: str):
        ijson = _ijson()
        self._events = ijson.sendable_list()
        self._coro = ijson.basic_parse_coro(self._events, use_float=True)
        self.builder = ValueBuilder(policy)
        self._what = what

    def send(self, text: str) -> None:
        try:
            # A lone surrogate (decoded from a lone `\\ud83d` escape of an outer layer) is not
            # UTF-8: it becomes `?` rather than bytes yajl cannot decode.
            self._coro.send(text.encode("utf-8", "replace"))
        except UnicodeDecodeError:
            raise self._not_unicode() from None
        finally:
            self.builder.feed(self._events)
            del self._events[:]

    def close(self) -> None:
        try:
            self._coro.close()
        except UnicodeDecodeError:
            raise self._not_unicode() from None
        finally:
            self.builder.feed(self._events)
            del self._events[:]

    def _not_unicode(self) -> UnreadableInput:
        # yajl fails this way on a lone low-surrogate escape such as `\\ude00` in a string.
        return UnreadableInput(
            f"{self._what} holds a JSON string with a lone surrogate escape (such as \\ude00), "
            "which is not valid Unicode. Expected the tool result exactly as it was saved.")


def parse_json_document(source: TextSource, policy: ItemPolicy, what: str):
    """The JSON value that is the whole of `source`."""
    source = splice_embedded_json(source, what)
    hint = _python_repr_hint(source.peek(3))
    parser = _PushParser(policy, what)
    ended = False  # all the text was fed: an error now means the JSON stopped early
    try:
        while True:
            piece = source.read()
            if not piece:
                break
            parser.send(piece)
        ended = True
        parser.close()
    except _ijson().JSONError as exc:
        explain_truncation(source, what)
        if parser.builder.done:
            raise UnreadableInput(
                f"{what} holds text after its JSON value ({_first_line(exc)}). Expected one JSON "
                "value, as the tool returned it. Pass the saved file unchanged."
            ) from None
        if ended:  # yajl says "premature EOF", or a lexical error for a cut `tru`
            raise TruncatedInput(
                f"{what} is JSON that stops before its end: the file was cut. Save the tool "
                "result again, or rerun the query with a narrower selection so it is smaller."
            ) from None
        raise UnreadableInput(
            f"{what} is not valid JSON ({_first_line(exc)}).{hint} Expected the tool result exactly as "
            "it was saved: a content-block array, {\"result\": …}, a HogQL response, or the "
            "text execute-sql prints."
        ) from None
    if not parser.builder.done:
        raise TruncatedInput(f"{what} is empty where JSON was expected: the file was cut.")
    return parser.builder.value


def parse_json_cell(source: TextSource, policy: ItemPolicy, what: str):
    """Parse the JSON value starting at the current position of a pipe-table row and return it
    with its text (None when longer than FALLBACK_CHARS), `source` left on the character after it.

    Returns (None, None), consuming nothing, when the cell only looked like JSON: a title such
    as "[bug] login fails" is text, and the caller reads it as a plain cell.
    """
    cell = _CellFeeder(source, _PushParser(policy, what))
    try:
        if cell.feed_value():
            return cell.value, cell.kept_text()
        error: Exception | None = None
    except _ijson().JSONError as exc:
        error = exc
    source.unread(cell.unfed)
    explain_truncation(source, what)
    if error is None or cell.ended:  # the text ended inside the value
        raise TruncatedInput(
            f"{what} is JSON that stops before its end: the result was cut. Rerun the query with "
            "`truncate: false` and, if the result is large, a narrower selection."
        )
    if cell.fed_chars <= FALLBACK_CHARS:
        source.unread("".join(cell.fed))
        return None, None
    hint = _python_repr_hint(cell.fed[0] if cell.fed else "")
    raise UnreadableInput(
        f"{what} starts like JSON but is not valid JSON ({_first_line(error)}).{hint} "
        "Expected the execute-sql text exactly as the tool returned it."
    )


class _CellFeeder:
    """Feeds a pipe-table row to the parser from its current position, in segments that end
    where the JSON value could end (so nothing after the value is fed), keeping the text fed
    while it is short enough to give back."""

    def __init__(self, source: TextSource, parser: _PushParser):
        self.source = source
        self.parser = parser
        self.fed: list[str] = []  # the cell's text so far, while within FALLBACK_CHARS
        self.fed_chars = 0
        self.unfed = ""  # the rest of the piece at hand, past the last segment fed
        self.ended = False  # the text ended before the value did

    @property
    def value(self):
        return self.parser.builder.value

    def feed_value(self) -> bool:
        """Feed until the value is complete (True, the text after it given back to the source)
        or the text ends (False). Raises ijson's JSONError when the text is not JSON."""
        while True:
            piece = self.source.read()
            if not piece:
                self.ended = True
                self.parser.close()
                return self.parser.builder.done
            if self._feed_piece(piece):
                return True

    def _feed_piece(self, piece: str) -> bool:
        start = 0
        for end in [m.end() for m in _CELL_END.finditer(piece)] + [len(piece)]:
            if end == start:
                continue
            segment = piece[start:end]
            if self.fed_chars < FALLBACK_CHARS:
                self.fed.append(segment)
            self.fed_chars += len(segment)
            start = end
            self.unfed = piece[end:]
            self.parser.send(segment)
            if self.parser.builder.done:
                self.source.unread(self.unfed)
                return True
        return False

    def kept_text(self) -> str | None:
        return "".join(self.fed) if self.fed_chars <= FALLBACK_CHARS else None


def _python_repr_hint(head: str) -> str:
    """execute-sql prints a native array or map column as Python's repr (`[{'a': 1}]`)."""
    if head.lstrip().startswith(("{'", "['", "[{'")):
        return (" It looks like Python's repr of a native array or map: execute-sql prints those "
                "with str(). Select the column as JSON text instead (JSONExtractRaw(...) or "
                "toJSONString(...)).")
    return ""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
