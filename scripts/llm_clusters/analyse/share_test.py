"""Whether a cluster's share of its run's items changed between two runs by more than sampling
noise: an unpooled two-proportion z-test whose variances treat traces as the sampling units
(`compare_evidence.TraceSample`), with the p-values of shares tested together Holm-corrected
unless the settings say otherwise."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..model import Cluster
from .compare_evidence import TraceSample
from .compare_settings import Settings
from .stats import holm, normal_two_sided

CHANGES = ("grew", "shrank", "no significant change")


@dataclass(frozen=True)
class ShareTest:
    z: float | None
    p_value: float  # as computed
    p_adjusted: float  # after the correction for testing many clusters at once
    change: str  # one of CHANGES

    @property
    def significant(self) -> bool:
        """Whether the test called the share grown or shrunk."""
        return self.change != CHANGES[2]


@dataclass(frozen=True)
class ShareDifference:
    """One share compared with another before the correction: the z-test's statistic and
    p-value, and the later share minus the earlier."""

    z: float | None
    p_value: float
    difference: float


def z_test(share_a: float, var_a: float, share_b: float, var_b: float) -> tuple[float | None, float]:
    """Unpooled two-proportion z-test of share_b - share_a: (z, two-sided p-value)."""
    spread = math.sqrt(var_a + var_b)
    if spread == 0:
        return None, 1.0 if share_a == share_b else 0.0
    z = (share_b - share_a) / spread
    return z, normal_two_sided(z)


def share_difference(sample_a: TraceSample, a: Cluster | None, sample_b: TraceSample,
                     b: Cluster | None) -> ShareDifference:
    """The share of cluster `b` (of one run) against that of `a` (of an earlier run)."""
    share_a, share_b = sample_a.share(a), sample_b.share(b)
    z, p_value = z_test(share_a, sample_a.variance(a), share_b, sample_b.variance(b))
    return ShareDifference(z, p_value, share_b - share_a)


def share_tests(differences: list[ShareDifference], settings: Settings) -> list[ShareTest]:
    """The ShareTest of each difference, the differences tested together."""
    p_values = [d.p_value for d in differences]
    adjusted = holm(p_values) if settings.correction == "holm" else p_values
    tests = []
    for d, p_adjusted in zip(differences, adjusted):
        change = CHANGES[2]
        if p_adjusted <= settings.alpha and d.difference:
            change = CHANGES[0] if d.difference > 0 else CHANGES[1]
        tests.append(ShareTest(d.z, d.p_value, p_adjusted, change))
    return tests
