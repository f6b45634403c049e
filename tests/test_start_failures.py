# ruff: noqa: F811  (the fixtures imported below are parameters of the tests)
"""Partial failures of `start` leave nothing silent (issue 11 item 6), against a moto server:
`start -x` repairs a group left without rules, every failed start says what exists now and
the one command to resume or remove it, desktops check their key pair before launching."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from sclust.cluster import ClusterManager
from sclust.ec2 import EC2
from sclust.errors import CloudError
from sclust.inventory import find_clusters
from sclust.keys import public_key_openssh
from tests.conftest import cluster_config, run_sclust
from tests.ec2proxy import ProxyState, ec2_proxy
from tests.test_ec2_faults import (  # noqa: F401  (cloud, faults, manager: fixtures)
    Faults,
    cloud,
    faults,
    manager,
    template_for,
)


def ingress(cloud: EC2, group_id: str) -> set[tuple]:
    """The group's rules as (protocol, from, to, source) tuples."""
    group = cloud.client.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    rules = set()
    for permission in group.get("IpPermissions", []):
        ports = (permission.get("FromPort"), permission.get("ToPort"))
        for cidr in permission.get("IpRanges", []):
            rules.add((permission["IpProtocol"], *ports, cidr["CidrIp"]))
        for pair in permission.get("UserIdGroupPairs", []):
            rules.add((permission["IpProtocol"], *ports, pair["GroupId"]))
    return rules


def test_start_x_repairs_a_group_left_without_rules(
    tmp_path: Path, key_file: Path, cloud: EC2, manager: ClusterManager, faults: Faults
) -> None:
    template = template_for(tmp_path, key_file, cloud, extra="SSH_CIDR = 198.51.100.0/24\n")
    # A start interrupted between CreateSecurityGroup and AuthorizeSecurityGroupIngress.
    faults.arm("AuthorizeSecurityGroupIngress", "UnauthorizedOperation")
    with pytest.raises(CloudError, match="opening the ports"):
        manager.start("open", template, configure=False)
    group_id = find_clusters(cloud, "open")[0].security_group_id
    assert group_id and ingress(cloud, group_id) == set()

    resumed = manager.resume("open", configure=False)
    assert resumed.security_group_id == group_id
    assert ingress(cloud, group_id) >= {
        ("-1", None, None, group_id),           # the nodes reach each other
        ("tcp", 22, 22, "198.51.100.0/24"),     # SSH_CIDR
        ("tcp", 80, 80, "0.0.0.0/0"),           # [permission http]
    }
    assert [n.alias for n in [resumed.master, *resumed.workers]] == [
        "master", "node001", "node002"]
    # A group with all its rules is left as it is.
    before = faults.calls.get("AuthorizeSecurityGroupIngress", 0)
    manager.resume("open", configure=False)
    assert faults.calls.get("AuthorizeSecurityGroupIngress", 0) == before


def test_start_x_adds_only_the_rules_a_group_lacks(
    tmp_path: Path, key_file: Path, cloud: EC2, manager: ClusterManager
) -> None:
    template = template_for(tmp_path, key_file, cloud)
    info = manager.start("some", template, configure=False)
    group_id = info.security_group_id
    assert group_id
    cloud.client.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert ("tcp", 80, 80, "0.0.0.0/0") not in ingress(cloud, group_id)
    manager.resume("some", configure=False)
    assert ("tcp", 80, 80, "0.0.0.0/0") in ingress(cloud, group_id)
    assert ("tcp", 22, 22, "0.0.0.0/0") in ingress(cloud, group_id)


def names_of(cloud: EC2, tag: str) -> dict[str, tuple[str | None, str | None]]:
    """Instance id -> its own (sclust:alias, Name) tags."""
    found = {}
    for reservation in cloud.client.describe_instances(Filters=[
            {"Name": "tag:sclust:cluster", "Values": [tag]}])["Reservations"]:
        for instance in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
            found[instance["InstanceId"]] = (tags.get("sclust:alias"), tags.get("Name"))
    return found


