"""The scheduler seam: what operations ask of a batch scheduler, and the neutral model of
what it reports.

Operations (node setup, removal, the load balancer, bench) call a `Scheduler` and never a
scheduler's own module: each method returns a `ScriptRun` (steps shipped as `.sh` package data,
values as inputs) for one node, or parses what such a run printed. Grid Engine (`sclust.sge`)
is the implementation today; a template's `SCHEDULER = sge` (the default) selects it through
`SCHEDULERS`. A second scheduler is one folder implementing `Scheduler` plus one line there.

The model (jobs, hosts, slots, GPUs, states) is plain, immutable facts, no I/O. Two producers
fill it: a scheduler's `read_stats` on a live cluster, and `sclust.elastic.simulator` from a
replayed trace. The policy (`sclust.elastic.policy`) reads it and nothing else, so the live loop
and the simulator decide with the very same code. Times are seconds on one clock (epoch
seconds live, trace seconds in the simulator).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sclust.errors import SclustError
from sclust.scripts import ScriptRun

#: Scheduler name (the template's SCHEDULER) -> "module:class" implementing `Scheduler`.
#: The registration line of a new scheduler goes here; its module loads only when chosen.
SCHEDULERS: dict[str, str] = {
    "sge": "sclust.sge.scheduler:GridEngine",
}
DEFAULT_SCHEDULER = "sge"

#: Host states the policy distinguishes. `draining` = disabled (no new jobs land there).
UP, DRAINING, DOWN = "up", "draining", "down"


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A waiting job (or the waiting tasks of an array job) in scheduler order."""

    job_id: str
    slots: int  # per task
    submitted: float
    tasks: int = 1  # pending tasks of an array job, each needing `slots`
    gpus: int = 0  # per task
    state: str = "qw"  # SGE state letters: qw, hqw, Eqw, hRwq…
    single_host: bool = False  # True when all slots must be on one host ($pe_slots)

    @property
    def eligible(self) -> bool:
        """Can the scheduler start it once capacity exists? Held and error jobs cannot."""
        return "h" not in self.state and "E" not in self.state


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A running job or array task; `host` is its master host (PE slave hosts count it in
    `Host.used_slots`)."""

    job_id: str
    host: str
    slots: int
    started: float
    task: int | None = None
    gpus: int = 0


@dataclass(frozen=True, slots=True)
class Host:
    """An execution host as the scheduler reports it (the master too, if it is one)."""

    name: str
    slots: int  # 0 for a host without a queue instance
    used_slots: int = 0
    gpus: int = 0
    used_gpus: int = 0
    state: str = UP
    is_master: bool = False
    launched_at: float | None = None  # from EC2; needed for hourly billing
    idle_since: float | None = None  # None while it runs a job; see `track_idle`

    @property
    def busy(self) -> bool:
        return self.used_slots > 0 or self.used_gpus > 0

    @property
    def free_slots(self) -> int:
        return max(0, self.slots - self.used_slots) if self.state == UP else 0

    @property
    def free_gpus(self) -> int:
        return max(0, self.gpus - self.used_gpus) if self.state == UP else 0


@dataclass(frozen=True, slots=True)
class BootingNode:
    """A node launched but not yet an SGE exec host: capacity on its way."""

    name: str
    launched_at: float
    slots: int
    gpus: int = 0


@dataclass(frozen=True, slots=True)
class HostSummary:
    """The sums over a cluster's hosts a policy needs at every decision (hosts down left out):
    `summarize_hosts` computes them; a producer that keeps them up to date as hosts change (the
    simulator, whose decisions see hundreds of hosts hundreds of thousands of times) passes
    them in `ClusterStats.summary`, equal to what `summarize_hosts` would give."""

    workers: int = 0  # hosts but the master
    slots: int = 0
    gpus: int = 0
    used_slots: int = 0
    used_gpus: int = 0
    free_slots: int = 0  # on enabled hosts
    free_gpus: int = 0
    drained_slots: int = 0  # free on drained hosts
    drained_gpus: int = 0
    widest: int = 0  # slots of the widest host
    idle: tuple[Host, ...] = ()  # idle workers, longest idle first (ties: in host order)


def host_terms(host: Host) -> tuple[int, int, int, int, int, int, int, int, int]:
    """HOST's part of a `HostSummary`'s sums: (worker, slots, gpus, used slots, used gpus,
    free slots, free gpus, drained slots, drained gpus); all 0 for a host that is down."""
    state = host.state
    if state == DOWN:
        return (0, 0, 0, 0, 0, 0, 0, 0, 0)
    have, used, have_g, used_g = host.slots, host.used_slots, host.gpus, host.used_gpus
    free = have - used if used < have else 0
    free_g = have_g - used_g if used_g < have_g else 0
    up, drained = state == UP, state == DRAINING
    return (0 if host.is_master else 1, have, have_g, have - free, have_g - free_g,
            free if up else 0, free_g if up else 0, free if drained else 0,
            free_g if drained else 0)


def is_idle_worker(host: Host) -> bool:
    """An idle worker, as `HostSummary.idle` counts them."""
    return (host.state != DOWN and not host.is_master and host.idle_since is not None
            and not (host.used_slots > 0 or host.used_gpus > 0))


def summarize_hosts(hosts: Iterable[Host]) -> HostSummary:
    """The `HostSummary` of HOSTS, from scratch."""
    workers = slots = gpus = used_slots = used_gpus = 0
    free_slots = free_gpus = drained_slots = drained_gpus = widest = 0
    idle: list[Host] = []
    for host in hosts:
        # Plain comparisons, no calls: this loop runs for every host at every live decision.
        state = host.state
        if state == DOWN:
            continue
        have, used, have_g, used_g = host.slots, host.used_slots, host.gpus, host.used_gpus
        if have > widest:
            widest = have
        slots += have
        gpus += have_g
        free = have - used if used < have else 0
        free_g = have_g - used_g if used_g < have_g else 0
        used_slots += have - free
        used_gpus += have_g - free_g
        if state == UP:
            free_slots += free
            free_gpus += free_g
        elif state == DRAINING:
            drained_slots += free
            drained_gpus += free_g
        if not host.is_master:
            workers += 1
            if host.idle_since is not None and not (used > 0 or used_g > 0):
                idle.append(host)
    idle.sort(key=lambda h: h.idle_since or 0.0)
    return HostSummary(workers, slots, gpus, used_slots, used_gpus, free_slots, free_gpus,
                       drained_slots, drained_gpus, widest, tuple(idle))


@dataclass(frozen=True)
class ClusterStats:
    """One observation of the cluster.

    `pending` is iterated lazily in scheduler order and may be a live view over a long queue (the
    simulator's holds 100,000+ jobs): policies must stop iterating once they know enough.
    """

    now: float
    hosts: tuple[Host, ...] = ()
    booting: tuple[BootingNode, ...] = ()
    pending: Iterable[PendingJob] = ()
    pending_count: int = 0  # pending jobs (not tasks), every state
    oldest_submitted: float | None = None  # submit time of the oldest `qw` job
    running: tuple[RunningJob, ...] = ()
    extra: Mapping[str, object] = field(default_factory=dict)
    summary: HostSummary | None = None  # `summarize_hosts(hosts)`, when the producer keeps it

    @classmethod
    def of(
        cls,
        now: float,
        hosts: Iterable[Host] = (),
        pending: Iterable[PendingJob] = (),
        booting: Iterable[BootingNode] = (),
        running: Iterable[RunningJob] = (),
    ) -> ClusterStats:
        """Build from complete lists (live loop, tests): the summaries are computed here."""
        pending = tuple(pending)
        waiting = [job.submitted for job in pending if job.state == "qw"]
        return cls(
            now=now,
            hosts=tuple(hosts),
            booting=tuple(booting),
            pending=pending,
            pending_count=len(pending),
            oldest_submitted=min(waiting) if waiting else None,
            running=tuple(running),
        )

    @property
    def workers(self) -> tuple[Host, ...]:
        """Hosts the policy may add or remove: every host but the master."""
        return tuple(host for host in self.hosts if not host.is_master)


def track_idle(
    previous: Mapping[str, float], hosts: Iterable[Host], now: float
) -> dict[str, float]:
    """Idle-since times for the live loop, which sees snapshots, not events.

    A host idle now keeps the time it was first seen idle; a busy host drops out. The loop stores
    the result and passes it back next iteration (SGE itself does not report idle durations).
    """
    return {
        host.name: previous.get(host.name, now) for host in hosts if not host.busy
    }


# ---- the interface --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecHost:
    """An execution host as setup found it: its name, the slots it offers, its GPUs."""

    name: str
    slots: int
    gpus: int = 0


class Scheduler(Protocol):
    """What operations ask of a batch scheduler. Methods named `*_setup`, `drain`, `evict`,
    `disable`, `enable` and `read_stats` return the steps (and their inputs) of one node's
    phase; callers may join several into one `ScriptRun` (one SSH round trip per node)."""

    name: str

    def shared_paths(self) -> list[str]:
        """Paths on the master every node mounts over NFS before `exec_setup` runs."""
        ...

    def master_setup(self, master: str, hosts: list[str], user: str) -> ScriptRun:
        """On the master: the scheduler's server runs; HOSTS may submit and administer."""
        ...

    def exec_setup(self, host: str) -> ScriptRun:
        """On an execution host: its daemon runs; prints what `exec_host` reads."""
        ...

    def exec_host(self, host: str, output: str) -> ExecHost | None:
        """HOST's slots (CPUs) and GPUs from what `exec_setup` printed (None: not reported)."""
        ...

    def queue_setup(self, hosts: Sequence[ExecHost], adding: Sequence[str] = (),
                    removing: Sequence[str] = ()) -> ScriptRun:
        """On the master: the queue holds exactly HOSTS; ADDING (and hosts new to the queue)
        take jobs, REMOVING hosts are forgotten; every other host keeps its state
        (a host drained by the load balancer stays drained)."""
        ...

    def drain(self, hosts: list[str]) -> ScriptRun:
        """On the master: no new job lands on HOSTS; prints what `running_jobs` reads."""
        ...

    def running_jobs(self, hosts: list[str], output: str) -> dict[str, int]:
        """Jobs still running on each of HOSTS, from `drain`'s output; raises SclustError
        when a count is missing (never guess that a host is idle)."""
        ...

    def evict(self, hosts: list[str]) -> ScriptRun:
        """On the master: HOSTS' jobs go back to the queue (or, if stuck, are deleted)."""
        ...

    def requeue(self, hosts: list[str]) -> ScriptRun:
        """On the master: HOSTS take no new job and their jobs go back to the queue, to run
        elsewhere (a spot interruption, a node that stopped answering); none is deleted."""
        ...

    def disable(self, hosts: list[str], settle: float = 0.0) -> ScriptRun:
        """On the master: HOSTS take no new job; with SETTLE, wait that long and read stats."""
        ...

    def enable(self, hosts: list[str]) -> ScriptRun:
        """On the master: HOSTS take jobs again."""
        ...

    def read_stats(self) -> ScriptRun:
        """On the master: the clock and the scheduler's state, for `stats`."""
        ...

    def stats(self, output: str, *, master: str | None = None,
              idle_since: Mapping[str, float] | None = None,
              launched: Mapping[str, float] | None = None) -> ClusterStats:
        """`ClusterStats` from what `read_stats` (or `disable` with a settle) printed."""
        ...

    def enable_hint(self, hosts: list[str]) -> str:
        """The command a user runs on the master to enable HOSTS by hand."""
        ...


def scheduler_for(name: str | None) -> Scheduler:
    """The scheduler called NAME (None: the default); names come from tags too, so an
    unknown one is the user's error, never a crash."""
    name = name or DEFAULT_SCHEDULER
    target = SCHEDULERS.get(name)
    if target is None:
        raise SclustError(f"unknown scheduler {name!r} (known: {', '.join(sorted(SCHEDULERS))})")
    module, _, attribute = target.partition(":")
    implementation: Scheduler = getattr(importlib.import_module(module), attribute)()
    return implementation
