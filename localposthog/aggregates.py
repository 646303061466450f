"""Cluster metrics computed exactly as PostHog's clustering workflow computes them
(`posthog/temporal/llm_analytics/trace_clustering/aggregates.py`): per item from its events inside
the run's window, then per cluster. The dataset stores them in runs and ground truth alike, so
tests can compare them with what SQL on the engine computes.
"""

from __future__ import annotations

from typing import Any


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
