"""Command line for the local PostHog: `python -m localposthog <command> --help`.

  query SQL      print exactly what PostHog's execute-sql tool would print (or, with
                 --persist-dir, save it as a coding agent does and print the file's path)
  runs           list the dataset's clustering runs
  serve          serve PostHog's query and clustering-jobs API on 127.0.0.1
  build          (re)build the dataset with a seed and scale

The dataset lives in `localposthog/data/` unless --data/--out says otherwise, and is built on
first use. Exit codes: 0 ok, 1 the query failed (PostHog would refuse it, or ClickHouse did), 2 bad
usage or input, or PostHog's parser (`hogql-parser`, in the test extra) is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from localposthog import dataset, mcp_format
from localposthog.hogql import QueryError
from localposthog.hogql_check import ParserUnavailable

EXIT_OK, EXIT_QUERY_FAILED, EXIT_USAGE = 0, 1, 2


class SandboxUsageError(Exception):
    """Bad input from the user; the message says what was expected."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localposthog", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_options(sub: argparse.ArgumentParser, flag: str = "--data") -> None:
        sub.add_argument(flag, dest="data", type=Path, default=None,
                         help=f"dataset folder (default {_default_dir()})")
        sub.add_argument("--seed", type=int, default=None,
                         help="rebuild with this seed if the dataset differs")
        sub.add_argument("--scale", type=float, default=None, help="size multiplier, 0.5..50 (default 1)")

    query = commands.add_parser("query", help="run HogQL and print what execute-sql prints")
    query.add_argument("sql", help="the HogQL query, or - to read it from stdin")
    query.add_argument("--truncate", action=argparse.BooleanOptionalAction, default=True,
                       help="cut JSON-looking cells over 500 characters like execute-sql (default: on)")
    query.add_argument("--persist-dir", type=Path,
                       help="save the answer as a coding agent does; print the path")
    query.add_argument("--shape", choices=mcp_format.PERSIST_SHAPES, default="content-blocks",
                       help="layout of the persisted file (default content-blocks)")
    query.add_argument("--max-chars", type=int,
                       help="cut the text like an MCP server at this many characters")
    data_options(query)

    runs = commands.add_parser("runs", help="list the dataset's clustering runs")
    runs.add_argument("--json", action="store_true", help="print the runs as JSON")
    data_options(runs)

    serve = commands.add_parser("serve", help="serve the query and clustering-jobs API on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8010,
                       help="port on 127.0.0.1 (0 = any free port; default 8010)")
    data_options(serve)

    build = commands.add_parser("build", help="(re)build the dataset")
    data_options(build, flag="--out")
    return parser


def _default_dir() -> Path:
    from localposthog.engine import DEFAULT_DATA_DIR

    return DEFAULT_DATA_DIR


def _dataset_dir(args: argparse.Namespace, stderr: TextIO, *, rebuild: bool = False) -> Path:
    """The dataset folder, built when missing, when asked to, or when --seed/--scale differ."""
    folder = args.data or _default_dir()
    built = dataset.built_with(folder)
    if built and not rebuild and args.seed in (None, built[0]) and args.scale in (None, built[1]):
        return folder
    seed = 0 if args.seed is None else args.seed
    scale = 1.0 if args.scale is None else args.scale
    print(f"building the dataset (seed {seed}, scale {scale}) in {folder} …", file=stderr)
    try:
        return dataset.write_dataset(dataset.build_dataset(seed, scale), folder)
    except ValueError as error:
        raise SandboxUsageError(str(error)) from None


def _engine(args: argparse.Namespace, stderr: TextIO):
    folder = _dataset_dir(args, stderr)
    try:
        from localposthog.engine import Engine

        return Engine(folder)
    except ImportError:
        raise SandboxUsageError("chdb is not installed; install it with `pip install chdb` "
                         "(it is in the project's test extra)") from None


def _query(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    from localposthog.answers import execute_sql_text, persist_execute_sql

    sql = stdin.read() if args.sql == "-" else args.sql
    if args.max_chars is not None and args.max_chars < 1:
        raise SandboxUsageError("--max-chars must be a positive number of characters")
    engine = _engine(args, stderr)
    if args.persist_dir:
        path = persist_execute_sql(engine, sql, args.persist_dir, shape=args.shape, truncate=args.truncate,
                                   max_chars=args.max_chars)
        print(path, file=stdout)
    else:
        print(execute_sql_text(engine, sql, truncate=args.truncate, max_chars=args.max_chars), file=stdout)
    return EXIT_OK


def _runs(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    truth = dataset.load_ground_truth(_dataset_dir(args, stderr))
    fields = ("run_id", "level", "format", "job_name", "window_start", "window_end", "max_samples",
              "window_item_count", "total_items_analyzed")
    summary = [{key: run[key] for key in fields} | {"clusters": len(run["clusters"])}
               for run in truth["runs"]]
    if args.json:
        print(json.dumps(summary, indent=1), file=stdout)
        return EXIT_OK
    header = ("run_id", "level", "format", "job_name", "window_end", "items", "clusters")
    rows = [(r["run_id"], r["level"], r["format"], r["job_name"] or "(manual/legacy)", r["window_end"],
             f"{r['total_items_analyzed']}/{r['window_item_count']}", str(r["clusters"])) for r in summary]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), file=stdout)
    return EXIT_OK


def _serve(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from localposthog.server import LocalPostHog

    if not 0 <= args.port <= 65535:
        raise SandboxUsageError(f"--port must be 0..65535, got {args.port}")
    server = LocalPostHog(_engine(args, stderr))
    try:
        server.start(args.port)
    except OSError as error:
        raise SandboxUsageError(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror}; "
                         "try another --port") from None
    print(f"POSTHOG_HOST={server.url}\nPOSTHOG_PROJECT_ID={server.project_id}\n"
          f"POSTHOG_PERSONAL_API_KEY={server.api_key}", file=stdout, flush=True)
    print("serving; press Ctrl-C to stop", file=stderr, flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return EXIT_OK


def _build(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    folder = _dataset_dir(args, stderr, rebuild=True)
    truth = dataset.load_ground_truth(folder)
    print(f"{folder}: {truth['event_count']} events, {len(truth['runs'])} clustering runs "
          f"(seed {truth['seed']}, scale {truth['scale']})", file=stdout)
    return EXIT_OK


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None,
         stdin: TextIO | None = None) -> int:
    stdout, stderr, stdin = stdout or sys.stdout, stderr or sys.stderr, stdin or sys.stdin
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse already printed the usage error
        return EXIT_USAGE if exit_.code else EXIT_OK
    try:
        if args.command == "query":
            return _query(args, stdout, stderr, stdin)
        if args.command == "runs":
            return _runs(args, stdout, stderr)
        if args.command == "serve":
            return _serve(args, stdout, stderr)
        return _build(args, stdout, stderr)
    except QueryError as error:
        print(f"error: query failed: {error}", file=stderr)
        return EXIT_QUERY_FAILED
    except (SandboxUsageError, ParserUnavailable) as error:
        print(f"error: {error}", file=stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
