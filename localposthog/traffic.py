"""One team's synthetic LLM traffic, drawn from a seeded random stream.

The traffic follows latent topics (support, summaries, refunds, …), each with its own volume per
day, models, sizes, latency and error rate. Drift is planted in the volumes: refunds grow, invoice
extraction appears, legacy search is retired, and coding help holds two kinds of request (Python
debugging and SQL writing) that later clustering runs tell apart. Events look as PostHog's SDKs
send them, gaps in their properties included.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

CHARS_PER_TOKEN = 4  # prompts and completions are stored at about this many characters a token
TEAM_ID = 1
FIRST_DAY = datetime(2026, 1, 12, tzinfo=timezone.utc)
TRAFFIC_DAYS = 10
COST_EVENTS = ("$ai_generation", "$ai_embedding")

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
          lambda d: 1 if d < 4 else 6 * (d - 3), ("gpt-4o",), (2, 5), 1500, 250, 2.5, 0.05, False,
          (-1.0, -4.0)),
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


@dataclass
class TrafficItem:
    """One thing a clustering run can cluster: a trace, or one generation of it."""

    key: str
    trace_id: str
    generation_id: str | None
    timestamp: datetime
    topic: str
    subtopic: str | None
    large: bool


@dataclass
class Traffic:
    """Every event in time order, the items a run can cluster, and each item's events by id."""

    events: list[dict[str, Any]] = field(default_factory=list)
    traces: list[TrafficItem] = field(default_factory=list)
    generations: list[TrafficItem] = field(default_factory=list)
    cost_events_by_trace: dict[str, list[dict]] = field(default_factory=dict)
    generation_events: dict[str, dict] = field(default_factory=dict)


def deterministic_uuid(rng: random.Random, millis: int | None = None) -> str:
    """A deterministic UUID: version 4, or version 7 around `millis` like PostHog's job ids."""
    value = rng.getrandbits(128)
    if millis is None:
        return str(uuid.UUID(int=value, version=4))
    value = (millis << 80) | (value & ((1 << 80) - 1))
    value = (value & ~(0xF << 76)) | (7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


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
        answer = f"Answer about {topic.key}"
        props["$ai_output_choices"] = _messages(answer, topic, output_tokens, "assistant")
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
    return make_event(rng, "$ai_generation", distinct_id, props, at)


def make_event(rng: random.Random, name: str, distinct_id: str, props: dict,
               at: datetime) -> dict[str, Any]:
    """One event of the team, its uuid drawn from `rng`."""
    return {"uuid": deterministic_uuid(rng), "event": name, "distinct_id": distinct_id,
            "properties": props, "timestamp": at, "team_id": TEAM_ID}


def _trace(rng: random.Random, traffic: Traffic, topic: Topic, start: datetime, large: bool) -> None:
    trace_id = deterministic_uuid(rng)
    distinct_id = f"user_{rng.randrange(60):03d}"
    subtopic = rng.choice(topic.subtopics)[0] if topic.subtopics else None
    n_generations = rng.randint(120, 220) if large else rng.randint(*topic.generations)
    trace_props = {"$ai_trace_id": trace_id, "$ai_trace_name": f"{topic.key}_agent",
                   "$ai_session_id": f"session_{rng.randrange(10**6)}",
                   "$ai_input_state": {"topic": topic.key}}
    trace_event = make_event(rng, "$ai_trace", distinct_id, trace_props, start)
    events = [trace_event]
    at = start + timedelta(milliseconds=rng.randint(5, 50))
    parent = trace_id
    if rng.random() < 0.5:
        span = make_event(rng, "$ai_span", distinct_id, {
            "$ai_trace_id": trace_id, "$ai_span_id": deterministic_uuid(rng), "$ai_parent_id": trace_id,
            "$ai_span_name": rng.choice(["retrieve_context", "tool:lookup_order", "plan"]),
            "$ai_latency": round(rng.uniform(0.01, 0.4), 3)}, at)
        events.append(span)
        parent = span["properties"]["$ai_span_id"]
    if topic.embeds:
        at += timedelta(milliseconds=rng.randint(10, 200))
        tokens = rng.randint(20, 400)
        events.append(make_event(rng, "$ai_embedding", distinct_id, {
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
        traffic.generations.append(TrafficItem(generation["uuid"], trace_id, generation["uuid"], at,
                                               topic.key, subtopic, large))
        traffic.generation_events[generation["uuid"]] = generation
    trace_props["$ai_latency"] = round(total_latency, 3)
    trace_props["$ai_output_state"] = {"generations": n_generations}
    traffic.events.extend(events)
    traffic.cost_events_by_trace[trace_id] = [e for e in events if e["event"] in COST_EVENTS]
    traffic.traces.append(TrafficItem(trace_id, trace_id, None, start, topic.key, subtopic, large))


def make_traffic(rng: random.Random, scale: float) -> Traffic:
    """The team's traffic over `TRAFFIC_DAYS` days, each topic's volume times `scale`, plus a few
    huge traces."""
    traffic = Traffic()
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
