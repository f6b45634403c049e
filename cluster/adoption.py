"""Clusters StarCluster started: found by their security group `@sc-TAG`, their nodes by the
`alias` tags StarCluster set (`master`, `node001`, or `TAG-master`… with DNS_PREFIX), their
settings from the group's `@sc-core`/`@sc-user` tags (zlib-compressed JSON in base64, split
over tags `@sc-core`, `@sc-core-1`, …). All of it is untrusted: sizes are bounded and every
value passes the config's checks before sclust records it as its own tags (`adopt`).

StarCluster kept volumes and plugins pickled in the master's user data: sclust never
unpickles, so an adopted cluster has none until the config's template is used again."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sclust.cloud import Cloud, Instance, SecurityGroup
from sclust.errors import SclustError
from sclust.names import name_problem
from sclust.state import (
    TAG_ALIAS,
    TAG_CLUSTER,
    TAG_ROLE,
    ClusterInfo,
    ClusterSettings,
    Node,
    settings_problems,
)

log = logging.getLogger(__name__)
GROUP_PREFIX = "@sc-"
NOT_CLUSTERS = ("volumecreator",)  # StarCluster's createvolume host group
CORE_TAG = "@sc-core"
USER_TAG = "@sc-user"
TAG_ADOPTED = "sclust:adopted-from"
MAX_SETTINGS = 64 * 1024  # decompressed bytes: a few hundred are normal
# The StarCluster settings sclust takes, and the field each becomes.
FIELDS = {
    "cluster_size": "cluster_size", "master_image_id": "master_image_id",
    "master_instance_type": "master_instance_type", "node_image_id": "node_image_id",
    "node_instance_type": "node_instance_type", "dns_prefix": "dns_prefix",
    "subnet_id": "subnet_id", "public_ips": "public_ips", "disable_queue": "disable_queue",
    "disable_cloudinit": "disable_cloudinit", "cluster_user": "cluster_user",
    "cluster_shell": "cluster_shell", "keyname": "keyname", "spot_bid": "spot_bid",
}


@dataclass
class Found:
    """A StarCluster cluster as it is on EC2, before sclust records anything."""

    tag: str
    group: SecurityGroup
    settings: ClusterSettings | None
    nodes: list[tuple[Instance, Node]] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def info(self) -> ClusterInfo:
        return ClusterInfo(self.tag, self.group.group_id, self.settings,
                           [node for _, node in self.nodes], list(self.foreign))


def chunked(tags: dict[str, str], base: str) -> str | None:
    """StarCluster's `BASE`, `BASE-1`, `BASE-2`… joined in number order (StarCluster sorted
    them as text, which misorders -10 before -2)."""
    if base not in tags:
        return None
    numbered = {0: tags[base]}
    for key, value in tags.items():
        match = re.fullmatch(re.escape(base) + r"-(\d{1,4})", key)
        if match:
            numbered[int(match.group(1))] = value
    if sorted(numbered) != list(range(len(numbered))):
        raise ValueError(f"{base} tags have gaps")
    return "".join(numbered[i] for i in sorted(numbered))


def decoded(text: str) -> dict[str, Any]:
    """zlib-compressed JSON in base64 -> dict, bounded (a tag is no zip bomb)."""
    try:
        packed = base64.b64decode(text.replace("\n", ""), validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_SETTINGS)
        if inflater.unconsumed_tail:
            raise ValueError(f"more than {MAX_SETTINGS} bytes")
        data = json.loads(raw.decode())
    except (binascii.Error, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not StarCluster's encoding ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def starcluster_settings(tag: str, group: SecurityGroup, master: Instance | None
                         ) -> ClusterSettings:
    """The group's StarCluster settings as sclust's, checked as a config's would be."""
    values: dict[str, Any] = {}
    try:
        for base in (CORE_TAG, USER_TAG):
            text = chunked(group.tags, base)
            if text is not None:
                values.update(decoded(text))
    except ValueError as error:
        raise SclustError(f"StarCluster cluster {tag!r}: its {GROUP_PREFIX}core/user tags "
                          f"are damaged: {error}") from None
    data = {FIELDS[k]: v for k, v in values.items() if k in FIELDS and v is not None}
    for key in ("master_image_id", "master_instance_type"):
        data.setdefault(key, data.get(key.replace("master", "node")))
    if master is not None:  # where it runs wins over what it was asked for
        data["master_image_id"] = master.image_id or data.get("master_image_id")
        data["master_instance_type"] = master.instance_type or data.get("master_instance_type")
        data["keyname"] = data.get("keyname") or master.key_name
        data["subnet_id"] = data.get("subnet_id") or master.subnet_id or None
    node_type = data.get("node_instance_type")
    if isinstance(node_type, list):  # StarCluster's "type:ami:count, …, default" list
        data["node_instance_type"] = node_type[-1] if node_type else None
    data.update(template="starcluster", login_user="root",  # StarCluster logged in as root
                zone=master.zone if master else values.get("availability_zone"),
                vpc_id=group.vpc_id,
                created=datetime.now().astimezone().isoformat(timespec="seconds"))
    problems = settings_problems(data)
    missing = [k for k in ("keyname", "node_image_id", "node_instance_type",
                           "master_image_id", "master_instance_type", "cluster_size")
               if not data.get(k)]
    if problems or missing:
        detail = "; ".join(problems[:3] + [f"{k} missing" for k in missing])
        raise SclustError(f"StarCluster cluster {tag!r}: its settings fail sclust's checks "
                          f"({detail}); refusing to act on them")
    try:
        return ClusterSettings(**data)
    except TypeError as error:
        raise SclustError(f"StarCluster cluster {tag!r}: {error}") from None


