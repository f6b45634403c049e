"""Turn simulation results into what users read: a table, one JSON object, a cost/wait plot."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sclust.elastic.simulator import SimResult
from sclust.errors import SclustError


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[rank - 1])


def summarize(result: SimResult, opt_hours: float | None = None) -> dict[str, Any]:
    """The numbers of one run, JSON-ready (seconds, node-hours, dollars)."""
    waits = sorted(result.waits)
    count = len(waits)
    row: dict[str, Any] = {
        "policy": result.policy,
        "node_hours": round(result.node_hours, 3),
        "cost": round(result.cost, 2),
        "wait_mean": round(sum(waits) / count, 1) if count else 0.0,
        "wait_p50": percentile(waits, 50),
        "wait_p95": percentile(waits, 95),
        "wait_p99": percentile(waits, 99),
        "bounded_slowdown": round(sum(result.slowdowns) / count, 3) if count else 0.0,
        "makespan": round(result.makespan, 1),
        "launches": result.launches,
        "peak_nodes": result.peak_nodes,
        "idle_share": round(1 - result.busy_node_hours / result.node_hours, 4)
        if result.node_hours
        else 0.0,
        "jobs": count,
        "unfinished": result.unfinished,
    }
    if opt_hours:
        row["x_opt"] = round(result.node_hours / opt_hours, 4)
    return row


def table(rows: Sequence[Mapping[str, Any]], bounds: Mapping[str, float]) -> str:
    """A fixed-width text table, one policy per line, then the bounds."""
    header = (
        f"{'policy':<14}{'node-h':>10}{'×OPT':>7}{'cost $':>10}{'wait mean':>11}{'p50':>8}"
        f"{'p95':>8}{'p99':>8}{'bsld':>8}{'makespan h':>12}{'launches':>10}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['policy']:<14}{row['node_hours']:>10.1f}{row.get('x_opt', 0):>7.3f}"
            f"{row['cost']:>10.2f}{row['wait_mean']:>11.0f}{row['wait_p50']:>8.0f}"
            f"{row['wait_p95']:>8.0f}{row['wait_p99']:>8.0f}{row['bounded_slowdown']:>8.2f}"
            f"{row['makespan'] / 3600:>12.1f}{row['launches']:>10}"
            + (f"  ({row['unfinished']} jobs never ran)" if row["unfinished"] else "")
        )
    lines.append(
        f"bounds: LB0 {bounds['lb0']:.1f} node-h (perfect packing, no boot); "
        f"OPT {bounds['opt']:.1f} node-h (clairvoyant, zero wait)"
    )
    return "\n".join(lines)


def to_json(
    trace: str, settings: Mapping[str, Any], bounds: Mapping[str, float],
    rows: Sequence[Mapping[str, Any]],
) -> str:
    """The `--json` object: trace, settings, bounds, results."""
    return json.dumps(
        {
            "trace": trace,
            "settings": dict(settings),
            "bounds": {key: round(value, 3) for key, value in bounds.items()},
            "results": list(rows),
        },
        indent=2,
    )


def plot(
    path: str | Path, title: str, rows: Sequence[Mapping[str, Any]], bounds: Mapping[str, float],
    price: float,
) -> Path:
    """Cost vs p95 wait, one point per policy, the OPT cost as a line. Needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SclustError("the plot needs matplotlib: pip install matplotlib") from None
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        axes.scatter(row["cost"], row["wait_p95"], s=40)
        axes.annotate(
            row["policy"], (row["cost"], row["wait_p95"]), textcoords="offset points",
            xytext=(5, 5), fontsize=9,
        )
    axes.axvline(bounds["opt"] * price, linestyle="--", color="grey", linewidth=1)
    axes.annotate("OPT", (bounds["opt"] * price, 0), textcoords="offset points", xytext=(3, 3),
                  fontsize=8, color="grey")
    axes.set_xlabel("cost ($)")
    axes.set_ylabel("p95 wait (s)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    target = Path(path)
    try:
        figure.savefig(target, dpi=110)
    except OSError as error:
        raise SclustError(f"cannot write the plot {target}: {error.strerror}") from None
    finally:
        plt.close(figure)
    return target
