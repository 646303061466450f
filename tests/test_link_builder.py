"""link_builder.py and its library: links exactly as PostHog's UI writes them, for every host,
route family and project scope; hostile ids that survive the round trip; pasted links read
back into the query that loads them; batch links from the bundled example runs."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from llm_clusters.model import Item
from llm_clusters.posthog.links import (
    HOST_ENV,
    PROJECT_ENV,
    LinkBuilder,
    LinkError,
    ParsedLink,
    encode_query,
    encode_uri_component,
    normalise_host,
    parse_link,
    resolve_host,
)
from llm_clusters.posthog.queries import load_run_sql
from llm_clusters.run_ids import parse_run_id
from localposthog.hogql import tokenize
from payloads import execute_sql, make_cluster, make_properties

COMMAND = "link_builder"  # what the run_cli fixture runs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TRACE_RUN = str(EXAMPLES / "trace_run.execute-sql.txt")
GENERATION_RUN = str(EXAMPLES / "generation_run.hogql.json")
LEGACY_RUN = str(EXAMPLES / "legacy_run.execute-sql.txt")
TRACE_RUN_ID = "2_trace_20260125_000000_019cb7f3-a126-7809-bffc-7f13bffe1325"


# --- encoding: the same text as the UI's JavaScript -----------------------------------------

# Outputs of encodeURIComponent in Node 20 (console.log(encodeURIComponent(x))).
ENCODE_URI_COMPONENT = [
    ("", ""),
    ("abc", "abc"),
    ("A-Z_a.z~0!9*'()", "A-Z_a.z~0!9*'()"),
    ("a b", "a%20b"),
    ("a+b", "a%2Bb"),
    ("a/b", "a%2Fb"),
    ("a#b", "a%23b"),
    ("a?b", "a%3Fb"),
    ("a%b", "a%25b"),
    ("a&b=c", "a%26b%3Dc"),
    ("a;b,c:d@e$f", "a%3Bb%2Cc%3Ad%40e%24f"),
    ('"quoted"', "%22quoted%22"),
    ("back\\slash", "back%5Cslash"),
    ("<tag>", "%3Ctag%3E"),
    ("[x]{y}|z^`", "%5Bx%5D%7By%7D%7Cz%5E%60"),
    ("\u00e9", "%C3%A9"),
    ("\u65e5\u672c\u8a9e", "%E6%97%A5%E6%9C%AC%E8%AA%9E"),
    ("\U0001f600", "%F0%9F%98%80"),
    ("\u00a0\u200b", "%C2%A0%E2%80%8B"),
    ("\n\t\r", "%0A%09%0D"),
    (TRACE_RUN_ID, TRACE_RUN_ID),
]

# Outputs of new URLSearchParams(pairs).toString() in Node 20.
URL_SEARCH_PARAMS = [
    ([("timestamp", "2026-01-22T15:30:00+00:00")], "timestamp=2026-01-22T15%3A30%3A00%2B00%3A00"),
    ([("event", "a b~*!'()"), ("timestamp", "2026-01-22T15:30:00.123456Z")],
     "event=a+b%7E*%21%27%28%29&timestamp=2026-01-22T15%3A30%3A00.123456Z"),
    ([("event", "\u00e9&=?#%/\U0001f600")], "event=%C3%A9%26%3D%3F%23%25%2F%F0%9F%98%80"),
]


@pytest.mark.parametrize("text, encoded", ENCODE_URI_COMPONENT)
def test_encode_uri_component_matches_javascript(text, encoded):
    assert encode_uri_component(text) == encoded
    assert unquote(encoded) == text


@pytest.mark.parametrize("pairs, encoded", URL_SEARCH_PARAMS)
def test_query_strings_match_url_search_params(pairs, encoded):
    assert encode_query(pairs) == encoded
    assert [(k, v[0]) for k, v in parse_qs(encoded).items()] == pairs


def test_a_lone_surrogate_has_no_url_form_and_says_so():
    with pytest.raises(LinkError, match="lone surrogate"):
        encode_uri_component("run\ud800")


# --- every link kind, for every host, route family and scope --------------------------------

HOSTILE_IDS = [
    "1_trace_20260123_000000_with space",
    "1_trace_20260123_000000_a/b/../c",
    "1_trace_20260123_000000_#fragment",
    "1_trace_20260123_000000_?query=1&x=2",
    "1_trace_20260123_000000_100%25%",
    "1_trace_20260123_000000_amp&amp;",
    "1_trace_20260123_000000_'single' \"double\" `back`",
    "1_trace_20260123_000000_back\\slash\\'",
    "1_trace_20260123_000000_\u00fcnic\u00f8de \u65e5\u672c",
    "1_trace_20260123_000000_emoji \U0001f680\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "1_trace_20260123_000000_plus+and~tilde*(parens)!",
    "1_trace_20260123_000000_" + "long-label/" * 500,
    " leading and trailing ",
    "%2F",
]
HOSTS = [("us", "https://us.posthog.com"), ("eu", "https://eu.posthog.com"),
         ("https://app.posthog.com", "https://app.posthog.com"),
         ("http://localhost:8010/", "http://localhost:8010"),
         ("https://PostHog.Example.com//", "https://posthog.example.com")]
ROUTES = ["llm-analytics", "ai-observability"]
PROJECTS = [None, "12345"]
TIMESTAMP = "2026-01-22T15:30:00.123456+00:00"

PATTERNS = {
    "overview": r"(?P<base>.+)/clusters",
    "run": r"(?P<base>.+)/clusters/(?P<run>[A-Za-z0-9\-_.!~*'()%]+)",
    "cluster": r"(?P<base>.+)/clusters/(?P<run>[A-Za-z0-9\-_.!~*'()%]+)/-?[0-9]+",
    "trace": r"(?P<base>.+)/traces/(?P<trace>[A-Za-z0-9\-_.!~*'()%]+)(\?timestamp=[A-Za-z0-9\-_.*%+]+)?",
    "generation": r"(?P<base>.+)/traces/(?P<trace>[A-Za-z0-9\-_.!~*'()%]+)"
                  r"\?event=[A-Za-z0-9\-_.*%+]+(&timestamp=[A-Za-z0-9\-_.*%+]+)?",
}


def _base(host_url: str, route: str, project: str | None) -> str:
    return f"{host_url}{f'/project/{project}' if project else ''}/{route}"


def _path_segments(url: str) -> list[str]:
    return urlsplit(url).path.split("/")


@pytest.mark.parametrize("host, host_url", HOSTS)
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("project", PROJECTS)
def test_every_link_kind_round_trips_for_hostile_ids(host, host_url, route, project):
    links = LinkBuilder.create(host, route, project)
    base = _base(host_url, route, project)
    common = {"host": host_url, "project_id": project, "route": route}
    overview = links.overview()
    assert overview == f"{base}/clusters" and re.fullmatch(PATTERNS["overview"], overview)
    assert parse_link(overview) == ParsedLink(**common, kind="overview")
    for ident in HOSTILE_IDS:
        run = links.run(ident)
        cluster = links.cluster(ident, -1)
        trace = links.trace(ident, TIMESTAMP)
        generation = links.generation(ident, ident[::-1], TIMESTAMP)
        for kind, url in (("run", run), ("cluster", cluster), ("trace", trace), ("generation", generation)):
            match = re.fullmatch(PATTERNS[kind], url)
            assert match and match["base"] == base, (kind, url)
            assert url.isascii() and not urlsplit(url).fragment
        assert unquote(_path_segments(run)[-1]) == ident
        assert unquote(_path_segments(cluster)[-2]) == ident and _path_segments(cluster)[-1] == "-1"
        assert unquote(_path_segments(trace)[-1]) == ident
        assert parse_qs(urlsplit(generation).query) == {"event": [ident[::-1]], "timestamp": [TIMESTAMP]}
        assert parse_link(run) == ParsedLink(**common, kind="run", run_id=ident)
        assert parse_link(cluster) == ParsedLink(**common, kind="cluster", run_id=ident, cluster_id=-1)
        assert parse_link(trace) == ParsedLink(**common, kind="trace", trace_id=ident, timestamp=TIMESTAMP)
        assert parse_link(generation) == ParsedLink(**common, kind="generation", trace_id=ident,
                                                    generation_id=ident[::-1], timestamp=TIMESTAMP)


def test_the_links_posthog_documents():
    links = LinkBuilder.create("us")
    run_id = "1_trace_20250123_000000_019cb7f3-a126-7809-bffc-7f13bffe1325"
    assert links.cluster(run_id, 3) == f"https://us.posthog.com/llm-analytics/clusters/{run_id}/3"
    assert (LinkBuilder.create("eu", "ai-observability", 7).generation("t1", "g1", "2026-01-22T15:30:00Z")
            == "https://eu.posthog.com/project/7/ai-observability/traces/t1"
               "?event=g1&timestamp=2026-01-22T15%3A30%3A00Z")
    assert links.trace("t1") == "https://us.posthog.com/llm-analytics/traces/t1"


def test_an_unusable_item_timestamp_is_left_out():
    links = LinkBuilder.create("us")
    assert links.trace("t1", "") == links.trace("t1", "yesterday") == links.trace("t1")


@pytest.mark.parametrize("level, item, expected", [
    ("trace", Item("t1", 0, 0.1, 0, 0, "2026-01-22T15:30:00+00:00", "t1", None),
     "/traces/t1?timestamp=2026-01-22T15%3A30%3A00%2B00%3A00"),
    (None, Item("old-key", 0, 0.1, 0, 0, None, None, None), "/traces/old-key"),
    ("generation", Item("g1", 0, 0.1, 0, 0, None, "t1", "g1"), "/traces/t1?event=g1"),
    ("generation", Item("g1", 0, 0.1, 0, 0, None, "t1", None), "/traces/t1?event=g1"),
    ("generation", Item("g1", 0, 0.1, 0, 0, None, None, None), None),
    ("evaluation", Item("e1", 0, 0.1, 0, 0, None, "t1", None), "/traces/t1"),
])
def test_item_links_follow_the_level(level, item, expected):
    url = LinkBuilder.create("us").item(item, level)
    assert url == (None if expected is None else f"https://us.posthog.com/llm-analytics{expected}")


# --- hosts -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, url", [
    ("us", "https://us.posthog.com"), ("EU ", "https://eu.posthog.com"),
    ("https://app.posthog.com/", "https://app.posthog.com"),
    ("HTTPS://Self.Example.COM:8443///", "https://self.example.com:8443"),
    ("http://[::1]:8000", "http://[::1]:8000"),
    ("https://us.i.posthog.com", "https://us.posthog.com"),
    ("https://b\u00fccher.example", "https://xn--bcher-kva.example"),
])
def test_hosts_are_normalised(value, url):
    assert normalise_host(value)[0] == url


@pytest.mark.parametrize("value, message", [
    ("", "empty"), ("posthog.example.com", "not an http or https URL"),
    ("ftp://posthog.example.com", "not an http or https URL"),
    ("https://user:secret@posthog.example.com", "credentials"),
    ("https://posthog.example.com/?a=1", "query or fragment"),
    ("https://posthog.example.com#x", "query or fragment"),
    ("https://us.posthog.com/project/123", "holds a path"),
    ("https://posthog.example.com:99999", "invalid port"),
    ("https://exa mple.com", "spaces"), ("https://evil\x1b[2J.com", "control"),
])
def test_bad_hosts_are_refused_with_what_is_expected(value, message):
    with pytest.raises(LinkError, match=message) as caught:
        normalise_host(value)
    assert "secret" not in caught.value.message and "\x1b" not in caught.value.message


def test_host_comes_from_the_flag_then_the_environment_then_the_default():
    assert resolve_host(None, {}).source == "default"
    assert resolve_host(None, {HOST_ENV: "eu"}).url == "https://eu.posthog.com"
    assert resolve_host("https://self.example.com", {HOST_ENV: "eu"}).url == "https://self.example.com"


def test_the_cli_honours_posthog_host_and_the_flag_overrides_it(run_cli):
    status, out, _ = run_cli("run", "r1", env={HOST_ENV: "https://posthog.example.com/"})
    assert status == 0 and out == "https://posthog.example.com/llm-analytics/clusters/r1\n"
    status, out, _ = run_cli("run", "r1", "--host", "eu", env={HOST_ENV: "https://posthog.example.com"})
    assert status == 0 and out == "https://eu.posthog.com/llm-analytics/clusters/r1\n"
    status, out, _ = run_cli("run", "r1")
    assert status == 0 and out.splitlines()[0] == "https://us.posthog.com/llm-analytics/clusters/r1"
    assert "is the default (US cloud)" in out and "--host" in out
    document = json.loads(run_cli("run", "r1", "--format", "json")[1])
    assert document["host_source"] == "default" and document["notes"]


@pytest.mark.parametrize("argv, env, message", [
    (["run", "r1", "--host", "ftp://x"], {}, "--host: host 'ftp://x' is not an http"),
    (["run", "r1"], {HOST_ENV: "https://u:p@x.example"}, "POSTHOG_HOST: the host must not hold credentials"),
    (["overview", "--project-id", "12a"], {}, "project id '12a' is not a number"),
    (["overview"], {PROJECT_ENV: "my-project"}, "POSTHOG_PROJECT_ID: project id 'my-project'"),
    (["overview", "--route", "llm-observability"], {}, "invalid choice"),
    (["trace", "t1", "--timestamp", "yesterday"], {}, "not an ISO 8601 time"),
    (["cluster", "r1", "three"], {}, "expected a whole number"),
    (["run", "r\ud800"], {}, "lone surrogate"),
    ([], {}, "required: COMMAND"),
    (["parse", "https://us.posthog.com/insights/abc"], {}, "not a PostHog LLM clusters or trace link"),
])
def test_usage_errors_exit_2_with_a_message(run_cli, argv, env, message):
    status, out, err = run_cli(*argv, env=env)
    assert status == 2 and out == ""
    assert message in err, err


def test_markdown_links_are_clickable_and_escaped(run_cli):
    status, out, _ = run_cli("cluster", "1_trace_20260123_000000_[x](y) *z*", "2", "--host", "eu",
                             "--format", "markdown")
    assert status == 0
    assert out == ("[Cluster 2 of run 1\\_trace\\_20260123\\_000000\\_\\[x\\](y) \\*z\\*]"
                   "(https://eu.posthog.com/llm-analytics/clusters/"
                   "1_trace_20260123_000000_%5Bx%5D%28y%29%20*z*/2)\n")


def test_the_script_runs_as_a_user_runs_it():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "link_builder.py"), "generation",
                             "t1", "g1", "--timestamp", "2026-01-22T15:30:00Z", "--host", "eu"],
                            capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if k not in (HOST_ENV, PROJECT_ENV)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "https://eu.posthog.com/llm-analytics/traces/t1?event=g1&timestamp=2026-01-22T15%3A30%3A00Z\n"


# --- parse: what a pasted link names, and what loads it -------------------------------------

HOSTILE_RUN_IDS = [
    "1_trace_20260123_000000_x' OR 1=1 --",
    "1_trace_20260123_000000_x\\' OR 1=1 --",
    "1_trace_20260123_000000_x\\\\' UNION SELECT 1 --",
    "1_trace_20260123_000000_''''",
    "1_trace_20260123_000000_line\nbreak\ttab",
    "1_trace_20260123_000000_/*comment*/ \"dq\" `bq` \U0001f680",
    "not a run id at all ' --",
]


def _parse(run_cli, *argv: str) -> dict:
    status, out, err = run_cli("parse", *argv, "--format", "json")
    assert status == 0, err
    document = json.loads(out)
    assert document["schema"] == "exploring-llm-clusters/link_builder@1"
    return document


def _clickhouse_literal(token: str) -> str:
    """What ClickHouse reads from a single-quoted literal."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]),
                  token[1:-1], flags=re.DOTALL)


