"""The statistics `cluster_metrics.py aggregate` prints, with the standard library only.

- `wilson`: the 95% Wilson score interval of a proportion (good at small n and at 0 or 1).
- `two_proportion_z`: is a cluster's rate above the rest of the run's? One-sided, pooled.
- `welch_t`: is a cluster's mean above the rest's? One-sided Welch t-test, Student t tail
  from the regularised incomplete beta function.
- `window_count`, `ratio_total`: a cluster's totals over the whole window, estimated from a
  run that clustered a simple random sample of the window's items. Counts get the exact
  hypergeometric interval (coverage at least 95% whatever the sampled fraction; it shrinks to
  the exact figure as the sample approaches the whole window); a total the window query
  measured exactly (cost) is split across clusters by the ratio estimator, so the clusters'
  estimates add up to it, with an interval from the ratio estimator's variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

Z95 = 1.959963984540054  # the normal quantile of 0.975


class Interval(NamedTuple):
    """A confidence interval: its lower and upper bound."""

    low: float
    high: float


def wilson(successes: int, n: int, z: float = Z95) -> Interval | None:
    """The Wilson score interval for `successes` out of `n`; None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


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

    @classmethod
    def pooled(cls, samples: Sequence["Sample"]) -> "Sample":
        """The sample of all values of `samples` together, from their counts, means and
        variances (within plus between sum of squares)."""
        present = [s for s in samples if s.n and s.mean is not None]
        n = sum(s.n for s in present)
        if n == 0:
            return cls(0, None, None)
        mean = math.fsum(s.n * s.mean for s in present) / n  # type: ignore[operator]
        if n < 2:
            return cls(n, mean, None)
        squares = math.fsum((s.n - 1) * (s.variance or 0.0) + s.n * (s.mean - mean) ** 2  # type: ignore[operator]
                            for s in present)
        return cls(n, mean, squares / (n - 1))


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


# --- from a sample to the whole window ----------------------------------------------------------

COUNT_METHOD = ("exact hypergeometric interval for the window count (the sample drawn without "
                "replacement from the window; coverage at least 95%)")
ERROR_METHOD = ("the window's exact error count split by the cluster's share of the sample's "
                "error items (ratio estimator), with the exact hypergeometric interval: the sampled "
                "error items are a sample without replacement of the window's")
TOTAL_METHOD = ("the window's exact total cost split by the cluster's share of the sample's cost "
                "(ratio estimator, so the clusters add up to the total), 95% t interval from the "
                "ratio estimator's variance (finite-population corrected), kept between the "
                "cluster's sampled cost and the total less the other clusters' sampled cost")


@dataclass(frozen=True)
class Estimate:
    """A window total: the estimate and its 95% interval; `exact` when the sample was the window."""

    value: float
    low: float
    high: float
    exact: bool = False


@dataclass(frozen=True)
class WindowEstimates:
    """One cluster's totals over its run's whole window, estimated from the run's sample; a
    figure is None where the sample cannot give it (no costs to split the window's by)."""

    items: Estimate
    total_cost: Estimate | None
    error_items: Estimate | None

    FIGURES = ("items", "total_cost", "error_items")  # in the order every view shows them

    def figure(self, name: str) -> Estimate | None:
        return getattr(self, name)

    def by_figure(self) -> list[tuple[str, Estimate | None]]:
        return [(name, self.figure(name)) for name in self.FIGURES]


def _log_choose(a: int, b: int) -> float:
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)


def hypergeometric_tail(k: int, n: int, successes: int, population: int, upper: bool) -> float:
    """P(X ≤ k), or P(X ≥ k) when `upper`, for X the successes in n draws without replacement
    from `population` items of which `successes` are successes. A tail away from the mode is
    summed outwards from k (its terms shrink, so it stops early); one holding the mode is one
    minus the other tail."""
    low, high = max(0, n - (population - successes)), min(n, successes)
    if (upper and k <= low) or (not upper and k >= high):
        return 1.0
    if (upper and k > high) or (not upper and k < low):
        return 0.0
    mode = (n + 1) * (successes + 1) // (population + 2)
    if upper and k <= mode:
        return max(0.0, 1 - _outward(k - 1, n, successes, population, up=False))
    if not upper and k >= mode:
        return max(0.0, 1 - _outward(k + 1, n, successes, population, up=True))
    return _outward(k, n, successes, population, up=upper)


