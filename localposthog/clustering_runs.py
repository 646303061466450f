"""PostHog's clustering runs over the traffic, simulated, and the jobs that schedule them.

Daily runs look back 7 days, sample at most `max_samples` items, and group items by topic the way
an embedding clusterer would, with a noise cluster for outliers; an oldest-format run and a manual
k-means run complete the set. Each run yields its `$ai_*_clusters` event properties and its ground
truth. The drift planted in the traffic shows across the daily runs: the refunds cluster grows,
invoice extraction appears, legacy search vanishes, and coding help splits in two.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from localposthog.aggregates import cluster_metrics, item_metrics
from localposthog.traffic import (
    FIRST_DAY,
    TEAM_ID,
    TOPIC_BY_KEY,
    Traffic,
    TrafficItem,
    deterministic_uuid,
)

LOOKBACK = timedelta(days=7)
DAILY_RUN_DAYS = (6, 7, 8, 9, 10)  # window ends at 00:00 of these days (day 0 = FIRST_DAY)
OLDEST_RUN_DAY = 4
SPLIT_FROM_DAY = 8  # runs whose window ends on or after this day see coding help as two clusters
MIN_CLUSTER_SIZE = 5
NOISE_SHARE = 0.06
CENTROID_DIMS = 100
NOISE_TITLE = "Outliers"
NOISE_DESCRIPTION = "Items that did not fit into any cluster"


@dataclass(frozen=True)
class RunSpec:
    """What one clustering run looks at and how it clusters and reports it."""

    level: str
    window_start: datetime
    window_end: datetime
    run_id: str
    job_id: str
    job_name: str
    max_samples: int | None
    method: str  # hdbscan | kmeans
    oldest_format: bool = False
    with_metrics: bool = True
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def distinct_id(self) -> str:
        """The distinct id PostHog's clustering workflow sends the run's event with."""
        return f"trace_clustering_{TEAM_ID}" if self.oldest_format else f"clustering_{self.level}_{TEAM_ID}"


def cluster_key(item: TrafficItem, window_end: datetime) -> str:
    """The cluster a run whose window ends at `window_end` puts a non-outlier item in."""
    split = window_end >= FIRST_DAY + timedelta(days=SPLIT_FROM_DAY)
    return item.subtopic if (split and item.subtopic) else item.topic


def _cluster_title(key: str) -> tuple[str, str]:
    if "/" in key:
        parent = TOPIC_BY_KEY[key.split("/")[0]]
        _, title, _ = next(s for s in parent.subtopics if s[0] == key)
        return title, f"- {title} requests\n- Split out of '{parent.title}'"
    topic = TOPIC_BY_KEY[key]
    return topic.title, "\n".join(f"- {b}" for b in topic.bullets)


def _cluster_center(key: str) -> tuple[float, float]:
    if "/" in key:
        return next(s[2] for s in TOPIC_BY_KEY[key.split("/")[0]].subtopics if s[0] == key)
    return TOPIC_BY_KEY[key].center


def _centroid(seed: int, key: str, rng: random.Random) -> list[float]:
    base = random.Random(f"{seed}:centroid:{key}")
    return [round(base.gauss(0, 1) + rng.gauss(0, 0.02), 5) for _ in range(CENTROID_DIMS)]


def simulate_run(spec: RunSpec, traffic: Traffic, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Simulate one clustering run: returns (the `$ai_clusters` event properties, ground truth)."""
    rng = random.Random(f"{seed}:{spec.run_id}")
    pool = traffic.traces if spec.level == "trace" else traffic.generations
    in_window = [i for i in pool if spec.window_start <= i.timestamp < spec.window_end]
    sample = in_window
    if spec.max_samples is not None and len(in_window) > spec.max_samples:
        sample = sorted(rng.sample(in_window, spec.max_samples), key=lambda i: i.timestamp)

    groups: dict[str, list[TrafficItem]] = {}
    noise: list[TrafficItem] = []
    for item in sample:
        # A huge trace is an outlier among traces; its generations, one by one, are ordinary.
        outlier = (item.large and spec.level == "trace") or rng.random() < NOISE_SHARE
        if outlier and spec.method == "hdbscan":
            noise.append(item)
        else:
            groups.setdefault(cluster_key(item, spec.window_end), []).append(item)
    if spec.method == "hdbscan":
        for key in [k for k, members in groups.items() if len(members) < MIN_CLUSTER_SIZE]:
            noise.extend(groups.pop(key))
    ordered = sorted(groups, key=lambda k: (-len(groups[k]), k))

    centroids = {key: _centroid(seed, key, rng) for key in ordered}
    clusters, truth_clusters = [], []
    for cluster_id, key in enumerate(ordered):
        title, description = _cluster_title(key)
        cluster, truth = _cluster(spec, traffic, rng, cluster_id, key, title, description, groups[key],
                                  centroids[key], noise=False)
        clusters.append(cluster)
        truth_clusters.append(truth)
    if noise:
        cluster, truth = _cluster(spec, traffic, rng, -1, "noise", NOISE_TITLE, NOISE_DESCRIPTION, noise,
                                  [], noise=True)
        clusters.append(cluster)
        truth_clusters.append(truth)

    properties: dict[str, Any] = {
        "$ai_clustering_run_id": spec.run_id,
        "$ai_window_start": spec.window_start.isoformat(),
        "$ai_window_end": spec.window_end.isoformat(),
    }
    if spec.oldest_format:
        properties["$ai_total_traces_analyzed"] = len(sample)
    else:
        properties.update({
            "$ai_clustering_level": spec.level,
            "$ai_clustering_job_id": spec.job_id,
            "$ai_clustering_job_name": spec.job_name,
            "$ai_total_items_analyzed": len(sample),
            "$ai_clustering_params": spec.params,
        })
    properties["$ai_clusters"] = clusters
    truth = {
        "run_id": spec.run_id,
        "level": spec.level,
        "event": f"$ai_{spec.level}_clusters",
        "format": "oldest" if spec.oldest_format else "current",
        "job_id": spec.job_id,
        "job_name": spec.job_name,
        "window_start": spec.window_start.isoformat(),
        "window_end": spec.window_end.isoformat(),
        "max_samples": spec.max_samples,
        "window_item_count": len(in_window),
        "total_items_analyzed": len(sample),
        "has_embedded_metrics": spec.with_metrics and not spec.oldest_format,
        "clusters": truth_clusters,
    }
    return properties, truth


