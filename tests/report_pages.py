"""Saved inputs for the report tests: a run whose titles, descriptions and ids are hostile
markup, and large seeded runs; plus the checks every generated page must pass."""

from __future__ import annotations

import html.parser
import re
from pathlib import Path

from payloads import content_blocks, execute_sql, make_cluster, make_properties, run_id_for

# Each would change the document's title, or set window.pwned, if the page ran it.
HOSTILE = (
    "<script>document.title='PWNED';window.pwned=1</script>",
    "<img src=x onerror=\"document.title='PWNED'\">",
    "</svg><script>document.title='PWNED'</script><svg>",
    "javascript:document.title='PWNED'",
    "\"><svg onload=\"window.pwned=1\">",
    "</title></style><script>window.pwned=1</script>",
)
HOSTILE_RUN_ID = run_id_for("trace", label="</title><script>window.pwned=1</script>")


def hostile_run_file(folder: Path) -> Path:
    """A saved run (execute-sql's text in content blocks) whose every untrusted field is hostile."""
    clusters = []
    for number, payload in enumerate(HOSTILE):
        cluster = make_cluster(number, 6, title=payload, description=f"{payload}\n- {payload}")
        key = f"{number}\"><img src=x onerror=window.pwned=1>"
        first = next(iter(cluster["traces"]))
        cluster["traces"][key] = {**cluster["traces"].pop(first), "trace_id": key}
        clusters.append(cluster)
    clusters.append(make_cluster(-1, 4, title=HOSTILE[0]))
    path = folder / "hostile.txt"
    path.write_text(content_blocks(execute_sql([make_properties(clusters, run_id=HOSTILE_RUN_ID)])),
                    encoding="utf-8")
    return path


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "section", "h1", "h2", "h3", "p",
                "a", "span", "ul", "li", "div", "table", "thead", "tbody", "tr", "th", "td", "br", "code",
                "svg", "g", "circle", "rect", "path", "text", "details", "summary"}


class Structure(html.parser.HTMLParser):
    """Every tag, attribute and link of a page, and its document title, as an HTML parser sees
    them."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.hrefs: list[str] = []
        self.title = ""
        self._in_title = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        self.hrefs += [value or "" for name, value in attrs if name in ("href", "xlink:href", "src")]
        self._in_title = tag == "title" and "body" not in self.tags  # not an SVG tooltip

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def check_self_contained(page: str) -> Structure:
    """The page's markup holds no script, no loader of anything, no event handler, and only
    links to PostHog over http(s)."""
    structure = Structure(page)
    assert set(structure.tags) <= ALLOWED_TAGS, set(structure.tags) - ALLOWED_TAGS
    assert not [name for name, _ in structure.attributes if name.startswith("on")]
    assert not [name for name, _ in structure.attributes if name in ("src", "srcset", "style", "action")]
    assert all(re.match(r"https?://", href) for href in structure.hrefs), structure.hrefs
    assert not re.search(r"url\(|@import", page.split("<style>", 1)[1].split("</style>", 1)[0])
    return structure
