"""The comparison's parts on their own: the assignment against brute force, the text similarity,
the share test and its correction."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_clusters.analyse.compare_evidence import TraceSample
from llm_clusters.analyse.share_test import z_test
from llm_clusters.analyse.similarity import jaccard, max_assignment, text_similarity
from llm_clusters.analyse.stats import holm
from llm_clusters.model import Cluster, Item, Run


def brute_force_best(scores: list[list[float]]) -> float:
    rows, cols = len(scores), len(scores[0])
    if rows <= cols:
        return max(sum(scores[r][c] for r, c in zip(range(rows), chosen))
                   for chosen in itertools.permutations(range(cols), rows))
    return max(sum(scores[r][c] for c, r in zip(range(cols), chosen))
               for chosen in itertools.permutations(range(rows), cols))


matrices = st.integers(1, 6).flatmap(lambda rows: st.integers(1, 6).flatmap(
    lambda cols: st.lists(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.9, 1.0]) | st.floats(0, 1),
                                   min_size=cols, max_size=cols), min_size=rows, max_size=rows)))


@settings(max_examples=300, deadline=None)
@given(matrices)
def test_the_assignment_is_one_to_one_and_as_good_as_brute_force(scores):
    pairs = max_assignment(scores)
    assert len(pairs) == min(len(scores), len(scores[0]))
    assert len({r for r, _ in pairs}) == len(pairs) == len({c for _, c in pairs})
    assert pairs == sorted(pairs)
    assert math.isclose(sum(scores[r][c] for r, c in pairs), brute_force_best(scores), abs_tol=1e-9)
    assert max_assignment([list(row) for row in scores]) == pairs  # deterministic


def test_the_assignment_on_small_known_cases():
    assert max_assignment([]) == []
    assert max_assignment([[0.2]]) == [(0, 0)]
    # Greedy would take the 0.9 and leave 0.1; the best total pairs the two 0.8s.
    assert max_assignment([[0.9, 0.8], [0.8, 0.1]]) == [(0, 1), (1, 0)]
    assert max_assignment([[0.1], [0.7], [0.3]]) == [(1, 0)]
    assert max_assignment([[0.1, 0.7, 0.3]]) == [(0, 1)]


def test_text_similarity_is_symmetric_bounded_and_ignores_case_punctuation_and_empties():
    a = "Refund requests | billing disputes"
    assert text_similarity(a, a) == 1.0
    assert text_similarity(a, "refund REQUESTS, billing-disputes!") == 1.0
    assert text_similarity(a, "") is None and text_similarity("  ", a) is None
    close = text_similarity(a, "Refund and billing dispute requests from customers")
    far = text_similarity(a, "Python debugging help")
    assert 0 <= far < 0.2 < close < 1
    assert close == text_similarity("Refund and billing dispute requests from customers", a)


def test_jaccard():
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) is None


def test_holm_adjusts_in_order_and_is_monotone():
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([]) == []
    assert holm([0.9, 0.9]) == [1.0, 1.0]


def test_z_test_matches_the_textbook_unpooled_statistic():
    p1, n1, p2, n2 = 0.10, 300, 0.20, 300
    z, p = z_test(p1, p1 * (1 - p1) / n1, p2, p2 * (1 - p2) / n2)
    assert z == pytest.approx(0.1 / math.sqrt(0.09 / 300 + 0.16 / 300))
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert z_test(0.0, 0.0, 0.0, 0.0) == (None, 1.0)


def _run(clusters: dict[int, list[tuple[str, str]]]) -> Run:
    """A run from cluster id -> [(item key, trace id)]."""
    made = [Cluster(cid, len(items), f"Cluster {cid}", "", len(items),
                    [Item(key, None, None, None, None, None, trace, None) for key, trace in items])
            for cid, items in clusters.items()]
    return Run(made, run_id="1_trace_20260101_000000")


def test_share_variance_is_binomial_at_trace_level_and_wider_when_generations_share_a_trace():
    traces = _run({0: [(f"t{i}", f"t{i}") for i in range(30)],
                   1: [(f"u{i}", f"u{i}") for i in range(70)]})
    sample = TraceSample(traces)
    assert sample.variance(traces.clusters[0]) == pytest.approx(0.3 * 0.7 / 100)
    # The same shares, but cluster 0's 30 generations come from 3 traces of 10.
    generations = _run({0: [(f"g{i}", f"t{i % 3}") for i in range(30)],
                        1: [(f"h{i}", f"u{i}") for i in range(70)]})
    assert (TraceSample(generations).variance(generations.clusters[0])
            > 5 * sample.variance(traces.clusters[0]))
