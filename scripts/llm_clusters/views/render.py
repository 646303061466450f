"""Pages of output shared by the scripts: text for terminals, Markdown for chat, one builder.

Tables are written here in the two layouts the scripts use (tabulate's `simple` for text, its
`pipe` for Markdown, character for character; importing tabulate would cost more start-up time
than a whole small run takes to read), and a page never exceeds its budget: what is cut is
counted and the flag to see it named.
"""

from __future__ import annotations

import json
import math
import re

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import Iterable

    from ..analyse.stats import Estimate

from ..display import UNPRINTABLE, clean, clusters_phrase, count, markdown, markdown_link, number
from ..model import Cluster, Item, Run

OUTPUT_FORMATS = ("text", "markdown", "json")  # every command's --format
# How long untrusted names may be in a view before they are cut (--full shows them whole).
TITLE_CHARS = 80
ID_CHARS = 64
RUN_ID_CHARS = 160
DEFAULT_BUDGET = 25_000  # characters of one page before it is cut


def json_text(document: object) -> str:
    """JSON output: readable non-ASCII text, but any character that could steer a terminal
    (C1 controls, bidi and zero-width marks, which json.dumps leaves raw) written as an
    escape, so untrusted values inside the document stay inert even when printed."""
    text = json.dumps(document, ensure_ascii=False, indent=1)
    return UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class Page:
    """One page of output in text or Markdown: views add to it without asking which (JSON is
    not a page: a view writes its document with `json_text`)."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        self._parts: list[str] = []

    @property
    def is_markdown(self) -> bool:
        return self.fmt == "markdown"

    def escape(self, text: str) -> str:
        """Untrusted text made inert in the page's format (Markdown syntax escaped)."""
        return markdown(text) if self.is_markdown else text

    def link(self, label: str, url: str | None) -> str:
        """A link after its label: clickable in Markdown, plain in text."""
        if self.is_markdown:
            return markdown_link(label.strip().rstrip(":"), url)
        return f"{label} {url}" if url else label

    def link_cell(self, url: str | None) -> str:
        """A table cell for a link: "open", clickable, in Markdown; the URL (or "-") in text."""
        return markdown_link("open", url) if self.is_markdown else url or "-"

    def link_entry(self, label: str, url: str | None, *, suffix: str = "", indent: str = "",
                   missing: str = "-") -> str:
        """A labelled link in a list: one Markdown bullet, or in text the label with the URL
        (or `missing`) indented on the next line."""
        if self.is_markdown:
            return f"{indent}- {markdown_link(label, url)}{suffix}"
        return f"{indent}{label}{suffix}\n{indent}  {url or missing}"

    def code(self, text: str, language: str) -> str:
        """A block of code: fenced in Markdown (the fence longer than any backtick run inside),
        indented in text."""
        if not self.is_markdown:
            return "\n".join("    " + line for line in text.split("\n"))
        longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}{language}\n{text}\n{fence}"

    def heading(self, text: str, level: int = 2) -> None:
        if self.is_markdown:
            self._parts.append(f"{'#' * level} {text}")
        else:
            self._parts.append(f"\n{text}" if self._parts else text)

    def line(self, text: str) -> None:
        self._parts.append(text)

    def lines(self, texts: Iterable[str]) -> None:
        self._parts.extend(texts)

    def block(self, text: str) -> None:
        if self.is_markdown:
            self._parts.append(text)
        else:
            self._parts.append("\n".join("  " + line for line in text.split("\n")))

    def bullets(self, texts: Iterable[str]) -> None:
        prefix = "- " if self.is_markdown else "    "
        lines = [prefix + text for text in texts]
        if lines:
            self._parts.append("\n".join(lines))

    def table(self, headers: list[str], rows: list[list]) -> None:
        if not rows:
            self._parts.append("(none)")
            return
        self._parts.append(format_table(headers, rows, markdown=self.is_markdown))

    def render(self, budget: int | None, narrow: str = "--max-clusters") -> str:
        """The page; past `budget` characters it is cut at a line and says how much was cut,
        how to narrow the output (`narrow`: the command's own flags) and that --full shows all."""
        separator = "\n\n" if self.is_markdown else "\n"
        text = separator.join(self._parts)
        if budget is None or len(text) <= budget:
            return text
        keep = text.rfind("\n", 0, budget - 200)
        keep = keep if keep > 0 else budget - 200
        return (text[:keep] + f"\n[output cut at {keep:,} characters: {len(text) - keep:,} more "
                f"not shown; narrow it with {narrow}, or see all with --full]")


