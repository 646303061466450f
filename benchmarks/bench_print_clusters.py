"""Benchmark: `scripts/print_clusters.py` against a json.load-everything reader (upstream's way).

Run by hand from any directory, with the interpreter that has the scripts' dependencies:

    python benchmarks/bench_print_clusters.py [--sizes 1500,10000,300000] [--repeat 3] [--keep DIR]

For each size it generates one seeded clustering run (25 clusters plus noise) and saves it in
three shapes a coding agent persists:
  a  content blocks around a HogQL JSON response, clusters as native JSON (the shape issue 2 names)
  b  content blocks around execute-sql's pipe table (what the MCP tool returns today)
  c  content blocks around a HogQL JSON response, clusters as a JSON string (JSONExtractRaw)
Each program runs as a fresh interpreter per measurement; the table gives the best wall time of
--repeat runs and the highest peak RSS seen. Our default-view output is checked against the
baseline's (cluster ids, sizes, best-ranked item ids); a mismatch or an unexpected failure exits 1.
The baseline cannot read shape b at all, as upstream cannot: that cell says "fails".

Files go to a temporary folder, or to --keep DIR (benchmarks/data/ is git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import ijson

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # for localposthog.mcp_format, which builds the pipe table shape
from localposthog.mcp_format import format_execute_sql, persisted_content  # noqa: E402

OURS = REPO / "scripts" / "print_clusters.py"
BASELINE = HERE / "baseline_json_load.py"
SEED = 20260123
CLUSTERS = 25
NOISE_SHARE = 0.08
CENTROID_DIMS = 100
# Issue 2's targets, on shape a: time at both sizes, peak RSS at the larger.
TIME_TARGET_ITEMS = (10_000, 300_000)
STARTUP_RATIO_TARGETS = {1_500: 2.0, 10_000: 1.5}  # ours / json.load, whole process
RSS_TARGET_ITEMS = 300_000
RSS_TARGET_MIB = 64
COLUMNS = ["run_id", "level", "job_id", "job_name", "window_start", "window_end", "total_items",
           "clusters", "params"]
SHAPES = {
    "a": "content-block + JSON",
    "b": "content-block + pipe table",
    "c": "content-block + JSON, clusters as string",
}
WINDOW_END = datetime(2026, 1, 23, tzinfo=timezone.utc)
WINDOW_START = WINDOW_END - timedelta(days=7)

TOPICS = [
    ("Order status and delivery delay questions",
     "Customers ask where their order is", "the assistant looks up tracking and quotes a date"),
    ("Refund requests | billing disputes",
     "Users ask for a refund after a double charge", "the assistant opens a billing ticket"),
    ("Password reset and 2FA lockouts",
     "Users cannot log in after changing phones", "the assistant walks through account recovery"),
    ("SQL generation for analytics dashboards",
     "Analysts describe a chart in plain words", "the model writes a HogQL query and explains it"),
    ("Summarising long support email threads",
     "Agents paste a thread of 10+ emails", "the model returns a three-bullet summary"),
    ("Code review comments on Python pull requests",
     "Developers paste a diff", "the model flags bugs and style issues, sometimes too many"),
    ("Translating product docs into Spanish and German",
     "Writers send Markdown pages", "the model keeps code blocks intact but drops some links"),
    ("Résumé screening for engineering roles",
     "Recruiters upload CVs", "the model scores them against a rubric — scores drift by model"),
    ("Tool-calling failures on the weather API",
     "The agent calls get_weather with a bad city", "the tool returns 404 and the agent retries"),
    ("Recipe suggestions from fridge contents",
     "Users list ingredients", "the model proposes recipes, often ignoring allergies"),
    ("Contract clause extraction from PDFs",
     "Legal staff upload contracts", "the model extracts termination and renewal clauses"),
    ("Meeting notes to action items",
     "Users paste transcripts", "the model lists owners and due dates"),
    ("Customer sentiment triage for tickets",
     "New tickets arrive unlabelled", "the model tags urgency and sentiment"),
    ("Onboarding questions about pricing tiers",
     "Trial users ask what the paid plan includes", "the assistant quotes the pricing page"),
    ("Jailbreak attempts and prompt injection",
     "Users ask the bot to ignore its instructions", "the guardrail refuses; some slip through"),
    ("Data export requests (CSV, GDPR)",
     "Users ask for all their data", "the assistant explains the export flow and its limits"),
    ("Shipping address changes after checkout",
     "Users want to change the address", "the assistant can only do it before dispatch"),
    ("Bug reports about the mobile app crashing",
     "Users describe crashes on Android 14", "the assistant collects device details"),
    ("Marketing copy for product launches",
     "Marketers ask for taglines", "the model writes five options in the brand voice"),
    ("Math tutoring: algebra word problems",
     "Students paste homework", "the model explains step by step, sometimes with arithmetic slips"),
    ("RAG answers citing the internal wiki",
     "Employees ask policy questions", "the retriever finds stale pages for some topics"),
    ("Slow responses on long-context prompts",
     "Prompts above 50k tokens", "latency climbs past 30 s and some calls time out"),
    ("Product comparisons against competitors",
     "Prospects ask how we compare", "the assistant stays factual but hedges a lot"),
    ("Invoice line-item reconciliation",
     "Finance uploads invoices and POs", "the model matches lines and flags differences"),
    ("Small talk and greetings",
     "Users say hello or thanks", "the assistant answers briefly; cheap, fast calls"),
]


# --- data -------------------------------------------------------------------------------------

def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _sizes(items: int, rng: random.Random) -> list[int]:
    """Cluster sizes summing to `items`: a long tail like HDBSCAN's, noise last."""
    noise = round(items * NOISE_SHARE)
    weights = [1 / (i + 1) ** 0.8 for i in range(CLUSTERS)]
    rng.shuffle(weights)
    rest = items - noise
    sizes = [int(rest * w / sum(weights)) for w in weights]
    sizes[0] += rest - sum(sizes)
    return sizes + [noise]