def test_start_x_names_the_nodes_an_interrupted_launch_left_unnamed(
    tmp_path: Path, key_file: Path, cloud: EC2, manager: ClusterManager, faults: Faults
) -> None:
    template = template_for(tmp_path, key_file, cloud, extra="DNS_PREFIX = True\n")
    # The nodes launched together; their own alias and Name tags never landed.
    faults.arm("CreateTags", "UnauthorizedOperation", times=2)
    with pytest.raises(CloudError):
        manager.start("unnamed", template, configure=False)
    assert sorted(names_of(cloud, "unnamed").values(), key=str) == [
        ("master", "unnamed-master"), (None, "unnamed-node001…node002"),
        (None, "unnamed-node001…node002")]
    # sclust still knows them by their launch's tags.
    assert [n.alias for n in manager.get("unnamed").workers] == ["node001", "node002"]

    manager.resume("unnamed", configure=False)
    assert sorted(names_of(cloud, "unnamed").values(), key=str) == [
        ("master", "unnamed-master"), ("node001", "unnamed-node001"),
        ("node002", "unnamed-node002")]
    assert all(n.alias_tagged for n in manager.get("unnamed").nodes)


# ---- every failed start says what exists and what to run (the real CLI, faults by proxy) ---

@pytest.fixture
def proxy(moto_server: str) -> Iterator[tuple[str, ProxyState]]:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    with ec2_proxy(moto_server) as served:
        yield served


def moto_client(moto_server: str):
    return boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1")


def existing(moto_server: str, tag: str) -> tuple[list[str], dict[str, str]]:
    """The cluster's groups and live instances (id -> sclust alias) as EC2 has them."""
    client = moto_client(moto_server)
    groups = [g["GroupId"] for g in client.describe_security_groups(
        Filters=[{"Name": "tag:sclust:cluster", "Values": [tag]}])["SecurityGroups"]]
    instances = {}
    for reservation in client.describe_instances(Filters=[
            {"Name": "tag:sclust:cluster", "Values": [tag]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]},
    ])["Reservations"]:
        for instance in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
            instances[instance["InstanceId"]] = tags.get("sclust:alias", "?")
    return groups, instances


def start_failing(config: Path, url: str, *args: str) -> str:
    result = run_sclust("-c", str(config), *args,
                        env={"AWS_ENDPOINT_URL": url, "AWS_MAX_ATTEMPTS": "2"})
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert all(line.startswith("sclust: ") or line.startswith((">>> ", "... "))
               for line in result.stderr.splitlines()), result.stderr
    return result.stderr


def assert_says_what_exists(stderr: str, moto_server: str, tag: str) -> None:
    groups, instances = existing(moto_server, tag)
    assert groups or instances, "the case should leave something"
    said = stderr[stderr.index("now has:"):]
    for group in groups:
        assert group in said
    for instance_id, alias in instances.items():
        assert f"{alias} {instance_id} (" in said, said
    assert said.count(" i-") == len(instances), said
    assert f"resume it with `sclust start -x {tag}`, or remove it with `sclust terminate {tag}`" \
        in said


def import_key(moto_server: str, key_file: Path) -> None:
    moto_client(moto_server).import_key_pair(KeyName="mykey",
                                             PublicKeyMaterial=public_key_openssh(key_file))


