"""Lower bounds on billed node-hours for a trace: what no policy can beat.

- LB0: perfect packing, zero boot time: Σ slots·runtime / slots-per-node.
- OPT: clairvoyant and zero-wait. Every job starts at submission; demand in nodes is
  D(t) = ceil(busy slots / slots-per-node) (free migration, so this is a bound, not a plan). Stack
  D(t) into levels: level k is needed while D(t) ≥ k. A node on that level is launched one boot
  before it is needed (boot is billed), kept across an idle gap only when that is cheaper than a
  new boot, and billed per second with a 60 s minimum, or per started hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sclust.elastic.policy import HOUR
from sclust.elastic.traces import TraceJob


def lb0(jobs: Sequence[TraceJob], node_slots: int) -> float:
    """Node-hours of perfect packing with free, instant nodes."""
    return sum(job.slots * job.runtime for job in jobs) / node_slots / 3600.0


def demand_levels(jobs: Sequence[TraceJob], node_slots: int) -> list[list[tuple[float, float]]]:
    """Busy intervals of each level of the zero-wait node demand D(t)."""
    changes: dict[float, int] = {}
    for job in jobs:
        changes[job.submit] = changes.get(job.submit, 0) + job.slots
        end = job.submit + job.runtime
        changes[end] = changes.get(end, 0) - job.slots
    levels: list[list[tuple[float, float]]] = []
    opened: list[float] = []  # start time of each level currently busy
    busy = 0
    for moment in sorted(changes):
        busy += changes[moment]
        nodes = math.ceil(busy / node_slots)
        while len(opened) < nodes:
            opened.append(moment)
        while len(opened) > nodes:
            level = len(opened) - 1
            start = opened.pop()
            while len(levels) <= level:
                levels.append([])
            if moment > start:
                levels[level].append((start, moment))
    return levels


def opt(jobs: Sequence[TraceJob], node_slots: int, boot: float, billing: str = "second") -> float:
    """Node-hours of the clairvoyant zero-wait schedule (see the module docstring)."""
    total = 0.0
    for intervals in demand_levels(jobs, node_slots):
        if not intervals:
            continue
        life_start = intervals[0][0] - boot  # launched one boot ahead
        life_end = intervals[0][1]
        for start, end in intervals[1:]:
            gap = start - life_end
            paid_until = life_start + 3600.0 * math.ceil((life_end - life_start) / 3600.0)
            keep = gap <= boot or (billing == HOUR and start <= paid_until + boot)
            if keep:
                life_end = end
                continue
            total += _billed(life_end - life_start, billing)
            life_start, life_end = start - boot, end
        total += _billed(life_end - life_start, billing)
    return total / 3600.0


def _billed(seconds: float, billing: str) -> float:
    if billing == HOUR:
        return 3600.0 * max(1, math.ceil(seconds / 3600.0))
    return max(60.0, seconds)
