"""`sclust loadbalance` end to end on the local cloud: real hosts, SSH, Grid Engine, EC2 calls.

A master-only cluster (one slot per host) gets 20 short jobs; `loadbalance -n 1 -m 4` (StarCluster's
counts: the master included, so 0 to 3 nodes besides it) must launch nodes, then, once the queue
has drained, disable, check and remove them down to the master alone, with every job finished
(exit status 0 in `qacct`). The loop runs as the real CLI in a subprocess, bounded by
--max-runtime; the test stops it with Ctrl-C (SIGINT to its pid) once the goal is reached.
Then `-K --yes` terminates the cluster once a last job has ended.
"""

from __future__ import annotations

import csv
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
SGE = "export SGE_ROOT=/var/lib/gridengine SGE_CELL=default; "
JOBS = 20


@pytest.fixture
def lb_env(cloud, tmp_path: Path):
    config = cluster_config(cloud, tmp_path, "lb", "LOGIN_USER = ubuntu\nSLOTS_PER_HOST = 1\n")
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}, "tmp": tmp_path}
    yield ctx
    run_sclust("-c", str(config), "terminate", "lb", "--yes", env=ctx["env"])


def sclust(ctx: dict, *args: str, ok: bool = True, timeout: float = 300):
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=timeout)
    if ok:
        assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result


def on_master(ctx: dict, command: str) -> str:
    return sclust(ctx, "sshmaster", "lb", "-u", "root", command).stdout


def submit(ctx: dict, count: int, seconds: int, prefix: str) -> None:
    on_master(ctx, f"su - {USER} -c 'for i in $(seq {count}); do echo sleep {seconds} | "
                   f"qsub -N {prefix}$i -o /dev/null -e /dev/null >/dev/null; done'")


def aliases(ctx: dict) -> list[str]:
    listing = json.loads(sclust(ctx, "listclusters", "--json").stdout)
    return [n["alias"] for c in listing for n in c["nodes"]]


def rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open() as stream:
        return [r for r in csv.DictReader(stream) if r.get("workers")]


def accounting(ctx: dict) -> list[dict[str, str]]:
    """`qacct -j` records as dicts."""
    return qacct_records(on_master(ctx, "qacct -j 2>/dev/null || true"))


