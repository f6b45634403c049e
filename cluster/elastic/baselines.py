"""The policies users know, to measure ours against: StarCluster's, ParallelCluster's, static.

`StarClusterPolicy` ports StarCluster 0.95.6's `loadbalance` rules as its code behaves (weaknesses
included — that is the point of the comparison): it only acts when no node is booting (its adds
block), grows by `qw_slots // slots_per_host` capped at `-a` once the oldest `qw` job waited
`-w` seconds (with `timedelta.seconds`, which wraps at 24 h), shrinks only when nothing at all is
queued, and then removes idle nodes whose uptime is ≥ `-k` minutes past a full hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sclust.elastic.policy import (
    Decision,
    Memory,
    Settings,
    capacity,
    demand,
    grow,
    next_timeout,
    removable,
    shrink,
)
from sclust.scheduler import UP, ClusterStats, Host


@dataclass(frozen=True)
class StarClusterPolicy:
    """StarCluster `loadbalance` with its defaults `-w 900 -a 1 -k 45 -s 180 -n 1 -i 60`.

    Its `-n`/`-m` count the master; our settings count workers, so the port adds one for the
    master (a virtual one with no slots when the stats have none, as in the simulator).
    """

    name: str = "starcluster"
    max_wait: float = 900.0  # -w
    add_per_iteration: int = 1  # -a
    kill_after: float = 45.0  # -k, minutes past the hour
    stabilization: float = 180.0  # -s
    min_nodes: int = 1  # -n, master included
    interval: float = 60.0  # -i
    wrap_24h: bool = True  # its `age_delta.seconds` bug, kept for fidelity

    def decide(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        if stats.booting:
            # Its add blocks until nodes joined; "stabilized" counts from then.
            return Decision(memory=replace(memory, last_change=stats.now))
        added = self._add(stats, settings, memory)
        if added is not None:
            return added
        return self._remove(stats, settings, memory)

    def _stabilized(self, now: float, memory: Memory) -> bool:
        return memory.last_change is None or now - memory.last_change > self.stabilization

    def _counts(self, stats: ClusterStats, settings: Settings) -> tuple[int, int, int]:
        has_master = any(h.is_master for h in stats.hosts)
        nodes = len(stats.hosts) + (0 if has_master else 1)
        min_nodes = max(self.min_nodes, settings.min_nodes + 1)
        return nodes, min_nodes, settings.max_nodes + 1

    def _add(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision | None:
        nodes, min_nodes, max_nodes = self._counts(stats, settings)
        if nodes >= max_nodes:
            return None
        queued = stats.oldest_submitted is not None
        if not queued and nodes >= min_nodes:
            return None
        total_slots = sum(h.slots for h in stats.hosts)
        if not self._stabilized(stats.now, memory) and total_slots > 0:
            return None
        used_slots = sum(h.used_slots for h in stats.hosts)
        avail_slots = total_slots - used_slots
        per_host = {h.slots for h in stats.hosts}
        if total_slots and len(per_host) > 1:
            return Decision(reason="starcluster: ERROR slots not consistent across cluster",
                            memory=memory)
        slots_per_host = per_host.pop() if total_slots else 0
        need = 0
        if nodes < min_nodes:
            need = min_nodes - nodes
        elif total_slots == 0:
            need = 1
        else:
            # Sum `qw` slots (one entry per job: array tasks are not counted) only as far as the
            # decision can change, so a huge queue stays cheap.
            enough = max(avail_slots + 1, self.add_per_iteration * max(slots_per_host, 1))
            qw_slots = 0
            for job in stats.pending:
                if job.state == "qw":
                    qw_slots += job.slots
                    if qw_slots >= enough:
                        break
            if qw_slots > avail_slots and stats.oldest_submitted is not None:
                age = stats.now - stats.oldest_submitted
                if self.wrap_24h:
                    age %= 86400
                if age > self.max_wait:
                    need = qw_slots // slots_per_host if slots_per_host else 1
        need = min(self.add_per_iteration, need, max_nodes - nodes)
        if need <= 0:
            return None
        return Decision(
            launch=need,
            reason=f"starcluster: add {need}",
            memory=replace(memory, last_change=stats.now),
        )

    def _remove(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        if stats.oldest_submitted is not None:  # any `qw` job blocks every removal
            return Decision(memory=memory)
        if not self._stabilized(stats.now, memory):
            return Decision(memory=memory)
        nodes, min_nodes, _ = self._counts(stats, settings)
        max_remove = nodes - min_nodes
        chosen: list[Host] = []
        for host in stats.hosts:
            if len(chosen) >= max_remove:
                break
            if host.is_master or host.busy or host.state != UP:
                continue
            up_minutes = (stats.now - (host.launched_at or stats.now)) / 60.0
            if int(up_minutes) % 60 >= self.kill_after:
                chosen.append(host)
        return shrink(stats, memory, capacity(stats, settings), chosen, "starcluster: idle past -k")


@dataclass(frozen=True)
class IdleTimeoutPolicy:
    """ParallelCluster 3 (Slurm power saving): power up what pending jobs need at once; power
    down a dynamic node idle for `ScaledownIdletime` (default 600 s). Nodes a waiting job will use
    count as allocated, as Slurm holds them for the job."""

    name: str = "idle-timeout"
    idle_timeout: float = 600.0

    def decide(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        cap = capacity(stats, settings)
        wanted = demand(stats, settings, cap)
        grown = grow(stats, settings, memory, self.name, cap, wanted)
        if grown is not None:
            return grown
        if not cap.idle and not cap.excess:
            return Decision(memory=memory, quiet_until=math.inf)
        hosts = removable(stats, settings, cap, wanted, idle_for=self.idle_timeout)
        decision = shrink(stats, memory, cap, hosts, f"{self.name}: idle ≥ {self.idle_timeout:g} s")
        if decision.changes:
            return decision
        return replace(decision, quiet_until=next_timeout(cap, self.idle_timeout))


@dataclass(frozen=True)
class StaticPolicy:
    """A fixed-size cluster: `nodes` workers (default `max_nodes`) from the start, never removed."""

    name: str = "static"
    nodes: int | None = None

    def decide(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        target = settings.max_nodes if self.nodes is None else self.nodes
        target = max(settings.min_nodes, min(settings.max_nodes, target))
        workers = sum(1 for h in stats.hosts if not h.is_master and h.state != "down")
        launch = target - workers - len(stats.booting)
        if launch > 0:
            return Decision(launch=launch, reason=f"static: {target} nodes",
                            memory=replace(memory, last_change=stats.now))
        decision = shrink(stats, memory, capacity(stats, settings), [], "static")
        return decision if decision.changes else replace(decision, quiet_until=math.inf)
