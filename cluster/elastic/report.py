"""Turn simulation results into what users read: a table, one JSON object, a cost/wait plot."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sclust.elastic.simulator import WASTE, SimResult
from sclust.errors import SclustError

SATURATED_AT_MAX = 0.5  # an elastic policy at max nodes over half the run
SATURATED_P95 = 86400.0  # or the static cluster at max nodes keeps jobs waiting a day (p95)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[rank - 1])


def summarize(
    result: SimResult, lb0_hours: float | None = None, opt_hours: float | None = None
) -> dict[str, Any]:
    """The numbers of one run, JSON-ready (seconds, node-hours, dollars): `x_lb0` against the
    bound, `x_ref` against the zero-wait reference, `waste` the split of the billed node-hours."""
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
        "waste": {key: round(result.waste.get(key, 0.0), 3) for key in WASTE},
        "at_max_share": round(result.at_max_share, 4),
        "failed_launches": result.failed_launches,
    }
    if lb0_hours:
        row["x_lb0"] = round(result.node_hours / lb0_hours, 4)
    if opt_hours:
        row["x_ref"] = round(result.node_hours / opt_hours, 4)
    return row


def saturation(
    rows: Sequence[Mapping[str, Any]], static_at_max: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Is the cluster too small for the trace to say anything about elastic policies? Yes when
    an elastic policy spends most of the run at `max_nodes`, or when the static cluster at
    `max_nodes` keeps the p95 wait over a day."""
    elastic = [row for row in rows if not str(row["policy"]).startswith("static")]
    at_max = max((row.get("at_max_share", 0.0) for row in elastic), default=0.0)
    reasons = []
    if at_max > SATURATED_AT_MAX:
        reasons.append(f"at max nodes {at_max:.0%} of the run")
    if static_at_max is not None and (
        static_at_max["unfinished"] or static_at_max["wait_p95"] > SATURATED_P95
    ):
        reasons.append(f"static at max: p95 wait {static_at_max['wait_p95'] / 3600:.1f} h")
    return {"saturated": bool(reasons), "why": "; ".join(reasons), "at_max_share": at_max}


