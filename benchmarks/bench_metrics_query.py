"""Benchmark: the per-cluster metrics query as the skill sends it, against the same query reading
AI events' properties with JSON functions (how it was written before PostHog's storage was
taken into account), on the local PostHog (chdb) as the window's traffic grows.

Run by hand from the repository root, with the test extra installed (chdb, hogql-parser):

    python benchmarks/bench_metrics_query.py [--scales 1,10] [--repeat 3] [--keep DIR]

For each scale it builds the seeded dataset (generation events carry prompt- and
completion-sized `$ai_input` / `$ai_output_choices`, about 4 characters a token, as real
traffic does), loads it into the engine (a MergeTree laid out as PostHog's `events`, with the
materialised, bloom-filter-indexed `mat_$ai_trace_id`), and times both queries on the newest
daily trace-level run and on the manual 200-item generation run, in three forms: best of
--repeat, after one warm-up. The answers must be equal row for row (floats to 1e-9: sums may
add in another order), else it exits 1.

  as sent             property access (`properties.$ai_trace_id` is the materialised column,
                      `toFloat(properties.$ai_latency)` reads the AI property group), AI events
                      narrowed to the run's traces by `properties.$ai_trace_id IN (…)` before the join
  without narrowing   the same, without the `IN (…)`: every AI event of the window is joined
  JSON functions      `JSONExtractString/Float/Raw(properties, '$ai_…')` without narrowing:
                      every AI event's whole properties JSON (prompts included) is parsed
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "scripts"), str(REPO)]

from llm_clusters.posthog.metrics_sql import run_target, server_side_query  # noqa: E402
from localposthog import dataset  # noqa: E402
from localposthog.engine import Engine  # noqa: E402

# The property reads of the query as sent, and the JSON-function reads they replaced.
_JSON_READS = [
    (r"ifNull\(toFloat\(properties\.(\$ai_\w+)\),0\)", r"JSONExtractFloat(properties,'\1')"),
    (r"ifNull\(toString\(properties\.\$ai_is_error\)='true',0\)",
     "JSONExtractRaw(properties,'$ai_is_error') IN ('true','\"true\"')"),
    (r"ifNull\(properties\.\$ai_model,''\)", "JSONExtractString(properties,'$ai_model')"),
    (r"properties\.\$ai_trace_id", "JSONExtractString(properties,'$ai_trace_id')"),
]
_NARROWING = " AND properties.$ai_trace_id IN ("


def _without_narrowing(query: str) -> str:
    """The query with its `item key IN (the run's items)` condition taken out."""
    start = query.index(_NARROWING)
    depth = 0
    for end in range(start + len(_NARROWING) - 1, len(query)):
        depth += {"(": 1, ")": -1}.get(query[end], 0)
        if depth == 0:
            return query[:start] + query[end + 1:]
    raise ValueError("unbalanced narrowing condition")


def json_function_variant(query: str) -> str:
    """The same query reading AI events' properties with JSON functions."""
    for pattern, replacement in _JSON_READS:
        query = re.sub(pattern, replacement, query)
    return query


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-9) if isinstance(x, float) and isinstance(y, float) else x == y
        for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b, strict=True))


def _best_time(engine: Engine, sql: str, repeat: int) -> tuple[float, list]:
    rows = engine.query(sql).rows  # warm-up, and the answer
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        engine.query(sql)
        times.append(time.perf_counter() - started)
    return min(times), rows


def measure(scale: float, repeat: int, folder: Path) -> list[dict]:
    """Per run measured: the newest daily trace run (it samples most of its window, as the
    dataset's runs do) and the manual generation run (200 items, whatever the traffic, as a
    PostHog run samples at most 1,500 of a window that grows with the team)."""
    data_dir = dataset.ensure_dataset(folder / f"scale-{scale:g}", seed=0, scale=scale)
    engine = Engine(data_dir)
    rows = []
    try:
        daily = [r for r in engine.runs if r["level"] == "trace" and r["job_name"]][-1]
        manual = next(r for r in engine.runs if r["level"] == "generation" and not r["job_name"])
        for run in (daily, manual):
            query = server_side_query(run_target(run["run_id"], run["level"], run["window_start"],
                                                 run["window_end"]))
            variants = {"sent": query, "no narrowing": _without_narrowing(query),
                        "JSON functions": json_function_variant(_without_narrowing(query))}
            timed = {name: _best_time(engine, sql, repeat) for name, sql in variants.items()}
            if not all(_same(timed["sent"][1], answer) for _, answer in timed.values()):
                sys.exit(f"scale {scale}, run {run['run_id']}: the variants answered differently")
            rows.append({"scale": scale, "events": engine.ground_truth["event_count"],
                         "mb": (data_dir / dataset.EVENTS_FILE).stat().st_size / 1e6,
                         "level": run["level"], "items": run["total_items_analyzed"],
                         "window_items": run["window_item_count"],
                         **{name: seconds for name, (seconds, _) in timed.items()}})
    finally:
        engine.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10", help="dataset scales, comma-separated (default 1,10)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per query (best is kept)")
    parser.add_argument("--keep", type=Path, help="build the datasets here and keep them")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        results = [row for scale in scales for row in measure(scale, args.repeat, folder)]
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores; best of {args.repeat}; seconds\n")
    print("| scale | events | events MB | run level | run items / window items | as sent | "
          "without narrowing | JSON functions, without narrowing |")
    print("|--:|--:|--:|---|--:|--:|--:|--:|")
    for r in results:
        print(f"| {r['scale']:g} | {r['events']:,} | {r['mb']:.0f} | {r['level']} | "
              f"{r['items']:,} / {r['window_items']:,} | {r['sent']:.3f} | {r['no narrowing']:.3f} | "
              f"{r['JSON functions']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
