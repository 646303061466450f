"""A deterministic synthetic dataset: one team's LLM traffic, PostHog's clustering runs over it,
and the ground truth both were made from.

The traffic follows latent topics (support, summaries, refunds, …). Daily clustering runs look
back 7 days, sample at most `max_samples` items, and group items by topic the way an embedding
clusterer would, with a noise cluster for outliers. Drift is planted across the daily runs: the
refunds cluster grows, invoice extraction appears, legacy search vanishes, and coding help splits
in two. Cluster `metrics` are computed exactly as PostHog's clustering workflow does
(`posthog/temporal/llm_analytics/trace_clustering/aggregates.py`), and the same numbers go into
`ground_truth.json` so tests can compare them with what SQL on the engine computes.

Everything is derived from `seed` and `scale`; building the default size takes about a second.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

FORMAT_VERSION = 3  # bump when the files change shape: older datasets are rebuilt
CHARS_PER_TOKEN = 4  # prompts and completions are stored at about this many characters a token
TEAM_ID = 1
FIRST_DAY = datetime(2026, 1, 12, tzinfo=timezone.utc)
TRAFFIC_DAYS = 10
LOOKBACK = timedelta(days=7)
DAILY_RUN_DAYS = (6, 7, 8, 9, 10)  # window ends at 00:00 of these days (day 0 = FIRST_DAY)
OLDEST_RUN_DAY = 4
CLOCK_AFTER_LAST_RUN = timedelta(hours=6)  # the engine's now(): a quiet morning after the last run
SPLIT_FROM_DAY = 8  # runs whose window ends on or after this day see coding help as two clusters
MIN_CLUSTER_SIZE = 5
NOISE_SHARE = 0.06
CENTROID_DIMS = 100
COST_EVENTS = ("$ai_generation", "$ai_embedding")

EVENTS_FILE = "events.jsonl"
JOBS_FILE = "jobs.json"
GROUND_TRUTH_FILE = "ground_truth.json"

# USD per token (input, output).
PRICES = {
    "gpt-4o-mini": (0.15e-6, 0.6e-6),
    "gpt-4o": (2.5e-6, 10e-6),
    "gpt-3.5-turbo": (0.5e-6, 1.5e-6),
    "o3-mini": (1.1e-6, 4.4e-6),
    "claude-3-5-sonnet-20241022": (3e-6, 15e-6),
    "claude-3-5-haiku-20241022": (0.8e-6, 4e-6),
    "text-embedding-3-small": (0.02e-6, 0.0),
}
PROVIDERS = {"gpt": "openai", "o3": "openai", "claude": "anthropic", "text": "openai"}
BASE_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


@dataclass(frozen=True)
class Topic:
    """A latent kind of traffic: how much there is per day and what its calls look like."""

    key: str
    title: str
    bullets: tuple[str, ...]
    daily: Callable[[int], float]  # expected traces on day d at scale 1
    models: tuple[str, ...]
    generations: tuple[int, int]
    input_tokens: int
    output_tokens: int
    latency: float  # mean seconds per generation
    error_rate: float
    embeds: bool
    center: tuple[float, float]
    subtopics: tuple[tuple[str, str, tuple[float, float]], ...] = ()  # (key, title, center)


TOPICS = (
    Topic("support", "Order status and shipping questions",
          ("Customers ask where their order is", "Agent looks up tracking and replies"),
          lambda d: 14, ("gpt-4o-mini",), (1, 4), 900, 180, 1.2, 0.03, True, (-4.0, 2.0)),
    Topic("summaries", "Long document summarisation",
          ("Users paste contracts or reports", "Model returns a bullet summary"),
          lambda d: 8, ("claude-3-5-sonnet-20241022",), (1, 2), 6000, 500, 6.0, 0.02, True, (3.0, 4.0)),
    Topic("refunds", "Refund requests | billing disputes",
          ("Customers dispute a charge or ask for a refund", "Agent checks the order and policy"),
          lambda d: 1 if d < 4 else 6 * (d - 3), ("gpt-4o",), (2, 5), 1500, 250, 2.5, 0.05, False, (-1.0, -4.0)),
    Topic("invoices", "Invoice PDF extraction",
          ("Uploaded invoices are parsed into line items", "Frequent failures on scanned PDFs"),
          lambda d: 12 if d >= 7 else 0, ("gpt-4o", "claude-3-5-haiku-20241022"), (1, 3),
          3000, 600, 4.0, 0.18, False, (5.0, -2.0)),
    Topic("legacy_search", "Legacy product search assistant",
          ("Keyword search rewritten by a small model", "Retired after the new catalogue launch"),
          lambda d: 12 if d <= 1 else 0, ("gpt-3.5-turbo",), (1, 2), 600, 120, 0.8, 0.08, True, (-6.0, -3.0)),
    Topic("coding", "Coding help",
          ("Developers ask for help with code", "Mix of debugging and query writing"),
          lambda d: 9 if d < 6 else 11, ("claude-3-5-sonnet-20241022", "o3-mini"), (1, 6),
          2500, 900, 5.0, 0.04, False, (1.0, 0.0),
          subtopics=(("coding/python", "Python debugging help", (0.2, 1.4)),
                     ("coding/sql", "SQL query writing", (2.2, -1.3)))),
)
TOPIC_BY_KEY = {t.key: t for t in TOPICS}
LARGE_TRACES = 3  # at scale 1: traces with hundreds of generations, clustered as outliers
NOISE_TITLE = "Outliers"
NOISE_DESCRIPTION = "Items that did not fit into any cluster"


@dataclass
class Dataset:
    """Events as PostHog stores them, the clustering jobs, and the ground truth."""

    seed: int
    scale: float
    events: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    ground_truth: dict[str, Any]

    @property
    def runs(self) -> list[dict[str, Any]]:
        return self.ground_truth["runs"]


@dataclass
class _Item:
    """One thing a clustering run can cluster: a trace, or one generation of it."""

    key: str
    trace_id: str
    generation_id: str | None
    timestamp: datetime
    topic: str
    subtopic: str | None
    large: bool


@dataclass
class _Traffic:
    events: list[dict[str, Any]] = field(default_factory=list)
    traces: list[_Item] = field(default_factory=list)
    generations: list[_Item] = field(default_factory=list)
    cost_events_by_trace: dict[str, list[dict]] = field(default_factory=dict)
    generation_events: dict[str, dict] = field(default_factory=dict)


def _uuid(rng: random.Random, millis: int | None = None) -> str:
    """A deterministic UUID: version 4, or version 7 around `millis` like PostHog's job ids."""
    value = rng.getrandbits(128)
    if millis is None:
        return str(uuid.UUID(int=value, version=4))
    value = (millis << 80) | (value & ((1 << 80) - 1))
    value = (value & ~(0xF << 76)) | (7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


# --- traffic -------------------------------------------------------------------------------

def _is_error_property(rng: random.Random, failed: bool) -> Any:
    """`$ai_is_error` as SDKs and seeds send it: boolean true, string "true"/"false", or absent."""
    if failed:
        return rng.choice([True, True, "true"])
    return rng.choice([None, None, None, "false", False])


def _messages(opening: str, topic: Topic, tokens: int, role: str) -> list[dict[str, str]]:
    """One message as long as its token count says, as real prompts and completions are (they
    make up most of an AI event's properties). The filler is not drawn from the random stream,
    so message sizes never shift the dataset's numbers."""
    filler = " ".join((topic.title, *topic.bullets)) + ". "
    length = max(len(opening), tokens * CHARS_PER_TOKEN)
    text = opening + " " + filler * (length // len(filler) + 1)
    return [{"role": role, "content": text[:length]}]


def _generation(rng: random.Random, topic: Topic, trace_id: str, parent_id: str, at: datetime,
                distinct_id: str) -> dict[str, Any]:
    model = rng.choice(topic.models)
    provider = PROVIDERS[model.split("-")[0]]
    input_tokens = max(20, int(rng.gauss(topic.input_tokens, topic.input_tokens * 0.3)))
    output_tokens = max(5, int(rng.gauss(topic.output_tokens, topic.output_tokens * 0.4)))
    price_in, price_out = PRICES[model]
    input_cost = round(input_tokens * price_in, 8)
    output_cost = round(output_tokens * price_out, 8)
    failed = rng.random() < topic.error_rate
    props: dict[str, Any] = {
        "$ai_trace_id": trace_id,
        "$ai_parent_id": parent_id,
        "$ai_model": model,
        "$ai_provider": provider,
        "$ai_base_url": BASE_URLS[provider],
        "$ai_input": _messages(f"{topic.title}: request {rng.randrange(10**6)}", topic, input_tokens, "user"),
        "$ai_input_tokens": input_tokens,
        "$ai_output_tokens": 0 if failed else output_tokens,
        "$ai_input_cost_usd": input_cost,
        "$ai_output_cost_usd": 0.0 if failed else output_cost,
        "$ai_total_cost_usd": round(input_cost + (0.0 if failed else output_cost), 8),
        "$ai_latency": round(max(0.05, rng.gauss(topic.latency, topic.latency * 0.35)), 3),
        "$ai_http_status": rng.choice([429, 500, 529]) if failed else 200,
        "$ai_lib": "posthog-python",
    }
    if failed:
        props["$ai_error"] = rng.choice(["Rate limit exceeded", "Internal server error", "Overloaded",
                                         "Invalid JSON in tool arguments"])
    else:
        props["$ai_output_choices"] = _messages(f"Answer about {topic.key}", topic, output_tokens, "assistant")
    is_error = _is_error_property(rng, failed)
    if is_error is not None:
        props["$ai_is_error"] = is_error
    # Some SDK versions omit values; PostHog's metrics must cope with the gaps.
    roll = rng.random()
    if roll < 0.03:
        del props["$ai_total_cost_usd"]
    elif roll < 0.05:
        for key in ("$ai_total_cost_usd", "$ai_input_cost_usd", "$ai_output_cost_usd"):
            del props[key]
    if rng.random() < 0.03:
        del props["$ai_latency"]
    if rng.random() < 0.02:
        del props["$ai_input_tokens"], props["$ai_output_tokens"]
    return _event(rng, "$ai_generation", distinct_id, props, at)


def _event(rng: random.Random, name: str, distinct_id: str, props: dict, at: datetime) -> dict[str, Any]:
    return {"uuid": _uuid(rng), "event": name, "distinct_id": distinct_id, "properties": props,
            "timestamp": at, "team_id": TEAM_ID}


def _trace(rng: random.Random, traffic: _Traffic, topic: Topic, start: datetime, large: bool) -> None:
    trace_id = _uuid(rng)
    distinct_id = f"user_{rng.randrange(60):03d}"
    subtopic = rng.choice(topic.subtopics)[0] if topic.subtopics else None
    n_generations = rng.randint(120, 220) if large else rng.randint(*topic.generations)
    trace_props = {"$ai_trace_id": trace_id, "$ai_trace_name": f"{topic.key}_agent",
                   "$ai_session_id": f"session_{rng.randrange(10**6)}",
                   "$ai_input_state": {"topic": topic.key}}
    trace_event = _event(rng, "$ai_trace", distinct_id, trace_props, start)
    events = [trace_event]
    at = start + timedelta(milliseconds=rng.randint(5, 50))
    parent = trace_id
    if rng.random() < 0.5:
        span = _event(rng, "$ai_span", distinct_id, {
            "$ai_trace_id": trace_id, "$ai_span_id": _uuid(rng), "$ai_parent_id": trace_id,
            "$ai_span_name": rng.choice(["retrieve_context", "tool:lookup_order", "plan"]),
            "$ai_latency": round(rng.uniform(0.01, 0.4), 3)}, at)
        events.append(span)
        parent = span["properties"]["$ai_span_id"]
    if topic.embeds:
        at += timedelta(milliseconds=rng.randint(10, 200))
        tokens = rng.randint(20, 400)
        events.append(_event(rng, "$ai_embedding", distinct_id, {
            "$ai_trace_id": trace_id, "$ai_parent_id": parent, "$ai_model": "text-embedding-3-small",
            "$ai_provider": "openai", "$ai_input_tokens": tokens,
            "$ai_total_cost_usd": round(tokens * PRICES["text-embedding-3-small"][0], 10),
            "$ai_latency": round(rng.uniform(0.05, 0.3), 3)}, at))
    total_latency = 0.0
    for _ in range(n_generations):
        at += timedelta(milliseconds=rng.randint(50, 3000))
        generation = _generation(rng, topic, trace_id, parent, at, distinct_id)
        events.append(generation)
        total_latency += generation["properties"].get("$ai_latency", 0.0)
        traffic.generations.append(_Item(generation["uuid"], trace_id, generation["uuid"], at,
                                         topic.key, subtopic, large))
        traffic.generation_events[generation["uuid"]] = generation
    trace_props["$ai_latency"] = round(total_latency, 3)
    trace_props["$ai_output_state"] = {"generations": n_generations}
    traffic.events.extend(events)
    traffic.cost_events_by_trace[trace_id] = [e for e in events if e["event"] in COST_EVENTS]
    traffic.traces.append(_Item(trace_id, trace_id, None, start, topic.key, subtopic, large))


def _make_traffic(rng: random.Random, scale: float) -> _Traffic:
    traffic = _Traffic()
    for day in range(TRAFFIC_DAYS):
        day_start = FIRST_DAY + timedelta(days=day)
        for topic in TOPICS:
            expected = topic.daily(day) * scale
            count = round(expected * rng.uniform(0.8, 1.2)) if expected else 0
            for _ in range(count):
                start = day_start + timedelta(milliseconds=rng.randrange(86_400_000))
                _trace(rng, traffic, topic, start, large=False)
    for _ in range(max(1, round(LARGE_TRACES * scale))):
        day_start = FIRST_DAY + timedelta(days=rng.randrange(TRAFFIC_DAYS))
        _trace(rng, traffic, TOPIC_BY_KEY[rng.choice(["coding", "summaries"])],
               day_start + timedelta(milliseconds=rng.randrange(80_000_000)), large=True)
    traffic.events.sort(key=lambda e: (e["timestamp"], e["uuid"]))
    return traffic


# --- metrics, the way PostHog computes them ------------------------------------------------

def is_error_event(props: dict[str, Any]) -> bool:
    """PostHog compares `$ai_is_error` as the string 'true': boolean true and "true" both count."""
    return props.get("$ai_is_error") in (True, "true")


def _sum_present(events: list[dict], key: str) -> float | None:
    values = [e["properties"][key] for e in events if e["properties"].get(key) is not None]
    return sum(values) if values else None


def item_metrics(events: list[dict], level: str) -> dict[str, Any] | None:
    """Cost, latency, tokens and errors of one item from its events inside the run's window;
    None when it has no such events (PostHog then counts it as an item without data)."""
    if not events:
        return None
    latency_events = [e for e in events if e["event"] == "$ai_generation"] if level == "trace" else events
    input_tokens = _sum_present(events, "$ai_input_tokens")
    output_tokens = _sum_present(events, "$ai_output_tokens")
    return {
        "cost": _sum_present(events, "$ai_total_cost_usd"),
        "latency": _sum_present(latency_events, "$ai_latency"),
        "tokens": (input_tokens or 0) + (output_tokens or 0),
        "error_events": sum(1 for e in events if is_error_event(e["properties"])),
    }


def cluster_metrics(per_item: list[dict[str, Any] | None]) -> dict[str, Any]:
    """PostHog's aggregation: averages over values > 0, error rate over items with data."""
    with_data = [m for m in per_item if m is not None]
    costs = [m["cost"] for m in with_data if m["cost"] is not None and m["cost"] > 0]
    latencies = [m["latency"] for m in with_data if m["latency"] is not None and m["latency"] > 0]
    tokens = [m["tokens"] for m in with_data if m["tokens"] > 0]
    errors = sum(1 for m in with_data if m["error_events"] > 0)
    return {
        "avg_cost": sum(costs) / len(costs) if costs else None,
        "avg_latency": sum(latencies) / len(latencies) if latencies else None,
        "avg_tokens": sum(tokens) / len(tokens) if tokens else None,
        "total_cost": sum(costs) if costs else None,
        "error_rate": errors / len(with_data) if with_data else None,
        "error_count": errors,
        "item_count": len(with_data),
    }


# --- clustering runs -----------------------------------------------------------------------

@dataclass(frozen=True)
class _RunSpec:
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


def _cluster_key(item: _Item, window_end: datetime) -> str:
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


def _run(spec: _RunSpec, traffic: _Traffic, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Simulate one clustering run: returns (the `$ai_clusters` event properties, ground truth)."""
    rng = random.Random(f"{seed}:{spec.run_id}")
    pool = traffic.traces if spec.level == "trace" else traffic.generations
    in_window = [i for i in pool if spec.window_start <= i.timestamp < spec.window_end]
    sample = in_window
    if spec.max_samples is not None and len(in_window) > spec.max_samples:
        sample = sorted(rng.sample(in_window, spec.max_samples), key=lambda i: i.timestamp)

    groups: dict[str, list[_Item]] = {}
    noise: list[_Item] = []
    for item in sample:
        # A huge trace is an outlier among traces; its generations, one by one, are ordinary.
        outlier = (item.large and spec.level == "trace") or rng.random() < NOISE_SHARE
        if outlier and spec.method == "hdbscan":
            noise.append(item)
        else:
            groups.setdefault(_cluster_key(item, spec.window_end), []).append(item)
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


def _item_events(item: _Item, traffic: _Traffic, spec: _RunSpec) -> list[dict]:
    if spec.level == "trace":
        events = traffic.cost_events_by_trace[item.trace_id]
    else:
        events = [traffic.generation_events[item.key]]
    return [e for e in events if spec.window_start <= e["timestamp"] < spec.window_end]


def _cluster(spec: _RunSpec, traffic: _Traffic, rng: random.Random, cluster_id: int, key: str, title: str,
             description: str, members: list[_Item], centroid: list[float], *, noise: bool):
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


def _jobs(rng: random.Random) -> list[dict[str, Any]]:
    created = FIRST_DAY - timedelta(days=3)
    stamp = lambda d: d.isoformat().replace("+00:00", "Z")  # noqa: E731 - DRF writes UTC as Z
    millis = int(created.timestamp() * 1000)
    return [
        {"id": _uuid(rng, millis), "name": "Default - traces", "analysis_level": "trace",
         "event_filters": [], "enabled": True, "created_at": stamp(created), "updated_at": stamp(created)},
        {"id": _uuid(rng, millis + 1), "name": "Default - generations", "analysis_level": "generation",
         "event_filters": [], "enabled": True, "created_at": stamp(created), "updated_at": stamp(created)},
        {"id": _uuid(rng, millis + 2), "name": "GPT-4o traces", "analysis_level": "trace",
         "event_filters": [{"key": "$ai_model", "value": "gpt-4o", "operator": "exact", "type": "event"}],
         "enabled": False, "created_at": stamp(created + timedelta(days=1)),
         "updated_at": stamp(created + timedelta(days=2))},
    ]


def _run_specs(rng: random.Random, jobs: list[dict], scale: float) -> list[_RunSpec]:
    scheduled = {"clustering_method": "hdbscan", "clustering_method_params": {}, "embedding_normalization": "none",
                 "dimensionality_reduction_method": "umap", "dimensionality_reduction_ndims": 100,
                 "visualization_method": "umap"}
    max_samples = {"trace": max(20, round(300 * scale)), "generation": max(20, round(600 * scale))}
    specs = []
    end = FIRST_DAY + timedelta(days=OLDEST_RUN_DAY)
    specs.append(_RunSpec("trace", end - LOOKBACK, end, f"{TEAM_ID}_{end:%Y%m%d_%H%M%S}", "", "", None,
                          "kmeans", oldest_format=True))
    for job in jobs[:2]:
        level = job["analysis_level"]
        for n, day in enumerate(DAILY_RUN_DAYS):
            end = FIRST_DAY + timedelta(days=day, seconds=12 + n, microseconds=345678)
            params = dict(scheduled, max_samples=max_samples[level])
            specs.append(_RunSpec(level, end - LOOKBACK, end,
                                  f"{TEAM_ID}_{level}_{end:%Y%m%d_%H%M%S}_{job['id']}", job["id"], job["name"],
                                  max_samples[level], "hdbscan", with_metrics=(level, n) != ("trace", 0),
                                  params=params))
    start = FIRST_DAY + timedelta(days=3, hours=12)
    end = FIRST_DAY + timedelta(days=5, hours=15, minutes=30)
    manual = {"clustering_method": "kmeans", "clustering_method_params": {"min_k": 3, "max_k": 8},
              "embedding_normalization": "l2", "dimensionality_reduction_method": "pca",
              "dimensionality_reduction_ndims": 100, "visualization_method": "pca", "max_samples": 200}
    specs.append(_RunSpec("generation", start, end, f"{TEAM_ID}_generation_{end:%Y%m%d_%H%M%S}_cost_review",
                          "", "", 200, "kmeans", params=manual))
    return specs


def _planted_changes(truth_runs: list[dict]) -> list[dict[str, Any]]:
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


def _check_planted(changes: list[dict], daily_ids: dict[str, list[str]]) -> None:
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


def build_dataset(seed: int = 0, scale: float = 1.0) -> Dataset:
    """Generate the traffic, the clustering runs and the ground truth for one team."""
    if not (0.1 <= scale <= 50):
        raise ValueError(f"scale must be between 0.1 and 50, got {scale}")
    rng = random.Random(seed)
    traffic = _make_traffic(rng, scale)
    jobs = _jobs(rng)
    truth_runs = []
    events = traffic.events
    for spec in _run_specs(rng, jobs, scale):
        properties, truth = _run(spec, traffic, seed)
        truth_runs.append(truth)
        distinct_id = f"trace_clustering_{TEAM_ID}" if spec.oldest_format else f"clustering_{spec.level}_{TEAM_ID}"
        events.append(_event(rng, truth["event"], distinct_id, properties, spec.window_end + timedelta(minutes=4)))
    changes = _planted_changes(truth_runs)
    _check_planted(changes, {lvl: [r["run_id"] for r in truth_runs if r["level"] == lvl and r["job_name"]]
                             for lvl in ("trace", "generation")})
    ground_truth = {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "scale": scale,
        "team_id": TEAM_ID,
        "event_count": len(events),
        "now": (FIRST_DAY + timedelta(days=DAILY_RUN_DAYS[-1]) + CLOCK_AFTER_LAST_RUN).isoformat(),
        "metric_rules": {
            "window": "events with window_start <= timestamp < window_end",
            "trace": "cost/tokens summed over $ai_generation and $ai_embedding events with the trace id; "
                     "latency summed over its $ai_generation events",
            "generation": "the $ai_generation event whose uuid is the item key",
            "error": "$ai_is_error is boolean true or the string 'true'",
            "averages": "over items whose value is not null and > 0; error_rate = error_items / items_with_data",
        },
        "runs": truth_runs,
        "planted_changes": changes,
    }
    return Dataset(seed=seed, scale=scale, events=events, jobs=jobs, ground_truth=ground_truth)


# --- files ---------------------------------------------------------------------------------

def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    stamp = event["timestamp"].strftime("%Y-%m-%d %H:%M:%S.%f")
    return {"uuid": event["uuid"], "event": event["event"], "distinct_id": event["distinct_id"],
            "properties": json.dumps(event["properties"], separators=(",", ":")),
            "timestamp": stamp, "created_at": stamp, "team_id": event["team_id"],
            "person_id": str(uuid.uuid5(uuid.NAMESPACE_URL, event["distinct_id"])), "elements_chain": ""}


def write_dataset(dataset: Dataset, out_dir: Path) -> Path:
    """Write events (JSONEachRow, `properties` as a JSON string), jobs and ground truth."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / EVENTS_FILE, "w", encoding="utf-8") as handle:
        for event in dataset.events:
            handle.write(json.dumps(_event_row(event), separators=(",", ":")) + "\n")
    (out_dir / JOBS_FILE).write_text(json.dumps(dataset.jobs, indent=1), encoding="utf-8")
    # Written last: its presence marks a complete dataset.
    (out_dir / GROUND_TRUTH_FILE).write_text(json.dumps(dataset.ground_truth, indent=1), encoding="utf-8")
    return out_dir


def load_ground_truth(data_dir: Path) -> dict[str, Any]:
    return json.loads((data_dir / GROUND_TRUTH_FILE).read_text(encoding="utf-8"))


def load_jobs(data_dir: Path) -> list[dict[str, Any]]:
    return json.loads((data_dir / JOBS_FILE).read_text(encoding="utf-8"))


def built_with(data_dir: Path) -> tuple[int, float] | None:
    """(seed, scale) of the complete, current-format dataset in `data_dir`; None if there is none."""
    try:
        truth = load_ground_truth(data_dir)
    except (OSError, ValueError):
        return None
    if truth.get("format_version") != FORMAT_VERSION:
        return None
    return truth["seed"], truth["scale"]


def ensure_dataset(data_dir: Path, seed: int = 0, scale: float = 1.0) -> Path:
    """The dataset in `data_dir`, building it first when it is missing, stale or made with other settings."""
    if built_with(data_dir) == (seed, scale):
        return data_dir
    return write_dataset(build_dataset(seed, scale), data_dir)
