"""StarCluster's pacing options (`-a`, `-w`, `-s`) as a pure wrapper around any policy.

sclust's own policy needs none of them (booting nodes count as capacity, so it never launches
twice for one backlog): they are off by default and exist for users who want StarCluster's
behaviour or a slower, cheaper cluster. Like the policy, the wrapper has no I/O and no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sclust.elastic.policy import Decision, Memory, Policy, Settings
from sclust.scheduler import ClusterStats


@dataclass(frozen=True)
class Paced:
    """POLICY's decisions, limited:

    - `add_per_iteration` (-a): launch at most this many nodes per decision;
    - `max_wait` (-w): grow for a backlog only once the oldest waiting (`qw`) job has waited
      this long (launches up to `min_nodes` are never delayed);
    - `stabilization` (-s): no launch and no removal within this many seconds of the last one
      (re-enabling a drained host costs nothing and is never delayed).
    """

    policy: Policy
    add_per_iteration: int | None = None
    max_wait: float = 0.0
    stabilization: float = 0.0

    @property
    def name(self) -> str:
        return self.policy.name

    def decide(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        decision = self.policy.decide(stats, settings, memory)
        if not (decision.launch or decision.remove):
            return decision
        launch = decision.launch
        remove = decision.remove
        notes: list[str] = []
        settled = (memory.last_change is None
                   or stats.now - memory.last_change >= self.stabilization)
        if not settled:
            launch, remove = 0, ()
            notes.append(f"stabilizing ({self.stabilization:g} s after the last change)")
        if launch:
            workers = sum(1 for h in stats.workers if h.state != "down") + len(stats.booting)
            below_min = max(0, settings.min_nodes - workers)
            waited = stats.now - stats.oldest_submitted if stats.oldest_submitted else 0.0
            if launch > below_min and waited < self.max_wait:
                launch = below_min
                notes.append(f"oldest job waited {waited:.0f} s < -w {self.max_wait:g} s")
            if self.add_per_iteration is not None and launch > self.add_per_iteration:
                launch = self.add_per_iteration
                notes.append(f"-a {self.add_per_iteration}")
        if (launch, remove) == (decision.launch, decision.remove):
            return decision
        # Hosts dropped from `remove` stay enabled; busy hosts the policy retires stay drained.
        drain = tuple(h for h in decision.drain if h in remove or h not in decision.remove)
        changed = bool(launch or remove or decision.enable)
        return replace(
            decision,
            launch=launch,
            remove=remove,
            drain=drain,
            reason=f"{decision.reason} [paced: {'; '.join(notes)}]",
            memory=decision.memory if changed else replace(
                decision.memory, last_change=memory.last_change),
            quiet_until=None,  # what was held back may go at any later decision
        )