def _metrics(size: int, rng: random.Random) -> dict:
    avg_cost = rng.uniform(0.0005, 0.05)
    error_rate = rng.choice([0.0, rng.uniform(0.0, 0.2)])
    return {"avg_cost": avg_cost, "avg_latency": rng.uniform(0.4, 25.0),
            "avg_tokens": rng.uniform(300, 6000), "total_cost": avg_cost * size,
            "error_rate": error_rate, "error_count": round(error_rate * size), "item_count": size}


def _timestamp(rng: random.Random) -> str:
    window_us = int((WINDOW_END - WINDOW_START).total_seconds() * 1e6)
    return (WINDOW_START + timedelta(microseconds=rng.randrange(window_us))).isoformat()


def iter_clusters(items: int) -> Iterator[dict]:
    """The run's `$ai_clusters`, one cluster at a time (the largest holds under a fifth of the items),
    so a writer never holds the whole run. Same `items`, same clusters: the shapes match."""
    rng = random.Random(SEED + items)
    sizes = _sizes(items, rng)
    for cluster_id, size in enumerate(sizes[:-1]):
        title, who, what = TOPICS[cluster_id]
        cx, cy = rng.uniform(-8, 8), rng.uniform(-8, 8)
        distances = sorted(rng.uniform(0.05, 1.5) for _ in range(size))
        yield {
            "cluster_id": cluster_id, "size": size, "title": title,
            "description": (f"- {who}; {what}.\n- Most traces are single-turn; a few run 5+ tool "
                            "calls.\n- Typical models: gpt-4o-mini, claude-3-5-haiku."),
            "traces": _items(distances, cx, cy, rng),
            "centroid": [rng.gauss(0, 1) for _ in range(CENTROID_DIMS)],
            "centroid_x": cx, "centroid_y": cy, "metrics": _metrics(size, rng),
        }
    # Noise: distance to the nearest centroid, ranked DESCENDING (rank 0 = most anomalous).
    size = sizes[-1]
    distances = sorted((rng.uniform(1.0, 4.0) for _ in range(size)), reverse=True)
    yield {
        "cluster_id": -1, "size": size, "title": "Outliers",
        "description": "Items that did not fit into any cluster",
        "traces": _items(distances, 0.0, 0.0, rng, spread=6.0),
        "centroid": [], "centroid_x": rng.uniform(-1, 1), "centroid_y": rng.uniform(-1, 1),
        "metrics": _metrics(size, rng),
    }


