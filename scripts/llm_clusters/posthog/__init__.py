"""PostHog: the HogQL the skill sends, the API client that sends it, and links into PostHog's UI.

`queries` (list and load runs), `metrics_sql`, `overview_sql`, `drilldown_sql` and `compare_sql`
build the queries that do the heavy work inside PostHog; `metrics_queries` is the text
`cluster_metrics.py sql` prints. `posthog_api` and `live` talk to PostHog's query API (--live);
`links` and `link_options` build and parse UI links.
"""
