"""Run ids, parsed, so a script can find a run's time bounds from its id alone.

Formats (the timestamp is the window end, UTC):
  current  <team>_<level>_<YYYYMMDD>_<HHMMSS>[_<job uuid>][_<label>]
  older    <team>_<YYYYMMDD>_<HHMMSS>[_<label>]
Labels are free text and may contain `_`. Local seed runs put a random UUID where the job id
goes; it parses as the job id.
"""

from __future__ import annotations

import re
from collections import namedtuple
from datetime import datetime, timedelta, timezone

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

_RUN_ID = re.compile(
    r"(?P<team>\d+)_(?:(?P<level>trace|generation|evaluation)_)?"
    r"(?P<date>\d{8})_(?P<time>\d{6})"
    rf"(?:_(?P<job>{UUID_PATTERN}))?"
    r"(?:_(?P<label>.+))?",
    re.DOTALL,
)

# PostHog's scheduled runs look back seven days from the window end.
DEFAULT_LOOKBACK = timedelta(days=7)


class RunId(namedtuple("RunId", "team_id level window_end job_id label")):
    """team_id: int; level, job_id, label: str | None; window_end: datetime (UTC)."""

    __slots__ = ()

    def time_bounds(self, lookback: timedelta = DEFAULT_LOOKBACK,
                    margin: timedelta = timedelta(days=1)) -> tuple[datetime, datetime]:
        """Bounds that surely contain the run's window and its event: the run id gives only the
        window end, so the start is the usual lookback before it, widened by `margin`."""
        return self.window_end - lookback - margin, self.window_end + margin


def parse_run_id(run_id: str) -> RunId | None:
    """The parts of a run id, or None when it follows no known format."""
    match = _RUN_ID.fullmatch(run_id.strip())
    if not match:
        return None
    try:
        end = datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return RunId(
        team_id=int(match["team"]),
        level=match["level"],
        window_end=end.replace(tzinfo=timezone.utc),
        job_id=match["job"],
        label=match["label"],
    )
