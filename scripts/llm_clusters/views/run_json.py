"""print_clusters.py's JSON document: a run's fields, its clusters and their items, with
PostHog's field names and each object's UI link when links were asked for."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from ..posthog.links import LinkBuilder

from ..display import clean
from ..model import Cluster, Item, Run

SCHEMA = "exploring-llm-clusters/print_clusters@1"


def share(size: int, total: int) -> float | None:
    """A cluster's share of the run's clustered items (None for an empty run)."""
    return size / total if total else None


def item_json(item: Item, level: str | None, links: LinkBuilder | None) -> dict:
    fields = {"key": clean(item.key), "rank": item.rank, "distance_to_centroid": item.distance,
              "timestamp": item.timestamp, "trace_id": clean(item.trace_id) or None,
              "generation_id": clean(item.generation_id) or None, "x": item.x, "y": item.y}
    if links:
        fields["url"] = links.item(item, level)
    return fields


def cluster_json(cluster: Cluster, total: int, items: list[Item], run: Run,
                 links: LinkBuilder | None) -> dict:
    url = {"url": links.cluster(run.run_id, cluster.cluster_id)} if links and run.run_id else {}
    return {
        "cluster_id": cluster.cluster_id,
        "is_noise": cluster.is_noise,
        "size": cluster.size,
        "share": share(cluster.size, total),
        "title": clean(cluster.title),
        "description": clean(cluster.description, keep_newlines=True),
        "metrics": cluster.metrics,
        "centroid_x": cluster.centroid_x,
        "centroid_y": cluster.centroid_y,
        "item_count": cluster.item_count,
        "items": [item_json(i, run.level, links) for i in items],
        "items_omitted": cluster.item_count - len(items),
        **url,
    }


def run_fields_json(run: Run, links: LinkBuilder | None = None) -> dict:
    url = {"url": links.run(run.run_id)} if links and run.run_id else {}
    return {
        "run_id": clean(run.run_id) or None, "level": run.level, "job_id": clean(run.job_id) or None,
        "job_name": clean(run.job_name) or None, "window_start": run.window_start,
        "window_end": run.window_end, "total_items_analyzed": run.total_items,
        "params": run.params, "event": run.event, "source": run.source, **url,
    }


def run_json(run: Run, shown: list[Cluster], total: int, notices: dict, others: list[Run],
             cluster_total: int, links: LinkBuilder | None) -> dict:
    """The run view's document: `shown` of its `cluster_total` clusters, then `notices`
    (warnings, notes, findings)."""
    return {
        "schema": SCHEMA,
        "run": run_fields_json(run, links),
        "clusters": [cluster_json(c, total, c.items, run, links) for c in shown],
        "clusters_omitted": cluster_total - len(shown),
        "other_runs": [clean(r.run_id) or None for r in others],
        **notices,
    }
