"""Links into PostHog's UI for runs, clusters, traces and generations, and the way back.

PostHog serves the same pages under two route families: `/llm-analytics/…` (older, and what
PostHog's own skill documents) and `/ai-observability/…` (newer), optionally project-scoped as
`/project/<id>/<family>/…`; `/llm-observability/traces/<id>` is a legacy trace route that
redirects. The UI builds cluster links with `encodeURIComponent(run_id)` and trace query strings
with `URLSearchParams`; this module writes exactly the same text, so any run id (spaces, `/`,
`#`, `%`, emoji) survives the round trip.

For a script that prints clusters or items and wants a `--links` flag:

    add_link_options(parser)                   # --host, --project-id, --route (link_options.py)
    links = builder_from_args(args, environment.variables)
    links.cluster(run.run_id, cluster.cluster_id)
    links.item(item, run.level)                # None when the item names no trace
    links.host_note()                          # say when the host was only a default
    markdown_link(label, url)                  # for --format markdown (display.py)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import timedelta, timezone
from typing import Iterable, Mapping
from urllib.parse import SplitResult, parse_qs, quote, quote_plus, unquote, urlsplit

from ..display import clean
from ..environment import HOST_ENV, PROJECT_ENV, ROUTE_ENV
from ..errors import UsageError
from ..model import Item
from ..timestamps import parse_timestamp
from .link_options import DEFAULT_ROUTE, ROUTES

HOSTS = {"us": "https://us.posthog.com", "eu": "https://eu.posthog.com",
         "app": "https://app.posthog.com"}  # app: the legacy US host
DEFAULT_HOST = "us"
# SDKs are configured with the ingestion hosts; people often put those in POSTHOG_HOST.
INGESTION_HOSTS = {"us.i.posthog.com": HOSTS["us"], "eu.i.posthog.com": HOSTS["eu"]}
LEGACY_TRACE_ROUTE = "llm-observability"
KINDS = ("overview", "run", "cluster", "trace", "generation")

# encodeURIComponent leaves A-Z a-z 0-9 and these unescaped; quote() always keeps `_.-~`.
_URI_COMPONENT_SAFE = "!*'()"
_DIGITS = re.compile(r"[0-9]+")
_CLUSTER_ID = re.compile(r"-?[0-9]+")
_PATH_SHAPES = (
    "/<family>/clusters",
    "/<family>/clusters/<encoded run id>",
    "/<family>/clusters/<encoded run id>/<cluster id>",
    "/<family>/traces/<trace id>[?event=<generation id>&timestamp=<iso>]",
)
_EXPECTED_HOST = ("expected us, eu, or the address of your PostHog as a URL such as "
                  "https://eu.posthog.com or https://posthog.example.com")
EXPECTED_PATHS = (
    f"expected one of {', '.join(_PATH_SHAPES)}, where <family> is {' or '.join(ROUTES)} "
    f"(traces also {LEGACY_TRACE_ROUTE}), optionally after /project/<project id>")


class LinkError(UsageError):
    """A host, project id, route, id or URL that cannot make or be read as a PostHog link."""


# --- encoding ------------------------------------------------------------------------------

def encode_uri_component(text: str) -> str:
    """`text` exactly as JavaScript's `encodeURIComponent` writes it."""
    try:
        return quote(text, safe=_URI_COMPONENT_SAFE, encoding="utf-8", errors="strict")
    except UnicodeEncodeError:
        raise LinkError(f"{_shown(text)} holds a lone surrogate, which is not Unicode text and "
                        "has no URL form (the UI's encodeURIComponent throws on it too)") from None


def encode_query(params: Iterable[tuple[str, str]]) -> str:
    """A query string exactly as the UI's `URLSearchParams.toString()` writes it: space as `+`,
    only `*-._` and alphanumerics left as they are."""
    try:
        return "&".join(f"{_form(key)}={_form(value)}" for key, value in params)
    except UnicodeEncodeError:
        raise LinkError("a query parameter holds a lone surrogate, which has no URL form") from None


