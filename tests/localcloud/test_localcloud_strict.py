"""As hard as AWS: what EC2 refuses is refused with EC2's codes, new instances are not at once
visible (eventual consistency), images differ in who may log in and their root device, a
non-default subnet gives no public address, and faults can be injected into a live cloud."""

from __future__ import annotations

import socket
import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from localcloud_helpers import (
    AMAZON_IMAGE,
    IMAGE,
    UBUNTU_IMAGE,
    Ssh,
    describe,
    launch,
    ssh_to,
    strictness,
    terminate,
    wait_state,
)

from sclust.localcloud import control
from sclust.localcloud.cli import local


def code_of(call, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    return error.value.response["Error"]["Code"]


def no_retry_client(cloud):  # type: ignore[no-untyped-def]
    return boto3.client("ec2", endpoint_url=cloud.url, region_name="us-east-1",
                        aws_access_key_id=cloud.access_key,
                        aws_secret_access_key=cloud.secret_key,
                        config=botocore.config.Config(retries={"mode": "standard",
                                                               "max_attempts": 1}))


def test_run_instances_refuses_what_does_not_exist(cloud):
    run = cloud.ec2.run_instances
    base = {"ImageId": IMAGE, "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1,
            "KeyName": cloud.key_name, "SubnetId": cloud.subnet_id}
    assert code_of(run, **{**base, "KeyName": "no-such-key"}) == "InvalidKeyPair.NotFound"
    assert code_of(run, **{**base, "ImageId": "ami-0123456789abcdef0"}) == \
        "InvalidAMIID.NotFound"
    assert code_of(run, **{**base, "ImageId": "ami-BAD!"}) == "InvalidAMIID.Malformed"
    assert code_of(run, **{**base, "InstanceType": "t3.gigantic"}) == "InvalidParameterValue"
    assert code_of(run, **{**base, "SubnetId": "subnet-0123456789abcdef0"}) == \
        "InvalidSubnetID.NotFound"
    assert not [i for r in cloud.ec2.describe_instances(Filters=[
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
        for i in r["Instances"] if i["ImageId"] == "ami-0123456789abcdef0"]
    with strictness(cloud, validation=False):  # switchable: the old, lenient behaviour
        [instance] = launch(cloud, ImageId="ami-12345678")
    terminate(cloud, [instance])


def test_volumes_of_another_zone_or_already_attached_are_refused(cloud):
    [instance] = launch(cloud)
    other_zone = "us-east-1b" if cloud.zone != "us-east-1b" else "us-east-1c"
    far = cloud.ec2.create_volume(Size=1, AvailabilityZone=other_zone)["VolumeId"]
    near = cloud.ec2.create_volume(Size=1, AvailabilityZone=cloud.zone)["VolumeId"]
    try:
        assert code_of(cloud.ec2.attach_volume, VolumeId=far, InstanceId=instance["InstanceId"],
                       Device="/dev/sdf") == "InvalidVolume.ZoneMismatch"
        cloud.ec2.attach_volume(VolumeId=near, InstanceId=instance["InstanceId"],
                                Device="/dev/sdf")
        assert code_of(cloud.ec2.attach_volume, VolumeId=near,
                       InstanceId=instance["InstanceId"], Device="/dev/sdg") == "VolumeInUse"
    finally:
        terminate(cloud, [instance])
        cloud.ec2.delete_volume(VolumeId=far)
        cloud.ec2.delete_volume(VolumeId=near)


def test_new_instances_are_eventually_consistent(cloud):
    with strictness(cloud, consistency_delay=2.0):
        response = cloud.ec2.run_instances(
            ImageId=IMAGE, InstanceType="t3.micro", MinCount=1, MaxCount=1,
            KeyName=cloud.key_name, SubnetId=cloud.subnet_id,
            TagSpecifications=[{"ResourceType": "instance",
                                "Tags": [{"Key": "consistency", "Value": "test"}]}])
        instance_id = response["Instances"][0]["InstanceId"]
        launched = time.monotonic()
        assert code_of(cloud.ec2.describe_instances, InstanceIds=[instance_id]) == \
            "InvalidInstanceID.NotFound"
        assert code_of(cloud.ec2.describe_instance_status, InstanceIds=[instance_id]) == \
            "InvalidInstanceID.NotFound"
        tagged = cloud.ec2.describe_instances(
            Filters=[{"Name": "tag:consistency", "Values": ["test"]}])["Reservations"]
        assert tagged == []
        [seen] = describe(cloud, [instance_id])  # asks again until EC2 knows it
        assert time.monotonic() - launched >= 1.5
        assert seen["InstanceId"] == instance_id
    terminate(cloud, [seen])


def test_built_in_images_differ_like_the_real_ones(cloud):
    found = {i["ImageId"]: i for i in cloud.ec2.describe_images(
        ImageIds=[IMAGE, UBUNTU_IMAGE, AMAZON_IMAGE])["Images"]}
    assert found[AMAZON_IMAGE]["RootDeviceName"] == "/dev/xvda"
    assert found[UBUNTU_IMAGE]["RootDeviceName"] == "/dev/sda1"
    assert found[UBUNTU_IMAGE]["Name"].startswith("ubuntu/images/")
    assert found[AMAZON_IMAGE]["OwnerId"] == "137112412989"

    ubuntu, amazon = launch(cloud, ImageId=UBUNTU_IMAGE)[0], launch(cloud, ImageId=AMAZON_IMAGE)[0]
    try:
        root = ssh_to(cloud, ubuntu, "root")
        code, out, _ = root.run("id -un", check=False)
        root.close()
        assert code == 142 and 'Please login as the user "ubuntu" rather than the user "root".' \
            in out
        user = ssh_to(cloud, ubuntu, "ubuntu")
        assert user.run("sudo -n id -un")[1].strip() == "root"
        user.close()

        assert amazon["RootDeviceName"] == "/dev/xvda"
        assert [m["DeviceName"] for m in amazon["BlockDeviceMappings"]] == ["/dev/xvda"]
        root = ssh_to(cloud, amazon, "root")
        assert 'Please login as the user "ec2-user"' in root.run("true", check=False)[1]
        root.close()
        ec2_user = ssh_to(cloud, amazon, "ec2-user")
        assert ec2_user.run("sudo -n id -un")[1].strip() == "root"
        assert ec2_user.run("ls /dev/xvda* 2>/dev/null || true")[1] == ""  # no loop for root
        ec2_user.close()
    finally:
        terminate(cloud, [ubuntu, amazon])


def test_a_non_default_subnet_gives_no_public_address(cloud):
    [subnet] = cloud.ec2.describe_subnets(
        Filters=[{"Name": "tag:Name", "Values": ["sclust-local-private"]}])["Subnets"]
    [vpc] = cloud.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert subnet["VpcId"] == vpc["VpcId"]
    assert subnet["MapPublicIpOnLaunch"] is False and subnet["DefaultForAz"] is False
    [instance] = launch(cloud, SubnetId=subnet["SubnetId"])
    try:
        assert "PublicIpAddress" not in instance
        assert instance["PrivateIpAddress"].startswith("172.31.1")
        ssh = ssh_to(cloud, instance)
        assert ssh.run("hostname")[1].startswith("ip-172-31-1")
        ssh.close()
    finally:
        terminate(cloud, [instance])


def test_injected_capacity_throttling_and_limit_errors(cloud):
    state = ["--state-dir", str(cloud.state_dir)]
    result = CliRunner().invoke(local, ["inject", "capacity", "--type", "t3.micro",
                                        "--zone", cloud.zone, *state])
    assert result.exit_code == 0 and "armed" in result.output, result.output
    ec2 = no_retry_client(cloud)
    try:
        with pytest.raises(ClientError) as error:
            ec2.run_instances(ImageId=IMAGE, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                              KeyName=cloud.key_name, SubnetId=cloud.subnet_id)
        assert error.value.response["Error"]["Code"] == "InsufficientInstanceCapacity"
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        [other] = launch(cloud, InstanceType="t3.small")  # another type still has capacity
        terminate(cloud, [other])
    finally:
        assert CliRunner().invoke(local, ["inject", "clear", *state]).exit_code == 0

    control.inject({"kind": "throttle", "action": "DescribeVpcs", "times": 2}, cloud.state_dir)
    assert code_of(ec2.describe_vpcs) == "RequestLimitExceeded"
    assert cloud.ec2.describe_vpcs()["Vpcs"]  # botocore backs off and retries: it gets through
    assert control.faults(cloud.state_dir) == []

    control.inject({"kind": "instance-limit", "limit": 0, "for": 30}, cloud.state_dir)
    try:
        assert code_of(cloud.ec2.run_instances, ImageId=IMAGE, MinCount=1, MaxCount=1,
                       KeyName=cloud.key_name, SubnetId=cloud.subnet_id) == \
            "InstanceLimitExceeded"
    finally:
        control.clear_faults(cloud.state_dir)


def banner(address: str, wait: float) -> bytes:
    with socket.create_connection((address, 22), timeout=wait) as sock:
        sock.settimeout(wait)
        try:
            return sock.recv(64)
        except TimeoutError:
            return b""


def test_injected_hosts_that_never_answer_ssh_or_boot_slowly(cloud):
    control.inject({"kind": "no-ssh"}, cloud.state_dir)
    [mute] = launch(cloud)
    control.inject({"kind": "slow-boot", "seconds": 3}, cloud.state_dir)
    response = cloud.ec2.run_instances(ImageId=IMAGE, InstanceType="t3.micro", MinCount=1,
                                       MaxCount=1, KeyName=cloud.key_name,
                                       SubnetId=cloud.subnet_id)
    launched = time.monotonic()
    slow_id = response["Instances"][0]["InstanceId"]
    try:
        [slow] = wait_state(cloud, [slow_id], "running")
        assert time.monotonic() - launched < 2.5  # running before its sshd answers
        assert banner(mute["PrivateIpAddress"], 1.5) == b""  # connects, no banner ever
        while True:
            try:
                Ssh(slow["PrivateIpAddress"], cloud.key_pem).close()
                break
            except (OSError, Exception):
                assert time.monotonic() - launched < 15
                time.sleep(0.2)
        assert time.monotonic() - launched >= 3
    finally:
        terminate(cloud, [mute, slow])
