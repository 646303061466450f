"""The local PostHog HTTP API: auth, the query endpoint, clustering jobs, and faults on demand."""

from __future__ import annotations

import time

import httpx
import pytest

from localposthog.server import NO_SCOPE_API_KEY

pytestmark = pytest.mark.engine

QUERY = {"query": {"kind": "HogQLQuery",
                   "query": "SELECT event, count() AS n FROM events GROUP BY event ORDER BY event"}}


def _client(server, key: str | None = "default") -> httpx.Client:
    token = server.api_key if key == "default" else key
    headers = {} if key is None else {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


def test_it_binds_only_to_localhost(local_posthog):
    assert local_posthog.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("prefix", ["projects", "environments"])
def test_query_answers_like_posthog(local_posthog, prefix):
    with _client(local_posthog) as client:
        response = client.post(f"/api/{prefix}/{local_posthog.project_id}/query/", json=QUERY)
    assert response.status_code == 200
    body = response.json()
    assert body["columns"] == ["event", "n"]
    assert body["types"] == [["event", "String"], ["n", "UInt64"]]
    assert ["$ai_trace_clusters", 6] in body["results"]
    assert (body["hasMore"], body["limit"], body["offset"]) == (False, 100, 0)


@pytest.mark.parametrize("key, status", [(None, 401), ("phx_wrong", 401), (NO_SCOPE_API_KEY, 403)])
def test_query_needs_a_valid_key_with_scope(local_posthog, key, status):
    with _client(local_posthog, key) as client:
        response = client.post(f"/api/projects/{local_posthog.project_id}/query/", json=QUERY)
    assert response.status_code == status
    assert set(response.json()) == {"type", "code", "detail", "attr"}


def test_another_project_is_not_found(local_posthog):
    with _client(local_posthog) as client:
        response = client.post(f"/api/projects/{local_posthog.project_id + 1}/query/", json=QUERY)
    assert response.status_code == 404


def test_a_bad_query_is_a_400_naming_the_problem(local_posthog):
    with _client(local_posthog) as client:
        bad_sql = client.post(f"/api/projects/{local_posthog.project_id}/query/",
                              json={"query": {"kind": "HogQLQuery", "query": "SELECT * FROM persons"}})
        bad_kind = client.post(f"/api/projects/{local_posthog.project_id}/query/",
                               json={"query": {"kind": "TrendsQuery"}})
    assert bad_sql.status_code == 400 and "persons" in bad_sql.json()["detail"]
    assert bad_sql.json()["type"] == "validation_error"
    assert bad_kind.status_code == 400 and "HogQLQuery" in bad_kind.json()["detail"]


@pytest.mark.parametrize("retry_after", ["2", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_429_on_demand_then_recovers(local_posthog, retry_after):
    local_posthog.fail_next(429, retry_after=retry_after)
    with _client(local_posthog) as client:
        throttled = client.post(f"/api/projects/{local_posthog.project_id}/query/", json=QUERY)
        again = client.post(f"/api/projects/{local_posthog.project_id}/query/", json=QUERY)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == retry_after
    assert throttled.json()["type"] == "throttled_error"
    assert again.status_code == 200


def test_500_on_demand_for_as_many_requests_as_asked(local_posthog):
    local_posthog.fail_next(500, times=2)
    with _client(local_posthog) as client:
        statuses = [client.post(f"/api/projects/{local_posthog.project_id}/query/", json=QUERY).status_code
                    for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_slow_answer_on_demand(local_posthog):
    local_posthog.slow_next(0.3)
    with _client(local_posthog) as client:
        started = time.monotonic()
        response = client.post(f"/api/projects/{local_posthog.project_id}/query/", json=QUERY)
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed >= 0.3
    with _client(local_posthog) as client, pytest.raises(httpx.ReadTimeout):
        local_posthog.slow_next(1.0)
        client.post(f"/api/projects/{local_posthog.project_id}/query/", json=QUERY, timeout=0.2)


def test_clustering_jobs_list_pages_and_get(local_posthog):
    base = f"/api/environments/{local_posthog.project_id}/llm_analytics/clustering_jobs/"
    with _client(local_posthog) as client:
        everything = client.get(base).json()
        first = client.get(base, params={"limit": 2}).json()
        second = httpx.get(first["next"], headers=client.headers).json()
        one = client.get(f"{base}{everything['results'][1]['id']}/")
        missing = client.get(f"{base}00000000-0000-0000-0000-000000000000/")
    assert everything["count"] == len(everything["results"]) == 3
    names = [job["name"] for job in everything["results"]]
    assert names[:2] == ["Default - traces", "Default - generations"]
    assert [j["id"] for j in first["results"] + second["results"]] == [j["id"] for j in everything["results"]]
    assert first["previous"] is None and second["next"] is None and second["previous"]
    assert one.status_code == 200 and one.json()["analysis_level"] == "generation"
    assert missing.status_code == 404


def test_clustering_jobs_need_the_llm_analytics_scope(local_posthog):
    with _client(local_posthog, NO_SCOPE_API_KEY) as client:
        response = client.get(f"/api/environments/{local_posthog.project_id}/llm_analytics/clustering_jobs/")
    assert response.status_code == 403


def test_run_job_ids_match_the_jobs_endpoint(local_posthog, ground_truth):
    with _client(local_posthog) as client:
        path = f"/api/environments/{local_posthog.project_id}/llm_analytics/clustering_jobs/"
        jobs = client.get(path).json()
    by_id = {job["id"]: job for job in jobs["results"]}
    for run in ground_truth["runs"]:
        if run["job_id"]:
            assert by_id[run["job_id"]]["name"] == run["job_name"]
            assert by_id[run["job_id"]]["analysis_level"] == run["level"]
            assert run["run_id"].endswith("_" + run["job_id"])
