"""Extra cluster users with their own SSH keys (StarCluster's CreateUsers).

    [plugin course-users]
    SETUP_CLASS = users.CreateUsers
    NUM_USERS = 20            # user001 … user020, or:
    USERNAMES = alice, bob
    DOWNLOAD_KEYS = true      # private keys to ~/.sclust/user-keys/TAG/ (mode 0600)

Users get the same uid and gid on every node (homes live on the master's /home, shared over
NFS), a generated ed25519 key, and passwordless SSH between the nodes. No passwords are set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sclust.files import write_private
from sclust.names import child_path
from sclust.paths import sclust_home
from sclust.plugins.base import ClusterSetup, PluginError, PluginNode
from sclust.scripts import ScriptFile, ScriptRun

NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def step(name: str) -> ScriptFile:
    return ScriptFile("sclust.plugins", f"scripts/{name}.sh")


class CreateUsers(ClusterSetup):
    """Creates NUM_USERS users (user001…) or USERNAMES on every node, with generated keys."""

    public_settings = ("num_users", "usernames", "download_keys", "download_keys_dir", "shell")

    def __init__(self, num_users: int = 0, usernames: list[str] | None = None,
                 download_keys: bool = True, download_keys_dir: str | None = None,
                 shell: str = "/bin/bash") -> None:
        super().__init__()
        if num_users < 0:
            raise ValueError("NUM_USERS must be 0 or more")
        names = list(usernames or []) or [f"user{i:03d}" for i in range(1, num_users + 1)]
        bad = [n for n in names if not NAME.match(n)]
        if bad:
            raise ValueError(f"not valid user names: {', '.join(bad)}")
        if not names:
            raise ValueError("give NUM_USERS or USERNAMES")
        if not re.match(r"^/[\w/.-]+$", shell):
            raise ValueError(f"SHELL must be a path, not {shell!r}")
        self.usernames = names
        self.download_keys = download_keys
        self.download_keys_dir = download_keys_dir
        self.shell = shell
        self.accounts: list[tuple[str, int, int]] = []

    def keys_dir(self) -> Path:
        if self.download_keys_dir:
            return Path(self.download_keys_dir).expanduser()
        return child_path(sclust_home() / "user-keys", self.cluster or "cluster")

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        output = master.ssh.execute_script(ScriptRun().add(
            step("users-master"), usernames=self.usernames, user_shell=self.shell,
            download_keys=self.download_keys))
        self.accounts, keys = parse_accounts(output)
        self.each([n for n in nodes if not n.is_master()], self.add_accounts)
        saved = self.save_keys(keys)
        for name, uid, _ in self.accounts:
            where = f", key {saved[name]}" if name in saved else ""
            self.report(f"user {name} (uid {uid}){where}")

    def on_add_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                    user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        if not self.accounts:
            lines = master.ssh.execute_script(
                ScriptRun().add(step("users-list"), usernames=self.usernames))
            self.accounts, _ = parse_accounts(lines)
        self.add_accounts(node)

    def add_accounts(self, node: PluginNode) -> None:
        node.ssh.execute_script(ScriptRun().add(
            step("users-node"), accounts=[f"{n} {uid} {gid}" for n, uid, gid in self.accounts],
            user_shell=self.shell))

    def save_keys(self, keys: dict[str, str]) -> dict[str, Path]:
        saved: dict[str, Path] = {}
        if not keys:
            return saved
        directory = self.keys_dir()
        for name, key in keys.items():
            path = child_path(directory, name, ".pem")
            write_private(path, key)  # replaces a planted symlink, never writes through it
            saved[name] = path
        return saved


def parse_accounts(lines: list[str]) -> tuple[list[tuple[str, int, int]], dict[str, str]]:
    accounts, keys = [], {}
    current: str | None = None
    body: list[str] = []
    for line in lines:
        if current is not None:
            if line == "key-end":
                keys[current] = "\n".join(body) + "\n"
                current, body = None, []
            else:
                body.append(line)
        elif line.startswith("user "):
            _, name, uid, gid = line.split()
            accounts.append((name, int(uid), int(gid)))
        elif line.startswith("key-begin "):
            current = line.split()[1]
    if not accounts:
        raise PluginError(f"no users reported by the master: {lines[-5:]}")
    return accounts, keys
