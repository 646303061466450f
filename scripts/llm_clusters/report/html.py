"""The report as ONE self-contained HTML page: inline CSS and SVG, no script, nothing loaded
from anywhere. A Content-Security-Policy allows only the page's own stylesheet (by its hash),
so even markup that slipped past the escaping could neither run nor load anything."""

from __future__ import annotations

import base64
import hashlib
import math

from ..display import count, money, percent, seconds
from ..views.render import cluster_title, estimate_text, whole
from .changes import comparison_section
from .content import NO_LINKS, PALETTE, ClusterFigures, Figure, ReportContent
from .markup import colour_class, link, text
from .svg import bar_svg, map_svg

DESCRIPTION_CHARS = 1500

CSS = "".join((
    'body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1f23;',
    "margin:24px auto;max-width:1240px;padding:0 16px}",
    "h1{font-size:22px;margin:0 0 6px}h3{font-size:15px;margin:18px 0 6px}p{margin:4px 0}",
    "h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}",
    ".muted{color:#5b616b}.small{font-size:12px}.warn{color:#8a4b00;font-weight:600}a{color:#1f5fbf}",
    "table{border-collapse:collapse;margin:6px 0}th{font-weight:600;background:#f6f7f9}",
    "th,td{padding:3px 6px;border-bottom:1px solid #eee;text-align:left;vertical-align:middle}",
    "td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}td.title{min-width:170px}",
    "td.title,.legend li,#notes li,h1,h3,code{overflow-wrap:anywhere}.flag{white-space:nowrap}",
    "details p{white-space:pre-line;max-width:420px;font-size:12px;color:#3d4249}summary{cursor:pointer}",
    ".figure{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}",
    ".legend{list-style:none;padding:0;margin:0;max-width:320px;font-size:13px}.legend li{margin:2px 0}",
    ".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}",
    "svg text{font:11px system-ui,sans-serif;fill:#1d1f23}.map .frame{fill:#fbfbfc;stroke:#e3e5e8}",
    ".map .lbl text{text-anchor:middle;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px;",
    "stroke-linejoin:round}.map .top circle{stroke:#111;stroke-width:1.5}.pts circle{fill-opacity:.75}",
    ".ci{stroke:#222;stroke-width:1.2;fill:none}.flag{color:#b42318;font-weight:600}",
    ".flow .band{fill-opacity:.35}.flow .head{font-weight:600}.flow .new rect{stroke:#111;stroke-width:1.5}",
    ".flow .gone rect{stroke:#111;stroke-width:1.5;stroke-dasharray:2 2}.flow .noise rect{fill:#c4c7cc}",
    "code{font-size:12px;background:#f3f4f6;padding:0 3px;border-radius:3px}",
    ".noise{fill:#b9bcc2;background:#b9bcc2}.kx{fill:#9aa3ad;background:#9aa3ad}",
    *(f".k{i}{{fill:{c};background:{c}}}" for i, c in enumerate(PALETTE)),
))


