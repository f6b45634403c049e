"""Helpers of the local cloud's end-to-end tests: launch and wait, SSH with paramiko, and an
independent look at what the local cloud left on the machine."""

from __future__ import annotations

import io
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The built-in image the tests boot by default: root login allowed (and ubuntu with sudo).
IMAGE = "ami-0localstarcluster"
UBUNTU_IMAGE = "ami-0localubuntu2404"
AMAZON_IMAGE = "ami-0localamzn2023"


@dataclass
class LocalCloud:
    """The session's local cloud: its state dir, endpoint and an EC2 client."""

    state_dir: Path
    url: str
    ec2: Any
    key_name: str
    key_pem: str
    subnet_id: str
    zone: str
    access_key: str = ""
    secret_key: str = ""

    def client(self, service: str = "ec2") -> Any:
        """A boto3 client of SERVICE on this cloud, with its credentials."""
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)


def connect(state_dir: Path, url: str) -> LocalCloud:
    """An EC2 client on `url` (with the cloud's credentials), a fresh key pair and the first
    default subnet."""
    import boto3

    from sclust.localcloud import control

    endpoint = control.running_endpoint(control.Layout(state_dir))
    assert endpoint is not None and endpoint.url == url
    ec2 = boto3.client("ec2", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id=endpoint.access_key,
                       aws_secret_access_key=endpoint.secret_key)
    key = ec2.create_key_pair(KeyName="localcloud-tests", KeyType="ed25519")
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    subnet = sorted(subnets["Subnets"], key=lambda s: s["AvailabilityZone"])[0]
    return LocalCloud(state_dir, url, ec2, "localcloud-tests", key["KeyMaterial"],
                      subnet["SubnetId"], subnet["AvailabilityZone"],
                      endpoint.access_key, endpoint.secret_key)


@contextmanager
def strictness(cloud: LocalCloud, **changes: Any) -> Iterator[None]:
    """The running cloud with other `validation`/`consistency_delay` for a while."""
    from sclust.localcloud import control

    before = control.configure(cloud.state_dir)
    control.configure(cloud.state_dir, **changes)
    try:
        yield
    finally:
        control.configure(cloud.state_dir, **before)


def restart(cloud: LocalCloud) -> None:
    """`up` again (after a test's `down` or crash) and point `cloud` at the fresh daemon."""
    from sclust.localcloud import control

    endpoint = control.up(cloud.state_dir)
    cloud.__dict__.update(connect(cloud.state_dir, endpoint.url).__dict__)


def launch(cloud: LocalCloud, count: int = 1, **extra: Any) -> list[dict[str, Any]]:
    """Run `count` instances into the test subnet and wait until all are running."""
    arguments = {"ImageId": IMAGE, "InstanceType": "t3.micro", "KeyName": cloud.key_name,
                 "SubnetId": cloud.subnet_id, **extra}
    response = cloud.ec2.run_instances(MinCount=count, MaxCount=count, **arguments)
    ids = [i["InstanceId"] for i in response["Instances"]]
    return wait_state(cloud, ids, "running")


