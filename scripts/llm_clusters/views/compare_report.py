"""The report of a comparison of clustering runs: text or Markdown, and JSON."""

from __future__ import annotations

from ..analyse.cluster_matching import Division, Pair, Step
from ..analyse.compare import Comparison
from ..analyse.lineage import Lineage
from ..analyse.share_test import ShareTest
from ..display import clean, clusters_phrase, count, markdown_link, percent
from ..model import Cluster, Run
from .render import Page

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:  # the link builder is imported only with --links
    from ..posthog.links import LinkBuilder

SCHEMA = "exploring-llm-clusters/compare_runs@1"
TITLE_CHARS = 60
RUN_ID_CHARS = 100


# --- wording ---------------------------------------------------------------------------------

def item_unit(level: str | None) -> str:
    return {"trace": "trace ids", "generation": "generation ids"}.get(level or "", "item keys")


def method_text(comparison: Comparison) -> list[str]:
    s = comparison.settings
    correction = ("Holm-corrected within each comparison" if s.correction == "holm"
                  else "not corrected for testing many clusters at once")
    return [
        f"Matching: score = {s.item_weight:g} x item overlap + {s.text_weight:g} x text similarity "
        f"(the text alone where two runs share no items); one-to-one, maximising the total score; "
        f"pairs scoring below {s.min_score:g} are not matched. Item overlap: Jaccard index of the "
        f"items both runs clustered ({item_unit(comparison.level)}). Text: title + description, "
        "mean of word-set and character-trigram Jaccard.",
        f"Split (merge): one cluster's shared items now in 2+ clusters (from 2+ clusters), each "
        f"holding at least {s.split_fraction:.0%} of them and made of them for at least "
        f"{s.split_fraction:.0%}.",
        f"Share change: two-proportion z-test (unpooled, two-sided; traces are the sampling "
        f"units), alpha {s.alpha:g}, {correction}; only significant changes are called grew or "
        "shrank. Consecutive runs share items, which makes the test conservative.",
    ]


def cluster_link(links: LinkBuilder | None, run: Run, cluster: Cluster) -> str | None:
    """The cluster's page in PostHog's UI, when links were asked for and the run has an id."""
    return links.cluster(run.run_id, cluster.cluster_id) if links and run.run_id else None


def p_text(test: ShareTest | None) -> str:
    if test is None:
        return "-"
    return "<0.001" if test.p_adjusted < 0.001 else f"{test.p_adjusted:.3f}"


def points(difference: float) -> str:
    return f"{100 * difference:+.1f} pp"


def change_word(test: ShareTest | None) -> str:
    return "-" if test is None else (test.change if test.significant else "no sig. change")


