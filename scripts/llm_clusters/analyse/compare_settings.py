"""The thresholds of a comparison of clustering runs (matching, splits and merges, the share
test), checked before any run is compared."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

CORRECTIONS = ("holm", "none")


@dataclass(frozen=True)
class Settings:
    """The thresholds of a comparison; every report states them."""

    item_weight: float = 0.7
    text_weight: float = 0.3
    min_score: float = 0.3
    split_fraction: float = 0.2
    alpha: float = 0.05
    correction: str = "holm"

    def check(self) -> None:
        problems = []
        if self.item_weight < 0 or self.text_weight < 0 or self.item_weight + self.text_weight <= 0:
            problems.append("the item and text weights must be >= 0 and not both 0")
        if not 0 <= self.min_score <= 1:
            problems.append(f"the minimum score must be between 0 and 1, got {self.min_score}")
        if not 0 < self.split_fraction <= 0.5:
            problems.append(f"the split fraction must be > 0 and <= 0.5, got {self.split_fraction}")
        if not 0 < self.alpha < 1:
            problems.append(f"alpha must be between 0 and 1 (exclusive), got {self.alpha}")
        if self.correction not in CORRECTIONS:
            problems.append(f"the correction must be one of {', '.join(CORRECTIONS)}")
        if problems:
            raise UsageError("; ".join(problems) + ".")
