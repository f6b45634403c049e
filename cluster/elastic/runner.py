"""Load a trace once, compute its bounds, replay it under several policies."""

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
    opt: float

    @property
    def bounds(self) -> dict[str, float]:
        return {"lb0": self.lb0, "opt": self.opt}


def prepare(path: str, settings: SimSettings, limit: int | None = None) -> Workload:
    """Read `path` (first `limit` jobs if given) and compute LB0 and OPT for `settings`."""
    jobs = load_trace(path)
    if limit:
        jobs = jobs[:limit]
    policy = settings.policy
    jobs, capped = fit_to_cluster(jobs, policy)
    return Workload(
        path=path,
        jobs=jobs,
        capped=capped,
        lb0=lb0(jobs, policy.node_slots),
        opt=opt(jobs, policy.node_slots, policy.boot_time, policy.billing),
    )


def evaluate(
    workload: Workload, policies: Sequence[Policy], settings: SimSettings
) -> list[dict[str, object]]:
    """One summary row per policy, same seed (same boot delays in launch order) for each."""
    return [
        summarize(simulate(workload.jobs, policy, settings), workload.opt) for policy in policies
    ]
