"""PostHog's query API, for the scripts' --live mode: one small httpx client.

Configured from the environment (`POSTHOG_HOST`: `us`, `eu` or a URL, as for links; `POSTHOG_PROJECT_ID`,
`POSTHOG_PERSONAL_API_KEY`); flags may override host and project, never the key, so the key
never appears in a command line, a log or a message. Connection errors, timeouts, 5xx and 429
are retried a bounded number of times (429 and 503 waiting out `Retry-After`, capped); other
4xx are not retried and become messages a person can act on.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from ..environment import KEY_ENV, PROJECT_ENV
from ..errors import ClusterToolError, ExitStatus, UsageError
from .links import resolve_host

if TYPE_CHECKING:
    import httpx

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class LiveError(ClusterToolError):
    def __init__(self, message: str):
        super().__init__(message, ExitStatus.LIVE_API)


@dataclass(frozen=True)
class ApiConfig:
    host: str
    project_id: str
    api_key: str = field(repr=False)  # never shown, not even in a repr

    @classmethod
    def from_env(cls, env: Mapping[str, str], host: str | None = None,
                 project_id: str | None = None) -> "ApiConfig":
        """The key from `env` (never a flag); host and project from the flags, else `env`."""
        key = env.get(KEY_ENV, "").strip()
        if not key:
            raise LiveError(f"--live needs a personal API key in the environment variable "
                            f"{KEY_ENV} (with the `query:read` scope; create one in PostHog "
                            "under Settings > Personal API keys). It is read only from the "
                            "environment, never from a flag.")
        project = (project_id or env.get(PROJECT_ENV, "")).strip()
        if not project.isdigit():
            raise UsageError(
                f"--live needs the numeric project id, from --project-id or {PROJECT_ENV} "
                f"(got {project!r}); it is the number in your PostHog URLs after /project/.")
        return cls(resolve_host(host, env).url, project, key)


def _retry_after(response: httpx.Response, now: Callable[[], float]) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    import email.utils  # only for the rare HTTP-date form; it pulls in socket and more

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now())


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or body)[:1000]
    return str(body)[:300]


class PostHogClient:
    """Queries one project. `sleep` and `clock` are injectable so tests need not wait.

    httpx is imported here, not with the module: reading saved files never pays for it.
    """

    def __init__(self, config: ApiConfig, *, retries: int = 4, max_wait: float = 60.0,
                 timeout: httpx.Timeout | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time):
        self.config = config
        self.retries = retries
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        import httpx

        self._http = httpx.Client(
            base_url=config.host,
            timeout=timeout or httpx.Timeout(60.0, connect=10.0),
            headers={"Authorization": f"Bearer {config.api_key}",
                     "User-Agent": "exploring-llm-clusters"},
            transport=httpx.HTTPTransport(retries=0),
        )

    def __enter__(self) -> "PostHogClient":
        return self

    def __exit__(self, *_exc) -> None:
        self._http.close()

    def query_text(self, sql: str, name: str = "exploring-llm-clusters") -> Iterator[str]:
        """The JSON answer of a HogQL query, as text chunks (so the reader streams it)."""
        body = {"query": {"kind": "HogQLQuery", "query": sql}, "name": name}
        path = f"/api/projects/{self.config.project_id}/query/"
        with self._request("POST", path, json=body, sql=sql) as response:
            yield from response.iter_text()

    def query(self, sql: str) -> dict:
        return json.loads("".join(self.query_text(sql)))

    def clustering_jobs(self) -> list[dict]:
        """All clustering jobs of the project, following the pages."""
        jobs: list[dict] = []
        path: str | None = (f"/api/environments/{self.config.project_id}"
                            "/llm_analytics/clustering_jobs/?limit=100")
        while path:
            with self._request("GET", path) as response:
                page = json.loads(response.read())
            jobs.extend(page.get("results") or [])
            following = page.get("next")
            path = following if following and following.startswith(self.config.host) else None
            if path:
                path = path[len(self.config.host):]
        return jobs

    def _request(self, method: str, path: str, *, json: dict | None = None, sql: str | None = None):
        """A streamed response with status 200, after the retries; else a `LiveError`."""
        import httpx

        attempt = 0
        while True:
            attempt += 1
            try:
                request = self._http.build_request(method, path, json=json)
                response = self._http.send(request, stream=True)
            except httpx.TimeoutException:
                problem, wait = ("PostHog did not answer in time (timeout)", None)
            except httpx.TransportError as exc:
                problem, wait = (f"could not reach {self.config.host} ({type(exc).__name__})", None)
            else:
                if response.status_code == 200:
                    return _Closing(response)
                response.read()
                response.close()
                if response.status_code not in RETRYABLE_STATUSES:
                    raise LiveError(self._explain(response, sql))
                problem = f"PostHog answered {response.status_code}"
                wait = _retry_after(response, self._clock)
            if attempt > self.retries:
                raise LiveError(f"{problem}, and still after {self.retries} retries. Check "
                                f"{self.config.host} is up and reachable, then try again later.")
            self._sleep(min(self.max_wait, wait if wait is not None else 0.5 * 2 ** (attempt - 1)))

    def _explain(self, response: httpx.Response, sql: str | None) -> str:
        status, detail = response.status_code, _detail(response)
        if status == 401:
            return (f"PostHog refused the personal API key (401: {detail}). Check that "
                    f"{KEY_ENV} holds a valid personal API key for {self.config.host}.")
        if status == 403:
            return (f"the personal API key may not do this (403: {detail}). Give the key the "
                    "`query:read` scope (and `llm_analytics:read` for clustering jobs) and access "
                    f"to project {self.config.project_id}.")
        if status == 404:
            return (f"project {self.config.project_id} was not found on {self.config.host} (404). "
                    f"Check {PROJECT_ENV} or --project-id, and the host (us, eu or yours).")
        if status == 400 and sql is not None:
            return f"PostHog rejected the query (400): {detail}\nThe query was:\n{sql}"
        return f"PostHog answered {status}: {detail}"


class _Closing:
    """Context manager closing a streamed response."""

    def __init__(self, response: httpx.Response):
        self.response = response

    def __enter__(self) -> httpx.Response:
        return self.response

    def __exit__(self, *_exc) -> None:
        self.response.close()