CASES = {
    # name: (action, code, calls that pass first, times, status, what the error says)
    "throttled": ("RunInstances", "RequestLimitExceeded", 1, 10, 503, "RequestLimitExceeded"),
    "no-capacity-anywhere": ("RunInstances", "InsufficientInstanceCapacity", 0, 50, 500,
                             "no zone of us-east-1 has capacity"),
    "vcpu-limit": ("RunInstances", "VcpuLimitExceeded", 1, 1, 400, "vCPU limit"),
    "instance-limit": ("RunInstances", "InstanceLimitExceeded", 1, 1, 400, "Service Quotas"),
    "bad-ami": ("RunInstances", "InvalidAMIID.NotFound", 0, 1, 400, "AMIs are per region"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_start_says_what_exists_and_what_to_run(
    proxy: tuple[str, ProxyState], moto_server: str, tmp_path: Path, key_file: Path, case: str
) -> None:
    url, state = proxy
    import_key(moto_server, key_file)
    action, code, after, times, status, says = CASES[case]
    state.arm(action, code, times=times, after=after, status=status)
    stderr = start_failing(cluster_config(tmp_path, key_file), url, "start", "c", "-o")
    assert says in stderr
    assert_says_what_exists(stderr, moto_server, "c")
    # And what it says to run works: terminate leaves nothing.
    state.reset()
    result = run_sclust("-c", str(cluster_config(tmp_path, key_file)), "terminate", "c",
                        "--yes", env={"AWS_ENDPOINT_URL": url})
    assert result.returncode == 0, result.stderr
    assert existing(moto_server, "c") == ([], {})


def test_a_volume_taken_during_the_launch(
    proxy: tuple[str, ProxyState], moto_server: str, tmp_path: Path, key_file: Path
) -> None:
    url, state = proxy
    import_key(moto_server, key_file)
    client = moto_client(moto_server)
    volume = client.create_volume(AvailabilityZone="us-east-1c", Size=1)["VolumeId"]
    other = client.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                 Placement={"AvailabilityZone": "us-east-1c"}
                                 )["Instances"][0]["InstanceId"]

    def take_volume(number: int) -> None:
        if number == 2:  # while the nodes launch, someone else attaches the volume
            client.attach_volume(VolumeId=volume, InstanceId=other, Device="/dev/sdz")

    state.before["RunInstances"] = take_volume
    config = cluster_config(tmp_path, key_file, extra=f"""
        VOLUMES = data
        [volume data]
        VOLUME_ID = {volume}
        MOUNT_PATH = /data
        """)
    stderr = start_failing(config, url, "start", "v", "-o")
    assert f"volume {volume} is attached to {other}" in stderr
    assert_says_what_exists(stderr, moto_server, "v")
    assert len(existing(moto_server, "v")[1]) == 3


def test_an_unreadable_user_data_file_at_start_x(
    proxy: tuple[str, ProxyState], moto_server: str, tmp_path: Path, key_file: Path
) -> None:
    url, state = proxy
    import_key(moto_server, key_file)
    script = tmp_path / "init.sh"
    script.write_text("#!/bin/sh\necho hello\n")
    config = cluster_config(tmp_path, key_file, extra=f"USERDATA_SCRIPTS = {script}\n")
    state.arm("RunInstances", "InvalidAMIID.NotFound")
    start_failing(config, url, "start", "u", "-o")  # leaves the group only
    script.unlink()
    stderr = start_failing(config, url, "start", "-x", "u", "-o")
    assert "USERDATA_SCRIPTS" in stderr and "does not exist" in stderr
    assert_says_what_exists(stderr, moto_server, "u")


def test_a_start_refused_before_anything_is_made_says_so(
    proxy: tuple[str, ProxyState], moto_server: str, tmp_path: Path, key_file: Path
) -> None:
    url, _ = proxy  # no key pair imported
    stderr = start_failing(cluster_config(tmp_path, key_file), url, "start", "k", "-o")
    assert "does not exist in EC2 region us-east-1" in stderr
    assert "nothing of cluster 'k' exists in us-east-1" in stderr
    assert existing(moto_server, "k") == ([], {})


def test_a_request_cut_off_by_an_interruption_is_named_with_what_to_run() -> None:
    from sclust.report import leftovers
    from sclust.state import ClusterInfo

    lines = leftovers(ClusterInfo("cut", None, None), [], "us-east-1",
                      in_flight="security group @sclust-cut")
    assert lines == ["nothing of cluster 'cut' exists in us-east-1; the request creating "
                     "security group @sclust-cut was cut off: if `sclust listclusters cut` "
                     "shows more later, `sclust terminate cut` removes that too"]


def test_start_x_follows_a_master_moved_to_another_zone_before_the_move_was_saved(
    tmp_path: Path, key_file: Path, cloud: EC2, manager: ClusterManager, faults: Faults
) -> None:
    template = template_for(tmp_path, key_file, cloud)
    faults.arm("RunInstances", "InsufficientInstanceCapacity")  # us-east-1a has none
    faults.arm("CreateTags", "UnauthorizedOperation")  # saving the move is cut off
    with pytest.raises(CloudError):
        manager.start("moved", template, configure=False)
    info = manager.get("moved")
    assert info.master and info.settings and info.master.zone != info.settings.zone

    resumed = manager.resume("moved", configure=False)
    assert {n.zone for n in resumed.nodes} == {info.master.zone}
    assert manager.get("moved").settings.zone == info.master.zone
