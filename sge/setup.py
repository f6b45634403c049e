"""Sun Grid Engine (Debian's gridengine 8.1.9 layout) as shell scripts: qmaster, exec hosts,
queue, parallel environments, scheduler. Every step is checked by its effect (the Debian init
scripts return 0 even when the daemon dies at once)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

SGE_ROOT = "/var/lib/gridengine"
SGE_CELL = "default"
CELL_DIR = f"{SGE_ROOT}/{SGE_CELL}"
SPOOL = "/var/spool/gridengine"
ENV = f"export SGE_ROOT={SGE_ROOT} SGE_CELL={SGE_CELL}\n"
PARALLEL_ENVIRONMENTS = {"smp": "$pe_slots", "orte": "$fill_up", "mpi": "$fill_up"}

INSTALL = """\
if ! command -v {probe} >/dev/null 2>&1; then
  if command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq {apt} >/dev/null
  elif command -v yum >/dev/null; then
    yum install -y -q {yum} >/dev/null
  fi
  command -v {probe} >/dev/null || {{ echo "cannot install Grid Engine ({apt})" >&2; exit 5; }}
fi
"""


@dataclass(frozen=True)
class ExecHost:
    name: str
    slots: int
    gpus: int = 0


def wait_until(test: str, what: str, seconds: int = 60) -> str:
    """Shell that polls TEST every 0.2 s, failing with WHAT after SECONDS."""
    return (f"for i in $(seq {seconds * 5}); do {test} && break; sleep 0.2; done\n"
            f"{test} || {{ echo {shlex.quote(f'timed out: {what}')} >&2; exit 6; }}\n")


def master_script(master: str, hosts: list[str], user: str) -> str:
    """Ensure a qmaster for this cluster runs on MASTER; HOSTS become admin and submit hosts.

    The image's own spool was made for another host, so it is rebuilt once (marker file);
    later runs (start -x) keep the spool and with it the jobs. SGE refuses jobs of ids below
    min_uid/min_gid (1000), and an image's own `sgeadmin` is a system account (Debian: 104),
    so the minimum is lowered to the cluster USER's ids — before any execd reads it.
    """
    q = shlex.quote(master)
    u = shlex.quote(user)
    host_list = ",".join(hosts)
    return ENV + INSTALL.format(
        probe="sge_qmaster", apt="gridengine-master gridengine-client gridengine-exec",
        yum="gridengine-qmaster gridengine-execd",
    ) + f"""\
marker={SPOOL}/.sclust-qmaster
if [ "$(cat $marker 2>/dev/null)" != {q} ]; then
  pkill -x sge_qmaster 2>/dev/null || true
  mkdir -p {CELL_DIR}/common {SPOOL}/spooldb {SPOOL}/qmaster
  rm -rf {SPOOL}/spooldb/* {SPOOL}/qmaster/*
  cp /usr/share/gridengine/default-bootstrap {CELL_DIR}/common/bootstrap 2>/dev/null || true
  chown -R sgeadmin: {CELL_DIR} {SPOOL}
  su -s /bin/sh sgeadmin -c '/usr/share/gridengine/scripts/init_cluster {SGE_ROOT} {SGE_CELL} \
{SPOOL}/spooldb sgeadmin' >/tmp/sclust-init-cluster.log 2>&1 \
    || {{ cat /tmp/sclust-init-cluster.log >&2; exit 7; }}
  echo {q} > $marker
fi
su -s /bin/sh sgeadmin -c 'echo {q} > {CELL_DIR}/common/act_qmaster'
mkdir -p /run/gridengine && chown sgeadmin: /run/gridengine
qconf -sh >/dev/null 2>&1 || /etc/init.d/gridengine-master start >/dev/null 2>&1 || true
{wait_until("qconf -sh >/dev/null 2>&1", "sge_qmaster did not start", 60)}\
conf=$(mktemp -d)  # qconf -Mconf takes the configuration's name from the file's
qconf -sconf global > $conf/global
uid=$(id -u {u}); gid=$(id -g {u})
sed -i -e "s/^min_uid .*/min_uid $(( uid < 1000 ? uid : 1000 ))/" \
  -e "s/^min_gid .*/min_gid $(( gid < 1000 ? gid : 1000 ))/" $conf/global
(cd $conf && qconf -Mconf global >/dev/null) || {{ echo "cannot set min_uid" >&2; exit 10; }}
rm -rf $conf
qconf -ah {host_list} >/dev/null 2>&1 || true
qconf -as {host_list} >/dev/null 2>&1 || true
admins=$(qconf -sh)  # one query, whatever the cluster's size
for h in {" ".join(hosts)}; do
  printf '%s\n' "$admins" | grep -qx "$h" || {{ echo "$h is not an admin host" >&2; exit 8; }}
done
"""


def exec_script(name: str) -> str:
    """Ensure an execd runs on this host (the cell directory is already shared); report its
    slots (CPUs) and GPUs."""
    return ENV + INSTALL.format(
        probe="sge_execd", apt="gridengine-exec gridengine-client", yum="gridengine-execd",
    ) + f"""\
mkdir -p /run/gridengine {SPOOL}/execd && chown sgeadmin: /run/gridengine {SPOOL}/execd
pgrep -x sge_execd >/dev/null || /etc/init.d/gridengine-exec start >/dev/null 2>&1 || true
{wait_until("pgrep -x sge_execd >/dev/null", f"sge_execd did not start on {name}", 30)}\
gpus=0
command -v nvidia-smi >/dev/null && gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
echo "sge-host {name} $(nproc) ${{gpus:-0}}"
"""


def parse_exec_report(output: str) -> tuple[int, int] | None:
    """(cpus, gpus) from exec_script's output line."""
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "sge-host":
            return int(parts[2]), int(parts[3])
    return None


