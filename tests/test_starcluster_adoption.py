# ruff: noqa: F811  (the fixtures imported below are parameters of the tests)
"""Clusters StarCluster started (issue 13 item 6), made on moto exactly as StarCluster 0.95
leaves them: security group `@sc-TAG` with `@sc-core`/`@sc-user` settings tags (zlib JSON in
base64, 255-character chunks), instances in it tagged `alias` and `Name`. They are listed,
adopted on first use, and stop/start -x/addnode/removenode/terminate work on them."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from sclust.adoption import TAG_ADOPTED, chunked, decoded, find_starcluster
from sclust.cli import main
from sclust.errors import SclustError
from sclust.keys import public_key_openssh
from sclust.state import TAG_CLUSTER
from tests.conftest import cluster_config
from tests.test_ec2_faults import (  # noqa: F401  (cloud, manager: fixtures)
    cloud,
    manager,
)


def encoded(settings: dict, chunk: int = 255) -> list[str]:
    """StarCluster's utils.dump_compress_encode(…, use_json=True, chunk_size=255)."""
    text = base64.encodebytes(zlib.compress(json.dumps(settings).encode())).decode()
    return [text[i:i + chunk] for i in range(0, len(text), chunk)]


def chunk_tags(base: str, chunks: list[str]) -> list[dict[str, str]]:
    return [{"Key": base if i == 0 else f"{base}-{i}", "Value": c} for i, c in enumerate(chunks)]


CORE = {"cluster_size": 2, "master_image_id": None, "master_instance_type": None,
        "node_image_id": "ami-12345678", "node_instance_type": "m1.small",
        "availability_zone": None, "dns_prefix": False, "subnet_id": None,
        "public_ips": None, "disable_queue": False, "disable_cloudinit": False}
USER = {"cluster_user": "sgeadmin", "cluster_shell": "bash", "keyname": "mykey",
        "spot_bid": None}


def starcluster_start(cloud, tag: str, size: int = 2, core: dict | None = None,
                      prefix: bool = False, extra_tags: list[dict[str, str]] | None = None
                      ) -> list[str]:
    """What `starcluster start TAG` leaves on EC2 (groups, tags, instances), without SSH."""
    client = cloud.client
    group_id = client.create_security_group(GroupName=f"@sc-{tag}",
                                            Description="StarCluster-0.95.6 group")["GroupId"]
    tags = [{"Key": "@sc-version", "Value": "0.95.6"}, *chunk_tags("@sc-core", encoded(
        core or CORE)), *chunk_tags("@sc-user", encoded(USER)), *(extra_tags or [])]
    client.create_tags(Resources=[group_id], Tags=tags)
    ids = []
    for index in range(size):
        alias = "master" if index == 0 else f"node{index:03d}"
        alias = f"{tag}-{alias}" if prefix else alias
        reply = client.run_instances(ImageId="ami-12345678", InstanceType="m1.small",
                                     MinCount=1, MaxCount=1, KeyName="mykey",
                                     SecurityGroupIds=[group_id])
        instance_id = reply["Instances"][0]["InstanceId"]
        client.create_tags(Resources=[instance_id], Tags=[{"Key": "alias", "Value": alias},
                                                          {"Key": "Name", "Value": alias}])
        ids.append(instance_id)
    return ids


@pytest.fixture
def keyed(cloud, key_file: Path):
    cloud.import_key_pair("mykey", public_key_openssh(key_file))
    return cloud


def group_tags(cloud, tag: str) -> dict[str, str]:
    group = cloud.client.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"@sc-{tag}"]}])["SecurityGroups"][0]
    return {t["Key"]: t["Value"] for t in group.get("Tags", [])}


def test_starcluster_clusters_are_listed_without_being_touched(keyed, manager) -> None:
    starcluster_start(keyed, "legacy", size=3)
    listed = {c.tag: c for c in manager.list_clusters()}
    info = listed["legacy"]
    assert info.master is not None and [n.alias for n in info.workers] == ["node001", "node002"]
    assert info.settings.template == "starcluster" and info.settings.cluster_size == 2
    assert info.settings.keyname == "mykey" and info.settings.login_user == "root"
    assert info.settings.master_image_id == "ami-12345678"
    # Listing recorded nothing: the group is still StarCluster's alone.
    assert TAG_CLUSTER not in group_tags(keyed, "legacy")
    assert manager.get("legacy", adopt=False).tag == "legacy"
    assert TAG_CLUSTER not in group_tags(keyed, "legacy")


