"""Rewrite `hogql_functions.json` from a PostHog checkout: the tables its HogQL printer checks.

    python -m localposthog.refresh_hogql_tables --posthog ~/src/posthog [--out FILE]

Run it with the interpreter of PostHog's own development environment (the tables are Python
modules that import the rest of PostHog). It imports `posthog.hogql.functions.mapping` from the
checkout, takes every entry of `HOGQL_AGGREGATIONS`, `HOGQL_CLICKHOUSE_FUNCTIONS` and
`HOGQL_POSTHOG_FUNCTIONS` (names, argument and parameter limits, case sensitivity, the
ClickHouse name), and records the commit of each table file (`git log -1`), so a diff of the
JSON shows what PostHog changed. Without `--out` it writes the file the validator reads.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from localposthog.hogql_check import TABLES_FILE

TABLES = (("HOGQL_AGGREGATIONS", "aggregation"), ("HOGQL_CLICKHOUSE_FUNCTIONS", "function"),
          ("HOGQL_POSTHOG_FUNCTIONS", "posthog_function"))
FIELDS = ("clickhouse_name", "min_args", "max_args", "min_params", "max_params", "aggregate",
          "case_sensitive")


def _commit(checkout: Path, path: Path) -> str:
    result = subprocess.run(["git", "-C", str(checkout), "log", "-1", "--format=%H", "--", str(path)],
                            capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown (not in git)"


def extract(checkout: Path) -> dict[str, Any]:
    """The tables of the PostHog checkout at `checkout`, in `hogql_functions.json`'s layout."""
    sys.path.insert(0, str(checkout))
    try:
        mapping = importlib.import_module("posthog.hogql.functions.mapping")
    finally:
        sys.path.remove(str(checkout))
    functions: dict[str, dict[str, Any]] = {}
    for attribute, table in TABLES:
        for name, meta in getattr(mapping, attribute, {}).items():
            # the printer's lookup order: an earlier table wins a name
            functions.setdefault(name, {**{f: getattr(meta, f, None) for f in FIELDS}, "table": table})
    folder = checkout / "posthog" / "hogql" / "functions"
    files = [{"path": str(p.relative_to(checkout)), "commit": _commit(checkout, p)}
             for p in sorted(folder.rglob("*.py"))]
    previous = json.loads(TABLES_FILE.read_text(encoding="utf-8"))
    return {"source": {**previous["source"], "files": files}, "defaults": previous["defaults"],
            "functions": dict(sorted(functions.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posthog", type=Path, required=True, help="a checkout of PostHog/posthog")
    parser.add_argument("--out", type=Path, default=TABLES_FILE,
                        help="where to write (default: the validator's)")
    args = parser.parse_args(argv)
    try:
        tables = extract(args.posthog.resolve())
    except ImportError as error:
        print(f"error: cannot import PostHog's function tables from {args.posthog} ({error}); run this "
              "with the Python of PostHog's development environment, inside its checkout.", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(tables, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    files = len(tables["source"]["files"])
    print(f"wrote {len(tables['functions'])} functions from {files} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
