"""Every view counts clusters one way ("N clusters + noise", or says noise is included) and shows
money by one rule (to the cent; below a cent, two significant digits)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llm_clusters.display import money

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RECENT = str(EXAMPLES / "recent_runs.execute-sql.txt")  # three runs of 4 clusters + noise
TRACE = str(EXAMPLES / "trace_run.execute-sql.txt")  # 6 clusters + noise


@pytest.mark.parametrize("value, shown", [
    (178.61, "$178.61"), (178.605, "$178.60"), (41, "$41.00"), (1234.5, "$1,234.50"), (0.1661, "$0.17"),
    (0.01, "$0.01"), (0.0094, "$0.0094"), (0.00052349, "$0.00052"), (1.2e-7, "$0.00000012"),
    (0.009999, "$0.01"), (-0.5, "-$0.50"), (0, "$0"), (None, "-")])
def test_money_is_to_the_cent_and_below_a_cent_two_significant_digits(value, shown):
    assert money(value) == shown


def test_every_view_counts_regular_clusters_plus_noise(run_cli):
    assert "in 6 clusters + noise." in run_cli.output(TRACE, command="print_clusters")
    assert "(trace level, 6 clusters + noise)" in run_cli.output("from-run", TRACE, command="link_builder")
    listing = run_cli.output(RECENT, "--list-runs", command="print_clusters")
    assert listing.count("4 clusters + noise") == 3
    compared = run_cli.output(RECENT, command="compare_runs")
    assert compared.count("4 clusters + noise") == 3
    for text in (listing, compared):
        assert not re.search(r"\b5 clusters\b", text)  # noise is never counted as a cluster


def test_money_in_the_views_follows_the_one_rule(run_cli):
    shown = set(re.findall(r"\$[\d,]+(?:\.\d+)?", run_cli.output(TRACE, command="print_clusters")))
    assert shown
    for text in shown:
        value = float(text[1:].replace(",", ""))
        assert money(value) == text, text


def test_the_report_counts_clusters_the_same_way(run_cli, tmp_path):

    assert "6 clusters + noise" in run_cli.output(TRACE, "-o", tmp_path / "r.html", command="report")
