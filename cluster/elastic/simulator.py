"""Replay a job trace through a simulated elastic cluster under one policy.

Event-driven, one clock in seconds. Jobs arrive from the trace; a FIFO first-fit dispatcher (SGE
without reservation: the oldest waiting job that fits starts, jobs that do not fit are skipped)
puts each job's slots on hosts in launch order, filling one before the next (SGE fill-up by
sequence number, so surplus nodes actually go idle). Every `interval` seconds the policy sees a
`ClusterStats` and its `Decision` is applied. Launched nodes join after a boot delay (lognormal
with median `boot_time`, or drawn from measured `boot_samples`; seeded) and are billed from
launch to the end of their removal, per second with a 60 s minimum or per started hour.

By default (`live=True`) changes follow the rules of the live loop (`live.py`, `operations.py`):
- one launch and one removal may run at the same time, never two of a kind: a launch or a
  removal decided while one of its kind runs is deferred (the policy decides again later);
  a decision with both a launch and a removal only launches (as `LoadBalancer.apply`);
- a launch is one `add_nodes` call: its nodes are set up together, so they all join when the
  slowest has booted, and the loop decides again at once (an ended operation wakes it);
- a launch fails with probability `launch_failure`: its nodes never join, are removed (billed
  until then) and the next launch is held `interval × 2^failures` s (at most 600 s);
- a removal drains its hosts (gone from the capacity at once), waits `drain_settle` s, then
  takes `removal_time` s to leave SGE and terminate: billed until then.
`live=False` is the idealised cluster (any number of concurrent changes, nodes join one by one,
removal instant) the earlier versions simulated.

Billed node-hours are split into busy (slots running jobs), partly used (free slots of hosts
running something), idle (enabled hosts running nothing), booting (launch → join, and failed
launches), draining (drained hosts and removals under way) and rounding (the billing minimum,
or the rest of a started hour): the six add up to the bill.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import insort
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

from sclust.elastic.policy import HOUR, Decision, Memory, Policy, Settings
from sclust.elastic.simnodes import BOOTING, REMOVED, REMOVING, NodeView, SimNode
from sclust.elastic.traces import TraceJob
from sclust.scheduler import DRAINING, UP, ClusterStats, PendingJob

_FINISH, _READY, _GONE = 0, 1, 2  # same-time order: free slots first, then new hosts
SETTLE = 3.0  # live.SETTLE: disabled hosts are re-read after a scheduler run
LAUNCH_HOLD_MAX = 600.0  # live.LoadBalancer.settle: the longest hold after failed launches
WASTE = ("busy", "partly_used", "idle", "booting", "draining", "rounding")
STALL_LIMIT = 7 * 86400.0  # a policy that leaves jobs waiting this long with nothing running


@dataclass(frozen=True)
class SimSettings:
    """The simulated cloud: the policy's settings plus what only a simulation needs."""

    policy: Settings = field(default_factory=Settings)
    boot_spread: float = 0.3  # sigma of the lognormal boot delay
    price: float = 0.34  # $ per node-hour (c5.2xlarge, 8 vCPU, us-east-1 on-demand)
    seed: int = 1
    live: bool = True  # the live loop's change rules (module docstring); False: idealised
    boot_samples: tuple[float, ...] = ()  # measured launch → join seconds: drawn from these
    launch_failure: float = 0.0  # probability that a launch (one operation) fails
    drain_settle: float = SETTLE  # live: disable → confirm idle
    removal_time: float = 30.0  # live: leave SGE + terminate, billed

    def __post_init__(self) -> None:
        if not 0.0 <= self.launch_failure < 1.0:
            raise ValueError("launch_failure must be in [0, 1)")
        if any(not 0.0 <= b < math.inf for b in self.boot_samples):
            raise ValueError("boot samples must be finite seconds >= 0")
        if self.drain_settle < 0 or self.removal_time < 0:
            raise ValueError("drain_settle and removal_time must be >= 0")


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
    waste: dict[str, float] = field(default_factory=dict)  # node-hours by WASTE key
    at_max_share: float = 0.0  # share of the run with `max_nodes` nodes (booting included)
    failed_launches: int = 0
    deferred: int = 0  # launches or removals put off because one of their kind ran


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
        self.fail_rng = random.Random(settings.seed + 7919)  # boots stay those of the seed
        self.interval = float(getattr(policy, "interval", None) or settings.policy.interval)
        self.nodes: list[SimNode] = []  # live nodes in launch order
        self.dead: list[SimNode] = []
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
        self.allocation: dict[int, list[tuple[SimNode, int]]] = {}
        self.memory = Memory()
        self.launches = 0
        self.decisions = 0
        self.peak = 0
        self.unfinished = 0
        self.live = settings.live
        self.max_nodes = settings.policy.max_nodes
        self.acc = [0.0] * 5  # node-seconds: busy, partly used, idle, booting, draining
        self.removing: list[SimNode] = []  # out of the cluster, not yet terminated (billed)
        self.launching: list[SimNode] | None = None  # the launch under way (live)
        self.removal_until = -math.inf  # the removal under way ends then (live)
        self.launch_hold = -math.inf
        self.launch_failures = 0
        self.failed_launches = 0
        self.deferred = 0
        self.wake = False  # an operation ended: the live loop decides at once
        # What the policy and the dispatcher see of the nodes, kept up to date change by
        # change (`simnodes`).
        self.view = NodeView()
        self.check = False  # tests: compare the view with one made from scratch each decision
        self.at_max = 0.0
        self.count_mark = jobs[0].submit if jobs else 0.0

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
        nodes = self.view
        # First fit over the enabled hosts with free slots, in launch order.
        for number in nodes.open[:need]:  # each gives a slot at least: no more are needed
            node = nodes.by_number[number]
            take = min(need, node.free)
            self._account(node, now)
            node.free -= take
            taken.append((node, take))
            need -= take
            if not need:
                break
        for node, _ in taken:
            nodes.touch(node)
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
            self._account(node, now)
            node.free += slots
            if node.free == node.slots:
                node.idle_since = now
            self.view.touch(node)
            if node.state is UP:
                self.free_up += slots

    def _pending(self) -> Iterator[PendingJob]:
        view = self.pending_view
        for index in self.queue:
            job = view[index]
            if job is not None:
                yield job

    # -- nodes ------------------------------------------------------------------------------

    def _account(self, node: SimNode, now: float) -> None:
        """Add the node's time since its last change to the waste split (before a change)."""
        spent = now - node.mark
        if spent <= 0:
            return
        node.mark = now
        acc, state = self.acc, node.state
        if state is BOOTING:
            acc[3] += spent
            return
        used = (node.slots - node.free) / node.slots
        acc[0] += spent * used
        if state is UP:
            acc[2 if node.free == node.slots else 1] += spent * (1.0 - used)
        else:  # drained, or being removed
            acc[4] += spent * (1.0 - used)

    def _count(self, now: float) -> None:
        """Before the number of nodes changes: time spent at `max_nodes`."""
        if len(self.nodes) >= self.max_nodes:
            self.at_max += now - self.count_mark
        self.count_mark = now

    def _boot(self) -> float:
        samples = self.settings.boot_samples
        if samples:
            return self.rng.choice(samples)
        boot = self.settings.policy.boot_time
        return boot * math.exp(self.settings.boot_spread * self.rng.gauss(0.0, 1.0))

    def _push(self, when: float, kind: int, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, kind, self.seq, payload))

    def _launch(self, count: int, now: float) -> None:
        self._count(now)
        batch: list[SimNode] = []
        slowest = 0.0
        for _ in range(count):
            self.launches += 1
            node = SimNode(self.launches, self.settings.policy.node_slots, now)
            self.nodes.append(node)
            self.view.launched(node)
            delay = self._boot()
            if self.live:
                batch.append(node)
                slowest = max(slowest, delay)
            else:
                self._push(now + delay, _READY, node)
        if self.live and batch:
            failure = self.settings.launch_failure
            failed = bool(failure) and self.fail_rng.random() < failure
            self.launching = batch
            self._push(now + slowest, _READY, (batch, failed))
        self.peak = max(self.peak, len(self.nodes))

    def _ready(self, payload: object, now: float) -> None:
        if isinstance(payload, SimNode):
            self._join(payload, now)
            return
        batch, failed = cast("tuple[list[SimNode], bool]", payload)
        self.launching, self.wake = None, True
        if not failed:
            self.launch_failures = 0
            for node in batch:
                self._join(node, now)
            return
        # Setup failed: the loop removes what was launched and holds the next launch.
        self.failed_launches += 1
        self.launch_failures += 1
        hold = min(LAUNCH_HOLD_MAX, self.interval * 2 ** self.launch_failures)
        self.launch_hold = now + hold
        self._count(now)
        for node in batch:
            self._account(node, now)  # booting until now
            self.nodes.remove(node)
            self.view.dropped(node)
            node.state, node.ended = REMOVING, now + self.settings.removal_time
            self.removing.append(node)
            self._push(node.ended, _GONE, node)

    def _join(self, node: SimNode, now: float) -> None:
        if node.state is BOOTING:
            self._account(node, now)
            node.state, node.idle_since = UP, now
            self.view.joined(node)
            self.free_up += node.free

    def _gone(self, node: SimNode, now: float) -> None:
        """A removal ended: the instance is terminated, its bill closed."""
        self._account(node, now)
        node.state = REMOVED
        self.removing.remove(node)
        self.dead.append(node)
        if self.live and now >= self.removal_until:
            self.wake = True

    def _apply(self, decision: Decision, now: float) -> bool:
        """Apply what the change rules allow; False when something was put off (the policy's
        memory is then not taken, as in the live loop)."""
        by_name = self.view.by_name
        for name in decision.enable:
            node = by_name[name]
            if node.state is DRAINING:
                self._account(node, now)
                node.state = UP
                self.view.touch(node)
                self.free_up += node.free
        if not self.live:
            if decision.launch > 0:
                self._launch(decision.launch, now)
            self._drain(decision, by_name, now)
            return True
        if decision.launch > 0:
            if self.launching is not None:
                self.deferred += 1
                return False
            if now < self.launch_hold:
                return False
            self._launch(decision.launch, now)
        elif decision.drain:
            if now < self.removal_until:
                self.deferred += 1
                return False
            self._drain(decision, by_name, now)
        return True

    def _drain(self, decision: Decision, by_name: dict[str, SimNode], now: float) -> None:
        for name in decision.drain:
            node = by_name[name]
            if node.state is UP:
                self._account(node, now)
                node.state = DRAINING
                self.view.touch(node)
                self.free_up -= node.free
        gone = [
            by_name[name] for name in decision.remove
            if by_name[name].free == by_name[name].slots  # never remove a busy host
        ]
        if not gone:
            return
        self._count(now)
        latency = (self.settings.drain_settle + self.settings.removal_time) if self.live else 0.0
        for node in gone:
            self._account(node, now)
            self.nodes.remove(node)
            self.view.dropped(node)
            node.ended = now + latency
            if latency:
                node.state = REMOVING
                self.removing.append(node)
                self._push(node.ended, _GONE, node)
            else:
                node.state = REMOVED
                self.dead.append(node)
        if latency:
            self.removal_until = now + latency

    def _stats(self, now: float) -> ClusterStats:
        if self.check:
            self.view.check(self.nodes)
        hosts_view, booting_view, summary = self.view.view()
        oldest = None
        if self.queue:
            oldest = self.pending_view[self.queue[0]].submitted  # type: ignore[union-attr]
        return ClusterStats(
            now=now,
            hosts=hosts_view,
            booting=booting_view,
            pending=self._pending(),
            pending_count=self.pending_count,
            oldest_submitted=oldest,
            summary=summary,
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
                elif kind == _READY:
                    self._ready(payload, now)
                else:
                    self._gone(payload, now)  # type: ignore[arg-type]
            if self.wake:
                # An operation ended: the live loop wakes and decides at once.
                self.wake, quiet_until, next_tick = False, None, now
            while next_job < total and jobs[next_job].submit <= now:
                self._submit(next_job)
                next_job += 1
            self._dispatch(now)
            if now >= next_tick:
                decision = self.policy.decide(self._stats(now), self.settings.policy, self.memory)
                self.decisions += 1
                applied = True
                if decision.changes:
                    applied = self._apply(decision, now)
                    self._dispatch(now)
                if applied:
                    self.memory = decision.memory
                next_tick = now + self.interval
                if decision.quiet_until is not None and not decision.changes and applied:
                    quiet_until = decision.quiet_until
                    next_tick = max(next_tick, grid(min(quiet_until, 1e300)))
            if events or next_job < total:
                idle_since = now
        return self._result(now)

    def _result(self, end: float) -> SimResult:
        billing = self.settings.policy.billing
        self._count(end)
        for node in self.nodes:
            node.ended = end
            self._account(node, end)
        for node in self.removing:  # their removal ends after the last job: billed till then
            self._account(node, node.ended or end)
        billed = lifetimes = 0.0
        for node in (*self.dead, *self.removing, *self.nodes):
            life = (end if node.ended is None else node.ended) - node.launched
            lifetimes += life
            billed += billed_seconds(life, billing)
        node_hours = billed / 3600.0
        waste = dict(zip(WASTE, (*(a / 3600.0 for a in self.acc),
                                 (billed - lifetimes) / 3600.0), strict=True))
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
            waste=waste,
            at_max_share=self.at_max / (end - first) if end > first else 0.0,
            failed_launches=self.failed_launches,
            deferred=self.deferred,
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