def table(
    rows: Sequence[Mapping[str, Any]], bounds: Mapping[str, float],
    references: Mapping[str, float] | None = None, saturated: Mapping[str, Any] | None = None,
) -> str:
    """A fixed-width text table, one policy per line; the waste split; then the bound, the
    reference and the saturation verdict."""
    header = (
        f"{'policy':<21}{'node-h':>10}{'×LB0':>7}{'×ref':>7}{'cost $':>10}{'wait mean':>10}"
        f"{'p50':>7}{'p95':>8}{'p99':>8}{'bsld':>7}{'launch':>7}{'@max':>6}"
        f"{'busy':>9}{'partly':>8}{'idle':>8}{'boot':>7}{'drain':>7}{'round':>7}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        waste = row.get("waste", {})
        lines.append(
            f"{row['policy'][:20]:<21}{row['node_hours']:>10.1f}{row.get('x_lb0', 0):>7.3f}"
            f"{row.get('x_ref', 0):>7.3f}{row['cost']:>10.2f}{row['wait_mean']:>10.0f}"
            f"{row['wait_p50']:>7.0f}{row['wait_p95']:>8.0f}{row['wait_p99']:>8.0f}"
            f"{row['bounded_slowdown']:>7.2f}{row['launches']:>7}"
            f"{row.get('at_max_share', 0):>6.0%}"
            + "".join(f"{waste.get(key, 0):>{w}.1f}" for key, w in
                      zip(WASTE, (9, 8, 8, 7, 7, 7), strict=True))
            + (f"  ({row['unfinished']} jobs never ran)" if row["unfinished"] else "")
        )
    lines.append(
        "node-h = busy + partly (free slots of busy hosts) + idle + boot + drain + round "
        "(billing minimum); @max: share of the run at max nodes"
    )
    lines.append(f"bound: LB0 {bounds['lb0']:.1f} node-h (perfect packing, no boot: no policy "
                 "bills less)")
    if references:
        lines.append(
            f"reference, not a bound: zero-wait OPT {references['zero_wait_opt']:.1f} node-h "
            "(clairvoyant, no waiting, median boot, no max nodes: policies that let jobs wait "
            "may bill less)"
        )
    if saturated and saturated.get("saturated"):
        lines.append(f"SATURATED ({saturated['why']}): the cluster is too small for this trace; "
                     "policies differ little here")
    return "\n".join(lines)


def to_json(
    trace: str, settings: Mapping[str, Any], bounds: Mapping[str, float],
    rows: Sequence[Mapping[str, Any]], references: Mapping[str, float] | None = None,
    saturated: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
) -> str:
    """The `--json` object: trace, settings, bounds (never beaten), references (may be),
    saturation, results."""
    return json.dumps(
        {
            "trace": trace,
            "settings": dict(settings),
            "bounds": {key: round(value, 3) for key, value in bounds.items()},
            "references": {key: round(value, 3) for key, value in (references or {}).items()},
            "saturation": dict(saturated or {}),
            "results": list(rows),
            **(extra or {}),
        },
        indent=2,
    )


def p95_key(row: Mapping[str, Any]) -> float:
    """p95 wait at SGE's resolution (whole seconds); a run that left jobs unrun is worst."""
    return math.inf if row["unfinished"] else float(round(row["wait_p95"]))


def weakly_dominates(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """ONE costs no more and waits (p95) no longer than OTHER."""
    return one["node_hours"] <= other["node_hours"] and p95_key(one) <= p95_key(other)


def front(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The Pareto front (cost, p95) of ROWS, cheapest first."""
    kept = [r for r in rows if not any(
        weakly_dominates(o, r) and (o["node_hours"], p95_key(o)) != (r["node_hours"], p95_key(r))
        for o in rows)]
    return sorted(kept, key=lambda r: (r["node_hours"], p95_key(r)))


def beyond_front(
    ours: Sequence[Mapping[str, Any]], theirs: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Points of THEIRS that no point of OURS weakly dominates: where a tuned baseline does
    something our front cannot (cheaper at that wait, or a shorter wait at that cost)."""
    return [t for t in theirs if not any(weakly_dominates(o, t) for o in ours)]


def plot(
    path: str | Path, title: str, rows: Sequence[Mapping[str, Any]], bounds: Mapping[str, float],
    price: float, references: Mapping[str, float] | None = None,
    fronts: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Path:
    """Cost vs p95 wait: one point per policy run, each policy's front as a line, the LB0
    bound as a solid line, the zero-wait reference dashed. Needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SclustError("the plot needs matplotlib: pip install matplotlib") from None
    figure, axes = plt.subplots(figsize=(8, 5))
    for name, points in (fronts or {}).items():
        every = sorted(points, key=lambda r: r["cost"])
        line = front(every)
        drawn = axes.plot([r["cost"] for r in line], [r["wait_p95"] for r in line],
                          marker="o", label=f"{name} front", linewidth=1.5)
        axes.scatter([r["cost"] for r in every], [r["wait_p95"] for r in every], s=12,
                     color=drawn[0].get_color(), alpha=0.5)
    if fronts:
        axes.legend(fontsize=8)
    limit = math.inf
    if fronts:
        # Keep the fronts readable: points far costlier than every front are listed, not drawn.
        limit = 1.15 * max(r["cost"] for points in fronts.values() for r in points)
    off = [row for row in rows if row["cost"] > limit]
    if off:
        axes.annotate("off the chart: " + ", ".join(f"{r['policy']} ${r['cost']:,.0f}"
                                                    for r in off),
                      (0.99, 0.99), xycoords="axes fraction", ha="right", va="top", fontsize=8)
    for row in rows:
        if row["cost"] > limit:
            continue
        axes.scatter(row["cost"], row["wait_p95"], s=40)
        axes.annotate(
            row["policy"], (row["cost"], row["wait_p95"]), textcoords="offset points",
            xytext=(5, 5), fontsize=9,
        )
    axes.axvline(bounds["lb0"] * price, linestyle="-", color="black", linewidth=1)
    axes.annotate("LB0 (bound)", (bounds["lb0"] * price, 0), textcoords="offset points",
                  xytext=(3, 3), fontsize=8)
    if references and "zero_wait_opt" in references:
        cost = references["zero_wait_opt"] * price
        axes.axvline(cost, linestyle="--", color="grey", linewidth=1)
        axes.annotate("zero-wait OPT (reference)", (cost, 0), textcoords="offset points",
                      xytext=(3, 14), fontsize=8, color="grey")
    waits = [r["wait_p95"] for r in rows] + [
        r["wait_p95"] for points in (fronts or {}).values() for r in points]
    if waits and max(waits) > 20 * max(1.0, min(waits)):
        axes.set_yscale("symlog", linthresh=60.0)  # fronts span seconds to hours
    axes.set_ylim(bottom=0)
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
