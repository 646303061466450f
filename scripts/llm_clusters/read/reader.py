"""Read clustering runs from a saved tool result, whatever its shape, in bounded memory.

Layers, each detected from content, never from the file name:
  envelope   a JSON array of MCP content blocks, `{"result": text}`, `{"content": [blocks]}`,
             or plain text
  document   optional `<taxonomy_warnings>`-style blocks, then either JSON (a HogQL response,
             compact rows, a bare `$ai_clusters` array, properties, an event) or the
             execute-sql pipe table
  values     JSON cells and JSON strings inside those, parsed the same way
"""

from __future__ import annotations

import io
import re
from pathlib import Path

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import BinaryIO, Callable, Iterator, TypeVar

from ..errors import NoClustersFound, TruncatedInput, UnreadableInput
from ..model import ItemPolicy, Run
from .interpret import Interpreter
from .jsonparse import parse_json_document
from .pipetable import read_pipe_table
from .textsource import TextSource, json_string_source, text_from_binary, text_from_str
from .truncation import SERVER_FIX, row_cap_warning, server_notice_in

if TYPE_CHECKING:
    T = TypeVar("T")

# A content block's keys come in any order: `annotations` or `_meta` may come first.
_CONTENT_BLOCKS = re.compile(r'\[\s*\{\s*"(?:type|text|annotations|_meta)"\s*:')
_RESULT_OBJECT = re.compile(r'\{\s*"result"\s*:\s*"')
# An MCP CallToolResult; `content` need not be its first key.
_CALL_RESULT = re.compile(r'\{\s*"(?:content|isError|structuredContent|_meta)"\s*:')
_WARNING_BLOCK = re.compile(r"<([A-Za-z_][\w-]*)>")
_JSON_STRING_OF_JSON = re.compile(r'"(?:\s|\\[nrt])*[\[{]')
WARNING_BLOCK_LIMIT = 1 << 20

SELECT_HINT = (
    "Select the run's `$ai_clusters` property, for example: SELECT "
    "JSONExtractString(properties, '$ai_clustering_run_id') AS run_id, "
    "JSONExtractRaw(properties, '$ai_clusters') AS clusters FROM events WHERE event IN "
    "('$ai_trace_clusters', '$ai_generation_clusters') AND timestamp >= now() - INTERVAL 7 DAY "
    "ORDER BY timestamp DESC LIMIT 5 (with `truncate: false`)."
)


class ReadResult:
    """The runs read, notes on what was skipped, and warnings that the result may be incomplete."""

    def __init__(self, runs: list[Run], notes: list[str] | None = None, warnings: list[str] | None = None):
        self.runs = runs
        self.notes = [] if notes is None else notes
        self.warnings = [] if warnings is None else warnings


def read_input(path: str, stdin: BinaryIO | None, read: Callable[[TextSource, str], T]) -> T:
    """`read(source, name)` over the file at `path` ("-" reads `stdin`, empty when None), with a
    message for a path that cannot be opened."""
    if path == "-":
        stream = stdin if stdin is not None else io.BytesIO()
        return read(text_from_binary(stream, "standard input"), "standard input")
    try:
        with Path(path).open("rb") as stream:
            return read(text_from_binary(stream, path), path)
    except FileNotFoundError:
        raise UnreadableInput(f"{path} does not exist. Pass the path the coding agent gave for "
                              "the saved tool result, or - to read standard input.") from None
    except IsADirectoryError:
        raise UnreadableInput(f"{path} is a folder. Pass the saved result file inside it.") from None
    except PermissionError:
        raise UnreadableInput(f"{path} cannot be read (permission denied).") from None


def read_runs(path: str, policy: ItemPolicy, stdin: BinaryIO | None = None) -> ReadResult:
    """All runs in the file at `path` ("-" reads `stdin`)."""
    return read_input(path, stdin, lambda source, name: read_runs_from(source, policy, name))


def read_runs_from(source: TextSource, policy: ItemPolicy, name: str,
                   query: str | None = None) -> ReadResult:
    """All runs in `source`; `query` is the SQL that produced it, when known."""
    interpreter = Interpreter(policy, lambda text: parse_json_document(
        text_from_str(text), policy, f"a JSON value inside {name}"), query)
    result = ReadResult(runs=[])
    for document, where in documents(source, name):
        result.runs.extend(_read_document(document, where, interpreter, result.notes))
        document.drain()
    result.warnings.extend(interpreter.warnings)
    if not result.runs:
        seen = ", ".join(repr(s[:60]) for s in dict.fromkeys(interpreter.seen)) or "nothing"
        raise NoClustersFound(
            f"{name} holds no clustering run: no `$ai_clusters` data was found (columns or keys "
            f"seen: {seen}). {SELECT_HINT}")
    return result


def documents(source: TextSource, name: str) -> Iterator[tuple[TextSource, str]]:
    source.skip_whitespace()
    head = source.peek(256)
    if _CONTENT_BLOCKS.match(head):
        yield from _content_blocks(source, name)
    elif _RESULT_OBJECT.match(head):
        source.consume(head.index('"', head.index(":")) + 1)
        yield json_string_source(source, f"the result text in {name}"), name
    elif _CALL_RESULT.match(head):
        yield from _call_result(source, name)
    else:
        yield source, name