def content_security_policy(css: str = CSS) -> str:
    """Nothing but the page's own stylesheet: no script, image, font, frame, form or base."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; base-uri 'none'; "
            "form-action 'none'")


def render_html(report: ReportContent) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{text(report.title)}</title>",
        f"<style>{CSS}</style></head><body>",
        *_header(report), *_map_section(report), *_clusters_section(report),
    ]
    if report.totals and any(f.window for f in report.clusters):
        parts += _window_section(report)
    if report.comparison:
        parts += comparison_section(report, report.comparison)
    parts += [*_items_section(report), *_notes(report), "</body></html>"]
    return "\n".join(parts) + "\n"


def _header(report: ReportContent) -> list[str]:
    parts = [f"<header><h1>{link(text(report.title), report.run_url)}</h1>",
             *(f'<p class="warn">Warning: {text(w, 600)}</p>' for w in report.warnings),
             *(f"<p>{text(line)}</p>" for line in report.header),
             '</header><section id="coverage"><h2>Coverage</h2>',
             *(f"<p>{text(line)}</p>" for line in report.coverage)]
    if report.links is None:
        parts.append(f'<p class="muted">{text(NO_LINKS)}</p>')
    parts.append("</section>")
    return parts


def _map_section(report: ReportContent) -> list[str]:
    data = report.map
    parts = ['<section id="map"><h2>Map of the items</h2>']
    if not data.points:
        parts.append(f"<p>This run records no 2-D coordinates (x/y) for its items ({count(data.items)} "
                     "items), so there is no map. Older runs and runs without a 2-D view have none.</p>"
                     "</section>")
        return parts
    svg, skipped = map_svg(data)
    legend = "".join(f'<li><span class="sw {colour_class(f.colour)}"></span>'
                     f"{link(str(f.cluster.cluster_id), f.url)} {text(cluster_title(f.cluster, 50))} "
                     f'<span class="muted">{count(f.cluster.size)}</span></li>' for f in report.clusters)
    parts.append(f'<div class="figure">{svg}<ul class="legend">{legend}</ul></div>')
    said = [f"{count(len(data.points))} of the run's {count(data.items)} items, one dot each, coloured by "
            "cluster (noise grey), in PostHog's own 2-D layout. Ringed: each cluster's best-ranked items "
            "(in noise, the most anomalous)"
            + (", each a link to its PostHog page." if report.links else ".")]
    if data.thinned:
        said.append("Thinned for the map: the run holds more located items than the map's bound, so each "
                    "cluster shows an even spread of its items by rank (--map-points N sets the bound, "
                    "0 for all).")
    if data.without_xy:
        said.append(f"{count(data.without_xy)} items have no x/y and are not drawn.")
    if skipped:
        said.append(f"{skipped} cluster labels would overlap others and are left out; the legend lists "
                    "every cluster.")
    parts.append(f'<p class="muted">{" ".join(text(s) for s in said)}</p></section>')
    return parts


def _top(figures: list[ClusterFigures], attribute: str) -> float:
    """The bars' common scale: the highest value or interval end of the column."""
    values = [getattr(f, attribute) for f in figures]
    highs = [v.interval[1] if v.interval else v.value
             for v in values if v is not None and v.value is not None]
    return max([h for h in highs if math.isfinite(h)] or [0.0])


def _cell(figure: Figure | None, top: float, colour: int | None, show, what: str) -> str:
    if figure is None or figure.value is None:
        return '<td class="num">-</td><td></td>'
    interval = f"({show(figure.interval[0])}–{show(figure.interval[1])})" if figure.interval else ""
    n = f", n={count(figure.n)}" if figure.n is not None else ""
    bar = bar_svg(figure.value, figure.interval, top, colour, f"{what} {show(figure.value)} {interval}")
    return (f'<td class="num">{text(show(figure.value))}<br><span class="small muted">'
            f"{text(interval or 'no interval')}{text(n)}</span></td><td>{bar}</td>")


def _title_cell(figure: ClusterFigures) -> str:
    """The title; the description, when there is one, opens under it (no script needed)."""
    title = text(cluster_title(figure.cluster, 70))
    description = text(figure.cluster.description, DESCRIPTION_CHARS, keep_newlines=True)
    if not description:
        return f'<td class="title">{title}</td>'
    return f'<td class="title"><details><summary>{title}</summary><p>{description}</p></details></td>'


def _clusters_section(report: ReportContent) -> list[str]:
    figures = report.clusters
    measured = report.metrics_source is not None
    heads = ["id", "title", f"{report.unit}s", "share of the run"]
    heads += ["total cost", "mean cost", "mean latency", "error rate"] if measured else []
    parts = ['<section id="clusters"><h2>Clusters</h2><table><thead><tr>',
             "".join(f'<th colspan="2">{h}</th>' if "mean" in h or "rate" in h or "share" in h
                     else f"<th>{h}</th>" for h in heads),
             "<th>flags</th></tr></thead><tbody>"]
    tops = {name: _top(figures, name) for name in ("share", "avg_cost", "avg_latency", "error_rate")}
    for f in figures:
        row = [f'<tr><td class="num"><span class="sw {colour_class(f.colour)}"></span>'
               f"{link(str(f.cluster.cluster_id), f.url)}</td>{_title_cell(f)}"
               f'<td class="num">{count(f.cluster.size)}</td>',
               _cell(f.share, tops["share"], f.colour, percent, "share")]
        if measured:
            row += [f'<td class="num">{money(f.total_cost)}</td>',
                    _cell(f.avg_cost, tops["avg_cost"], f.colour, money, "mean cost"),
                    _cell(f.avg_latency, tops["avg_latency"], f.colour, seconds, "mean latency"),
                    _cell(f.error_rate, tops["error_rate"], f.colour, percent, "error rate")]
        row.append(f'<td class="flag">{text(" ".join(f"↑{name}" for name in f.flags))}</td></tr>')
        parts.append("".join(row))
    parts.append(f'</tbody></table><p class="muted">{text(_clusters_caption(report))}</p></section>')
    return parts