class ComparisonReport:
    """The text or Markdown report of a comparison."""

    def __init__(self, comparison: Comparison, fmt: str, max_rows: int, full: bool, steps: bool,
                 links: LinkBuilder | None = None):
        self.c = comparison
        self.links = links
        self.max_rows = max_rows
        self.title_chars = None if full else TITLE_CHARS
        self.id_chars = None if full else RUN_ID_CHARS
        self.all_pairs = steps or len(comparison.runs) == 2
        self.page = Page(fmt)

    def text(self, value: str | None, limit: int | None) -> str:
        return self.page.escape(clean(value, limit))

    def title(self, cluster: Cluster) -> str:
        return self.text(cluster.title, self.title_chars)

    def ref(self, cluster: Cluster, run: Run, total: int) -> str:
        """`id title (size, share)`, with the cluster's link when links were asked for."""
        size = f"({count(cluster.size)}, {percent(cluster.size / total if total else None)})"
        url = cluster_link(self.links, run, cluster)
        if url and self.page.is_markdown:
            label = f"{cluster.cluster_id} {clean(cluster.title, self.title_chars)}"
            return f"{markdown_link(label, url)} {size}"
        return f"{cluster.cluster_id} {self.title(cluster)} {size}{f' {url}' if url else ''}"

    def bullets(self, texts: list[str], what: str) -> None:
        shown = texts if not self.max_rows else texts[: self.max_rows]
        self.page.bullets(shown)
        if len(texts) > len(shown):
            self.page.line(f"{len(texts) - len(shown)} more {what} not shown; see them with "
                           "--max-rows 0 or --format json.")

    def table(self, headers: list[str], rows: list[list], what: str) -> None:
        shown = rows if not self.max_rows else rows[: self.max_rows]
        self.page.table(headers, shown)
        if len(rows) > len(shown):
            self.page.line(f"{len(rows) - len(shown)} more {what} not shown; see them with "
                           "--max-rows 0 or --format json.")

    def render(self) -> str:
        c, page = self.c, self.page
        page.heading(f"Comparing {len(c.runs)} {c.level or 'unknown'}-level runs, oldest first")
        page.table(["run", "run id", "window end", "items", "clusters", "noise"],
                   [[f"#{i}", self.text(run.run_id or "(no run id)", self.id_chars),
                     self.text(_window_end(run), 40),
                     count(sum(cl.size for cl in run.clusters)),
                     clusters_phrase(run.clusters), percent(_noise_share(run))]
                    for i, run in enumerate(c.runs, 1)])
        if self.links:
            page.bullets(f"#{i}: {markdown_link(f'run #{i}', url) if self.page.is_markdown else url}"
                         for i, url in enumerate((self.links.run(run.run_id) if run.run_id else "-"
                                                  for run in c.runs), 1))
        page.lines(method_text(c))
        for number_, step in enumerate(c.steps, 1):
            self.step(number_, step)
        if len(c.runs) > 2:
            self.lineage()
        page.lines(f"Note: {clean(note, 600)}" for note in c.notes)
        return page.render(budget=None)

    def step(self, number_: int, step: Step) -> None:
        page = self.page
        page.heading(f"#{number_} -> #{number_ + 1}: {count(step.shared_items)} items in both runs", 3)
        pairs = sorted(step.pairs, key=lambda p: (-p.share_after, p.after.cluster_id))
        if not self.all_pairs:
            pairs = [p for p in pairs if p.test and p.test.significant]
        label = "Matched clusters" if self.all_pairs else "Significant share changes"
        page.line(f"{label} (ids before -> after):")
        self.table(["ids", "title (after)", "size", "share", "change", "p (adj.)", "call", "score",
                    *(["links (before, after)"] if self.links else [])],
                   [self.pair_row(p, step) for p in pairs], "pairs")
        renamed = [p for p in step.pairs if p.title_changed]
        if renamed:
            page.line("Title changes:")
            self.bullets([f"{p.before.cluster_id} -> {p.after.cluster_id}: {self.title(p.before)} "
                          f"-> {self.title(p.after)}" for p in renamed], "title changes")
        for kind, clusters, run, total in (("New", step.new, step.after, step.total_after),
                                           ("Vanished", step.vanished, step.before, step.total_before)):
            if clusters:
                page.line(f"{kind} clusters:")
                self.bullets([self.ref(cl, run, total) for cl in _by_size(clusters)],
                             f"{kind.lower()} clusters")
        for division in step.divisions:
            page.line(self.division_text(division, step))
        noise = step.noise_after - step.noise_before
        page.line(f"Noise (-1): {percent(step.noise_before)} -> {percent(step.noise_after)} "
                  f"({points(noise)}, p {p_text(step.noise_test)}): {step.noise_test.change}.")

    def pair_row(self, pair: Pair, step: Step) -> list:
        row = [f"{pair.before.cluster_id} -> {pair.after.cluster_id}", self.title(pair.after),
               f"{count(pair.before.size)} -> {count(pair.after.size)}",
               f"{percent(pair.share_before)} -> {percent(pair.share_after)}",
               points(pair.share_after - pair.share_before), p_text(pair.test),
               change_word(pair.test), f"{pair.score:.2f}"]
        if self.links:
            row.append(" ".join(self.link_text(label, cluster, run) for label, cluster, run in
                                (("before", pair.before, step.before), ("after", pair.after, step.after))))
        return row

    def link_text(self, label: str, cluster: Cluster, run: Run) -> str:
        """A table cell's link to a cluster: the bare URL, or `[label](URL)` in Markdown."""
        url = cluster_link(self.links, run, cluster)
        if url is None:
            return "-"
        return markdown_link(label, url) if self.page.is_markdown else url

    def division_text(self, division: Division, step: Step) -> str:
        (whole_run, whole_total), (parts_run, parts_total) = _division_sides(division, step)
        parts = ", ".join(f"{self.ref(part, parts_run, parts_total)} holding {fraction:.0%}"
                          for part, fraction in zip(division.parts, division.fractions))
        verb = "split into" if division.kind == "split" else "merged from"
        return (f"{division.kind.capitalize()}: {self.ref(division.whole, whole_run, whole_total)} "
                f"{verb} {parts} (of its {count(division.shared_items)} items clustered in both runs).")

    def lineage(self) -> None:
        c = self.c
        self.page.heading("Lineage: each cluster's share across the runs", 3)
        self.page.line("Cells: cluster id: share. Steps: + grew, - shrank, = no significant change. "
                       "Trend: the first share against the last, tested as above across lineages.")
        latest_link = bool(self.links) and not self.page.is_markdown  # Markdown links the cells
        rows = [self.lineage_row(lineage, latest_link) for lineage in sorted_lineages(c.lineages)]
        self.table(["title (latest)", *(f"#{i}" for i in range(1, len(c.runs) + 1)), "steps",
                    "trend", "origin / end", *(["link (latest)"] if latest_link else [])],
                   rows, "lineages")

    def lineage_row(self, lineage: Lineage, latest_link: bool) -> list:
        runs = self.c.runs
        first, last = lineage.span
        cells = [self.lineage_cell(cl, share, run)
                 for cl, share, run in zip(lineage.clusters, lineage.shares, runs)]
        steps = "".join({None: " ", "grew": "+", "shrank": "-"}.get(ch, "=")
                        for ch in lineage.changes[first:last]).strip() or "-"
        trend = (f"{change_word(lineage.trend)} ({points(lineage.shares[last] - lineage.shares[first])}, "
                 f"p {p_text(lineage.trend)})" if lineage.trend else "-")
        story = "; ".join(part for part in (lineage.origin, lineage.end) if part) or "-"
        return [self.title(lineage.clusters[last]), *cells, steps, trend, story,
                *([self.link_text("latest", lineage.clusters[last], runs[last])] if latest_link else [])]

    def lineage_cell(self, cluster: Cluster | None, share: float | None, run: Run) -> str:
        """`id: share`; in Markdown with links, itself the link to that cluster in that run."""
        if cluster is None:
            return ""
        text = f"{cluster.cluster_id}: {percent(share)}"
        url = cluster_link(self.links, run, cluster) if self.page.is_markdown else None
        return markdown_link(text, url) if url else text