def _call_result(source: TextSource, name: str) -> Iterator[tuple[TextSource, str]]:
    """The documents of `{"content": [blocks], "isError": …}`, whatever the key order."""
    _expect(source, "{", name)
    while source.skip_whitespace() not in ("}", ""):
        key = _small_string(source, name)
        _expect(source, ":", name)
        if key == "content" and source.skip_whitespace() == "[":
            yield from _content_blocks(source, name)
        else:
            _skip_value(source, name)
        if source.skip_whitespace() == ",":
            source.consume(1)
    _expect(source, "}", name)


def _content_blocks(source: TextSource, name: str) -> Iterator[tuple[TextSource, str]]:
    """The `text` of each block of a JSON array of MCP content blocks, as a stream."""
    _expect(source, "[", name)
    index = 0
    while True:
        if source.skip_whitespace() == "]":
            source.consume(1)
            return
        index += 1
        _expect(source, "{", name)
        while source.skip_whitespace() != "}":
            key = _small_string(source, name)
            _expect(source, ":", name)
            if key == "text" and source.skip_whitespace() == '"':
                source.consume(1)
                where = name if index == 1 else f"{name}, content block {index}"
                text = json_string_source(source, f"content block {index} of {name}")
                yield text, where
                text.drain()
            else:
                _skip_value(source, name)
            if source.skip_whitespace() == ",":
                source.consume(1)
        source.consume(1)
        if source.skip_whitespace() == ",":
            source.consume(1)


def _expect(source: TextSource, char: str, name: str) -> None:
    found = source.skip_whitespace()
    if found != char:
        if not found:
            raise TruncatedInput(f"{name} stops before its end (expected {char!r}): the file was "
                                 "cut. Save the tool result again.")
        raise UnreadableInput(f"{name} is not a well-formed content-block array (found {found!r} "
                              f"where {char!r} belongs). Pass the file exactly as it was saved.")
    source.consume(1)


def _small_string(source: TextSource, name: str) -> str:
    _expect(source, '"', name)
    return "".join(iter(json_string_source(source, name).read, ""))


def _skip_value(source: TextSource, name: str) -> None:
    """Skip one JSON value of a content block that is not its text (`type`, annotations)."""
    depth = 0
    while True:
        first = source.skip_whitespace()
        if first == '"':
            source.consume(1)
            json_string_source(source, name).drain()
        elif first in ("[", "{"):
            source.consume(1)
            depth += 1
        elif first in ("]", "}") and depth:
            source.consume(1)
            depth -= 1
        elif first in (",", ":") and depth:
            source.consume(1)
            continue
        elif first:
            source.take_until(re.compile(r"(?=[,\]}\s])"))
        else:
            raise TruncatedInput(f"{name} stops before its end: the file was cut.")
        if depth == 0:
            return


def document_body(source: TextSource, where: str, notes: list[str]) -> tuple[TextSource, str]:
    """The document past its warning blocks (each noted), unwrapped when it is a JSON string
    holding JSON, and its first characters ("" when empty). A document that is only a
    server's truncation notice is refused."""
    while source.skip_whitespace() == "<":
        tag = _WARNING_BLOCK.match(source.peek(200))
        if not tag or source.read_until(f"</{tag.group(1)}>", WARNING_BLOCK_LIMIT) is None:
            break
        notes.append(f"{where} began with a <{tag.group(1)}> block, which was skipped")
    head = source.peek(200)
    notice = server_notice_in(head)
    if notice and head.startswith(notice):
        raise TruncatedInput(f"{where} holds only the notice '{notice} …'. {SERVER_FIX}")
    if _JSON_STRING_OF_JSON.match(head):  # a JSON string holding JSON: `"[{\"cluster_id\"…"`
        source.consume(1)
        return document_body(json_string_source(source, f"the JSON string in {where}"), where, notes)
    return source, head


def _read_document(source: TextSource, where: str, interpreter: Interpreter,
                   notes: list[str]) -> list[Run]:
    source, head = document_body(source, where, notes)
    if not head:
        return []
    if head[0] in ("[", "{"):
        value = parse_json_document(source, interpreter.policy, where)
        return interpreter.runs_from_value(value, where)
    table = read_pipe_table(source, interpreter.policy, where)
    notes.extend(f"{where}: {note}" for note in table.notes)
    warning = row_cap_warning(len(table.rows), query=interpreter.query)
    if warning:
        interpreter.warnings.append(f"{where}: {warning}")
    return interpreter.runs_from_table(table, where)


def choose_run(result: ReadResult, run_id: str | None) -> tuple[Run, str | None]:
    """The run asked for, or the newest; with a note saying which was picked and why."""
    runs = result.runs
    if run_id is not None:
        matching = [run for run in runs if run.run_id == run_id]
        if not matching:
            available = ", ".join(repr(run.run_id) for run in runs[:10]) or "none"
            raise NoClustersFound(
                f"no run with id {run_id!r} in the input; its runs are: {available}"
                f"{' …' if len(runs) > 10 else ''}. Pass one of those to --run-id, or load "
                "that run with a query filtered on its id.")
        return _loaded(matching[0]), None
    if len(runs) == 1:
        return _loaded(runs[0]), None
    newest = max(runs, key=lambda run: (run.sort_time, run.run_id or ""))
    return _loaded(newest), (f"the input holds {len(runs)} runs; showing the newest. "
                    "List them with --list-runs, pick one with --run-id.")


def _loaded(run: Run) -> Run:
    if run.listed_only:
        raise NoClustersFound(
            f"the input lists run {run.run_id!r} with {run.cluster_count} clusters but holds no "
            "clusters JSON (it is the answer to a runs-listing query). Load the run itself: "
            "select JSONExtractRaw(properties, '$ai_clusters') with `truncate: false`, or use "
            "--live --run-id.")
    return run
