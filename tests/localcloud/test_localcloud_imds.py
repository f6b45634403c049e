"""Instance metadata (IMDSv2) at 169.254.169.254 inside every host, the endpoint reachable from
hosts through AWS_ENDPOINT_URL (signed requests only), and spot interruptions announced in the
metadata before they happen."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner
from localcloud_helpers import IMAGE, describe, launch, ssh_to, terminate, wait_state

from sclust.localcloud.cli import local

TOKEN = ("T=$(curl -sf -X PUT http://169.254.169.254/latest/api/token "
         "-H 'X-aws-ec2-metadata-token-ttl-seconds: 60')")


def metadata(ssh, path: str) -> str:  # type: ignore[no-untyped-def]
    return ssh.run(f"{TOKEN} && curl -sf -H \"X-aws-ec2-metadata-token: $T\" "
                   f"http://169.254.169.254/latest/{path}")[1]


def status(ssh, path: str, header: str = "") -> str:  # type: ignore[no-untyped-def]
    return ssh.run(f"curl -s -o /dev/null -w '%{{http_code}}' {header} "
                   f"http://169.254.169.254/latest/{path}")[1]


def test_each_host_reads_its_own_metadata_with_a_token(cloud):
    [strict] = launch(cloud, UserData="#!/bin/sh\ntrue\n",
                      MetadataOptions={"HttpTokens": "required",
                                       "InstanceMetadataTags": "enabled"},
                      TagSpecifications=[{"ResourceType": "instance",
                                          "Tags": [{"Key": "Name", "Value": "imds-test"}]}])
    [lenient] = launch(cloud)
    try:
        ssh = ssh_to(cloud, strict)
        assert metadata(ssh, "meta-data/instance-id") == strict["InstanceId"]
        assert metadata(ssh, "meta-data/instance-type") == "t3.micro"
        assert metadata(ssh, "meta-data/ami-id") == IMAGE
        assert metadata(ssh, "meta-data/local-ipv4") == strict["PrivateIpAddress"]
        assert metadata(ssh, "meta-data/public-ipv4") == strict["PublicIpAddress"]
        assert metadata(ssh, "meta-data/placement/availability-zone") == cloud.zone
        assert metadata(ssh, "meta-data/tags/instance/Name") == "imds-test"
        assert metadata(ssh, "user-data") == "#!/bin/sh\ntrue\n"
        assert "instance-id" in metadata(ssh, "meta-data/").split()
        document = json.loads(metadata(ssh, "dynamic/instance-identity/document"))
        assert document["instanceId"] == strict["InstanceId"]
        # IMDSv1 refused for an instance launched with HttpTokens=required; a bad token too.
        assert status(ssh, "meta-data/instance-id") == "401"
        assert status(ssh, "meta-data/instance-id",
                      "-H 'X-aws-ec2-metadata-token: forged'") == "401"
        ssh.close()

        ssh = ssh_to(cloud, lenient)
        assert metadata(ssh, "meta-data/instance-id") == lenient["InstanceId"]
        assert ssh.run("curl -sf http://169.254.169.254/latest/meta-data/instance-id")[1] == \
            lenient["InstanceId"]  # HttpTokens optional (the default): v1 works
        assert status(ssh, "meta-data/tags/instance/Name") == "404"  # tags not enabled
        ssh.close()
    finally:
        terminate(cloud, [strict, lenient])


def test_hosts_are_told_the_endpoint_which_wants_signatures(cloud):
    [instance] = launch(cloud)
    try:
        ssh = ssh_to(cloud, instance)
        url = ssh.run("echo $AWS_ENDPOINT_URL")[1].strip()
        assert url.startswith("http://172.31.0.1:")
        assert ssh.run("echo $AWS_DEFAULT_REGION")[1].strip() == "us-east-1"
        answer = ssh.run(f"curl -s -w ' %{{http_code}}' -d 'Action=DescribeInstances"
                         f"&Version=2016-11-15' {url}/")[1]
        assert "AuthFailure" in answer and answer.endswith(" 401")
        ssh.close()
    finally:
        terminate(cloud, [instance])


def test_a_spot_interruption_is_announced_then_happens(cloud):
    request = cloud.ec2.request_spot_instances(
        SpotPrice="0.05", InstanceCount=1,
        LaunchSpecification={"ImageId": IMAGE, "InstanceType": "t3.micro",
                             "KeyName": cloud.key_name, "SubnetId": cloud.subnet_id},
    )["SpotInstanceRequests"][0]
    spot_id = cloud.ec2.describe_spot_instance_requests(
        SpotInstanceRequestIds=[request["SpotInstanceRequestId"]]
    )["SpotInstanceRequests"][0]["InstanceId"]
    [instance] = wait_state(cloud, [spot_id], "running")
    try:
        ssh = ssh_to(cloud, instance)
        assert status(ssh, "meta-data/spot/instance-action") == "404"
        result = CliRunner().invoke(local, ["inject", "spot-interruption", spot_id,
                                            "--notice", "2", "--state-dir",
                                            str(cloud.state_dir)])
        assert result.exit_code == 0, result.output
        notice = json.loads(metadata(ssh, "meta-data/spot/instance-action"))
        assert notice["action"] == "terminate"
        ssh.close()
        began = time.monotonic()
        [gone] = wait_state(cloud, [spot_id], "terminated", timeout=20)
        assert time.monotonic() - began > 1
        assert gone["StateReason"]["Code"] == "Server.SpotInstanceTermination"
    finally:
        cloud.ec2.cancel_spot_instance_requests(
            SpotInstanceRequestIds=[request["SpotInstanceRequestId"]])
        if describe(cloud, [spot_id])[0]["State"]["Name"] != "terminated":
            terminate(cloud, [instance])
