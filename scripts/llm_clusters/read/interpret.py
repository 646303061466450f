"""From parsed values and tables to runs: which column or key holds what.

Columns are found by name where the query named them (`run_id`, `clusters`, …, or PostHog's
own property names, also inside an unaliased expression such as
`JSONExtractString(properties, '$ai_clustering_run_id')`), and by content where it did not.
"""

from __future__ import annotations

import re
from datetime import datetime

TYPE_CHECKING = False  # typing is not imported at run time: it costs start-up time
if TYPE_CHECKING:
    from typing import Any, Callable

from ..errors import UnreadableInput
from ..model import (
    LEVEL_BY_CLUSTER_EVENT,
    LEVELS,
    Cluster,
    ItemCollector,
    ItemPolicy,
    Run,
    integer_or_none,
    number_or_none,
    text_or_none,
)
from ..run_ids import UUID_PATTERN, parse_run_id
from .tables import Table
from .truncation import response_query, row_cap_warning

FIELD_NAMES = {
    "run_id": ("run_id", "$ai_clustering_run_id", "clustering_run_id", "run"),
    "level": ("level", "$ai_clustering_level", "clustering_level"),
    "job_id": ("job_id", "$ai_clustering_job_id", "clustering_job_id"),
    "job_name": ("job_name", "$ai_clustering_job_name", "clustering_job_name"),
    "window_start": ("window_start", "$ai_window_start"),
    "window_end": ("window_end", "$ai_window_end"),
    "total_items": ("total_items", "$ai_total_items_analyzed", "total_items_analyzed",
                    "$ai_total_traces_analyzed", "total_traces_analyzed", "items_analyzed"),
    "clusters": ("clusters", "$ai_clusters"),
    "params": ("params", "$ai_clustering_params", "clustering_params"),
    "properties": ("properties",),
    "event": ("event",),
}
_NAME_TO_FIELD = {name: field for field, names in FIELD_NAMES.items() for name in names}
_QUOTED_PROPERTY = re.compile(r"""['"`](\$ai_[A-Za-z_]+)['"`]""")
_PROPERTY_SUGAR = re.compile(r"properties\.(\$ai_[A-Za-z_]+)")
_UUID = re.compile(UUID_PATTERN)
PARAM_KEYS = ("clustering_method", "embedding_normalization", "dimensionality_reduction_method",
              "max_samples", "visualization_method")

if TYPE_CHECKING:
    JsonParser = Callable[[str], Any]


def field_for_column(name: str) -> str | None:
    """The run field a column holds, judged by its name; None when the name says nothing."""
    key = name.strip().strip('"`').lower()
    if key in _NAME_TO_FIELD:
        return _NAME_TO_FIELD[key]
    for pattern in (_QUOTED_PROPERTY, _PROPERTY_SUGAR):
        match = pattern.search(name)
        if match and match.group(1).lower() in _NAME_TO_FIELD:
            return _NAME_TO_FIELD[match.group(1).lower()]
    return None


# Columns only the overview query's answer has: a table with all of them is read as an overview.
OVERVIEW_MARKER_COLUMNS = ("cluster_id", "top_items", "run", "items_with_data")


def is_overview(columns: list[str]) -> bool:
    names = {c.strip().lower() for c in columns}
    return all(name in names for name in OVERVIEW_MARKER_COLUMNS)


def is_cluster_dict(value: Any) -> bool:
    return isinstance(value, dict) and "cluster_id" in value and (
        "traces" in value or "size" in value or "title" in value)


