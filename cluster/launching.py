"""Launching a cluster's instances through the Cloud seam: its security group, the master
(moving to another zone on a capacity error), nodes in batched launches over
NODE_INSTANCE_TYPE's entries and FALLBACK_INSTANCE_TYPES, every instance with its own alias and
Name tag, the cluster's user data and PUBLIC_IPS. Returns instance ids: the caller waits for
those (a lookup by tag right after a launch can miss them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sclust.cloud import CapacityError, Cloud, LaunchSpec, Rule
from sclust.errors import CloudError
from sclust.progress import Progress
from sclust.state import (
    NODE_NUMBER,
    TAG_ALIAS,
    TAG_ALIAS_FIRST,
    TAG_ALIASES,
    TAG_CLUSTER,
    TAG_ROLE,
    TAG_VALUE_LIMIT,
    ClusterInfo,
    ClusterSettings,
    free_node_numbers,
    node_alias,
)
from sclust.userdata import user_data_for


@dataclass
class NodeGroup:
    """Nodes launched together: same type, AMI and market."""

    instance_type: str
    image_id: str
    count: int


def consecutive(aliases: list[str]) -> bool:
    """Are ALIASES nodeN, nodeN+1, …? (Then the first one and the launch index name them.)"""
    first = NODE_NUMBER.match(aliases[0]) if aliases else None
    return first is not None and aliases == [
        node_alias(int(first.group(1)) + i) for i in range(len(aliases))]


def alias_batches(aliases: list[str]) -> list[list[str]]:
    """ALIASES in runs that one launch can name: numbered runs whole, other aliases in lists
    that fit one tag value."""
    if consecutive(aliases):
        return [aliases]
    batches: list[list[str]] = []
    length = TAG_VALUE_LIMIT + 1
    for alias in aliases:
        if length + 1 + len(alias) > TAG_VALUE_LIMIT:
            batches.append([])
            length = -1
        batches[-1].append(alias)
        length += 1 + len(alias)
    return batches


def group_rules(settings: ClusterSettings) -> list[Rule]:
    """A cluster group's rules: open within, SSH from SSH_CIDR, and the [permission]s."""
    rules = [Rule(source_group="self"),
             Rule("tcp", 22, 22, cidr=settings.ssh_cidr, description="ssh")]
    rules += [Rule(p["protocol"], p["from_port"], p["to_port"], cidr=p["cidr"],
                   description=p["name"]) for p in settings.permissions]
    return rules


@dataclass
class LaunchRecord:
    """What an operation's launches made, for the report when it fails or is interrupted:
    every instance id as soon as EC2 answers, and what EC2 was being asked to create when the
    operation stopped (a request cut off may still be carried out)."""

    launched: list[str] = field(default_factory=list)
    in_flight: str | None = None

    @contextmanager
    def creating(self, what: str) -> Iterator[None]:
        """Around a request that creates WHAT: still marked if an interruption cuts it off;
        an answer, even an error, means EC2 has decided."""
        self.in_flight = what
        try:
            yield
        except Exception:
            self.in_flight = None
            raise
        self.in_flight = None


