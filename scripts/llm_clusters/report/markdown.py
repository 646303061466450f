"""The report's Markdown twin, for a pull request or a chat: the same findings and tables as the
HTML page, without the pictures (the page holds the map and the flow)."""

from __future__ import annotations

from ..display import clean, count, markdown, markdown_link, money, percent, seconds
from ..views.render import Page, cluster_title, estimate_text, whole
from .changes import MAX_ROWS
from .content import NO_LINKS, ClusterFigures, Figure, ReportContent, flagged_text


def _figure(figure: Figure | None, show) -> str:
    if figure is None or figure.value is None:
        return "-"
    interval = f" ({show(figure.interval[0])}–{show(figure.interval[1])})" if figure.interval else ""
    return f"{show(figure.value)}{interval}"


def _name(figure: ClusterFigures) -> str:
    return markdown_link(str(figure.cluster.cluster_id), figure.url)


def render_markdown(report: ReportContent) -> str:
    page = Page("markdown")
    page.heading(markdown_link(report.title, report.run_url), level=1)
    page.lines(f"**Warning:** {markdown(clean(w, 600))}" for w in report.warnings)
    page.lines(markdown(line) for line in report.header + report.coverage)
    if report.links is None:
        page.line(markdown(NO_LINKS))
    measured = report.metrics_source is not None
    page.heading("Clusters")
    heads = ["id", "title", f"{report.unit}s", "share (95% CI)"]
    if measured:
        heads += ["total cost (sample)", "mean cost (95% CI)", "mean latency (95% CI)", "error rate (95% CI)",
                  "above the rest"]
    rows = []
    for f in report.clusters:
        row = [_name(f), markdown(cluster_title(f.cluster, 60)), count(f.cluster.size),
               _figure(f.share, percent)]
        if measured:
            row += [money(f.total_cost), _figure(f.avg_cost, money), _figure(f.avg_latency, seconds),
                    _figure(f.error_rate, percent), flagged_text(f) or "-"]
        rows.append(row)
    page.table(heads, rows)
    if report.clusters_omitted:
        page.line(f"{report.clusters_omitted} smaller clusters not shown; see them with --max-clusters 0.")
    if report.metrics_source == "embedded":
        page.line("Cost, latency and errors are PostHog's embedded averages: no intervals for cost and "
                  "latency.")
    elif not measured:
        page.line("No cost, latency or error figures: pass the saved result of `cluster_metrics.py sql "
                  "--per-item`.")
    if report.totals and any(f.window for f in report.clusters):
        _window(page, report)
    if report.comparison:
        _comparison(page, report)
    page.heading("Best-ranked items")
    page.line("Rank 0 is a cluster's most representative item; in noise (-1), the most anomalous.")
    generations = report.run.level == "generation"
    page.table(["cluster", "rank", f"{report.unit} id"], [
        [str(f.cluster.cluster_id), "-" if item.rank is None else str(item.rank),
         markdown_link(clean(item.generation_id if generations else (item.trace_id or item.key), 80), url)]
        for f in report.clusters for item, url in f.top])
    data = report.map
    page.line(f"The HTML report holds the 2-D map ({count(len(data.points))} of {count(data.items)} items"
              f"{', thinned' if data.thinned else ''}) and the flow between runs."
              if data.points else "The run records no 2-D coordinates: no map.")
    page.heading("Inputs and notes")
    page.bullets([f"Read {markdown(line)}" for line in report.read_as]
                 + [f"Note: {markdown(clean(note, 400))}" for note in report.notes])
    return page.render(budget=None) + "\n"


def _window(page: Page, report: ReportContent) -> None:
    totals = report.totals
    page.heading("The whole window")
    page.line(f"Exact: {count(totals.items)} {report.unit}s, {money(totals.total_cost)} total cost, "
              f"{count(totals.error_items)} with an error. Per cluster, estimates with 95% intervals:")
    page.table(["id", "title", "in the run", "window items", "window cost", "window items with an error"], [
        [_name(f), markdown(cluster_title(f.cluster, 60)), count(f.cluster.size),
         estimate_text(f.window.items, whole), estimate_text(f.window.total_cost, money),
         estimate_text(f.window.error_items, whole)] for f in report.clusters if f.window])


def _comparison(page: Page, report: ReportContent) -> None:
    comparison = report.comparison
    page.heading("How the clusters moved between runs")
    for number, step in enumerate(comparison.steps, 1):
        page.heading(f"#{number} → #{number + 1}: {markdown(clean(step.before.run_id, 100))} → "
                     f"{markdown(clean(step.after.run_id, 100))}", level=3)
        page.line(f"{count(step.shared_items)} items in both runs; noise {percent(step.noise_before)} → "
                  f"{percent(step.noise_after)} ({step.noise_test.change}).")
        pairs = sorted(step.pairs, key=lambda p: -abs(p.share_after - p.share_before))
        page.table(["before", "after", "share", "change"], [
            [f"{p.before.cluster_id} {markdown(cluster_title(p.before, 50))}",
             f"{p.after.cluster_id} {markdown(cluster_title(p.after, 50))}",
             f"{percent(p.share_before)} → {percent(p.share_after)}",
             (p.test.change if p.test else "-")] for p in pairs[:MAX_ROWS]])
        if len(pairs) > MAX_ROWS:
            page.line(f"{len(pairs) - MAX_ROWS} more matched clusters not shown.")
        changes = ([f"new: {c.cluster_id} {markdown(cluster_title(c, 50))} ({count(c.size)} items)"
                    for c in step.new]
                   + [f"vanished: {c.cluster_id} {markdown(cluster_title(c, 50))} ({count(c.size)} items)"
                      for c in step.vanished]
                   + [f"{d.kind}: {d.whole.cluster_id} {'into' if d.kind == 'split' else 'from'} "
                      + ", ".join(f"{p.cluster_id} ({f:.0%})" for p, f in zip(d.parts, d.fractions))
                      for d in step.divisions])
        page.bullets(changes[:MAX_ROWS])
        if len(changes) > MAX_ROWS:
            page.line(f"{len(changes) - MAX_ROWS} more changes not listed.")