@pytest.mark.parametrize("run_id", HOSTILE_RUN_IDS)
def test_parse_keeps_a_hostile_run_id_inside_one_string_literal(run_cli, run_id):
    url = LinkBuilder.create("eu", project_id=9).cluster(run_id, 4)
    document = _parse(run_cli, url)
    assert document["link"] == {"host": "https://eu.posthog.com", "project_id": "9",
                                "route": "llm-analytics", "kind": "cluster", "run_id": run_id,
                                "cluster_id": 4, "trace_id": None, "generation_id": None,
                                "timestamp": None}
    query = document["next"]["arguments"]["query"]
    assert document["next"]["tool"] == "posthog:execute-sql"
    assert document["next"]["arguments"]["truncate"] is False
    assert document["next"]["then"] == "python scripts/print_clusters.py SAVED_FILE --cluster 4"
    assert shlex.split(document["next"]["live"]) == [
        "python", "scripts/print_clusters.py", "--live", f"--run-id={run_id}", "--cluster", "4",
        "--host", "https://eu.posthog.com", "--project-id", "9"]
    assert query == load_run_sql(run_id, days=30)  # the query SKILL.md shows, from queries.py
    plain = load_run_sql("1_trace_20260123_000000" if parse_run_id(run_id) else "plain", days=30)
    tokens = tokenize(query)
    # The same tokens as with a plain id, but for the one literal that holds the run id.
    assert [t.kind for t in tokens] == [t.kind for t in tokenize(plain)]
    literal = [t for t in tokens if t.kind not in ("space", "comment")][-3]  # = '<id>' LIMIT 1
    assert literal.kind == "string" and _clickhouse_literal(literal.text) == run_id


