"""What the load balancer runs on the master, as shell: read the stats in one round trip,
disable queue instances and re-read (the "confirm still idle" step), enable them again.

Each function returns one script; `read_stats_output` splits what the stats part printed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from sclust.sge.setup import ENV
from sclust.sge.stats import StatsError

QUEUE = "all.q"
_QSTAT, _QHOST = "@@sclust-qstat@@", "@@sclust-qhost@@"

#: The master's clock and zone, then the two XML documents: one SSH command per iteration.
#: qstat and qhost run side by side: each spends ~80 ms starting up and talking to the qmaster.
STATS_SCRIPT = ENV + f"""\
d=$(mktemp -d); date '+%s %z'
qstat -u '*' -xml -r >$d/qstat 2>&1 & qhost -q -xml >$d/qhost 2>&1; wait
echo {_QSTAT}; cat $d/qstat; echo {_QHOST}; cat $d/qhost; rm -rf $d
"""


@dataclass(frozen=True)
class RawStats:
    """One reading of the master: its epoch time, UTC offset (s) and SGE's XML."""

    now: float
    utc_offset: float
    qstat: str
    qhost: str


def read_stats_output(text: str) -> RawStats:
    """Split STATS_SCRIPT's output (it may follow other output, e.g. `qmod`'s)."""
    head, found, rest = text.rpartition(_QSTAT)
    qstat, found_qhost, qhost = rest.partition(_QHOST)
    clock = head.strip().splitlines()[-1].split() if head.strip() else []
    if not found or not found_qhost or len(clock) != 2:
        raise StatsError(f"unexpected stats output: {text.strip()[:200]!r}")
    try:
        now = float(clock[0])
        zone = clock[1]
        sign = -1 if zone.startswith("-") else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    except (ValueError, IndexError):
        raise StatsError(f"unexpected clock line from the master: {' '.join(clock)!r}") from None
    return RawStats(now, float(offset), qstat.strip(), qhost.strip())


def _instances(hosts: list[str]) -> str:
    return ",".join(f"{QUEUE}@{host}" for host in hosts)


def disable_script(hosts: list[str], settle: float = 0.0) -> str:
    """`qmod -d` HOSTS' queue instances (no new job lands there); with SETTLE, wait that long
    (a scheduler run already under way may still dispatch) and print fresh stats."""
    script = ENV + f"qmod -d {shlex.quote(_instances(hosts))} >/dev/null 2>&1 || true\n"
    if settle > 0:
        script += f"sleep {settle:g}\n" + STATS_SCRIPT
    return script


def enable_script(hosts: list[str]) -> str:
    """`qmod -e` HOSTS' queue instances: they take jobs again."""
    return ENV + f"qmod -e {shlex.quote(_instances(hosts))} >/dev/null 2>&1 || true\n"