def _items(distances: list[float], cx: float, cy: float, rng: random.Random,
           spread: float = 1.0) -> dict:
    """Item entries keyed by trace id, in rank order as PostHog writes them."""
    traces = {}
    for rank, distance in enumerate(distances):
        trace_id = _uuid(rng)
        traces[trace_id] = {"distance_to_centroid": distance, "rank": rank,
                            "x": rng.gauss(cx, spread), "y": rng.gauss(cy, spread),
                            "timestamp": _timestamp(rng), "trace_id": trace_id,
                            "generation_id": None}
    return traces


def run_row(items: int, clusters) -> list:
    job_id = "019cb7f3-a126-7809-bffc-7f13bffe1325"
    params = {"clustering_method": "hdbscan", "clustering_method_params": {},
              "embedding_normalization": "l2", "dimensionality_reduction_method": "umap",
              "dimensionality_reduction_ndims": CENTROID_DIMS, "visualization_method": "umap",
              "max_samples": items}
    return [f"1_trace_{WINDOW_END:%Y%m%d_%H%M%S}_{job_id}", "trace", job_id, "Default - traces",
            WINDOW_START.isoformat(), WINDOW_END.isoformat(), items, clusters, params]


# --- files ------------------------------------------------------------------------------------

def _escaped(pieces: Iterator[str], ensure_ascii: bool) -> Iterator[str]:
    """The pieces as the body of one JSON string; escaping is per character, so piecewise is exact."""
    for piece in pieces:
        yield json.dumps(piece, ensure_ascii=ensure_ascii)[1:-1]


def _clusters_json(items: int) -> Iterator[str]:
    yield "["
    for index, cluster in enumerate(iter_clusters(items)):
        yield ("," if index else "") + json.dumps(cluster, separators=(",", ":"), ensure_ascii=False)
    yield "]"


def _hogql_response(items: int, clusters_as_string: bool) -> Iterator[str]:
    """A HogQL API response as DRF writes it (compact, UTF-8), the clusters cell streamed."""
    placeholder = "\0clusters\0"
    response = {"columns": COLUMNS, "results": [run_row(items, placeholder)], "hasMore": False}
    head, tail = json.dumps(response, separators=(",", ":"), ensure_ascii=False).split(
        json.dumps(placeholder, ensure_ascii=False))
    yield head
    if clusters_as_string:
        yield '"'
        yield from _escaped(_clusters_json(items), ensure_ascii=False)
        yield '"'
    else:
        yield from _clusters_json(items)
    yield tail


def write_json_shape(path: Path, items: int, clusters_as_string: bool) -> None:
    """Shapes a and c, streamed: json.dumps([{"type": "text", "text": <response>}]) written
    piece by piece so generating 85 MB does not need GBs."""
    with path.open("w", encoding="utf-8") as file:
        file.write('[{"type": "text", "text": "')
        for piece in _escaped(_hogql_response(items, clusters_as_string), ensure_ascii=True):
            file.write(piece)
        file.write('"}]')


def write_pipe_shape(path: Path, items: int) -> None:
    """Shape b, with the project's own model of execute-sql; it needs the run in memory
    (a few hundred MB at 300,000 items), which is fine for a one-off generation."""
    # JSON columns hold JSONExtractRaw's text.
    row = [json.dumps(cell, separators=(",", ":"), ensure_ascii=False)
           if isinstance(cell, (dict, list)) else cell
           for cell in run_row(items, list(iter_clusters(items)))]
    text = format_execute_sql(COLUMNS, [row], truncate=False)
    path.write_text(persisted_content(text, "content-blocks"), encoding="utf-8")


# --- measuring --------------------------------------------------------------------------------

