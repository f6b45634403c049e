"""Root in a host is not root on the machine: every route the audit found is tried as root
inside a host, by SSH and by UserData, and must fail; the daemon never follows a path a host
controls; unsigned or wrongly signed requests are refused."""

from __future__ import annotations

import os
import re
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from localcloud_helpers import launch, ssh_to, terminate

from sclust.localcloud.settings import HOST_ID_BASE

PROBES = Path(__file__).with_name("escape_probes.sh")


def _probes(cloud, secret: Path) -> str:
    """The probe script with its variables set (see escape_probes.sh)."""
    disk = os.stat("/").st_dev
    key = Path("/etc/ssh/ssh_host_ed25519_key.pub")
    machine_key = key.read_text().split()[1] if key.exists() else "none"
    return (f"#!/bin/bash\nDISK='{os.major(disk)} {os.minor(disk)}'\n"
            f"STATE='{cloud.state_dir}'\nSECRET='{secret}'\nVARTMP='/var/tmp/{secret.name}'\n"
            f"MACHINE_KEY='{machine_key}'\n" + PROBES.read_text())


def _results(output: str) -> dict[str, str]:
    found = dict(re.findall(r"^PROBE (\S+) (BLOCKED|ESCAPED)$", output, re.M))
    assert "PROBES DONE" in output, output
    return found


@pytest.fixture
def machine_secret() -> Iterator[Path]:
    """A file only the machine's root may read, in the machine's /root (and one in /var/tmp,
    named after it), removed afterwards."""
    secret = Path("/root") / f".sclust-escape-probe-{os.getpid()}"
    vartmp = Path("/var/tmp") / f".sclust-escape-probe-{os.getpid()}"
    try:
        for path in (secret, vartmp):
            path.write_text("machine only\n")
            path.chmod(0o600)
        yield secret
    finally:
        secret.unlink(missing_ok=True)
        vartmp.unlink(missing_ok=True)


def test_every_escape_route_fails_as_root_over_ssh(cloud, machine_secret):
    secret = machine_secret
    core_pattern = Path("/proc/sys/kernel/core_pattern").read_text()
    clock = time.time()
    [instance] = launch(cloud)
    try:
        ssh = ssh_to(cloud, instance)
        _, out, err = ssh.run(f"cat > /tmp/probes.sh <<'EOF'\n{_probes(cloud, secret)}EOF\n"
                              "bash /tmp/probes.sh", check=False)
        results = _results(out)
        escaped = sorted(name for name, verdict in results.items() if verdict == "ESCAPED")
        assert escaped == [], f"routes that worked: {escaped}\n{out}{err}"
        assert len(results) >= 20
        ssh.close()
    finally:
        terminate(cloud, [instance])
    assert Path("/proc/sys/kernel/core_pattern").read_text() == core_pattern
    assert abs(time.time() - clock) < 600
    assert secret.read_text() == "machine only\n"


def test_every_escape_route_fails_as_root_from_user_data(cloud, machine_secret):
    secret = machine_secret
    script = _probes(cloud, secret) + "touch /run/probes-finished\n"
    [instance] = launch(cloud, UserData=script)  # boto3 base64-encodes it
    try:
        ssh = ssh_to(cloud, instance)
        deadline = time.monotonic() + 30
        while ssh.run("test -e /run/probes-finished", check=False)[0] != 0:
            assert time.monotonic() < deadline, "UserData did not finish"
            time.sleep(0.2)
        _, out, _ = ssh.run("cat /var/log/cloud-init-output.log")
        results = _results(out)
        escaped = sorted(name for name, verdict in results.items() if verdict == "ESCAPED")
        assert escaped == [], out
        ssh.close()
    finally:
        terminate(cloud, [instance])


def test_host_root_is_an_unprivileged_uid_of_the_machine(cloud):
    [instance] = launch(cloud)
    try:
        ssh = ssh_to(cloud, instance)
        _, namespace, _ = ssh.run("readlink /proc/self/ns/pid")
        # Every process of the host, seen from the machine: its uids are the host's, shifted.
        uids = {}
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and os.readlink(proc / "ns/pid") == namespace.strip():
                    status = (proc / "status").read_text()
                    uids[proc.name] = int(status.split("\nUid:")[1].split()[1])
            except OSError:
                continue
        ssh.close()
        assert len(uids) >= 3  # init, sshd, this session's shell at least
        assert all(uid >= HOST_ID_BASE for uid in uids.values()), uids
        assert HOST_ID_BASE in uids.values()  # root of the host
    finally:
        terminate(cloud, [instance])


