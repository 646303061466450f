"""A local stand-in for PostHog's LLM analytics: synthetic traffic and clustering runs in a real
ClickHouse (chdb), answered the way PostHog's query API, its `execute-sql` MCP tool and a coding
agent's persisted tool results answer. Development and demo tooling; the skill never imports it.

Modules: `dataset` (build the data and its ground truth), `hogql` (HogQL sugar → ClickHouse),
`engine` (the `events` table in chdb), `answers` (API JSON, execute-sql text, persisted files),
`mcp_format` (execute-sql formatting), `server` (the HTTP API on 127.0.0.1), `__main__` (CLI).
"""