def test_parse_bounds_the_query_by_the_run_ids_time(run_cli):
    query = _parse(run_cli, LinkBuilder.create("us").run(TRACE_RUN_ID))["next"]["arguments"]["query"]
    assert "toDateTime('2026-01-25 00:00:00', 'UTC') - INTERVAL 1 DAY" in query
    assert "toDateTime('2026-01-25 00:00:00', 'UTC') + INTERVAL 1 DAY" in query
    document = _parse(run_cli, LinkBuilder.create("us").run("label-only"))
    assert "INTERVAL 30 DAY" in document["next"]["arguments"]["query"]
    assert "no known format" in document["notes"][0]


@pytest.mark.parametrize("unprintable", ["\x1b[2J", "\u202e", "\x00", "\r", "\x7f"])
def test_parse_prints_no_query_for_a_run_id_a_terminal_must_not_see(run_cli, unprintable):
    url = LinkBuilder.create("us").run(f"1_trace_20260123_000000_{unprintable}x")
    status, out, _ = run_cli("parse", url)
    assert status == 0 and unprintable not in out
    assert "--list-runs" in out and "SELECT" not in out
    assert _parse(run_cli, url)["next"]["tool"] is None


@pytest.mark.engine
def test_the_printed_query_loads_the_run_and_a_hostile_id_loads_nothing(run_cli, localposthog_engine):
    run_id = localposthog_engine.runs[-1]["run_id"]
    query = _parse(run_cli, LinkBuilder.create("us").run(run_id))["next"]["arguments"]["query"]
    rows = localposthog_engine.query(query).rows
    assert len(rows) == 1 and rows[0][0] == run_id
    for hostile in HOSTILE_RUN_IDS + [run_id + "' OR '1'='1", run_id + "\\"]:
        query = _parse(run_cli, LinkBuilder.create("us").run(hostile))["next"]["arguments"]["query"]
        assert localposthog_engine.query(query).rows == []


