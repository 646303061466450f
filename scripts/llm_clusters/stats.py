"""The statistics `cluster_metrics.py aggregate` prints, with the standard library only.

- `wilson`: the 95% Wilson score interval of a proportion (good at small n and at 0 or 1).
- `two_proportion_z`: is a cluster's rate above the rest of the run's? One-sided, pooled.
- `welch_t`: is a cluster's mean above the rest's? One-sided Welch t-test, Student t tail
  from the regularised incomplete beta function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

Z95 = 1.959963984540054  # the normal quantile of 0.975


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for `successes` out of `n`; None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def normal_upper_tail(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def normal_two_sided(z: float) -> float:
    """P(|Z| > |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given."""
    order = sorted(range(len(p_values)), key=lambda i: (p_values[i], i))
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class TestResult:
    test: str  # the test's name, as printed
    statistic: float
    p_value: float  # one-sided: "the cluster is above the rest"


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> TestResult | None:
    """One-sided pooled two-proportion z-test of k1/n1 > k2/n2; None when it cannot be computed
    (an empty side, or no variation at all)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (k1 / n1 - k2 / n2) / se
    return TestResult("two-proportion z-test", z, normal_upper_tail(z))


@dataclass(frozen=True)
class Sample:
    """Count, mean and sample variance of a set of values."""

    n: int
    mean: float | None
    variance: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> "Sample":
        n = len(values)
        if n == 0:
            return cls(0, None, None)
        mean = math.fsum(values) / n
        variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else None
        return cls(n, mean, variance)


def welch_t(a: Sample, b: Sample) -> TestResult | None:
    """One-sided Welch t-test of mean(a) > mean(b); None with fewer than 2 values a side or no
    variance at all."""
    if a.n < 2 or b.n < 2 or a.variance is None or b.variance is None:
        return None
    va, vb = a.variance / a.n, b.variance / b.n
    if va + vb == 0:
        return None
    t = (a.mean - b.mean) / math.sqrt(va + vb)  # type: ignore[operator]
    df = (va + vb) ** 2 / ((va * va / (a.n - 1) if va else 0) + (vb * vb / (b.n - 1) if vb else 0))
    return TestResult("Welch t-test", t, student_t_upper_tail(t, df))


def student_t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2, 0.5)
    return tail if t >= 0 else 1 - tail


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), by the continued fraction (modified Lentz), as in Numerical Recipes."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x > (a + 1) / (a + b + 2):
        return 1 - math.exp(log_front) * _beta_fraction(1 - x, b, a) / b
    return math.exp(log_front) * _beta_fraction(x, a, b) / a


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return result
