"""Reconciliation: the cluster's instances on EC2 against the hosts the scheduler knows, as
ParallelCluster's cluster manager (clustermgtd) does it. Pure: facts in, findings out.

Three kinds of node must go, each found here and acted on by the live loop (`live.py`):
- **strays**: a worker instance that never joined the scheduler (or left it) and has been
  running longer than the join grace (a node still booting is not a stray before it ends),
  seen so in two readings in a row, and running no job;
- **silent** nodes: a joined node whose execution daemon the scheduler reports down, or that
  stopped answering SSH, for longer than the answer grace: its jobs are requeued, it is drained
  and removed (the policy launches a replacement for the requeued work);
- **interrupted** spot nodes: EC2 gave notice (the instance metadata's
  `spot/instance-action`): disabled and their jobs requeued at once, then removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sclust.scheduler import DOWN, ClusterStats

JOIN_GRACE = 600.0  # s from launch a node may take to join the scheduler
ANSWER_GRACE = 120.0  # s a joined node may stay silent (execd down, no SSH) before it goes


@dataclass(frozen=True)
class Worker:
    """A worker instance as EC2 has it: the scheduler's name for it and its launch time."""

    host: str
    launched: float | None  # epoch seconds (None: EC2 did not say)
    spot: bool = False


@dataclass(frozen=True)
class Probe:
    """What a node said to `node-health.sh` (`alive` False: it did not answer)."""

    alive: bool
    spot_action: str | None = None


@dataclass
class Findings:
    """Hosts to act on, each with why."""

    strays: dict[str, str] = field(default_factory=dict)
    silent: dict[str, str] = field(default_factory=dict)
    interrupted: dict[str, str] = field(default_factory=dict)

    @property
    def hosts(self) -> list[str]:
        return sorted({*self.strays, *self.silent, *self.interrupted})

    def why(self, host: str) -> str:
        return self.interrupted.get(host) or self.silent.get(host) or self.strays[host]


@dataclass
class Reconciler:
    """Remembers, between readings, which hosts were unjoined or silent and since when."""

    join_grace: float = JOIN_GRACE
    answer_grace: float = ANSWER_GRACE
    unjoined: dict[str, int] = field(default_factory=dict)  # host -> readings in a row
    silent_since: dict[str, float] = field(default_factory=dict)

    def review(self, now: float, workers: Iterable[Worker], stats: ClusterStats,
               probes: Mapping[str, Probe], skip: Iterable[str] = ()) -> Findings:
        """Findings for this reading. SKIP: hosts a launch or removal under way owns (a node
        being set up is not a stray; a node being removed is already going)."""
        skipped = set(skip)
        known = {h.name: h for h in stats.hosts}
        busy = {h.name for h in stats.hosts if h.busy} | {j.host for j in stats.running}
        found = Findings()
        unjoined: dict[str, int] = {}
        silent_since: dict[str, float] = {}
        for worker in workers:
            name = worker.host
            if name in skipped:
                continue
            probe = probes.get(name)
            if probe is not None and probe.spot_action:
                found.interrupted[name] = f"spot interruption notice ({probe.spot_action})"
                continue
            host = known.get(name)
            if host is None or host.slots == 0:
                unjoined[name] = self.unjoined.get(name, 0) + 1
                age = now - worker.launched if worker.launched is not None else 0.0
                if (age >= self.join_grace and unjoined[name] >= 2 and name not in busy):
                    found.strays[name] = (f"not a {'' if host else 'known '}scheduler host "
                                          f"{age:.0f} s after its launch (grace "
                                          f"{self.join_grace:g} s)")
                continue
            reasons = []
            if host.state == DOWN:
                reasons.append("its execution daemon does not report")
            if probe is not None and not probe.alive:
                reasons.append("it does not answer SSH")
            if not reasons:
                continue
            since = silent_since[name] = self.silent_since.get(name, now)
            if now - since >= self.answer_grace:
                found.silent[name] = f"{' and '.join(reasons)} for {now - since:.0f} s"
        self.unjoined, self.silent_since = unjoined, silent_since
        return found


def parse_probe(output: str) -> Probe:
    """`node-health.sh`'s output as a Probe (no `alive` line: the node did not really run it)."""
    alive, action = False, None
    for line in output.splitlines():
        parts = line.split()
        if parts == ["alive"]:
            alive = True
        elif len(parts) == 2 and parts[0] == "spot-action" and parts[1].isalpha():
            action = parts[1][:20]
    return Probe(alive, action)
