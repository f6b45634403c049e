"""Replay a job trace through a simulated elastic cluster under one policy.

Event-driven, one clock in seconds. Jobs arrive from the trace; a FIFO first-fit dispatcher (SGE
without reservation: the oldest waiting job that fits starts, jobs that do not fit are skipped)
puts each job's slots on hosts in launch order, filling one before the next (SGE fill-up by
sequence number, so surplus nodes actually go idle). Every `interval` seconds the policy sees a
`ClusterStats` and its `Decision` is applied. Launched nodes join after a lognormal boot delay
(median `boot_time`, seeded) and are billed from launch to removal, per second with a 60 s
minimum or per started hour.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import insort
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sclust.elastic.policy import HOUR, Decision, Memory, Policy, Settings
from sclust.elastic.traces import TraceJob
from sclust.scheduler import DRAINING, UP, BootingNode, ClusterStats, Host, PendingJob

BOOTING, REMOVED = "booting", "removed"
_FINISH, _READY = 0, 1  # same-time order: free slots first, then new hosts
STALL_LIMIT = 7 * 86400.0  # a policy that leaves jobs waiting this long with nothing running


@dataclass(frozen=True)
class SimSettings:
    """The simulated cloud: the policy's settings plus what only a simulation needs."""

    policy: Settings = field(default_factory=Settings)
    boot_spread: float = 0.3  # sigma of the lognormal boot delay
    price: float = 0.34  # $ per node-hour (c5.2xlarge, 8 vCPU, us-east-1 on-demand)
    seed: int = 1


@dataclass
class SimResult:
    """Outcome of one replay (seconds and node-hours)."""

    policy: str
    node_hours: float
    cost: float
    waits: list[float]
    slowdowns: list[float]
    makespan: float
    launches: int
    peak_nodes: int
    busy_node_hours: float
    unfinished: int = 0
    decisions: int = 0


class _Node:
    __slots__ = ("name", "slots", "free", "launched", "state", "idle_since", "host", "ended")

    def __init__(self, name: str, slots: int, launched: float) -> None:
        self.name, self.slots, self.free, self.launched = name, slots, slots, launched
        self.state: str = BOOTING
        self.idle_since: float | None = launched
        self.host: Host | None = None  # the policy's view, rebuilt after a change
        self.ended: float | None = None

    def snapshot(self) -> Host:
        """The Host the policy sees, rebuilt only after a change."""
        if self.host is None:
            self.host = Host(
                name=self.name,
                slots=self.slots,
                used_slots=self.slots - self.free,
                state=self.state,
                launched_at=self.launched,
                idle_since=self.idle_since if self.free == self.slots else None,
            )
        return self.host


def billed_seconds(lifetime: float, billing: str) -> float:
    """EC2 Linux billing: per second with a 60 s minimum, or per started hour."""
    if billing == HOUR:
        return 3600.0 * max(1, math.ceil(lifetime / 3600.0))
    return max(60.0, lifetime)


