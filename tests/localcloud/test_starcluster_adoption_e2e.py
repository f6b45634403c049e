"""A cluster StarCluster started (its group, tags and nodes, made as StarCluster 0.95 makes
them, on StarCluster-like hosts that allow root) taken over by sclust on real hosts: listed,
sshmaster logs in as root, addnode adopts it and sets every node up, terminate removes it."""

from __future__ import annotations

import json
from pathlib import Path

from localcloud_helpers import IMAGE, cluster_config, wait_state

from tests.conftest import run_sclust
from tests.test_starcluster_adoption import CORE, USER, chunk_tags, encoded


def starcluster_start(cloud, tag: str, size: int) -> list[str]:
    ec2 = cloud.ec2
    vpc = ec2.describe_subnets(SubnetIds=[cloud.subnet_id])["Subnets"][0]["VpcId"]
    group = ec2.create_security_group(GroupName=f"@sc-{tag}", VpcId=vpc,
                                      Description="StarCluster-0.95.6 group")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}])
    core = {**CORE, "cluster_size": size, "node_image_id": IMAGE,
            "node_instance_type": "t3.micro"}
    ec2.create_tags(Resources=[group], Tags=[
        {"Key": "@sc-version", "Value": "0.95.6"}, *chunk_tags("@sc-core", encoded(core)),
        *chunk_tags("@sc-user", encoded({**USER, "keyname": cloud.key_name}))])
    ids = []
    for index in range(size):
        alias = "master" if index == 0 else f"node{index:03d}"
        reply = ec2.run_instances(ImageId=IMAGE, InstanceType="t3.micro", MinCount=1,
                                  MaxCount=1, KeyName=cloud.key_name, SubnetId=cloud.subnet_id,
                                  SecurityGroupIds=[group])
        ids.append(reply["Instances"][0]["InstanceId"])
        ec2.create_tags(Resources=ids[-1:], Tags=[{"Key": "alias", "Value": alias},
                                                  {"Key": "Name", "Value": alias}])
    wait_state(cloud, ids, "running")
    return ids


def test_a_starcluster_cluster_is_taken_over(cloud, tmp_path: Path) -> None:
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    config = cluster_config(cloud, tmp_path, "unused")

    def sclust(*args: str, status: int = 0):
        result = run_sclust("-c", str(config), *args, env=env, timeout=400)
        assert result.returncode == status, f"{args}:\n{result.stdout}\n{result.stderr}"
        return result

    ids = starcluster_start(cloud, "legacy", 2)
    try:
        listed = json.loads(sclust("listclusters", "--json").stdout)
        legacy = next(c for c in listed if c["tag"] == "legacy")
        assert [n["alias"] for n in legacy["nodes"]] == ["master", "node001"]
        # The first command that acts on it records sclust's settings: here sshmaster.
        first = sclust("sshmaster", "legacy", "whoami")
        assert first.stdout.strip() == "root" and "was started by StarCluster" in first.stderr
        sclust("addnode", "legacy")
        # Every node is set up as sclust's own: hosts, NFS home, SGE with all three.
        assert sclust("sshmaster", "legacy", "getent hosts node002 >/dev/null && echo ok"
                      ).stdout.strip() == "ok"
        exec_hosts = sclust("sshmaster", "legacy", "qconf -sel").stdout.split()
        assert sorted(exec_hosts) == ["master", "node001", "node002"], exec_hosts
        assert sclust("sshnode", "legacy", "node002", "findmnt -n -o TARGET /home"
                      ).stdout.strip() == "/home"
    finally:
        run_sclust("-c", str(config), "terminate", "legacy", "-y", env=env, timeout=300)
    states = {i["State"]["Name"] for r in cloud.ec2.describe_instances(InstanceIds=ids)[
        "Reservations"] for i in r["Instances"]}
    assert states <= {"shutting-down", "terminated"}
