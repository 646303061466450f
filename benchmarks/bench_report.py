"""Benchmark: `scripts/report.py` on seeded runs of 1,500, 10,000 and 300,000 items.

Run by hand from any directory, with the interpreter that has the scripts' dependencies:

    python benchmarks/bench_report.py [--sizes 1500,10000,300000] [--repeat 3]

Each run is generated as bench_print_clusters.py generates it (25 clusters and noise, saved as
content blocks around a HogQL JSON response) and the report written to an HTML file by a fresh
interpreter, --repeat times. The table gives the best wall time, the page's size and the items
drawn on the map; the targets are checked (a 10,000-item run's page under 2 MB, written in under
a second; larger runs thinned to about 10,000 marks) and a miss exits 1.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.bench_print_clusters import machine, write_json_shape  # noqa: E402

REPORT = HERE.parent / "scripts" / "report.py"
TARGET_ITEMS, TARGET_BYTES, TARGET_SECONDS = 10_000, 2_000_000, 1.0


def measure(data: Path, page: Path, repeat: int) -> tuple[float, str]:
    best, said = float("inf"), ""
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(REPORT), str(data), "--output", str(page)],
                              capture_output=True, text=True, check=True)
        best = min(best, time.perf_counter() - started)
        said = done.stdout
    return best, said


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1500,10000,300000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(machine())
    print("| items | input MB | wall s (best) | page KB | marks on the map |")
    print("|--:|--:|--:|--:|--:|")
    failed = []
    with tempfile.TemporaryDirectory() as folder:
        for items in (int(s) for s in args.sizes.split(",")):
            data, page = Path(folder) / f"run{items}.json", Path(folder) / f"report{items}.html"
            write_json_shape(data, items, clusters_as_string=False)
            seconds, said = measure(data, page, args.repeat)
            size = page.stat().st_size
            marks = int(re.search(r"([\d,]+) items on the map", said).group(1).replace(",", ""))
            print(f"| {items:,} | {data.stat().st_size / 1e6:.1f} | {seconds:.2f} | {size / 1024:,.0f} | "
                  f"{marks:,}{' (thinned)' if 'thinned' in said else ''} |")
            if items == TARGET_ITEMS and (size >= TARGET_BYTES or seconds >= TARGET_SECONDS):
                failed.append(f"{items:,} items: {size:,} bytes in {seconds:.2f} s")
            if items > TARGET_ITEMS and "thinned" not in said:
                failed.append(f"{items:,} items: not thinned")
    if failed:
        print("targets missed: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
