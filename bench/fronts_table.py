"""The per-trace front table of issue 15 from `sclust simulate --compare --sweep --json` files.

Run: python bench/fronts_table.py OUT.json ... (one file per trace and size)
For each: the bound, the reference, saturation, and for each baseline whether any point of its
sweep lies beyond sclust's front (no sclust setting as cheap at as short a p95), by how much.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sclust.elastic.report import beyond_front, front, p95_key  # noqa: E402


def margin(point: dict[str, Any], ours: list[dict[str, Any]]) -> str:
    """Extra cost of sclust's cheapest point waiting no longer than POINT."""
    at_wait = [o for o in ours if p95_key(o) <= p95_key(point)]
    if not at_wait:
        return "sclust never waits that little"
    best = min(at_wait, key=lambda o: o["node_hours"])
    return f"+{best['node_hours'] / point['node_hours'] - 1:.1%} ({best['policy']})"


def main(paths: list[str]) -> int:
    print("| trace @ nodes | LB0 node-h | sclust front (node-h / p95 s) | baseline points beyond "
          "sclust's front (node-h / p95 s: sclust's extra cost at that p95) | saturated |")
    print("|---|---|---|---|---|")
    for path in paths:
        data = json.loads(Path(path).read_text())
        settings, sweep = data["settings"], data["sweep"]
        ours = sweep["sclust"]
        lb0 = data["bounds"]["lb0"]
        below = [r["policy"] for rows in sweep.values() for r in rows if r["node_hours"] < lb0]
        assert not below, f"{path}: below LB0: {below}"
        ours_front = ", ".join(f"{r['node_hours']:.0f}/{r['wait_p95']:.0f}"
                               for r in front(ours))
        beyond = []
        for name, rows in sweep.items():
            if name == "sclust":
                continue
            for point in beyond_front(ours, rows):
                beyond.append(f"{point['policy']} {point['node_hours']:.0f}/"
                              f"{point['wait_p95']:.0f}: {margin(point, ours)}")
        trace = Path(data["trace"]).name.split(".swf")[0]
        saturated = data["saturation"]
        print(f"| {trace} @{settings['max_nodes']} | {lb0:.0f} | {ours_front} | "
              f"{'; '.join(beyond) or 'none'} | "
              f"{'yes: ' + saturated['why'] if saturated['saturated'] else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