class Launcher:
    """Launches for one cluster operation (one cloud region, one progress line)."""

    def __init__(self, cloud: Cloud, progress: Progress,
                 record: LaunchRecord | None = None) -> None:
        self.cloud = cloud
        self.progress = progress
        self.record = record or LaunchRecord()

    def create_group(self, tag: str, settings: ClusterSettings) -> str:
        """The cluster's group (tagged with its settings), open as `group_rules` says."""
        name = f"@sclust-{tag}"
        with self.record.creating(f"security group {name}"):
            return self.cloud.create_security_group(
                name, f"sclust cluster {tag}", settings.vpc_id,
                {TAG_CLUSTER: tag, "Name": name, **settings.to_tags()}, group_rules(settings))

    def repair_group(self, info: ClusterInfo) -> None:
        """Give the cluster's group the rules it lacks: EC2 creates a group and opens its
        ports in two calls, and a start interrupted between them leaves a closed group."""
        settings = info.settings
        assert settings and info.security_group_id
        added = self.cloud.ensure_ingress(info.security_group_id, group_rules(settings))
        if added:
            self.progress.step(f"the security group of {info.tag} lacked {added} rule(s) "
                               "(an interrupted start?): added them")

    def repair_zone(self, info: ClusterInfo) -> None:
        """Record the zone the master runs in when the settings still name another: a start
        cut off between moving the master to a zone with capacity and saving that move would
        otherwise launch the nodes in the old zone."""
        settings, master = info.settings, info.master
        assert settings and info.security_group_id
        if master is None or not master.zone or master.zone == settings.zone:
            return
        try:
            subnet = self.cloud.default_subnets(master.zone)[0]
        except CloudError:  # not a move sclust made (those go to default subnets)
            return
        if subnet.vpc_id != settings.vpc_id:
            return
        self.progress.step(f"the master of {info.tag} runs in {master.zone}, not in "
                           f"{settings.zone} (an interrupted move?): recording that")
        settings.zone, settings.subnet_id = subnet.zone, subnet.subnet_id
        self.cloud.create_tags([info.security_group_id], settings.to_tags())

    def repair_names(self, info: ClusterInfo) -> None:
        """Give each instance the alias and Name tags of its own that an interrupted launch
        did not add (it is known by its launch's tags until then)."""
        settings = info.settings
        assert settings
        prefix = f"{info.tag}-" if settings.dns_prefix else ""
        untagged = [n for n in info.nodes if not n.alias_tagged]
        for node in untagged:
            self.cloud.create_tags([node.instance_id], {TAG_ALIAS: node.alias,
                                                        "Name": prefix + node.alias})
            node.alias_tagged = True
        if untagged:
            self.progress.step(f"named {', '.join(n.alias for n in untagged)} (their launch "
                               "was interrupted before)")

    def user_data(self, info: ClusterInfo) -> str | None:
        """The cluster's user data for a later launch: a node's own (what the first launch
        sent, readable from any machine), else USERDATA_SCRIPTS read again."""
        settings = info.settings
        if settings is None or not settings.userdata_scripts:
            return None
        nodes = sorted(info.nodes, key=lambda n: not n.is_master)
        if nodes:
            return self.cloud.user_data(nodes[0].instance_id)
        return user_data_for(settings.userdata_scripts)

    def launch_spec(self, info: ClusterInfo, role: str, aliases: list[str], image_id: str,
                    instance_type: str, user_data: str | None,
                    spot_bid: float | None) -> LaunchSpec:
        """One launch of ALIASES: cluster tags on all; each instance then gets its own alias
        and Name tag (`TAG-node003` with DNS_PREFIX), as StarCluster named them."""
        settings = info.settings
        assert settings and settings.subnet_id and info.security_group_id
        prefix = f"{info.tag}-" if settings.dns_prefix else ""
        tags = {TAG_CLUSTER: info.tag, TAG_ROLE: role}
        each: list[dict[str, str]] = []
        if len(aliases) == 1:
            tags[TAG_ALIAS], tags["Name"] = aliases[0], prefix + aliases[0]
        else:
            # EC2 tags a whole RunInstances alike: the first alias (numbered nodes) or the
            # alias list, and the launch index, name each instance until its own tags land.
            if consecutive(aliases):
                tags[TAG_ALIAS_FIRST] = aliases[0]
            else:
                tags[TAG_ALIASES] = ",".join(aliases)
            tags["Name"] = f"{prefix}{aliases[0]}…{aliases[-1]}"
            each = [{TAG_ALIAS: a, "Name": prefix + a} for a in aliases]
        return LaunchSpec(
            image_id=image_id, instance_type=instance_type, count=len(aliases),
            keyname=settings.keyname, subnet_id=settings.subnet_id,
            security_group_id=info.security_group_id, tags=tags,
            volume_tags={TAG_CLUSTER: info.tag}, each_tags=each, user_data=user_data,
            root_volume_size=settings.root_volume_size, spot_bid=spot_bid,
            public_ip=settings.public_ips,
        )

    def launch(self, spec: LaunchSpec) -> list[str]:
        with self.record.creating(f"{spec.count} instance(s) ({spec.tags.get('Name', '')})"):
            ids = [i.instance_id for i in self.cloud.launch(spec)]
        self.record.launched += ids
        return ids

    def launch_master(self, info: ClusterInfo, pinned: bool, user_data: str | None) -> list[str]:
        """Launch the master (in another zone on a capacity error, unless PINNED): its id."""
        settings = info.settings
        assert settings and settings.subnet_id and info.security_group_id
        spec = self.launch_spec(
            info, "master", ["master"], settings.master_image_id,
            settings.master_instance_type, user_data,
            settings.spot_bid if settings.force_spot_master else None)
        self.progress.step(
            f"launching master ({settings.master_instance_type}, {settings.master_image_id})"
        )
        try:
            return self.launch(spec)
        except CapacityError as error:
            if pinned:
                raise
            self.progress.step(f"{error}; trying the region's other zones")
        for subnet in self.cloud.default_subnets():
            if subnet.subnet_id == settings.subnet_id:
                continue
            spec.subnet_id = subnet.subnet_id
            try:
                launched = self.launch(spec)
            except CapacityError as error:
                self.progress.step(f"{subnet.zone}: {error}")
                continue
            settings.zone, settings.subnet_id = subnet.zone, subnet.subnet_id
            self.cloud.create_tags([info.security_group_id], settings.to_tags())
            self.progress.step(f"master launched in {settings.zone}")
            return launched
        raise CapacityError(
            f"no zone of {self.cloud.region} has capacity for {settings.master_instance_type}: "
            "try another MASTER_INSTANCE_TYPE or later"
        )

    def node_groups(self, settings: ClusterSettings, count: int) -> list[NodeGroup]:
        """Split COUNT new nodes over NODE_INSTANCE_TYPE's entries (the last takes the rest)."""
        groups: list[NodeGroup] = []
        remaining = count
        for spec in settings.node_types[:-1]:
            take = min(spec.get("count") or 1, remaining)
            if take:
                image = spec.get("image_id") or settings.node_image_id
                groups.append(NodeGroup(spec["instance_type"], image, take))
            remaining -= take
        if remaining > 0:
            last = settings.node_types[-1] if settings.node_types else {}
            image = last.get("image_id") or settings.node_image_id
            groups.append(NodeGroup(settings.node_instance_type, image, remaining))
        return groups

    def launch_workers(
        self, info: ClusterInfo, count: int, aliases: list[str], user_data: str | None,
        spot_bid: float | None = None, instance_type: str | None = None,
        image_id: str | None = None,
    ) -> list[str]:
        """Launch COUNT nodes (named ALIASES, or the lowest free numbers) in batched calls,
        of INSTANCE_TYPE and IMAGE_ID when given; returns their ids."""
        settings = info.settings
        assert settings and settings.subnet_id and info.security_group_id
        if count <= 0:
            return []
        groups = self.node_groups(settings, count)
        if instance_type or image_id:
            groups = [NodeGroup(instance_type or settings.node_instance_type,
                                image_id or settings.node_image_id, count)]
        used = [n.alias for n in info.nodes]
        launched: list[str] = []
        for group in groups:
            if aliases:
                names, aliases = aliases[: group.count], aliases[group.count :]
            else:
                names = [node_alias(n) for n in free_node_numbers(used, group.count)]
            used += names
            for batch in alias_batches(names):
                launched += self.launch_group(info, NodeGroup(group.instance_type,
                                                              group.image_id, len(batch)),
                                              batch, user_data, spot_bid or settings.spot_bid)
        return launched

    def launch_group(
        self, info: ClusterInfo, group: NodeGroup, aliases: list[str], user_data: str | None,
        spot_bid: float | None,
    ) -> list[str]:
        settings = info.settings
        assert settings and settings.subnet_id and info.security_group_id
        types = [group.instance_type] + [
            t for t in settings.fallback_instance_types if t != group.instance_type
        ]
        span = aliases[0] if len(aliases) == 1 else f"{aliases[0]}…{aliases[-1]}"
        for position, instance_type in enumerate(types):
            spec = self.launch_spec(info, "node", aliases, group.image_id, instance_type,
                                    user_data, spot_bid)
            self.progress.step(f"launching {span} ({instance_type}"
                               + (f", spot bid ${spot_bid}" if spot_bid else "") + ")")
            try:
                return self.launch(spec)
            except CapacityError as error:
                if position + 1 < len(types):
                    self.progress.step(f"{error}; trying {types[position + 1]}")
                    continue
                raise CapacityError(
                    f"{error} — no capacity for {span} in {settings.zone} (FALLBACK_INSTANCE_"
                    "TYPES lists types to try instead); the instances already launched are kept"
                ) from error
        return []
