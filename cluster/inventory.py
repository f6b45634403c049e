"""Clusters as recorded on the cloud: instances and security groups tagged `sclust:cluster`.

Reads through the Cloud seam only; `node_from` is where an instance's tags become a Node.
"""

from __future__ import annotations

import logging

from sclust.cloud import Cloud, Instance
from sclust.errors import SclustError
from sclust.names import name_problem
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

log = logging.getLogger(__name__)
ROLES = ("master", "node")


def node_from(instance: Instance) -> Node:
    """An instance -> Node, its alias from its own tag, else from its launch's alias list
    and its launch index (the per-instance tags come right after a launch). Tags are
    untrusted: an alias or role that fails sclust's checks raises ValueError."""
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
    problem = name_problem(alias)
    if problem:
        raise ValueError(f"its alias {problem}")
    role = tags.get(TAG_ROLE, "node")
    if role not in ROLES:
        raise ValueError(f"its role {role[:40]!r} is not master or node")
    return Node(
        instance_id=instance.instance_id,
        alias=alias,
        role=role,
        state=instance.state,
        instance_type=instance.instance_type,
        image_id=instance.image_id,
        zone=instance.zone,
        private_ip=instance.private_ip,
        public_ip=instance.public_ip,
        spot=instance.spot,
        launch_time=instance.launch_time,
        root_device_type=instance.root_device_type,
        alias_tagged=TAG_ALIAS in tags,
    )


def find_clusters(cloud: Cloud, cluster: str | None = None) -> list[ClusterInfo]:
    """Every sclust cluster (or just CLUSTER): two describe calls whatever the size.

    Whatever the tags say is checked: a group or instance whose cluster tag is no cluster
    name is skipped with a warning, damaged settings leave the cluster without settings (a
    warning, not a crash of the whole listing), and instances outside the cluster's security
    group or with bad tags are `foreign`: listed, never set up or terminated."""
    groups = cloud.find_security_groups(TAG_CLUSTER, cluster)
    instances = cloud.find_instances(TAG_CLUSTER, cluster)
    clusters: dict[str, ClusterInfo] = {}
    for group in groups:
        tag = group.tags[TAG_CLUSTER]
        if name_problem(tag):
            log.warning("skipping security group %s: its %s tag %r is no cluster name",
                        group.group_id, TAG_CLUSTER, tag[:60])
            continue
        if tag in clusters:
            log.warning("cluster %s: a second security group %s is tagged for it (ignored)",
                        tag, group.group_id)
            continue
        try:
            settings: ClusterSettings | None = ClusterSettings.from_tags(group.tags, tag)
        except SclustError as error:
            log.warning("%s", error)
            settings = None
        if settings is not None:
            settings.vpc_id = settings.vpc_id or group.vpc_id
        clusters[tag] = ClusterInfo(tag, group.group_id, settings)
    for instance in instances:
        tag = instance.tags[TAG_CLUSTER]
        if name_problem(tag):
            log.warning("skipping instance %s: its %s tag %r is no cluster name",
                        instance.instance_id, TAG_CLUSTER, tag[:60])
            continue
        info = clusters.setdefault(tag, ClusterInfo(tag, None, None))
        problem = None
        if info.security_group_id and info.security_group_id not in instance.security_groups:
            problem = "not in the cluster's security group"
        try:
            node = node_from(instance)
        except ValueError as error:
            problem = problem or str(error)
        if problem is None and any(n.alias.lower() == node.alias.lower() for n in info.nodes):
            problem = f"its alias {node.alias!r} is taken by another instance"
        if problem is not None:
            info.foreign.append(f"{instance.instance_id} ({problem})")
            continue
        info.nodes.append(node)
    for info in clusters.values():
        if info.foreign:
            log.warning("cluster %s: leaving alone instance(s) sclust did not launch into it: "
                        "%s", info.tag, "; ".join(info.foreign))
    return sorted(clusters.values(), key=lambda c: c.tag)


def cluster_nodes(cloud: Cloud, cluster: str) -> list[Node]:
    """The live instances of CLUSTER in one describe call (`find_clusters` also reads the
    settings): what the load balancer polls. Instances with bad tags are left out."""
    nodes = []
    for instance in cloud.find_instances(TAG_CLUSTER, cluster):
        try:
            nodes.append(node_from(instance))
        except ValueError:
            continue
    return nodes
