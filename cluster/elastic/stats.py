"""What the elastic policy sees of a cluster: plain, immutable facts, no I/O.

Two producers fill these: `sge.stats` from `qstat -xml`/`qhost -q -xml` on a live cluster, and
`sclust.elastic.simulator` from a replayed trace. The policy (`sclust.elastic.policy`) reads
them and nothing else, so the live loop and the simulator decide with the very same code.
Times are seconds on one clock (epoch seconds live, trace seconds in the simulator).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Host states the policy distinguishes. `draining` = disabled by us (`qmod -d`): no new jobs.
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