def _by_size(clusters: list[Cluster]) -> list[Cluster]:
    return sorted(clusters, key=lambda cl: (-cl.size, cl.cluster_id))


def _division_sides(division: Division, step: Step) -> tuple[tuple[Run, int], tuple[Run, int]]:
    """(run, items) of the one cluster's run, then of the parts' run."""
    before, after = (step.before, step.total_before), (step.after, step.total_after)
    return (before, after) if division.kind == "split" else (after, before)


def _window_end(run: Run) -> str:
    parsed = run.parsed_id
    return run.window_end or (parsed.window_end.isoformat() if parsed else "-")


def _noise_share(run: Run) -> float | None:
    total = sum(c.size for c in run.clusters)
    noise = sum(c.size for c in run.clusters if c.is_noise)
    return noise / total if total else None


def sorted_lineages(lineages: list[Lineage]) -> list[Lineage]:
    """Those still present in the latest runs first, largest first; then by when they began."""
    def key(lineage: Lineage):
        first, last = lineage.span
        return -last, -(lineage.shares[last] or 0), first, lineage.clusters[last].cluster_id
    return sorted(lineages, key=key)


# --- json ------------------------------------------------------------------------------------

def _cluster_json(cluster: Cluster, run: Run, total: int, links: LinkBuilder | None) -> dict:
    return {"cluster_id": cluster.cluster_id, "title": clean(cluster.title), "size": cluster.size,
            "share": cluster.size / total if total else None,
            "link": cluster_link(links, run, cluster)}


