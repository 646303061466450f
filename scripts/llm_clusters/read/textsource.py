"""Decoded text read piece by piece, so no layer of a result ever has to sit in memory whole.

A persisted tool result nests text inside JSON strings (a content block's `text`, a JSON cell
that holds JSON). `TextSource` is the one interface every layer reads from: a file, a str, or
the decoded content of a JSON string being read from another `TextSource`.
"""

from __future__ import annotations

import codecs
import re
from json.decoder import scanstring  # the C scanner behind json.loads

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator

from ..errors import TruncatedInput, UnreadableInput

CHUNK_CHARS = 1 << 18
TAIL_CHARS = 4096

_NON_SPACE = re.compile(r"\S")
_HIGH_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # pairs are decoded together, so any left is lone


class TextSource:
    """Chunks of text with look-ahead and push-back, read through a cursor so that splitting a
    table into cells copies only the cells.

    `tail` is the last few thousand characters consumed, so that a parse error can be explained
    by what preceded it (a server's truncation notice, a `...truncated` marker).
    """

    def __init__(self, chunks: Iterator[str]):
        self._chunks = chunks
        self._pushed: list[str] = []
        self._buf = ""
        self._pos = 0
        self._before = ""  # the tail of buffers already consumed

    @property
    def tail(self) -> str:
        return (self._before + self._buf[max(0, self._pos - TAIL_CHARS) : self._pos])[-TAIL_CHARS:]

    def _fill(self) -> bool:
        """Make the buffer hold unread text; False at the end."""
        while self._pos >= len(self._buf):
            self._before = self.tail
            if self._pushed:
                self._buf = self._pushed.pop()
            else:
                self._buf = next(self._chunks, "")
                if not self._buf:
                    self._pos = 0
                    return False
            self._pos = 0
        return True

    def read(self) -> str:
        """The next piece of text, or "" at the end."""
        if not self._fill():
            return ""
        piece = self._buf[self._pos :] if self._pos else self._buf
        self._pos = len(self._buf)
        return piece

    def unread(self, text: str) -> None:
        """Give back text that was read but belongs to whoever reads next."""
        if text:
            if self._pos < len(self._buf):
                self._pushed.append(self._buf[self._pos :])
            self._pushed.append(text)
            self._buf, self._pos = "", 0

    def peek(self, n: int) -> str:
        """Up to `n` characters ahead, without consuming them."""
        if self._fill() and len(self._buf) - self._pos >= n:
            return self._buf[self._pos : self._pos + n]
        got: list[str] = []
        size = 0
        while size < n:
            piece = self.read()
            if not piece:
                break
            got.append(piece)
            size += len(piece)
        text = "".join(got)
        self.unread(text)
        return text[:n]

    def take_until(self, pattern: re.Pattern) -> tuple[str, str]:
        """Consume text up to the first match of `pattern` (which must not span chunks) and the
        match itself; return both, the match being "" at the end of the text."""
        parts: list[str] = []
        while self._fill():
            match = pattern.search(self._buf, self._pos)
            if match:
                parts.append(self._buf[self._pos : match.start()])
                self._pos = match.end()
                return "".join(parts), match.group()
            parts.append(self._buf[self._pos :])
            self._pos = len(self._buf)
        return "".join(parts), ""

    def skip_whitespace(self) -> str:
        """Skip white space; return the next character (not consumed), or "" at the end."""
        while self._fill():
            match = _NON_SPACE.search(self._buf, self._pos)
            if match:
                self._pos = match.start()
                return match.group()
            self._pos = len(self._buf)
        return ""

    def consume(self, n: int) -> None:
        while n > 0 and self._fill():
            step = min(n, len(self._buf) - self._pos)
            self._pos += step
            n -= step

    def drain(self) -> None:
        """Consume everything left (for a nested layer, up to the end of its JSON string)."""
        while self.read():
            pass

    def read_until(self, marker: str, limit: int) -> str | None:
        """Consume and return the text up to and including `marker`, or None (nothing consumed)
        when it does not appear within `limit` characters."""
        ahead = self.peek(limit + len(marker))
        at = ahead.find(marker)
        if at < 0:
            return None
        self.consume(at + len(marker))
        return ahead[: at + len(marker)]


def text_from_str(text: str) -> TextSource:
    return TextSource(text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS))


def text_from_binary(stream: BinaryIO, name: str) -> TextSource:
    """Decode UTF-8 incrementally, dropping a byte-order mark."""

    def chunks() -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")()
        first = True
        while True:
            raw = stream.read(CHUNK_CHARS)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                raise UnreadableInput(
                    f"{name} is not UTF-8 text (bad byte at offset {exc.start} of a chunk). "
                    "Expected a saved tool result: JSON or the text execute-sql prints. "
                    "Pass the file the coding agent saved, not a compressed or binary file."
                ) from None
            if first and text:
                text = text.removeprefix("\ufeff")
                first = False
            if text:
                yield text
            if not raw:
                return

    return TextSource(chunks())


