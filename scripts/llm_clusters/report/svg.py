"""Inline SVG for the HTML report: the 2-D map of a run's items, the interval bars, and the
flow of clusters between runs. Text and links go through `markup`; colours are CSS classes
(`markup.colour_class`), so the page's stylesheet is the only place they are set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone

from ..analyse.compare import Comparison
from ..analyse.lineage import Lineage
from ..display import clean, count, percent
from ..model import Cluster, Run
from ..timestamps import parse_timestamp
from .content import MapData
from .markup import colour_class, link, short, text

MAP_WIDTH, MAP_HEIGHT, MAP_PAD = 880, 540, 18
LABEL_CHAR_WIDTH, LABEL_HEIGHT = 6.4, 13  # at the labels' 11 px font
BAR_WIDTH, BAR_HEIGHT = 72, 14
FLOW_COLUMN, FLOW_NODE, FLOW_GAP, FLOW_HEIGHT, FLOW_TOP = 250, 12, 5, 460, 28


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


# --- the map ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """The run's x/y onto the chart, one scale for both axes so distances keep their meaning."""

    x0: float
    y0: float
    scale: float
    left: float
    top: float

    @classmethod
    def fit(cls, xs: list[float], ys: list[float]) -> "Projection":
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        inner_w, inner_h = MAP_WIDTH - 2 * MAP_PAD, MAP_HEIGHT - 2 * MAP_PAD
        scale = min(inner_w / (x1 - x0 or 1), inner_h / (y1 - y0 or 1))
        return cls(x0, y1, scale, MAP_PAD + (inner_w - (x1 - x0) * scale) / 2,
                   MAP_PAD + (inner_h - (y1 - y0) * scale) / 2)

    def __call__(self, x: float, y: float) -> tuple[str, str]:
        return _fmt(self.left + (x - self.x0) * self.scale), _fmt(self.top + (self.y0 - y) * self.scale)


def map_svg(data: MapData) -> tuple[str, int]:
    """The map, and how many cluster labels were left out because they would overlap."""
    xs = [p[0] for p in data.points] + [a[0] for a in data.anchors]
    ys = [p[1] for p in data.points] + [a[1] for a in data.anchors]
    project = Projection.fit(xs, ys)
    groups: dict[int | None, list[str]] = {}
    for x, y, colour in data.points:
        cx, cy = project(x, y)
        groups.setdefault(colour, []).append(f'<circle cx="{cx}" cy="{cy}" r="2.3"/>')
    parts = [f'<svg class="map" viewBox="0 0 {MAP_WIDTH} {MAP_HEIGHT}" width="{MAP_WIDTH}" '
             f'height="{MAP_HEIGHT}" role="img" aria-label="2-D map of the run\'s items, one colour '
             'per cluster">', f'<rect class="frame" width="{MAP_WIDTH}" height="{MAP_HEIGHT}"/>']
    for colour, circles in groups.items():
        parts.append(f'<g class="pts {colour_class(colour)}">{"".join(circles)}</g>')
    parts.append('<g class="top">')
    for x, y, colour, label, url in data.marked:
        cx, cy = project(x, y)
        parts.append(link(f'<circle class="{colour_class(colour)}" cx="{cx}" cy="{cy}" r="5">'
                          f"<title>{text(label)}</title></circle>", url))
    parts.append("</g>")
    labels, skipped = _labels(data, project)
    parts.append(f'<g class="lbl">{"".join(labels)}</g></svg>')
    return "".join(parts), skipped


def _labels(data: MapData, project: Projection) -> tuple[list[str], int]:
    """Each cluster's label at its centre, or moved up or down until it overlaps no label
    already placed (largest clusters first); left out when nowhere fits."""
    placed: list[tuple[float, float, float, float]] = []
    labels, skipped = [], 0
    for x, y, _colour, (cluster_id, title) in data.anchors:
        label = f"{cluster_id} {short(title, 28)}"
        cx, cy = (float(v) for v in project(x, y))
        width = len(label) * LABEL_CHAR_WIDTH
        for dy in (0, -15, 15, -30, 30, -45, 45):
            box = (cx - width / 2, cy + dy - LABEL_HEIGHT + 3, cx + width / 2, cy + dy + 3)
            inside = box[0] >= 2 and box[2] <= MAP_WIDTH - 2 and box[1] >= 2 and box[3] <= MAP_HEIGHT - 2
            if inside and not any(_overlap(box, other) for other in placed):
                placed.append(box)
                labels.append(f'<text x="{_fmt(cx)}" y="{_fmt(cy + dy)}">{text(label)}</text>')
                break
        else:
            skipped += 1
    return labels, skipped


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# --- bars ---------------------------------------------------------------------------------------

def bar_svg(value: float | None, interval: tuple[float, float] | None, top: float,
            colour: int | None, label: str) -> str:
    """A bar for `value` on a 0..`top` scale, with its 95% interval as a whisker."""
    if value is None or top <= 0:
        return ""
    scale = BAR_WIDTH / top
    mid = BAR_HEIGHT / 2
    parts = [f'<svg class="bar" viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT}" width="{BAR_WIDTH}" '
             f'height="{BAR_HEIGHT}" role="img" aria-label="{text(label)}">',
             f'<rect class="{colour_class(colour)}" y="3" height="8" '
             f'width="{_fmt(max(0.0, value) * scale)}"/>']
    if interval:
        low, high = (_fmt(min(BAR_WIDTH, max(0.0, v) * scale)) for v in interval)
        parts.append(f'<path class="ci" d="M{low} {_fmt(mid)}H{high}M{low} 2V12M{high} 2V12"/>')
    parts.append("</svg>")
    return "".join(parts)


# --- the flow between runs ----------------------------------------------------------------------

