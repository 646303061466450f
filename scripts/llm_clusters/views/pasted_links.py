"""A PostHog link pasted by the user, read back (link_builder.py's `parse`): what it names, the
tool call or command that loads it, and the environment that makes every script's links match
its PostHog."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from ..display import (
    UNPRINTABLE,  # what `clean` strips: controls, bidi, zero-width
    clean,
)
from ..environment import HOST_ENV, KEY_ENV, PROJECT_ENV, ROUTE_ENV
from ..posthog.link_options import DEFAULT_ROUTE, ROUTES
from ..posthog.links import LEGACY_TRACE_ROUTE, UNKNOWN_TIME_LOOKBACK_DAYS, ParsedLink, trace_query_arguments
from ..posthog.queries import load_run_sql
from ..run_ids import parse_run_id
from .link_views import SCHEMA
from .render import ID_CHARS, RUN_ID_CHARS, Page, json_text

PRINT_CLUSTERS = "python scripts/print_clusters.py SAVED_FILE"


@dataclass(frozen=True)
class NextStep:
    """What loads what a link names: a tool call (or none) and what to do with its result."""

    summary: str
    tool: str | None = None
    arguments: dict | None = None
    then: str | None = None
    notes: tuple[str, ...] = ()
    live: str | None = None  # the same without the MCP server: print_clusters --live


def next_step(link: ParsedLink) -> NextStep:
    if link.kind == "overview":
        return NextStep("list recent runs with the query in SKILL.md section 1 (\"List recent runs\")")
    if link.kind in ("trace", "generation"):
        return _trace_step(link)
    then = PRINT_CLUSTERS + (f" --cluster {link.cluster_id}" if link.kind == "cluster" else "")
    if UNPRINTABLE.search(link.run_id):
        return NextStep("the run id holds control or invisible characters that a query cannot "
                        "show safely: list the runs around its time with the query in SKILL.md "
                        "section 1, save the full result, and pick the run with "
                        f"`{PRINT_CLUSTERS} --list-runs`", then=then)
    query = load_run_sql(link.run_id, days=UNKNOWN_TIME_LOOKBACK_DAYS)
    live = " ".join([PRINT_CLUSTERS.replace(" SAVED_FILE", " --live"),
                     shlex.quote(f"--run-id={link.run_id}"),
                     *([f"--cluster {link.cluster_id}"] if link.kind == "cluster" else []),
                     f"--host {shlex.quote(link.host)}",
                     *([f"--project-id {link.project_id}"] if link.project_id else [])])
    notes = () if parse_run_id(link.run_id) else (
        f"the run id follows no known format, so the query looks back "
        f"{UNKNOWN_TIME_LOOKBACK_DAYS} days; widen it if the run is older",)
    if "\\" in link.run_id:
        notes += ("the run id holds a backslash; HogQL decodes some backslash sequences in "
                  "string literals loosely, so if the query finds nothing, list the runs around "
                  "its time (SKILL.md section 1) instead",)
    return NextStep("load the run with posthog:execute-sql, passing truncate: false (the "
                    "default truncate: true cuts the clusters), then summarise the saved result",
                    "posthog:execute-sql", {"query": query, "truncate": False}, then, notes, live)


def _trace_step(link: ParsedLink) -> NextStep:
    notes = () if link.timestamp else (
        f"the link has no timestamp, so the date range is the last "
        f"{UNKNOWN_TIME_LOOKBACK_DAYS} days; widen it if the trace is older",)
    if link.kind == "generation":
        notes += ("the generation is the $ai_generation event whose uuid is the link's "
                  "`event` parameter, inside that trace",)
    return NextStep("read the trace with posthog:query-llm-trace", "posthog:query-llm-trace",
                    trace_query_arguments(link.trace_id, link.timestamp), notes=notes)


def _names(link: ParsedLink) -> str:
    run = clean(link.run_id, RUN_ID_CHARS)
    trace = clean(link.trace_id, ID_CHARS)
    return {
        "overview": "the clusters overview",
        "run": f"run {run}",
        "cluster": f"cluster {link.cluster_id} of run {run}",
        "trace": f"trace {trace}",
        "generation": f"generation {clean(link.generation_id, ID_CHARS)} in trace {trace}",
    }[link.kind]


def link_environment(link: ParsedLink) -> dict[str, str]:
    """The variables that make every script's links match the pasted link's PostHog."""
    route = link.route if link.route in ROUTES else DEFAULT_ROUTE  # a legacy route redirects there
    project = {PROJECT_ENV: link.project_id} if link.project_id else {}
    return {HOST_ENV: link.host, **project, ROUTE_ENV: route}


def parse_view(link: ParsedLink, fmt: str) -> str:
    step = next_step(link)
    notes = list(step.notes)
    environment = link_environment(link)
    if link.route == LEGACY_TRACE_ROUTE:
        notes.insert(0, "/llm-observability/ is a legacy route; PostHog redirects it to /llm-analytics/")
    if fmt == "json":
        return json_text({"schema": SCHEMA, "link": link.to_json(), "next": {
            "summary": step.summary, "tool": step.tool, "arguments": step.arguments,
            "then": step.then, "live": step.live}, "environment": environment, "notes": notes})
    page = Page(fmt)
    page.heading(f"The link names {page.escape(_names(link))}")
    fields = [("host", link.host), ("project", link.project_id or "(not project-scoped)"),
              ("route family", link.route), ("run id", link.run_id),
              ("cluster id", link.cluster_id), ("trace id", link.trace_id),
              ("generation id", link.generation_id), ("timestamp", link.timestamp)]
    rows = [f"{name}: {clean(value)}" for name, value in fields if value is not None]
    if page.is_markdown:
        page.bullets(page.escape(row) for row in rows)
    else:
        page.lines(f"  {row}" for row in rows)
    _next_step_lines(page, step)
    page.line("Set once, so every script's links match this PostHog:")
    page.line(page.code("export " + " ".join(f"{name}={shlex.quote(value)}"
                                             for name, value in environment.items()), "sh"))
    page.lines(f"Note: {clean(note, 300)}" for note in notes)
    return page.render(budget=None)


def _next_step_lines(page: Page, step: NextStep) -> None:
    page.line(f"Next: {step.summary}:" if step.tool or step.then else f"Next: {step.summary}.")
    if step.tool == "posthog:execute-sql":
        page.line(page.code(step.arguments["query"], "sql"))
    elif step.tool:
        page.line(page.code(json.dumps(step.arguments, ensure_ascii=True), "json"))
    if step.then:
        page.line(page.code(step.then, "sh"))
    if step.live:
        page.line(f"Or, without the MCP server ({KEY_ENV} set, and --project-id if the link "
                  "has no project):")
        page.line(page.code(step.live, "sh"))
