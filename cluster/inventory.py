"""Clusters as recorded on the cloud: instances and security groups tagged `sclust:cluster`.

Reads through the Cloud seam only; `node_from` is where an instance's tags become a Node.
"""

from __future__ import annotations

from sclust.cloud import Cloud, Instance
from sclust.state import (
    TAG_ALIAS,
    TAG_ALIAS_FIRST,
    TAG_ALIASES,
    TAG_CLUSTER,
    TAG_ROLE,
    ClusterInfo,
    ClusterSettings,
    Node,
    node_alias,
)


def node_from(instance: Instance) -> Node:
    """An instance -> Node, its alias from its own tag, else from its launch's alias list
    and its launch index (the per-instance tags come right after a launch)."""
    tags = instance.tags
    alias = tags.get(TAG_ALIAS)
    if alias is None:
        listed = [a for a in tags.get(TAG_ALIASES, "").split(",") if a]
        if instance.launch_index < len(listed):
            alias = listed[instance.launch_index]
        else:  # launched by an sclust before TAG_ALIASES
            first = tags.get(TAG_ALIAS_FIRST, "node001")
            number = int(first[4:]) if first[4:].isdigit() else 1
            alias = node_alias(number + instance.launch_index)
    return Node(
        instance_id=instance.instance_id,
        alias=alias,
        role=tags.get(TAG_ROLE, "node"),
        state=instance.state,
        instance_type=instance.instance_type,
        image_id=instance.image_id,
        zone=instance.zone,
        private_ip=instance.private_ip,
        public_ip=instance.public_ip,
        spot=instance.spot,
        launch_time=instance.launch_time,
        root_device_type=instance.root_device_type,
    )


def find_clusters(cloud: Cloud, cluster: str | None = None) -> list[ClusterInfo]:
    """Every sclust cluster (or just CLUSTER): two describe calls whatever the size."""
    groups = cloud.find_security_groups(TAG_CLUSTER, cluster)
    instances = cloud.find_instances(TAG_CLUSTER, cluster)
    clusters: dict[str, ClusterInfo] = {}
    for group in groups:
        tag = group.tags[TAG_CLUSTER]
        settings = ClusterSettings.from_tags(group.tags, tag)
        settings.vpc_id = settings.vpc_id or group.vpc_id
        clusters[tag] = ClusterInfo(tag, group.group_id, settings)
    for instance in instances:
        tag = instance.tags[TAG_CLUSTER]
        info = clusters.setdefault(tag, ClusterInfo(tag, None, None))
        info.nodes.append(node_from(instance))
    return sorted(clusters.values(), key=lambda c: c.tag)


def cluster_nodes(cloud: Cloud, cluster: str) -> list[Node]:
    """The live instances of CLUSTER in one describe call (`find_clusters` also reads the
    settings): what the load balancer polls."""
    return [node_from(i) for i in cloud.find_instances(TAG_CLUSTER, cluster)]