# Each measurement runs in this small wrapper process, whose only child is the program measured:
# its RUSAGE_CHILDREN ru_maxrss is then that child's peak alone. Measured from this (large) process
# directly, a child's ru_maxrss could include our own RSS, which the kernel carries over at fork;
# the wrapper's own ~10 MiB carried over that way is below any Python program's peak.
WRAPPER = """\
import json, resource, subprocess, sys, time
out, err, *command = sys.argv[1:]
with open(out, "wb") as stdout, open(err, "wb") as stderr:
    start = time.perf_counter()
    code = subprocess.run(command, stdout=stdout, stderr=stderr).returncode
    wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "exit": code,
                  "peak_kib": usage.ru_maxrss}))
"""


@dataclass
class Measure:
    wall: float
    cpu: float  # user + system seconds: unlike wall time, barely moved by other load
    peak_mib: float
    exit: int
    stdout: str
    stderr: str


def child_environment(scratch: Path) -> dict:
    """Programs run as users run them, with compiled bytecode cached: without it (some shells
    set PYTHONDONTWRITEBYTECODE) our ~15 modules are compiled again at every start while the
    one-file baseline hardly notices. The cache goes to the scratch folder, not the repo."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    return env


def warm_up(env: dict) -> None:
    """Fill the bytecode cache, so no measured run pays for compiling."""
    subprocess.run([sys.executable, str(OURS), "--help"], env=env, capture_output=True, check=True)
    subprocess.run([sys.executable, "-c", "import json"], env=env, check=True)


def measure(script: Path, data: Path, repeat: int, workdir: Path, env: dict) -> Measure:
    """Best wall and CPU time and highest peak RSS over `repeat` whole-process runs; output of
    the last."""
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    walls, cpus, peaks = [], [], []
    for _ in range(repeat):
        report = subprocess.run([sys.executable, "-c", WRAPPER, str(out), str(err), sys.executable,
                                 str(script), str(data)], env=env, capture_output=True, text=True,
                                check=True)
        result = json.loads(report.stdout)
        walls.append(result["wall"])
        cpus.append(result["cpu"])
        peaks.append(result["peak_kib"] / 1024)
        if result["exit"] != 0:
            break  # a failure is not worth timing again
    return Measure(min(walls), min(cpus), max(peaks), result["exit"], out.read_text(encoding="utf-8"),
                   err.read_text(encoding="utf-8"))


# --- checking ---------------------------------------------------------------------------------

_CLUSTER_LINE = re.compile(r"^cluster (-?\d+) \(([\d,]+) items?\):", re.M)
_ITEM_LINE = re.compile(r"^\s+#(\d+) d=\S+ \S+ (\S+)$")


def summary_data(output: str) -> dict:
    """{cluster id: (size, [(rank, item id), …])} from our default view or the baseline's."""
    data: dict = {}
    current = None
    for line in output.splitlines():
        header = _CLUSTER_LINE.match(line)
        if header:
            current = int(header[1])
            data[current] = (int(header[2].replace(",", "")), [])
        elif current is not None and (item := _ITEM_LINE.match(line)):
            data[current][1].append((int(item[1]), item[2]))
        else:
            current = None
    return data


def check_same(ours: dict, baseline: dict, what: str) -> None:
    if not ours or ours != baseline:
        raise SystemExit(f"error: {what}: our output and the baseline's disagree (or are empty)\n"
                         f"ours:     {sorted(ours.items())[:3]} …\n"
                         f"baseline: {sorted(baseline.items())[:3]} …")


# --- main -------------------------------------------------------------------------------------

def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                  if line.startswith("model name")), platform.processor() or "?")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"Machine: {len(os.sched_getaffinity(0))} CPUs ({model}), Python "
            f"{platform.python_version()}, ijson backend {ijson.backend_name}, load average {load} "
            "at the end of the run.")