def format_table(headers: list[str], rows: list[list], markdown: bool = False) -> str:
    """Left-aligned columns, each as wide as its widest cell and at least its header plus two:
    a header, a rule, a line per row (`  ` between columns, lines right-stripped); in Markdown a
    pipe table whose rule marks the columns left-aligned. Cells are shown stripped (None as
    empty); widths are in characters."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header) + 2, *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]
    lines = [[text.ljust(width) for text, width in zip(row, widths)] for row in [list(headers), *cells]]
    if markdown:
        rule = "|" + "|".join(":" + "-" * (width + 1) for width in widths) + "|"
        rows_text = ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join([rows_text[0], rule, *rows_text[1:]])
    rule = "  ".join("-" * width for width in widths)
    return "\n".join(["  ".join(lines[0]).rstrip(), rule, *("  ".join(line).rstrip() for line in lines[1:])])


def _cell(value: object) -> str:
    if value is None:
        return ""
    return (format(value, "g") if isinstance(value, float) else str(value)).strip()


def estimate_text(estimate: Estimate | None, show) -> str:
    """A window estimate as "value (low–high)" with `show` formatting each number; the value
    alone when exact."""
    if estimate is None:
        return "-"
    if estimate.exact:
        return show(estimate.value)
    high = "no upper bound" if math.isinf(estimate.high) else show(estimate.high)  # one item: no spread
    return f"{show(estimate.value)} ({show(estimate.low)}–{high})"


def whole(value: float) -> str:
    """An estimated count, rounded to a whole number."""
    return count(round(value))


def describe_params(params: dict | None) -> str | None:
    if not params:
        return None
    parts = []
    method = params.get("clustering_method")
    if method:
        extra = params.get("clustering_method_params") or {}
        details = ", ".join(f"{k}={v}" for k, v in sorted(extra.items())) if isinstance(extra, dict) else ""
        parts.append(f"{method}{f' ({details})' if details else ''}")
    if params.get("embedding_normalization"):
        parts.append(f"normalization {params['embedding_normalization']}")
    reduction = params.get("dimensionality_reduction_method")
    if reduction:
        dims = params.get("dimensionality_reduction_ndims")
        parts.append(f"reduction {reduction}{f' to {dims} dims' if dims and reduction != 'none' else ''}")
    if params.get("visualization_method"):
        parts.append(f"2-D view {params['visualization_method']}")
    return clean("; ".join(parts), 200) or None


def run_header_lines(run: Run, clustered: int, id_limit: int | None) -> list[str]:
    job = clean(run.job_name, 60) or None
    job_id = clean(run.job_id, id_limit) or None
    parts = [f"level {run.level or 'unknown'}"]
    if job or job_id:
        parts.append(f"job {job or '(unnamed)'}{f' ({job_id})' if job_id else ''}")
    if run.window_start or run.window_end:
        parts.append(f"window {clean(run.window_start, 40) or '?'} to "
                     f"{clean(run.window_end, 40) or '?'} (UTC, end exclusive)")
    elif run.parsed_id:
        parts.append(f"window ends {run.parsed_id.window_end.isoformat()} (from the run id)")
    lines = ["; ".join(parts)]
    max_samples = (run.params or {}).get("max_samples")
    coverage = ("Items: " + (f"{count(run.total_items)} analysed" if run.total_items is not None
                             else "number analysed not in the input"))
    if isinstance(max_samples, int):
        coverage += f" (sampling cap max_samples={max_samples:,}"
        if run.total_items is not None and run.total_items >= max_samples:
            coverage += ": the window may hold more"
        coverage += ")"
    coverage += f", {count(clustered)} in {clusters_phrase(run.clusters)}. Shares are shares of this sample."
    lines.append(coverage)
    params = describe_params(run.params)
    if params:
        lines.append(f"Clustering: {params}")
    elif run.parsed_id and run.parsed_id.level is None:
        lines.append("Older run format: no level, job or clustering params recorded "
                     "(such runs were all trace level).")
    return lines


def item_label(item: Item, level: str | None, id_limit: int | None) -> str:
    rank = "-" if item.rank is None else str(item.rank)
    ident = item.generation_id if level == "generation" else (item.trace_id or item.key)
    label = (f"#{rank} d={number(item.distance)} {clean(item.timestamp, 32) or '-'} "
             f"{clean(ident or item.key, id_limit)}")
    if level == "generation" and item.trace_id:
        label += f" (trace {clean(item.trace_id, id_limit)})"
    return label


def cluster_title(cluster: Cluster, limit: int | None) -> str:
    """A cluster's title cut to `limit`, marked when it is the noise cluster."""
    title = clean(cluster.title, limit)
    return f"[noise] {title}" if cluster.is_noise else title