def test_loadbalance_grows_for_a_backlog_and_shrinks_to_the_minimum(lb_env: dict) -> None:
    ctx = lb_env
    sclust(ctx, "start", "lb")
    assert aliases(ctx) == ["master"]
    submit(ctx, JOBS, 5, "lb")

    # --dry-run --once: the decision is printed, nothing changes.
    dry = sclust(ctx, "loadbalance", "lb", "-n", "1", "-m", "4", "--once", "--dry-run")
    assert "would launch 3 node(s)" in dry.stdout, dry.stdout
    assert aliases(ctx) == ["master"]

    stats_file, plot_dir = ctx["tmp"] / "lb.csv", ctx["tmp"] / "plots"
    output = (ctx["tmp"] / "loadbalance.out").open("w")
    loop = subprocess.Popen(
        [sys.executable, "-m", "sclust.cli", "-c", str(ctx["config"]), "loadbalance", "lb",
         "-n", "1", "-m", "4", "-i", "2", "--idle-timeout", "10", "-d", "-D", str(stats_file),
         "-p", "-P", str(plot_dir), "--max-runtime", "420"],
        cwd=REPO, env={**os.environ, **ctx["env"]}, stdout=output, stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        grown = shrunk = False
        deadline = time.monotonic() + 450
        while time.monotonic() < deadline and loop.poll() is None:
            seen = rows(stats_file)
            grown = grown or any(int(r["workers"]) >= 1 for r in seen)
            last = seen[-1] if seen else {}
            shrunk = grown and last.get("workers") == "0" and last.get("booting") == "0" \
                and last.get("pending_jobs") == "0" and last.get("running_jobs") == "0" \
                and not last.get("under_way")
            if shrunk:
                break
            time.sleep(1)
        if loop.poll() is None:
            loop.send_signal(signal.SIGINT)  # Ctrl-C: the loop stops cleanly
        status = loop.wait(120)
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()
        output.close()
    log = (ctx["tmp"] / "loadbalance.out").read_text()
    assert grown and shrunk, f"goal not reached:\n{log}"
    assert status == 130 and "stopped (Ctrl-C)" in log, log

    seen = rows(stats_file)
    assert max(int(r["workers"]) for r in seen) == 3, log  # -m 4 = master + 3 nodes
    assert "launching node001, node002, node003" in log
    assert "removed node" in log and "failed" not in log, log
    assert aliases(ctx) == ["master"]
    assert on_master(ctx, "qconf -sel").split() == ["master"]

    # No job lost or killed: each of the 20 ended with exit status 0, some of them on nodes.
    jobs = [r for r in accounting(ctx) if r.get("jobname", "").startswith("lb")]
    assert sorted(r["jobname"] for r in jobs) == sorted(f"lb{i}" for i in range(1, JOBS + 1))
    assert all(r["exit_status"] == "0" and r["failed"] == "0" for r in jobs), jobs
    assert any(r["hostname"].startswith("node") for r in jobs)
    png = plot_dir / "loadbalance.png"
    assert png.read_bytes()[:4] == b"\x89PNG"

    # -K --yes: once the last job has ended and the cluster idled, it is terminated.
    submit(ctx, 1, 2, "last")
    killed = sclust(ctx, "loadbalance", "lb", "-n", "1", "-m", "1", "-i", "2",
                    "--idle-timeout", "5", "-K", "--yes", "--max-runtime", "120")
    assert "cluster 'lb' terminated" in killed.stdout, killed.stdout
    assert aliases(ctx) == []


def test_loadbalance_rides_out_a_qmaster_outage(lb_env: dict) -> None:
    """SGE not answering is a transient error: logged, retried, and the loop carries on."""
    ctx = lb_env
    sclust(ctx, "start", "lb")
    on_master(ctx, f"{SGE}qconf -km >/dev/null; for i in $(seq 50); do "
                   "pgrep -x sge_qmaster >/dev/null || break; sleep 0.2; done; "
                   "! pgrep -x sge_qmaster >/dev/null")
    output = ctx["tmp"] / "outage.out"
    with output.open("w") as stream:
        loop = subprocess.Popen(
            [sys.executable, "-m", "sclust.cli", "-c", str(ctx["config"]), "loadbalance", "lb",
             "-i", "1", "--max-runtime", "25"],
            cwd=REPO, env={**os.environ, **ctx["env"]}, stdout=stream, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while "reading SGE stats failed" not in output.read_text():
                assert time.monotonic() < deadline and loop.poll() is None, output.read_text()
                time.sleep(0.5)
            on_master(ctx, f"{SGE}/etc/init.d/gridengine-master start >/dev/null 2>&1; "
                           "for i in $(seq 50); do qstat >/dev/null 2>&1 && break; sleep 0.2; "
                           "done")
            status = loop.wait(60)
        finally:
            if loop.poll() is None:
                loop.kill()
                loop.wait()
    log = output.read_text()
    assert status == 0 and "--max-runtime 25 s reached" in log, log
    after = log[log.rindex("reading SGE stats failed"):]
    assert "workers 0 (min 0, max 0)" in after, log  # read again once qmaster was back


def test_ctrl_c_during_a_launch_lets_the_launch_finish(lb_env: dict) -> None:
    """The first Ctrl-C waits for the node being launched to be set up, and says so."""
    ctx = lb_env
    sclust(ctx, "start", "lb")
    submit(ctx, 3, 30, "cc")
    output = ctx["tmp"] / "ctrl-c.out"
    with output.open("w") as stream:
        loop = subprocess.Popen(
            [sys.executable, "-m", "sclust.cli", "-c", str(ctx["config"]), "loadbalance", "lb",
             "-m", "2", "-i", "1", "--max-runtime", "120"],
            cwd=REPO, env={**os.environ, **ctx["env"]}, stdout=stream, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "launching node001" not in output.read_text():
                assert time.monotonic() < deadline and loop.poll() is None, output.read_text()
                time.sleep(0.2)
            loop.send_signal(signal.SIGINT)
            status = loop.wait(120)
        finally:
            if loop.poll() is None:
                loop.kill()
                loop.wait()
    log = output.read_text()
    assert status == 130, log
    assert "Ctrl-C: waiting for launching node001" in log, log
    assert "node001 joined the cluster" in log and "stopped (Ctrl-C) after the change" in log
    assert aliases(ctx) == ["master", "node001"]
    assert sorted(on_master(ctx, "qconf -sel").split()) == ["master", "node001"]