def queue_config(hosts: list[ExecHost]) -> str:
    slots = ",".join(["1"] + [f"[{h.name}={h.slots}]" for h in hosts])
    fields = {
        "qname": "all.q", "hostlist": "@allhosts", "seq_no": "0",
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


def heredoc(path: str, content: str) -> str:
    return f"cat > {path} <<'SCLUST_EOF'\n{content}SCLUST_EOF\n"


def apply_config(kind: str, name: str, path: str) -> str:
    """`qconf -M…` if NAME exists, else `qconf -A…` (kind: hgrp, p, q)."""
    show = {"hgrp": "-shgrp", "p": "-sp", "q": "-sq"}[kind]
    return (f"if qconf {show} {name} >/dev/null 2>&1; then qconf -M{kind} {path} >/dev/null; "
            f"else qconf -A{kind} {path} >/dev/null; fi || exit 9\n")


def queue_script(hosts: list[ExecHost], gone: list[str] = ()) -> str:
    """On the master: wait for every exec host, then write @allhosts, the PEs, all.q, the
    gpu consumable and the fill-up scheduler whole; GONE hosts are forgotten."""
    names = [h.name for h in hosts]
    script = ENV + "set -e\ncd $(mktemp -d)\n"
    # Every qconf is a round trip to the qmaster (~0.1 s): one query per poll for all hosts,
    # and per-host calls only where a host differs from the default (GPUs).
    script += f"""\
registered() {{
  sel=$(qconf -sel 2>/dev/null || true); missing=""
  for h in {' '.join(names)}; do
    printf '%s\\n' "$sel" | grep -qx "$h" || missing="$missing $h"
  done
  [ -z "$missing" ]
}}
""" + wait_until("registered", "exec hosts did not register", 60).replace(
        "echo 'timed out: exec hosts did not register' >&2",
        'echo "timed out: exec hosts did not register:$missing" >&2')
    script += """\
qconf -sc > complexes
if ! grep -q '^gpu ' complexes; then
  echo 'gpu gpu INT <= YES YES 0 0' >> complexes
  qconf -Mc complexes >/dev/null
fi
"""
    # A host without a gpu value has none: jobs asking for `-l gpu=1` never land there.
    for host in hosts:
        if host.gpus:
            script += (f"qconf -mattr exechost complex_values gpu={host.gpus} {host.name}"
                       " >/dev/null\n")
    script += heredoc("allhosts", f"group_name @allhosts\nhostlist {' '.join(names) or 'NONE'}\n")
    script += apply_config("hgrp", "@allhosts", "allhosts")
    for pe, rule in PARALLEL_ENVIRONMENTS.items():
        script += heredoc(pe, pe_config(pe, rule)) + apply_config("p", pe, pe)
    script += heredoc("queue", queue_config(hosts)) + apply_config("q", "all.q", "queue")
    for name in gone:
        script += (f"qconf -ke {name} >/dev/null 2>&1 || true\n"
                   f"qconf -de {name} >/dev/null 2>&1 || true\n"
                   f"qconf -dh {name} >/dev/null 2>&1 || true\n"
                   f"qconf -ds {name} >/dev/null 2>&1 || true\n")
    # Fill hosts up by slots (not spread by load) so idle nodes appear and can be removed.
    script += """\
qconf -ssconf > sched
sed -i -e 's/^schedule_interval .*/schedule_interval 0:0:2/' \\
  -e 's/^queue_sort_method .*/queue_sort_method load/' \\
  -e 's/^load_formula .*/load_formula slots/' \\
  -e 's/^job_load_adjustments .*/job_load_adjustments NONE/' \\
  -e 's/^load_adjustment_decay_time .*/load_adjustment_decay_time 0:0:0/' sched
qconf -Msconf sched >/dev/null
"""
    if names:
        instances = " ".join(f"all.q@{name}" for name in names)
        script += f"qmod -e {instances} >/dev/null 2>&1 || true\n"
    # A queue put in error by an earlier failed setup would refuse every job.
    script += "qmod -c all.q >/dev/null 2>&1 || true\nqhost >/dev/null\n"
    return script


def drain_script(name: str) -> str:
    """Disable NAME's queue instance and print how many jobs still run there."""
    # A qstat that fails (qmaster down) must not read as "no jobs": the node would go busy.
    return (ENV + f"qmod -d all.q@{name} >/dev/null 2>&1 || true\n"
            f"jobs=$(qstat -u '*' -s rs -q all.q@{name}) "
            f"|| {{ echo 'qstat failed: cannot tell whether jobs run on {name}' >&2; exit 12; }}\n"
            f"echo running-jobs $(printf '%s\\n' \"$jobs\" | tail -n +3 | grep -c . || true)\n")


def evict_script(name: str) -> str:
    """--force: reschedule NAME's jobs elsewhere (back to the queue, not lost); what cannot be
    moved within 20 s is deleted, so the host can leave SGE."""
    jobs = f"qstat -u '*' -s rs -q all.q@{name} 2>/dev/null | awk 'NR>2 {{print $1}}'"
    return (ENV + f"qmod -f -rq all.q@{name} >/dev/null 2>&1 || true\n"
            + f"for i in $(seq 100); do [ -z \"$({jobs})\" ] && break; sleep 0.2; done\n"
            + f"left=$({jobs}); [ -z \"$left\" ] || qdel -f $left >/dev/null 2>&1 || true\n"
            + f"for i in $(seq 50); do [ -z \"$({jobs})\" ] && break; sleep 0.2; done\n")


def parse_running_jobs(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("running-jobs "):
            return int(line.split()[1])
    return 0
