"""EC2 semantics and faults against a moto server, faults injected with botocore hooks.

A before-send hook answers instead of the server, so the error goes through botocore's parser
and retry logic as a real one would (in-process moto would still run the call).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from botocore.awsrequest import AWSResponse

from sclust.cluster import ClusterManager
from sclust.config import AwsSettings, load_config
from sclust.ec2 import EC2
from sclust.errors import CloudError, SclustError
from sclust.inventory import find_clusters
from sclust.keys import public_key_openssh
from sclust.progress import Progress
from sclust.state import free_node_numbers
from tests.conftest import cluster_config


class RawBody:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self.body


def ec2_error(code: str, status: int = 400) -> AWSResponse:
    body = (f"<Response><Errors><Error><Code>{code}</Code><Message>injected {code}</Message>"
            f"</Error></Errors><RequestID>x</RequestID></Response>").encode()
    return AWSResponse("https://ec2", status, {}, RawBody(body))


class Faults:
    """Arm errors for an operation: the next N calls of it fail with CODE."""

    def __init__(self, cloud: EC2) -> None:
        self.armed: dict[str, list[tuple[str, int]]] = {}
        self.calls: dict[str, int] = {}
        cloud.client.meta.events.register("before-send.ec2.*", self.before_send)

    def arm(self, operation: str, code: str, times: int = 1, status: int = 400) -> None:
        self.armed.setdefault(operation, []).extend([(code, status)] * times)

    def before_send(self, request, event_name: str = "", **_: object):
        operation = event_name.rsplit(".", 1)[-1]
        self.calls[operation] = self.calls.get(operation, 0) + 1
        queue = self.armed.get(operation)
        if queue:
            code, status = queue.pop(0)
            return ec2_error(code, status)
        return None


@pytest.fixture
def cloud(moto_server: str) -> EC2:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    return EC2(AwsSettings(region="us-east-1", endpoint_url=moto_server))


@pytest.fixture
def manager(cloud: EC2) -> ClusterManager:
    return ClusterManager(cloud, Progress(quiet=True), timeout=30)


@pytest.fixture
def faults(cloud: EC2) -> Faults:
    return Faults(cloud)


def template_for(tmp_path: Path, key_file: Path, cloud: EC2, extra: str = "",
                 name: str = "small", size: int = 3):
    cloud.import_key_pair("mykey", public_key_openssh(key_file))
    return load_config(cluster_config(tmp_path, key_file, extra, size)).template(name)


def zones_of(manager: ClusterManager, tag: str) -> set[str]:
    return {n.zone for n in manager.get(tag).nodes}


def test_capacity_error_moves_the_cluster_to_another_zone(
    tmp_path, key_file, cloud, manager, faults
) -> None:
    template = template_for(tmp_path, key_file, cloud)
    faults.arm("RunInstances", "InsufficientInstanceCapacity")
    info = manager.start("c1", template, configure=False)
    zones = zones_of(manager, "c1")
    assert len(zones) == 1
    assert zones != {"us-east-1a"}
    assert info.settings.zone == zones.pop()
    # The saved settings follow the move, so `start -x` and addnode stay in that zone.
    assert manager.get("c1").settings.zone == info.settings.zone
    assert len(info.nodes) == 3


def test_capacity_error_for_nodes_tries_fallback_instance_types(
    tmp_path, key_file, cloud, manager, faults
) -> None:
    template = template_for(tmp_path, key_file, cloud,
                            extra="FALLBACK_INSTANCE_TYPES = m5.large, c5.large\n")
    info = manager.start("c2", template, configure=False)
    assert len(info.nodes) == 3
    faults.arm("RunInstances", "InsufficientInstanceCapacity", times=1)
    added = manager.add_nodes("c2", 2, [], configure=False)
    assert {n.instance_type for n in added} == {"m5.large"}


def test_throttling_is_retried(tmp_path, key_file, cloud, manager, faults) -> None:
    template = template_for(tmp_path, key_file, cloud)
    faults.arm("DescribeInstances", "RequestLimitExceeded", times=2, status=503)
    manager.start("c3", template, configure=False)
    assert faults.calls["DescribeInstances"] >= 3
    assert len(manager.get("c3").nodes) == 3


@pytest.mark.parametrize("code,advice", [
    ("InstanceLimitExceeded", "Service Quotas"),
    ("VcpuLimitExceeded", "vCPU limit"),
    ("InvalidAMIID.NotFound", "AMIs are per region"),
])
def test_limits_and_bad_amis_say_what_to_do(tmp_path, key_file, cloud, manager, faults,
                                            code, advice) -> None:
    template = template_for(tmp_path, key_file, cloud)
    faults.arm("RunInstances", code)
    with pytest.raises(CloudError) as raised:
        manager.start("c4", template, configure=False)
    assert code in str(raised.value) and advice in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_launch_failing_halfway_leaves_everything_tagged_and_resumable(
    tmp_path, key_file, cloud, manager, faults
) -> None:
    template = template_for(tmp_path, key_file, cloud, size=4)
    # The master launches; the nodes hit the instance limit.
    faults.calls.clear()
    original = faults.before_send

    def fail_second_launch(request, event_name: str = "", **kwargs):
        if faults.calls.get("RunInstances", 0) == 1 and event_name.endswith(".RunInstances"):
            faults.arm("RunInstances", "InstanceLimitExceeded")
        return original(request, event_name=event_name, **kwargs)

    faults.before_send = fail_second_launch  # type: ignore[method-assign]
    cloud.client.meta.events.unregister("before-send.ec2.*", original)
    cloud.client.meta.events.register("before-send.ec2.*", fail_second_launch)
    with pytest.raises(CloudError, match="InstanceLimitExceeded"):
        manager.start("half", template, configure=False)
    partial = manager.get("half")
    assert [n.alias for n in partial.nodes] == ["master"]
    # Every instance EC2 has carries the cluster tag: nothing orphaned.
    everything = cloud.client.describe_instances()["Reservations"]
    assert all(any(t["Key"] == "sclust:cluster" for t in i.get("Tags", []))
               for r in everything for i in r["Instances"])
    resumed = manager.resume("half", configure=False)
    assert [n.alias for n in [resumed.master, *resumed.workers]] == [
        "master", "node001", "node002", "node003"]
    manager.terminate("half")
    assert find_clusters(cloud, "half") == []


def test_security_group_deletion_waits_out_dependency_violation(
    tmp_path, key_file, cloud, manager, faults
) -> None:
    template = template_for(tmp_path, key_file, cloud)
    manager.start("dep", template, configure=False)
    faults.arm("DeleteSecurityGroup", "DependencyViolation", times=2)
    sleeps: list[float] = []
    cloud.sleep = sleeps.append
    manager.terminate("dep")
    assert len(sleeps) == 2
    assert find_clusters(cloud, "dep") == []


def test_key_pair_missing_or_not_matching(tmp_path, key_file, cloud, manager) -> None:
    template = load_config(cluster_config(tmp_path, key_file)).template()
    with pytest.raises(CloudError, match="does not exist in EC2 region us-east-1"):
        manager.start("k", template, configure=False)
    other = tmp_path / "other.pem"
    from tests.conftest import write_key

    cloud.import_key_pair("mykey", public_key_openssh(write_key(other)))
    with pytest.raises(CloudError, match="is not the private key of EC2 key pair 'mykey'"):
        manager.start("k", template, configure=False)
    assert find_clusters(cloud, "k") == []


def test_spot_nodes_with_on_demand_master_and_stop_refuses_them(
    tmp_path, key_file, cloud, manager
) -> None:
    template = template_for(tmp_path, key_file, cloud, extra="SPOT_BID = 0.05\n")
    info = manager.start("spot", template, configure=False)
    assert info.master.spot is False
    assert all(n.spot for n in info.workers)
    with pytest.raises(SclustError, match="stop -t spot"):
        manager.stop("spot")
    stopped = manager.stop("spot", terminate_unstoppable=True)
    assert [n.state for n in stopped.nodes] == ["stopped"]


def test_volumes_attach_to_the_master_and_survive_terminate(
    tmp_path, key_file, cloud, manager
) -> None:
    volume = cloud.client.create_volume(AvailabilityZone="us-east-1c", Size=10)["VolumeId"]
    template = template_for(tmp_path, key_file, cloud, extra=f"""
        VOLUMES = data
        [volume data]
        VOLUME_ID = {volume}
        MOUNT_PATH = /data
        """)
    info = manager.start("vol", template, configure=False)
    assert zones_of(manager, "vol") == {"us-east-1c"}
    attachments = cloud.describe_volumes([volume])[0].attachments
    assert attachments[0].instance_id == info.master.instance_id
    assert manager.terminate("vol") == [volume]
    assert cloud.describe_volumes([volume])[0].volume_id == volume


def test_volumes_in_two_zones_are_refused_before_anything_is_made(
    tmp_path, key_file, cloud, manager
) -> None:
    a = cloud.client.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    b = cloud.client.create_volume(AvailabilityZone="us-east-1b", Size=1)["VolumeId"]
    template = template_for(tmp_path, key_file, cloud, extra=f"""
        VOLUMES = a, b
        [volume a]
        VOLUME_ID = {a}
        MOUNT_PATH = /a
        [volume b]
        VOLUME_ID = {b}
        MOUNT_PATH = /b
        """)
    with pytest.raises(SclustError, match="must all be in one zone"):
        manager.start("two", template, configure=False)
    assert find_clusters(cloud) == []


def test_dns_prefix_names_and_settings_survive_on_ec2(tmp_path, key_file, cloud, manager):
    template = template_for(tmp_path, key_file, cloud, extra="DNS_PREFIX = True\n", size=4)
    manager.start("pfx", template, configure=False)
    reservations = cloud.client.describe_instances()["Reservations"]
    names = sorted(t["Value"] for r in reservations for i in r["Instances"]
                   for t in i["Tags"] if t["Key"] == "Name")
    assert names[0] == "pfx-master" and names[1].startswith("pfx-node001")
    settings = manager.get("pfx").settings
    assert settings.template == "small" and settings.dns_prefix and settings.cluster_size == 4


def test_node_numbers_reuse_gaps_and_go_past_999() -> None:
    assert free_node_numbers(["master", "node001", "node003"], 1) == [2]
    assert free_node_numbers(["master", "node001", "node003"], 2) == [4, 5]
    used = [f"node{n:03d}" for n in range(1, 1000)]
    assert free_node_numbers(used, 2) == [1000, 1001]


def test_removenode_keep_takes_the_instance_out_of_the_cluster(
    tmp_path, key_file, cloud, manager
) -> None:
    template = template_for(tmp_path, key_file, cloud)
    info = manager.start("keep", template, configure=False)
    kept = manager.remove_nodes("keep", ["node002"], 0, keep=True, configure=False)[0]
    assert [n.alias for n in manager.get("keep").nodes if not n.is_master] == ["node001"]
    instance = cloud.client.describe_instances(InstanceIds=[kept.instance_id])[
        "Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "running"
    assert info.security_group_id not in [g["GroupId"] for g in instance["SecurityGroups"]]
    manager.terminate("keep")
    assert find_clusters(cloud, "keep") == []


def test_a_wait_that_times_out_names_the_nodes_it_waited_for(
    tmp_path, key_file, cloud, manager
) -> None:
    from sclust.errors import WaitTimeout
    template = template_for(tmp_path, key_file, cloud)
    info = manager.start("slow", template, configure=False)
    manager.timeout = 0.3
    cloud.sleep = lambda _: None
    with pytest.raises(WaitTimeout) as raised:
        manager.wait_for([n.instance_id for n in info.nodes], "stopped")
    message = str(raised.value)
    assert "timed out after 0 s waiting for 3 instance(s) to be stopped" in message
    assert all(f"{alias} (" in message for alias in ("master", "node001", "node002"))


def test_endpoint_garbage_is_one_line_not_a_traceback(config_file: Path) -> None:
    from tests.conftest import free_port, run_sclust

    # Nothing listens there: connection refused must read as one line.
    url = f"http://127.0.0.1:{free_port()}"
    result = run_sclust("-c", str(config_file), "listclusters",
                        env={"AWS_ENDPOINT_URL": url, "AWS_MAX_ATTEMPTS": "2"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("sclust: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
