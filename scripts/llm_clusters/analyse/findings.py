"""The few lines an overview opens with: the largest and the most expensive cluster, and the
clusters significantly above the rest of the run in cost per item, latency or error rate
(one-sided tests, Holm-corrected, as `cluster_rows.add_tests` sets them), each with its link
when the PostHog host and project are known."""

from __future__ import annotations

from ..display import clean, count, money, percent, seconds
from ..environment import HOST_ENV, PROJECT_ENV
from ..model import Cluster, Run

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:  # views.run_views imports this module; the statistics and links load for an overview
    from typing import Mapping

    from ..posthog.links import LinkBuilder
    from .cluster_rows import ClusterRow

TITLE_CHARS = 60


def links_from_env(env: Mapping[str, str]) -> LinkBuilder | None:
    """Links only when both the host and the project are set: a guessed host links nowhere."""
    if env.get(HOST_ENV, "").strip() and env.get(PROJECT_ENV, "").strip():
        from ..posthog.links import LinkBuilder

        return LinkBuilder.create(env=env)
    return None


def overview_findings(run: Run, links: LinkBuilder | None) -> list[str]:
    """The findings of an overview's answer (`run.overview`), its tests run first."""
    from .cluster_rows import add_tests
    from .overview import overview_rows

    rows = overview_rows(run)
    add_tests(rows)
    return findings_lines(run, rows, links)


def findings_lines(run: Run, rows: list["ClusterRow"], links: LinkBuilder | None = None) -> list[str]:
    regular = [row for row in rows if not row.cluster.is_noise]
    if not regular:
        return []
    unit = "generation" if run.level == "generation" else "trace"
    total = sum(row.items for row in rows)

    def name(row: "ClusterRow") -> str:
        noise = "noise " if row.cluster.is_noise else ""
        label = f"{noise}cluster {row.cluster.cluster_id} '{clean(row.cluster.title, TITLE_CHARS)}'"
        if links and run.run_id:
            label += f" {links.cluster(run.run_id, row.cluster.cluster_id)}"
        return label

    largest = max(regular, key=lambda r: (r.items, -r.cluster.cluster_id))
    lines = [f"Largest: {name(largest)}, {count(largest.items)} {unit}s "
             f"({percent(largest.items / total if total else None)} of the run)."]
    costly = [r for r in regular if r.total_cost is not None]
    if costly:
        top = max(costly, key=lambda r: (r.total_cost, -r.cluster.cluster_id))
        lines.append(f"Most expensive in total: {name(top)}, {money(top.total_cost)} over the run's sample.")
    flagged = False
    for key, label, show in (("avg_cost", "Most expensive per item",
                              lambda r: f"{money(r.avg_cost)} per {unit}"),
                             ("avg_latency", "Slowest", lambda r: f"{seconds(r.avg_latency)} mean latency"),
                             ("error_rate", "Most error-prone",
                              lambda r: f"{percent(r.error_rate)} of {unit}s with data had an error")):
        significant = [r for r in rows if r.tests.get(key) and r.tests[key].significant]
        if significant:
            flagged = True
            top = max(significant, key=lambda r: (getattr(r, key) or 0, -r.cluster.cluster_id))
            lines.append(f"{label}: {name(top)}, {show(top)}, significantly above the rest "
                         f"(adjusted p={top.tests[key].p_adjusted:.2g}).")
    if not flagged:
        lines.append("No cluster is significantly above the rest of the run in cost per item, "
                     "latency or error rate.")
    return lines


def more_items_line(cluster: Cluster, shown: int) -> str:
    """What to do for the items an overview does not carry (it holds the best-ranked only)."""
    return (f"{count(cluster.item_count - shown)} more items: the overview holds only the best-ranked; "
            f"list them with `cluster_metrics.py sql --run-id RUN_ID --cluster {cluster.cluster_id}` "
            "(filtered and sorted inside PostHog).")