def _item_events(item: TrafficItem, traffic: Traffic, spec: RunSpec) -> list[dict]:
    if spec.level == "trace":
        events = traffic.cost_events_by_trace[item.trace_id]
    else:
        events = [traffic.generation_events[item.key]]
    return [e for e in events if spec.window_start <= e["timestamp"] < spec.window_end]


def _cluster(spec: RunSpec, traffic: Traffic, rng: random.Random, cluster_id: int, key: str, title: str,
             description: str, members: list[TrafficItem], centroid: list[float], *, noise: bool):
    points = []
    for item in members:
        if noise:
            x, y = rng.uniform(-9, 9), rng.uniform(-9, 9)
            distance = round(0.9 + rng.random() * 0.8, 6)  # minimum distance to any centroid
        else:
            cx, cy = _cluster_center(key)
            x, y = rng.gauss(cx, 0.7), rng.gauss(cy, 0.7)
            distance = round(0.05 + abs(rng.gauss(0, 0.25)), 6)
        points.append((item, round(x, 6), round(y, 6), distance))
    # Regular clusters rank by ascending distance (0 = most typical); noise descending (0 = most anomalous).
    points.sort(key=lambda p: (-p[3] if noise else p[3], p[0].key))

    entries: dict[str, dict[str, Any]] = {}
    truth_items: dict[str, dict[str, Any]] = {}
    per_item = []
    for rank, (item, x, y, distance) in enumerate(points):
        if spec.oldest_format:
            entries[item.key] = {"distance_to_centroid": distance, "rank": rank, "x": x, "y": y}
        else:
            timestamp = "" if rng.random() < 0.01 else item.timestamp.isoformat()
            entries[item.key] = {"distance_to_centroid": distance, "rank": rank, "x": x, "y": y,
                                 "timestamp": timestamp, "trace_id": item.trace_id,
                                 "generation_id": item.generation_id}
        metrics = item_metrics(_item_events(item, traffic, spec), spec.level)
        per_item.append(metrics)
        truth_items[item.key] = {
            "trace_id": item.trace_id, "generation_id": item.generation_id, "rank": rank,
            "topic": item.subtopic or item.topic, "has_data": metrics is not None,
            "cost": metrics and metrics["cost"], "latency": metrics and metrics["latency"],
            "tokens": metrics and metrics["tokens"],
            "is_error": bool(metrics and metrics["error_events"] > 0),
        }
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    cluster: dict[str, Any] = {
        "cluster_id": cluster_id,
        "size": len(points),
        "title": title,
        "description": description,
        "traces": entries,
        "centroid": centroid,
        "centroid_x": round(sum(xs) / len(xs), 6),
        "centroid_y": round(sum(ys) / len(ys), 6),
    }
    metrics = cluster_metrics(per_item)
    if spec.with_metrics and not spec.oldest_format:
        cluster["metrics"] = metrics
    truth = {"cluster_id": cluster_id, "key": key, "title": title, "size": len(points),
             "items_with_data": metrics["item_count"], "error_items": metrics["error_count"],
             "total_cost": metrics["total_cost"], "avg_cost": metrics["avg_cost"],
             "avg_latency": metrics["avg_latency"], "avg_tokens": metrics["avg_tokens"],
             "error_rate": metrics["error_rate"], "items": truth_items}
    return cluster, truth


