"""Configure a launched cluster over SSH: hosts, user, keys, volumes, NFS, the scheduler.

Phases (each one SSH command per node, all nodes of a phase in parallel):
  1. master: identity, user (its uid/gid decide everyone's), keys, volumes, exports, the
     scheduler's server
  2. every node (master too): identity, user, root key, known hosts, NFS mounts, exec daemon
  3. master: the scheduler's queue (only hosts being added are enabled there)
The scheduler's part comes from `sclust.scheduler` (SCHEDULER in the template); this module
knows no scheduler command.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sclust import nodesetup as steps
from sclust.config import Volume
from sclust.errors import SclustError
from sclust.progress import Progress
from sclust.scheduler import ExecHost, Scheduler, scheduler_for
from sclust.scripts import ScriptRun
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


class SetupGuard(Protocol):
    """Lets cluster changes overlap (the load balancer launches while it removes): setups
    and removals from the scheduler take turns, and each leaves out the nodes another
    change under way owns (being launched, being removed)."""

    def turn(self) -> AbstractContextManager[object]:
        """Held while a setup or a removal from the scheduler runs."""
        ...

    def fresh_nodes(self) -> list[Node] | None:
        """The cluster's instances now (another change may have added or removed some)."""
        ...

    def left_out(self, node: Node) -> bool:
        """True for a node that another change under way owns."""
        ...


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
    guard: SetupGuard | None = None

    @property
    def settings(self) -> ClusterSettings:
        assert self.info.settings is not None
        return self.info.settings

    @property
    def scheduler(self) -> Scheduler:
        return scheduler_for(self.settings.scheduler)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """The guard's turn (if any), on a fresh view of the cluster's instances."""
        if self.guard is None:
            yield
            return
        with self.guard.turn():
            try:
                nodes = self.guard.fresh_nodes()
            except Exception as error:  # the view we have is still a view
                log.info("could not re-read the cluster's instances: %s", error)
                nodes = None
            if nodes:
                self.info.nodes = nodes
            yield

    @property
    def members(self) -> list[Node]:
        """The running nodes this setup makes a cluster (none another change owns)."""
        return [n for n in self.info.nodes if n.state == "running"
                and (self.guard is None or n.is_master or not self.guard.left_out(n))]

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

    def run_each(self, scripts: dict[str, ScriptRun], doing: str) -> dict[str, Result]:
        """Run one script per node (by alias), in parallel; fail naming every node that failed."""
        by_alias = {n.alias: n for n in self.info.nodes}
        results = fan_out(
            list(scripts), lambda alias: self.connection(by_alias[alias]).run_script(
                scripts[alias]), name=lambda alias: alias)
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
        return [n for n in self.members if not n.is_master or self.settings.master_is_exec_host]

    def shared_paths(self) -> list[str]:
        paths = list(steps.SHARED_ALWAYS)
        paths += [v["mount_path"] for v in self.settings.volumes]
        if not self.settings.disable_queue:
            paths += self.scheduler.shared_paths()
        on_efs = steps.efs_paths(self.settings.efs)  # every node mounts those itself
        return [p for p in paths if p not in on_efs]

    def remove_from_scheduler(self, gone: list[Node], force: bool) -> None:
        """Drain GONE hosts, refuse if jobs still run there (unless FORCE), then take them out
        of the scheduler — before they leave /etc/hosts, which it needs to name them."""
        if self.settings.disable_queue:
            return
        master = self.info.master
        assert master is not None
        scheduler = self.scheduler
        names = [self.name(n) for n in gone]
        with self.turn():
            self.connect_all([master])
            output = self.run_each({master.alias: scheduler.drain(names)},
                                   "draining")[master.alias].stdout
            running = scheduler.running_jobs(names, output)
            busy = [f"{name} ({count} job(s))" for name, count in running.items() if count]
            if busy and not force:
                raise SclustError(
                    f"jobs still run on {', '.join(busy)}: the node(s) are disabled in the "
                    "queue so no new job lands there; retry when they finish, or use --force "
                    "to reschedule them elsewhere"
                )
            if busy:
                self.run_each({master.alias: scheduler.evict(names)}, "rescheduling jobs")
            gone_ids = {n.instance_id for n in gone}
            staying = [n for n in self.exec_nodes if n.instance_id not in gone_ids]
            self.connect_all(staying)
            reports = self.run_each({n.alias: scheduler.exec_setup(self.name(n))
                                     for n in staying}, "reading exec hosts")
            self.configure_queue({a: r.stdout for a, r in reports.items()}, removing=names)

    def setup(self, adding: Sequence[Node] = ()) -> None:
        """Make the running nodes a cluster (idempotent: also after start -x and restart);
        ADDING nodes are new, and take jobs once set up."""
        master = self.info.master
        if master is None or master.state != "running":
            raise SclustError(f"cluster {self.info.tag!r} has no running master")
        with self.turn():
            nodes = self.members
            self.connect_all(nodes)
            hosts = steps.cluster_hosts(nodes, self.info.tag, self.settings.dns_prefix)
            workers = [n for n in nodes if not n.is_master]
            self.progress.step("configuring the master (user, keys, volumes, NFS"
                               + ("" if self.settings.disable_queue else ", the scheduler")
                               + ")")
            uid, gid, root_key = self.setup_master(master, hosts)
            self.progress.step(f"configuring {len(nodes)} node(s) in parallel")
            reports = self.setup_nodes(nodes, master, hosts, uid, gid, root_key)
            if not self.settings.disable_queue:
                self.progress.step("configuring the queue")
                self.configure_queue(reports, adding=[self.name(n) for n in adding])
        log.info("setup done: %s", ", ".join(n.alias for n in [master, *workers]))

    def master_phase(self, master: Node, hosts: list[steps.Host]) -> ScriptRun:
        """Everything the master runs in phase 1, as one run."""
        s = self.settings
        name = self.name(master)
        run = steps.identity(next(h for h in hosts if h.name == name), hosts)
        run.extend(steps.efs_mounts(s.efs, s.zone))  # before homes are made (EFS /home)
        run.extend(steps.cluster_user(s.cluster_user, s.cluster_shell))
        run.extend(steps.root_key(None))
        run.extend(steps.master_user_home(s.cluster_user))
        run.extend(steps.scratch(s.cluster_user))
        run.extend(steps.volume_mounts([Volume(**v) for v in s.volumes]))
        run.extend(steps.exports(self.shared_paths(), [h for h in hosts if h.name != name]))
        if not s.disable_queue:
            run.extend(self.scheduler.master_setup(name, [h.name for h in hosts],
                                                   s.cluster_user))
        return run

    def setup_master(self, master: Node, hosts: list[steps.Host]) -> tuple[int, int, str]:
        run = self.master_phase(master, hosts)
        output = self.run_each({master.alias: run}, "master setup")[master.alias].stdout
        return parse_master_output(output)

    def node_phases(self, nodes: list[Node], master: Node, hosts: list[steps.Host], uid: int,
                    gid: int, root_key: str) -> dict[str, ScriptRun]:
        """What each node runs in phase 2 (by alias), one run per node."""
        s = self.settings
        known = self.known_host_entries(nodes)
        exec_aliases = {n.alias for n in self.exec_nodes}
        shared = self.shared_paths()
        early = [] if s.disable_queue else self.scheduler.shared_paths()
        # The scheduler needs only its own paths: the other mounts overlap with its start.
        later = tuple(p for p in shared if p not in early
                      and not any(nested(p, other) for other in shared if other != p))
        runs = {}
        for node in nodes:
            run = ScriptRun()
            if not node.is_master:
                run.extend(steps.identity(
                    next(h for h in hosts if h.name == self.name(node)), hosts))
                run.extend(steps.efs_mounts(s.efs, s.zone))
                run.extend(steps.cluster_user(s.cluster_user, s.cluster_shell, uid, gid))
                run.extend(steps.root_key(root_key))
                run.extend(steps.scratch(s.cluster_user))
                run.extend(steps.nfs_mounts(self.name(master), shared, background=later))
            run.extend(steps.known_hosts(known))
            if not s.disable_queue and node.alias in exec_aliases:
                run.extend(self.scheduler.exec_setup(self.name(node)))
            if not node.is_master:
                run.extend(steps.nfs_wait())
            runs[node.alias] = run
        return runs

    def setup_nodes(self, nodes: list[Node], master: Node, hosts: list[steps.Host], uid: int,
                    gid: int, root_key: str) -> dict[str, str]:
        runs = self.node_phases(nodes, master, hosts, uid, gid, root_key)
        results = self.run_each(runs, "node setup")
        return {alias: r.stdout for alias, r in results.items()}

    def known_host_entries(self, nodes: list[Node]) -> list[str]:
        """`name,address type key` of every node, from the keys pinned while connecting."""
        entries = []
        for node in nodes:
            transport = self.connection(node).open().get_transport()
            if transport is None:
                raise SclustError(f"{node.alias}: the SSH connection closed")
            key = transport.get_remote_server_key()
            names = ",".join(filter(None, [self.name(node), node.private_ip]))
            entries.append(f"{names} {key.get_name()} {key.get_base64()}")
        return entries

    def queue_phase(self, reports: dict[str, str], adding: Sequence[str] = (),
                    removing: Sequence[str] = ()) -> ScriptRun:
        """The master's queue setup from each exec node's report (by alias)."""
        by_alias = {n.alias: n for n in self.info.nodes}
        scheduler = self.scheduler
        exec_hosts = []
        for alias, output in sorted(reports.items()):
            found = scheduler.exec_host(self.name(by_alias[alias]), output)
            if found is None:
                continue
            exec_hosts.append(ExecHost(found.name, self.settings.slots_per_host or found.slots,
                                       found.gpus))
        return scheduler.queue_setup(exec_hosts, adding=adding, removing=removing)

    def configure_queue(self, reports: dict[str, str], adding: Sequence[str] = (),
                        removing: Sequence[str] = ()) -> None:
        master = self.info.master
        assert master is not None
        self.run_each({master.alias: self.queue_phase(reports, adding, removing)},
                      "queue setup")


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
