"""A deterministic synthetic dataset: one team's LLM traffic (`traffic`), PostHog's clustering runs
over it (`clustering_runs`, their metrics computed as PostHog does in `aggregates`), and the ground
truth both were made from; written to and read from a folder.

Everything is derived from `seed` and `scale`; building the default size takes about a second.
This module is the dataset's public API: the engine, the CLI, tests and benchmarks use it.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from localposthog.aggregates import is_error_event
from localposthog.clustering_runs import (
    DAILY_RUN_DAYS,
    check_planted,
    make_jobs,
    planted_changes,
    run_specs,
    simulate_run,
)
from localposthog.traffic import FIRST_DAY, TEAM_ID, make_event, make_traffic

# `is_error_event` lives with the metrics; it is here too because tests check events with it.
__all__ = ["Dataset", "build_dataset", "write_dataset", "ensure_dataset", "built_with", "load_ground_truth",
           "load_jobs", "is_error_event", "EVENTS_FILE", "JOBS_FILE", "GROUND_TRUTH_FILE"]

FORMAT_VERSION = 3  # bump when the files change shape: older datasets are rebuilt
CLOCK_AFTER_LAST_RUN = timedelta(hours=6)  # the engine's now(): a quiet morning after the last run

EVENTS_FILE = "events.jsonl"
JOBS_FILE = "jobs.json"
GROUND_TRUTH_FILE = "ground_truth.json"


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


def build_dataset(seed: int = 0, scale: float = 1.0) -> Dataset:
    """Generate the traffic, the clustering runs and the ground truth for one team."""
    if not (0.1 <= scale <= 50):
        raise ValueError(f"scale must be between 0.1 and 50, got {scale}")
    rng = random.Random(seed)
    traffic = make_traffic(rng, scale)
    jobs = make_jobs(rng)
    truth_runs = []
    events = traffic.events
    for spec in run_specs(jobs, scale):
        properties, truth = simulate_run(spec, traffic, seed)
        truth_runs.append(truth)
        published = spec.window_end + timedelta(minutes=4)
        events.append(make_event(rng, truth["event"], spec.distinct_id, properties, published))
    changes = planted_changes(truth_runs)
    daily_ids = {level: [r["run_id"] for r in truth_runs if r["level"] == level and r["job_name"]]
                 for level in ("trace", "generation")}
    check_planted(changes, daily_ids)
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
            "averages": "over items whose value is not null and > 0; "
                        "error_rate = error_items / items_with_data",
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
    """The dataset in `data_dir`, building it first when it is missing, stale or made with other
    settings."""
    if built_with(data_dir) == (seed, scale):
        return data_dir
    return write_dataset(build_dataset(seed, scale), data_dir)
