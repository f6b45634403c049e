"""Interactive SSH and file copies through the system's ssh/scp, with the cluster's key and
host keys pinned per cluster."""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sclust.cloud import Instance
from sclust.cluster import ClusterManager
from sclust.config import Config
from sclust.errors import SclustError
from sclust.paths import known_hosts_file
from sclust.ssh import (
    Connection,
    HostKeyMismatch,
    PinnedHostKeys,
    check_destination,
    remember_login_user,
    remembered_login_user,
    shell_user_file,
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
        user = user or shell_user(info, key.location, known)
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


def shell_user(info: ClusterInfo, key_file: Path, known_hosts: Path) -> str | None:
    """StarCluster's default login for sshmaster/sshnode: root where the image allows it,
    else the user the image's answer to root names; None when root's key is refused or the
    master does not answer (the login user is then found as for setup). Remembered."""
    try:
        found = shell_user_file(known_hosts).read_text().strip()
    except OSError:
        found = ""
    if found:
        return found
    master = info.master
    if master is None or master.state != "running" or not master.address:
        return None
    connection = Connection(master.alias, master.address, "root", key_file,
                            PinnedHostKeys(known_hosts))
    try:
        user = connection.root_or_redirect()
    except (OSError, SclustError) as error:
        if isinstance(error, HostKeyMismatch):
            raise
        return None
    if user is not None:
        shell_user_file(known_hosts).write_text(user + "\n")
    return user


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


def instance_remote(config: Config, region: str, instance: Instance, user: str | None
                    ) -> Remote:
    """A Remote for one instance by id (sshinstance): the [key] section named like its key
    pair; root by default where the image allows it, as for sshmaster."""
    from sclust.paths import known_hosts_file

    if not instance.key_name:
        raise SclustError(f"{instance.instance_id} was launched without a key pair")
    key = config.key_pair(instance.key_name)
    node = Node(instance_id=instance.instance_id, alias="master", role="master",
                state=instance.state, instance_type=instance.instance_type,
                image_id=instance.image_id, zone=instance.zone, private_ip=instance.private_ip,
                public_ip=instance.public_ip, spot=instance.spot,
                launch_time=instance.launch_time)
    info = ClusterInfo(instance.instance_id, None, None, [node])
    known = known_hosts_file(region, instance.instance_id)
    known.parent.mkdir(parents=True, exist_ok=True)
    user = user or shell_user(info, key.location, known) or remembered_login_user(known)
    if user is None:
        user = detect_login_user(info, key.location, known)
    return Remote(info, key.location, user, known)