def _looks_like_json(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip()[:1] in ("[", "{")


def _looks_like_time(value: Any) -> bool:
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class Interpreter:
    """Finds runs in whatever a document held. `parse_json` parses a JSON string found inside
    a value (a cell or property holding JSON text) with the same bounded item policy."""

    def __init__(self, policy: ItemPolicy, parse_json: JsonParser, query: str | None = None):
        self.policy = policy
        self.query = query  # the SQL that produced the input, when known (live mode)
        self.parse_json = parse_json
        self.seen: list[str] = []  # column names or keys met, for the "no clusters" message
        self.warnings: list[str] = []  # signs that the result was cut by a row limit

    def runs_from_value(self, value: Any, where: str) -> list[Run]:
        if isinstance(value, str) and _looks_like_json(value):
            return self.runs_from_value(self.parse_json(value), where)
        if isinstance(value, list):
            return self._runs_from_list(value, where)
        if isinstance(value, dict):
            if isinstance(value.get("results"), list):
                self._check_row_cap(value, where)
                columns = value.get("columns")
                if isinstance(columns, list) and all(isinstance(c, str) for c in columns):
                    return self.runs_from_table(Table([str(c) for c in columns], value["results"]), where)
                return self._runs_from_list(value["results"], where)
            run = self._run_from_mapping(value, where)
            if run:
                return [run]
            self.seen.extend(str(k) for k in value)
        return []

    def _check_row_cap(self, response: dict, where: str) -> None:
        """A HogQL API response says whether rows are missing; its `query` is the one sent."""
        warning = row_cap_warning(len(response["results"]), has_more=response.get("hasMore"),
                                  query=response_query(response) or self.query)
        if warning:
            self.warnings.append(f"{where}: {warning}")

    def _runs_from_list(self, values: list, where: str) -> list[Run]:
        if values and all(is_cluster_dict(v) for v in values):
            return [self._make_run({"clusters": values}, where)]
        runs: list[Run] = []
        for index, value in enumerate(values, 1):
            if isinstance(value, list):
                run = self._run_from_row([None] * len(value), value, f"{where}, row {index}")
            elif isinstance(value, dict):
                run = self._run_from_mapping(value, f"{where}, item {index}")
                if not run:
                    self.seen.extend(str(k) for k in value)
            else:
                run = None
            if run:
                runs.append(run)
        return runs

    def runs_from_table(self, table: Table, where: str) -> list[Run]:
        self.seen.extend(table.columns)
        if is_overview(table.columns):
            from ..analyse.overview import run_from_overview  # only an overview needs it (and its statistics)

            run = run_from_overview(table, where, self.policy)
            return [run] if run else []
        fields = [field_for_column(c) for c in table.columns]
        runs = []
        for index, row in enumerate(table.rows, 1):
            run = self._run_from_row(fields, row, f"{where}, row {index}")
            if run:
                runs.append(run)
        return runs

    def _run_from_row(self, fields: list[str | None], row: list, where: str) -> Run | None:
        named: dict[str, Any] = {}
        unnamed: list[Any] = []
        for field, cell in zip(fields, row):
            if field and field not in named:
                named[field] = cell
            else:
                unnamed.append(cell)
        if _looks_like_json(named.get("properties")):
            named["properties"] = self.parse_json(named["properties"])
        if isinstance(named.get("properties"), dict):
            properties = dict(named.pop("properties"))
            properties.update({k: v for k, v in named.items() if v is not None})
            return self._run_from_mapping(properties, where)
        self._fill_by_content(named, unnamed)
        return self._run_from_mapping(named, where) if "clusters" in named else None

    def _fill_by_content(self, named: dict[str, Any], cells: list[Any]) -> None:
        """Assign unnamed cells to the fields their content shows."""
        times = []
        for cell in cells:
            value = self.parse_json(cell) if _looks_like_json(cell) else cell
            shown = _shown_by_content(value)
            if shown == _EVENT_PROPERTIES:
                named.update({k: v for k, v in self._fields_of(value).items() if k not in named})
            elif shown == _TIME:
                times.append(value)
            elif shown:
                named.setdefault(shown, value)
        if len(times) >= 2:
            named.setdefault("window_start", min(times))
            named.setdefault("window_end", max(times))

    def _fields_of(self, mapping: dict) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key, value in mapping.items():
            field = field_for_column(str(key))
            if field and field not in fields:
                fields[field] = value
                if field == "clusters":
                    fields[CLUSTERS_KEY] = str(key)
        return fields

    def _run_from_mapping(self, mapping: dict, where: str) -> Run | None:
        """A run from an event, its properties, or a row already mapped to field names."""
        if isinstance(mapping.get("properties"), (dict, str)) and "$ai_clusters" not in mapping:
            properties = mapping["properties"]
            if _looks_like_json(properties):
                properties = self.parse_json(properties)
            if isinstance(properties, dict):
                merged = dict(properties)
                if isinstance(mapping.get("event"), str):
                    merged["event"] = mapping["event"]
                return self._run_from_mapping(merged, where)
        fields = self._fields_of(mapping)
        if "clusters" not in fields or fields["clusters"] is None:
            return None
        return self._make_run(fields, where)

    def _make_run(self, fields: dict[str, Any], where: str) -> Run:
        clusters_value = fields["clusters"]
        if _looks_like_json(clusters_value):
            clusters_value = self.parse_json(clusters_value)
        notes: list[str] = []
        clusters = []
        cluster_count = None
        if _is_listed_count(clusters_value, fields):
            cluster_count = integer_or_none(clusters_value)  # a runs listing: the count, not the clusters
        else:
            _check_clusters_value(clusters_value, where)
        for index, raw in enumerate(clusters_value if isinstance(clusters_value, list) else [], 1):
            if is_cluster_dict(raw):
                clusters.append(_cluster(raw, self.policy))
            else:
                notes.append(f"entry {index} of the clusters array is not a cluster object and was skipped")
        params = fields.get("params")
        if _looks_like_json(params):
            params = self.parse_json(params)
        run = Run(
            clusters=clusters,
            run_id=text_or_none(fields.get("run_id")),
            level=text_or_none(fields.get("level")),
            job_id=text_or_none(fields.get("job_id")),
            job_name=text_or_none(fields.get("job_name")),
            window_start=text_or_none(fields.get("window_start")),
            window_end=text_or_none(fields.get("window_end")),
            total_items=integer_or_none(fields.get("total_items")),
            params=params if isinstance(params, dict) else None,
            event=text_or_none(fields.get("event")),
            source=where,
            notes=notes,
            cluster_count=cluster_count,
        )
        run.level = _infer_level(run)
        _complete_item_ids(run)
        return run


# What an unnamed cell can show besides one field: a cluster event's properties, or a time
# (the earliest and latest times of a row are its window).
_EVENT_PROPERTIES = "cluster event properties"
_TIME = "a time"


def _shown_by_content(value: Any) -> str | None:
    """The run field an unnamed cell's value holds, judged by its content, or _EVENT_PROPERTIES
    or _TIME; None when the content says nothing."""
    if isinstance(value, list) and value and all(is_cluster_dict(v) for v in value):
        return "clusters"
    if isinstance(value, dict):
        if any(k in value for k in PARAM_KEYS):
            return "params"
        return _EVENT_PROPERTIES if "$ai_clusters" in value else None
    if isinstance(value, str):
        field = _field_shown_by_text(value)
        if field:
            return field
    if _looks_like_time(value):
        return _TIME
    if isinstance(value, (int, float, str)) and integer_or_none(value) is not None:
        return "total_items"
    return None


def _field_shown_by_text(value: str) -> str | None:
    if parse_run_id(value):
        return "run_id"
    if value in LEVELS:
        return "level"
    if value in LEVEL_BY_CLUSTER_EVENT:
        return "event"
    if _UUID.fullmatch(value):
        return "job_id"
    return None


CLUSTERS_KEY = "clusters_key"  # the name the clusters were found under, beside the fields


def _is_listed_count(value: Any, fields: dict[str, Any]) -> bool:
    """A number where the clusters belong is the runs-listing query's JSONLength count, unless it
    sits in an event's own `$ai_clusters` property or a row that loads the whole run (params)."""
    return (not isinstance(value, (list, dict, bool)) and integer_or_none(value) is not None
            and fields.get(CLUSTERS_KEY, "clusters").lower() != "$ai_clusters" and "params" not in fields)


def _check_clusters_value(value: Any, where: str) -> None:
    """`$ai_clusters` must be a JSON array of cluster objects; anything else would read as a run
    with no clusters, so it is an unreadable input instead."""
    if isinstance(value, list) and (not value or any(is_cluster_dict(entry) for entry in value)):
        return
    if isinstance(value, list):
        kinds = sorted({_json_kind(entry) for entry in value})
        found = (f"an array of {len(value):,} entr{'y' if len(value) == 1 else 'ies'} holding "
                 f"{' and '.join(kinds)}, none of them a cluster object")
    elif isinstance(value, str):
        found = f"a string that is not a JSON array ({value[:40]!r}{'…' if len(value) > 40 else ''})"
    else:
        found = _json_kind(value)
    raise UnreadableInput(
        f"{where}: the run's $ai_clusters value is {found}, not the JSON array of cluster objects "
        "(each with cluster_id, size, title, traces) PostHog stores. Select it with "
        "JSONExtractRaw(properties, '$ai_clusters') and `truncate: false`, as SKILL.md's \"Load one "
        "run\" query does, and pass that result.")


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)) or number_or_none(value) is not None:
        return "a number"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else "a string"


