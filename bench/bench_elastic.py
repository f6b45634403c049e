"""Elastic-policy benchmarks: every policy on every shared trace, against the bounds.

Run: python bench/bench_elastic.py [--cases NAME:NODES ...] [--seed N] [--ideal]
Settings: 8 slots per node, boot 120 s (lognormal, sigma 0.3), per-second billing, a decision
every 30 s (StarCluster's port: its own -i 60), the live loop's change rules (one launch and
one removal at a time, removal 3 + 30 s); cases (issue 15): NASA at 16 and 64 nodes,
lublin_256, KTH-SP2 at 64, LCG at 512, and NASA, lublin, KTH at 16 to show saturation.
A case is *saturated* when the static cluster at max nodes keeps the p95 wait over a day or
sclust spends most of the run at max nodes: all policies look alike there, so those cases are
reported apart and their misses are not goals.
Goals (unsaturated cases): sclust Pareto-dominates (no more node-hours at no worse p95 wait)
StarCluster's defaults, the 600 s idle timeout and the best static size — the smallest static
cluster whose p95 wait is no worse than ours (p95 compared in whole seconds, SGE's
resolution); no result below LB0 (the bound); parsing a 10,000-job `qstat -xml` ≤ 0.2 s;
simulating the 188,000-job LCG trace ≤ 60 s. ×ref (the zero-wait OPT) is a reference only:
a policy that lets jobs wait may come in below it.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TRACES = REPO.parent / "shared" / "traces"

from sclust.elastic.baselines import IdleTimeoutPolicy, StarClusterPolicy, StaticPolicy  # noqa: E402
from sclust.elastic.policy import SclustPolicy, Settings  # noqa: E402
from sclust.elastic.report import saturation, summarize  # noqa: E402
from sclust.elastic.runner import Workload, prepare  # noqa: E402
from sclust.elastic.simulator import SimSettings, simulate  # noqa: E402


def run(workload: Workload, policy, settings: SimSettings) -> tuple[dict, float]:
    started = time.perf_counter()
    row = summarize(simulate(workload.jobs, policy, settings), workload.lb0, workload.opt)
    return row, time.perf_counter() - started


def p95(row: dict) -> float:
    """p95 wait at SGE's resolution (whole seconds); a run that left jobs unrun is worst."""
    return math.inf if row["unfinished"] else round(row["wait_p95"])


def best_static(
    workload: Workload, settings: SimSettings, target: float
) -> tuple[dict, dict | None]:
    """The smallest static size whose p95 wait is ≤ `target` (binary search: waits fall as the
    cluster grows; too small a cluster never runs the widest jobs), and the next smaller one
    (cheaper, worse wait) for context."""
    cache: dict[int, dict] = {}

    def row(nodes: int) -> dict:
        if nodes not in cache:
            cache[nodes] = run(workload, StaticPolicy(nodes=nodes), settings)[0]
            cache[nodes]["policy"] = f"static {nodes}"
        return cache[nodes]

    low, high = 1, settings.policy.max_nodes
    if p95(row(high)) > target:
        return row(high), None
    row(high)["policy"] = "static max"
    while low < high:
        middle = (low + high) // 2
        if p95(row(middle)) <= target:
            high = middle
        else:
            low = middle + 1
    return row(low), (row(low - 1) if low > 1 else None)


def dominates(ours: dict, other: dict) -> bool:
    return ours["node_hours"] <= other["node_hours"] and p95(ours) <= p95(other)


def qstat_parse_time(jobs: int = 10_000) -> float:
    from sclust.sge.stats import parse_qstat
    from tests.elastic.test_sge_stats import big_qstat

    text = big_qstat(jobs)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        parse_qstat(text)
        best = min(best, time.perf_counter() - started)
    return best