def test_daemon_never_follows_a_hosts_symlinks(cloud, tmp_path):
    """/etc/exports pointing at a machine path and a volume node replaced by a symlink: the
    daemon reads and removes inside the host only."""
    probe = tmp_path / "exports"
    probe.write_text("/ *(rw,no_root_squash)\n")
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    [instance] = launch(cloud)
    ec2 = cloud.ec2
    volume = ec2.create_volume(Size=1, AvailabilityZone=instance["Placement"]["AvailabilityZone"])
    try:
        ssh = ssh_to(cloud, instance)
        ssh.run(f"rm -f /etc/exports; ln -s {probe} /etc/exports; exportfs -ra; true")
        _, listed, _ = ssh.run("exportfs")
        assert listed.strip() == "", "the daemon read an exports file of the machine"
        ec2.get_waiter("volume_available").wait(VolumeIds=[volume["VolumeId"]])
        ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=instance["InstanceId"],
                          Device="/dev/sdf")
        deadline = time.monotonic() + 20
        while ssh.run("test -b /dev/xvdf", check=False)[0] != 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        ssh.run(f"rm /dev/xvdf; ln -s {victim} /dev/xvdf")
        ec2.detach_volume(VolumeId=volume["VolumeId"], InstanceId=instance["InstanceId"])
        ec2.get_waiter("volume_available").wait(VolumeIds=[volume["VolumeId"]])
        assert victim.read_text() == "keep me\n"
        ssh.close()
    finally:
        terminate(cloud, [instance])
        ec2.delete_volume(VolumeId=volume["VolumeId"])


def test_volume_images_and_host_layers_are_the_machine_roots_only(cloud):
    [instance] = launch(cloud)
    volume = cloud.ec2.create_volume(Size=1,
                                     AvailabilityZone=instance["Placement"]["AvailabilityZone"])
    try:
        cloud.ec2.get_waiter("volume_available").wait(VolumeIds=[volume["VolumeId"]])
        cloud.ec2.attach_volume(VolumeId=volume["VolumeId"], InstanceId=instance["InstanceId"],
                                Device="/dev/sdf")
        image = cloud.state_dir / "volumes" / f"{volume['VolumeId']}.img"
        deadline = time.monotonic() + 20
        while not image.exists():
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert stat.S_IMODE(image.stat().st_mode) == 0o600
        assert stat.S_IMODE(image.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE((cloud.state_dir / "hosts").stat().st_mode) == 0o700
        assert stat.S_IMODE((cloud.state_dir / "credentials.json").stat().st_mode) == 0o600
    finally:
        terminate(cloud, [instance])
        cloud.ec2.get_waiter("volume_available").wait(VolumeIds=[volume["VolumeId"]])
        cloud.ec2.delete_volume(VolumeId=volume["VolumeId"])


def test_unsigned_and_wrongly_signed_requests_from_a_host_are_refused(cloud):
    [instance] = launch(cloud)
    try:
        ssh = ssh_to(cloud, instance)
        _, url, _ = ssh.run(". /etc/profile.d/aws-endpoint.sh; echo $AWS_ENDPOINT_URL")
        query = "/?Action=DescribeInstances&Version=2016-11-15"
        code, out, _ = ssh.run(
            "python3 -c \"import urllib.request, urllib.error\n"
            f"req = urllib.request.Request('{url.strip()}{query}')\n"
            "try:\n    urllib.request.urlopen(req, timeout=5); print('ANSWERED')\n"
            "except urllib.error.HTTPError as e:\n    print(e.code, e.read().decode())\"",
            check=False)
        assert "AuthFailure" in out and "ANSWERED" not in out
        ssh.close()
    finally:
        terminate(cloud, [instance])
    # From the machine too: a request signed with a wrong secret.
    forged = urllib.request.Request(
        cloud.url + "/?Action=DescribeInstances&Version=2016-11-15",
        headers={"Authorization": f"AWS4-HMAC-SHA256 Credential={cloud.access_key}/20260101/"
                 "us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
                 "X-Amz-Date": "20260101T000000Z"})
    try:
        urllib.request.urlopen(forged, timeout=5)
        raise AssertionError("a forged request was answered")
    except urllib.error.HTTPError as error:
        assert error.code in (401, 403)
