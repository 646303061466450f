"""Shared code of the exploring-llm-clusters scripts: reading saved PostHog results and printing them."""