CASES = ("NASA-iPSC-1993-3.1-cln.swf.gz:16", "NASA-iPSC-1993-3.1-cln.swf.gz:64",
         "lublin_256.swf.gz:64", "KTH-SP2-1996-2.1-cln.swf.gz:64", "LCG.swf.gz:512",
         "lublin_256.swf.gz:16", "KTH-SP2-1996-2.1-cln.swf.gz:16")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", help="NAME:NODES, NAME a file in ../shared/traces")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ideal", action="store_true", help="idealised change rules")
    args = parser.parse_args()
    cases = [(c.rsplit(":", 1)[0], int(c.rsplit(":", 1)[1])) for c in (args.cases or CASES)]
    header = (f"{'case':<30}{'policy':<16}{'node-h':>10}{'×LB0':>7}{'×ref':>7}{'mean wait':>10}"
              f"{'p95 wait':>10}{'launches':>9}{'sim s':>7}  sclust dominates?")
    misses: list[str] = []
    lcg_seconds = None
    blocks: dict[bool, list[str]] = {False: [], True: []}
    for name, nodes in cases:
        if not (TRACES / name).exists():
            print(f"{name}: not in {TRACES}, skipped")
            continue
        settings = SimSettings(
            policy=Settings(max_nodes=nodes, node_slots=8, boot_time=120.0, billing="second"),
            seed=args.seed, live=not args.ideal,
        )
        workload = prepare(str(TRACES / name), settings)
        case = f"{name.split('.swf')[0][:24]} @{nodes}"
        ours, seconds = run(workload, SclustPolicy(), settings)
        if name.startswith("LCG"):
            lcg_seconds = seconds
        rows = [(ours, seconds, "")]
        for policy in (StarClusterPolicy(), IdleTimeoutPolicy()):
            row, took = run(workload, policy, settings)
            verdict = "yes" if dominates(ours, row) else "NO"
            rows.append((row, took, verdict))
        static, cheaper = best_static(workload, settings, p95(ours))
        if dominates(ours, static):
            verdict = "yes"
        elif ours["node_hours"] <= static["node_hours"]:
            verdict = "yes: a static size as good on p95 costs more"
        else:
            verdict = "NO"
        rows.append((static, 0.0, verdict))
        if cheaper:
            rows.append((cheaper, 0.0, "(cheaper, worse p95)"))
        at_max = static if static["policy"] == "static max" else None
        if at_max is None:
            at_max = run(workload, StaticPolicy(), settings)[0]
        verdict_sat = saturation([r for r, _, _ in rows], at_max)
        saturated = verdict_sat["saturated"]
        lines = blocks[saturated]
        for row, took, verdict in rows:
            lines.append(f"{case:<30}{row['policy']:<16}{row['node_hours']:>10.1f}"
                         f"{row['x_lb0']:>7.3f}{row['x_ref']:>7.3f}{row['wait_mean']:>10.0f}"
                         f"{row['wait_p95']:>10.0f}{row['launches']:>9}{took:>7.1f}  {verdict}"
                         + (f" [{row['unfinished']} jobs never ran]" if row["unfinished"]
                            else ""))
            if row["node_hours"] < workload.lb0:
                misses.append(f"{case}: {row['policy']} below LB0: the bound is wrong")
            if verdict == "NO" and not saturated:
                misses.append(
                    f"{case}: {row['policy']} not dominated (ours {ours['node_hours']:.1f} "
                    f"node-h / p95 {ours['wait_p95']:.0f} s, it {row['node_hours']:.1f} / "
                    f"{row['wait_p95']:.0f})")
        waste = ours["waste"]
        lines.append(
            f"{'':<30}bound LB0 {workload.lb0:.1f} node-h; reference zero-wait OPT "
            f"{workload.opt:.1f}; sclust's bill: busy {waste['busy']:.0f} + partly "
            f"{waste['partly_used']:.0f} + idle {waste['idle']:.0f} + boot "
            f"{waste['booting']:.0f} + drain {waste['draining']:.0f}"
            + (f"; {workload.capped} jobs capped ({workload.cut_share:.1%} of the work cut)"
               if workload.capped else "")
            + (f"; SATURATED: {verdict_sat['why']}" if saturated else ""))
    print(header)
    print("-" * len(header))
    print("\n".join(blocks[False]))
    if blocks[True]:
        print("\nsaturated cases (too small a cluster: policies look alike; not goals)")
        print("\n".join(blocks[True]))
    parse = qstat_parse_time()
    print(f"\nparse 10,000-job qstat -xml: {parse:.3f} s (goal ≤ 0.2 s)")
    if lcg_seconds is not None:
        print(f"simulate LCG (188k jobs) under sclust: {lcg_seconds:.1f} s (goal ≤ 60 s)")
    if parse > 0.2:
        misses.append(f"qstat parse {parse:.3f} s > 0.2 s")
    if lcg_seconds is not None and lcg_seconds > 60:
        misses.append(f"LCG simulation {lcg_seconds:.1f} s > 60 s")
    print("\n" + ("goals met" if not misses else "goals missed:\n  " + "\n  ".join(misses)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
