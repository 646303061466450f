"""The benchmark's baseline: read a saved clustering result the way PostHog's upstream
`print_clusters.py` does, by loading everything into memory with `json`.

Usage: python benchmarks/baseline_json_load.py FILE

It reads what upstream reads: a JSON array of MCP content blocks whose text is a HogQL
response (`{"columns": [...], "results": [[...]]}`) with the clusters cell either native JSON or
a JSON string (`JSONExtractRaw`). On execute-sql's pipe table it fails with a traceback, as
upstream does. The summary it prints uses the same line shapes as our default view
(`cluster ID (N items): …` and `#rank d=… timestamp id`) so the benchmark can check that both
programs read the same data.
"""

import json
import sys

TOP = 3


def load_clusters(path: str) -> list:
    with open(path, encoding="utf-8") as file:
        blocks = json.load(file)
    text = "".join(block["text"] for block in blocks if block.get("type") == "text")
    response = json.loads(text)
    row = response["results"][0]
    cell = row[response["columns"].index("clusters")]
    # JSONExtractRaw hands the clusters back as a JSON string: one more json.loads.
    return json.loads(cell) if isinstance(cell, str) else cell


def main(path: str) -> None:
    clusters = load_clusters(path)
    lines = []
    for cluster in clusters:
        lines.append(f"cluster {cluster['cluster_id']} ({cluster['size']:,} items): {cluster['title']}")
        best = sorted(cluster["traces"].items(), key=lambda entry: entry[1]["rank"])[:TOP]
        for key, item in best:
            lines.append(f"    #{item['rank']} d={item['distance_to_centroid']:.3f} "
                         f"{item.get('timestamp') or '-'} {item.get('trace_id') or key}")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])