def _clusters_caption(report: ReportContent) -> str:
    said = ["Bars: the value; whiskers: its 95% interval. Share: of the run's sample, Wilson interval. "
            "A title opens to PostHog's description of the cluster."]
    if report.metrics_source in ("per-item", "per-cluster"):
        said.append(f"Cost, latency and errors from the {report.metrics_source} metrics, computed as PostHog "
                    "computes them: means over items with a value > 0 (t interval), the error rate over "
                    "items with data (Wilson interval).")
    elif report.metrics_source == "embedded":
        said.append("Cost, latency and errors are PostHog's own averages embedded in the run: no per-item "
                    "values, so no interval for cost and latency. Measure them with `cluster_metrics.py sql "
                    "--per-item` and pass its saved result for intervals and tests.")
    else:
        said.append("No cost, latency or error figures: the run embeds none and no metrics result was "
                    "given (pass the saved result of `cluster_metrics.py sql --per-item`).")
    if report.metrics_source:
        said.append("Total cost: over the run's sample. Flags (↑): significantly above the rest of the run "
                    "(one-sided tests, Holm-corrected, p < 0.05).")
    if report.clusters_omitted:
        said.append(f"{report.clusters_omitted} smaller clusters not shown; see them with --max-clusters 0.")
    return " ".join(said)


def _window_section(report: ReportContent) -> list[str]:
    totals, unit = report.totals, report.unit
    assert totals is not None
    parts = ['<section id="window"><h2>The whole window</h2>',
             f"<p>Exact, counted over the window's events: {count(totals.items)} {unit}s, "
             f"{money(totals.total_cost)} total cost, {count(totals.error_items)} {unit}s with an error.</p>",
             f"<table><thead><tr><th>id</th><th>title</th><th>{unit}s in the run</th><th>window {unit}s</th>"
             f"<th>window cost</th><th>window {unit}s with an error</th></tr></thead><tbody>"]
    for f in report.clusters:
        if f.window:
            cells = (estimate_text(f.window.figure(key), show)
                     for key, show in (("items", whole), ("total_cost", money), ("error_items", whole)))
            estimates = "".join(f'<td class="num">{text(cell)}</td>' for cell in cells)
            parts.append(f"<tr><td>{link(str(f.cluster.cluster_id), f.url)}</td>"
                         f"<td>{text(cluster_title(f.cluster, 60))}</td>"
                         f'<td class="num">{count(f.cluster.size)}</td>{estimates}</tr>')
    parts.append('</tbody></table><p class="muted">Estimates with 95% intervals (exact hypergeometric for '
                 "counts; cost: that interval times a t interval of the mean), assuming the run sampled the "
                 "window uniformly; exact figures when the run analysed the whole window.</p></section>")
    return parts


def _items_section(report: ReportContent) -> list[str]:
    parts = ['<section id="items"><h2>Best-ranked items per cluster</h2>'
             '<p class="muted">Rank 0 is the most representative item of a cluster; in noise (-1), the most '
             "anomalous.</p><table><thead><tr><th>cluster</th><th>rank</th><th>distance</th>"
             f"<th>timestamp</th><th>{report.unit} id</th></tr></thead><tbody>"]
    level = report.run.level
    for f in report.clusters:
        for item, url in f.top:
            ident = item.generation_id if level == "generation" else (item.trace_id or item.key)
            distance = "-" if item.distance is None else f"{item.distance:.3f}"
            parts.append(f'<tr><td><span class="sw {colour_class(f.colour)}"></span>'
                         f"{f.cluster.cluster_id}</td>"
                         f'<td class="num">{"-" if item.rank is None else item.rank}</td>'
                         f'<td class="num">{distance}</td><td>{text(item.timestamp, 40) or "-"}</td>'
                         f"<td><code>{link(text(ident or item.key, 80), url)}</code></td></tr>")
    parts.append("</tbody></table></section>")
    return parts


def _notes(report: ReportContent) -> list[str]:
    return ['<section id="notes"><h2>Inputs and notes</h2><ul>',
            *(f"<li>Read {text(line)}</li>" for line in report.read_as),
            *(f"<li>Note: {text(note, 400)}</li>" for note in report.notes),
            '</ul><p class="muted">Written by exploring-llm-clusters <code>scripts/report.py</code>. Titles, '
            "descriptions and ids come from the traffic itself and are shown as text.</p></section>"]