def make_jobs(rng: random.Random) -> list[dict[str, Any]]:
    """The team's clustering jobs as PostHog's API lists them: two scheduled, one disabled."""
    created = FIRST_DAY - timedelta(days=3)
    stamp = lambda d: d.isoformat().replace("+00:00", "Z")  # noqa: E731 - DRF writes UTC as Z
    millis = int(created.timestamp() * 1000)
    return [
        {"id": deterministic_uuid(rng, millis), "name": "Default - traces", "analysis_level": "trace",
         "event_filters": [], "enabled": True, "created_at": stamp(created), "updated_at": stamp(created)},
        {"id": deterministic_uuid(rng, millis + 1), "name": "Default - generations",
         "analysis_level": "generation", "event_filters": [], "enabled": True,
         "created_at": stamp(created), "updated_at": stamp(created)},
        {"id": deterministic_uuid(rng, millis + 2), "name": "GPT-4o traces", "analysis_level": "trace",
         "event_filters": [{"key": "$ai_model", "value": "gpt-4o", "operator": "exact", "type": "event"}],
         "enabled": False, "created_at": stamp(created + timedelta(days=1)),
         "updated_at": stamp(created + timedelta(days=2))},
    ]


def run_specs(jobs: list[dict], scale: float) -> list[RunSpec]:
    """The runs, oldest first by kind: one in the oldest event format, the daily runs of the two
    scheduled jobs, and a manual k-means run."""
    scheduled = {"clustering_method": "hdbscan", "clustering_method_params": {},
                 "embedding_normalization": "none", "dimensionality_reduction_method": "umap",
                 "dimensionality_reduction_ndims": 100, "visualization_method": "umap"}
    max_samples = {"trace": max(20, round(300 * scale)), "generation": max(20, round(600 * scale))}
    specs = []
    end = FIRST_DAY + timedelta(days=OLDEST_RUN_DAY)
    specs.append(RunSpec("trace", end - LOOKBACK, end, f"{TEAM_ID}_{end:%Y%m%d_%H%M%S}", "", "", None,
                         "kmeans", oldest_format=True))
    for job in jobs[:2]:
        level = job["analysis_level"]
        for n, day in enumerate(DAILY_RUN_DAYS):
            end = FIRST_DAY + timedelta(days=day, seconds=12 + n, microseconds=345678)
            params = dict(scheduled, max_samples=max_samples[level])
            run_id = f"{TEAM_ID}_{level}_{end:%Y%m%d_%H%M%S}_{job['id']}"
            specs.append(RunSpec(level, end - LOOKBACK, end, run_id, job["id"], job["name"],
                                 max_samples[level], "hdbscan", with_metrics=(level, n) != ("trace", 0),
                                 params=params))
    start = FIRST_DAY + timedelta(days=3, hours=12)
    end = FIRST_DAY + timedelta(days=5, hours=15, minutes=30)
    manual = {"clustering_method": "kmeans", "clustering_method_params": {"min_k": 3, "max_k": 8},
              "embedding_normalization": "l2", "dimensionality_reduction_method": "pca",
              "dimensionality_reduction_ndims": 100, "visualization_method": "pca", "max_samples": 200}
    specs.append(RunSpec("generation", start, end, f"{TEAM_ID}_generation_{end:%Y%m%d_%H%M%S}_cost_review",
                         "", "", 200, "kmeans", params=manual))
    return specs


