"""`sclust` end to end on the local cloud: real hosts, SSH, NFS, Grid Engine, users.

The real CLI runs in a subprocess with `CLOUD = local`; every assertion looks at the hosts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from localcloud_helpers import cluster_config

from tests.conftest import run_sclust

USER = "sgeadmin"


@pytest.fixture
def cluster_env(cloud, tmp_path: Path) -> dict:
    volume = cloud.ec2.create_volume(AvailabilityZone=cloud.zone, Size=1)["VolumeId"]
    config = cluster_config(cloud, tmp_path, "e2e", "VOLUMES = data\nLOGIN_USER = ubuntu\n",
                            "[volume data]\nVOLUME_ID = " + volume + "\nMOUNT_PATH = /data\n",
                            size=3)
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    yield {"config": config, "env": env, "volume": volume, "cloud": cloud}
    run_sclust("-c", str(config), "terminate", "e2e", "--yes", env=env)
    cloud.ec2.delete_volume(VolumeId=volume)


def sclust(ctx: dict, *args: str, ok: bool = True):
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=300)
    if ok:
        assert result.returncode == 0, f"sclust {' '.join(args)}:\n{result.stderr}"
    return result


def on(ctx: dict, node: str, command: str) -> str:
    """Run COMMAND as root on NODE through `sclust sshnode`; its stdout."""
    result = sclust(ctx, "sshnode", "e2e", node, "-u", "root", command)
    return result.stdout


def run_job(ctx: dict, name: str, where: str | None = None, timeout: float = 60) -> str:
    """Submit a job as the cluster user and wait for its output file in /home."""
    queue = f"-q all.q@{where}" if where else ""
    on(ctx, "master", f"su - {USER} -c 'echo \"hostname; id -u\" | qsub -cwd -j y -N {name} "
                      f"{queue} >/dev/null'")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = on(ctx, "master", f"cat /home/{USER}/{name}.o* 2>/dev/null || true")
        if output.strip():
            return output
        time.sleep(0.5)
    raise AssertionError(on(ctx, "master", "qstat -u '*' -f; qstat -j '*' | tail -20"))


def nodes(ctx: dict) -> list[str]:
    listing = json.loads(sclust(ctx, "listclusters", "e2e", "--json").stdout)[0]
    return [n["alias"] for n in listing["nodes"]]


def test_cluster_lifecycle_on_real_hosts(cluster_env: dict) -> None:
    ctx = cluster_env
    sclust(ctx, "start", "e2e")
    aliases = nodes(ctx)
    assert aliases == ["master", "node001", "node002"]

    # /etc/hosts names every node everywhere, never on 127.0.0.1; one uid for the user.
    for alias in aliases:
        hosts = on(ctx, alias, "cat /etc/hosts")
        for other in aliases:
            assert f" {other}\n" in hosts
        assert not any(line.startswith("127.") and alias in line for line in hosts.splitlines())
        assert on(ctx, alias, "hostname").strip() == alias
    ids = {on(ctx, a, f"id -u {USER}; id -g {USER}") for a in aliases}
    assert len(ids) == 1

    # Passwordless SSH between nodes for the cluster user.
    assert on(ctx, "node001", f"su - {USER} -c 'ssh -o BatchMode=yes node002 hostname'"
              ).strip() == "node002"

    # NFS: /home and the volume, written on node001 as the user, seen on the master.
    on(ctx, "master", f"mkdir -p /data/{USER} && chown {USER}: /data/{USER}")
    on(ctx, "node001", f"su - {USER} -c 'echo hi > ~/from-node001; echo hi > /data/{USER}/f'")
    uid = on(ctx, "master", f"id -u {USER}").strip()
    assert on(ctx, "master", f"stat -c %u /home/{USER}/from-node001 /data/{USER}/f"
              ).split() == [uid, uid]
    assert on(ctx, "master", "findmnt -n -o SOURCE /data").strip().startswith("/dev/")

    # Grid Engine: every exec host, and a job as the user writes its output to /home.
    qhost = on(ctx, "master", "qhost")
    assert all(a in qhost for a in aliases)
    output = run_job(ctx, "first", where="node002")
    assert output.split() == ["node002", uid]

    # addnode: the new node joins and runs a job. SGE alone owns queue states: a host disabled
    # meanwhile (as the load balancer drains one) stays disabled through the new setup.
    on(ctx, "master", "qmod -d all.q@node001 >/dev/null")
    sclust(ctx, "addnode", "e2e")
    assert nodes(ctx) == ["master", "node001", "node002", "node003"]
    assert on(ctx, "master", "qselect -q all.q -qs d").split() == ["all.q@node001"]
    on(ctx, "master", "qmod -e all.q@node001 >/dev/null")
    assert run_job(ctx, "onnew", where="node003").split()[0] == "node003"

    # removenode: refused while a job runs there, then SGE forgets the node.
    on(ctx, "master", f"su - {USER} -c 'echo sleep 30 | qsub -q all.q@node002 -N long "
                      ">/dev/null'")
    deadline = time.monotonic() + 30
    while "long" not in on(ctx, "master", "qstat -s r -u '*'") and time.monotonic() < deadline:
        time.sleep(0.5)
    refused = sclust(ctx, "removenode", "e2e", "-a", "node002", "--yes", ok=False)
    assert refused.returncode == 1 and "jobs still run on node002" in refused.stderr
    sclust(ctx, "removenode", "e2e", "-a", "node002", "--yes", "--force")
    assert nodes(ctx) == ["master", "node001", "node003"]
    assert "node002" not in on(ctx, "master", "qconf -sel")
    assert "node002" not in on(ctx, "master", "qconf -shgrp @allhosts")
    assert "node002" not in on(ctx, "node001", "cat /etc/hosts")

    # stop + start -x: the cluster is whole again and runs a job.
    sclust(ctx, "stop", "e2e", "--yes")
    sclust(ctx, "start", "-x", "e2e")
    assert run_job(ctx, "again", where="node001").split()[0] == "node001"
    assert on(ctx, "node003", f"cat /home/{USER}/from-node001").strip() == "hi"

    # terminate: nothing of the cluster is left on EC2; the volume is kept.
    sclust(ctx, "terminate", "e2e", "--yes")
    assert json.loads(sclust(ctx, "listclusters", "--json").stdout) == []
    volume = ctx["cloud"].ec2.describe_volumes(VolumeIds=[ctx["volume"]])["Volumes"][0]
    assert volume["State"] == "available"
