# ruff: noqa: F811  (the fixtures imported below are parameters of the tests)
"""IAM_PROFILE and EFS on EC2 semantics (moto): a missing profile is created with a role that
may what the template's s3mount plugins need, passed at launch, and removed with the cluster;
an existing one is used and left alone. EFS: a mount target in the cluster's zone joins the
cluster's group, which lets NFS (2049) in from itself; terminate deletes what sclust made (and
only that) before the group; a file system that does not exist stops the start before any
launch. Config mistakes name file, line and key."""

from __future__ import annotations

import json

import boto3
import pytest

from sclust.config import load_config
from sclust.errors import CloudError, ConfigError
from tests.conftest import cluster_config
from tests.test_ec2_faults import cloud, manager, template_for  # noqa: F401

DATA_PLUGINS = """\
    IAM_PROFILE = small-data
    PLUGINS = shared, scratch

    [plugin shared]
    SETUP_CLASS = s3mount.S3Mount
    BUCKET = course-data

    [plugin scratch]
    SETUP_CLASS = s3mount.S3Mount
    BUCKET = course-scratch
    READ_ONLY = False
    """


def client(cloud, service: str):
    return boto3.client(service, region_name="us-east-1", endpoint_url=cloud.aws.endpoint_url)


def profiles_of(cloud, instance_ids: list[str]) -> set[str]:
    reservations = cloud.client.describe_instances(InstanceIds=instance_ids)["Reservations"]
    return {i.get("IamInstanceProfile", {}).get("Arn", "") for r in reservations
            for i in r["Instances"]}


def test_a_missing_profile_is_made_for_the_data_plugins_and_removed_with_the_cluster(
        tmp_path, key_file, cloud, manager) -> None:
    template = template_for(tmp_path, key_file, cloud, DATA_PLUGINS, size=2)
    info = manager.start("small", template, configure=False)
    iam = client(cloud, "iam")
    profile = iam.get_instance_profile(InstanceProfileName="small-data")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["small-data"]
    assert {"Key": "sclust:created-for", "Value": "cluster small"} in profile["Tags"]
    policy = iam.get_role_policy(RoleName="small-data", PolicyName="sclust-data")
    statements = policy["PolicyDocument"]["Statement"]
    document = json.dumps(statements)
    assert "arn:aws:s3:::course-data/*" in document and "arn:aws:s3:::course-scratch/*" in document
    writes = {s["Resource"] for s in statements if "s3:PutObject" in s["Action"]}
    assert writes == {"arn:aws:s3:::course-scratch/*"}
    assert profiles_of(cloud, [n.instance_id for n in info.nodes]) == {profile["Arn"]}

    manager.terminate("small", plugins=False)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_instance_profile(InstanceProfileName="small-data")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="small-data")


def test_an_existing_profile_is_used_as_it_is_and_kept(tmp_path, key_file, cloud,
                                                      manager) -> None:
    iam = client(cloud, "iam")
    arn = iam.create_instance_profile(InstanceProfileName="small-data")["InstanceProfile"]["Arn"]
    template = template_for(tmp_path, key_file, cloud, DATA_PLUGINS, size=1)
    info = manager.start("small", template, configure=False)
    assert profiles_of(cloud, [n.instance_id for n in info.nodes]) == {arn}
    assert iam.get_instance_profile(InstanceProfileName="small-data")["InstanceProfile"][
        "Roles"] == []  # not changed
    manager.terminate("small", plugins=False)
    assert iam.get_instance_profile(InstanceProfileName="small-data")


def test_efs_gets_a_mount_target_in_the_cluster_group_and_loses_it_at_terminate(
        tmp_path, key_file, cloud, manager) -> None:
    efs = client(cloud, "efs")
    fs_id = efs.create_file_system(CreationToken="home")["FileSystemId"]
    template = template_for(tmp_path, key_file, cloud, f"EFS = {fs_id}:/home\n", size=2)
    info = manager.start("small", template, configure=False)
    [target] = efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
    assert target["AvailabilityZoneName"] == info.settings.zone
    assert target["SubnetId"] == info.settings.subnet_id
    groups = efs.describe_mount_target_security_groups(
        MountTargetId=target["MountTargetId"])["SecurityGroups"]
    assert groups == [info.security_group_id]
    [group] = cloud.client.describe_security_groups(
        GroupIds=[info.security_group_id])["SecurityGroups"]
    nfs = [p for p in group["IpPermissions"] if p.get("FromPort") == 2049]
    assert nfs and nfs[0]["IpProtocol"] == "tcp" and nfs[0]["ToPort"] == 2049
    assert [g["GroupId"] for g in nfs[0]["UserIdGroupPairs"]] == [info.security_group_id]
    assert info.settings.efs == [f"{fs_id}:/home"]

    manager.terminate("small", plugins=False)
    assert efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"] == []
    assert cloud.find_security_groups("sclust:cluster", "small") == []
    assert efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"]  # the data stays


