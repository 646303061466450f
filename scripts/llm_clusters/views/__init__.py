"""Output: what the scripts print, as text, Markdown or JSON; `render.Page` owns the difference.

`run_views` and `run_json` (print_clusters), `metrics_view` and `window_view` (cluster_metrics),
`compare_report` (compare_runs), `link_views` and `pasted_links` (link_builder).
"""