def _form(text: str) -> str:
    # quote_plus keeps `~`, which URLSearchParams escapes; an escaped text holds no other `~`.
    return quote_plus(text, safe="*", errors="strict").replace("~", "%7E")


def _decode(segment: str, what: str) -> str:
    try:
        return unquote(segment, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise LinkError(f"the {what} in the link is not percent-encoded UTF-8: {_shown(segment)}. "
                        "Copy the link again from the browser's address bar.") from None


def _shown(text: str, limit: int = 80) -> str:
    """Untrusted text quoted for a message, made safe and short."""
    return repr(clean(text, limit))


# --- hosts, routes, projects ----------------------------------------------------------------

@dataclass(frozen=True)
class Host:
    """A PostHog UI origin (`https://us.posthog.com`), where it came from and what was changed."""

    url: str
    source: str  # "--host", "POSTHOG_HOST" or "default"
    note: str | None = None


def normalise_host(value: str) -> tuple[str, str | None]:
    """(origin, note) for `us`, `eu` or a URL; LinkError says what is wrong with anything else."""
    text = value.strip()
    if text.lower() in HOSTS:
        return HOSTS[text.lower()], None
    parts = _host_url(text, value)
    try:
        port = parts.port
    except ValueError:
        raise LinkError(f"host {_shown(value)} has an invalid port; {_EXPECTED_HOST}") from None
    hostname = parts.hostname or ""
    if not hostname:
        raise LinkError(f"host {_shown(value)} has no host name; {_EXPECTED_HOST}")
    try:
        name = f"[{hostname}]" if ":" in hostname else hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise LinkError(f"host {_shown(value)} is not a valid host name; {_EXPECTED_HOST}") from None
    origin = f"{parts.scheme.lower()}://{name}{f':{port}' if port is not None else ''}"
    if hostname in INGESTION_HOSTS and port is None:
        app = INGESTION_HOSTS[hostname]
        return app, f"{origin} is PostHog's ingestion host; the app (and its links) is at {app}"
    return origin, None


def _host_url(text: str, value: str) -> SplitResult:
    """`text` split as a URL that holds a scheme and a name only (no credentials, path, query
    or fragment); LinkError says which part is wrong, quoting `value` as given."""
    if not text or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise LinkError(f"host {_shown(value)} is empty or holds spaces or control characters; "
                        f"{_EXPECTED_HOST}")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise LinkError(f"host {_shown(value)} is not an http or https URL; {_EXPECTED_HOST}")
    if parts.username is not None or parts.password is not None:
        raise LinkError("the host must not hold credentials (user:password@); pass only the "
                        f"address, {_EXPECTED_HOST}. Authentication is not needed to build links.")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise LinkError(f"host {_shown(value)} holds a query or fragment; {_EXPECTED_HOST}")
    if parts.path.strip("/"):
        raise LinkError(f"host {_shown(value)} holds a path ({_shown(parts.path)}); a host is the "
                        "scheme and name only. Pass a project id with --project-id.")
    return parts


def resolve_host(value: str | None, env: Mapping[str, str]) -> Host:
    """The host from `--host`, else `POSTHOG_HOST`, else US cloud (and the note says so)."""
    if value is not None:
        return _host(value, "--host")
    from_env = env.get(HOST_ENV, "").strip()
    if from_env:
        return _host(from_env, HOST_ENV)
    return Host(HOSTS[DEFAULT_HOST], "default",
                f"host {HOSTS[DEFAULT_HOST]} is the default (US cloud); for EU or self-hosted "
                f"PostHog pass --host eu|URL or set {HOST_ENV}")


def _host(value: str, source: str) -> Host:
    try:
        url, note = normalise_host(value)
    except LinkError as exc:
        raise LinkError(f"{source}: {exc.message}") from None
    return Host(url, source, note)


def check_route(route: str) -> str:
    if route not in ROUTES:
        raise LinkError(f"route family {_shown(route)} is unknown; expected {' or '.join(ROUTES)}")
    return route


def check_project_id(project_id: str | int | None) -> str | None:
    if project_id is None:
        return None
    text = str(project_id).strip()
    if not _DIGITS.fullmatch(text):
        raise LinkError(f"project id {_shown(str(project_id))} is not a number; expected the digits "
                        "after /project/ in a PostHog URL, e.g. 12345")
    return text


def check_timestamp(value: str) -> str:
    """`value` if it reads as an ISO 8601 time (what PostHog's `timestamp` parameter takes)."""
    if parse_timestamp(value) is None:
        raise LinkError(f"timestamp {_shown(value)} is not an ISO 8601 time; expected e.g. "
                        "2026-01-22T15:30:00+00:00 (an item's timestamp as print_clusters shows it)")
    return value.strip()


# --- building -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LinkBuilder:
    """Builds UI links for one PostHog (host), route family and optional project."""

    host: Host
    route: str = DEFAULT_ROUTE
    project_id: str | None = None

    def __post_init__(self):
        check_route(self.route)
        object.__setattr__(self, "project_id", check_project_id(self.project_id))

    @classmethod
    def create(cls, host: str | None = None, route: str | None = None,
               project_id: str | int | None = None, env: Mapping[str, str] | None = None) -> "LinkBuilder":
        """From flag values: `host` None falls back to env POSTHOG_HOST, then to US cloud;
        `project_id` None to env POSTHOG_PROJECT_ID, then to links without a project; `route`
        None to env POSTHOG_ROUTE, then to llm-analytics."""
        env = env or {}
        if route is None:
            try:
                route = check_route(env.get(ROUTE_ENV, "").strip() or DEFAULT_ROUTE)
            except LinkError as exc:
                raise LinkError(f"{ROUTE_ENV}: {exc.message}") from None
        if project_id is None and env.get(PROJECT_ENV, "").strip():
            try:
                project_id = check_project_id(env[PROJECT_ENV])
            except LinkError as exc:
                raise LinkError(f"{PROJECT_ENV}: {exc.message}") from None
        return cls(resolve_host(host, env), route, check_project_id(project_id))

    def _base(self) -> str:
        project = f"/project/{self.project_id}" if self.project_id else ""
        return f"{self.host.url}{project}/{self.route}"

    def overview(self) -> str:
        return f"{self._base()}/clusters"

    def run(self, run_id: str) -> str:
        return f"{self.overview()}/{encode_uri_component(run_id)}"

    def cluster(self, run_id: str, cluster_id: int) -> str:
        if isinstance(cluster_id, bool) or not isinstance(cluster_id, int):
            raise LinkError(f"cluster id {cluster_id!r} is not a whole number")
        return f"{self.run(run_id)}/{cluster_id}"

    def trace(self, trace_id: str, timestamp: str | None = None) -> str:
        return self._trace(trace_id, [], timestamp)

    def generation(self, trace_id: str, generation_id: str, timestamp: str | None = None) -> str:
        return self._trace(trace_id, [("event", generation_id)], timestamp)

    def _trace(self, trace_id: str, params: list[tuple[str, str]], timestamp: str | None) -> str:
        if not trace_id:
            raise LinkError("a trace link needs a trace id")
        if parse_timestamp(timestamp) is not None:
            params = [*params, ("timestamp", timestamp.strip())]  # type: ignore[union-attr]
        query = encode_query(params)
        return f"{self._base()}/traces/{encode_uri_component(trace_id)}{f'?{query}' if query else ''}"

    def item(self, item: Item, level: str | None) -> str | None:
        """The page for a clustered item: its trace (trace level; runs without a level are trace
        level), or the generation inside its trace (generation level), at the item's timestamp
        when it has a usable one. None when the item names no trace (the oldest runs' items at
        generation level)."""
        if level == "generation":
            generation = item.generation_id or item.key
            return self.generation(item.trace_id, generation, item.timestamp) if item.trace_id else None
        trace = item.trace_id or (item.key if level in (None, "trace") else None)
        return self.trace(trace, item.timestamp) if trace else None

    def host_note(self) -> str | None:
        """What to tell the user about the host: it was a default, or it was corrected."""
        return self.host.note


# --- parsing --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParsedLink:
    """What a PostHog UI link names. Ids are decoded; `route` is the family the link used."""

    host: str
    project_id: str | None
    route: str
    kind: str  # one of KINDS
    run_id: str | None = None
    cluster_id: int | None = None
    trace_id: str | None = None
    generation_id: str | None = None
    timestamp: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def parse_link(url: str) -> ParsedLink:
    """Read a PostHog clusters or trace link; LinkError says why a URL is not one."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise LinkError(f"{_shown(text)} is not an http or https URL; paste the whole link from "
                        "the browser's address bar, starting with https://")
    host, _ = normalise_host(f"{parts.scheme}://{parts.netloc}")
    segments = parts.path.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # a trailing slash
    project_id = None
    if len(segments) >= 2 and segments[0] == "project":
        if not _DIGITS.fullmatch(segments[1]):
            raise LinkError(f"the project id in {_shown(text)} is not a number; {EXPECTED_PATHS}")
        project_id, segments = segments[1], segments[2:]
    link = _parse_path(segments, host, project_id, parts.query)
    if link is None:
        raise LinkError(f"{_shown(text)} is not a PostHog LLM clusters or trace link: {EXPECTED_PATHS}")
    return link


def _parse_path(segments: list[str], host: str, project_id: str | None, query: str) -> ParsedLink | None:
    if len(segments) < 2 or "" in segments:
        return None
    route, page, rest = segments[0], segments[1], segments[2:]
    if page == "clusters" and route in ROUTES and len(rest) <= 2:
        if not rest:
            return ParsedLink(host, project_id, route, "overview")
        run_id = _decode(rest[0], "run id")
        if len(rest) == 1:
            return ParsedLink(host, project_id, route, "run", run_id=run_id)
        if not _CLUSTER_ID.fullmatch(rest[1]):
            raise LinkError(f"the cluster id in the link is not a whole number: {_shown(rest[1])}")
        return ParsedLink(host, project_id, route, "cluster", run_id=run_id, cluster_id=int(rest[1]))
    if page == "traces" and route in (*ROUTES, LEGACY_TRACE_ROUTE) and len(rest) == 1:
        params = parse_qs(query, keep_blank_values=True)
        event = (params.get("event") or [""])[0] or None
        timestamp = (params.get("timestamp") or [""])[0] or None
        return ParsedLink(host, project_id, route, "generation" if event else "trace",
                          trace_id=_decode(rest[0], "trace id"), generation_id=event, timestamp=timestamp)
    return None


# --- the time a link's query looks back, and the trace query (pasted_links.next_step) -------------

# How far back to look when a link carries no time (an unknown run id format, a trace link
# without its timestamp).
UNKNOWN_TIME_LOOKBACK_DAYS = 30


def trace_query_arguments(trace_id: str, timestamp: str | None,
                          margin: timedelta = timedelta(days=1)) -> dict:
    """Arguments for `posthog:query-llm-trace`: the trace id and a date range around the
    timestamp (the trace's first event), or the last 30 days when the link had none."""
    moment = parse_timestamp(timestamp)
    if moment is None:
        date_range = {"date_from": f"-{UNKNOWN_TIME_LOOKBACK_DAYS}d"}
    else:
        date_range = {"date_from": (moment - margin).astimezone(timezone.utc).isoformat(),
                      "date_to": (moment + margin).astimezone(timezone.utc).isoformat()}
    return {"traceId": trace_id, "dateRange": date_range}
