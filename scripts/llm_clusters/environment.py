"""What a command reads from its process besides its arguments: the standard streams and the
environment variables. Commands are handed an `Environment` instead of reaching for `sys` and
`os.environ`, so a test (or an embedding program) gives its own.

The variables' names live here too: argument help names them without importing the modules that
use them."""

from __future__ import annotations

import io
import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import BinaryIO, Mapping, TextIO

HOST_ENV = "POSTHOG_HOST"  # us, eu or a URL
PROJECT_ENV = "POSTHOG_PROJECT_ID"
ROUTE_ENV = "POSTHOG_ROUTE"  # the route family the user's own links use, set once like the host
KEY_ENV = "POSTHOG_PERSONAL_API_KEY"  # live mode; read only from the environment, never a flag


class Environment:
    """Standard input (bytes: the reader decodes it), output and error, and the variables."""

    __slots__ = ("stdin", "stdout", "stderr", "variables")

    def __init__(self, stdin: BinaryIO, stdout: TextIO, stderr: TextIO, variables: Mapping[str, str]):
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.variables = variables

    @classmethod
    def of_process(cls) -> Environment:
        stdin = sys.stdin.buffer if sys.stdin is not None else io.BytesIO()  # None when closed
        return cls(stdin, sys.stdout, sys.stderr, os.environ)

    def setting(self, name: str) -> str:
        """A variable's value without surrounding blanks; "" when unset."""
        return self.variables.get(name, "").strip()
