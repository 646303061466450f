"""What every entry script shares: running its command in an `Environment`, importing it without a
traceback when a dependency is missing, and turning errors into one paragraph and an exit code.

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

from .environment import Environment
from .errors import EXIT_CODES_HELP, ClusterToolError, ExitStatus, UsageError

DEPENDENCIES = ("ijson", "httpx")
INSTALL_COMMAND = "python -m pip install httpx ijson"


def missing_dependency(package: str) -> str:
    return (f"the Python package '{package}' is not installed. Install the scripts' dependencies "
            f"with: {INSTALL_COMMAND}  (or run the script with `uv run`, which reads them from "
            "the script itself).")


def run_command(command: str, argv: list[str] | None = None, environment: Environment | None = None) -> int:
    """Run `llm_clusters.commands.<command>.main(argv, environment)`: by default on the process's
    arguments and environment. Every error, from the import on, becomes a message and a status."""
    environment = environment or Environment.of_process()
    argv = sys.argv[1:] if argv is None else argv

    def body() -> int:
        module = importlib.import_module(f"llm_clusters.commands.{command}")
        return module.main(argv, environment)

    return guarded(body, environment.stderr)


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

    environment: Environment | None = None  # where --help and argparse's messages go

    def parse_in(self, argv: list[str], environment: Environment) -> argparse.Namespace:
        """parse_args, writing --help and argparse's own messages to the environment's streams."""
        for parser in self._parsers():
            parser.environment = environment
        return self.parse_args(argv)

    def _parsers(self) -> list[ArgumentParser]:
        """This parser and its subcommands' parsers."""
        subparsers = [action for action in self._actions if isinstance(action, argparse._SubParsersAction)]
        return [self, *(parser for action in subparsers for parser in action.choices.values())]

    def _print_message(self, message: str, file: TextIO | None = None) -> None:
        if message and self.environment is not None:  # argparse passes sys.stdout for --help
            file = self.environment.stdout if file is sys.stdout else self.environment.stderr
        super()._print_message(message, file)

    def error(self, message: str):
        raise UsageError(message, self.prog)

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            self._print_message(message, sys.stderr)
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