def escape_safe_cut(body: str) -> int:
    """A cut point near the end of `body` (raw JSON string content) that splits no `\\uXXXX`
    escape and no surrogate pair, so each side decodes on its own.

    The start of a run of backslashes is always between two escapes, so cutting before the
    earliest run among the last few characters is safe; cutting early costs nothing.
    """
    window_start = max(0, len(body) - 24)
    first = body.find("\\", window_start)
    if first < 0:
        return len(body)
    while first > 0 and body[first - 1] == "\\":
        first -= 1
    # The escape just before may be the first half of a surrogate pair (`\ud83d\ude00`, how
    # ensure_ascii writes an emoji): decoded apart, the halves become two lone surrogates.
    high = first - 6
    if high >= 0 and _HIGH_SURROGATE.match(body, high):
        start = high
        while start > 0 and body[start - 1] == "\\":
            start -= 1
        if (high - start) % 2 == 0:  # that backslash begins an escape, not ends a `\\`
            return high
    return first


def json_string_source(source: TextSource, what: str) -> TextSource:
    """The decoded content of the JSON string whose opening quote `source` has just consumed.

    Decoding goes through the json module's C string scanner one chunk at a time, so it runs
    at C speed and never holds the whole string. Text past the closing quote is given back.
    """

    def chunks() -> Iterator[str]:
        carry = ""
        while True:
            piece = source.read()
            if not piece and not carry:
                raise TruncatedInput(
                    f"{what} stops in the middle of a JSON string: the file was cut before its "
                    "end. Save the tool result again, or rerun the query with a narrower "
                    "selection so the result is smaller."
                )
            buffer = carry + piece
            # Cut where no escape is split and close the piece with a quote of our own: the
            # scanner then stops at the string's real closing quote if this piece holds it.
            cut = escape_safe_cut(buffer) if piece else len(buffer)
            try:
                decoded, end = scanstring(buffer[:cut] + '"', 0, False)
            except ValueError as exc:
                if not piece:  # the text ended inside an escape: `\` or `\u12`
                    raise TruncatedInput(
                        f"{what} stops in the middle of a JSON string escape: the file was cut "
                        "before its end. Save the tool result again."
                    ) from None
                raise UnreadableInput(
                    f"{what} holds a JSON string with an invalid escape ({exc}). "
                    "Expected the file exactly as the coding agent saved it."
                ) from None
            if decoded:
                # A lone `\\ud83d` escape is valid JSON but not text: no later layer could
                # parse, print or encode it.
                if not decoded.isascii() and _LONE_SURROGATE.search(decoded):
                    decoded = _LONE_SURROGATE.sub("\ufffd", decoded)
                yield decoded
            if end <= cut:
                source.unread(buffer[end:])
                return
            if not piece:
                carry = ""
                continue
            carry = buffer[cut:]

    return TextSource(chunks())


# A JSON string holding a clusters array or an event's properties: the one big value of a HogQL
# response (JSONExtractRaw answers a string), spliced into the stream as the JSON it holds.
_EMBEDDED_STARTS = ('"[{\\"', '"{\\"$ai_')
_CLUSTER_KEYS = ("cluster_id", "size", "title", "description", "traces", "centroid", "metrics")
_MARKER_CHARS = 32  # held back at a piece's end, so a marker is never split


def _embedded_json_at(text: str, before: str, stop: int) -> int:
    """Index of the first opening quote before `stop` of a string holding a clusters array or
    properties; -1. `before` is the character preceding `text` (an escaped quote is inside a
    string, so it opens nothing)."""
    found = -1
    for needle in _EMBEDDED_STARTS:
        at = text.find(needle, 0, stop + len(needle))
        while 0 <= at < stop and (found < 0 or at < found):
            escaped = (text[at - 1] if at else before) == "\\"
            holds_clusters = needle.startswith('"{') or any(
                text.startswith(key + '\\"', at + len(needle)) for key in _CLUSTER_KEYS)
            if not escaped and holds_clusters:
                found = at
                break
            at = text.find(needle, at + 1, stop + len(needle))
    return found


def splice_embedded_json(source: TextSource, what: str) -> TextSource:
    """`source` (JSON text) with each JSON string that holds a clusters array or event
    properties replaced by the JSON it holds, decoded chunk by chunk.

    The result is valid JSON with the same meaning to the reader (which parses such strings
    anyway), and ijson streams the clusters instead of buffering one string of many megabytes,
    which it re-scans on every read.
    """

    def chunks() -> Iterator[str]:
        before, carry = "", ""
        while True:
            piece = source.read()
            text = carry + piece
            if not text:
                return
            stop = len(text) - _MARKER_CHARS if piece else len(text)
            at = _embedded_json_at(text, before, stop)
            if at < 0:
                out, carry = text[: max(stop, 0)], text[max(stop, 0) :]
                if out:
                    before = out[-1]
                    yield out
                continue
            if at:
                yield text[:at]
            source.unread(text[at + 1 :])
            inner = json_string_source(source, f"the JSON string in {what}")
            if text.startswith('"{', at):  # properties may hold the clusters as a string again
                inner = splice_embedded_json(inner, what)
            while chunk := inner.read():
                yield chunk
            before, carry = "}", ""

    return TextSource(chunks())
