#!/usr/bin/env python3
# /// script
# requires-python = ">=3.10"
# dependencies = ["httpx>=0.27", "ijson>=3.2"]
# ///
"""Cost, latency, tokens and errors per cluster of a PostHog LLM clustering run: the HogQL that
measures them inside PostHog (`sql`), and the per-cluster table from saved results
(`aggregate`). Run with --help for the flags."""

import sys

from llm_clusters.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("cluster_metrics"))
