#!/usr/bin/env python3
# /// script
# requires-python = ">=3.10"
# dependencies = ["httpx>=0.27", "ijson>=3.2"]
# ///
"""Write one self-contained HTML (or Markdown) report about a clustering run. Run with --help."""

import sys

from llm_clusters.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("report"))