def starcluster_node(tag: str, instance: Instance) -> Node:
    """An instance of StarCluster's cluster TAG -> Node; its alias from the `alias` tag (the
    `Name` tag when that is missing), TAG- prefix (DNS_PREFIX) dropped. ValueError if bad."""
    alias = instance.tags.get("alias") or instance.tags.get("Name") or ""
    alias = alias.removeprefix(f"{tag}-")
    problem = name_problem(alias)
    if problem:
        raise ValueError(f"its alias {problem}")
    return Node(
        instance_id=instance.instance_id, alias=alias,
        role="master" if alias == "master" else "node", state=instance.state,
        instance_type=instance.instance_type, image_id=instance.image_id, zone=instance.zone,
        private_ip=instance.private_ip, public_ip=instance.public_ip, spot=instance.spot,
        launch_time=instance.launch_time, root_device_type=instance.root_device_type)


def find_starcluster(cloud: Cloud, tag: str | None = None) -> list[Found]:
    """StarCluster's clusters (or TAG's) that sclust has not adopted yet."""
    found = []
    for group in cloud.find_groups_named(GROUP_PREFIX + (tag or "")):
        name = group.name.removeprefix(GROUP_PREFIX)
        if (tag is not None and name != tag) or name in NOT_CLUSTERS:
            continue
        if TAG_CLUSTER in group.tags:
            continue  # adopted already: an sclust cluster now
        if name_problem(name):
            log.warning("skipping StarCluster group %s: %r is no sclust cluster name",
                        group.group_id, name[:60])
            continue
        cluster = Found(name, group, None)
        aliases: set[str] = set()
        for instance in cloud.instances_in_group(group.group_id):
            try:
                node = starcluster_node(name, instance)
                if node.alias.lower() in aliases:
                    raise ValueError(f"its alias {node.alias!r} is taken by another instance")
            except ValueError as error:
                cluster.foreign.append(f"{instance.instance_id} ({error})")
                continue
            aliases.add(node.alias.lower())
            cluster.nodes.append((instance, node))
        master = next((i for i, n in cluster.nodes if n.is_master), None)
        try:
            cluster.settings = starcluster_settings(name, group, master)
        except SclustError as error:
            log.warning("%s", error)
        found.append(cluster)
    return found


def adopt(cloud: Cloud, cluster: Found) -> None:
    """Record sclust's own tags on a StarCluster cluster (group: cluster, settings; instances:
    cluster, alias, role, Name), so every sclust command manages it from now on."""
    if cluster.settings is None:
        raise SclustError(f"StarCluster cluster {cluster.tag!r} has no usable settings on its "
                          f"group {cluster.group.name}: sclust cannot manage it")
    group_tags = {TAG_CLUSTER: cluster.tag, TAG_ADOPTED: "starcluster",
                  **cluster.settings.to_tags()}
    cloud.create_tags([cluster.group.group_id], group_tags)
    for instance, node in cluster.nodes:
        name = node.host_name(cluster.tag, cluster.settings.dns_prefix)
        cloud.create_tags([instance.instance_id], {TAG_CLUSTER: cluster.tag,
                                                   TAG_ALIAS: node.alias, TAG_ROLE: node.role,
                                                   "Name": name})