def _when(run: Run) -> str:
    """A run's column heading: its window end to the minute (UTC), else its id, short."""
    end = parse_timestamp(run.window_end) or (run.parsed_id.window_end if run.parsed_id else None)
    return f"window end {end.astimezone(timezone.utc):%Y-%m-%d %H:%M}" if end else short(run.run_id, 25)


@dataclass
class _Node:
    cluster: Cluster
    x: float
    y: float
    height: float
    colour: int | None
    out_cursor: float = 0.0
    in_cursor: float = 0.0


def flow_svg(comparison: Comparison, lineage_colours: list[int | None]) -> str:
    """One column per run (oldest left), a bar per cluster sized by its items, noise at the
    bottom in grey; bands join matched clusters, splits and merges; new clusters have no band
    in, vanished ones none out. Clusters are stacked in lineage order, which keeps bands from
    crossing where nothing changed."""
    runs = comparison.runs
    width = FLOW_COLUMN * (len(runs) - 1) + FLOW_NODE + 230
    height = FLOW_HEIGHT + FLOW_TOP + 8
    scale = min((FLOW_HEIGHT - FLOW_GAP * len(run.clusters)) / max(1, sum(c.size for c in run.clusters))
                for run in runs)
    lineage_of = {c: (number, lineage) for number, lineage in enumerate(comparison.lineages)
                  for c in lineage.clusters if c is not None}
    nodes: dict[Cluster, _Node] = {}
    parts = [f'<svg class="flow" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             'role="img" aria-label="clusters from one run to the next">']
    for index, run in enumerate(runs):
        x = index * FLOW_COLUMN
        parts.append(f'<text class="head" x="{x}" y="14">#{index + 1} {text(_when(run))}</text>')
        y = FLOW_TOP
        for cluster in sorted(run.clusters, key=lambda c: (c.is_noise, lineage_of.get(c, (1 << 30,))[0])):
            number = lineage_of[cluster][0] if cluster in lineage_of else None
            colour = None if cluster.is_noise or number is None else lineage_colours[number]
            nodes[cluster] = _Node(cluster, x, y, max(1.0, cluster.size * scale), colour)
            y += nodes[cluster].height + FLOW_GAP
    for step in comparison.steps:
        parts += [_band(nodes[p.before], nodes[p.after], 1.0, 1.0) for p in step.pairs]
        for division in step.divisions:
            whole = nodes[division.whole]
            for part, fraction in zip(division.parts, division.fractions):
                split = division.kind == "split"
                parts.append(_band(whole, nodes[part], fraction, 1.0) if split
                             else _band(nodes[part], whole, 1.0, fraction))
    for index, run in enumerate(runs):
        total = sum(c.size for c in run.clusters)
        for cluster in run.clusters:
            lineage = lineage_of[cluster][1] if cluster in lineage_of else None
            parts.append(_node(nodes[cluster], index, total, lineage))
    parts.append("</svg>")
    return "".join(parts)


def _band(source: _Node, target: _Node, out_fraction: float, in_fraction: float) -> str:
    """A band from the next free slice of `source` (`out_fraction` of its height) to the next
    free slice of `target`, coloured as its source."""
    start = min(source.height * out_fraction, source.height - source.out_cursor)
    end = min(target.height * in_fraction, target.height - target.in_cursor)
    x0, x1, mid = source.x + FLOW_NODE, target.x, (source.x + FLOW_NODE + target.x) / 2
    y0, y1 = source.y + source.out_cursor, target.y + target.in_cursor
    source.out_cursor += start
    target.in_cursor += end
    x0, x1, mid, top0, top1, low0, low1 = map(_fmt, (x0, x1, mid, y0, y1, y0 + start, y1 + end))
    return (f'<path class="band {colour_class(source.colour)}" d="M{x0} {top0}C{mid} {top0} {mid} {top1} '
            f'{x1} {top1}V{low1}C{mid} {low1} {mid} {low0} {x0} {low0}Z"/>')


def _node(node: _Node, index: int, total: int, lineage: Lineage | None) -> str:
    """A cluster's bar with its tooltip (size, share, how it began or ended) and, when tall
    enough to read, its label; new clusters are outlined (+), vanished ones dashed (✕)."""
    cluster = node.cluster
    first, last = lineage.span if lineage else (index, index)
    new = lineage is not None and first == index > 0 and lineage.origin.startswith("new")
    gone = lineage is not None and last == index and lineage.end.startswith("vanished")
    fate = ""
    if lineage and first == index and lineage.origin:
        fate += f"; {lineage.origin}"
    if lineage and last == index and lineage.end:
        fate += f"; {lineage.end}"
    share = percent(cluster.size / total if total else None)
    tip = (f"run #{index + 1}, cluster {cluster.cluster_id} {clean(cluster.title, 80)}: "
           f"{count(cluster.size)} items ({share}){fate}")
    kinds = "".join(name for name, present in ((" noise", cluster.is_noise), (" new", new), (" gone", gone))
                    if present)
    parts = [f'<g class="node{kinds}"><rect class="{colour_class(node.colour)}" x="{_fmt(node.x)}" '
             f'y="{_fmt(node.y)}" width="{FLOW_NODE}" height="{_fmt(node.height)}">'
             f"<title>{text(tip)}</title></rect>"]
    if node.height >= 9:
        label = f"{cluster.cluster_id} {short(cluster.title, 30)}"
        label = f"+ {label}" if new else f"{label} ✕" if gone else label
        parts.append(f'<text x="{_fmt(node.x + FLOW_NODE + 4)}" '
                     f'y="{_fmt(node.y + min(node.height, 20) / 2 + 4)}">{text(label)}</text>')
    parts.append("</g>")
    return "".join(parts)