def _test_json(test: ShareTest | None) -> dict | None:
    if test is None:
        return None
    return {"z": test.z, "p_value": test.p_value, "p_adjusted": test.p_adjusted, "change": test.change}


def _capped(items: list, rows: int, name: str, convert) -> dict:
    shown = items if not rows else items[:rows]
    return {name: [convert(x) for x in shown], f"{name}_omitted": len(items) - len(shown)}


def _step_json(number_: int, step: Step, rows: int, links: LinkBuilder | None) -> dict:
    pairs = sorted(step.pairs, key=lambda p: (-p.share_after, p.after.cluster_id))

    def before(cluster: Cluster) -> dict:
        return _cluster_json(cluster, step.before, step.total_before, links)

    def after(cluster: Cluster) -> dict:
        return _cluster_json(cluster, step.after, step.total_after, links)

    def pair(p: Pair) -> dict:
        return {"before": before(p.before), "after": after(p.after),
                "score": p.score, "item_similarity": p.item_similarity,
                "text_similarity": p.text_similarity, "share_change": p.share_after - p.share_before,
                "title_changed": p.title_changed, "test": _test_json(p.test)}

    def division(d: Division) -> dict:
        whole, parts = (before, after) if d.kind == "split" else (after, before)
        return {"cluster": whole(d.whole), "shared_items": d.shared_items,
                "parts": [{**parts(part), "fraction": fraction}
                          for part, fraction in zip(d.parts, d.fractions)]}

    return {
        "before": number_, "after": number_ + 1, "shared_items": step.shared_items,
        **_capped(pairs, rows, "pairs", pair),
        **_capped(_by_size(step.new), rows, "new", after),
        **_capped(_by_size(step.vanished), rows, "vanished", before),
        "splits": [division(d) for d in step.splits],
        "merges": [division(d) for d in step.merges],
        "noise": {"share_before": step.noise_before, "share_after": step.noise_after,
                  "test": _test_json(step.noise_test)},
    }


def _lineage_json(lineage: Lineage, runs: list[Run], links: LinkBuilder | None) -> dict:
    return {"title": clean(lineage.clusters[lineage.span[1]].title),
            "links": [cluster_link(links, run, cl) if cl is not None else None
                      for cl, run in zip(lineage.clusters, runs)],
            "cluster_ids": [cl.cluster_id if cl is not None else None for cl in lineage.clusters],
            "shares": lineage.shares, "step_changes": lineage.changes, "origin": lineage.origin or None,
            "end": lineage.end or None, "trend": _test_json(lineage.trend)}


def to_json(comparison: Comparison, rows: int, links: LinkBuilder | None = None) -> dict:
    s = comparison.settings
    return {
        "schema": SCHEMA,
        "level": comparison.level,
        "settings": {"item_weight": s.item_weight, "text_weight": s.text_weight,
                     "min_score": s.min_score, "split_fraction": s.split_fraction,
                     "alpha": s.alpha, "correction": s.correction,
                     "item_unit": item_unit(comparison.level), "method": method_text(comparison)},
        "runs": [{"number": i, "run_id": clean(run.run_id) or None, "level": run.level,
                  "job_name": clean(run.job_name) or None, "window_start": run.window_start,
                  "window_end": run.window_end, "total_items_analyzed": run.total_items,
                  "clustered_items": sum(cl.size for cl in run.clusters),
                  "clusters": sum(1 for cl in run.clusters if not cl.is_noise),
                  "noise_share": _noise_share(run),
                  "link": links.run(run.run_id) if links and run.run_id else None}
                 for i, run in enumerate(comparison.runs, 1)],
        "steps": [_step_json(i, step, rows, links) for i, step in enumerate(comparison.steps, 1)],
        **_capped(sorted_lineages(comparison.lineages), rows, "lineages",
                  lambda lineage: _lineage_json(lineage, comparison.runs, links)),
        "notes": [clean(note) for note in comparison.notes],
    }