def test_parse_a_generation_link_gives_the_trace_query(run_cli):
    document = _parse(run_cli, "https://us.posthog.com/project/2/ai-observability/traces/t%201"
                      "?event=g-1&timestamp=2026-01-22T15%3A30%3A00%2B00%3A00&tab=summary")
    assert document["link"]["kind"] == "generation"
    assert (document["link"]["trace_id"], document["link"]["generation_id"]) == ("t 1", "g-1")
    assert document["next"]["tool"] == "posthog:query-llm-trace"
    assert document["next"]["arguments"] == {"traceId": "t 1", "dateRange": {
        "date_from": "2026-01-21T15:30:00+00:00", "date_to": "2026-01-23T15:30:00+00:00"}}


def test_parse_reads_legacy_and_trailing_slash_links_and_says_so(run_cli):
    status, out, _ = run_cli("parse", "https://app.posthog.com/llm-observability/traces/abc/")
    assert status == 0
    assert "trace abc" in out and "legacy route" in out and "date_from" in out
    assert "last 30 days" in out
    status, out, _ = run_cli("parse", "https://us.posthog.com/llm-analytics/clusters", "--format", "markdown")
    assert status == 0 and "clusters overview" in out and "SKILL.md section 1" in out


def test_parse_markdown_fences_outlast_backticks_in_the_id(run_cli):
    status, out, _ = run_cli("parse", LinkBuilder.create("us").run("1_trace_20260123_000000_```x"),
                             "--format", "markdown")
    assert status == 0
    assert "````sql\n" in out and "\n````" in out


