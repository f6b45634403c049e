"""The load balancer's per-iteration cost on the local cloud: the stats round trip.

Run as root, under the local-cloud lock:
    flock /tmp/sclust-localcloud-tests.lock .venv/bin/python bench/bench_loadbalance.py
It brings up its own local cloud, starts a 3-host cluster and, with 0 and then N held jobs in
the queue, times (median and p95 of R repetitions over one reused SSH connection):
- `true`: the bare SSH round trip;
- sclust: `date; qstat -u '*' -xml -r; qhost -q -xml` in one command (the scheduler's
  `read_stats`, sge/scripts/stats.sh), then parsing it into ClusterStats and the policy's
  decision;
- StarCluster's three commands per iteration (`qhost -xml`, `qstat -u '*' -xml -f -r`,
  `qacct -j -b …`), each its own round trip.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REPEAT = 30
QUEUED = 1000
SGE = "export SGE_ROOT=/var/lib/gridengine SGE_CELL=default\n"


def timed(action, repeat: int = REPEAT) -> tuple[float, float]:
    """Median and p95 in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, round(0.95 * len(samples)) - 1)]


def measure(master, queued: int) -> list[tuple[str, float, float]]:
    from sclust.elastic.policy import Memory, SclustPolicy, Settings
    from sclust.scheduler import scheduler_for

    scheduler = scheduler_for("sge")
    read_stats = scheduler.read_stats()
    output = master.run_script(read_stats).stdout
    policy, settings = SclustPolicy(), Settings(max_nodes=16, node_slots=2)

    def parse_and_decide() -> None:
        stats = scheduler.stats(output, master="master")
        policy.decide(stats, settings, Memory())

    def starcluster() -> None:
        for command in ("qhost -xml", "qstat -u '*' -xml -f -r",
                        "qacct -j -b $(date -d '-3 hours' +%Y%m%d%H%M) 2>/dev/null || true"):
            master.run(SGE + command, check=False)

    rows = [
        ("SSH `true`", *timed(lambda: master.run("true"))),
        ("sclust stats command (1 round trip)",
         *timed(lambda: master.run_script(read_stats))),
        ("sclust parse + decide", *timed(parse_and_decide)),
        ("StarCluster's 3 commands", *timed(starcluster)),
    ]
    size = len(output)
    return [(f"{name} [{queued} jobs, {size / 1024:.0f} KiB XML]", median, p95)
            for name, median, p95 in rows]


def main() -> None:
    from tests.localcloud.localcloud_helpers import private_cluster

    with private_cluster("bench", size=3) as (manager, info):
        configurator = manager.configurator(info)
        try:
            master = configurator.connection(info.master)
            rows = measure(master, 0)
            # Held jobs stay queued; 8 qsubs at a time (each takes ~80 ms of client start).
            master.run(SGE + f"su - sgeadmin -c 'seq {QUEUED} | xargs -P 8 -I{{}} sh -c "
                       "\"echo true | qsub -h -o /dev/null -e /dev/null >/dev/null\"'")
            rows += measure(master, QUEUED)
        finally:
            configurator.close()
    print("| per iteration | median | p95 |")
    print("|---|---|---|")
    for name, median, p95 in rows:
        print(f"| {name} | {median:.1f} ms | {p95:.1f} ms |")


if __name__ == "__main__":
    main()
