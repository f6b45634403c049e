"""StarCluster's `Node` and `node.ssh`, over sclust's plugin nodes (commands as root over the
cluster's pinned SSH connections).

What StarCluster plugins call: `node.ssh.execute(cmd)` (output lines; `RemoteCommandFailed` on a
non-zero exit), `get_status`, `isdir`/`isfile`/`path_exists`, `makedirs`/`mkdir`, `unlink`,
`chmod`/`chown`, `ls`/`glob`, `put`/`get`, `remote_file`, `get_remote_file_lines`,
`remove_lines_from_file`, `switch_user`, `which`; and `node.alias`, `node.id`,
`node.private_ip_address`, `node.ip_address`, `node.is_master()`, `node.apt_install`,
`node.yum_install`, `node.package_install`, `node.add_user_to_group`, `node.num_processors`.
File contents travel on stdin (base64), never on a command line.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shlex
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sclust.plugins.base import CommandResult, PluginNode
from sclust.plugins.starcluster_compat.exception import RemoteCommandFailed, SSHError
from sclust.plugins.starcluster_compat.logger import log

USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def quoted_path(path: str) -> str:
    """PATH for the shell, a leading `~/` meaning the user's home (as plugins write it)."""
    if path == "~" or path.startswith("~/"):
        rest = path[2:]
        return '"$HOME"' + (f"/{shlex.quote(rest)}" if rest else "")
    return shlex.quote(path)


def as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, (str, os.PathLike)) else [str(v) for v in value]


