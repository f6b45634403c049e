"""Terminate and `sclust local down` leave nothing behind, also after a daemon crash;
`up` is idempotent; `status` reports the hosts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from click.testing import CliRunner
from localcloud_helpers import launch, machine_leftovers, restart, ssh_to, terminate

from sclust.localcloud import control
from sclust.localcloud.cli import local


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(local, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def daemon_pid(cloud) -> int:
    return int((cloud.state_dir / "daemon.pid").read_text())


def test_terminate_removes_namespace_link_root_layer_loop_device_and_processes(cloud):
    [instance] = launch(cloud)
    instance_id = instance["InstanceId"]
    volume_id = cloud.ec2.create_volume(Size=1, AvailabilityZone=cloud.zone)["VolumeId"]
    cloud.ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    ssh = ssh_to(cloud, instance)
    ssh.run("mkfs.ext4 -q /dev/xvdf && mkdir /data && mount /dev/xvdf /data && touch /data/x")
    ssh.close()
    host_dir = cloud.state_dir / "hosts" / instance_id
    assert host_dir.is_dir()
    assert f"scl-{instance_id}" in subprocess.run(["ip", "netns"], capture_output=True,
                                                  text=True).stdout
    terminate(cloud, [instance])
    assert not host_dir.exists()
    assert machine_leftovers(cloud.state_dir, daemon_running=True) == []
    assert cloud.ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"] == "available"
    cloud.ec2.delete_volume(VolumeId=volume_id)


def test_status_lists_hosts_and_up_is_idempotent(cloud):
    instances = launch(cloud, 2)
    try:
        info = json.loads(run_cli("status", "--json", "--state-dir", str(cloud.state_dir)))
        assert info["endpoint"] == cloud.url and info["region"] == "us-east-1"
        rows = {h["instance_id"]: h for h in info["hosts"]}
        for instance in instances:
            row = rows[instance["InstanceId"]]
            assert row["private_ip"] == instance["PrivateIpAddress"]
            assert row["public_ip"] == instance["PublicIpAddress"]
            assert row["state"] == "running"
        pid = daemon_pid(cloud)
        started = time.monotonic()
        assert cloud.url in run_cli("up", "--state-dir", str(cloud.state_dir))
        assert time.monotonic() - started < 1.0
        assert daemon_pid(cloud) == pid
        text = run_cli("status", "--state-dir", str(cloud.state_dir))
        assert cloud.url in text and instances[0]["InstanceId"] in text
    finally:
        terminate(cloud, instances)


def busy_hosts(cloud) -> None:
    """Two hosts with a mounted volume and an NFS mount between them: much to clean up."""
    server, client = launch(cloud, 2)
    volume_id = cloud.ec2.create_volume(Size=1, AvailabilityZone=cloud.zone)["VolumeId"]
    cloud.ec2.attach_volume(VolumeId=volume_id, InstanceId=server["InstanceId"],
                            Device="/dev/sdf")
    master = ssh_to(cloud, server)
    master.run("mkfs.ext4 -q /dev/xvdf && mkdir -p /srv && mount /dev/xvdf /srv && "
               "echo '/srv *(rw)' > /etc/exports && exportfs -ra")
    node = ssh_to(cloud, client)
    node.run(f"mkdir -p /srv && mount -t nfs {server['PrivateIpAddress']}:/srv /srv && "
             "touch /srv/f && (setsid sleep 999 </dev/null >/dev/null 2>&1 &)")
    master.close()
    node.close()


def test_down_removes_every_host_and_reports_nothing_left(cloud):
    busy_hosts(cloud)
    assert "nothing is left" in run_cli("down", "--state-dir", str(cloud.state_dir))
    assert machine_leftovers(cloud.state_dir) == []
    assert not (cloud.state_dir / "daemon.pid").exists()
    info = json.loads(run_cli("status", "--json", "--state-dir", str(cloud.state_dir)))
    assert info["running"] is False and info["hosts"] == []


def test_after_a_daemon_crash_up_and_down_recover_everything(cloud):
    busy_hosts(cloud)
    os.kill(daemon_pid(cloud), signal.SIGKILL)
    time.sleep(0.3)
    assert machine_leftovers(cloud.state_dir) != []  # the crash left hosts behind
    control.up(cloud.state_dir)  # recovers, then serves afresh
    assert machine_leftovers(cloud.state_dir, daemon_running=True) == []
    control.down(cloud.state_dir)

    # and once more, crashed with hosts, recovered by `down` this time
    restart(cloud)
    busy_hosts(cloud)
    os.kill(daemon_pid(cloud), signal.SIGKILL)
    time.sleep(0.3)
    assert control.down(cloud.state_dir) == []
    assert machine_leftovers(cloud.state_dir) == []
