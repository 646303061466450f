"""What link_builder.py prints: links named by ids given on the command line (the overview,
runs, clusters, traces, generations), and every link into a saved run (the run, its clusters
and their best-ranked items); each as text, Markdown or JSON.

    made = cluster_links(run_id, [1, 2], links)
    print(links_view(made, links, "markdown"))
"""

from __future__ import annotations

from dataclasses import dataclass

from ..display import clean, clusters_phrase, count, markdown_link
from ..errors import UsageError
from ..model import Cluster, Item, Run
from ..posthog.links import LinkBuilder, LinkError
from .render import (
    DEFAULT_BUDGET,
    ID_CHARS,
    RUN_ID_CHARS,
    TITLE_CHARS,
    Page,
    cluster_title,
    item_label,
    json_text,
)
from .run_views import RunViewOptions, find_cluster

SCHEMA = "exploring-llm-clusters/link_builder@1"


@dataclass(frozen=True)
class Link:
    kind: str
    label: str  # cleaned, not yet escaped for markdown
    url: str | None
    ids: dict


# --- links named by ids ---------------------------------------------------------------------

def overview_links(links: LinkBuilder) -> list[Link]:
    return [Link("overview", "LLM clusters overview", links.overview(), {})]


def run_links(run_ids: list[str], links: LinkBuilder) -> list[Link]:
    return [Link("run", f"Run {clean(run_id, RUN_ID_CHARS)}", links.run(run_id), {"run_id": run_id})
            for run_id in run_ids]


def cluster_links(run_id: str, cluster_ids: list[int], links: LinkBuilder) -> list[Link]:
    run_label = clean(run_id, RUN_ID_CHARS)
    return [Link("cluster", f"Cluster {cluster_id} of run {run_label}", links.cluster(run_id, cluster_id),
                 {"run_id": run_id, "cluster_id": cluster_id}) for cluster_id in cluster_ids]


def trace_links(trace_ids: list[str], timestamps: list[str] | None, links: LinkBuilder) -> list[Link]:
    return [Link("trace", f"Trace {clean(trace_id, ID_CHARS)}", links.trace(trace_id, timestamp),
                 {"trace_id": trace_id, "timestamp": timestamp})
            for trace_id, timestamp in zip(trace_ids, _paired(timestamps, len(trace_ids)))]


def generation_links(ids: list[str], timestamps: list[str] | None, links: LinkBuilder) -> list[Link]:
    """Links for TRACE_ID GENERATION_ID pairs, `ids` holding them one after the other."""
    if len(ids) % 2:
        raise UsageError(f"generation takes TRACE_ID GENERATION_ID pairs; got {len(ids)} ids, an "
                         "odd number.")
    pairs = list(zip(ids[::2], ids[1::2]))
    return [Link("generation",
                 f"Generation {clean(generation_id, ID_CHARS)} in trace {clean(trace_id, ID_CHARS)}",
                 links.generation(trace_id, generation_id, timestamp),
                 {"trace_id": trace_id, "generation_id": generation_id, "timestamp": timestamp})
            for (trace_id, generation_id), timestamp in zip(pairs, _paired(timestamps, len(pairs)))]


def _paired(timestamps: list[str] | None, ids: int) -> list[str | None]:
    """--timestamp values paired with the ids in order: none at all, or one per id."""
    given = timestamps or []
    if given and len(given) != ids:
        raise UsageError(f"{len(given)} --timestamp values for {ids} links: give one per link, "
                         "in the same order, or none.")
    return given or [None] * ids


def links_view(made: list[Link], links: LinkBuilder, fmt: str) -> str:
    """The links in the order given: bare URLs in text, clickable in Markdown."""
    notes = _host_notes(links)
    if made[0].kind in ("trace", "generation") and all(link.ids["timestamp"] is None for link in made):
        notes.append("no --timestamp: PostHog finds the trace faster with its timestamp "
                     "(an item's timestamp in print_clusters output)")
    if fmt == "json":
        listed = [{"kind": link.kind, "url": link.url, **link.ids} for link in made]
        return json_text({**_context(links), "link": listed[0], "links": listed, "notes": notes})
    page = Page(fmt)
    if page.is_markdown and len(made) > 1:
        page.bullets(markdown_link(link.label, link.url) for link in made)  # one a line
    else:
        page.lines(markdown_link(link.label, link.url) if page.is_markdown else link.url for link in made)
    page.lines(f"Note: {note}" for note in notes)
    return page.render(budget=None)


def _host_notes(links: LinkBuilder) -> list[str]:
    note = links.host_note()
    return [note] if note else []


def _context(links: LinkBuilder) -> dict:
    return {"schema": SCHEMA, "host": links.host.url, "host_source": links.host.source,
            "route": links.route, "project_id": links.project_id}


# --- every link into a saved run --------------------------------------------------------------

def run_links_view(run: Run, picked: str | None, links: LinkBuilder, options: RunViewOptions) -> str:
    """Links to `run` (chosen by `choose_run`, which says why in `picked`), to its clusters
    (or `options.cluster_id` alone) and to the items read of each."""
    notes = ([picked] if picked else []) + _host_notes(links)
    if options.cluster_id is None:
        clusters = list(run.clusters)  # PostHog's order: by id, noise last
    else:
        clusters = [find_cluster(run, options.cluster_id)]
    shown = clusters if options.max_clusters == 0 else clusters[: options.max_clusters]
    if not run.run_id:
        notes.append("the input holds no run id, so there are no run or cluster links; "
                     "load the run with a query that selects $ai_clustering_run_id")
    if options.fmt == "json":
        return json_text(_run_links_json(run, shown, len(clusters), links, notes))
    page = Page(options.fmt)
    run_name = clean(run.run_id or "(no run id)", options.limit(RUN_ID_CHARS))
    page.heading(f"Links for run {page.escape(run_name)} "
                 f"({run.level or 'unknown'} level, {clusters_phrase(run.clusters)})")
    run_url = links.run(run.run_id) if run.run_id else None
    page.line(markdown_link(f"Run {run_name}", run_url) if page.is_markdown else f"Run: {run_url or '-'}")
    for cluster in shown:
        page.line(_cluster_entry(page, run, cluster, links, options))
    omitted = len(clusters) - len(shown)
    if omitted:
        page.line(f"{omitted} more clusters not listed; see them with --max-clusters 0 or pick "
                  "one with --cluster ID.")
    page.lines(f"Note: {clean(note, 300)}" for note in notes)
    return page.render(budget=options.limit(DEFAULT_BUDGET), narrow="--cluster, --max-clusters or --top")


def _cluster_entry(page: Page, run: Run, cluster: Cluster, links: LinkBuilder,
                   options: RunViewOptions) -> str:
    """A cluster's link, then its items' links, one entry each."""
    url = links.cluster(run.run_id, cluster.cluster_id) if run.run_id else None
    label = f"Cluster {cluster.cluster_id}: {cluster_title(cluster, options.limit(TITLE_CHARS))}"
    lines = [page.link_entry(label, url, suffix=f" ({count(cluster.size)} items)")]
    lines += [page.link_entry(item_label(item, run.level, options.limit(ID_CHARS)),
                              _item_url(links, item, run.level), indent="  ",
                              missing="(no link: the item names no trace)")
              for item in cluster.items]
    return "\n".join(lines)


def _item_url(links: LinkBuilder, item: Item, level: str | None) -> str | None:
    try:
        return links.item(item, level)
    except LinkError:
        return None  # an id with no URL form (a lone surrogate): the rest still gets links


def _run_links_json(run: Run, shown: list[Cluster], total: int, links: LinkBuilder,
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
