"""PostHog's HTTP API for the parts the skill uses, served on 127.0.0.1 from the local engine.

Routes: `POST /api/projects/{id}/query/` and `/api/environments/{id}/query/` (HogQLQuery),
`GET /api/environments/{id}/llm_analytics/clustering_jobs/` (limit/offset pages) and
`…/clustering_jobs/{job_id}/`. Bearer personal-API-key auth: 401 without a key or with an
unknown one, 403 when the key lacks the route's scope, 404 for another project. Errors use
PostHog's body `{"type", "code", "detail", "attr"}`.

Tests queue faults (`fail_next`, `slow_next`) to get a 429 with `Retry-After`, a 500, or a slow
answer on the next requests. Only ever binds 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from localposthog.answers import hogql_response
from localposthog.engine import Engine
from localposthog.hogql import QueryError

HOST = "127.0.0.1"
API_KEY = "phx_localposthog_key"
NO_SCOPE_API_KEY = "phx_localposthog_no_scopes"
DEFAULT_KEYS = {API_KEY: frozenset({"query:read", "llm_analytics:read"}), NO_SCOPE_API_KEY: frozenset()}
JOBS_PAGE_SIZE = 100
MAX_BODY = 1_000_000

_QUERY_PATH = re.compile(r"^/api/(?:projects|environments)/(?P<project>[^/]+)/query/?$")
_JOBS_PATH = re.compile(
    r"^/api/(?:projects|environments)/(?P<project>[^/]+)/llm_analytics/clustering_jobs/(?:(?P<job>[^/]+)/)?$")

_ERROR_BODIES = {
    401: ("authentication_error", "not_authenticated"),
    403: ("authentication_error", "permission_denied"),
    404: ("invalid_request", "not_found"),
    400: ("validation_error", "invalid_input"),
    405: ("invalid_request", "method_not_allowed"),
    429: ("throttled_error", "throttled"),
}


Answer = tuple[int, dict, Any]  # (status, extra headers, JSON body)


@dataclass(frozen=True)
class Fault:
    """What the next request gets instead of (or before) its answer."""

    status: int | None = None  # answer with this status; None = answer normally (after the delay)
    retry_after: str | None = None  # Retry-After header: seconds ("2") or an HTTP-date
    delay: float = 0.0  # seconds to wait before answering


def error_body(status: int, detail: str) -> dict[str, Any]:
    kind, code = _ERROR_BODIES.get(status, ("server_error", "error"))
    return {"type": kind, "code": code, "detail": detail, "attr": None}


class LocalPostHog:
    """The HTTP server; `with LocalPostHog(engine) as posthog:` runs it on a free port."""

    def __init__(self, engine: Engine, *, project_id: int | None = None,
                 keys: dict[str, frozenset[str]] | None = None):
        self.engine = engine
        self.project_id = project_id if project_id is not None else engine.ground_truth["team_id"]
        self.keys = dict(keys or DEFAULT_KEYS)
        self.api_key = next(iter(self.keys))
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for tests
        self._faults: deque[Fault] = deque()
        self._faults_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- faults ---------------------------------------------------------------------------
    def fail_next(self, status: int, *, retry_after: str | int | None = None, times: int = 1) -> None:
        """Answer the next `times` requests with `status` (e.g. 429 with Retry-After, 500)."""
        header = None if retry_after is None else str(retry_after)
        self.add_faults(*[Fault(status=status, retry_after=header)] * times)

    def slow_next(self, seconds: float, *, times: int = 1) -> None:
        """Delay the next `times` answers by `seconds`."""
        self.add_faults(*[Fault(delay=seconds)] * times)

    def add_faults(self, *faults: Fault) -> None:
        with self._faults_lock:
            self._faults.extend(faults)

    def _next_fault(self) -> Fault | None:
        with self._faults_lock:
            return self._faults.popleft() if self._faults else None

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() first")
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    def start(self, port: int = 0) -> "LocalPostHog":
        """Serve from a background thread; `port=0` picks a free port (see `url`)."""
        httpd = self._bind(port)
        # A short poll interval keeps stop() fast (shutdown waits for the next poll).
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="localposthog", daemon=True)
        self._thread.start()
        return self

    def wait(self) -> None:
        """Block until the server stops (the CLI's `serve` waits here for Ctrl-C)."""
        if self._thread is not None:
            self._thread.join()

    def _bind(self, port: int) -> ThreadingHTTPServer:
        self._httpd = ThreadingHTTPServer((HOST, port), _handler_for(self))
        # Requests still being answered (a slow one a test stopped waiting for) finish before
        # stop() returns, so none outlives the engine it queries.
        self._httpd.daemon_threads = False
        self._httpd.block_on_close = True
        return self._httpd

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> "LocalPostHog":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- routes ---------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer one request: (status, extra headers, JSON body). An unknown route is a 404
        before credentials are looked at; then the key, its scope and the project are checked, a
        queued fault (if any) is served, and finally the route answers."""
        split = urlsplit(target)
        self.requests.append((method, split.path))
        query_match, jobs_match = _QUERY_PATH.match(split.path), _JOBS_PATH.match(split.path)
        match = query_match or jobs_match
        if match is None:
            return 404, {}, error_body(404, "Not found.")
        needed_scope = "query:read" if query_match else "llm_analytics:read"
        refusal = self._access_refusal(headers.get("authorization", ""), needed_scope, match.group("project"))
        if refusal is not None:
            return refusal
        fault_answer = self._serve_next_fault()
        if fault_answer is not None:
            return fault_answer
        if query_match:
            return self._query(body) if method == "POST" else _method_not_allowed(method)
        if method != "GET":
            return _method_not_allowed(method)
        job_id = jobs_match.group("job")
        return self._job(job_id) if job_id else self._jobs(split.query)

    def _access_refusal(self, authorization: str, needed_scope: str, project: str) -> Answer | None:
        """401 without a bearer key or with an unknown one, 403 when the key lacks the route's
        scope, 404 for another project; None when the request may go on."""
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return 401, {"WWW-Authenticate": "Bearer"}, error_body(
                401, "Authentication credentials were not provided.")
        scopes = self.keys.get(key.strip())
        if scopes is None:
            return 401, {"WWW-Authenticate": "Bearer"}, error_body(
                401, "Personal API key found in request Authorization header is invalid.")
        if needed_scope not in scopes:
            return 403, {}, error_body(403, f"API key missing required scope '{needed_scope}'")
        if project != str(self.project_id):
            return 404, {}, error_body(404, "Not found.")
        return None

    def _serve_next_fault(self) -> Answer | None:
        """Wait out the next queued fault's delay; its error answer when it has one."""
        fault = self._next_fault()
        if fault is None:
            return None
        time.sleep(fault.delay)
        return None if fault.status is None else self._fault_answer(fault)

    @staticmethod
    def _fault_answer(fault: Fault) -> Answer:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        if fault.status == 429:
            wait = fault.retry_after if fault.retry_after and fault.retry_after.isdigit() else "a few"
            return 429, headers, error_body(
                429, f"Request was throttled. Expected available in {wait} seconds.")
        return fault.status, headers, error_body(fault.status, "A server error occurred.")

    def _query(self, body: bytes) -> Answer:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return 400, {}, error_body(400, "JSON parse error - the request body is not valid JSON.")
        query = payload.get("query") if isinstance(payload, dict) else None
        is_hogql = isinstance(query, dict) and query.get("kind") == "HogQLQuery"
        if not (is_hogql and isinstance(query.get("query"), str)):
            return 400, {}, error_body(400, 'Expected {"query": {"kind": "HogQLQuery", "query": "<SQL>"}}; '
                                            'the local PostHog serves HogQLQuery only.')
        try:
            result = self.engine.query(query["query"])
        except QueryError as error:
            return 400, {}, error_body(400, str(error))
        return 200, {}, hogql_response(result)

    def _jobs(self, query_string: str) -> Answer:
        params = parse_qs(query_string)
        try:
            limit = int(params.get("limit", [JOBS_PAGE_SIZE])[0])
            offset = int(params.get("offset", [0])[0])
        except ValueError:
            return 400, {}, error_body(400, "limit and offset must be integers.")
        limit, offset = max(1, limit), max(0, offset)
        jobs = self.engine.jobs
        page_url = f"{self.url}/api/environments/{self.project_id}/llm_analytics/clustering_jobs/?"
        previous = None
        if offset > 0:
            # DRF's limit/offset pagination drops the offset from the link to the first page.
            previous_offset = {"offset": offset - limit} if offset > limit else {}
            previous = page_url + urlencode({"limit": limit, **previous_offset})
        following = None
        if offset + limit < len(jobs):
            following = page_url + urlencode({"limit": limit, "offset": offset + limit})
        return 200, {}, {"count": len(jobs), "next": following, "previous": previous,
                         "results": jobs[offset:offset + limit]}

    def _job(self, job_id: str) -> Answer:
        job = next((j for j in self.engine.jobs if j["id"] == job_id), None)
        if job is None:
            return 404, {}, error_body(404, "Not found.")
        return 200, {}, job


def _method_not_allowed(method: str) -> Answer:
    return 405, {}, error_body(405, f'Method "{method}" not allowed.')


def _handler_for(server: LocalPostHog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                status, headers, body = 413, {}, error_body(413, "Request body too large.")
                self.close_connection = True
            else:
                raw = self.rfile.read(length) if length else b""
                headers_in = {k.lower(): v for k, v in self.headers.items()}
                status, headers, body = server.handle(method, self.path, headers_in, raw)
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler
