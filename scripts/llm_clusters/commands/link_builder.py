"""link_builder.py: links into PostHog's UI for a run, a cluster, a trace or a generation, a
run file's worth of them at once, and the way back from a pasted link to the query that loads
what it names."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from dataclasses import dataclass

from ..cli import ArgumentParser, whole_number
from ..environment import HOST_ENV, KEY_ENV, PROJECT_ENV, ROUTE_ENV, Environment
from ..errors import ClusterToolError, ExitStatus
from ..link_options import DEFAULT_ROUTE, ROUTES, add_link_options, builder_from_args
from ..links import (
    LEGACY_TRACE_ROUTE,
    UNKNOWN_TIME_LOOKBACK_DAYS,
    LinkBuilder,
    LinkError,
    ParsedLink,
    check_timestamp,
    parse_link,
    trace_query_arguments,
)
from ..model import Cluster, ItemPolicy, Run
from ..queries import load_run_sql
from ..reader import choose_run, read_runs
from ..render import OUTPUT_FORMATS, Page, item_label, json_text
from ..run_ids import parse_run_id
from ..text import (
    UNPRINTABLE,  # what `clean` strips: controls, bidi, zero-width
    clean,
    clusters_phrase,
    count,
    markdown,
    markdown_link,
)

SCHEMA = "exploring-llm-clusters/link_builder@1"
ID_CHARS = 64
RUN_ID_CHARS = 160
TITLE_CHARS = 80
MAX_CLUSTERS = 30
DEFAULT_BUDGET = 25_000
PRINT_CLUSTERS = "python scripts/print_clusters.py SAVED_FILE"

DESCRIPTION = """\
Links into PostHog's UI that a user can click to check what the agent says: the clusters
overview, a run, a cluster, a trace, a generation inside its trace, or all of a saved run's
(`from-run`). `parse URL` reads a pasted link back: what it names and the query or command
that loads it.

Links are written as PostHog's UI writes them (run ids with encodeURIComponent, query strings
with URLSearchParams), for US cloud, EU cloud or a self-hosted PostHog (--host, else env
POSTHOG_HOST, else us), under /llm-analytics/ (default) or /ai-observability/ (--route), and
project-scoped with --project-id (else env POSTHOG_PROJECT_ID); the route family comes from
--route, else env POSTHOG_ROUTE. Set the three variables once and no call needs the flags.
Several ids give several links, one a line, in the order given:
  link_builder.py cluster RUN_ID 1 2 3
  link_builder.py trace ID ID --timestamp TS --timestamp TS     (timestamps paired with ids)
