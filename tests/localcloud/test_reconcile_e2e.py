"""The balancer's reconciliation on the local cloud (issue 15 item 5): real hosts, SSH, Grid
Engine, IMDSv2 and the cloud's spot interruptions.

- A spot node runs a job; `sclust local inject spot-interruption` gives notice in its
  instance metadata. The balancer (the real CLI, in a subprocess) disables the node at once
  and requeues its job, which runs again on the master and ends with status 0; the node goes.
- An instance tagged for the cluster whose execd never started (`addnode --no-setup`) is left
  alone while younger than the join grace, and removed once past it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from localcloud_helpers import cluster_config, qacct_records

from tests.conftest import REPO, run_sclust

USER = "sgeadmin"


@pytest.fixture
def rc_env(cloud, tmp_path: Path):
    config = cluster_config(cloud, tmp_path, "rc", "LOGIN_USER = ubuntu\nSLOTS_PER_HOST = 1\n")
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}, "tmp": tmp_path,
           "cloud": cloud}
    yield ctx
    run_sclust("-c", str(config), "terminate", "rc", "--yes", env=ctx["env"])


def sclust(ctx: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=timeout)
    assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result


def on_master(ctx: dict, command: str) -> str:
    return sclust(ctx, "sshmaster", "rc", "-u", "root", command).stdout


def nodes(ctx: dict) -> dict[str, dict]:
    listing = json.loads(sclust(ctx, "listclusters", "--json").stdout)
    return {n["alias"]: n for c in listing for n in c["nodes"]}


def balancer(ctx: dict, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
    out = ctx["tmp"] / f"{name}.out"
    loop = subprocess.Popen(
        [sys.executable, "-m", "sclust.cli", "-c", str(ctx["config"]), "loadbalance", "rc",
         *args], cwd=REPO, env={**os.environ, **ctx["env"]}, stdout=out.open("w"),
        stderr=subprocess.STDOUT, text=True)
    return loop, out


def stop(loop: subprocess.Popen) -> int:
    if loop.poll() is None:
        loop.send_signal(signal.SIGINT)
    try:
        return loop.wait(120)
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()


def wait_for(what, timeout: float, loop: subprocess.Popen, out: Path) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline and loop.poll() is None, out.read_text()
        time.sleep(1)


def accounting(ctx: dict, name: str) -> list[dict[str, str]]:
    records = qacct_records(on_master(ctx, "qacct -j 2>/dev/null || true"))
    return [r for r in records if r.get("jobname") == name]


def test_a_spot_notice_requeues_the_job_which_finishes_elsewhere(rc_env: dict) -> None:
    ctx = rc_env
    sclust(ctx, "start", "rc")
    sclust(ctx, "addnode", "rc", "-b", "0.5")
    spot = nodes(ctx)["node001"]
    assert spot["spot"], spot
    # The job lands on the spot node: the master's queue is closed while it is dispatched.
    on_master(ctx, "qmod -d all.q@master >/dev/null; "
                   f"su - {USER} -c 'echo sleep 40 | qsub -N spot1 -o /dev/null -e /dev/null'"
                   " >/dev/null; for i in $(seq 100); do "
                   "qstat -s r -u '*' | grep -q node001 && break; sleep 0.2; done; "
                   "qmod -e all.q@master >/dev/null; qstat -s r -u '*' | grep -c node001")
    loop, out = balancer(ctx, "spot", "-n", "1", "-m", "2", "-i", "2", "--idle-timeout", "600",
                         "--max-runtime", "300")
    try:
        wait_for(lambda: "load balancing rc" in out.read_text(), 60, loop, out)
        injected = run_sclust("local", "inject", "spot-interruption", spot["instance_id"],
                              "--notice", "90", env=ctx["env"])
        assert injected.returncode == 0, injected.stdout + injected.stderr
        noticed = time.monotonic()
        wait_for(lambda: "spot interruption notice (terminate)" in out.read_text(), 30, loop,
                 out)
        assert time.monotonic() - noticed < 15, out.read_text()  # at once, not after a grace
        # The job runs again on the master and ends there, well before the notice runs out.
        wait_for(lambda: any(r["hostname"] == "master" and r["failed"] == "0"
                             for r in accounting(ctx, "spot1")), 120, loop, out)
        wait_for(lambda: "node001" not in nodes(ctx), 120, loop, out)
    finally:
        status = stop(loop)
    log = out.read_text()
    assert status == 130, log
    assert "node001: spot interruption notice (terminate): disabled, its jobs requeued" in log
    # qacct keeps the interrupted run on node001 too, as failed; the one that ends is master's.
    records = accounting(ctx, "spot1")
    done = [r["hostname"] for r in records if r["failed"] == "0" and r["exit_status"] == "0"]
    assert done == ["master"], records
    assert [r["hostname"] for r in records] == ["node001", "master"], records
    assert on_master(ctx, "qstat -u '*'").strip() == ""  # nothing left waiting or running
    assert on_master(ctx, "qconf -sel").split() == ["master"]


def test_an_instance_that_never_joins_is_removed_after_the_join_grace_only(rc_env: dict) -> None:
    ctx = rc_env
    sclust(ctx, "start", "rc")
    sclust(ctx, "addnode", "rc", "--no-setup")  # tagged for the cluster; no execd, ever
    assert "node001" in nodes(ctx)
    # Younger than the grace: two iterations leave it alone.
    for _ in range(2):
        young = sclust(ctx, "loadbalance", "rc", "-m", "2", "--join-grace", "3600", "--once")
        assert "removing" not in young.stdout, young.stdout
    assert "node001" in nodes(ctx)
    loop, out = balancer(ctx, "stray", "-m", "2", "-i", "2", "--join-grace", "5",
                         "--max-runtime", "240")
    try:
        wait_for(lambda: "node001" not in nodes(ctx), 200, loop, out)
    finally:
        status = stop(loop)
    log = out.read_text()
    assert status in (0, 130), log
    assert "node001: not a known scheduler host" in log and "removed node001" in log, log
    assert on_master(ctx, "qconf -sel").split() == ["master"]


def test_a_node_that_stops_answering_is_drained_and_its_job_runs_elsewhere(rc_env: dict) -> None:
    ctx = rc_env
    sclust(ctx, "start", "rc")
    sclust(ctx, "addnode", "rc")
    on_master(ctx, "qmod -d all.q@master >/dev/null; "
                   f"su - {USER} -c 'echo sleep 30 | qsub -N mute1 -o /dev/null -e /dev/null'"
                   " >/dev/null; for i in $(seq 100); do "
                   "qstat -s r -u '*' | grep -q node001 && break; sleep 0.2; done; "
                   "qmod -e all.q@master >/dev/null")
    loop, out = balancer(ctx, "mute", "-n", "1", "-m", "2", "-i", "2", "--answer-grace", "10",
                         "--idle-timeout", "600", "--max-runtime", "400")
    try:
        wait_for(lambda: "#2 workers 1" in out.read_text(), 60, loop, out)
        # node001 freezes: its sshd and execd stop (SIGSTOP, inside the host's own namespace).
        sclust(ctx, "sshnode", "rc", "node001", "-u", "root",
               "setsid sh -c 'sleep 1; kill -STOP $(pidof sge_execd) $(pidof sshd)' "
               ">/dev/null 2>&1 < /dev/null &")
        wait_for(lambda: "does not answer SSH" in out.read_text(), 120, loop, out)
        wait_for(lambda: any(r["hostname"] == "master" and r["failed"] == "0"
                             for r in accounting(ctx, "mute1")), 150, loop, out)
        wait_for(lambda: "node001" not in nodes(ctx), 150, loop, out)
    finally:
        status = stop(loop)
    log = out.read_text()
    assert status == 130, log
    assert "node001: it does not answer SSH for" in log and "disabled, its jobs requeued" in log
    done = [r["hostname"] for r in accounting(ctx, "mute1") if r["failed"] == "0"
            and r["exit_status"] == "0"]
    assert done == ["master"], accounting(ctx, "mute1")
