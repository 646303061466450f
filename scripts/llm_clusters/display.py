"""Untrusted text made safe to show, and numbers made short.

Titles, descriptions and ids come from users' LLM traffic (and from an LLM that labelled it):
they may hold terminal escape sequences, bidi overrides, control characters or megabytes of
text. Everything the scripts print passes through `clean`.
"""

from __future__ import annotations

import math
import re

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import Iterable

# ANSI/VT escape sequences (CSI, OSC, two-character), C0/C1 controls, zero-width and bidi marks.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]")
UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f"  # controls but tab and newline
                         r"\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")  # invisible, bidi
_SPACES = re.compile(r"[ \t\n]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])|^(#)")
ELLIPSIS = "…"


def clean(value: object, limit: int | None = None, *, keep_newlines: bool = False) -> str:
    """`value` as safe one-line text (or multi-line with `keep_newlines`), cut to `limit`
    characters with a marker saying how much was cut."""
    if value is None:
        return ""
    text = _ESCAPES.sub("", str(value))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = UNPRINTABLE.sub("", text)
    if keep_newlines:
        text = "\n".join(_SPACES.sub(" ", line).rstrip() for line in text.split("\n")).strip("\n")
    else:
        text = _SPACES.sub(" ", text).strip()
    return cut(text, limit)


def cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    marker = f"{ELLIPSIS}[+{len(text) - limit + 1} chars]"
    return text[: max(0, limit - 1)] + marker


def markdown(text: str) -> str:
    """Escape Markdown syntax so untrusted text cannot make links, tables or HTML."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)


def markdown_link(label: str, url: str | None) -> str:
    """A clickable Markdown link for untrusted `label` text (cleaned by the caller, escaped
    here); the parentheses encodeURIComponent leaves in a URL are percent-encoded so they cannot
    end the link early (the UI decodes them back). Without a URL, the escaped label alone."""
    if url is None:
        return markdown(label)
    return f"[{markdown(label)}]({url.replace('(', '%28').replace(')', '%29')})"


def money(value: float | None) -> str:
    """Dollars to the cent; below a cent, two significant digits (an LLM call can cost $0.00042).
    Every view shows money through this one rule."""
    if value is None:
        return "-"
    if value == 0:
        return "$0"
    sign = "-" if value < 0 else ""
    if abs(value) < 0.01:
        decimals = 1 - math.floor(math.log10(abs(value)))  # two significant digits, never an exponent
        small = f"{abs(value):.{decimals}f}"
        if float(small) < 0.01:  # not rounded up to a cent
            return f"{sign}${small}"
    return f"{sign}${abs(value):,.2f}"


def clusters_phrase(clusters: Iterable) -> str:
    """The one way every view counts clusters: "7 clusters + noise" (noise, cluster -1, is not a
    topic, so it is never counted as a cluster, and it is always said when the run has one)."""
    regular = noise = 0
    for cluster in clusters:
        noise += cluster.is_noise
        regular += not cluster.is_noise
    return f"{regular:,} cluster{'' if regular == 1 else 's'}" + (" + noise" if noise else "")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} s" if value < 100 else f"{value:,.0f} s"


def percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.{digits}f}%"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"
