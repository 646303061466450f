"""Write the bundled example results: small, realistic clustering runs in the shapes PostHog's
tools and coding agents really produce. Deterministic: rerunning rewrites identical files.

    python examples/generate.py            # rewrite the files beside this script

Files:
  trace_run.execute-sql.txt     a trace-level run as execute-sql prints it (truncate off),
                                saved by the agent as a content-block array, with a
                                <taxonomy_warnings> block in front
  recent_runs.execute-sql.txt   three daily trace-level runs in one result (three rows)
  generation_run.hogql.json     a generation-level run as the HogQL query API answers,
                                the clusters cell a JSON string (as JSONExtractRaw returns)
  legacy_run.execute-sql.txt    a run in the oldest format, saved as {"result": text}
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from localposthog.mcp_format import format_execute_sql, persisted_content  # noqa: E402

TEAM_ID = 2
JOB_IDS = {"trace": "019cb7f3-a126-7809-bffc-7f13bffe1325",
           "generation": "019cb7f3-b3c4-7a01-8e2d-5a7c90e1d442"}
JOB_NAMES = {"trace": "Default - traces", "generation": "Default - generations"}
TOPICS = [
    ("Refund and billing disputes",
     "- Users ask why they were charged twice or want a refund\n- The agent looks up invoices "
     "and explains the refund policy\n- Long tool chains when the invoice is missing",
     0.031, 6.2, 0.04),
    ("SQL query generation for dashboards",
     "- Natural-language requests turned into HogQL\n- Frequent retries after syntax errors",
     0.012, 3.1, 0.11),
    ("Password reset and login help",
     "- Short conversations about resetting passwords and 2FA\n- Mostly answered from the FAQ",
     0.002, 0.9, 0.01),
    ("Summarising support tickets",
     "- Batch summaries of Zendesk tickets\n- Large inputs, cheap model", 0.008, 2.4, 0.02),
    ("Code review comments",
     "- Reviews of pull requests | diffs pasted inline\n- Slow: big contexts on the largest model",
     0.054, 11.8, 0.07),
    ("Translation to German and French",
     "- UI strings and help-centre articles translated\n- Rare errors from rate limits",
     0.004, 1.7, 0.03),
]
PARAMS = {"clustering_method": "hdbscan", "clustering_method_params": {},
          "embedding_normalization": "l2", "dimensionality_reduction_method": "umap",
          "dimensionality_reduction_ndims": 100, "visualization_method": "umap",
          "max_samples": 1500}
RUN_COLUMNS = ["run_id", "level", "job_id", "job_name", "window_start", "window_end",
               "total_items", "clusters", "params"]
TAXONOMY_WARNING = ("taxonomy_warnings",
                    "Property '$ai_clusters' is large; consider selecting only what you need.")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _items(rng: random.Random, count: int, window_end: datetime, level: str, noise: bool,
           legacy: bool) -> dict:
    distances = sorted(rng.uniform(0.05, 0.9) for _ in range(count))
    if noise:  # noise ranks by distance to the nearest centroid, most anomalous first
        distances = sorted((rng.uniform(0.9, 2.5) for _ in range(count)), reverse=True)
    items = {}
    for rank, distance in enumerate(distances):
        trace_id = _uuid(rng)
        generation_id = _uuid(rng) if level == "generation" else None
        stamp = window_end - timedelta(seconds=rng.randint(60, 7 * 86400))
        entry = {"distance_to_centroid": round(distance, 6), "rank": rank,
                 "x": round(rng.gauss(0, 3), 4), "y": round(rng.gauss(0, 3), 4)}
        if not legacy:
            entry.update({"timestamp": stamp.isoformat(), "trace_id": trace_id,
                          "generation_id": generation_id})
        items[generation_id or trace_id] = entry
    return items


def _metrics(rng: random.Random, size: int, cost: float, latency: float, error_rate: float) -> dict:
    errors = sum(rng.random() < error_rate for _ in range(size))
    avg_cost = round(cost * rng.uniform(0.8, 1.2), 6)
    return {"avg_cost": avg_cost, "avg_latency": round(latency * rng.uniform(0.8, 1.2), 3),
            "avg_tokens": round(cost * 90_000 * rng.uniform(0.8, 1.2), 1),
            "total_cost": round(avg_cost * size, 6), "error_rate": round(errors / size, 4),
            "error_count": errors, "item_count": size}


def make_clusters(rng: random.Random, sizes: list[int], noise_size: int, window_end: datetime,
                  level: str, legacy: bool = False) -> list[dict]:
    clusters = []
    for cluster_id, size in enumerate(sizes):
        title, description, cost, latency, error_rate = TOPICS[cluster_id % len(TOPICS)]
        clusters.append({
            "cluster_id": cluster_id, "size": size, "title": title, "description": description,
            "traces": _items(rng, size, window_end, level, False, legacy),
            "centroid": [round(rng.gauss(0, 1), 5) for _ in range(100)],
            "centroid_x": round(rng.gauss(0, 4), 4), "centroid_y": round(rng.gauss(0, 4), 4),
            **({} if legacy else {"metrics": _metrics(rng, size, cost, latency, error_rate)}),
        })
    if noise_size:
        clusters.append({
            "cluster_id": -1, "size": noise_size, "title": "Outliers",
            "description": "Items that did not fit into any cluster",
            "traces": _items(rng, noise_size, window_end, level, True, legacy),
            "centroid": [], "centroid_x": 0.41, "centroid_y": -0.27,
            **({} if legacy else {"metrics": None}),
        })
    return clusters


def _raw_json(value) -> str:
    """A JSON column as `JSONExtractRaw` returns it: a string of compact JSON (execute-sql prints
    a string as it is, but a native dict or list as Python's repr)."""
    return json.dumps(value, separators=(",", ":"))


def run_row(rng: random.Random, level: str, window_end: datetime, sizes: list[int],
            noise_size: int) -> list:
    job_id = JOB_IDS[level]
    run_id = f"{TEAM_ID}_{level}_{window_end:%Y%m%d_%H%M%S}_{job_id}"
    clusters = make_clusters(rng, sizes, noise_size, window_end, level)
    start = window_end - timedelta(days=7)
    return [run_id, level, job_id, JOB_NAMES[level], start.isoformat(), window_end.isoformat(),
            sum(sizes) + noise_size, _raw_json(clusters), _raw_json(PARAMS)]


def write_examples(folder: Path) -> list[Path]:
    rng = random.Random(20260125)
    end = datetime(2026, 1, 25, tzinfo=timezone.utc)
    written = []

    def write(name: str, content: str) -> None:
        path = folder / name
        path.write_text(content, encoding="utf-8")
        written.append(path)

    trace = run_row(rng, "trace", end, [34, 27, 22, 15, 9, 6], 7)
    write("trace_run.execute-sql.txt", persisted_content(
        format_execute_sql(RUN_COLUMNS, [trace], truncate=False, warnings=[TAXONOMY_WARNING])))

    daily = [run_row(rng, "trace", end - timedelta(days=d), [30 - 3 * d, 24, 18 + 4 * d, 12], 5)
             for d in range(3)]
    write("recent_runs.execute-sql.txt",
          persisted_content(format_execute_sql(RUN_COLUMNS, daily, truncate=False)))

    generation = run_row(rng, "generation", end, [25, 19, 14, 8], 4)
    response = {"columns": RUN_COLUMNS, "types": [[c, "String"] for c in RUN_COLUMNS],
                "results": [generation], "hasMore": False,
                "limit": 100, "offset": 0}
    write("generation_run.hogql.json", json.dumps(response, indent=1) + "\n")

    legacy_end = datetime(2025, 3, 10, tzinfo=timezone.utc)
    legacy_clusters = make_clusters(rng, [18, 12, 9], 0, legacy_end, "trace", legacy=True)
    legacy_columns = ["run_id", "total_items", "clusters"]
    legacy_row = [f"{TEAM_ID}_{legacy_end:%Y%m%d_%H%M%S}", 39, _raw_json(legacy_clusters)]
    write("legacy_run.execute-sql.txt", persisted_content(
        format_execute_sql(legacy_columns, [legacy_row], truncate=False), "result"))
    return written


if __name__ == "__main__":
    for path in write_examples(HERE):
        print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size:,} bytes)")
