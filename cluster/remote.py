"""Interactive SSH and file copies through the system's ssh/scp, with the cluster's key and
host keys pinned per cluster."""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cluster.cluster import ClusterManager
from cluster.config import Config
from cluster.configure import DEFAULT_LOGIN_USER
from cluster.errors import SclustError
from cluster.paths import known_hosts_file
from cluster.ssh import check_destination
from cluster.state import ClusterInfo, Node


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
        return cls(info, key.location, user or settings.login_user or DEFAULT_LOGIN_USER, known)

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

    def ssh(self, alias: str, command: list[str]) -> int:
        node = self.node(alias)
        check_destination(node.address)
        argv = ["ssh", *self.options(), f"{self.user}@{node.address}"]
        if command:
            argv.append(" ".join(shlex.quote(c) if len(command) > 1 else c for c in command))
        elif os.isatty(0):
            argv.insert(1, "-t")
        return subprocess.call(argv)

    def copy(self, alias: str, sources: list[str], destination: str, upload: bool) -> int:
        node = self.node(alias)
        check_destination(node.address)
        remote = f"{self.user}@{node.address}"
        if upload:
            argv = ["scp", "-r", *self.options(), *sources, f"{remote}:{destination}"]
        else:
            argv = ["scp", "-r", *self.options(), *(f"{remote}:{s}" for s in sources), destination]
        return subprocess.call(argv)
