"""The live loop's side of reconciliation (`reconcile.py` decides): probe the workers, requeue
the jobs of silent and interrupted nodes at once through the scheduler, and remove every
condemned node as soon as no other removal runs (a failed removal is retried after a pause).
The condemned hosts are out of the capacity the policy sees (`LoadBalancer.observe`)."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

from sclust.elastic.health import probe_workers
from sclust.elastic.operations import LAUNCH, REMOVE
from sclust.elastic.reconcile import Findings, Reconciler, Worker
from sclust.scheduler import ClusterStats

if TYPE_CHECKING:
    from sclust.elastic.live import Iteration, LoadBalancer

log = logging.getLogger(__name__)


class Reconciliation:
    """Reconciliation for one LoadBalancer (its `condemned` hosts, its SSH, its removals)."""

    def __init__(self, balancer: LoadBalancer) -> None:
        self.lb = balancer
        self.reconciler = Reconciler(balancer.options.join_grace, balancer.options.answer_grace)

    def reconcile(self, stats: ClusterStats, iteration: Iteration) -> ClusterStats:
        """Find strays, silent nodes and spot notices (`reconcile.py`); requeue the jobs of
        the silent and interrupted ones at once, remove them all. Returns STATS without the
        condemned hosts. Trouble here is logged and never stops the loop."""
        lb = self.lb
        if not lb.options.reconcile:
            return stats
        try:
            found = self.review(stats)
        except Exception as error:
            log.debug("reconciliation failed", exc_info=True)
            iteration.notes.append(f"reconciliation skipped: {error}")
            return stats
        if found.hosts and lb.options.dry_run:
            for host in found.hosts:
                lb.act(iteration, f"would remove {host}: {found.why(host)}")
            return stats
        requeue = sorted({*found.interrupted, *found.silent})
        if requeue:
            try:
                lb.run_on_master(lb.scheduler.requeue(requeue))
            except Exception as error:  # tried again next iteration: they stay uncondemned
                lb.say(f"requeueing the jobs of {', '.join(requeue)} failed: {error}")
                lb.master.close()
                found = Findings(strays=found.strays)
        for host in found.hosts:
            lb.condemned[host] = found.why(host)
            done = "disabled, its jobs requeued; " if host in requeue else ""
            lb.act(iteration, f"{host}: {found.why(host)}: {done}removing it")
        self.remove_condemned(iteration)
        if not lb.condemned:
            return stats
        return dataclasses.replace(
            stats, hosts=tuple(h for h in stats.hosts if h.name not in lb.condemned))

    def review(self, stats: ClusterStats) -> Findings:
        lb = self.lb
        launching, removing = lb.operations.get(LAUNCH), lb.operations.get(REMOVE)
        skip = set(lb.condemned)
        for operation in (launching, removing):
            if operation is not None:
                skip |= set(operation.hosts)
        nodes = [n for n in lb.info.workers if n.state in ("pending", "running")
                 and lb.host_name(n) not in skip]
        joined = {h.name for h in stats.hosts if h.slots > 0}
        # Only joined nodes are probed (a stray's SSH says nothing), and spot nodes (notice).
        probed = [n for n in nodes if n.state == "running" and n.address
                  and (n.spot or lb.host_name(n) in joined)]
        probes = probe_workers(lb.configurator, probed, lb.host_name)
        workers = [Worker(lb.host_name(n), n.launch_time.timestamp() if n.launch_time
                          else None, n.spot) for n in nodes]
        return self.reconciler.review(stats.now, workers, stats, probes, skip)

    def remove_condemned(self, iteration: Iteration) -> None:
        """Start removing the condemned hosts still on EC2, unless a removal runs already;
        those EC2 no longer has (a spot node gone) are forgotten: the next setup drops them."""
        lb = self.lb
        by_host = {lb.host_name(n): n for n in lb.info.workers
                   if n.state in ("pending", "running", "stopping", "stopped")}
        for host in [h for h in lb.condemned if h not in by_host]:
            del lb.condemned[host]
        if not lb.condemned:
            return
        if lb.operations.get(REMOVE) is not None or time.time() < lb.condemned_hold:
            iteration.notes.append("removal of " + ", ".join(sorted(lb.condemned))
                                   + " waits for the removal under way, or after a failed one")
            return
        hosts = sorted(lb.condemned)
        reasons = sorted({lb.condemned[h] for h in hosts})
        lb.start_removal([by_host[h] for h in hosts], iteration, "; ".join(reasons),
                         force=True)