def test_first_use_adopts_then_stop_start_add_remove_terminate(keyed, manager) -> None:
    ids = starcluster_start(keyed, "old", size=2)
    manager.stop("old")
    tags = group_tags(keyed, "old")
    assert tags[TAG_CLUSTER] == "old" and tags[TAG_ADOPTED] == "starcluster"
    assert {n.state for n in manager.get("old").nodes} <= {"stopping", "stopped"}
    # Found as sclust's own cluster now, nodes tagged with their StarCluster aliases.
    info = manager.get("old")
    assert sorted(n.alias for n in info.nodes) == ["master", "node001"]
    assert info.settings.subnet_id  # from the master: nodes launch beside it
    assert [c.tag for c in manager.list_clusters()].count("old") == 1
    manager.resume("old", configure=False)
    assert {n.state for n in manager.get("old").nodes} == {"running"}
    added = manager.add_nodes("old", 1, [], configure=False)
    assert [n.alias for n in added] == ["node002"]
    group = manager.get("old").security_group_id
    described = keyed.describe_instances([added[0].instance_id])[0]
    assert group in described.security_groups
    manager.remove_nodes("old", ["node002"], 0, keep=False, configure=False)
    assert sorted(n.alias for n in manager.get("old").nodes) == ["master", "node001"]
    manager.terminate("old")
    assert {i.state for i in keyed.describe_instances(ids)} <= {"shutting-down", "terminated"}
    assert keyed.client.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["@sc-old"]}])["SecurityGroups"] == []


def test_dns_prefix_aliases_and_the_cli(keyed, manager, tmp_path, key_file,
                                        monkeypatch) -> None:
    starcluster_start(keyed, "pre", size=2, core={**CORE, "dns_prefix": True}, prefix=True)
    monkeypatch.setenv("AWS_ENDPOINT_URL", keyed.client.meta.endpoint_url)
    config = cluster_config(tmp_path, key_file)
    result = CliRunner().invoke(main, ["-c", str(config), "listclusters", "--json"])
    assert result.exit_code == 0, result.output
    listed = {c["tag"]: c for c in json.loads(result.output)}
    assert [n["alias"] for n in listed["pre"]["nodes"]] == ["master", "node001"]
    assert listed["pre"]["template"] == "starcluster"
    result = CliRunner().invoke(main, ["-c", str(config), "stop", "pre", "-y"])
    assert result.exit_code == 0, result.output
    names = {i.tags["sclust:alias"]: i.tags["Name"] for i in keyed.find_instances(TAG_CLUSTER,
                                                                                  "pre")}
    assert names == {"master": "pre-master", "node001": "pre-node001"}


def test_volume_creator_group_and_bad_names_are_not_clusters(keyed, manager) -> None:
    keyed.client.create_security_group(GroupName="@sc-volumecreator", Description="x")
    keyed.client.create_security_group(GroupName="@sc-bad_name!", Description="x")
    assert [c.tag for c in manager.list_clusters()] == []


def test_damaged_or_hostile_settings_are_refused(keyed, manager) -> None:
    bomb = base64.encodebytes(zlib.compress(b"{" + b" " * 10_000_000 + b"}")).decode()
    starcluster_start(keyed, "bomb", size=1, extra_tags=[])
    group = keyed.client.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["@sc-bomb"]}])["SecurityGroups"][0]
    keyed.client.delete_tags(Resources=[group["GroupId"]],
                             Tags=[{"Key": k} for k in group_tags(keyed, "bomb")
                                   if k.startswith("@sc-core")])
    keyed.client.create_tags(Resources=[group["GroupId"]],
                             Tags=chunk_tags("@sc-core", [bomb[i:i + 255]
                                                          for i in range(0, len(bomb), 255)]
                                             )[:40])
    info = {c.tag: c for c in manager.list_clusters()}["bomb"]
    assert info.settings is None  # listed, with a warning, never acted on
    with pytest.raises(SclustError, match="no usable settings"):
        manager.stop("bomb")
    # A value that would reach a script: refused like a config's.
    starcluster_start(keyed, "evil", size=1, core={**CORE, "node_instance_type": "m1;rm -rf"})
    assert {c.tag: c for c in manager.list_clusters()}["evil"].settings is None
    with pytest.raises(ValueError):
        decoded(base64.b64encode(zlib.compress(b"x" * 200_000)).decode())


def test_chunks_join_in_number_order_not_text_order() -> None:
    text = "".join(f"{i:02d}" for i in range(12))
    tags = {"@sc-core" if i == 0 else f"@sc-core-{i}": f"{i:02d}" for i in range(12)}
    assert chunked(tags, "@sc-core") == text  # StarCluster's sort put -10 before -2
    del tags["@sc-core-3"]
    with pytest.raises(ValueError, match="gaps"):
        chunked(tags, "@sc-core")


def test_instances_outside_the_group_or_with_bad_aliases_are_foreign(keyed, manager) -> None:
    ids = starcluster_start(keyed, "mix", size=2)
    keyed.client.create_tags(Resources=[ids[1]], Tags=[{"Key": "alias", "Value": "-x"}])
    found = find_starcluster(keyed, "mix")[0]
    assert [n.alias for _, n in found.nodes] == ["master"]
    assert found.foreign and ids[1] in found.foreign[0]
