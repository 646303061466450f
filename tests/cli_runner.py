"""Running the scripts in-process, as the tests do: through the same entry as
`python scripts/<command>.py`, with streams and environment variables of the test's own."""

from __future__ import annotations

import io

from llm_clusters.cli import run_command
from llm_clusters.environment import Environment


class CliRunner:
    """Runs a script in-process as `python scripts/<command>.py ARGV` would, and returns its exit
    status, standard output and standard error. Its environment variables are `variables` only:
    nothing of the shell the tests run in (a developer's POSTHOG_HOST must not change a result)."""

    def __init__(self, command: str | None):
        self.command = command
        self.variables: dict[str, str] = {}

    def __call__(self, *argv, stdin: bytes | None = None, env: dict[str, str] | None = None,
                 command: str | None = None) -> tuple[int, str, str]:
        """`env` replaces `variables` for this call; `command` the module's COMMAND."""
        out, err = io.StringIO(), io.StringIO()
        environment = Environment(io.BytesIO(stdin or b""), out, err, self.variables if env is None else env)
        status = run_command(command or self.command, [str(word) for word in argv], environment)
        return status, out.getvalue(), err.getvalue()

    def output(self, *argv, stdin: bytes | None = None, command: str | None = None) -> str:
        """The standard output of a run that must succeed."""
        status, out, err = self(*argv, stdin=stdin, command=command)
        assert status == 0, (command or self.command, argv, err)
        return out
