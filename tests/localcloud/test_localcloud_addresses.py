"""Public and Elastic addresses come from the local cloud's own range and are reachable;
an Elastic IP stays through stop/start; the Elastic IP limit is enforced."""

from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest
from botocore.exceptions import ClientError
from localcloud_helpers import IMAGE, launch, ssh_to, terminate, wait_state

PUBLIC = ipaddress.IPv4Network("198.18.0.0/16")


def test_public_addresses_are_ours_and_moto_inventions_never_show(cloud):
    instances = launch(cloud, 2)
    try:
        for instance in instances:
            assert ipaddress.IPv4Address(instance["PublicIpAddress"]) in PUBLIC
        dumped = json.dumps(cloud.ec2.describe_instances(), default=str)
        assert "54.214." not in dumped
        # Only the bridge routes our ranges: nothing would leave this machine.
        route = subprocess.run(["ip", "route", "get", instances[0]["PublicIpAddress"]],
                               capture_output=True, text=True).stdout
        assert " dev sclbr0 " in route
        ssh = ssh_to(cloud, instances[0])
        _, routes, _ = ssh.run("ip route")
        assert "default" not in routes
        # hosts reach each other on private and public addresses
        other = instances[1]
        ssh.run(f"bash -c 'echo > /dev/tcp/{other['PrivateIpAddress']}/22'")
        ssh.run(f"bash -c 'echo > /dev/tcp/{other['PublicIpAddress']}/22'")
        ssh.close()
    finally:
        terminate(cloud, instances)


def test_elastic_ip_is_ours_reachable_and_survives_stop_start(cloud):
    [instance] = launch(cloud)
    allocation = cloud.ec2.allocate_address(Domain="vpc")
    try:
        eip = allocation["PublicIp"]
        assert ipaddress.IPv4Address(eip) in PUBLIC
        cloud.ec2.associate_address(InstanceId=instance["InstanceId"],
                                    AllocationId=allocation["AllocationId"])
        [associated] = wait_state(cloud, [instance["InstanceId"]], "running")
        assert associated["PublicIpAddress"] == eip
        ssh = ssh_to(cloud, associated)
        ssh.run("true")
        ssh.close()
        cloud.ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
        [stopped] = wait_state(cloud, [instance["InstanceId"]], "stopped")
        assert stopped.get("PublicIpAddress") == eip  # an EIP stays while stopped
        cloud.ec2.start_instances(InstanceIds=[instance["InstanceId"]])
        [started] = wait_state(cloud, [instance["InstanceId"]], "running")
        assert started["PublicIpAddress"] == eip
        [address] = cloud.ec2.describe_addresses(PublicIps=[eip])["Addresses"]
        assert address["InstanceId"] == instance["InstanceId"]
        ssh = ssh_to(cloud, started)
        assert ssh.run("hostname")[1].strip().startswith("ip-")
        ssh.close()
        with pytest.raises(ClientError, match="InvalidIPAddress.InUse"):
            cloud.ec2.release_address(AllocationId=allocation["AllocationId"])
        cloud.ec2.disassociate_address(AssociationId=address["AssociationId"])
        [after] = wait_state(cloud, [instance["InstanceId"]], "running")
        assert after["PublicIpAddress"] != eip
        assert ipaddress.IPv4Address(after["PublicIpAddress"]) in PUBLIC
        ssh = ssh_to(cloud, after)
        ssh.close()
    finally:
        cloud.ec2.release_address(AllocationId=allocation["AllocationId"])
        terminate(cloud, [instance])


def test_sixth_elastic_ip_is_refused_with_address_limit_exceeded(cloud):
    allocations = []
    try:
        existing = len(cloud.ec2.describe_addresses()["Addresses"])
        for _ in range(5 - existing):
            allocations.append(cloud.ec2.allocate_address(Domain="vpc")["AllocationId"])
        with pytest.raises(ClientError) as error:
            cloud.ec2.allocate_address(Domain="vpc")
        assert error.value.response["Error"]["Code"] == "AddressLimitExceeded"
    finally:
        for allocation_id in allocations:
            cloud.ec2.release_address(AllocationId=allocation_id)
    cloud.ec2.release_address(AllocationId=cloud.ec2.allocate_address(Domain="vpc")["AllocationId"])


def test_addresses_outside_our_ranges_are_refused(cloud):
    with pytest.raises(ClientError, match="198.18.0.0/16"):
        cloud.ec2.allocate_address(Domain="vpc", Address="54.1.2.3")
    vpc = cloud.ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]
    subnet = cloud.ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.99.1.0/24")["Subnet"]
    try:
        with pytest.raises(ClientError, match="172.31.0.0/16"):
            cloud.ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1,
                                    SubnetId=subnet["SubnetId"])
    finally:
        cloud.ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        cloud.ec2.delete_vpc(VpcId=vpc["VpcId"])
    assert "10.99." not in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout


def test_run_instances_without_subnet_lands_in_a_default_subnet(cloud):
    response = cloud.ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1,
                                       KeyName=cloud.key_name)
    instance_id = response["Instances"][0]["InstanceId"]
    try:
        [instance] = wait_state(cloud, [instance_id], "running")
        assert instance["PrivateIpAddress"].startswith("172.31.")
        ssh_to(cloud, instance).close()
    finally:
        terminate(cloud, [instance])