class StarClusterSSH:
    """`node.ssh` as StarCluster plugins use it."""

    def __init__(self, node: PluginNode) -> None:
        self._node = node
        self._user = "root"
        self._last_status: int | None = None

    # -- commands ------------------------------------------------------------------------------

    def _wrap(self, command: str, source_profile: bool) -> str:
        if source_profile:
            command = f"source /etc/profile >/dev/null 2>&1; {command}"
        shell = f"bash -c {shlex.quote(command)}"
        if self._user != "root":
            return f"sudo -H -u {self._user} {shell}"
        return shell

    def _run(self, command: str, stdin: str | None = None,
             source_profile: bool = True) -> CommandResult:
        return self._node.ssh.run(self._wrap(command, source_profile), stdin)

    def execute(self, command: str, silent: bool = True, only_printable: bool = False,
                ignore_exit_status: bool = False, log_output: bool = True,
                detach: bool = False, source_profile: bool = True,
                raise_on_failure: bool = True) -> list[str]:
        """COMMAND's output lines (stdout then stderr, as StarCluster merged them)."""
        if detach:
            self._run(f"nohup {command} >/dev/null 2>&1 &", source_profile=source_profile)
            self._last_status = None
            return []
        result = self._run(command, source_profile=source_profile)
        self._last_status = result.status
        output = result.stdout.splitlines() + result.stderr.splitlines()
        if only_printable:
            output = ["".join(c for c in line if c.isprintable()) for line in output]
        if not silent:
            for line in output:
                log.info("%s: %s", self._node.alias, line)
        if result.status and not ignore_exit_status:
            text = "\n".join(output)[-2000:] if log_output else "(no output log requested)"
            message = (f"{self._node.alias}: remote command '{command.strip()[:200]}' failed "
                       f"with status {result.status}:\n{text}")
            if raise_on_failure:
                raise RemoteCommandFailed(message, command, result.status, "\n".join(output))
            log.error("%s", message)
        return output

    def get_status(self, command: str, source_profile: bool = True) -> int:
        result = self._run(command, source_profile=source_profile)
        self._last_status = result.status
        return result.status

    def get_last_status(self) -> int | None:
        return self._last_status

    def _test(self, flag: str, path: str) -> bool:
        return self.get_status(f"test {flag} {quoted_path(path)}", source_profile=False) == 0

    def isdir(self, path: str) -> bool:
        return self._test("-d", path)

    def isfile(self, path: str) -> bool:
        return self._test("-f", path)

    def path_exists(self, path: str) -> bool:
        return self._test("-e", path)

    def which(self, prog: str) -> str:
        lines = self.execute(f"command -v {shlex.quote(prog)}", ignore_exit_status=True)
        return lines[0] if lines else ""

    def has_required(self, progs: Iterable[str]) -> bool:
        return all(self.which(p) for p in progs)

    def check_required(self, progs: Iterable[str]) -> bool:
        missing = [p for p in progs if not self.which(p)]
        if missing:
            raise SSHError(f"{self._node.alias}: missing required programs: {', '.join(missing)}")
        return True

    def makedirs(self, path: str, mode: int = 0o755) -> None:
        self.execute(f"mkdir -p -m {mode:o} {quoted_path(path)}", source_profile=False)

    def mkdir(self, path: str, mode: int = 0o755, ignore_failure: bool = False) -> None:
        self.execute(f"mkdir -m {mode:o} {quoted_path(path)}", source_profile=False,
                     ignore_exit_status=ignore_failure)

    def unlink(self, remote_file: str) -> None:
        self.execute(f"rm -f {quoted_path(remote_file)}", source_profile=False)

    def chmod(self, mode: int, remote_path: str) -> None:
        self.execute(f"chmod {mode:o} {quoted_path(remote_path)}", source_profile=False)

    def chown(self, uid: int, gid: int, remote_path: str) -> None:
        self.execute(f"chown {int(uid)}:{int(gid)} {quoted_path(remote_path)}",
                     source_profile=False)

    def ls(self, path: str) -> list[str]:
        return self.execute(f"ls -1 {quoted_path(path)}", source_profile=False)

    def glob(self, pattern: str) -> list[str]:
        # The pattern is the plugin's own: bash expands it, nothing else is run.
        script = 'shopt -s nullglob; for f in $1; do printf "%s\\n" "$f"; done'
        return self.execute(f"bash -c {shlex.quote(script)} - {shlex.quote(pattern)}",
                            source_profile=False)

    # -- users ---------------------------------------------------------------------------------

    def switch_user(self, user: str) -> None:
        """Later commands run as USER (root again with `switch_user('root')`)."""
        user = user or "root"
        if not USER_NAME.match(user):
            raise SSHError(f"{self._node.alias}: {user!r} is not a user name")
        self._user = user

    def get_current_user(self) -> str:
        return self._user

    # -- files ---------------------------------------------------------------------------------

    def _write(self, path: str, data: bytes, append: bool = False) -> None:
        target = ">>" if append else ">"
        result = self._run(f"base64 -d {target} {quoted_path(path)}",
                           stdin=base64.b64encode(data).decode(), source_profile=False)
        if result.status:
            raise RemoteCommandFailed(f"{self._node.alias}: cannot write {path}: "
                                      f"{result.stderr.strip()[-500:]}", "", result.status)

    def _read(self, path: str) -> bytes:
        result = self._run(f"base64 < {quoted_path(path)}", source_profile=False)
        if result.status:
            raise RemoteCommandFailed(f"{self._node.alias}: cannot read {path}: "
                                      f"{result.stderr.strip()[-500:]}", "", result.status)
        return base64.b64decode(result.stdout)

    def put(self, localpaths: str | Iterable[str], remotepath: str = ".") -> None:
        """Copy local files or directories to REMOTEPATH (a directory, or a file's new name)."""
        paths = [Path(p).expanduser() for p in as_list(localpaths)]
        if len(paths) == 1 and paths[0].is_file() and not self.isdir(remotepath):
            self._write(remotepath, paths[0].read_bytes())
            return
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for path in paths:
                tar.add(path, arcname=path.name)
        result = self._run(f"base64 -d | tar -xzf - -C {quoted_path(remotepath)}",
                           stdin=base64.b64encode(archive.getvalue()).decode(),
                           source_profile=False)
        if result.status:
            raise RemoteCommandFailed(f"{self._node.alias}: put into {remotepath} failed: "
                                      f"{result.stderr.strip()[-500:]}", "", result.status)

    def get(self, remotepaths: str | Iterable[str], localpath: str = "") -> None:
        """Copy remote files to LOCALPATH (a directory, or a file's new name)."""
        target = Path(localpath or ".").expanduser()
        paths = as_list(remotepaths)
        for remote in paths:
            if self.isdir(remote):
                raise SSHError(f"{self._node.alias}: get copies files; {remote} is a directory")
            data = self._read(remote)
            destination = target / Path(remote).name if target.is_dir() else target
            destination.write_bytes(data)

    def remote_file(self, file: str, mode: str = "w") -> RemoteFile:
        return RemoteFile(self, file, mode)

    def get_remote_file_lines(self, remote_file: str, regex: str | None = None,
                              matching: bool = True) -> list[str]:
        lines = self._read(remote_file).decode(errors="replace").splitlines(keepends=True)
        if regex is None:
            return lines
        pattern = re.compile(regex)
        return [line for line in lines if bool(pattern.search(line)) == matching]

    def remove_lines_from_file(self, remote_file: str, regex: str) -> None:
        kept = self.get_remote_file_lines(remote_file, regex, matching=False)
        self._write(remote_file, "".join(kept).encode())