@pytest.mark.parametrize("url, message", [
    ("us.posthog.com/llm-analytics/clusters/x", "not an http or https URL"),
    ("https://us.posthog.com/llm-analytics/clusters/x/y", "cluster id in the link is not a whole number"),
    ("https://us.posthog.com/llm-analytics/clusters/x/1/extra", "not a PostHog LLM clusters"),
    ("https://us.posthog.com/project/abc/llm-analytics/clusters", "project id"),
    ("https://us.posthog.com/llm-observability/clusters/x", "not a PostHog LLM clusters"),
    ("https://us.posthog.com/llm-analytics//clusters", "not a PostHog LLM clusters"),
    ("https://us.posthog.com/llm-analytics/clusters/%FF%FE", "not percent-encoded UTF-8"),
    ("https://us.posthog.com/", "not a PostHog LLM clusters"),
])
def test_parse_rejects_what_is_not_a_posthog_link(url, message):
    with pytest.raises(LinkError, match=message):
        parse_link(url)


# --- from-run: the links of a saved run ------------------------------------------------------

def _from_run(run_cli, *argv: str, env: dict | None = None) -> dict:
    status, out, err = run_cli("from-run", *argv, "--format", "json", env=env)
    assert status == 0, err
    return json.loads(out)


def test_from_run_links_the_run_each_cluster_and_its_top_items(run_cli):
    document = _from_run(run_cli, TRACE_RUN, "--host", "eu", "--route", "ai-observability")
    base = "https://eu.posthog.com/ai-observability"
    assert document["run"] == {"run_id": TRACE_RUN_ID, "level": "trace",
                               "url": f"{base}/clusters/{TRACE_RUN_ID}"}
    clusters = document["clusters"]
    assert [c["cluster_id"] for c in clusters][-1] == -1 and document["clusters_omitted"] == 0
    for cluster in clusters:
        assert cluster["url"] == f"{base}/clusters/{TRACE_RUN_ID}/{cluster['cluster_id']}"
        assert [i["rank"] for i in cluster["items"]] == [0, 1, 2]
        assert cluster["items_omitted"] == cluster["size"] - 3
        for item in cluster["items"]:
            assert item["url"] == LinkBuilder.create("eu", "ai-observability").trace(
                item["trace_id"], item["timestamp"])
            assert "?timestamp=" in item["url"]


