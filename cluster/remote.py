"""Interactive SSH and file copies through the system's ssh/scp, with the cluster's key and
host keys pinned per cluster."""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sclust.cluster import ClusterManager
from sclust.config import Config
from sclust.errors import SclustError
from sclust.paths import known_hosts_file
from sclust.ssh import (
    Connection,
    PinnedHostKeys,
    check_destination,
    remember_login_user,
    remembered_login_user,
)
from sclust.state import ClusterInfo, Node
from sclust.values import as_alias


@dataclass
class Remote:
    info: ClusterInfo
    key_file: Path
    user: str
    known_hosts: Path

    @classmethod
    def for_cluster(
        cls, config: Config, manager: ClusterManager, tag: str, user: str | None
    ) -> Remote:
        info = manager.get(tag)
        settings = manager.require_settings(info)
        key = config.key_pair(settings.keyname)
        known = known_hosts_file(manager.cloud.region, tag)
        known.parent.mkdir(parents=True, exist_ok=True)
        user = user or settings.login_user or remembered_login_user(known)
        if user is None:
            user = detect_login_user(info, key.location, known)
        return cls(info, key.location, user, known)

    def __post_init__(self) -> None:
        try:
            # It may come from a tag or a file: never let it become an ssh option.
            as_alias(self.user)
        except ValueError as error:
            raise SclustError(f"login user of {self.info.tag!r}: {error}") from None

    def node(self, alias: str) -> Node:
        for node in self.info.nodes:
            if alias in (node.alias, node.instance_id, f"{self.info.tag}-{node.alias}"):
                if node.state != "running" or not node.address:
                    raise SclustError(f"{alias} of {self.info.tag!r} is {node.state}")
                return node
        names = ", ".join(n.alias for n in self.info.nodes)
        raise SclustError(f"cluster {self.info.tag!r} has no node {alias!r} (it has {names})")

    def options(self) -> list[str]:
        return [
            "-i", str(self.key_file),
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            # First contact pins the key; a changed key is refused.
            "-o", "StrictHostKeyChecking=accept-new",
            "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=15",
        ]

    def ssh(self, alias: str, command: list[str], forward_x11: bool = False,
            forward_agent: bool = False, tty: bool = False) -> int:
        """ssh to ALIAS (StarCluster's -X, -A and -t passed on as ssh's own)."""
        address = check_destination(self.node(alias).address)
        flags = [flag for flag, wanted in (("-X", forward_x11), ("-A", forward_agent),
                                           ("-t", tty)) if wanted]
        argv = ["ssh", *flags, *self.options(), "-l", self.user, "--", address]
        if command:
            argv.append(" ".join(shlex.quote(c) if len(command) > 1 else c for c in command))
        elif os.isatty(0) and not tty:
            argv.insert(1, "-t")
        return subprocess.call(argv)

    def copy(self, alias: str, sources: list[str], destination: str, upload: bool) -> int:
        address = check_destination(self.node(alias).address)
        remote = f"{self.user}@{address}"
        # `--`: a file name can never be read as an option.
        if upload:
            argv = ["scp", "-r", *self.options(), "--", *sources, f"{remote}:{destination}"]
        else:
            argv = ["scp", "-r", *self.options(), "--", *(f"{remote}:{s}" for s in sources),
                    destination]
        return subprocess.call(argv)


def detect_login_user(info: ClusterInfo, key_file: Path, known_hosts: Path) -> str:
    """The login user the master accepts (no LOGIN_USER and never set up from here)."""
    master = info.master
    if master is None or master.state != "running" or not master.address:
        raise SclustError(f"cluster {info.tag!r} has no running master: set LOGIN_USER or "
                          f"pass -u USER")
    connection = Connection(master.alias, master.address, None, key_file,
                            PinnedHostKeys(known_hosts))
    try:
        connection.open(wait=30)
    finally:
        connection.close()
    assert connection.user is not None
    remember_login_user(known_hosts, connection.user)
    return connection.user
