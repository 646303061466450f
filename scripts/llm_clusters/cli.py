"""What every entry script shares: importing its command without a traceback when a dependency
is missing, and turning errors into one paragraph and an exit code.

Only the standard library is imported here, so the missing-dependency message always works.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import Callable, TextIO

from .errors import EXIT_CODES_HELP, ClusterToolError, ExitStatus

DEPENDENCIES = ("ijson", "httpx")
INSTALL_COMMAND = "python -m pip install httpx ijson"


def missing_dependency(package: str) -> str:
    return (f"the Python package '{package}' is not installed. Install the scripts' dependencies "
            f"with: {INSTALL_COMMAND}  (or run the script with `uv run`, which reads them from "
            "the script itself).")


def run_command(module: str, argv: list[str] | None = None) -> int:
    """Import `llm_clusters.commands.<module>` and run its `main`."""
    try:
        command = importlib.import_module(f"llm_clusters.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name not in DEPENDENCIES:
            raise
        print(f"error: {missing_dependency(exc.name)}", file=sys.stderr)
        return ExitStatus.MISSING_DEPENDENCY
    return command.main(sys.argv[1:] if argv is None else argv)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, without its `import shutil` (which pulls in compression modules) each time
    a parser is built: the width comes from COLUMNS or the terminal, as shutil would read it."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


def terminal_columns() -> int:
    """COLUMNS, else the terminal's width, else 80: shutil.get_terminal_size's columns."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the exit codes in --help, and usage errors that say what to do."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        super().__init__(**kwargs)

    def error(self, message: str):
        raise ClusterToolError(f"{message}. Run `{self.prog} --help` for the flags and what "
                               "they take.", ExitStatus.USAGE)

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            print(message, file=sys.stderr, end="")
        raise _Exit(status)


def whole_number(value: str) -> int:
    """argparse type for counts and limits: a whole number >= 0."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return number


def positive_number(value: str) -> int:
    """argparse type: a whole number > 0."""
    number = whole_number(value)
    if number == 0:
        raise argparse.ArgumentTypeError("expected a number > 0, got 0")
    return number


class _Exit(Exception):
    def __init__(self, status: int):
        self.status = status


def guarded(body: Callable[[], int], stderr: TextIO) -> int:
    """Run a command body; a `ClusterToolError` or anything unexpected becomes a message."""
    try:
        return body()
    except _Exit as exit_:
        return exit_.status
    except ClusterToolError as exc:
        print(f"error: {exc.message}", file=stderr)
        return exc.status
    except KeyboardInterrupt:
        print("interrupted", file=stderr)
        return 130
    except Exception as exc:  # the last line of defence: no traceback for the user
        if isinstance(exc, ModuleNotFoundError) and exc.name in DEPENDENCIES:
            print(f"error: {missing_dependency(exc.name)}", file=stderr)  # imported on first use
            return ExitStatus.MISSING_DEPENDENCY
        print(f"error: unexpected {type(exc).__name__}: {exc}. This is a bug in the scripts; "
              "please report it with the command line that caused it.", file=stderr)
        return ExitStatus.ERROR
