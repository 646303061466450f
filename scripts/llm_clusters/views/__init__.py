"""Output: what the scripts print, as text, Markdown or JSON. `render` holds the `Page` that owns
the difference between text and Markdown, and the JSON writer.

`run_views` and `run_json` (print_clusters), `metrics_view` and `window_view` (cluster_metrics),
`compare_report` (compare_runs), `link_views` and `pasted_links` (link_builder).
"""