def test_from_run_at_generation_level_links_each_generation_in_its_trace(run_cli):
    document = _from_run(run_cli, GENERATION_RUN, "--cluster", "1", "--top", "2", "--project-id", "5")
    (cluster,) = document["clusters"]
    assert cluster["cluster_id"] == 1 and len(cluster["items"]) == 2
    for item in cluster["items"]:
        query = parse_qs(urlsplit(item["url"]).query)
        assert urlsplit(item["url"]).path == f"/project/5/llm-analytics/traces/{item['trace_id']}"
        assert query["event"] == [item["generation_id"] or item["key"]]
        assert query["timestamp"] == [item["timestamp"]]


def test_from_run_on_a_legacy_run_links_traces_by_their_key_without_a_timestamp(run_cli):
    document = _from_run(run_cli, LEGACY_RUN, "--top", "1", env={HOST_ENV: "http://localhost:8010"})
    assert document["host"] == "http://localhost:8010" and document["host_source"] == HOST_ENV
    item = document["clusters"][0]["items"][0]
    assert item["url"] == f"http://localhost:8010/llm-analytics/traces/{item['key']}"


def test_from_run_text_and_markdown(run_cli):
    status, text, _ = run_cli("from-run", TRACE_RUN, "--top", "1")
    assert status == 0
    lines = text.splitlines()
    assert lines[0].startswith(f"Links for run {TRACE_RUN_ID} (trace level, 6 clusters + noise)")
    assert lines[1] == f"Run: https://us.posthog.com/llm-analytics/clusters/{TRACE_RUN_ID}"
    assert sum(line.startswith("Cluster ") for line in lines) == 7
    assert sum("/traces/" in line for line in lines) == 7
    assert "is the default (US cloud)" in lines[-1]
    status, md, _ = run_cli("from-run", TRACE_RUN, "--top", "1", "--format", "markdown")
    assert status == 0
    links = re.findall(r"\[((?:[^\]\\]|\\.)*)\]\(([^)\s]+)\)", md)
    assert len(links) == 1 + 7 + 7
    assert all(url.startswith("https://us.posthog.com/llm-analytics/") for _, url in links)