def wait_state(cloud: LocalCloud, ids: list[str], state: str,
               timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = describe(cloud, ids)
        if all(i["State"]["Name"] == state for i in found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not {state} after {timeout} s: "
                                 f"{[(i['InstanceId'], i['State']['Name']) for i in found]}")
        time.sleep(0.1)


def describe(cloud: LocalCloud, ids: list[str], timeout: float = 15) -> list[dict[str, Any]]:
    """The instances IDS; a new instance EC2 does not show yet (InvalidInstanceID.NotFound,
    eventual consistency) is asked for again, as AWS's documentation says to."""
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + timeout
    while True:
        try:
            reservations = cloud.ec2.describe_instances(InstanceIds=ids)["Reservations"]
            break
        except ClientError as error:
            if error.response["Error"]["Code"] != "InvalidInstanceID.NotFound" \
                    or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    by_id = {i["InstanceId"]: i for r in reservations for i in r["Instances"]}
    return [by_id[i] for i in ids]


def terminate(cloud: LocalCloud, instances: list[dict[str, Any]]) -> None:
    ids = [i["InstanceId"] for i in instances]
    if ids:
        cloud.ec2.terminate_instances(InstanceIds=ids)
        wait_state(cloud, ids, "terminated")


class Ssh:
    """One paramiko connection (TCP_NODELAY, as sclust does) to an instance."""

    def __init__(self, address: str, key_pem: str, user: str = "root"):
        import paramiko

        key = paramiko.Ed25519Key.from_private_key(io.StringIO(key_pem))
        sock = socket.create_connection((address, 22), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        self.client.connect(address, username=user, pkey=key, sock=sock, timeout=10,
                            allow_agent=False, look_for_keys=False)

    def run(self, command: str, check: bool = True) -> tuple[int, str, str]:
        _, stdout, stderr = self.client.exec_command(command, timeout=60)
        out, err = stdout.read().decode(), stderr.read().decode()
        code = stdout.channel.recv_exit_status()
        if check and code != 0:
            raise AssertionError(f"{command!r} exited {code}: {err or out}")
        return code, out, err

    def close(self) -> None:
        self.client.close()


def ssh_to(cloud: LocalCloud, instance: dict[str, Any], user: str = "root") -> Ssh:
    address = instance.get("PublicIpAddress") or instance["PrivateIpAddress"]
    return Ssh(address, cloud.key_pem, user)


def reboot_and_wait(cloud: LocalCloud, instance: dict[str, Any], timeout: float = 20) -> Ssh:
    """Reboot, then wait until the host has really restarted (its /run is fresh); a new SSH."""
    ssh = ssh_to(cloud, instance)
    ssh.run("touch /run/before-reboot")
    ssh.close()
    cloud.ec2.reboot_instances(InstanceIds=[instance["InstanceId"]])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ssh = ssh_to(cloud, instance)
        except Exception:
            time.sleep(0.1)
            continue
        if ssh.run("test -e /run/before-reboot", check=False)[0] != 0:
            return ssh
        ssh.close()
        time.sleep(0.1)
    raise AssertionError("the instance did not reboot")


def machine_leftovers(state_dir: Path, daemon_running: bool = False) -> list[str]:
    """What of the local cloud exists on the machine, found with the system's own tools
    (independently of the code under test). With the daemon running, its bridge and its own
    process are expected and not reported."""
    def lines(*argv: str) -> list[str]:
        return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()

    left = [f"netns {n}" for n in lines("ip", "netns", "list") if n.startswith("scl-")]
    left += [f"link {n}" for n in lines("ip", "-o", "link", "show")
             if ": sv-" in n or (": sclbr0" in n and not daemon_running)]
    left += [f"mount {m}" for m in lines("findmnt", "-rn", "-o", "TARGET")
             if m.startswith(str(state_dir))]
    left += [f"loop {n}" for n in lines("losetup", "-a") if str(state_dir) in n]
    left += [f"process {p}" for p in lines("ps", "-eo", "pid,args")
             if str(state_dir) in p and "pytest" not in p
             and not (daemon_running and "sclust.localcloud.daemon" in p)]
    if not daemon_running:  # no sshd runs on the machine itself: any would be a host's
        left += [f"process {p}" for p in lines("ps", "-eo", "pid,comm") if p.endswith(" sshd")]
    return left


def qacct_records(text: str) -> list[dict[str, str]]:
    """The records of `qacct -j`'s output, as dicts of its fields."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("====="):
            if current:
                records.append(current)
            current = {}
        elif line.strip():
            key, _, value = line.partition(" ")
            current[key] = value.strip()
    if current:
        records.append(current)
    return records


@dataclass
class PrivateCloud:
    """A local cloud of a script's own (bench, captures): an EC2Admin on it, a key pair
    `mykey` whose private key is `key`, and the manager of its clusters."""

    cloud: Any
    key: Path
    directory: Path
    manager: Any

    def template(self, size: int, extra: str = "LOGIN_USER = root\n") -> Any:
        """The test config's template for SIZE hosts, on one of the local cloud's images."""
        from sclust.config import load_config
        from tests.conftest import cluster_config

        path = cluster_config(self.directory, self.key, size=size, extra=extra)
        # One of the local cloud's images (it refuses AMIs it does not know, as EC2 does).
        path.write_text(path.read_text().replace("ami-12345678", IMAGE))
        return load_config(path).template()


@contextmanager
def private_cloud() -> Iterator[PrivateCloud]:
    """A local cloud in a temporary directory (SCLUST_HOME too), taken down afterwards."""
    import os
    import tempfile

    from sclust.cluster import ClusterManager
    from sclust.config import AwsSettings
    from sclust.ec2admin import EC2Admin
    from sclust.keys import public_key_openssh
    from sclust.localcloud import control
    from sclust.progress import Progress
    from tests.conftest import write_key

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SCLUST_HOME"] = tmp
        os.environ["SCLUST_LOCAL_PORT"] = "0"
        endpoint = control.up(Path(tmp) / "local")
        try:
            cloud = EC2Admin(AwsSettings(region=endpoint.region, endpoint_url=endpoint.url,
                                         access_key_id=endpoint.access_key,
                                         secret_access_key=endpoint.secret_key))
            key = write_key(Path(tmp) / "k.pem")
            cloud.import_key_pair("mykey", public_key_openssh(key))
            manager = ClusterManager(cloud, Progress(quiet=True), key_file=lambda _: key)
            yield PrivateCloud(cloud, key, Path(tmp), manager)
        finally:
            control.down(Path(tmp) / "local")


@contextmanager
def private_cluster(tag: str, size: int, extra: str = "LOGIN_USER = root\n") -> Iterator[Any]:
    """A private cloud with a started cluster TAG of SIZE hosts; yields (manager, info), then
    terminates it and takes the cloud down."""
    with private_cloud() as private:
        info = private.manager.start(tag, private.template(size, extra))
        try:
            yield private.manager, info
        finally:
            private.manager.terminate(tag)


def cluster_config(cloud: LocalCloud, directory: Path, template: str, keys: str = "",
                   sections: str = "", size: int = 1) -> Path:
    """A config for the real CLI on this cloud: CLOUD = local, the cloud's key, and
    [cluster TEMPLATE] (the default) with the usual keys, then KEYS and extra SECTIONS."""
    import textwrap

    key = directory / "cloud-key.pem"
    key.write_text(cloud.key_pem)
    key.chmod(0o600)
    config = directory / "config"
    config.write_text(textwrap.dedent(f"""\
        [global]
        CLOUD = local
        DEFAULT_TEMPLATE = {template}

        [key {cloud.key_name}]
        KEY_LOCATION = {key}

        [cluster {template}]
        KEYNAME = {cloud.key_name}
        CLUSTER_SIZE = {size}
        NODE_IMAGE_ID = {IMAGE}
        NODE_INSTANCE_TYPE = t3.micro
        AVAILABILITY_ZONE = {cloud.zone}
        """) + textwrap.dedent(keys) + "\n" + textwrap.dedent(sections))
    return config