def _cluster(raw: dict, policy: ItemPolicy) -> Cluster:
    cluster_id = integer_or_none(raw.get("cluster_id"))
    traces = raw.get("traces")
    if isinstance(traces, ItemCollector):
        items, count = traces.items(), traces.count
    else:
        items, count = [], 0
    # When `traces` came before `cluster_id`, the collector could only use the largest limit.
    limit = policy.limit_for(cluster_id)
    if limit is not None:
        del items[limit:]
    size = integer_or_none(raw.get("size"))
    metrics = raw.get("metrics")
    return Cluster(
        cluster_id=cluster_id if cluster_id is not None else 0,
        size=size if size is not None else count,
        title=text_or_none(raw.get("title")) or f"Cluster {cluster_id}",
        description=text_or_none(raw.get("description")) or "",
        item_count=count,
        items=items,
        centroid_x=number_or_none(raw.get("centroid_x")),
        centroid_y=number_or_none(raw.get("centroid_y")),
        metrics=metrics if isinstance(metrics, dict) else None,
    )


def _infer_level(run: Run) -> str | None:
    if run.level in LEVELS:
        return run.level
    parsed = run.parsed_id
    if parsed and parsed.level:
        return parsed.level
    if run.event in LEVEL_BY_CLUSTER_EVENT:
        return LEVEL_BY_CLUSTER_EVENT[run.event]
    items = [item for cluster in run.clusters for item in cluster.items]
    if any(item.generation_id for item in items):
        return "generation"
    if parsed:  # the oldest run ids carry no level; those runs were all trace level
        return "trace"
    return run.level


def _complete_item_ids(run: Run) -> None:
    """Older runs store no ids on items: the key is the trace id (trace level) or the
    generation id (generation level)."""
    for cluster in run.clusters:
        if run.level == "trace":
            cluster.items = [item if item.trace_id else item._replace(trace_id=item.key)
                             for item in cluster.items]
        elif run.level == "generation":
            cluster.items = [item if item.generation_id else item._replace(generation_id=item.key)
                             for item in cluster.items]