def planted_changes(truth_runs: list[dict]) -> list[dict[str, Any]]:
    """What drifted across the daily runs of each level, read back from the runs themselves."""
    changes = []
    for level in ("trace", "generation"):
        daily = [r for r in truth_runs if r["level"] == level and r["job_name"]]
        keys = [{c["key"]: c for c in r["clusters"]} for r in daily]
        ids = [r["run_id"] for r in daily]
        sizes = lambda key: {rid: (k[key]["size"] if key in k else 0) for rid, k in zip(ids, keys)}  # noqa: E731
        present = lambda key: [rid for rid, k in zip(ids, keys) if key in k]  # noqa: E731
        split_runs = present("coding/python")
        changes += [
            {"level": level, "kind": "grows", "key": "refunds", "title": TOPIC_BY_KEY["refunds"].title,
             "sizes": sizes("refunds")},
            {"level": level, "kind": "appears", "key": "invoices", "title": TOPIC_BY_KEY["invoices"].title,
             "first_run_id": (present("invoices") or [None])[0], "sizes": sizes("invoices")},
            {"level": level, "kind": "vanishes", "key": "legacy_search",
             "title": TOPIC_BY_KEY["legacy_search"].title,
             "last_run_id": (present("legacy_search") or [None])[-1], "sizes": sizes("legacy_search")},
            {"level": level, "kind": "splits", "key": "coding", "title": TOPIC_BY_KEY["coding"].title,
             "into": [{"key": k, "title": _cluster_title(k)[0]} for k in ("coding/python", "coding/sql")],
             "last_run_before": (present("coding") or [None])[-1],
             "first_run_after": (split_runs or [None])[0]},
        ]
    return changes


def check_planted(changes: list[dict], daily_ids: dict[str, list[str]]) -> None:
    """Fail loudly when a scale is too small for the planted drift to show in the runs."""
    for change in changes:
        ids = daily_ids[change["level"]]
        ok = {
            "grows": lambda c: c["sizes"][ids[-1]] > 1.3 * c["sizes"][ids[0]] > 0,
            "appears": lambda c: c["first_run_id"] not in (None, ids[0]),
            "vanishes": lambda c: c["last_run_id"] not in (None, ids[-1]),
            "splits": lambda c: None not in (c["last_run_before"], c["first_run_after"]),
        }[change["kind"]](change)
        if not ok:
            raise ValueError(f"scale too small: the planted '{change['kind']}' change of {change['key']} "
                             f"does not show in the {change['level']} runs; use a larger --scale")

