"""The local cloud reports the Elastic IP limit it enforces where EC2 clients read the quota
(sclust's desktops check it before launching anything)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from localcloud_helpers import restart


def reported_limit(cloud) -> str:
    reply = cloud.ec2.describe_account_attributes(AttributeNames=["vpc-max-elastic-ips"])
    values = {a["AttributeName"]: a["AttributeValues"][0]["AttributeValue"]
              for a in reply["AccountAttributes"]}
    return values["vpc-max-elastic-ips"]


def test_account_attributes_report_the_enforced_elastic_ip_limit(cloud, monkeypatch):
    from sclust.localcloud import control

    # A limit other than EC2's default 5, so the answer cannot be moto's fixed one.
    control.down(cloud.state_dir)
    monkeypatch.setenv("SCLUST_LOCAL_EIP_LIMIT", "2")
    restart(cloud)
    allocations = []
    try:
        assert reported_limit(cloud) == "2"
        allocations = [cloud.ec2.allocate_address(Domain="vpc")["AllocationId"]
                       for _ in range(2)]
        with pytest.raises(ClientError, match="AddressLimitExceeded"):
            cloud.ec2.allocate_address(Domain="vpc")
    finally:
        for allocation_id in allocations:
            cloud.ec2.release_address(AllocationId=allocation_id)
        control.down(cloud.state_dir)
        monkeypatch.delenv("SCLUST_LOCAL_EIP_LIMIT")
        restart(cloud)
    assert reported_limit(cloud) == "5"