Flags go after the subcommand:
  link_builder.py cluster RUN_ID 3 --host eu --format markdown"""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="link_builder.py", description=DESCRIPTION)
    output = ArgumentParser(add_help=False)
    output.add_argument("--format", choices=OUTPUT_FORMATS, default="text",
                        help="output format (default text: the bare link); markdown writes "
                        "clickable [label](link); json has a `schema` field")
    links = ArgumentParser(add_help=False, parents=[output])
    add_link_options(links)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, parents=(links,)) -> ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary, parents=list(parents))

    command("overview", "the clusters overview page")
    run = command("run", "runs' pages, one link per run id")
    run.add_argument("run_id", metavar="RUN_ID", nargs="+", help="run ids ($ai_clustering_run_id)")
    cluster = command("cluster", "clusters' pages in one run, one link per cluster id")
    cluster.add_argument("run_id", metavar="RUN_ID", help="the run id ($ai_clustering_run_id)")
    cluster.add_argument("cluster_id", metavar="CLUSTER_ID", type=_cluster_id, nargs="+",
                         help="cluster ids (-1 is the noise cluster)")
    trace = command("trace", "traces' pages, one link per trace id")
    trace.add_argument("trace_id", metavar="TRACE_ID", nargs="+")
    trace.add_argument("--timestamp", metavar="TS", type=_timestamp, action="append",
                       help="the trace's timestamp (ISO 8601), which makes the page load fast; "
                       "repeat it once per id, in the same order")
    generation = command("generation", "generations (by event uuid) inside their traces: "
                         "TRACE_ID GENERATION_ID pairs")
    generation.add_argument("ids", metavar="TRACE_ID GENERATION_ID", nargs="+",
                            help="a trace id then a generation id, repeated for more links")
    generation.add_argument("--timestamp", metavar="TS", type=_timestamp, action="append",
                            help="the generation's or trace's timestamp (ISO 8601); repeat it "
                            "once per pair, in the same order")
    parse = command("parse", "read a pasted PostHog link: what it names and what loads it",
                    parents=(output,))
    parse.add_argument("url", metavar="URL")
    from_run = command("from-run", "links to a saved run, each of its clusters and their "
                       "best-ranked items")
    from_run.add_argument("file", help="the saved result file (any shape print_clusters.py "
                          "reads), or - for standard input")
    from_run.add_argument("--run-id", help="which run when the file holds several (default: the newest)")
    from_run.add_argument("--cluster", type=_cluster_id, metavar="ID", help="only this cluster")
    from_run.add_argument("--top", type=whole_number, default=3, metavar="N",
                          help="item links per cluster, best rank first (default 3, 0 for none)")
    from_run.add_argument("--max-clusters", type=whole_number, default=MAX_CLUSTERS, metavar="N",
                          help=f"clusters listed (default {MAX_CLUSTERS}, 0 for all)")
    from_run.add_argument("--full", action="store_true",
                          help="do not cut long titles or ids, nor the output size")
    return parser


def _cluster_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number such as 3 or -1, got {value!r}") from None


def _timestamp(value: str) -> str:
    try:
        return check_timestamp(value)
    except LinkError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def main(argv: list[str], environment: Environment) -> int:
    args = build_parser().parse_in(argv, environment)
    if args.command == "parse":
        view = parse_view(parse_link(args.url), args.format)
    elif args.command == "from-run":
        view = from_run_view(args, builder_from_args(args, environment.variables), environment.stdin)
    else:
        view = single_view(args, builder_from_args(args, environment.variables))
    environment.stdout.write(view + "\n")
    return ExitStatus.OK


# --- one link -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Link:
    kind: str
    label: str  # cleaned, not yet escaped for markdown
    url: str | None
    ids: dict


def single_links(args: argparse.Namespace, links: LinkBuilder) -> list[Link]:
    """One link per id given, in the order given."""
    if args.command == "overview":
        return [Link("overview", "LLM clusters overview", links.overview(), {})]
    if args.command == "run":
        return [Link("run", f"Run {clean(run_id, RUN_ID_CHARS)}", links.run(run_id), {"run_id": run_id})
                for run_id in args.run_id]
    if args.command == "cluster":
        run_label = clean(args.run_id, RUN_ID_CHARS)
        return [Link("cluster", f"Cluster {cluster_id} of run {run_label}", links.cluster(args.run_id, cluster_id),
                     {"run_id": args.run_id, "cluster_id": cluster_id}) for cluster_id in args.cluster_id]
    if args.command == "trace":
        return [Link("trace", f"Trace {clean(trace_id, ID_CHARS)}", links.trace(trace_id, timestamp),
                     {"trace_id": trace_id, "timestamp": timestamp})
                for trace_id, timestamp in zip(args.trace_id, _timestamps(args, len(args.trace_id)))]
    if len(args.ids) % 2:
        raise ClusterToolError(f"generation takes TRACE_ID GENERATION_ID pairs; got {len(args.ids)} "
                               "ids, an odd number.", ExitStatus.USAGE)
    pairs = list(zip(args.ids[::2], args.ids[1::2]))
    return [Link("generation", f"Generation {clean(generation_id, ID_CHARS)} in trace {clean(trace_id, ID_CHARS)}",
                 links.generation(trace_id, generation_id, timestamp),
                 {"trace_id": trace_id, "generation_id": generation_id, "timestamp": timestamp})
            for (trace_id, generation_id), timestamp in zip(pairs, _timestamps(args, len(pairs)))]


def _timestamps(args: argparse.Namespace, ids: int) -> list[str | None]:
    """--timestamp values paired with the ids in order: none at all, or one per id."""
    given = args.timestamp or []
    if given and len(given) != ids:
        raise ClusterToolError(f"{len(given)} --timestamp values for {ids} links: give one per "
                               "link, in the same order, or none.", ExitStatus.USAGE)
    return given or [None] * ids


def single_view(args: argparse.Namespace, links: LinkBuilder) -> str:
    made = single_links(args, links)
    notes = _host_notes(links)
    if made[0].kind in ("trace", "generation") and not args.timestamp:
        notes.append("no --timestamp: PostHog finds the trace faster with its timestamp "
                     "(an item's timestamp in print_clusters output)")
    if args.format == "json":
        listed = [{"kind": link.kind, "url": link.url, **link.ids} for link in made]
        return _json({**_context(links), "link": listed[0], "links": listed, "notes": notes})
    page = Page(args.format)
    if args.format == "markdown" and len(made) > 1:
        page.bullets(markdown_link(link.label, link.url) for link in made)  # one a line
    else:
        page.lines(markdown_link(link.label, link.url) if args.format == "markdown" else link.url
                   for link in made)
    page.lines(f"Note: {note}" for note in notes)
    return page.render(budget=None)


def _host_notes(links: LinkBuilder) -> list[str]:
    note = links.host_note()
    return [note] if note else []


def _context(links: LinkBuilder) -> dict:
    return {"schema": SCHEMA, "host": links.host.url, "host_source": links.host.source,
            "route": links.route, "project_id": links.project_id}


def _json(document: dict) -> str:
    # ASCII-only JSON keeps ids exact yet shows no control or bidi character to a terminal.
    return json_text(document)


# --- from-run -------------------------------------------------------------------------------

def from_run_view(args: argparse.Namespace, links: LinkBuilder, stdin) -> str:
    policy = (ItemPolicy(default=0, per_cluster=((args.cluster, args.top),))
              if args.cluster is not None else ItemPolicy(default=args.top))
    result = read_runs(args.file, policy, stdin)
    run, picked = choose_run(result, args.run_id)
    notes = ([picked] if picked else []) + _host_notes(links)
    clusters = _chosen_clusters(run, args)
    shown = clusters if args.max_clusters == 0 else clusters[: args.max_clusters]
    if not run.run_id:
        notes.append("the input holds no run id, so there are no run or cluster links; "
                     "load the run with a query that selects $ai_clustering_run_id")
    if args.format == "json":
        return _json(_from_run_json(run, shown, len(clusters), links, notes))
    id_limit = None if args.full else ID_CHARS
    title_limit = None if args.full else TITLE_CHARS
    markdown_out = args.format == "markdown"
    page = Page(args.format)
    run_name = clean(run.run_id or "(no run id)", None if args.full else RUN_ID_CHARS)
    page.heading(f"Links for run {markdown(run_name) if markdown_out else run_name} "
                 f"({run.level or 'unknown'} level, {clusters_phrase(run.clusters)})")
    run_url = links.run(run.run_id) if run.run_id else None
    page.line(markdown_link(f"Run {run_name}", run_url) if markdown_out else f"Run: {run_url or '-'}")
    for cluster in shown:
        page.line(_cluster_lines(run, cluster, links, markdown_out, id_limit, title_limit))
    omitted = len(clusters) - len(shown)
    if omitted:
        page.line(f"{omitted} more clusters not listed; see them with --max-clusters 0 or pick "
                  "one with --cluster ID.")
    page.lines(f"Note: {clean(note, 300)}" for note in notes)
    return page.render(budget=None if args.full else DEFAULT_BUDGET,
                       narrow="--cluster, --max-clusters or --top")


def _chosen_clusters(run: Run, args: argparse.Namespace) -> list[Cluster]:
    if args.cluster is None:
        return list(run.clusters)  # PostHog's order: by id, noise last
    matching = [c for c in run.clusters if c.cluster_id == args.cluster]
    if not matching:
        ids = ", ".join(str(c.cluster_id) for c in run.clusters)
        raise ClusterToolError(f"run {clean(run.run_id)!r} has no cluster {args.cluster}; its "
                               f"clusters are: {ids}. Pass one of those to --cluster.",
                               ExitStatus.NO_CLUSTERS)
    return matching


def _cluster_title(cluster: Cluster, limit: int | None) -> str:
    title = clean(cluster.title, limit)
    return f"[noise] {title}" if cluster.is_noise else title


def _cluster_lines(run: Run, cluster: Cluster, links: LinkBuilder, markdown_out: bool,
                   id_limit: int | None, title_limit: int | None) -> str:
    url = links.cluster(run.run_id, cluster.cluster_id) if run.run_id else None
    label = f"Cluster {cluster.cluster_id}: {_cluster_title(cluster, title_limit)}"
    size = f"({count(cluster.size)} items)"
    if markdown_out:
        lines = [f"- {markdown_link(label, url)} {size}"]
    else:
        lines = [f"{label} {size}", f"  {url or '-'}"]
    for item in cluster.items:
        item_url = _item_url(links, item, run.level)
        text = item_label(item, run.level, id_limit)
        if markdown_out:
            lines.append(f"  - {markdown_link(text, item_url)}")
        else:
            lines += [f"  {text}", f"    {item_url or '(no link: the item names no trace)'}"]
    return "\n".join(lines)


def _item_url(links: LinkBuilder, item, level: str | None) -> str | None:
    try:
        return links.item(item, level)
    except LinkError:
        return None  # an id with no URL form (a lone surrogate): the rest still gets links


def _from_run_json(run: Run, shown: list[Cluster], total: int, links: LinkBuilder,
                   notes: list[str]) -> dict:
    return {
        **_context(links),
        "run": {"run_id": run.run_id, "level": run.level,
                "url": links.run(run.run_id) if run.run_id else None},
        "clusters": [{
            "cluster_id": c.cluster_id, "is_noise": c.is_noise, "size": c.size,
            "title": clean(c.title),
            "url": links.cluster(run.run_id, c.cluster_id) if run.run_id else None,
            "items": [{"key": i.key, "rank": i.rank, "trace_id": i.trace_id,
                       "generation_id": i.generation_id, "timestamp": i.timestamp,
                       "url": _item_url(links, i, run.level)} for i in c.items],
            "items_omitted": c.item_count - len(c.items),
        } for c in shown],
        "clusters_omitted": total - len(shown),
        "notes": [clean(n) for n in notes],
    }


# --- parse ----------------------------------------------------------------------------------

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
        notes = () if link.timestamp else (
            f"the link has no timestamp, so the date range is the last "
            f"{UNKNOWN_TIME_LOOKBACK_DAYS} days; widen it if the trace is older",)
        if link.kind == "generation":
            notes += ("the generation is the $ai_generation event whose uuid is the link's "
                      "`event` parameter, inside that trace",)
        return NextStep("read the trace with posthog:query-llm-trace", "posthog:query-llm-trace",
                        trace_query_arguments(link.trace_id, link.timestamp), notes=notes)
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
    return {HOST_ENV: link.host, **({PROJECT_ENV: link.project_id} if link.project_id else {}), ROUTE_ENV: route}


def parse_view(link: ParsedLink, fmt: str) -> str:
    step = next_step(link)
    notes = list(step.notes)
    environment = link_environment(link)
    if link.route == LEGACY_TRACE_ROUTE:
        notes.insert(0, "/llm-observability/ is a legacy route; PostHog redirects it to /llm-analytics/")
    if fmt == "json":
        return _json({"schema": SCHEMA, "link": link.to_json(), "next": {
            "summary": step.summary, "tool": step.tool, "arguments": step.arguments,
            "then": step.then, "live": step.live}, "environment": environment, "notes": notes})
    page = Page(fmt)
    markdown_out = fmt == "markdown"
    names = _names(link)
    page.heading(f"The link names {markdown(names) if markdown_out else names}")
    fields = [("host", link.host), ("project", link.project_id or "(not project-scoped)"),
              ("route family", link.route), ("run id", link.run_id),
              ("cluster id", link.cluster_id), ("trace id", link.trace_id),
              ("generation id", link.generation_id), ("timestamp", link.timestamp)]
    rows = [f"{name}: {clean(value)}" for name, value in fields if value is not None]
    page.bullets(markdown(row) for row in rows) if markdown_out else page.lines(f"  {row}" for row in rows)
    page.line(f"Next: {step.summary}:" if step.tool or step.then else f"Next: {step.summary}.")
    if step.tool == "posthog:execute-sql":
        page.line(_code(step.arguments["query"], "sql", markdown_out))
    elif step.tool:
        page.line(_code(json.dumps(step.arguments, ensure_ascii=True), "json", markdown_out))
    if step.then:
        page.line(_code(step.then, "sh", markdown_out))
    if step.live:
        page.line(f"Or, without the MCP server ({KEY_ENV} set, and --project-id if the link "
                  "has no project):")
        page.line(_code(step.live, "sh", markdown_out))
    page.line("Set once, so every script's links match this PostHog:")
    page.line(_code("export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in environment.items()),
                    "sh", markdown_out))
    page.lines(f"Note: {clean(note, 300)}" for note in notes)
    return page.render(budget=None)


def _code(text: str, language: str, markdown_out: bool) -> str:
    if not markdown_out:
        return "\n".join("    " + line for line in text.split("\n"))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"