def _outward(k: int, n: int, successes: int, population: int, up: bool) -> float:
    """P(X ≥ k) (`up`) or P(X ≤ k), summed from k away from the mode."""
    low, high = max(0, n - (population - successes)), min(n, successes)
    others = population - successes
    term = math.exp(_log_choose(successes, k) + _log_choose(others, n - k) - _log_choose(population, n))
    total, x = term, k
    while (x < high if up else x > low) and term > total * 1e-17:
        if up:
            term *= (successes - x) * (n - x) / ((x + 1) * (others - n + x + 1))
            x += 1
        else:
            term *= x * (others - n + x) / ((successes - x + 1) * (n - x + 1))
            x -= 1
        total += term
    return min(1.0, total)


def _search(low: int, high: int, ok) -> int:
    """The smallest value in [low, high] where the monotone predicate `ok` holds (high if none)."""
    while low < high:
        middle = (low + high) // 2
        if ok(middle):
            high = middle
        else:
            low = middle + 1
    return low


def hypergeometric_interval(k: int, n: int, population: int, alpha: float = 0.05) -> tuple[int, int]:
    """The exact (Clopper–Pearson style) interval for the number of successes in the population,
    from k successes in a sample of n drawn without replacement."""
    most = population - (n - k)
    low = 0 if k == 0 else _search(
        k, most, lambda K: hypergeometric_tail(k, n, K, population, True) > alpha / 2)
    if k == n:
        return low, most
    # the largest K with P(X ≤ k) > alpha/2, i.e. one below the smallest K where it is not
    high = _search(k, most + 1, lambda K: K > most or
                   hypergeometric_tail(k, n, K, population, False) <= alpha / 2) - 1
    return low, max(low, high)


def student_t_quantile(level: float, df: float) -> float:
    """The t with P(T ≤ t) = level (level > 0.5), by bisection on the upper tail."""
    low, high = 0.0, 1e3
    for _ in range(100):
        middle = (low + high) / 2
        if student_t_upper_tail(middle, df) > 1 - level:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def window_count(k: int, n: int, population: int, alpha: float = 0.05) -> Estimate | None:
    """The window count of the items like `k` of a simple random sample of `n` out of the
    window's `population` items: N·k/n with the exact hypergeometric interval; exact when n = N."""
    if n <= 0 or population <= 0 or n > population or not 0 <= k <= n:
        return None
    if n == population:
        return Estimate(k, k, k, exact=True)
    low, high = hypergeometric_interval(k, n, population, alpha)
    return Estimate(population * k / n, low, high)


def ratio_total(part: float, part_squares: float, part_n: int, whole: float, whole_squares: float,
                n: int, population: int, known_total: float, alpha: float = 0.05) -> Estimate | None:
    """A group's share of a window total that is known exactly, by the ratio (calibrated)
    estimator: known_total · part / whole, where `part` and `whole` are the sums of a non-negative
    value over the group's sampled items and over the whole sample of `n` (of `population`), and
    `*_squares` the sums of its squares; `part_n` counts the group's sampled items with a value.
    The groups' estimates add up to `known_total`. The interval is a t interval (part_n - 1
    degrees of freedom) from the ratio estimator's linearised variance
    (X/x)^2 · N^2 (1 - n/N) / n · s_d^2, where d = value·[in group] - R·value, kept inside what is
    certain: at least the group's own sampled total, at most the known total less the sampled
    total of the other groups."""
    if population <= 0 or n > population:
        return None
    if n == population:
        return Estimate(part, part, part, exact=True)
    if whole <= 0 or n <= 1:
        return None  # nothing in the sample to split the total by
    ratio = part / whole
    value = known_total * ratio
    residual_squares = ((1 - ratio) ** 2 * part_squares
                        + ratio * ratio * max(0.0, whole_squares - part_squares))
    calibration = known_total * n / (population * whole)  # the population mean over the sample's
    variance = (calibration * population) ** 2 * (1 - n / population) / n * residual_squares / (n - 1)
    half = student_t_quantile(1 - alpha / 2, part_n - 1) * math.sqrt(variance) if part_n > 1 else math.inf
    low = max(part, value - half)
    high = max(value, min(known_total - (whole - part), value + half))
    return Estimate(value, min(low, value), high)


def mean_interval(n: int, mean: float | None, variance: float | None,
                  level: float = 0.95) -> Interval | None:
    """The t interval of a mean from n values with sample variance `variance`; None with
    fewer than 2 values or no variance known."""
    if n < 2 or mean is None or variance is None:
        return None
    half = student_t_quantile(1 - (1 - level) / 2, n - 1) * math.sqrt(max(variance, 0.0) / n)
    return Interval(mean - half, mean + half)
