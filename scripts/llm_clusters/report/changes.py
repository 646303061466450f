"""The HTML section on how clusters moved between runs: the flow, then for each pair of
consecutive runs the matched clusters with their share change and test, and the new, vanished,
split and merged clusters, as the comparison finds them (compare.py)."""

from __future__ import annotations

from ..analyse.cluster_matching import Division, Pair, Step
from ..analyse.compare import Comparison
from ..display import count, percent
from ..model import Cluster, Run
from ..views.render import cluster_title
from .content import ReportContent
from .markup import link, text
from .svg import flow_svg

MAX_ROWS = 40  # rows per table, changes per list


def lineage_colours(report: ReportContent, comparison: Comparison) -> list[int | None]:
    """Each lineage takes the colour of its cluster in the report's run (the map's colour)."""
    index = next((i for i, run in enumerate(comparison.runs) if run is report.run), None)
    by_id = {f.cluster.cluster_id: f.colour for f in report.clusters}
    colours = []
    for lineage in comparison.lineages:
        cluster = lineage.clusters[index] if index is not None else None
        colours.append(by_id.get(cluster.cluster_id) if cluster is not None else None)
    return colours


def comparison_section(report: ReportContent, comparison: Comparison) -> list[str]:
    s = comparison.settings
    parts = ['<section id="changes"><h2>How the clusters moved between runs</h2>',
             f"<p>{len(comparison.runs)} runs, oldest left. Bars are clusters sized by items; bands join a "
             "cluster to its match in the next run (or the parts of a split or merge). Outlined (+): new; "
             "dashed (✕): vanished; grey at the bottom: noise. Colours follow the map; clusters absent "
             "from the report's run are grey-blue.</p>",
             flow_svg(comparison, lineage_colours(report, comparison))]
    for number, step in enumerate(comparison.steps, 1):
        parts += _step(report, step, number)
    parts.append(f'<p class="muted">Matched one-to-one by shared items (weight {s.item_weight}) and '
                 f"title+description (weight {s.text_weight}), minimum score {s.min_score}; splits and "
                 f"merges where at least {s.split_fraction:.0%} of the shared items went; share changes by a "
                 f"two-proportion z-test (traces as sampling units, {s.correction}-corrected, alpha "
                 f"{s.alpha}): compare_runs.py with its defaults.</p></section>")
    return parts


def _run_name(report: ReportContent, run: Run) -> str:
    url = report.links.run(run.run_id) if report.links and run.run_id else None
    return link(text(run.run_id or "(no run id)", 100), url)


def _cluster_name(report: ReportContent, run: Run, cluster: Cluster) -> str:
    url = report.links.cluster(run.run_id, cluster.cluster_id) if report.links and run.run_id else None
    return f"{link(str(cluster.cluster_id), url)} {text(cluster_title(cluster, 50))}"


def _pair_row(report: ReportContent, step: Step, pair: Pair) -> str:
    called = pair.test.change if pair.test else "-"
    if pair.test and pair.test.significant:
        called += f" (p={pair.test.p_adjusted:.2g})"
    return (f"<tr><td>{_cluster_name(report, step.before, pair.before)}</td>"
            f"<td>{_cluster_name(report, step.after, pair.after)}</td>"
            f'<td class="num">{percent(pair.share_before)} → {percent(pair.share_after)}</td>'
            f'<td>{text(called)}</td><td class="num">{pair.score:.2f}</td></tr>')


def _step(report: ReportContent, step: Step, number: int) -> list[str]:
    parts = [f"<h3>#{number} → #{number + 1}: {_run_name(report, step.before)} → "
             f"{_run_name(report, step.after)}</h3>",
             f"<p>{count(step.shared_items)} items in both runs; noise {percent(step.noise_before)} → "
             f"{percent(step.noise_after)} ({text(step.noise_test.change)}).</p>"]
    pairs = sorted(step.pairs, key=lambda p: -abs(p.share_after - p.share_before))
    if pairs:
        parts += ["<table><thead><tr><th>before</th><th>after</th><th>share</th><th>change</th>"
                  "<th>match score</th></tr></thead><tbody>",
                  *(_pair_row(report, step, p) for p in pairs[:MAX_ROWS]), "</tbody></table>"]
    else:
        parts.append('<p class="muted">No cluster matched.</p>')
    changes = ([f"new: {_cluster_name(report, step.after, c)} ({count(c.size)} items)" for c in step.new]
               + [f"vanished: {_cluster_name(report, step.before, c)} ({count(c.size)} items)"
                  for c in step.vanished]
               + [_division(report, step, d) for d in step.divisions])
    if changes:
        parts.append("<ul>" + "".join(f"<li>{change}</li>" for change in changes[:MAX_ROWS]) + "</ul>")
    left = max(0, len(pairs) - MAX_ROWS) + max(0, len(changes) - MAX_ROWS)
    if left:
        parts.append(f'<p class="muted">{left} more matched clusters or changes not listed.</p>')
    return parts


def _division(report: ReportContent, step: Step, division: Division) -> str:
    split = division.kind == "split"
    parts_run, whole_run = (step.after, step.before) if split else (step.before, step.after)
    parts = ", ".join(f"{_cluster_name(report, parts_run, part)} ({fraction:.0%})"
                      for part, fraction in zip(division.parts, division.fractions))
    whole = _cluster_name(report, whole_run, division.whole)
    return f"split: {whole} into {parts}" if split else f"merged: {parts} into {whole}"
