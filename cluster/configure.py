"""Configure a launched cluster over SSH: hosts, user, keys, volumes, NFS, Grid Engine.

Phases (each one SSH command per node, all nodes of a phase in parallel):
  1. master: identity, user (its uid/gid decide everyone's), keys, volumes, exports, qmaster
  2. every node (master too): identity, user, root key, known hosts, NFS mounts, execd
  3. master: queue, host group, parallel environments, scheduler
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sclust import nodesetup as steps
from sclust.config import Volume
from sclust.errors import SclustError
from sclust.progress import Progress
from sclust.sge import setup as sge
from sclust.ssh import (
    LOGIN_CANDIDATES,
    Connection,
    PinnedHostKeys,
    Result,
    fan_out,
    raise_failures,
    remember_login_user,
    remembered_login_user,
)
from sclust.state import ClusterInfo, ClusterSettings, Node

log = logging.getLogger(__name__)
DEFAULT_LOGIN_USER = "root"  # only a fallback for the remembered login user


@dataclass
class Configurator:
    """Node setup for one cluster, with one reused SSH connection per node."""

    info: ClusterInfo
    key_file: Path
    known_hosts: Path
    progress: Progress
    user: str | None = None
    ssh_wait: float = 300
    connections: dict[str, Connection] = field(default_factory=dict)
    host_keys: PinnedHostKeys | None = None

    @property
    def settings(self) -> ClusterSettings:
        assert self.info.settings is not None
        return self.info.settings

    def name(self, node: Node) -> str:
        return node.host_name(self.info.tag, self.settings.dns_prefix)

    def connection(self, node: Node) -> Connection:
        if node.alias not in self.connections:
            if not node.address:
                raise SclustError(f"{node.alias} has no address")
            if self.host_keys is None:
                # One store for all connections: its lock serializes the parallel writes.
                self.host_keys = PinnedHostKeys(self.known_hosts)
            self.connections[node.alias] = Connection(
                node.alias, node.address, self.user or self.settings.login_user,
                self.key_file, self.host_keys, candidates=self.login_candidates())
        return self.connections[node.alias]

    def login_candidates(self) -> tuple[str, ...]:
        """Without LOGIN_USER: the user found last time first, then the usual ones."""
        found = remembered_login_user(self.known_hosts)
        return tuple(dict.fromkeys([found] if found else []) | dict.fromkeys(LOGIN_CANDIDATES))

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()

    def run_each(self, scripts: dict[str, str], doing: str) -> dict[str, Result]:
        """Run one script per node (by alias), in parallel; fail naming every node that failed."""
        by_alias = {n.alias: n for n in self.info.nodes}
        results = fan_out(
            list(scripts), lambda alias: self.connection(by_alias[alias]).run(
                scripts[alias], sudo=True), name=lambda alias: alias)
        raise_failures(results, doing)
        return results  # type: ignore[return-value]

    def connect_all(self, nodes: list[Node]) -> None:
        """Open every node's connection, waiting while sshd comes up; name the silent ones."""
        with self.progress.waiting(f"waiting for SSH on {len(nodes)} node(s)") as update:
            results = fan_out(nodes, lambda n: self.connection(n).open(self.ssh_wait),
                              name=lambda n: n.alias)
            update(f"{sum(not isinstance(r, Exception) for r in results.values())}/"
                   f"{len(nodes)} answering")
        raise_failures(results, "SSH")
        users = {self.connection(n).user for n in nodes}
        if len(users) == 1 and not (self.user or self.settings.login_user):
            remember_login_user(self.known_hosts, users.pop() or DEFAULT_LOGIN_USER)

    # ---- full setup ------------------------------------------------------------------------

    @property
    def exec_nodes(self) -> list[Node]:
        nodes = [n for n in self.info.nodes if n.state == "running"]
        return [n for n in nodes if not n.is_master or self.settings.master_is_exec_host]

    def shared_paths(self) -> list[str]:
        paths = list(steps.SHARED_ALWAYS)
        paths += [v["mount_path"] for v in self.settings.volumes]
        if not self.settings.disable_queue:
            paths.append(sge.CELL_DIR)
        return paths

    def remove_from_scheduler(self, gone: list[Node], force: bool) -> None:
        """Drain GONE hosts, refuse if jobs still run there (unless FORCE), then take them out
        of Grid Engine — before they leave /etc/hosts, which qconf needs to name them."""
        if self.settings.disable_queue:
            return
        master = self.info.master
        assert master is not None
        names = [self.name(n) for n in gone]
        self.connect_all([master])
        drain = "".join(sge.drain_script(name) for name in names)
        output = self.run_each({master.alias: drain}, "draining")[master.alias].stdout
        counts = [int(line.split()[1]) for line in output.splitlines()
                  if line.startswith("running-jobs ")]
        if len(counts) != len(names):  # never guess that a node is idle
            raise SclustError(f"draining: no job count for every node from the master: {output}")
        running = dict(zip(names, counts, strict=True))
        busy = [f"{name} ({count} job(s))" for name, count in running.items() if count]
        if busy and not force:
            raise SclustError(
                f"jobs still run on {', '.join(busy)}: the node(s) are disabled in the queue "
                "so no new job lands there; retry when they finish, or use --force to "
                "reschedule them elsewhere"
            )
        if busy:
            evict = "".join(sge.evict_script(name) for name in names)
            self.run_each({master.alias: evict}, "rescheduling jobs")
        staying = [n for n in self.exec_nodes if n not in gone]
        self.connect_all(staying)
        reports = self.run_each({n.alias: sge.exec_script(self.name(n)) for n in staying},
                                "reading exec hosts")
        self.configure_queue({a: r.stdout for a, r in reports.items()}, gone=names)

    def setup(self) -> None:
        """Make the running nodes a cluster (idempotent: also after start -x and restart)."""
        master = self.info.master
        if master is None or master.state != "running":
            raise SclustError(f"cluster {self.info.tag!r} has no running master")
        nodes = [n for n in self.info.nodes if n.state == "running"]
        self.connect_all(nodes)
        hosts = steps.cluster_hosts(nodes, self.info.tag, self.settings.dns_prefix)
        workers = [n for n in nodes if not n.is_master]
        self.progress.step("configuring the master (user, keys, volumes, NFS"
                           + ("" if self.settings.disable_queue else ", Grid Engine") + ")")
        uid, gid, root_key = self.setup_master(master, hosts)
        self.progress.step(f"configuring {len(nodes)} node(s) in parallel")
        reports = self.setup_nodes(nodes, master, hosts, uid, gid, root_key)
        if not self.settings.disable_queue:
            self.progress.step("configuring the queue")
            self.configure_queue(reports)
        log.info("setup done: %s", ", ".join(n.alias for n in [master, *workers]))

    def setup_master(self, master: Node, hosts: list[steps.Host]) -> tuple[int, int, str]:
        s = self.settings
        script = "set -e\n" + steps.identity_script(
            next(h for h in hosts if h.name == self.name(master)), hosts)
        script += steps.user_script(s.cluster_user, s.cluster_shell, None, None)
        script += steps.root_key_script(None)
        script += steps.master_user_home_script(s.cluster_user)
        script += steps.scratch_script(s.cluster_user)
        for volume in (Volume(**v) for v in s.volumes):
            script += steps.volume_mount_script(volume.volume_id, volume.device or "/dev/sdf",
                                                volume.mount_path, volume.partition)
        clients = [h for h in hosts if h.name != self.name(master)]
        script += steps.exports_script(self.shared_paths(), clients)
        if not s.disable_queue:
            script += sge.master_script(self.name(master), [h.name for h in hosts],
                                        s.cluster_user)
        output = self.run_each({master.alias: script}, "master setup")[master.alias].stdout
        return parse_master_output(output)

    def setup_nodes(self, nodes: list[Node], master: Node, hosts: list[steps.Host], uid: int,
                    gid: int, root_key: str) -> dict[str, str]:
        s = self.settings
        known = self.known_host_entries(nodes)
        exec_aliases = {n.alias for n in self.exec_nodes}
        shared = self.shared_paths()
        # Grid Engine needs only its cell: the other mounts overlap with its start.
        later = tuple(p for p in shared if p != sge.CELL_DIR
                      and not any(nested(p, other) for other in shared if other != p))
        scripts = {}
        for node in nodes:
            script = "set -e\n"
            if not node.is_master:
                script += steps.identity_script(
                    next(h for h in hosts if h.name == self.name(node)), hosts)
                script += steps.user_script(s.cluster_user, s.cluster_shell, uid, gid)
                script += steps.root_key_script(root_key)
                script += steps.scratch_script(s.cluster_user)
                script += steps.nfs_mount_script(self.name(master), shared, background=later)
            script += steps.known_hosts_script(known)
            if not s.disable_queue and node.alias in exec_aliases:
                script += sge.exec_script(self.name(node))
            if not node.is_master:
                script += steps.nfs_wait_script()
            scripts[node.alias] = script
        results = self.run_each(scripts, "node setup")
        return {alias: r.stdout for alias, r in results.items()}

    def known_host_entries(self, nodes: list[Node]) -> list[str]:
        """`name,address type key` of every node, from the keys pinned while connecting."""
        entries = []
        for node in nodes:
            transport = self.connection(node).open().get_transport()
            key = transport.get_remote_server_key()
            names = ",".join(filter(None, [self.name(node), node.private_ip]))
            entries.append(f"{names} {key.get_name()} {key.get_base64()}")
        return entries

    def configure_queue(self, reports: dict[str, str], gone: list[str] = ()) -> None:
        master = self.info.master
        assert master is not None
        by_alias = {n.alias: n for n in self.info.nodes}
        exec_hosts = []
        for alias, output in sorted(reports.items()):
            found = sge.parse_exec_report(output)
            if found is None:
                continue
            cpus, gpus = found
            exec_hosts.append(sge.ExecHost(self.name(by_alias[alias]),
                                           self.settings.slots_per_host or cpus, gpus))
        script = sge.queue_script(exec_hosts, list(gone))
        self.run_each({master.alias: script}, "queue setup")


def nested(a: str, b: str) -> bool:
    """One path inside the other: such mounts must happen in order, not in parallel."""
    a, b = a.rstrip("/") + "/", b.rstrip("/") + "/"
    return a.startswith(b) or b.startswith(a)


def parse_master_output(output: str) -> tuple[int, int, str]:
    uid = gid = -1
    key_lines: list[str] = []
    inside = False
    for line in output.splitlines():
        if line.startswith("uid-gid "):
            _, uid_text, gid_text = line.split()
            uid, gid = int(uid_text), int(gid_text)
        elif line == "root-key-begin":
            inside = True
        elif line == "root-key-end":
            inside = False
        elif inside:
            key_lines.append(line)
    if uid < 0 or not key_lines:
        raise SclustError(f"master setup gave no user ids or root key: {output[-500:]}")
    return uid, gid, "\n".join(key_lines) + "\n"
