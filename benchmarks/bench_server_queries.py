"""Benchmark: the server-side queries on the local engine as the window's traffic grows, beside
downloading the run(s) they replace.

Run by hand from any directory, with the interpreter that has chdb and the scripts' dependencies:

    python benchmarks/bench_server_queries.py [--scales 1,10] [--repeat 3] [--keep DIR]

For each dataset scale (the local PostHog's `dataset.build_dataset(scale=…)`: traffic and run
sizes grow with it) it opens the engine and, for the newest daily run of each level, times each
entry of QUERIES (best of --repeat) and measures what the agent gets back: the execute-sql text
(truncate on for the small answers, off for a downloaded run, as SKILL.md asks) in characters.
Each entry pairs a server-side query with the download it replaces (the SKILL.md load-run query,
once per run the answer needs), so the table reads side by side. To add a query, append an
Entry: its name, how many runs its download would take, and a function from (engine, run) to
its SQL.

Datasets go to a temporary folder, or to --keep DIR (benchmarks/data/ is git-ignored).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]
from llm_clusters.posthog.compare_sql import last_sql, previous_sql, query_bytes  # noqa: E402
from llm_clusters.posthog.drilldown_sql import drilldown_query  # noqa: E402
from llm_clusters.posthog.metrics_sql import run_target, server_side_query  # noqa: E402
from llm_clusters.posthog.overview_sql import overview_query  # noqa: E402
from llm_clusters.posthog.queries import load_run_sql  # noqa: E402
from localposthog.answers import execute_sql_text  # noqa: E402
from localposthog.engine import Engine  # noqa: E402

AI_EVENTS = ("$ai_generation", "$ai_embedding", "$ai_span", "$ai_trace")


@dataclass(frozen=True)
class Entry:
    name: str
    runs_downloaded: int  # how many whole runs (the job's newest) the answer takes without this query
    sql: Callable[[Engine, dict], str]  # (engine, the newest run's ground truth) -> query


def _target(run: dict):
    return run_target(run["run_id"], run["level"], run["window_start"], run["window_end"])


QUERIES = [
    Entry("overview", 1, lambda engine, run: overview_query(_target(run))),
    Entry("drill-down (cluster 0, 20 costliest)", 1,
          lambda engine, run: drilldown_query(_target(run), 0, sort="cost", limit=20)),
    Entry("comparison (run and previous)", 2, lambda engine, run: previous_sql(run["run_id"])),
    Entry("comparison (job's last 5 runs)", 5, lambda engine, run: last_sql(5, run["job_id"], run["level"])),
    Entry("metrics per cluster", 1, lambda engine, run: server_side_query(_target(run))),
]


def best_time(engine: Engine, sql: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        engine.query(sql)
        times.append(time.perf_counter() - started)
    return min(times)


def newest_runs(engine: Engine) -> list[dict]:
    """The newest daily (job) run of each level."""
    daily = [r for r in engine.runs if r["job_name"]]
    return [max((r for r in daily if r["level"] == level), key=lambda r: r["window_end"])
            for level in ("trace", "generation")]


def job_runs(engine: Engine, run: dict, count: int) -> list[dict]:
    """The `count` newest runs of the run's job up to the run, oldest first."""
    runs = sorted((r for r in engine.runs
                   if r["job_id"] == run["job_id"] and r["window_end"] <= run["window_end"]),
                  key=lambda r: r["window_end"])
    return runs[-count:]


def measure(scale: float, folder: Path, repeat: int) -> list[list[str]]:
    engine = Engine.open(folder / f"scale{scale:g}", scale=scale)
    try:
        names = ",".join(f"'{name}'" for name in AI_EVENTS)
        events = engine.query(f"SELECT count() FROM events WHERE event IN ({names}) LIMIT 1").rows[0][0]
        rows = []
        for run in newest_runs(engine):
            items = sum(len(c["items"]) for c in run["clusters"])
            for entry in QUERIES:
                sql = entry.sql(engine, run)
                answer = execute_sql_text(engine, sql)
                loads = [load_run_sql(r["run_id"]) for r in job_runs(engine, run, entry.runs_downloaded)]
                download_time = sum(best_time(engine, q, repeat) for q in loads)
                download_chars = sum(len(execute_sql_text(engine, q, truncate=False)) for q in loads)
                rows.append([f"{scale:g}", f"{events:,}", run["level"], f"{items:,}", entry.name,
                             f"{query_bytes(sql):,}", f"{best_time(engine, sql, repeat) * 1000:,.0f}",
                             f"{len(answer):,}", f"{download_time * 1000:,.0f}", f"{download_chars:,}",
                             f"{download_chars / len(answer):,.0f}x"])
        return rows
    finally:
        engine.close()


HEADERS = ["scale", "AI events", "level", "run items", "query", "query bytes", "query ms",
           "answer chars", "download ms", "download chars", "download / answer"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,10", help="dataset scales (default 1,10)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per query; the best is shown")
    parser.add_argument("--keep", type=Path, help="build the datasets in this folder and keep them")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        rows = [row for scale in scales for row in measure(scale, folder, args.repeat)]
    print(f"Python {platform.python_version()}, {platform.machine()}; best of {args.repeat}\n")
    print("| " + " | ".join(HEADERS) + " |")
    print("|" + "---|" * len(HEADERS))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
