"""Cluster operations: the only place that knows the order of things.

start / start -x / stop / restart / terminate / addnode / removenode / listclusters, on top of
the Cloud seam (`sclust.cloud`; launches in `launching.py`) — node setup over SSH hooks in
after the instances are up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sclust.cloud import Cloud
from sclust.config import ClusterTemplate, Volume
from sclust.errors import ClusterNotFound, ConfigError, SclustError
from sclust.inventory import find_clusters, node_from
from sclust.keys import check_key_pair
from sclust.launching import Launcher, LaunchRecord
from sclust.profiles import ensure_profile, remove_profile
from sclust.progress import Progress
from sclust.state import (
    TAG_ALIAS,
    TAG_ALIAS_FIRST,
    TAG_ALIASES,
    TAG_CLUSTER,
    TAG_ROLE,
    ClusterInfo,
    ClusterSettings,
    Node,
)
from sclust.userdata import user_data_for
from sclust.waits import wait_for_instances

if TYPE_CHECKING:
    from sclust.configure import SetupGuard
    from sclust.pluginrun import PluginOutcome

log = logging.getLogger(__name__)

DEFAULT_DEVICES = [f"/dev/sd{letter}" for letter in "fghijklmnop"]


class ClusterManager:
    """Runs cluster operations against one cloud region."""

    def __init__(self, cloud: Cloud, progress: Progress, timeout: float = 900,
                 key_file: Callable[[str], Path] | None = None,
                 plugin_config: Callable[[str], dict | None] | None = None,
                 refresh_interval: float = 5.0) -> None:
        self.cloud = cloud
        self.progress = progress
        self.timeout = timeout
        # REFRESH_INTERVAL: the longest pause between two polls of the cloud while waiting.
        self.refresh_interval = refresh_interval
        # KEYNAME -> private key file (the config's [key] sections); needed for node setup.
        self.key_file = key_file
        # [plugin NAME] -> its spec from the config: supplies the secret settings that are
        # never stored in the cluster's tags.
        self.plugin_config = plugin_config
        # What the plugins' hooks did during this manager's operations (the CLI reports them).
        self.plugin_outcomes: list[PluginOutcome] = []
        # Set by the load balancer, whose launches and removals overlap (see configure.SetupGuard).
        self.setup_guard: SetupGuard | None = None  # the balancer's, while it runs
        # The cluster a start (or start -x) began to create or change, and what its launches
        # made: if it fails or is interrupted, the CLI says what exists (report.aftermath).
        self.changing: str | None = None
        self.record = LaunchRecord()

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
        if only is not None:
            only = [self.with_secrets(spec) for spec in only]
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

    def list_clusters(self, tag: str | None = None) -> list[ClusterInfo]:
        """sclust's clusters and those StarCluster started (listed as they are: adopting one
        waits until a command acts on it)."""
        from sclust.adoption import find_starcluster

        clusters = find_clusters(self.cloud, tag)
        known = {c.tag for c in clusters}
        clusters += [f.info() for f in find_starcluster(self.cloud, tag) if f.tag not in known]
        return sorted(clusters, key=lambda c: c.tag)

    def cluster_nodes(self, tag: str) -> list[Node]:
        """The cluster's live nodes in one describe call (what the load balancer polls)."""
        from sclust.inventory import cluster_nodes

        return cluster_nodes(self.cloud, tag)

    def get(self, tag: str, adopt: bool = True) -> ClusterInfo:
        """Cluster TAG; one StarCluster started is adopted first (sclust records its settings
        and node tags) unless ADOPT is False (a listing only looks)."""
        found = find_clusters(self.cloud, tag)
        if not found:
            from sclust.adoption import adopt as record
            from sclust.adoption import find_starcluster

            started = find_starcluster(self.cloud, tag)
            if started and not adopt:
                return started[0].info()
            if started:
                self.progress.step(f"{tag!r} was started by StarCluster (group "
                                   f"{started[0].group.name}): recording sclust's settings on it")
                record(self.cloud, started[0])
                found = find_clusters(self.cloud, tag) or [started[0].info()]
        if not found:
            from sclust.config import did_you_mean

            hint = did_you_mean(tag, [c.tag for c in self.list_clusters()])
            raise ClusterNotFound(f"no cluster named {tag!r} in {self.cloud.region}{hint}")
        return found[0]

    # ---- start -----------------------------------------------------------------------------

    def start(self, tag: str, template: ClusterTemplate, configure: bool = True) -> ClusterInfo:
        """Create cluster TAG from TEMPLATE: security group, master, nodes, volumes, then set
        the nodes up over SSH (unless CONFIGURE is False: `start --create-only`)."""
        self.changing = tag  # an interruption from here on reports what exists
        existing = find_clusters(self.cloud, tag)
        if existing:
            self.changing = None  # it says so itself
            raise SclustError(
                f"cluster {tag!r} already exists ({existing[0].state}): resume it with "
                f"`sclust start -x {tag}` or remove it with `sclust terminate {tag}`"
            )
        if template.disable_cloudinit and template.userdata_scripts:
            raise ConfigError(
                f"[cluster {template.name}]: USERDATA_SCRIPTS need cloud-init on the image, and "
                "DISABLE_CLOUDINIT = True says it has none (sclust then sends no user data): "
                "remove one of the two")
        self.check_key_pair(template)
        # Keys pinned for an earlier cluster of this name (terminated elsewhere, or before
        # sclust forgot them) would make the new nodes look like impostors.
        self.forget_cluster_keys(tag)
        volume_zone = self.check_volumes(template.volumes, template.availability_zone)
        zone = volume_zone or template.availability_zone
        subnet = self.cloud.subnet_for(template.subnet_id, zone)
        if volume_zone and subnet.zone != volume_zone:
            raise SclustError(
                f"SUBNET_ID {subnet.subnet_id} is in {subnet.zone} but the "
                f"volumes are in {volume_zone}: EBS volumes attach only within their zone"
            )
        settings = ClusterSettings.from_template(template)
        settings.zone, settings.subnet_id = subnet.zone, subnet.subnet_id
        settings.vpc_id = subnet.vpc_id
        if template.public_ips is None and not subnet.public_ips:
            self.progress.step(f"subnet {subnet.subnet_id} gives no public addresses (set "
                               "PUBLIC_IPS = True for them): sclust reaches the nodes by their "
                               "private ones")
        user_data = user_data_for(template.userdata_scripts)
        for fs_id in {entry.split(":", 1)[0] for entry in settings.efs}:
            self.cloud.check_efs(fs_id)  # before anything is made
        if settings.iam_profile:
            ensure_profile(self.cloud, self.progress, settings.iam_profile, f"cluster {tag}",
                           settings.plugins)
        self.progress.step(f"creating security group for {tag} in {settings.zone}")
        group_id = self.launcher.create_group(tag, settings)
        for fs_id in {entry.split(":", 1)[0] for entry in settings.efs}:
            made = self.cloud.ensure_efs_mount_target(fs_id, subnet.subnet_id, subnet.zone,
                                                      group_id)
            what = "a mount target created" if made else "its mount target"
            self.progress.step(f"EFS {fs_id}: {what} in {subnet.zone}, open to the cluster's "
                               "group (NFS 2049)")
        info = ClusterInfo(tag, group_id, settings)
        pinned = bool(volume_zone or template.subnet_id or template.availability_zone)
        launched = self.launcher.launch_master(info, pinned, user_data)
        launched += self.launcher.launch_workers(info, settings.cluster_size - 1, [], user_data)
        info = self.finish_launch(tag, launched)
        return self.configure(info) if configure else info

    def check_key_pair(self, template: ClusterTemplate) -> None:
        check_key_pair(self.cloud, template.key.name, template.key.location)

    def check_volumes(self, volumes: list[Volume], zone: str | None) -> str | None:
        """All volumes exist, are free and share one zone; return that zone."""
        if not volumes:
            return None
        described = {v.volume_id: v for v in self.cloud.describe_volumes(
            [v.volume_id for v in volumes])}
        zones = {v.zone for v in described.values()}
        if len(zones) > 1:
            listing = ", ".join(f"{i} in {v.zone}" for i, v in described.items())
            raise SclustError(f"the cluster's volumes must all be in one zone: {listing}")
        for volume_id, volume in described.items():
            if volume.state == "in-use":
                users = ", ".join(a.instance_id for a in volume.attachments)
                raise SclustError(f"volume {volume_id} is in use by {users}: detach it first")
        volume_zone = zones.pop()
        if zone and zone != volume_zone:
            raise SclustError(
                f"AVAILABILITY_ZONE {zone} differs from the volumes' zone {volume_zone}"
            )
        return volume_zone

    @property
    def launcher(self) -> Launcher:
        return Launcher(self.cloud, self.progress, self.record)

    def wait_for(self, instance_ids: list[str], state: str, what: str | None = None,
                 need_address: bool = False) -> list[Node]:
        """The cloud's waiter under a progress line; laggards named by alias."""
        instances = wait_for_instances(
            self.cloud, instance_ids, state, self.progress, self.timeout, what=what,
            need_address=need_address, interval=self.refresh_interval,
            name=lambda i: node_from(i).alias)
        return [node_from(i) for i in instances]

    def finish_launch(self, tag: str, launched: Sequence[str] = ()) -> ClusterInfo:
        """Wait for every node to run with an address, then attach the volumes.

        LAUNCHED are the ids of instances just launched: waited for by id, since a lookup by
        tag right after RunInstances can miss them."""
        info = self.get(tag)
        found = {n.instance_id for n in info.nodes}
        ids = [n.instance_id for n in info.nodes if n.state != "running" or not n.address]
        ids += [i for i in launched if i not in found]
        ready = self.wait_for(ids, "running", f"{len(ids)} instance(s) of {tag} to run",
                              need_address=True)
        # The last poll already describes the waited-for nodes: no second lookup.
        by_id = {n.instance_id: n for n in ready}
        info.nodes = [by_id.pop(n.instance_id, n) for n in info.nodes] + list(by_id.values())
        self.attach_volumes(info)
        return info

    def attach_volumes(self, info: ClusterInfo) -> None:
        settings, master = info.settings, info.master
        if not settings or not settings.volumes or master is None:
            return
        volumes = [Volume(**v) for v in settings.volumes]
        described = {v.volume_id: v for v in self.cloud.describe_volumes(
            [v.volume_id for v in volumes])}
        taken = {a.device for d in described.values() for a in d.attachments}
        free_devices = [d for d in DEFAULT_DEVICES if d not in taken]
        for volume in volumes:
            attachments = described[volume.volume_id].attachments
            if any(a.instance_id == master.instance_id for a in attachments):
                continue
            if attachments:
                raise SclustError(
                    f"volume {volume.volume_id} is attached to {attachments[0].instance_id},"
                    " not to the master: detach it first"
                )
            device = volume.device or free_devices.pop(0)
            self.progress.step(f"attaching {volume.volume_id} to master as {device}")
            self.cloud.attach_volume(volume.volume_id, master.instance_id, device)

    # ---- start -x, stop, restart, terminate ------------------------------------------------

    def resume(self, tag: str, configure: bool = True) -> ClusterInfo:
        """start -x: start what is stopped, launch what is missing, set everything up again."""
        self.changing = tag
        try:
            info = self.get(tag)
        except ClusterNotFound:
            self.changing = None  # it says so itself
            raise
        settings = self.require_settings(info)
        self.launcher.repair_group(info)
        self.launcher.repair_zone(info)
        self.launcher.repair_names(info)
        stopped = [n.instance_id for n in info.nodes if n.state == "stopped"]
        stopping = [n.instance_id for n in info.nodes if n.state == "stopping"]
        if stopping:
            self.wait_for(stopping, "stopped")
            stopped += stopping
        if stopped:
            self.progress.step(f"starting {len(stopped)} stopped instance(s) of {tag}")
            self.cloud.start_instances(stopped)
        missing = settings.cluster_size - 1 - len(info.workers)
        launched: list[str] = []
        if info.master is None or missing > 0:
            user_data = self.launcher.user_data(info)
            if info.master is None:
                launched += self.launcher.launch_master(info, pinned=True, user_data=user_data)
            if missing > 0:
                self.progress.step(f"{tag} lacks {missing} node(s) of its size; launching them")
                launched += self.launcher.launch_workers(info, missing, [], user_data)
        info = self.finish_launch(tag, launched)
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
        self.stop_balancer(tag)
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
        self.wait_for(running, "stopped")
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

    def stop_balancer(self, tag: str) -> None:
        """The master's balancer service stops first: it must launch nothing meanwhile."""
        from sclust.elastic.onmaster import stop_before

        said = stop_before(self, tag)
        if said:
            self.progress.step(said)

    def terminate(self, tag: str, plugins: bool = True) -> list[str]:
        """Terminate every instance, cancel spot requests, delete the group. Volumes stay.

        The plugins' on_shutdown hooks run first (unless PLUGINS is False); a failing hook is
        reported but does not stop the termination. Returns the ids of the user volumes kept.
        """
        self.stop_balancer(tag)
        if plugins:
            self.run_plugins(tag, "on_shutdown", ssh_wait=30)
        info = self.get(tag)
        ids = [n.instance_id for n in info.nodes]
        if ids:
            self.progress.step(f"terminating {len(ids)} instance(s) of {tag}")
            self.cloud.terminate_instances(ids)
        cancelled = self.cloud.cancel_spot_requests(TAG_CLUSTER, tag)
        if cancelled:
            self.progress.step(f"cancelled {cancelled} spot request(s)")
        self.wait_for(ids, "terminated")
        settings = info.settings
        if info.security_group_id and settings:
            # Mount targets hold the group (their interfaces are in it): released first.
            for fs_id in {entry.split(":", 1)[0] for entry in settings.efs}:
                if self.cloud.release_efs(fs_id, info.security_group_id):
                    self.progress.step(f"EFS {fs_id}: deleted the mount target sclust made")
        if info.security_group_id:
            self.progress.step(f"deleting security group of {tag}")
            self.cloud.delete_security_group(info.security_group_id)
        self.forget_cluster_keys(tag)
        if settings:
            remove_profile(self.cloud, self.progress, settings.iam_profile, f"cluster {tag}")
        return [v["volume_id"] for v in settings.volumes] if settings else []

    # ---- addnode, removenode ---------------------------------------------------------------

    def add_nodes(
        self, tag: str, count: int, aliases: list[str], spot_bid: float | None = None,
        instance_type: str | None = None, configure: bool = True, image_id: str | None = None,
    ) -> list[Node]:
        """Launch and set up COUNT nodes (or one per alias), of INSTANCE_TYPE and IMAGE_ID when
        given (StarCluster's addnode -I/-i) instead of the cluster's."""
        info = self.get(tag)
        self.require_settings(info)
        if image_id is not None:
            # Refused before anything launches: a typo must not leave half a node group.
            image = self.cloud.describe_image(image_id)
            self.progress.step(f"new nodes from {image.image_id} ({image.name or 'no name'})")
        if info.master is None or info.master.state != "running":
            raise SclustError(f"cluster {tag!r} has no running master: `sclust start -x {tag}`")
        if aliases:
            used = {n.alias for n in info.nodes}
            clashes = sorted(set(aliases) & used) + sorted(
                {a for a in aliases if aliases.count(a) > 1})
            if clashes:
                raise SclustError(f"cluster {tag!r} already has node(s) named {', '.join(clashes)}")
            count = len(aliases)
        launcher = self.launcher
        launched = launcher.launch_workers(info, count, list(aliases), launcher.user_data(info),
                                           spot_bid, instance_type, image_id)
        after = self.finish_launch(tag, launched)
        added = [n for n in after.workers if n.instance_id in launched]
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
            default_group = self.cloud.default_security_group(settings.vpc_id or "")
            for node in nodes:
                self.progress.step(f"taking {node.alias} ({node.instance_id}) out of {tag}")
                self.cloud.set_security_groups(node.instance_id, [default_group])
                self.cloud.delete_tags([node.instance_id], [
                    TAG_CLUSTER, TAG_ROLE, TAG_ALIAS, TAG_ALIAS_FIRST, TAG_ALIASES])
                self.cloud.create_tags([node.instance_id], {"sclust:removed-from": tag})
        else:
            self.progress.step(f"terminating {names}")
            self.cloud.terminate_instances(ids)
            self.wait_for(ids, "terminated")
        if configured:
            self.forget_host_keys(info, nodes)
            self.configure(self.get(tag), hook=None)
        return nodes

    def with_secrets(self, spec: dict) -> dict:
        """SPEC as stored, plus the settings only the config has (e.g. a PASSWORD).

        A class named only by the tags is never imported (tags are untrusted; importing runs
        code): it must be a built-in or the config's [plugin NAME] must name it too. Otherwise
        the spec says why it is refused, and its hooks report that instead of running."""
        from sclust.plugins.registry import is_builtin

        configured = self.plugin_config(spec["name"]) if self.plugin_config else None
        if configured and configured.get("setup_class") == spec.get("setup_class"):
            return {**spec, "settings": {**configured["settings"], **spec["settings"]}}
        if is_builtin(str(spec.get("setup_class", ""))):
            return spec
        return {**spec, "refused": (
            f"SETUP_CLASS {str(spec.get('setup_class'))[:80]!r} is named only by the cluster's "
            f"tags, so it is not imported: run with the config that has [plugin {spec['name']}]")}

    def forget_cluster_keys(self, tag: str) -> None:
        """Drop every host key pinned for TAG, and the login user found for it."""
        from sclust.paths import known_hosts_file
        from sclust.ssh import login_user_file, shell_user_file

        known = known_hosts_file(self.cloud.region, tag)
        for path in (known, login_user_file(known), shell_user_file(known)):
            path.unlink(missing_ok=True)

    def forget_host_keys(self, info: ClusterInfo, nodes: list[Node]) -> None:
        from sclust.paths import known_hosts_file
        from sclust.ssh import PinnedHostKeys

        PinnedHostKeys(known_hosts_file(self.cloud.region, info.tag)).forget(
            [n.address for n in nodes if n.address])