def test_from_run_output_is_bounded_and_cut_with_the_flags_to_see_more(run_cli):
    document = _from_run(run_cli, TRACE_RUN, "--max-clusters", "2", "--top", "0")
    assert len(document["clusters"]) == 2 and document["clusters_omitted"] == 5
    assert all(c["items"] == [] for c in document["clusters"])
    status, out, _ = run_cli("from-run", TRACE_RUN, "--max-clusters", "2")
    assert status == 0 and "5 more clusters not listed" in out and "--max-clusters 0" in out


@pytest.mark.parametrize("argv, stdin, status, message", [
    ([TRACE_RUN, "--cluster", "99"], None, 5, "has no cluster 99"),
    (["-"], b"\xff\xfe\xfd", 3, "not UTF-8"),
    (["-"], b'{"a": [1,', 4, "stops before its end"),
    (["-"], b"plain words", 5, "no clustering run"),
    ([TRACE_RUN, "--top", "-1"], None, 2, "expected a number >= 0"),
    ([TRACE_RUN, "--run-id", "nope"], None, 5, "no run with id 'nope'"),
])
def test_from_run_errors_exit_as_the_other_scripts(run_cli, argv, stdin, status, message):
    code, out, err = run_cli("from-run", *argv, stdin=stdin)
    assert code == status and out == "" and message in err


def test_from_run_markdown_escapes_hostile_titles_and_ids(run_cli):
    hostile = "[click](http://evil) | <b>x</b> \x1b[31m"
    props = make_properties([make_cluster(0, 2, title=hostile, keys=["k](http://evil)", "k 2"])],
                            run_id="1_trace_20260123_000000_a)b")
    status, out, _ = run_cli("from-run", "-", "--format", "markdown", stdin=execute_sql([props]).encode())
    assert status == 0
    assert "\x1b" not in out and "<b>" not in out and "[click](http://evil)" not in out
    assert "\\[click\\](http://evil) \\| \\<b\\>x\\</b\\>" in out
    links = re.findall(r"\[((?:[^\]\\]|\\.)*)\]\(([^)\s]+)\)", out)
    assert [urlsplit(url).path.rsplit("/", 1)[-1] for _, url in links] == [
        "1_trace_20260123_000000_a%29b", "0", "k%5D%28http%3A%2F%2Fevil%29", "k%202"]


def test_project_id_comes_from_the_flag_then_the_environment(run_cli):
    assert run_cli("overview", "--host", "eu", env={PROJECT_ENV: "42"})[1] == \
        "https://eu.posthog.com/project/42/llm-analytics/clusters\n"
    assert run_cli("overview", "--host", "eu", "--project-id", "7", env={PROJECT_ENV: "42"})[1] == \
        "https://eu.posthog.com/project/7/llm-analytics/clusters\n"


def test_other_scripts_get_links_flags_beside_live_modes_host_and_project():
    import argparse

    from llm_clusters.posthog.link_options import add_link_options, builder_from_args

    parser = argparse.ArgumentParser()
    parser.add_argument("--host")
    parser.add_argument("--project-id")
    add_link_options(parser, links_flag=True)
    args = parser.parse_args(["--links", "--host", "eu", "--project-id", "3", "--route", "ai-observability"])
    assert args.links
    assert builder_from_args(args, {}).run("r") == "https://eu.posthog.com/project/3/ai-observability/clusters/r"


@pytest.mark.engine
def test_a_parsed_cluster_link_loads_its_run_through_the_live_command(run_cli, local_posthog, monkeypatch):

    run_id = local_posthog.engine.runs[-1]["run_id"]
    url = LinkBuilder.create(local_posthog.url, project_id=local_posthog.project_id).cluster(run_id, 0)
    command = shlex.split(_parse(run_cli, url)["next"]["live"])
    assert command[:3] == ["python", "scripts/print_clusters.py", "--live"]
    run_cli.variables["POSTHOG_PERSONAL_API_KEY"] = local_posthog.api_key
    out = run_cli.output(*command[2:], command="print_clusters")
    assert out.startswith("Cluster 0: ") and run_id in out


# --- several ids in one call, and the host, project and route set once ------------------------

ONCE = {"POSTHOG_HOST": "eu", "POSTHOG_PROJECT_ID": "7", "POSTHOG_ROUTE": "ai-observability"}
ONCE_BASE = "https://eu.posthog.com/project/7/ai-observability"


