"""Load a trace once, compute its bound and reference, replay it under several policies.

Only LB0 is reported as a bound: every slot-second a job runs is billed on some node, whatever
`max_nodes`, boot delays and billing rule, so no replay bills less (a test checks it on the
shared traces). OPT, clairvoyant and zero-wait, ignores `max_nodes` and waiting and charges
exactly the median boot: a policy that lets jobs wait can beat it, so it is shown as a
*reference*, never as a bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sclust.elastic.bounds import lb0, opt
from sclust.elastic.policy import Policy
from sclust.elastic.report import summarize
from sclust.elastic.simulator import SimSettings, fit_to_cluster, simulate
from sclust.elastic.traces import TraceJob, load_trace


@dataclass
class Workload:
    """A trace ready to replay: jobs capped to the largest cluster, and its bounds."""

    path: str
    jobs: list[TraceJob]
    capped: int
    lb0: float
    opt: float  # the zero-wait clairvoyant reference: not a bound
    cut_share: float = 0.0  # share of the trace's work (slot-seconds) cut by capping

    @property
    def bounds(self) -> dict[str, float]:
        """What no policy can beat, for these settings."""
        return {"lb0": self.lb0}

    @property
    def references(self) -> dict[str, float]:
        """Shown for scale, labelled as such: a policy may come in below these."""
        return {"zero_wait_opt": self.opt}


def prepare(path: str, settings: SimSettings, limit: int | None = None) -> Workload:
    """Read `path` (first `limit` jobs if given) and compute LB0 and OPT for `settings`."""
    jobs = load_trace(path)
    if limit:
        jobs = jobs[:limit]
    policy = settings.policy
    work = sum(job.slots * job.runtime for job in jobs)
    jobs, capped = fit_to_cluster(jobs, policy)
    kept = sum(job.slots * job.runtime for job in jobs)
    return Workload(
        path=path,
        jobs=jobs,
        capped=capped,
        lb0=lb0(jobs, policy.node_slots),
        opt=opt(jobs, policy.node_slots, policy.boot_time, policy.billing),
        cut_share=1.0 - kept / work if work else 0.0,
    )


def evaluate(
    workload: Workload, policies: Sequence[Policy], settings: SimSettings
) -> list[dict[str, object]]:
    """One summary row per policy, same seed (same boot delays in launch order) for each."""
    return [
        summarize(simulate(workload.jobs, policy, settings), workload.lb0, workload.opt)
        for policy in policies
    ]
