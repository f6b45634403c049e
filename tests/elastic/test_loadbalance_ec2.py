"""What the load balancer asks of EC2 (moto): one describe call per look at the cluster."""

from __future__ import annotations

from tests.test_ec2_faults import (  # noqa: F401  (cloud, faults, manager: fixtures)
    Faults,
    cloud,
    faults,
    manager,
    template_for,
)


def test_cluster_nodes_is_one_describe_call_and_matches_the_full_lookup(
    tmp_path, key_file, cloud, manager, faults: Faults  # noqa: F811
) -> None:
    manager.start("lb", template_for(tmp_path, key_file, cloud, size=3), configure=False)
    faults.calls.clear()
    nodes = manager.cluster_nodes("lb")
    assert faults.calls == {"DescribeInstances": 1}
    assert sorted(n.alias for n in nodes) == ["master", "node001", "node002"]
    assert {n.instance_id for n in nodes} == {n.instance_id for n in manager.get("lb").nodes}
    assert manager.cluster_nodes("other") == []
    manager.terminate("lb")