class RemoteFile:
    """`node.ssh.remote_file(path, mode)`: written on close (w, a) or read at once (r)."""

    def __init__(self, ssh: StarClusterSSH, path: str, mode: str) -> None:
        self.ssh, self.path, self.mode = ssh, path, mode
        self._buffer = io.StringIO()
        self.closed = False
        if "r" in mode:
            self._buffer = io.StringIO(ssh._read(path).decode(errors="replace"))

    def write(self, text: str) -> int:
        return self._buffer.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        self._buffer.writelines(lines)

    def read(self, size: int = -1) -> str:
        return self._buffer.read(size)

    def readlines(self) -> list[str]:
        return self._buffer.readlines()

    def __iter__(self) -> Any:
        return iter(self._buffer)

    def chmod(self, mode: int) -> None:
        self.flush()
        self.ssh.chmod(mode, self.path)

    def flush(self) -> None:
        if "r" not in self.mode and not self.closed:
            self.ssh._write(self.path, self._buffer.getvalue().encode(), append="a" in self.mode)
            if "a" in self.mode:
                self._buffer = io.StringIO()
            else:
                self.mode = "a"  # later writes append to what is there now
                self._buffer = io.StringIO()

    def close(self) -> None:
        if not self.closed:
            self.flush()
            self.closed = True

    def __enter__(self) -> RemoteFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class StarClusterNode:
    """A cluster node as StarCluster plugins see it."""

    def __init__(self, node: PluginNode) -> None:
        self.sclust_node = node
        self.ssh = StarClusterSSH(node)

    def __repr__(self) -> str:
        return f"<Node: {self.alias} ({self.id})>"

    @property
    def alias(self) -> str:
        return self.sclust_node.alias

    @property
    def id(self) -> str:
        return self.sclust_node.instance_id

    @property
    def private_ip_address(self) -> str | None:
        return self.sclust_node.private_ip_address

    @property
    def ip_address(self) -> str | None:
        return self.sclust_node.ip_address

    @property
    def dns_name(self) -> str | None:
        return self.sclust_node.ip_address or self.sclust_node.private_ip_address

    public_dns_name = dns_name

    @property
    def private_dns_name(self) -> str:
        return self.alias  # /etc/hosts on every node names every node by alias

    @property
    def instance_type(self) -> str:
        return self.sclust_node.instance_type

    @property
    def num_processors(self) -> int:
        lines = self.ssh.execute("nproc", source_profile=False)
        return int(lines[0]) if lines and lines[0].strip().isdigit() else 1

    def is_master(self) -> bool:
        return self.sclust_node.is_master()

    def add_user_to_group(self, user: str, group: str) -> None:
        for name in (user, group):
            if not USER_NAME.match(name):
                raise SSHError(f"{self.alias}: {name!r} is not a user or group name")
        self.ssh.execute(f"usermod -a -G {group} {user}", source_profile=False)

    # -- packages (StarCluster's commands, non-interactive) ------------------------------------

    def apt_command(self, cmd: str) -> None:
        self.ssh.execute("DEBIAN_FRONTEND=noninteractive apt-get -o "
                         f"Dpkg::Options::=--force-confnew -y {cmd}")

    def apt_install(self, pkgs: str | Iterable[str]) -> None:
        self.apt_command("update")
        self.apt_command(f"install {package_words(pkgs)}")

    def yum_command(self, cmd: str) -> None:
        self.ssh.execute(f"yum -d 0 -e 0 -y {cmd}")

    def yum_install(self, pkgs: str | Iterable[str]) -> None:
        self.yum_command(f"install {package_words(pkgs)}")

    @property
    def package_provider(self) -> str | None:
        if self.ssh.isfile("/usr/bin/apt-get"):
            return "apt"
        if self.ssh.isfile("/usr/bin/yum") or self.ssh.isfile("/usr/bin/dnf"):
            return "yum"
        return None

    def package_install(self, pkgs: str | Iterable[str]) -> None:
        provider = self.package_provider
        if provider == "apt":
            self.apt_install(pkgs)
        elif provider == "yum":
            self.yum_install(pkgs)
        else:
            raise SSHError(f"{self.alias}: neither apt-get nor yum found")


PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.:=_~-]*$")


def package_words(pkgs: str | Iterable[str]) -> str:
    """Package names (StarCluster took one space-separated string), each checked: a name
    never becomes an option of apt-get or yum, nor more shell."""
    words = pkgs.split() if isinstance(pkgs, str) else [w for p in pkgs for w in p.split()]
    for word in words:
        if not PACKAGE_NAME.match(word):
            raise SSHError(f"not a package name: {word!r}")
    return " ".join(words)
