# ruff: noqa: F811  (the fixtures imported below are parameters of the tests)
"""Partial failures of `start` leave nothing silent (issue 11 item 6), against a moto server:
`start -x` repairs a group left without rules, every failed start says what exists now and
the one command to resume or remove it, desktops check their key pair before launching."""

from __future__ import annotations

from pathlib import Path

import pytest

from sclust.cluster import ClusterManager
from sclust.ec2 import EC2
from sclust.errors import CloudError
from sclust.inventory import find_clusters
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