class Simulation:
    """One replay; `run()` returns a SimResult. Not reusable."""

    def __init__(self, jobs: Sequence[TraceJob], policy: Policy, settings: SimSettings) -> None:
        self.jobs = jobs
        self.policy = policy
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.interval = float(getattr(policy, "interval", None) or settings.policy.interval)
        self.nodes: list[_Node] = []  # live nodes in launch order
        self.dead: list[_Node] = []
        self.events: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.free_up = 0  # free slots on enabled, ready hosts
        self.buckets: dict[int, deque[int]] = {}
        self.sizes: list[int] = []
        self.queue: deque[int] = deque()  # pending job indices, FIFO, lazily pruned
        self.pending_view: list[PendingJob | None] = [None] * len(jobs)
        self.pending_count = 0
        self.dead_entries = 0  # started jobs still in `queue`
        self.start = [math.nan] * len(jobs)
        self.allocation: dict[int, list[tuple[_Node, int]]] = {}
        self.memory = Memory()
        self.launches = 0
        self.decisions = 0
        self.peak = 0
        self.unfinished = 0

    # -- jobs -------------------------------------------------------------------------------

    def _submit(self, index: int) -> None:
        job = self.jobs[index]
        self.pending_view[index] = PendingJob(job.job_id, job.slots, job.submit)
        bucket = self.buckets.get(job.slots)
        if bucket is None:
            bucket = self.buckets[job.slots] = deque()
            insort(self.sizes, job.slots)
        bucket.append(index)
        self.queue.append(index)
        self.pending_count += 1

    def _dispatch(self, now: float) -> None:
        while self.free_up > 0 and self.pending_count:
            best = -1
            for size in self.sizes:
                if size > self.free_up:
                    break
                bucket = self.buckets[size]
                if bucket and (best < 0 or bucket[0] < best):
                    best = bucket[0]
            if best < 0:
                return
            self.buckets[self.jobs[best].slots].popleft()
            self._start(best, now)

    def _start(self, index: int, now: float) -> None:
        job = self.jobs[index]
        need, taken = job.slots, []
        for node in self.nodes:
            if node.state is UP and node.free:
                take = min(need, node.free)
                node.free -= take
                node.host = None
                taken.append((node, take))
                need -= take
                if not need:
                    break
        self.free_up -= job.slots
        self.allocation[index] = taken
        self.start[index] = now
        self.pending_view[index] = None
        self.pending_count -= 1
        self.dead_entries += 1
        while self.queue and self.pending_view[self.queue[0]] is None:
            self.queue.popleft()
            self.dead_entries -= 1
        if self.dead_entries > 2 * self.pending_count + 64:
            # Jobs started out of order (small ones past a wide one): compact the FIFO.
            view = self.pending_view
            self.queue = deque(i for i in self.queue if view[i] is not None)
            self.dead_entries = 0
        self._push(now + job.runtime, _FINISH, index)

    def _finish(self, index: int, now: float) -> None:
        for node, slots in self.allocation.pop(index):
            node.free += slots
            node.host = None
            if node.free == node.slots:
                node.idle_since = now
            if node.state is UP:
                self.free_up += slots

    def _pending(self) -> Iterator[PendingJob]:
        view = self.pending_view
        for index in self.queue:
            job = view[index]
            if job is not None:
                yield job

    # -- nodes ------------------------------------------------------------------------------

    def _push(self, when: float, kind: int, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, kind, self.seq, payload))

    def _launch(self, count: int, now: float) -> None:
        boot = self.settings.policy.boot_time
        for _ in range(count):
            self.launches += 1
            node = _Node(f"node{self.launches:03d}", self.settings.policy.node_slots, now)
            self.nodes.append(node)
            delay = boot * math.exp(self.settings.boot_spread * self.rng.gauss(0.0, 1.0))
            self._push(now + delay, _READY, node)
        self.peak = max(self.peak, len(self.nodes))

    def _ready(self, node: _Node, now: float) -> None:
        if node.state is BOOTING:
            node.state, node.idle_since, node.host = UP, now, None
            self.free_up += node.free

    def _apply(self, decision: Decision, now: float) -> None:
        by_name = {node.name: node for node in self.nodes}
        for name in decision.enable:
            node = by_name[name]
            if node.state is DRAINING:
                node.state, node.host = UP, None
                self.free_up += node.free
        if decision.launch > 0:
            self._launch(decision.launch, now)
        for name in decision.drain:
            node = by_name[name]
            if node.state is UP:
                node.state, node.host = DRAINING, None
                self.free_up -= node.free
        for name in decision.remove:
            node = by_name[name]
            if node.free != node.slots:  # picked up a job: never remove a busy host
                continue
            node.state, node.ended = REMOVED, now
            self.nodes.remove(node)
            self.dead.append(node)

    def _stats(self, now: float) -> ClusterStats:
        hosts, booting = [], []
        for node in self.nodes:
            if node.state is BOOTING:
                booting.append(BootingNode(node.name, node.launched, node.slots))
            else:
                hosts.append(node.snapshot())
        oldest = None
        if self.queue:
            oldest = self.pending_view[self.queue[0]].submitted  # type: ignore[union-attr]
        return ClusterStats(
            now=now,
            hosts=tuple(hosts),
            booting=tuple(booting),
            pending=self._pending(),
            pending_count=self.pending_count,
            oldest_submitted=oldest,
        )

    # -- main loop --------------------------------------------------------------------------

    def run(self) -> SimResult:
        jobs, events = self.jobs, self.events
        total, done, next_job = len(jobs), 0, 0
        now = next_tick = origin = jobs[0].submit if jobs else 0.0
        idle_since = now  # last time anything ran, booted or arrived
        quiet_until: float | None = None  # the policy's word: nothing to do before then

        def grid(moment: float) -> float:
            """The first decision time at or after `moment` (decisions keep their rhythm)."""
            return origin + math.ceil((moment - origin) / self.interval) * self.interval

        while done < total:
            candidates = [next_tick]
            if next_job < total:
                candidates.append(jobs[next_job].submit)
            if events:
                candidates.append(events[0][0])
            now = min(candidates)
            if not events and next_job >= total and now - idle_since > STALL_LIMIT:
                # Jobs wait, nothing runs or boots, and the policy will not act: give up.
                now = idle_since + STALL_LIMIT
                self.unfinished = total - done
                break
            changed = (events and events[0][0] <= now) or (
                next_job < total and jobs[next_job].submit <= now
            )
            if changed and quiet_until is not None:
                quiet_until, next_tick = None, grid(now)
            while events and events[0][0] <= now:
                _, kind, _, payload = heapq.heappop(events)
                if kind == _FINISH:
                    self._finish(payload, now)  # type: ignore[arg-type]
                    done += 1
                else:
                    self._ready(payload, now)  # type: ignore[arg-type]
            while next_job < total and jobs[next_job].submit <= now:
                self._submit(next_job)
                next_job += 1
            self._dispatch(now)
            if now >= next_tick:
                decision = self.policy.decide(self._stats(now), self.settings.policy, self.memory)
                self.memory = decision.memory
                self.decisions += 1
                if decision.changes:
                    self._apply(decision, now)
                    self._dispatch(now)
                next_tick = now + self.interval
                if decision.quiet_until is not None and not decision.changes:
                    quiet_until = decision.quiet_until
                    next_tick = max(next_tick, grid(min(quiet_until, 1e300)))
            if events or next_job < total:
                idle_since = now
        return self._result(now)

    def _result(self, end: float) -> SimResult:
        billing = self.settings.policy.billing
        for node in self.nodes:
            node.ended = end
        billed = sum(
            billed_seconds((end if node.ended is None else node.ended) - node.launched, billing)
            for node in (*self.dead, *self.nodes)
        )
        node_hours = billed / 3600.0
        waits, slowdowns, busy = [], [], 0.0
        for job, started in zip(self.jobs, self.start, strict=True):
            if started != started:  # NaN: never started
                continue
            wait = started - job.submit
            waits.append(wait)
            slowdowns.append(max(1.0, (wait + job.runtime) / max(job.runtime, 10.0)))
            busy += job.slots * job.runtime
        first = self.jobs[0].submit if self.jobs else 0.0
        return SimResult(
            policy=getattr(self.policy, "name", type(self.policy).__name__),
            node_hours=node_hours,
            cost=node_hours * self.settings.price,
            waits=waits,
            slowdowns=slowdowns,
            makespan=end - first,
            launches=self.launches,
            peak_nodes=self.peak,
            busy_node_hours=busy / self.settings.policy.node_slots / 3600.0,
            unfinished=self.unfinished or sum(1 for s in self.start if s != s),
            decisions=self.decisions,
        )


def fit_to_cluster(jobs: Sequence[TraceJob], settings: Settings) -> tuple[list[TraceJob], int]:
    """Cap jobs wider than the largest cluster (`max_nodes × node_slots`); returns how many."""
    widest = settings.max_nodes * settings.node_slots
    fitted, capped = [], 0
    for job in jobs:
        if job.slots > widest:
            job = TraceJob(job.job_id, job.submit, job.runtime, widest, job.gpus)
            capped += 1
        fitted.append(job)
    return fitted, capped


def simulate(jobs: Sequence[TraceJob], policy: Policy, settings: SimSettings) -> SimResult:
    """Replay `jobs` (sorted by submit, each fitting the largest cluster) under `policy`."""
    return Simulation(jobs, policy, settings).run()
