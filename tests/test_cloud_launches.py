# ruff: noqa: F811  (the fixtures imported below are parameters of the tests)
"""What launches leave on EC2 (moto): names, aliases, user data, root disks, public addresses,
instances found by id; and the one instance waiter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sclust.errors import ConfigError, SclustError, WaitTimeout
from tests.test_ec2_faults import (  # noqa: F401  (cloud, faults, manager: fixtures)
    Faults,
    cloud,
    faults,
    manager,
    template_for,
)


def described(cloud, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    reservations = cloud.client.describe_instances(InstanceIds=instance_ids)["Reservations"]
    return {i["InstanceId"]: i for r in reservations for i in r["Instances"]}


def name_tags(cloud, instance_ids: list[str]) -> dict[str, str]:
    return {i: {t["Key"]: t["Value"] for t in d.get("Tags", [])}.get("Name", "")
            for i, d in described(cloud, instance_ids).items()}


def user_data(cloud, instance_id: str) -> str:
    import base64

    reply = cloud.client.describe_instance_attribute(InstanceId=instance_id,
                                                     Attribute="userData")
    return base64.b64decode(reply.get("UserData", {}).get("Value", "")).decode()


def test_every_instance_gets_its_own_name_tag(tmp_path, key_file, cloud, manager) -> None:
    template = template_for(tmp_path, key_file, cloud, extra="DNS_PREFIX = True\n", size=4)
    info = manager.start("named", template, configure=False)
    names = name_tags(cloud, [n.instance_id for n in info.nodes])
    assert sorted(names.values()) == ["named-master", "named-node001", "named-node002",
                                      "named-node003"]


def test_addnode_custom_aliases_survive_and_never_clash(
    tmp_path, key_file, cloud, manager
) -> None:
    manager.start("al", template_for(tmp_path, key_file, cloud, size=2), configure=False)
    added = manager.add_nodes("al", 2, ["gpua", "gpub"], configure=False)
    assert sorted(n.alias for n in added) == ["gpua", "gpub"]
    assert sorted(n.alias for n in manager.get("al").nodes) == [
        "gpua", "gpub", "master", "node001"]
    assert sorted(name_tags(cloud, [n.instance_id for n in added]).values()) == ["gpua", "gpub"]
    # Numbered nodes go around them; a taken alias is refused.
    more = manager.add_nodes("al", 2, [], configure=False)
    assert sorted(n.alias for n in more) == ["node002", "node003"]
    with pytest.raises(SclustError, match="already has node"):
        manager.add_nodes("al", 1, ["gpub"], configure=False)
    aliases = [n.alias for n in manager.get("al").nodes]
    assert len(aliases) == len(set(aliases)) == 6


def test_a_launch_of_custom_aliases_is_named_before_its_own_tags_land() -> None:
    from sclust.cloud import Instance
    from sclust.inventory import node_from
    from sclust.state import TAG_ALIASES, TAG_CLUSTER

    def instance(index: int) -> Instance:
        return Instance(f"i-{index}", "pending", "t3.micro", "ami-1", "us-east-1a", None, None,
                        False, None, launch_index=index,
                        tags={TAG_CLUSTER: "c", TAG_ALIASES: "gpua,gpub"})

    assert [node_from(instance(i)).alias for i in (0, 1)] == ["gpua", "gpub"]


def test_userdata_scripts_reach_every_launch(
    tmp_path: Path, key_file, cloud, manager
) -> None:
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\necho hello > /tmp/hello\n")
    template = template_for(tmp_path, key_file, cloud, size=3,
                            extra=f"USERDATA_SCRIPTS = {script}\n")
    info = manager.start("ud", template, configure=False)
    assert {user_data(cloud, n.instance_id) for n in info.nodes} == {script.read_text()}
    added = manager.add_nodes("ud", 1, [], configure=False)
    assert user_data(cloud, added[0].instance_id) == script.read_text()
    # start -x replaces a lost node: with the user data too.
    lost = info.workers[0].instance_id
    cloud.client.terminate_instances(InstanceIds=[lost, added[0].instance_id])
    resumed = manager.resume("ud", configure=False)
    fresh = [n for n in resumed.nodes if n.instance_id not in
             {lost, added[0].instance_id} | {n.instance_id for n in info.nodes}]
    assert len(fresh) == 1 and user_data(cloud, fresh[0].instance_id) == script.read_text()


def test_disable_cloudinit_with_userdata_scripts_is_refused(
    tmp_path: Path, key_file, cloud, manager
) -> None:
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\n")
    template = template_for(tmp_path, key_file, cloud,
                            extra=f"USERDATA_SCRIPTS = {script}\nDISABLE_CLOUDINIT = True\n")
    with pytest.raises(ConfigError, match="cloud-init"):
        manager.start("nci", template, configure=False)
    assert manager.list_clusters() == []


class HideFreshInstances:
    """EC2's eventual consistency: a lookup by tag right after RunInstances misses the
    instances it launched (a lookup by id finds them)."""

    def __init__(self, cloud) -> None:
        self.fresh: set[str] = set()
        self.by_filter = False
        events = cloud.client.meta.events
        events.register("after-call.ec2.RunInstances", self.launched)
        events.register("before-call.ec2.DescribeInstances", self.asked)
        events.register("after-call.ec2.DescribeInstances", self.answer)

    def launched(self, parsed: dict, **_: object) -> None:
        self.fresh |= {i["InstanceId"] for i in parsed.get("Instances", [])}

    def asked(self, params: dict, **_: object) -> None:
        self.by_filter = "InstanceIds" not in params

    def answer(self, parsed: dict, **_: object) -> None:
        if not self.by_filter:
            return
        for reservation in parsed.get("Reservations", []):
            reservation["Instances"] = [i for i in reservation["Instances"]
                                        if i["InstanceId"] not in self.fresh]
        self.fresh.clear()  # visible to the next lookup


def test_launched_instances_are_kept_by_id_not_refound_by_tag(
    tmp_path, key_file, cloud, manager
) -> None:
    HideFreshInstances(cloud)
    info = manager.start("fresh", template_for(tmp_path, key_file, cloud, size=3),
                         configure=False)
    assert sorted(n.alias for n in info.nodes) == ["master", "node001", "node002"]
    assert info.master is not None and all(n.address for n in info.nodes)
    added = manager.add_nodes("fresh", 2, [], configure=False)
    assert sorted(n.alias for n in added) == ["node003", "node004"]


def test_root_volume_size_resizes_the_images_own_root_device(
    tmp_path, key_file, cloud, manager
) -> None:
    image = cloud.client.register_image(Name="amazon-linux-like", RootDeviceName="/dev/xvda")
    image_id = image["ImageId"]

    def root_is_xvda(parsed: dict, **_: object) -> None:  # moto always says /dev/sda1
        for found in parsed.get("Images", []):
            found["RootDeviceName"] = "/dev/xvda"

    cloud.client.meta.events.register("after-call.ec2.DescribeImages", root_is_xvda)
    template = template_for(tmp_path, key_file, cloud, size=2, extra="ROOT_VOLUME_SIZE = 30\n")
    template.node_image_id = template.master_image_id = image_id
    info = manager.start("xvda", template, configure=False)
    for instance in described(cloud, [n.instance_id for n in info.nodes]).values():
        assert [m["DeviceName"] for m in instance["BlockDeviceMappings"]] == ["/dev/xvda"]


def test_public_ips_false_gives_none_and_nodes_are_reached_privately(
    tmp_path, key_file, cloud, manager
) -> None:
    template = template_for(tmp_path, key_file, cloud, extra="PUBLIC_IPS = False\n")
    info = manager.start("private", template, configure=False)
    assert len(info.nodes) == 3
    assert all(n.public_ip is None and n.address == n.private_ip for n in info.nodes)
    added = manager.add_nodes("private", 1, [], configure=False)
    assert added[0].public_ip is None


def test_public_ips_true_gives_them_in_a_subnet_that_does_not(
    tmp_path, key_file, cloud, manager
) -> None:
    for subnet in cloud.client.describe_subnets()["Subnets"]:
        cloud.client.modify_subnet_attribute(SubnetId=subnet["SubnetId"],
                                             MapPublicIpOnLaunch={"Value": False})
    template = template_for(tmp_path, key_file, cloud, extra="PUBLIC_IPS = True\n")
    info = manager.start("public", template, configure=False)
    assert len(info.nodes) == 3 and all(n.public_ip for n in info.nodes)


def test_the_waiter_waits_out_instances_ec2_does_not_show_yet(
    tmp_path, key_file, cloud, manager, faults: Faults
) -> None:
    info = manager.start("nf", template_for(tmp_path, key_file, cloud), configure=False)
    ids = [n.instance_id for n in info.nodes]
    faults.arm("DescribeInstances", "InvalidInstanceID.NotFound")
    nodes = manager.wait_for(ids, "running")
    assert sorted(n.alias for n in nodes) == ["master", "node001", "node002"]


def test_the_waiter_names_laggards_and_keeps_to_refresh_interval(
    tmp_path, key_file, cloud, manager
) -> None:
    info = manager.start("lag", template_for(tmp_path, key_file, cloud), configure=False)
    sleeps: list[float] = []
    cloud.sleep = sleeps.append
    manager.timeout, manager.refresh_interval = 0.3, 1.0
    ids = [n.instance_id for n in info.nodes] + ["i-0123456789abcdef0"]
    with pytest.raises(WaitTimeout) as raised:
        manager.wait_for(ids, "stopped")
    message = str(raised.value)
    for node in info.nodes:
        assert f"{node.alias} ({node.instance_id}: running)" in message
    assert "i-0123456789abcdef0 (not found yet)" in message
    assert sleeps and max(sleeps) <= 1.0


def test_root_volume_size_on_an_image_the_endpoint_does_not_list_keeps_sda1(
    tmp_path, key_file, cloud, manager
) -> None:
    # The local cloud (and moto) accept image ids DescribeImages does not know.
    template = template_for(tmp_path, key_file, cloud, size=1, extra="ROOT_VOLUME_SIZE = 20\n")
    info = manager.start("unlisted", template, configure=False)
    instance = described(cloud, [info.nodes[0].instance_id])[info.nodes[0].instance_id]
    assert [m["DeviceName"] for m in instance["BlockDeviceMappings"]] == ["/dev/sda1"]
