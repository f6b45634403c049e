"""Whatever comes back from EC2 tags is untrusted input (moto for EC2 semantics)."""

from __future__ import annotations

import json

import boto3
import pytest

from sclust.cluster import ClusterManager
from sclust.config import AwsSettings
from sclust.ec2 import EC2
from sclust.errors import SclustError
from sclust.inventory import find_clusters
from sclust.pluginrun import call
from sclust.progress import Progress
from sclust.state import ClusterSettings

SETTINGS = ClusterSettings(template="t", keyname="k", cluster_size=2, node_image_id="ami-1",
                           node_instance_type="t3.micro", master_image_id="ami-1",
                           master_instance_type="t3.micro")


@pytest.fixture
def cloud(moto_server: str) -> tuple[EC2, object]:
    client = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_server)
    return EC2(AwsSettings(region="us-east-1", endpoint_url=moto_server)), client


def group(client, tag: str, settings: ClusterSettings | None = SETTINGS,
          extra: dict[str, str] | None = None) -> str:
    vpc = client.describe_vpcs()["Vpcs"][0]["VpcId"]
    group_id = client.create_security_group(GroupName=f"@sc-{tag}"[:60], Description="x",
                                            VpcId=vpc)["GroupId"]
    tags = {"sclust:cluster": tag, **(settings.to_tags() if settings else {}), **(extra or {})}
    client.create_tags(Resources=[group_id], Tags=[{"Key": k, "Value": v}
                                                    for k, v in tags.items()])
    return group_id


def instance(client, tags: dict[str, str], group_id: str | None = None) -> str:
    kwargs = {"SecurityGroupIds": [group_id]} if group_id else {}
    run = client.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                               InstanceType="t3.micro", **kwargs)
    instance_id = run["Instances"][0]["InstanceId"]
    client.create_tags(Resources=[instance_id], Tags=[{"Key": k, "Value": v}
                                                       for k, v in tags.items()])
    return instance_id


def test_a_damaged_or_foreign_group_never_breaks_the_listing(cloud) -> None:
    ec2, client = cloud
    group(client, "trust-good")
    group(client, "bad name;id")
    group(client, "trust-damaged", settings=None, extra={"sclust:settings.0": "{not json"})
    found = {info.tag: info for info in find_clusters(ec2)}  # the server is shared: others too
    assert {"trust-good", "trust-damaged"} <= set(found) and "bad name;id" not in found
    assert found["trust-damaged"].settings is None
    assert found["trust-good"].settings is not None


def test_instances_sclust_did_not_launch_into_the_cluster_are_left_alone(cloud) -> None:
    ec2, client = cloud
    group_id = group(client, "trust-demo")
    master = instance(client, {"sclust:cluster": "trust-demo", "sclust:alias": "master",
                               "sclust:role": "master"}, group_id)
    stranger = instance(client, {"sclust:cluster": "trust-demo", "sclust:alias": "node001"})
    hostile = instance(client, {"sclust:cluster": "trust-demo", "sclust:alias": "node009$(id)"},
                       group_id)
    twin = instance(client, {"sclust:cluster": "trust-demo", "sclust:alias": "MASTER"}, group_id)
    [info] = find_clusters(ec2, "trust-demo")
    assert [n.instance_id for n in info.nodes] == [master]
    assert {f.split()[0] for f in info.foreign} == {stranger, hostile, twin}
    manager = ClusterManager(ec2, Progress(quiet=True))
    manager.terminate("trust-demo", plugins=False)
    states = {i["InstanceId"]: i["State"]["Name"]
              for r in client.describe_instances()["Reservations"] for i in r["Instances"]}
    assert states[master] == "terminated"
    assert {states[i] for i in (stranger, hostile, twin)} == {"running"}


@pytest.mark.parametrize("field, value", [
    ("cluster_user", "root;id"), ("login_user", "-oProxyCommand=x"),
    ("volumes", [{"name": "v", "volume_id": "vol-1", "mount_path": "/data$(id)"}]),
    ("dns_prefix", "yes"), ("slots_per_host", "4; id"), ("scheduler", "slurm$(id)"),
    ("permissions", [{"name": "w", "protocol": "tcp", "from_port": 80, "to_port": 80,
                      "cidr": "0.0.0.0/0 -j ACCEPT"}]),
    ("permissions", [{"name": "w", "protocol": "tcp", "from_port": "80$(id)", "to_port": 80,
                      "cidr": "0.0.0.0/0"}]),
    ("permissions", ["tcp:80"]),
])
def test_settings_tags_that_fail_the_configs_checks_are_refused(field: str, value) -> None:
    data = {**json.loads(json.dumps(SETTINGS.__dict__)), field: value}
    tampered = ClusterSettings.__new__(ClusterSettings)
    tampered.__dict__.update(data)
    with pytest.raises(SclustError, match="fail sclust's checks"):
        ClusterSettings.from_tags(tampered.to_tags(), "trust-demo")


def test_a_plugin_class_named_only_by_tags_is_never_imported() -> None:
    manager = ClusterManager(None, None, plugin_config=lambda name: None)  # type: ignore[arg-type]
    spec = manager.with_secrets({"name": "p", "setup_class": "antigravity.Fly",
                                 "settings": {}})
    outcome = call(spec, "run", [], None, None, "trust-demo", ("u", "bash", []))  # type: ignore[arg-type]
    assert "is not imported" in (outcome.error or "")
    import sys
    assert "antigravity" not in sys.modules
    builtin = manager.with_secrets({"name": "pk", "setup_class": "pkginstaller.PackageInstaller",
                                    "settings": {}})
    assert "refused" not in builtin
