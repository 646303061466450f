"""Untrusted text and links made safe for the HTML page and its SVG: every text placed in the
page goes through `text` (cleaned, escaped), every link through `link`/`safe_url`."""

from __future__ import annotations

import html

from ..display import clean


def text(value: object, limit: int | None = None, *, keep_newlines: bool = False) -> str:
    """Untrusted text as HTML/SVG character data or attribute value."""
    return html.escape(clean(value, limit, keep_newlines=keep_newlines), quote=True)


def short(value: object, limit: int) -> str:
    """Untrusted text cut to `limit` characters with a bare ellipsis, for labels inside a chart
    (the legend and the tables beside it give the longer form). Not escaped."""
    cleaned = clean(value)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def safe_url(url: str | None) -> str | None:
    """Only the http(s) links the link builder makes, escaped for an attribute."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    return html.escape(url, quote=True)


def link(label: str, url: str | None) -> str:
    """`label` (already escaped) as a link when `url` is a safe PostHog link."""
    href = safe_url(url)
    return f'<a href="{href}" rel="noopener noreferrer">{label}</a>' if href else label


def colour_class(colour: int | None) -> str:
    """The CSS class of a palette index (`k0`…); noise has `noise`, no index."""
    return "noise" if colour is None else f"k{colour}"
