"""A local stand-in for PostHog's LLM analytics: synthetic traffic and clustering runs in a real
ClickHouse (chdb), answered the way PostHog's query API, its `execute-sql` MCP tool and a coding
agent's persisted tool results answer. Development and demo tooling; the skill never imports it.

Modules, from the data up to what a client sees:

- the data: `traffic` (one team's synthetic AI events along latent topics, drift planted),
  `clustering_runs` (PostHog's clustering jobs and runs over that traffic, simulated, and the
  drift they show), `aggregates` (cluster metrics computed as PostHog's `aggregates.py` does),
  `dataset` (the public API: build the dataset and its ground truth, write and load its files);
- the query: `hogql_check` (refuse what PostHog's HogQL parser and function tables refuse; the
  tables are `hogql_functions.json`, refreshed from a PostHog checkout by
  `refresh_hogql_tables`), `hogql` (HogQL sugar → ClickHouse SQL), `engine` (the `events` table
  in chdb, queried with PostHog's limits);
- the answers: `answers` (API JSON, execute-sql text, persisted files), `mcp_format` (execute-sql
  formatting and the layouts a coding agent saves);
- the surfaces: `server` (PostHog's HTTP API on 127.0.0.1), `__main__` (the command line).
"""
