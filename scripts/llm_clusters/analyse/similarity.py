"""What two clusters of different runs have in common, apart from their items' overlap: a
deterministic similarity of their texts; and the one-to-one assignment that maximises a total
score (the Hungarian algorithm)."""

from __future__ import annotations

import math
import re
from typing import Sequence

from ..model import Cluster

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
    top = max(max(r) for r in matrix)
    cost = [[top - v for v in r] for r in matrix]  # minimise the cost = maximise the score
    owner = _Hungarian(cost).solve()
    pairs = [(row - 1, column - 1) for column, row in enumerate(owner) if column and row]
    if transposed:
        pairs = [(c, r) for r, c in pairs]
    return sorted(pairs)


class _Hungarian:
    """The minimum-cost assignment of every row of `cost` (n rows, m >= n columns) to its own
    column, by shortest augmenting paths with row and column potentials `u` and `v`. Rows and
    columns are numbered from 1; column 0 stands for the row being added."""

    def __init__(self, cost: list[list[float]]):
        self.cost = cost
        self.columns = len(cost[0])
        self.u = [0.0] * (len(cost) + 1)
        self.v = [0.0] * (self.columns + 1)
        self.owner = [0] * (self.columns + 1)  # owner[j]: the row holding column j, 0 if none
        self.way = [0] * (self.columns + 1)  # way[j]: the column before j on the augmenting path

    def solve(self) -> list[int]:
        """`owner`: the row given each column (0 for none; index 0 unused)."""
        for row in range(1, len(self.cost) + 1):
            self._augment(self._free_column_for(row))
        return self.owner

    def _free_column_for(self, row: int) -> int:
        """Grow the shortest augmenting path from `row` until it reaches a free column, which
        is returned; the potentials are adjusted on the way."""
        self.owner[0] = row
        column = 0
        least = [math.inf] * (self.columns + 1)  # least reduced cost to each column so far
        used = [False] * (self.columns + 1)
        while True:
            used[column] = True
            delta, nearest = self._nearest_column(column, least, used)
            self._shift_potentials(delta, least, used)
            column = nearest
            if self.owner[column] == 0:
                return column

    def _nearest_column(self, column: int, least: list[float], used: list[bool]) -> tuple[float, int]:
        """Relax the columns not on the path through `column`'s row; the least reduced cost
        among them and the column with it."""
        u, v, way = self.u, self.v, self.way
        row = self.owner[column]
        costs = self.cost[row - 1]
        delta, nearest = math.inf, 0
        for j in range(1, self.columns + 1):
            if used[j]:
                continue
            reduced = costs[j - 1] - u[row] - v[j]
            if reduced < least[j]:
                least[j], way[j] = reduced, column
            if least[j] < delta:
                delta, nearest = least[j], j
        return delta, nearest

    def _shift_potentials(self, delta: float, least: list[float], used: list[bool]) -> None:
        u, v, owner = self.u, self.v, self.owner
        for j in range(self.columns + 1):
            if used[j]:
                u[owner[j]] += delta
                v[j] -= delta
            else:
                least[j] -= delta

    def _augment(self, column: int) -> None:
        """Flip the path ending at the free `column`: each column on it goes to the row before."""
        while column:
            previous = self.way[column]
            self.owner[column] = self.owner[previous]
            column = previous
