"""Cluster operations: the only place that knows the order of things.

start / start -x / stop / restart / terminate / addnode / removenode / listclusters, on top of
`ec2.Cloud` (EC2) — node setup over SSH hooks in after the instances are up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sclust.config import ClusterTemplate, Volume
from sclust.ec2 import CapacityError, Cloud, LaunchRequest
from sclust.errors import CloudError, ClusterNotFound, SclustError
from sclust.keys import fingerprints
from sclust.progress import Progress
from sclust.state import ClusterInfo, ClusterSettings, Node, free_node_numbers, node_alias
from sclust.userdata import user_data_for
from sclust.waits import wait_for_state

if TYPE_CHECKING:
    from sclust.pluginrun import PluginOutcome

log = logging.getLogger(__name__)

DEFAULT_DEVICES = [f"/dev/sd{letter}" for letter in "fghijklmnop"]


@dataclass
class NodeGroup:
    """Nodes launched together: same type, AMI and market."""

    instance_type: str
    image_id: str
    count: int


class ClusterManager:
    """Runs cluster operations against one cloud region."""

    def __init__(self, cloud: Cloud, progress: Progress, timeout: float = 900,
                 key_file: Callable[[str], Path] | None = None,
                 plugin_config: Callable[[str], dict | None] | None = None) -> None:
        self.cloud = cloud
        self.progress = progress
        self.timeout = timeout
        # KEYNAME -> private key file (the config's [key] sections); needed for node setup.
        self.key_file = key_file
        # [plugin NAME] -> its spec from the config: supplies the secret settings that are
        # never stored in the cluster's tags.
        self.plugin_config = plugin_config
        # What the plugins' hooks did during this manager's operations (the CLI reports them).
        self.plugin_outcomes: list[PluginOutcome] = []
        # Set by the load balancer, whose launches and removals overlap (see configure.SetupGuard).
        self.setup_guard = None

    def configurator(self, info: ClusterInfo, user: str | None = None):
        from sclust.configure import Configurator
        from sclust.paths import known_hosts_file

        settings = self.require_settings(info)
        if self.key_file is None:
            raise SclustError("node setup needs the config's [key] section")
        settings.plugins = [self.with_secrets(spec) for spec in settings.plugins]
        return Configurator(info, self.key_file(settings.keyname),
                            known_hosts_file(self.cloud.region, info.tag), self.progress, user,
                            guard=self.setup_guard)

    def configure(self, info: ClusterInfo, hook: str | None = "run",
                  added: Sequence[Node] = ()) -> ClusterInfo:
        """Set up (or re-set up) every running node of the cluster over SSH, then run the
        plugins' HOOK (or on_add_node for each of ADDED)."""
        from sclust.pluginrun import run_hook

        configurator = self.configurator(info)
        try:
            configurator.setup(adding=added)
            for node in added:
                self.plugin_outcomes += run_hook(configurator, "on_add_node", node)
            if hook and not added:
                self.plugin_outcomes += run_hook(configurator, hook)
        finally:
            configurator.close()
        return info

    def run_plugins(self, tag: str, hook: str, only: list[dict] | None = None,
                    ssh_wait: float = 300) -> ClusterInfo:
        """HOOK of the cluster's plugins (or of ONLY) on the running cluster, without setup.

        Plugins need a running master; if there is none, or SSH fails, that is reported as
        the plugins' failure and the operation goes on (shutdown must never be blocked)."""
        from sclust.pluginrun import PluginOutcome, run_hook

        info = self.get(tag)
        specs = (info.settings.plugins if info.settings else []) if only is None else only
        if not specs:
            return info
        master = info.master
        if master is None or master.state != "running":
            self.plugin_outcomes += [PluginOutcome(p["name"], hook, error="the master is not "
                                                   "running") for p in specs]
            return info
        configurator = None
        try:
            configurator = self.configurator(info)
            configurator.ssh_wait = ssh_wait
            self.plugin_outcomes += run_hook(configurator, hook, only=only)
        except SclustError as error:  # no key, or SSH itself failed
            self.plugin_outcomes += [PluginOutcome(p["name"], hook, error=str(error))
                                     for p in specs]
        finally:
            if configurator is not None:
                configurator.close()
        return info

    # ---- lookups ---------------------------------------------------------------------------

    def list(self, tag: str | None = None) -> list[ClusterInfo]:
        return self.cloud.find_clusters(tag)

    def get(self, tag: str) -> ClusterInfo:
        found = self.cloud.find_clusters(tag)
        if not found:
            from sclust.config import did_you_mean

            hint = did_you_mean(tag, [c.tag for c in self.cloud.find_clusters()])
            raise ClusterNotFound(f"no cluster named {tag!r} in {self.cloud.region}{hint}")
        return found[0]

    # ---- start -----------------------------------------------------------------------------

    def start(self, tag: str, template: ClusterTemplate, configure: bool = True) -> ClusterInfo:
        """Create cluster TAG from TEMPLATE: security group, master, nodes, volumes, then set
        the nodes up over SSH (unless CONFIGURE is False: `start --create-only`)."""
        existing = self.cloud.find_clusters(tag)
        if existing:
            raise SclustError(
                f"cluster {tag!r} already exists ({existing[0].state}): resume it with "
                f"`sclust start -x {tag}` or remove it with `sclust terminate {tag}`"
            )
        self.check_key_pair(template)
        # Keys pinned for an earlier cluster of this name (terminated elsewhere, or before
        # sclust forgot them) would make the new nodes look like impostors.
        self.forget_cluster_keys(tag)
        volume_zone = self.check_volumes(template.volumes, template.availability_zone)
        zone = volume_zone or template.availability_zone
        subnet = self.cloud.subnet_for(template.subnet_id, zone)
        if volume_zone and subnet["AvailabilityZone"] != volume_zone:
            raise SclustError(
                f"SUBNET_ID {subnet['SubnetId']} is in {subnet['AvailabilityZone']} but the "
                f"volumes are in {volume_zone}: EBS volumes attach only within their zone"
            )
        settings = ClusterSettings.from_template(template)
        settings.zone, settings.subnet_id = subnet["AvailabilityZone"], subnet["SubnetId"]
        settings.vpc_id = subnet["VpcId"]
        self.progress.step(f"creating security group for {tag} in {settings.zone}")
        group_id = self.cloud.create_security_group(
            tag, settings.vpc_id, settings, template.permissions, template.ssh_cidr
        )
        info = ClusterInfo(tag, group_id, settings)
        pinned = bool(volume_zone or template.subnet_id or template.availability_zone)
        user_data = user_data_for(template.userdata_scripts)
        self.launch_master(info, pinned, user_data)
        self.launch_workers(info, settings.cluster_size - 1, [], user_data)
        info = self.finish_launch(tag)
        return self.configure(info) if configure else info

    def check_key_pair(self, template: ClusterTemplate) -> None:
        name, path = template.key.name, template.key.location
        found = self.cloud.key_fingerprint(name)
        if found is None:
            raise CloudError(
                f"key pair {name!r} does not exist in EC2 region {self.cloud.region}: import "
                f"KEY_LOCATION's key with `sclust createkey {name} -i {path}`, or create a new "
                f"one with `sclust createkey {name} -o FILE`"
            )
        if found and found not in fingerprints(path):
            raise CloudError(
                f"KEY_LOCATION {path} is not the private key of EC2 key pair {name!r} "
                f"(EC2 fingerprint {found}): fix KEY_LOCATION in [key {name}] or KEYNAME"
            )

    def check_volumes(self, volumes: list[Volume], zone: str | None) -> str | None:
        """All volumes exist, are free and share one zone; return that zone."""
        if not volumes:
            return None
        described = {v["VolumeId"]: v for v in self.cloud.describe_volumes(
            [v.volume_id for v in volumes])}
        zones = {v["AvailabilityZone"] for v in described.values()}
        if len(zones) > 1:
            listing = ", ".join(f"{i} in {v['AvailabilityZone']}" for i, v in described.items())
            raise SclustError(f"the cluster's volumes must all be in one zone: {listing}")
        for volume_id, volume in described.items():
            if volume.get("State") == "in-use":
                users = ", ".join(a["InstanceId"] for a in volume.get("Attachments", []))
                raise SclustError(f"volume {volume_id} is in use by {users}: detach it first")
        volume_zone = zones.pop()
        if zone and zone != volume_zone:
            raise SclustError(
                f"AVAILABILITY_ZONE {zone} differs from the volumes' zone {volume_zone}"
            )
        return volume_zone

    def launch_master(self, info: ClusterInfo, pinned: bool, user_data: str | None) -> None:
        settings = info.settings
        assert settings and settings.subnet_id and info.security_group_id
        request = LaunchRequest(
            cluster=info.tag, role="master", count=1, image_id=settings.master_image_id,
            instance_type=settings.master_instance_type, keyname=settings.keyname,
            security_group_id=info.security_group_id, subnet_id=settings.subnet_id,
            aliases=["master"], name_prefix=f"{info.tag}-" if settings.dns_prefix else "",
            spot_bid=settings.spot_bid if settings.force_spot_master else None,
            user_data=user_data, root_volume_size=settings.root_volume_size,
        )
        self.progress.step(
            f"launching master ({settings.master_instance_type}, {settings.master_image_id})"
        )
        try:
            self.cloud.launch(request)
            return
        except CapacityError as error:
            if pinned:
                raise
            self.progress.step(f"{error}; trying the region's other zones")
        for subnet in self.cloud.default_subnets():
            if subnet["SubnetId"] == settings.subnet_id:
                continue
            request.subnet_id = subnet["SubnetId"]
            try:
                self.cloud.launch(request)
            except CapacityError as error:
                self.progress.step(f"{subnet['AvailabilityZone']}: {error}")
                continue
            settings.zone, settings.subnet_id = subnet["AvailabilityZone"], subnet["SubnetId"]
            self.cloud.update_settings(info.security_group_id, settings)
            self.progress.step(f"master launched in {settings.zone}")
            return
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
    ) -> None:
        """Launch COUNT nodes (named ALIASES, or the lowest free numbers) in batched calls."""
        settings = info.settings
        assert settings and settings.subnet_id and info.security_group_id
        if count <= 0:
            return
        groups = self.node_groups(settings, count)
        if instance_type:
            groups = [NodeGroup(instance_type, settings.node_image_id, count)]
        used = [n.alias for n in info.nodes]
        for group in groups:
            if aliases:
                names, aliases = aliases[: group.count], aliases[group.count :]
            else:
                names = [node_alias(n) for n in free_node_numbers(used, group.count)]
            used += names
            self.launch_group(info, group, names, user_data, spot_bid or settings.spot_bid)

    def launch_group(
        self, info: ClusterInfo, group: NodeGroup, aliases: list[str], user_data: str | None,
        spot_bid: float | None,
    ) -> None:
        settings = info.settings
        assert settings and settings.subnet_id and info.security_group_id
        types = [group.instance_type] + [
            t for t in settings.fallback_instance_types if t != group.instance_type
        ]
        for position, instance_type in enumerate(types):
            request = LaunchRequest(
                cluster=info.tag, role="node", count=len(aliases), image_id=group.image_id,
                instance_type=instance_type, keyname=settings.keyname,
                security_group_id=info.security_group_id, subnet_id=settings.subnet_id,
                aliases=aliases, name_prefix=f"{info.tag}-" if settings.dns_prefix else "",
                spot_bid=spot_bid, user_data=user_data,
                root_volume_size=settings.root_volume_size,
            )
            span = aliases[0] if len(aliases) == 1 else f"{aliases[0]}…{aliases[-1]}"
            self.progress.step(f"launching {span} ({instance_type}"
                               + (f", spot bid ${spot_bid}" if spot_bid else "") + ")")
            try:
                self.cloud.launch(request)
                return
            except CapacityError as error:
                if position + 1 < len(types):
                    self.progress.step(f"{error}; trying {types[position + 1]}")
                    continue
                raise CapacityError(
                    f"{error} — no capacity for {span} in {settings.zone}; the instances "
                    f"already launched are kept: retry with `sclust start -x {info.tag}` "
                    f"(or list FALLBACK_INSTANCE_TYPES), or `sclust terminate {info.tag}`"
                ) from error

    def finish_launch(self, tag: str) -> ClusterInfo:
        """Wait for every node to run with an address, then attach the volumes."""
        info = self.get(tag)
        ids = [n.instance_id for n in info.nodes if n.state != "running" or not n.address]
        ready = wait_for_state(self.cloud, ids, "running", self.progress, self.timeout,
                               what=f"{len(ids)} instance(s) of {tag} to run",
                               need_address=True)
        # The last poll already describes the waited-for nodes: no second lookup.
        by_id = {n.instance_id: n for n in ready}
        info.nodes = [by_id.get(n.instance_id, n) for n in info.nodes]
        self.attach_volumes(info)
        return info

    def attach_volumes(self, info: ClusterInfo) -> None:
        settings, master = info.settings, info.master
        if not settings or not settings.volumes or master is None:
            return
        volumes = [Volume(**v) for v in settings.volumes]
        described = {v["VolumeId"]: v for v in self.cloud.describe_volumes(
            [v.volume_id for v in volumes])}
        taken = {a.get("Device") for d in described.values() for a in d.get("Attachments", [])}
        free_devices = [d for d in DEFAULT_DEVICES if d not in taken]
        for volume in volumes:
            attachments = described[volume.volume_id].get("Attachments", [])
            if any(a["InstanceId"] == master.instance_id for a in attachments):
                continue
            if attachments:
                raise SclustError(
                    f"volume {volume.volume_id} is attached to {attachments[0]['InstanceId']},"
                    " not to the master: detach it first"
                )
            device = volume.device or free_devices.pop(0)
            self.progress.step(f"attaching {volume.volume_id} to master as {device}")
            self.cloud.attach_volume(volume.volume_id, master.instance_id, device)

    # ---- start -x, stop, restart, terminate ------------------------------------------------

    def resume(self, tag: str, configure: bool = True) -> ClusterInfo:
        """start -x: start what is stopped, launch what is missing, set everything up again."""
        info = self.get(tag)
        settings = self.require_settings(info)
        stopped = [n.instance_id for n in info.nodes if n.state == "stopped"]
        stopping = [n.instance_id for n in info.nodes if n.state == "stopping"]
        if stopping:
            wait_for_state(self.cloud, stopping, "stopped", self.progress, self.timeout)
            stopped += stopping
        if stopped:
            self.progress.step(f"starting {len(stopped)} stopped instance(s) of {tag}")
            self.cloud.start_instances(stopped)
        user_data = None
        if info.master is None:
            self.launch_master(info, pinned=True, user_data=user_data)
        missing = settings.cluster_size - 1 - len(info.workers)
        if missing > 0:
            self.progress.step(f"{tag} lacks {missing} node(s) of its size; launching them")
            self.launch_workers(info, missing, [], user_data)
        info = self.finish_launch(tag)
        return self.configure(info) if configure else info

    def require_settings(self, info: ClusterInfo) -> ClusterSettings:
        if info.settings is None:
            raise SclustError(
                f"cluster {info.tag!r} has instances but no security group with its settings "
                f"(a launch interrupted early?): remove it with `sclust terminate {info.tag}`"
            )
        return info.settings

    def stop(self, tag: str, terminate_unstoppable: bool = False,
             plugins: bool = True) -> ClusterInfo:
        """Stop every node; spot and instance-store nodes cannot stop (terminate them if told).

        The plugins' on_shutdown hooks run first (unless PLUGINS is False)."""
        info = self.get(tag)
        unstoppable = [n for n in info.nodes if n.spot or n.root_device_type != "ebs"]
        if unstoppable and not terminate_unstoppable:
            names = ", ".join(f"{n.alias} ({'spot' if n.spot else 'instance store'})"
                              for n in unstoppable)
            raise SclustError(
                f"cannot stop {names}: EC2 can only terminate them. Use `sclust stop -t {tag}` "
                f"to terminate those and stop the rest"
            )
        if plugins:
            self.run_plugins(tag, "on_shutdown", ssh_wait=30)
        if unstoppable:
            ids = [n.instance_id for n in unstoppable]
            self.progress.step(f"terminating {len(ids)} node(s) that cannot stop")
            self.cloud.terminate_instances(ids)
        running = [n.instance_id for n in info.nodes if n not in unstoppable
                   and n.state in ("pending", "running")]
        self.progress.step(f"stopping {len(running)} instance(s) of {tag}")
        self.cloud.stop_instances(running)
        wait_for_state(self.cloud, running, "stopped", self.progress, self.timeout)
        return self.get(tag)

    def restart(self, tag: str, configure: bool = True) -> ClusterInfo:
        info = self.get(tag)
        running = [n.instance_id for n in info.nodes if n.state == "running"]
        if not running:
            raise SclustError(f"cluster {tag!r} has no running node: use `sclust start -x {tag}`")
        self.progress.step(f"rebooting {len(running)} instance(s) of {tag}")
        self.cloud.reboot_instances(running)
        info = self.finish_launch(tag)
        return self.configure(info, hook="on_restart") if configure else info

    def terminate(self, tag: str, plugins: bool = True) -> list[str]:
        """Terminate every instance, cancel spot requests, delete the group. Volumes stay.

        The plugins' on_shutdown hooks run first (unless PLUGINS is False); a failing hook is
        reported but does not stop the termination. Returns the ids of the user volumes kept.
        """
        if plugins:
            self.run_plugins(tag, "on_shutdown", ssh_wait=30)
        info = self.get(tag)
        ids = [n.instance_id for n in info.nodes]
        if ids:
            self.progress.step(f"terminating {len(ids)} instance(s) of {tag}")
            self.cloud.terminate_instances(ids)
        cancelled = self.cloud.cancel_spot_requests(tag)
        if cancelled:
            self.progress.step(f"cancelled {cancelled} spot request(s)")
        wait_for_state(self.cloud, ids, "terminated", self.progress, self.timeout)
        if info.security_group_id:
            self.progress.step(f"deleting security group of {tag}")
            self.cloud.delete_security_group(info.security_group_id)
        self.forget_cluster_keys(tag)
        settings = info.settings
        return [v["volume_id"] for v in settings.volumes] if settings else []

    # ---- addnode, removenode ---------------------------------------------------------------

    def add_nodes(
        self, tag: str, count: int, aliases: list[str], spot_bid: float | None = None,
        instance_type: str | None = None, configure: bool = True,
    ) -> list[Node]:
        info = self.get(tag)
        self.require_settings(info)
        if info.master is None or info.master.state != "running":
            raise SclustError(f"cluster {tag!r} has no running master: `sclust start -x {tag}`")
        if aliases:
            used = {n.alias for n in info.nodes}
            clashes = sorted(set(aliases) & used) + sorted(
                {a for a in aliases if aliases.count(a) > 1})
            if clashes:
                raise SclustError(f"cluster {tag!r} already has node(s) named {', '.join(clashes)}")
            count = len(aliases)
        before = {n.instance_id for n in info.nodes}
        self.launch_workers(info, count, list(aliases), None, spot_bid, instance_type)
        after = self.finish_launch(tag)
        added = [n for n in after.workers if n.instance_id not in before]
        if configure:
            # The whole setup is idempotent: the new nodes join, the others update their
            # hosts, exports and queue without disturbing running jobs.
            after = self.configure(after, added=added)
        return added

    def pick_nodes(self, info: ClusterInfo, aliases: list[str], count: int) -> list[Node]:
        """Nodes named ALIASES, or the COUNT highest-numbered ones; never the master."""
        workers = info.workers
        if aliases:
            by_alias = {n.alias: n for n in info.nodes}
            chosen = []
            for alias in aliases:
                node = by_alias.get(alias)
                if node is None:
                    from sclust.config import did_you_mean

                    hint = did_you_mean(alias, [n.alias for n in workers])
                    raise SclustError(f"cluster {info.tag!r} has no node {alias!r}{hint}")
                if node.is_master:
                    raise SclustError("the master cannot be removed: terminate the cluster")
                chosen.append(node)
            return chosen
        if count > len(workers):
            raise SclustError(f"cluster {info.tag!r} has only {len(workers)} node(s) besides"
                              " the master")
        return workers[len(workers) - count :]

    def remove_nodes(self, tag: str, aliases: list[str], count: int, keep: bool,
                     force: bool = False, configure: bool = True) -> list[Node]:
        """Drain the nodes, take them out of SGE, NFS and /etc/hosts, then terminate them."""
        info = self.get(tag)
        nodes = self.pick_nodes(info, aliases, count)
        ids = [n.instance_id for n in nodes]
        names = ", ".join(n.alias for n in nodes)
        master = info.master
        configured = configure and master is not None and master.state == "running"
        if configured:
            configurator = self.configurator(info)
            try:
                self.progress.step(f"draining {names}")
                configurator.remove_from_scheduler(nodes, force)
                from sclust.pluginrun import PluginOutcome, run_hook

                # A node that never came up (a failed launch) must still go: its hooks get
                # a short SSH wait, and their failure is reported, not a reason to keep it.
                configurator.ssh_wait = min(configurator.ssh_wait, 30)
                for node in nodes:
                    try:
                        self.plugin_outcomes += run_hook(configurator, "on_remove_node", node)
                    except SclustError as error:
                        self.plugin_outcomes += [
                            PluginOutcome(p["name"], "on_remove_node", error=str(error))
                            for p in configurator.settings.plugins]
            finally:
                configurator.close()
        if keep:
            settings = self.require_settings(info)
            for node in nodes:
                self.progress.step(f"taking {node.alias} ({node.instance_id}) out of {tag}")
                self.cloud.detach_from_cluster(node.instance_id, tag, settings.vpc_id or "")
        else:
            self.progress.step(f"terminating {names}")
            self.cloud.terminate_instances(ids)
            wait_for_state(self.cloud, ids, "terminated", self.progress, self.timeout)
        if configured:
            self.forget_host_keys(info, nodes)
            self.configure(self.get(tag), hook=None)
        return nodes

    def with_secrets(self, spec: dict) -> dict:
        """SPEC as stored, plus the settings only the config has (e.g. a PASSWORD)."""
        configured = self.plugin_config(spec["name"]) if self.plugin_config else None
        if not configured or configured.get("setup_class") != spec.get("setup_class"):
            return spec
        return {**spec, "settings": {**configured["settings"], **spec["settings"]}}

    def forget_cluster_keys(self, tag: str) -> None:
        """Drop every host key pinned for TAG, and the login user found for it."""
        from sclust.paths import known_hosts_file
        from sclust.ssh import login_user_file

        known = known_hosts_file(self.cloud.region, tag)
        for path in (known, login_user_file(known)):
            path.unlink(missing_ok=True)

    def forget_host_keys(self, info: ClusterInfo, nodes: list[Node]) -> None:
        from sclust.paths import known_hosts_file
        from sclust.ssh import PinnedHostKeys

        PinnedHostKeys(known_hosts_file(self.cloud.region, info.tag)).forget(
            [n.address for n in nodes if n.address])
