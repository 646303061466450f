#!/usr/bin/env python3
# /// script
# requires-python = ">=3.10"
# dependencies = ["httpx>=0.27", "ijson>=3.2"]
# ///
"""Compare PostHog LLM clustering runs saved to files: matched clusters, growth, new, vanished,
splits, merges. Run with --help for the flags."""

import sys

from llm_clusters.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("compare_runs"))