def test_several_ids_give_one_link_a_line_in_order(run_cli):
    status, out, _ = run_cli("cluster", "run 1", "2", "-1", "0", env=ONCE)
    assert status == 0
    assert out.splitlines() == [f"{ONCE_BASE}/clusters/run%201/{i}" for i in (2, -1, 0)]
    status, out, _ = run_cli("run", "a", "b/c", env=ONCE)
    assert out.splitlines() == [f"{ONCE_BASE}/clusters/a", f"{ONCE_BASE}/clusters/b%2Fc"]


def test_timestamps_pair_with_the_ids_in_order(run_cli):
    status, out, _ = run_cli("trace", "t1", "t2", "--timestamp", "2026-01-20T00:00:00Z",
                             "--timestamp", "2026-01-21T10:00:00Z", env=ONCE)
    assert status == 0
    assert out.splitlines()[:2] == [f"{ONCE_BASE}/traces/t1?timestamp=2026-01-20T00%3A00%3A00Z",
                                    f"{ONCE_BASE}/traces/t2?timestamp=2026-01-21T10%3A00%3A00Z"]
    status, out, _ = run_cli("generation", "t1", "g1", "t2", "g2", "--format", "json", env=ONCE)
    document = json.loads(out)
    assert ([(link["trace_id"], link["generation_id"]) for link in document["links"]]
            == [("t1", "g1"), ("t2", "g2")])
    assert document["link"] == document["links"][0]  # the one-link field stays
    status, out, _ = run_cli("trace", "t1", "t2", "--format", "markdown", env=ONCE)
    assert [line for line in out.splitlines() if line.startswith("- [Trace")] == [
        f"- [Trace t1]({ONCE_BASE}/traces/t1)", f"- [Trace t2]({ONCE_BASE}/traces/t2)"]


@pytest.mark.parametrize("argv, message", [
    (["trace", "t1", "t2", "--timestamp", "2026-01-20T00:00:00Z"], "1 --timestamp values for 2 links"),
    (["generation", "t1", "g1", "t2"], "an odd number"),
])
def test_ids_and_timestamps_that_do_not_pair_are_a_usage_error(run_cli, argv, message):
    status, out, err = run_cli(*argv)
    assert status == 2 and out == "" and message in err


def test_the_route_family_comes_from_the_environment_in_every_script(run_cli, tmp_path):
    assert run_cli("overview", env={"POSTHOG_ROUTE": "ai-observability"})[1].startswith(
        "https://us.posthog.com/ai-observability/clusters")
    assert run_cli("overview", "--route", "llm-analytics", env={"POSTHOG_ROUTE": "ai-observability"})[1] \
        .startswith("https://us.posthog.com/llm-analytics/clusters")  # the flag wins
    status, _, err = run_cli("overview", env={"POSTHOG_ROUTE": "llm-observability"})
    assert status == 2 and "POSTHOG_ROUTE" in err
    import os
    import subprocess
    import sys
    recent = str(EXAMPLES / "recent_runs.execute-sql.txt")
    for script, argv in (("print_clusters", [TRACE_RUN, "--links"]), ("compare_runs", [recent, "--links"])):
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / f"{script}.py"), *argv],
                              env={**os.environ, **ONCE}, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"{ONCE_BASE}/clusters/" in done.stdout and "llm-analytics" not in done.stdout


def test_parse_prints_the_variables_to_set_once(run_cli):
    url = "https://eu.posthog.com/project/42/ai-observability/clusters/1_trace_20260120_000014_x/3"
    status, out, _ = run_cli("parse", url)
    assert status == 0
    assert ("export POSTHOG_HOST=https://eu.posthog.com POSTHOG_PROJECT_ID=42 "
            "POSTHOG_ROUTE=ai-observability" in out)
    document = json.loads(run_cli("parse", url, "--format", "json")[1])
    assert document["environment"] == {"POSTHOG_HOST": "https://eu.posthog.com", "POSTHOG_PROJECT_ID": "42",
                                       "POSTHOG_ROUTE": "ai-observability"}
    # the variables it prints give back links to the same PostHog
    assert run_cli("cluster", "1_trace_20260120_000014_x", "3",
                   env=document["environment"])[1].splitlines()[0] == url
