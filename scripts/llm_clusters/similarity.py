"""What two clusters of different runs have in common, apart from their items' overlap: a
deterministic similarity of their texts; and the one-to-one assignment that maximises a total
score (the Hungarian algorithm)."""

from __future__ import annotations

import math
import re
from typing import Sequence

from .model import Cluster

# A label PostHog writes when its labelling agent gave none: it says nothing about the content.
_PLACEHOLDER_TITLE = re.compile(r"cluster -?\d+", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
_STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in into is it its of on or that the their this "
    "to was were with".split())
# The text matching reads: the first characters of the title and the description (the
# comparison query returns no more, so files and the query's answer match clusters alike).
TITLE_CHARS = 200
DESCRIPTION_CHARS = 400


def cluster_text(cluster: Cluster) -> str:
    """Title and description (their first TITLE_CHARS and DESCRIPTION_CHARS characters),
    without PostHog's placeholder label for unlabelled clusters."""
    title = "" if _PLACEHOLDER_TITLE.fullmatch(cluster.title.strip()) else cluster.title[:TITLE_CHARS]
    return f"{title} {cluster.description[:DESCRIPTION_CHARS]}".strip()


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def jaccard(a: set | frozenset, b: set | frozenset) -> float | None:
    union = len(a | b)
    return len(a & b) / union if union else None


def text_similarity(a: str, b: str) -> float | None:
    """0..1: the mean of the Jaccard indexes of the word sets (stop words left out) and of the
    character-trigram sets; None when either text is empty (no evidence either way)."""
    words_a, words_b = words(a), words(b)
    if not words_a or not words_b:
        return None
    content_a = {w for w in words_a if w not in _STOP_WORDS} or set(words_a)
    content_b = {w for w in words_b if w not in _STOP_WORDS} or set(words_b)
    return (jaccard(content_a, content_b) + jaccard(_trigrams(words_a), _trigrams(words_b))) / 2


def _trigrams(words: list[str]) -> set[str]:
    padded = f"  {' '.join(words)} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def max_assignment(scores: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """A one-to-one assignment of rows to columns maximising the total score (Hungarian
    algorithm, O(n^3)); min(rows, columns) pairs, sorted by row. Deterministic: among equal
    totals it is the same for the same matrix."""
    rows = len(scores)
    cols = len(scores[0]) if rows else 0
    if not rows or not cols:
        return []
    transposed = rows > cols
    matrix = [list(r) for r in zip(*scores)] if transposed else [list(r) for r in scores]
    n, m = len(matrix), len(matrix[0])  # n <= m
    top = max(max(r) for r in matrix)
    cost = [[top - v for v in r] for r in matrix]  # minimise the cost = maximise the score
    u, v = [0.0] * (n + 1), [0.0] * (m + 1)
    way, owner = [0] * (m + 1), [0] * (m + 1)  # owner[j]: the row holding column j (1-based)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        least = [math.inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = owner[j0], math.inf, 0
            for j in range(1, m + 1):
                if used[j]:
                    continue
                reduced = cost[i0 - 1][j - 1] - u[i0] - v[j]
                if reduced < least[j]:
                    least[j], way[j] = reduced, j0
                if least[j] < delta:
                    delta, j1 = least[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    least[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    pairs = [(owner[j] - 1, j - 1) for j in range(1, m + 1) if owner[j]]
    if transposed:
        pairs = [(c, r) for r, c in pairs]
    return sorted(pairs)
