"""A synthetic trace with the published shape of RICC (Parallel Workloads Archive,
RICC-2010-2): 447,794 jobs in 5 months (May–Sep 2010) on 1024 nodes of 8 cores.

The real log is not on this machine (no internet but PyPI/Debian), so `bench_simulate_speed`
uses this stand-in for the speed goal of issue 15: same job count, same span, same machine.
The shape below is a plain model, not a fit: Poisson arrivals with a daily cycle, a third of
them in bursts of same-size jobs (bulk submissions, as RICC's users made), sizes 1–1024 slots
weighted towards serial and one-node jobs, lognormal run times (median 20 min, ≤ 72 h).
Deterministic for a seed; written as SWF (fields 1–5 and 8, the rest -1).

Run: python bench/synthetic_ricc.py OUT.swf [--jobs N] [--seed S]
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

JOBS = 447_794
SPAN = 153 * 86400.0  # May–September
SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
WEIGHTS = (46, 3, 4, 22, 9, 6, 4, 3, 1.5, 1, 0.5)
MAX_RUNTIME = 72 * 3600.0


def generate(jobs: int = JOBS, seed: int = 1) -> list[tuple[float, float, int]]:
    """(submit, runtime, slots) of `jobs` jobs, sorted by submit time."""
    rng = random.Random(seed)
    mean_gap = SPAN / jobs * (0.9 + 0.1 * 31)  # per arrival: bursts average 31 jobs
    out: list[tuple[float, float, int]] = []
    now = 0.0
    while len(out) < jobs:
        # A daily cycle: twice the mean rate at 14:00, a fifth of it at 02:00.
        hour = (now % 86400.0) / 3600.0
        rate = 1.1 + 0.9 * math.cos((hour - 14.0) / 24.0 * 2 * math.pi)
        now += rng.expovariate(rate / mean_gap)
        slots = rng.choices(SIZES, WEIGHTS)[0]
        runtime = min(MAX_RUNTIME, max(1.0, round(1200.0 * math.exp(1.7 * rng.gauss(0, 1)))))
        burst = 1 if rng.random() < 0.9 else rng.randint(2, 60)
        for _ in range(min(burst, jobs - len(out))):
            out.append((now, runtime, slots))
            now += rng.uniform(0.0, 2.0)
    return out


def write_swf(path: Path, jobs: list[tuple[float, float, int]]) -> None:
    with path.open("w", encoding="utf-8") as stream:
        stream.write("; synthetic RICC-shaped trace (bench/synthetic_ricc.py)\n"
                     "; MaxNodes: 1024\n; MaxProcs: 8192\n")
        for number, (submit, runtime, slots) in enumerate(jobs, 1):
            stream.write(f"{number} {submit:.0f} -1 {runtime:.0f} {slots} -1 -1 {slots} "
                         "-1 -1 1 -1 -1 -1 -1 -1 -1 -1\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    jobs = generate(args.jobs, args.seed)
    write_swf(args.out, jobs)
    work = sum(r * s for _, r, s in jobs)
    span = jobs[-1][0] - jobs[0][0]
    print(f"{args.out}: {len(jobs)} jobs over {span / 86400:.0f} days, "
          f"offered load {work / (8192 * span):.2f} of 1024 nodes x 8 slots")


if __name__ == "__main__":
    main()
