"""Grid Engine as sclust's `Scheduler`: the steps in `sge/scripts/*.sh` with their inputs,
and the parsing of what they print. The only writer of queue state: node setup asks here, and
only hosts new to the queue (or named as being added) are enabled by a setup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sclust.errors import SclustError
from sclust.scheduler import ClusterStats, ExecHost
from sclust.scripts import ScriptFile, ScriptRun
from sclust.sge.stats import StatsError, cluster_stats

SGE_ROOT = "/var/lib/gridengine"
SGE_CELL = "default"
CELL_DIR = f"{SGE_ROOT}/{SGE_CELL}"
QUEUE = "all.q"
PARALLEL_ENVIRONMENTS = {"smp": "$pe_slots", "orte": "$fill_up", "mpi": "$fill_up"}
_QSTAT, _QHOST = "@@sclust-qstat@@", "@@sclust-qhost@@"


def step(name: str) -> ScriptFile:
    return ScriptFile("sclust.sge", f"scripts/{name}.sh")


def sge_run(name: str, **inputs: str | list[str] | int | bool | None) -> ScriptRun:
    """One SGE step after the common environment and helpers."""
    return ScriptRun().add(step("common")).add(step(name), **inputs)


class GridEngine:
    """Sun Grid Engine 8.1.9 (Debian's gridengine packages)."""

    name = "sge"

    def shared_paths(self) -> list[str]:
        return [CELL_DIR]

    def master_setup(self, master: str, hosts: list[str], user: str) -> ScriptRun:
        return sge_run("master", sge_master=master, sge_hosts=list(hosts), cluster_user=user)

    def exec_setup(self, host: str) -> ScriptRun:
        return sge_run("exec", sge_host=host)

    def exec_host(self, host: str, output: str) -> ExecHost | None:
        for line in output.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "sge-exec":
                return ExecHost(host, int(parts[1]), int(parts[2]))
        return None

    def queue_setup(self, hosts: Sequence[ExecHost], adding: Sequence[str] = (),
                    removing: Sequence[str] = ()) -> ScriptRun:
        names = [h.name for h in hosts]
        inputs: dict[str, str | list[str] | None] = {
            "sge_hosts": names,
            "sge_gpus": [f"{h.name} {h.gpus}" for h in hosts if h.gpus] or None,
            "sge_allhosts": f"group_name @allhosts\nhostlist {' '.join(names) or 'NONE'}\n",
            "sge_queue": queue_config(hosts),
            "sge_pe_names": list(PARALLEL_ENVIRONMENTS),
            "sge_enable": [h for h in adding if h in names] or None,
            "sge_remove": list(removing) or None,
        }
        for pe, rule in PARALLEL_ENVIRONMENTS.items():
            inputs[f"sge_pe_{pe}"] = pe_config(pe, rule)
        return sge_run("queue", **inputs)

    def drain(self, hosts: list[str]) -> ScriptRun:
        return sge_run("drain", sge_hosts=list(hosts))

    def running_jobs(self, hosts: list[str], output: str) -> dict[str, int]:
        counts = [int(line.split()[1]) for line in output.splitlines()
                  if line.startswith("running-jobs ")]
        if len(counts) != len(hosts):  # never guess that a node is idle
            raise SclustError(f"draining: no job count for every node from the master: {output}")
        return dict(zip(hosts, counts, strict=True))

    def evict(self, hosts: list[str]) -> ScriptRun:
        return sge_run("evict", sge_hosts=list(hosts))

    def requeue(self, hosts: list[str]) -> ScriptRun:
        return sge_run("requeue", sge_hosts=list(hosts))

    def disable(self, hosts: list[str], settle: float = 0.0) -> ScriptRun:
        run = sge_run("disable", sge_hosts=list(hosts),
                      sge_settle=f"{settle:g}" if settle > 0 else None)
        return run.add(step("stats")) if settle > 0 else run

    def enable(self, hosts: list[str]) -> ScriptRun:
        return sge_run("enable", sge_hosts=list(hosts))

    def read_stats(self) -> ScriptRun:
        return sge_run("stats")

    def stats(self, output: str, *, master: str | None = None,
              idle_since: Mapping[str, float] | None = None,
              launched: Mapping[str, float] | None = None) -> ClusterStats:
        raw = read_stats_output(output)
        return cluster_stats(raw.qstat, raw.qhost, raw.now, master=master,
                             idle_since=idle_since, launched=launched,
                             utc_offset=raw.utc_offset)

    def enable_hint(self, hosts: list[str]) -> str:
        return f"qmod -e {' '.join(f'{QUEUE}@{h}' for h in hosts)}"


@dataclass(frozen=True)
class RawStats:
    """One reading of the master: its epoch time, UTC offset (s) and SGE's XML."""

    now: float
    utc_offset: float
    qstat: str
    qhost: str


def read_stats_output(text: str) -> RawStats:
    """Split what `stats.sh` printed (it may follow other output, e.g. `qmod`'s)."""
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


def queue_config(hosts: Sequence[ExecHost]) -> str:
    """all.q as a `qconf -Aq` file (a file of data: host names are values, never shell)."""
    slots = ",".join(["1"] + [f"[{h.name}={h.slots}]" for h in hosts])
    fields = {
        "qname": QUEUE, "hostlist": "@allhosts", "seq_no": "0",
        # Every host of the local cloud reports the whole machine's load: never alarm on it.
        "load_thresholds": "NONE", "suspend_thresholds": "NONE", "nsuspend": "1",
        "suspend_interval": "00:05:00", "priority": "0", "min_cpu_interval": "00:05:00",
        "processors": "UNDEFINED", "qtype": "BATCH INTERACTIVE", "ckpt_list": "NONE",
        "pe_list": " ".join(PARALLEL_ENVIRONMENTS), "rerun": "FALSE", "slots": slots,
        "tmpdir": "/tmp", "shell": "/bin/bash", "prolog": "NONE", "epilog": "NONE",
        "shell_start_mode": "unix_behavior", "starter_method": "NONE",
        "suspend_method": "NONE", "resume_method": "NONE", "terminate_method": "NONE",
        "notify": "00:00:60", "owner_list": "NONE", "user_lists": "NONE",
        "xuser_lists": "NONE", "subordinate_list": "NONE", "complex_values": "NONE",
        "projects": "NONE", "xprojects": "NONE", "calendar": "NONE",
        "initial_state": "default",
    }
    for limit in ("rt", "cpu", "fsize", "data", "stack", "core", "rss", "vmem"):
        fields[f"s_{limit}"] = fields[f"h_{limit}"] = "INFINITY"
    return "".join(f"{k:<20} {v}\n" for k, v in fields.items())


def pe_config(name: str, rule: str) -> str:
    fields = {
        "pe_name": name, "slots": "99999", "user_lists": "NONE", "xuser_lists": "NONE",
        "start_proc_args": "NONE", "stop_proc_args": "NONE", "allocation_rule": rule,
        "control_slaves": "TRUE", "job_is_first_task": "TRUE", "urgency_slots": "min",
        "accounting_summary": "FALSE", "qsort_args": "NONE",
    }
    return "".join(f"{k:<20} {v}\n" for k, v in fields.items())
