"""`sclust loadbalance TAG --on-master` on the local cloud (issue 15 item 4): the balancer is
installed as a service on the master from a wheel of the operator's own sclust, reports its
state and log, survives a reboot of the master, stops with --off-master, and `terminate`
stops it first.

What this test cannot show yet: the service reaching EC2 with the master's instance role (the
local cloud's IMDS role credentials are another branch's work); without credentials the
service's loop starts, fails on its first EC2 call, and the supervisor restarts it — which
the log shows.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from localcloud_helpers import cluster_config

import sclust.elastic.onmaster as onmaster_module
from tests.conftest import run_sclust


@pytest.fixture
def om_env(cloud, tmp_path: Path):
    config = cluster_config(cloud, tmp_path, "om", "LOGIN_USER = ubuntu\nSLOTS_PER_HOST = 1\n")
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}, "cloud": cloud}
    yield ctx
    run_sclust("-c", str(config), "terminate", "om", "--yes", env=ctx["env"], timeout=900)


def sclust(ctx: dict, *args: str, timeout: float = 600) -> str:
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=timeout)
    assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def on_master(ctx: dict, command: str) -> str:
    return sclust(ctx, "sshmaster", "om", "-u", "root", command)


def status(ctx: dict) -> str:
    return sclust(ctx, "loadbalance", "om", "--status")


def until(what, timeout: float, why) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, why()
        time.sleep(2)


def test_the_balancer_runs_on_the_master_survives_a_reboot_and_stops_with_the_cluster(
        om_env: dict) -> None:
    ctx = om_env
    sclust(ctx, "start", "om")
    installed = sclust(ctx, "loadbalance", "om", "--on-master", "-m", "3", "-i", "5",
                       "--idle-timeout", "60")
    assert "the balancer runs on the master" in installed, installed
    version = sclust(ctx, "--version").split()[-1]
    said = status(ctx)
    assert f"balancer on the master of om: running (sclust {version})" in said, said
    assert "loadbalance om -i 5 -m 3 -n 1" in said, said

    # The master runs the operator's very files (this checkout, not a release of the index).
    ours = hashlib.sha256(Path(onmaster_module.__file__).read_bytes()).hexdigest()
    theirs = on_master(ctx, "/opt/sclust-balancer/venv/bin/python -c 'import hashlib, "
                            "sclust.elastic.onmaster as m; print(hashlib.sha256(open(m.__file__,"
                            " \"rb\").read()).hexdigest())'").strip()
    assert theirs == ours
    # The key is root's alone; no credentials were shipped in the config.
    assert on_master(ctx, "stat -c %a /etc/sclust-balancer/key.pem").strip() == "600"
    config = on_master(ctx, "cat /etc/sclust-balancer/config")
    assert "AWS_SECRET_ACCESS_KEY" not in config and "AWS_ACCESS_KEY_ID" not in config

    # The loop itself ran (its first lines are in the log `--logs` reads).
    until(lambda: "sclust-balancer: starting" in sclust(ctx, "loadbalance", "om", "--logs"),
          60, lambda: sclust(ctx, "loadbalance", "om", "--logs"))

    # A reboot of the master: rc.local starts the supervisor again.
    cloud = ctx["cloud"]
    master = next(n for c in json.loads(sclust(ctx, "listclusters", "--json"))
                  for n in c["nodes"] if n["alias"] == "master")
    on_master(ctx, "touch /run/before-reboot")
    cloud.ec2.reboot_instances(InstanceIds=[master["instance_id"]])

    def rebooted_and_running() -> bool:
        probe = run_sclust("-c", str(ctx["config"]), "sshmaster", "om", "-u", "root",
                           "test -e /run/before-reboot && echo old || echo new", env=ctx["env"],
                           timeout=60)
        if probe.returncode != 0 or "new" not in probe.stdout:
            return False
        return "running" in status(ctx)

    until(rebooted_and_running, 240, lambda: status(ctx))
    assert on_master(ctx, "grep -c 'sclust-balancer start' /etc/rc.local").strip() == "1"

    # --off-master stops it (installed still); --on-master again starts it, installed once.
    stopped = sclust(ctx, "loadbalance", "om", "--off-master")
    assert "balancer on the master of om: stopped" in stopped, stopped
    # (anchored: the shell running pgrep has the pattern in its own command line)
    assert on_master(ctx, "pgrep -f '^/opt/sclust-balancer/venv/bin/python' || true").strip() \
        == ""
    sclust(ctx, "loadbalance", "om", "--on-master", "-m", "2")
    assert "loadbalance om -i 30 -m 2 -n 1" in status(ctx)

    # terminate stops the balancer first.
    ended = run_sclust("-c", str(ctx["config"]), "terminate", "om", "--yes", env=ctx["env"],
                       timeout=900)
    assert ended.returncode == 0, ended.stdout + ended.stderr
    assert ">>> stopped the balancer on the master" in ended.stderr, ended.stderr


def test_the_master_balancer_grows_and_shrinks_with_the_instance_role_alone(
        cloud, tmp_path: Path) -> None:
    """The role of the master's instance profile carries `balancer_iam_policy` and nothing
    else; the operator's session is closed (no local loop): jobs arrive, a node is launched,
    they all end, the node goes."""
    from iam_helpers import delete_instance_role, make_instance_role

    from sclust.elastic.balancer_policy import policy_json

    config = cluster_config(cloud, tmp_path, "omr", "LOGIN_USER = ubuntu\nSLOTS_PER_HOST = 1\n")
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}, "cloud": cloud}
    make_instance_role(cloud, "omr-balancer", policy_json("omr"))
    try:
        sclust(ctx, "start", "omr")
        listing = json.loads(sclust(ctx, "listclusters", "--json"))
        master = next(n for c in listing for n in c["nodes"] if n["alias"] == "master")
        cloud.ec2.associate_iam_instance_profile(
            IamInstanceProfile={"Name": "omr-balancer"}, InstanceId=master["instance_id"])
        sclust(ctx, "loadbalance", "omr", "--on-master", "-n", "1", "-m", "2", "-i", "5",
               "--idle-timeout", "20")
        sclust(ctx, "sshmaster", "omr", "-u", "root",
               "su - sgeadmin -c 'for i in 1 2 3; do echo sleep 20 | qsub -N role$i "
               "-o /dev/null -e /dev/null >/dev/null; done'")

        def aliases() -> list[str]:
            return [n["alias"] for c in json.loads(sclust(ctx, "listclusters", "--json"))
                    for n in c["nodes"] if n["state"] in ("pending", "running")]

        logs = lambda: sclust(ctx, "loadbalance", "omr", "--logs", "60")  # noqa: E731
        until(lambda: "node001" in aliases(), 300, logs)
        until(lambda: aliases() == ["master"], 400, logs)

        def accounting() -> str:
            return sclust(ctx, "sshmaster", "omr", "-u", "root",
                          "qacct -j 2>/dev/null | grep -E '^(jobname|exit_status|failed)' "
                          "|| true")

        # The node may go while the last job still runs on the master: wait for all three.
        until(lambda: accounting().count("jobname") >= 3, 120, logs)
        fields = [line.split() for line in accounting().splitlines()]
        assert fields.count(["exit_status", "0"]) == 3, fields
        assert fields.count(["failed", "0"]) == 3, fields
        # The node leaves `running` as its removal starts; the balancer says "removed" when
        # the removal has ended.
        log = lambda: sclust(ctx, "loadbalance", "omr", "--logs", "5000")  # noqa: E731
        until(lambda: "removed node001" in log(), 120, log)
        assert "launching node001" in log(), log()
    finally:
        run_sclust("-c", str(config), "terminate", "omr", "--yes", env=ctx["env"], timeout=900)
        delete_instance_role(cloud, "omr-balancer")
