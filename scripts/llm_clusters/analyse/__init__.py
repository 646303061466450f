"""Analysis: what the runs and their measurements mean.

Metrics: `stats` (intervals, tests, window estimates), `cluster_rows` (per-cluster measurements),
`overview` (the overview query's answer), `metrics_inputs` and `metrics_answer` (what
`cluster_metrics.py aggregate` measures and concludes), `findings` (an overview's opening lines).
Comparison: `similarity`, `compare_evidence`, `share_test`, `cluster_matching` (one run to the
next), `lineage` (across several), `compare` (the whole comparison, `compare_settings` its
thresholds), `compare_result` and `compare_inputs` (the runs and counts it reads).
"""