def test_an_existing_mount_target_is_shared_and_kept(tmp_path, key_file, cloud,
                                                     manager) -> None:
    efs = client(cloud, "efs")
    fs_id = efs.create_file_system(CreationToken="data")["FileSystemId"]
    subnet = cloud.default_subnets("us-east-1a")[0]
    theirs = cloud.client.create_security_group(GroupName="nfs", Description="theirs",
                                                VpcId=subnet.vpc_id)["GroupId"]
    target = efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnet.subnet_id,
                                     SecurityGroups=[theirs])["MountTargetId"]
    template = template_for(tmp_path, key_file, cloud,
                            f"EFS = {fs_id}:/shared\nAVAILABILITY_ZONE = us-east-1a\n", size=1)
    info = manager.start("small", template, configure=False)
    assert efs.describe_mount_target_security_groups(MountTargetId=target)[
        "SecurityGroups"] == [theirs, info.security_group_id]
    manager.terminate("small", plugins=False)
    assert efs.describe_mount_target_security_groups(MountTargetId=target)[
        "SecurityGroups"] == [theirs]


def test_an_efs_that_does_not_exist_stops_the_start_before_any_launch(
        tmp_path, key_file, cloud, manager) -> None:
    template = template_for(tmp_path, key_file, cloud, "EFS = fs-0123abcd:/home\n", size=1)
    with pytest.raises(CloudError, match="EFS file system fs-0123abcd does not exist"):
        manager.start("small", template, configure=False)
    assert cloud.find_instances("sclust:cluster", "small") == []


@pytest.mark.parametrize(("line", "message"), [
    ("IAM_PROFILE = bad/name", "IAM_PROFILE: 'bad/name' is not an IAM name"),
    ("EFS = fs-0123abcd", "EFS: 'fs-0123abcd' is not FILE_SYSTEM_ID:PATH"),
    ("EFS = fs-0123abcd:/home, fs-0456abcd:/home", "EFS: /home is given twice"),
])
def test_config_mistakes_name_the_key(tmp_path, key_file, line: str, message: str) -> None:
    config = load_config(cluster_config(tmp_path, key_file, line + "\n"))
    with pytest.raises(ConfigError) as error:
        config.template("small", check_key_file=False)
    assert message in str(error.value) and f"{tmp_path / 'config'}:" in str(error.value)


def test_nodes_mount_efs_before_homes_are_made_and_the_master_does_not_export_it(
        tmp_path) -> None:
    import subprocess

    from sclust.scripts import rendered
    from tests.test_cluster_scripts import SHELLCHECK, capture, node, settings

    shared = settings()
    shared.efs = ["fs-0123abcd:/home"]
    shared.zone = "us-west-2b"
    master, first = node("master", 0), node("node001", 1)
    setup = capture([master, first], shared)
    setup.setup()
    for alias in ("master", "node001"):
        run = [r for a, r in setup.sent if a == alias and "efs_paths" in r.inputs][0]
        steps = [s.path.rsplit("/", 1)[-1] for s in run.steps]
        assert steps.index("efs-mount.sh") < steps.index("user.sh")
        assert run.inputs["efs_hosts"] == "fs-0123abcd.efs.us-west-2.amazonaws.com\n"
        assert run.inputs["efs_paths"] == "/home\n"
        script = tmp_path / f"{alias}.sh"
        script.write_text(rendered(run))
        assert SHELLCHECK
        assert subprocess.run([SHELLCHECK, "-s", "bash", str(script)]).returncode == 0
    master_run = [r for a, r in setup.sent if a == "master" and "shared_paths" in r.inputs][0]
    assert "/home" not in master_run.inputs["shared_paths"].splitlines()
    assert "/data" in master_run.inputs["shared_paths"].splitlines()
    node_run = [r for a, r in setup.sent if a == "node001" and "nfs_paths" in r.inputs][0]
    assert "/home" not in node_run.inputs["nfs_paths"].splitlines()
