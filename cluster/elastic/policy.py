"""The elastic policy: cluster stats + settings in, decisions out. Pure: no I/O, no clock.

`sclust loadbalance` (live, one SSH round trip for stats per iteration) and `sclust simulate`
(trace replay) both call `Policy.decide`; whatever the policy remembers between calls travels in
`Decision.memory`, so a policy object holds only its parameters.

Counting rules, the same for every policy:
- `min_nodes`/`max_nodes` count **workers**, never the master (StarCluster's `-n`/`-m` count the
  master: the live loop subtracts it; the StarCluster port does the same internally).
- Capacity = free slots of enabled hosts + slots of booting nodes (already paid for: never launch
  twice for one backlog) + slots of hosts we drained and could re-enable.
- Demand = the eligible pending jobs (held `hqw` and error `Eqw` jobs cannot start, so they never
  launch nodes) and their array tasks, slot- and GPU-aware; a job no cluster within `max_nodes`
  could ever run is reported as unschedulable instead of growing the cluster forever.
- Removal never touches the master, a host running anything, or the last `min_nodes`.

StarCluster's known weaknesses, and where they are fixed: mixed slot counts or a master that is
not an exec host (capacity is summed per host; `Host.is_master`); `qw_slots // slots_per_host`
(shortfalls round up, `nodes_for`); waits wrapping at 24 h (plain float seconds); `hqw`/`Eqw`
jobs (parsed, reported, never launch nodes); removal without `qmod -d` (every `remove` is also a
`drain`, the executor confirms the host is still idle); the billing-hour rule (billing is a
setting); blocking adds (booting nodes count as capacity, the caller does not wait for them);
many calls per iteration (one parse of one SSH round trip; `Decision.quiet_until` says when
polling again is pointless). SGE spreading jobs by load so no node idles is SGE configuration
(fill-up by sequence number), which the simulator models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from sclust.scheduler import DRAINING, UP, ClusterStats, Host, PendingJob, summarize_hosts

SECOND, HOUR = "second", "hour"


@dataclass(frozen=True)
class Settings:
    """What every policy is told about the cluster it scales."""

    min_nodes: int = 0
    max_nodes: int = 16
    node_slots: int = 8  # slots of a node we launch
    node_gpus: int = 0
    boot_time: float = 120.0  # expected launch → exec host, seconds (billed: EC2 bills `running`)
    billing: str = SECOND  # "second" (60 s minimum) or "hour"
    interval: float = 30.0  # seconds between two decisions

    def __post_init__(self) -> None:
        if self.billing not in (SECOND, HOUR):
            raise ValueError(f"billing must be {SECOND!r} or {HOUR!r}, not {self.billing!r}")
        if not 0 <= self.min_nodes <= self.max_nodes:
            raise ValueError("need 0 <= min_nodes <= max_nodes")
        if self.node_slots < 1:
            raise ValueError("node_slots must be at least 1")


@dataclass(frozen=True)
class Memory:
    """What a policy carries from one decision to the next (returned in every Decision)."""

    last_change: float | None = None  # time of the last launch or removal
    notes: tuple[tuple[str, float], ...] = ()  # policy-specific numbers


@dataclass(frozen=True)
class Decision:
    """What to do now. The executor applies, in this order: enable, launch, drain, remove.

    Removal is drain → confirm still idle → remove from SGE → terminate: every host in `remove`
    is also in `drain`, and the executor skips (and re-enables) any that picked up a job meanwhile.
    Hosts only in `drain` are busy ones to retire once their jobs end (e.g. above a lowered max).
    """

    launch: int = 0
    enable: tuple[str, ...] = ()
    drain: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    reason: str = ""
    unschedulable: tuple[str, ...] = ()
    memory: Memory = field(default_factory=Memory)
    # Unless the stats change (a job arrives or ends, a node joins), deciding again before this
    # time gives nothing new: the live loop may poll less, the simulator skips decisions.
    quiet_until: float | None = None

    @property
    def changes(self) -> bool:
        return bool(self.launch or self.enable or self.drain or self.remove)


class Policy(Protocol):
    """A scaling rule. Implementations are frozen dataclasses of their parameters."""

    @property
    def name(self) -> str: ...

    def decide(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        """Decisions for this observation; must not mutate anything."""
        ...


# -- shared arithmetic ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capacity:
    """One pass over the hosts: what is there, free, drained, idle, and allowed."""

    workers: int  # non-master hosts not down, booting excluded
    free_slots: int  # on enabled hosts + booting nodes
    free_gpus: int
    drained_slots: int  # free on hosts we drained (re-enabling them costs nothing)
    drained_gpus: int
    max_slots: int  # the cluster at `max_nodes`
    max_gpus: int
    used_slots: int  # held by running jobs
    used_gpus: int
    room: int  # nodes `max_nodes` still allows (booting ones count)
    excess: int  # nodes above `max_nodes` (the user lowered it)
    idle: tuple[Host, ...]  # idle workers, enabled or drained, longest idle first
    widest_host: int = 0  # slots of the widest host we have or could launch


def capacity(stats: ClusterStats, settings: Settings) -> Capacity:
    """Summarize the hosts once per decision (a policy runs every few seconds, a simulation
    runs it hundreds of thousands of times: it hands over its own up-to-date summary)."""
    hosts = stats.summary if stats.summary is not None else summarize_hosts(stats.hosts)
    slots, gpus = hosts.slots, hosts.gpus
    free_slots, free_gpus = hosts.free_slots, hosts.free_gpus
    for node in stats.booting:
        slots += node.slots
        gpus += node.gpus
        free_slots += node.slots
        free_gpus += node.gpus
    workers = hosts.workers
    room = max(0, settings.max_nodes - workers - len(stats.booting))
    return Capacity(
        workers=workers,
        free_slots=free_slots,
        free_gpus=free_gpus,
        drained_slots=hosts.drained_slots,
        drained_gpus=hosts.drained_gpus,
        max_slots=slots + room * settings.node_slots,
        max_gpus=gpus + room * settings.node_gpus,
        used_slots=hosts.used_slots,
        used_gpus=hosts.used_gpus,
        room=room,
        excess=max(0, workers + len(stats.booting) - settings.max_nodes),
        idle=hosts.idle,
        widest_host=max(settings.node_slots, hosts.widest),
    )


MAX_BLOCKED_SCAN = 2000


@dataclass(frozen=True, slots=True)
class Demand:
    """What the eligible pending jobs want (`slots` is a lower bound once past `enough`)."""

    slots: int = 0
    gpus: int = 0
    unschedulable: tuple[str, ...] = ()
    blocked: int = 0  # jobs that cannot start before a running job ends, whatever we launch
    blocked_slots: int = 0


def demand(stats: ClusterStats, settings: Settings, cap: Capacity) -> Demand:
    """Slots/GPUs of the eligible pending jobs and array tasks, in scheduler order.

    Aggregate slots: SGE's fill-up PEs spread a parallel job over hosts, a serial job needs one
    slot anywhere. Held (`hqw`) and error (`Eqw`) jobs cannot start, so they never count; a job
    wider than the cluster at `max_nodes` is reported instead of growing it forever. A job wider
    than what `max_nodes` leaves beside the running jobs is *blocked*: nodes launched or kept for
    it would idle until those jobs end (hours, maybe), and SGE runs smaller jobs past it anyway,
    so it counts once it can start (as Slurm powers nodes up only for jobs it can allocate).
    Iteration stops once every allowed node would be wanted: a 100,000-job queue costs as a
    short one.
    """
    enough_slots = cap.free_slots + cap.drained_slots + cap.room * settings.node_slots
    enough_gpus = cap.free_gpus + cap.drained_gpus + cap.room * settings.node_gpus
    idle_slots = cap.free_slots + cap.drained_slots  # blocked jobs can reserve no more than this
    slots = gpus = blocked = blocked_slots = 0
    unschedulable: list[str] = []
    startable_slots = cap.max_slots - cap.used_slots
    startable_gpus = cap.max_gpus - cap.used_gpus
    # A $pe_slots job needs all its slots on one host: the widest we have or could launch.
    widest_host = cap.widest_host or settings.node_slots
    for job in stats.pending:
        if not job.eligible:
            continue
        if (job.slots > cap.max_slots or job.gpus > cap.max_gpus
                or (job.single_host and job.slots > widest_host)):
            unschedulable.append(job.job_id)
            continue
        if job.slots > startable_slots or job.gpus > startable_gpus:
            blocked += 1
            blocked_slots += job.slots * job.tasks
            if blocked >= MAX_BLOCKED_SCAN:
                break  # a queue of wide jobs: enough is known, stay cheap
        else:
            slots += job.slots * job.tasks
            gpus += job.gpus * job.tasks
        if slots >= enough_slots and gpus >= enough_gpus and blocked_slots >= idle_slots:
            break
    return Demand(slots, gpus, tuple(unschedulable), blocked, blocked_slots)


def nodes_for(slots: int, gpus: int, settings: Settings) -> int:
    """New nodes of the launch template covering a shortfall (ceil, unlike StarCluster's //)."""
    nodes = math.ceil(max(0, slots) / settings.node_slots)
    if gpus > 0 and settings.node_gpus:
        nodes = max(nodes, math.ceil(gpus / settings.node_gpus))
    return nodes


def grow(
    stats: ClusterStats, settings: Settings, memory: Memory, name: str, cap: Capacity,
    wanted: Demand,
) -> Decision | None:
    """Re-enable drained hosts, then launch, for what the backlog (or `min_nodes`) needs."""
    short_slots = wanted.slots - cap.free_slots
    short_gpus = wanted.gpus - cap.free_gpus
    enable: list[str] = []
    if (short_slots > 0 or short_gpus > 0) and (cap.drained_slots or cap.drained_gpus):
        # Drained hosts are paid for already: take them back before launching; busy ones first.
        drained = sorted(
            (h for h in stats.hosts if h.state == DRAINING and not h.is_master),
            key=lambda h: -h.used_slots,
        )
        for host in drained:
            if short_slots <= 0 and short_gpus <= 0:
                break
            enable.append(host.name)
            short_slots -= max(0, host.slots - host.used_slots)
            short_gpus -= max(0, host.gpus - host.used_gpus)
    below_min = max(0, settings.min_nodes - cap.workers - len(stats.booting))
    launch = min(cap.room, max(nodes_for(short_slots, short_gpus, settings), below_min))
    if not (launch or enable):
        return None
    why = f"{max(0, short_slots)} slots short" if launch > below_min else "min nodes"
    return Decision(
        launch=launch,
        enable=tuple(enable),
        reason=f"{name}: launch {launch}, enable {len(enable)} ({why})",
        unschedulable=wanted.unschedulable,
        memory=replace(memory, last_change=stats.now),
    )


def removable(
    stats: ClusterStats, settings: Settings, cap: Capacity, wanted: Demand, idle_for: float,
    reserve: int = 0,
) -> list[Host]:
    """Idle workers idle ≥ `idle_for`, longest idle first, above `min_nodes`, whose slots neither
    the startable backlog nor `reserve` more slots need."""
    spare = cap.free_slots + cap.drained_slots - wanted.slots - reserve
    budget = cap.workers - settings.min_nodes
    chosen: list[Host] = []
    for host in cap.idle:
        if len(chosen) >= budget or stats.now - (host.idle_since or stats.now) < idle_for:
            break
        if host.slots <= spare:
            chosen.append(host)
            spare -= host.slots
    return chosen


def shrink(
    stats: ClusterStats, memory: Memory, cap: Capacity, hosts: list[Host], why: str
) -> Decision:
    """Remove idle hosts (drain → confirm → remove); above a lowered `max_nodes`, also remove
    idle ones regardless of time and drain busy ones, least loaded first, to retire later."""
    chosen = {h.name for h in hosts}
    names = [h.name for h in hosts]
    busy: list[str] = []
    if cap.excess > len(names):
        enabled = sorted(
            (h for h in stats.hosts if not h.is_master and h.state == UP and h.name not in chosen),
            key=lambda h: (h.used_slots, -(h.launched_at or 0.0)),
        )
        for host in enabled[: cap.excess - len(names)]:
            (busy if host.busy else names).append(host.name)
    if not (names or busy):
        return Decision(memory=memory)
    return Decision(
        drain=tuple(names + busy),
        remove=tuple(names),
        reason=f"{why}: remove {', '.join(names) or '-'}; drain {', '.join(busy) or '-'}",
        memory=replace(memory, last_change=stats.now) if names else memory,
    )


def next_timeout(cap: Capacity, idle_for: float) -> float:
    """When the first idle host reaches `idle_for` (∞ with none idle)."""
    return min(((h.idle_since or 0.0) + idle_for for h in cap.idle), default=math.inf)


def billed_hour_ends_soon(host: Host, now: float, margin: float) -> bool:
    """Under hourly billing: is the host within `margin` s of the end of a paid hour?"""
    if host.launched_at is None:
        return True
    into_hour = (now - host.launched_at) % 3600.0
    return into_hour >= 3600.0 - margin


MAX_YOUNG_SCAN = 2000


def _aged(
    pending: Iterable[PendingJob], born_by: float, young: list[float]
) -> Iterator[PendingJob]:
    """The pending jobs submitted by `born_by`, in scheduler order; the first younger one's
    submit time goes into YOUNG. A long run of young jobs ends the scan (the queue is mostly in
    submit order: what follows is younger still)."""
    run = 0
    for job in pending:
        if job.submitted <= born_by:
            run = 0
            yield job
            continue
        if not young or job.submitted < young[0]:
            young[:] = [job.submitted]
        run += 1
        if run >= MAX_YOUNG_SCAN:
            return


# -- the sclust policy ------------------------------------------------------------------------


@dataclass(frozen=True)
class SclustPolicy:
    """Ours: grow at once to what the backlog needs (plus a hedge against slow boots); shrink by
    idle time priced by the billing rule.

    Per-second billing: an idle node costs its idle seconds; removing it costs a boot (billed) the
    next time demand comes back, so keeping it `keep_boots` boot-times is near the ski-rental
    break-even (one boot) while covering short gaps; `idle_timeout` overrides. Idle capacity that
    a blocked wide job will want once running jobs end stays up to `blocked_timeout`. Hourly
    billing: an hour started is paid, so an idle node stays until just before its hour ends.
    """

    name: str = "sclust"
    idle_timeout: float | None = None  # None: keep_boots × boot_time, at least 60 s
    keep_boots: float = 1.5
    hedge: float = 0.5  # extra fraction launched for a shortfall of 2+ nodes
    blocked_timeout: float = 600.0  # idle time after which capacity kept for blocked jobs goes
    # The cost-versus-wait dial: the wait (s) a job may have before it gets a node of its own.
    # None: grow at once (and hedge). With a target, a job counts as demand only once it would
    # otherwise wait past it (its age + a boot + a decision), the hedge is spent only on jobs
    # already late, and idle nodes go sooner (a relaunch's boot fits in the accepted wait).
    wait_target: float | None = None
    # Drain enabled hosts using at most this share of their slots when the others can take
    # the arrivals (`consolidate`); 0: never.
    consolidate_share: float = 0.25
    warm_nodes: int = 0  # 0: from the wait target (`warm_pool`), none without one
    warm_timeout: float = 600.0
    lead_boots: float = 2.0  # a launch serves a job this many boot times after it is decided
    # (one boot, and the launch under way it may have to wait for: one of a kind at a time)

    def timeout(self, settings: Settings) -> float:
        """Idle seconds before a host (outside the warm pool) is removed."""
        if self.idle_timeout is not None:
            return self.idle_timeout
        boot = settings.boot_time
        keep = self.keep_boots * boot
        if self.wait_target is not None:
            # Removing a node that is wanted again costs its relaunch's boot in some job's wait:
            # the shorter the accepted wait, the longer idle nodes stay (× boot / target), down
            # to the billing minimum once the target absorbs a boot 1.5 times over.
            keep *= boot / max(self.wait_target, boot / 10, 1.0)
        return max(60.0, keep)

    def warm_pool(self, settings: Settings) -> tuple[int, float]:
        """(nodes, idle seconds): the most recently idle hosts stay this long. Most demand that
        comes back soon fits on a few nodes: keeping those few warm spares the boot in its wait
        at a fraction of what a long timeout on every node costs. Set, or from the target:
        the tighter it is, the more warm nodes (2 boots / target, at most 4) and the longer
        (4 boots² / target, at least 600 s); none once the target absorbs two boots."""
        if self.warm_nodes or self.wait_target is None:
            return self.warm_nodes, self.warm_timeout
        boot, target = settings.boot_time, max(self.wait_target, 1.0)
        if target >= 2 * boot:
            return 0, 0.0
        return min(4, math.ceil(2 * boot / target)), max(600.0, 4 * boot * boot / target)

    def consolidate(
        self, stats: ClusterStats, settings: Settings, cap: Capacity, wanted: Demand
    ) -> tuple[str, ...]:
        """Lightly loaded hosts to drain, so they empty and go instead of hosting the next jobs
        (SGE cannot migrate a job; a drained host keeps running what it has). Only under
        per-second billing, with nothing waiting, and while the other enabled hosts keep a
        node's worth of free slots for arrivals; a drained host is re-enabled before any
        launch (`grow`), so this costs nothing when demand comes back."""
        if (not self.consolidate_share or settings.billing == HOUR or wanted.slots
                or wanted.blocked):
            return ()
        spare = cap.free_slots - settings.node_slots
        if spare <= 0 and self.consolidate_share < 1:
            return ()  # a light host has a free slot at least: none would fit (no scan)
        light = sorted(
            (h for h in stats.hosts if h.state == UP and not h.is_master
             and 0 < h.used_slots <= self.consolidate_share * h.slots and not h.used_gpus),
            key=lambda h: (h.used_slots, -(h.launched_at or 0.0)),
        )
        chosen: list[str] = []
        for host in light:
            free = host.slots - host.used_slots
            if free > spare:
                break
            chosen.append(host.name)
            spare -= free
        return tuple(chosen)

    def defer_until(self, settings: Settings) -> float:
        """Age at which a waiting job counts as demand (0 without a target)."""
        if not self.wait_target:
            return 0.0
        lead = self.lead_boots * settings.boot_time + settings.interval
        return max(0.0, self.wait_target - lead)

    def decide(self, stats: ClusterStats, settings: Settings, memory: Memory) -> Decision:
        cap = capacity(stats, settings)
        defer = self.defer_until(settings)
        young: list[float] = []  # submit time of the first job too young to count
        if defer > 0:
            stats = replace(stats, pending=_aged(stats.pending, stats.now - defer, young))
        wanted = demand(stats, settings, cap)
        grown = grow(stats, settings, memory, self.name, cap, wanted)
        late = (self.wait_target is None or (  # hedge only for jobs already past the target
            stats.oldest_submitted is not None
            and stats.now - stats.oldest_submitted > self.wait_target))
        if grown is not None:
            if (grown.launch >= 2 and self.hedge > 0 and settings.billing == SECOND
                    and late):
                # A job needing k new nodes waits for the slowest of k boots; a few spares cut
                # that tail (the first k up take the work) and cost one boot plus a short idle
                # (not under hourly billing, where each spare would cost a whole hour).
                extra = math.ceil(self.hedge * grown.launch)
                grown = replace(grown, launch=min(cap.room, grown.launch + extra))
            return grown
        packed = self.consolidate(stats, settings, cap, wanted)
        if not cap.idle and not cap.excess:
            if packed:
                return Decision(drain=packed, reason=f"{self.name}: consolidate: drain "
                                f"{', '.join(packed)} (lightly loaded; removed once idle)",
                                memory=memory, unschedulable=wanted.unschedulable)
            return Decision(memory=memory, unschedulable=wanted.unschedulable,
                            quiet_until=young[0] + defer if young else math.inf)
        if settings.billing == HOUR:
            margin = settings.interval + 60.0  # the next decision would be in the next paid hour
            hosts = [
                h
                for h in removable(stats, settings, cap, wanted, idle_for=0.0)
                if billed_hour_ends_soon(h, stats.now, margin)
            ]
        else:
            # Idle capacity a blocked wide job will want once running jobs end is kept longer:
            # relaunching it then would add a boot to a wait that is already long.
            hosts = removable(stats, settings, cap, wanted, idle_for=self.timeout(settings),
                              reserve=wanted.blocked_slots)
            warm_nodes, warm_timeout = self.warm_pool(settings)
            if warm_nodes and hosts:
                # The most recently idle hosts are the warm pool, kept `warm_timeout`.
                warm = {h.name for h in cap.idle[-warm_nodes:]}
                hosts = [h for h in hosts if h.name not in warm
                         or stats.now - (h.idle_since or stats.now) >= warm_timeout]
            if not hosts and wanted.blocked_slots:
                hosts = removable(stats, settings, cap, wanted, idle_for=self.blocked_timeout)
            if self.consolidate_share:
                # Hosts drained to consolidate go as soon as their last job ends.
                chosen = {h.name for h in hosts}
                hosts += [h for h in removable(stats, settings, cap, wanted, idle_for=0.0)
                          if h.state == DRAINING and h.name not in chosen]
        decision = shrink(stats, memory, cap, hosts, f"{self.name}: idle")
        if packed:
            gone = set(decision.drain)
            decision = replace(
                decision, drain=decision.drain + tuple(h for h in packed if h not in gone),
                reason=(decision.reason + "; " if decision.reason else "")
                + f"consolidate: drain {', '.join(packed)}")
        if not decision.changes and settings.billing != HOUR:
            soonest = next_timeout(cap, self.timeout(settings))
            if wanted.blocked_slots:
                soonest = min(soonest, next_timeout(cap, self.blocked_timeout))
            decision = replace(decision, quiet_until=soonest)
        if young and decision.quiet_until is not None:
            # A deferred job comes of age then: decide again by that time.
            decision = replace(decision, quiet_until=min(decision.quiet_until, young[0] + defer))
        return replace(decision, unschedulable=wanted.unschedulable)