def code_state() -> str:
    """Which print_clusters.py was measured: figures from a dirty tree are not the commit's."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True,
                              text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "scripts")
    return (f"Code: commit {commit}"
            + (", with uncommitted changes in scripts/." if dirty else ", scripts/ clean."))


def bench_size(items: int, folder: Path, scratch: Path, repeat: int,
               env: dict) -> tuple[list[str], list[str]]:
    """Generate one run of `items` in every shape, measure both programs on each, check them;
    return the table rows and the target verdicts."""
    files = {shape: folder / f"run-{items}-{shape}.txt" for shape in SHAPES}
    print(f"generating {items:,} items …", file=sys.stderr)
    write_json_shape(files["a"], items, clusters_as_string=False)
    write_pipe_shape(files["b"], items)
    write_json_shape(files["c"], items, clusters_as_string=True)
    rows, verdicts = [], []
    expected = None  # the baseline's reading of shape a; every shape holds the same run
    for shape, path in files.items():
        print(f"measuring {items:,} items, shape {shape} …", file=sys.stderr)
        ours = measure(OURS, path, repeat, scratch, env)
        base = measure(BASELINE, path, repeat, scratch, env)
        if ours.exit != 0:
            raise SystemExit(f"error: print_clusters.py failed on {path} (exit {ours.exit}):\n"
                             f"{ours.stderr}")
        if shape == "b":
            if base.exit == 0:  # upstream cannot read the pipe table; if this one can, look why
                raise SystemExit("error: the baseline unexpectedly read the pipe table")
        elif base.exit != 0:
            raise SystemExit(f"error: the baseline failed on {path}:\n{base.stderr}")
        else:
            expected = summary_data(base.stdout)
        check_same(summary_data(ours.stdout), expected, f"{items:,} items, shape {shape}")
        base_wall, base_peak = (("fails", "fails") if base.exit
                                else (f"{base.wall:.2f}", f"{base.peak_mib:.1f}"))
        rows.append(f"| {shape}: {SHAPES[shape]} | {items:,} | {path.stat().st_size / 1e6:.1f} | "
                    f"{ours.wall:.2f} | {base_wall} | {ours.peak_mib:.1f} | {base_peak} |")
        if shape == "a" and items in TIME_TARGET_ITEMS:
            verdicts.append(_verdict(items, ours, base))
        if shape == "a" and items in STARTUP_RATIO_TARGETS:
            verdicts.append(_ratio_verdict(items, ours, base))
    return rows, verdicts


def _ratio_verdict(items: int, ours: Measure, base: Measure) -> str:
    """Small runs are mostly start-up: ours may take at most a set multiple of json.load's time."""
    target = STARTUP_RATIO_TARGETS[items]
    met = "met" if ours.wall <= target * base.wall else "MISSED"
    return (f"- {items:,} items: wall time within {target}x json.load's ({ours.wall / base.wall:.2f}x: "
            f"{ours.wall:.3f} s vs {base.wall:.3f} s; CPU {ours.cpu / base.cpu:.2f}x): {met}")


def _verdict(items: int, ours: Measure, base: Measure) -> str:
    faster = "met" if ours.wall <= base.wall else "MISSED"
    line = (f"- {items:,} items: wall time no worse than json.load ({ours.wall:.3f} s vs "
            f"{base.wall:.3f} s; CPU {ours.cpu:.3f} s vs {base.cpu:.3f} s): {faster}")
    if items == RSS_TARGET_ITEMS:
        rss = "met" if ours.peak_mib <= RSS_TARGET_MIB else "MISSED"
        line += f"; peak RSS <= {RSS_TARGET_MIB} MiB ({ours.peak_mib:.1f} MiB): {rss}"
    return line


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1500,10000,300000",
                        help="item counts, comma-separated (default 1500,10000,300000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; best time kept")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write the files here and keep them")
    args = parser.parse_args(argv)
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory(prefix="bench-clusters-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        env = child_environment(Path(scratch))
        warm_up(env)
        for items in (int(s) for s in args.sizes.split(",")):
            size_rows, size_verdicts = bench_size(items, folder, Path(scratch), args.repeat, env)
            rows += size_rows
            verdicts += size_verdicts
    print("| shape | items | file MB | ours s | baseline s | ours peak MiB | baseline peak MiB |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    print("\n".join(rows))
    print()
    print(machine())
    print(code_state())
    print(f"Best of {args.repeat} runs for time, highest of them for peak RSS; bytecode cached. "
          "CPU time (user + system) is given with the targets: on a loaded machine it tells a "
          "real difference from noise.")
    if verdicts:
        print("Targets on shape a (no slower than json.load at 10,000 and 300,000 items; start-up "
              "within 2x of it at 1,500 and 1.5x at 10,000):")
        print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
