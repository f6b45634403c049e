"""SSH to cluster nodes: one reused paramiko connection per node, host keys pinned per cluster,
and parallel fan-out with a result per node. The only module that imports paramiko."""

from __future__ import annotations

import logging
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import paramiko

from sclust.errors import SclustError
from sclust.scripts import REMOTE_COMMAND, ScriptRun

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_PARALLEL = 32
# Who AMIs let in, tried in this order when the template sets no LOGIN_USER. root is last:
# Ubuntu's and Amazon's images accept the key for root only to print "login as ubuntu" and
# hang up after a sleep, while a wrong user name is refused at once.
LOGIN_CANDIDATES = ("ubuntu", "ec2-user", "centos", "rocky", "admin", "debian", "fedora",
                    "root")
LOGIN_CHECK = b"sclust-login-ok"
# An image's answer to root: Please login as the user "ubuntu" rather than the user "root".
LOGIN_AS = re.compile(r'login as the user \\?"?([a-z_][a-z0-9_-]{0,31})\\?"?(?=[\s.]|$)',
                      re.IGNORECASE)
AUTH_GRACE = 15.0  # seconds a refused key is retried before it is reported


class RemoteError(SclustError):
    """A command failed on a node (its output is in the message)."""


class HostKeyMismatch(SclustError):
    """A node answered with another host key than the one pinned for it."""


@dataclass
class Result:
    """What one remote command did."""

    node: str
    command: str
    status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == 0

    def check(self) -> Result:
        if not self.ok:
            output = (self.stderr.strip() or self.stdout.strip())[-2000:]
            raise RemoteError(
                f"{self.node}: `{short(self.command)}` exited {self.status}: {output}"
            )
        return self


def short(command: str, limit: int = 80) -> str:
    first = command.strip().splitlines()[0] if command.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


class PinnedHostKeys(paramiko.MissingHostKeyPolicy):
    """Trust on first use, then refuse a changed key: the cluster's own known-hosts file.

    The file is per cluster, so an address reused by another cluster starts fresh, and
    removing a node forgets its key.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def check(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        with self.lock:
            keys = paramiko.HostKeys()
            if self.path.exists():
                keys.load(str(self.path))
            known = keys.lookup(hostname)
            if known is not None and len(known):
                # Any pinned key binds the host: a key of another type is a changed key, or
                # an attacker could answer with a type we have not pinned yet.
                if known.get(key.get_name()) != key:
                    pinned = ", ".join(sorted(known.keys()))
                    raise HostKeyMismatch(
                        f"{hostname}: host key changed (offered {key.get_name()}, pinned "
                        f"{pinned} in {self.path}); if the node was replaced, `sclust` "
                        "forgets its key when the node is removed"
                    )
                return
            keys.add(hostname, key.get_name(), key)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys.save(str(self.path))

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        self.check(client, hostname, key)

    def forget(self, names: Iterable[str]) -> None:
        with self.lock:
            if not self.path.exists():
                return
            keys = paramiko.HostKeys(str(self.path))
            for name in names:
                for stored in [h for h in keys.keys() if h == name]:
                    del keys[stored]
            keys.save(str(self.path))


def login_user_file(known_hosts: Path) -> Path:
    """Where the login user found for a cluster is remembered (beside its pinned host keys)."""
    return known_hosts.with_name(known_hosts.name + ".login-user")


def shell_user_file(known_hosts: Path) -> Path:
    """Who sshmaster/sshnode log in as by default (root, or whom the image names), found once
    per cluster."""
    return known_hosts.with_name(known_hosts.name + ".shell-user")


def remembered_login_user(known_hosts: Path) -> str | None:
    try:
        return login_user_file(known_hosts).read_text().strip() or None
    except OSError:
        return None


def remember_login_user(known_hosts: Path, user: str) -> None:
    if remembered_login_user(known_hosts) != user:
        path = login_user_file(known_hosts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(user + "\n")


def check_destination(address: str | None) -> str:
    """ADDRESS, if it is an IP address (it comes from EC2: untrusted) and, when
    $SCLUST_SSH_ONLY_TO (CIDRs) is set, inside it: a safety net for tests and sandboxes, where
    an emulated EC2 may hand out real internet addresses."""
    import ipaddress
    import os

    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        raise SclustError(f"refusing to connect to {address!r}: not an IP address") from None
    allowed = os.environ.get("SCLUST_SSH_ONLY_TO")
    if not allowed:
        return str(ip)
    if not any(ip in ipaddress.ip_network(net.strip()) for net in allowed.split(",")):
        raise SclustError(f"refusing to connect to {address}: outside SCLUST_SSH_ONLY_TO={allowed}")
    return str(ip)


class Connection:
    """One node's SSH connection, opened on first use and reused for every command."""

    def __init__(self, alias: str, address: str, user: str | None, key_file: Path,
                 host_keys: PinnedHostKeys, connect_timeout: float = 10,
                 candidates: tuple[str, ...] = LOGIN_CANDIDATES) -> None:
        """USER None: the first of CANDIDATES that the node accepts (then kept in .user)."""
        self.alias = alias
        self.address = address
        self.user = user
        self.candidates = candidates
        self.key_file = key_file
        self.host_keys = host_keys
        self.connect_timeout = connect_timeout
        self.port = 22
        self.client: paramiko.SSHClient | None = None
        self.lock = threading.Lock()

    def open(self, wait: float = 0) -> paramiko.SSHClient:
        """Connect, retrying for up to WAIT seconds while sshd comes up."""
        with self.lock:
            transport = self.client.get_transport() if self.client is not None else None
            if self.client is not None and transport is not None and transport.is_active():
                return self.client
            deadline = time.monotonic() + wait
            delay = 0.2
            refused_since: float | None = None
            while True:
                try:
                    self.client = self._connect()
                    return self.client
                except SclustError:
                    raise
                except paramiko.AuthenticationException as error:
                    # sshd answers but refuses the key: no use waiting out WAIT. A short grace
                    # covers an image that installs the key just after sshd starts.
                    now = time.monotonic()
                    refused_since = refused_since or now
                    if now - refused_since >= AUTH_GRACE or now + delay > deadline:
                        who = self.user or "any of " + ", ".join(self.candidates)
                        raise SclustError(
                            f"{self.alias} ({self.address}): the SSH key {self.key_file} was "
                            f"refused for {who} ({error or 'authentication failed'}): was the "
                            "instance launched with another key pair (KEYNAME), or is "
                            "LOGIN_USER wrong?") from None
                    time.sleep(delay)
                    delay = min(delay * 1.5, 3)
                except (OSError, paramiko.SSHException, EOFError) as error:
                    if time.monotonic() + delay > deadline:
                        who = self.user or "any of " + ", ".join(self.candidates)
                        raise SclustError(
                            f"{self.alias} ({self.address}): SSH as {who} failed: "
                            f"{error or type(error).__name__}"
                        ) from None
                    log.debug("%s: ssh not ready (%s); retrying", self.alias, error)
                    time.sleep(delay)
                    delay = min(delay * 1.5, 3)

    def _connect(self) -> paramiko.SSHClient:
        if self.user is not None:
            return self._connect_as(self.user)
        for user in self.candidates:
            try:
                client = self._connect_as(user)
            except paramiko.AuthenticationException:
                continue
            if not self._runs_commands(client):
                log.debug("%s: %s is let in only to be told to log in as another", self.alias,
                          user)
                client.close()
                continue
            self.user = user
            log.debug("%s: logged in as %s", self.alias, user)
            return client
        # Perhaps the key is not installed yet (early boot): open() retries.
        raise paramiko.AuthenticationException(
            f"the key was refused for every usual login user ({', '.join(self.candidates)});"
            " set LOGIN_USER in the template")

    def _runs_commands(self, client: paramiko.SSHClient) -> bool:
        """False for an account whose key runs a forced command instead (AMIs answer root with
        "Please login as the user ubuntu" and a sleep): it must not be taken as the login."""
        return LOGIN_CHECK in self._probe(client)

    def _probe(self, client: paramiko.SSHClient) -> bytes:
        """What the account answers to an echo: the check word, or an image's refusal."""
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session(timeout=self.connect_timeout)
        channel.settimeout(self.connect_timeout)
        output = b""
        try:
            channel.exec_command("echo " + LOGIN_CHECK.decode())
            while LOGIN_CHECK not in output and b"login as" not in output.lower():
                chunk = channel.recv(1024)
                if not chunk:
                    break
                output += chunk
            # The refusal's user name may come a little after "login as".
            if LOGIN_CHECK not in output and b"login as" in output.lower():
                channel.settimeout(2)
                while b"root" not in output.lower().split(b"login as", 1)[1]:
                    chunk = channel.recv(1024)
                    if not chunk:
                        break
                    output += chunk
        except (OSError, paramiko.SSHException):
            pass
        finally:
            channel.close()
        return output

    def root_or_redirect(self) -> str | None:
        """StarCluster logged in as root: "root" when the image lets root run commands, the
        user it names when it answers root with "Please login as the user X" (Ubuntu and
        Amazon AMIs), None when root's key is refused (the caller picks the login user)."""
        check_destination(self.address)
        try:
            client = self._connect_as("root")
        except paramiko.AuthenticationException:
            return None
        try:
            output = self._probe(client)
        finally:
            client.close()
        if LOGIN_CHECK in output:
            return "root"
        match = LOGIN_AS.search(output.decode(errors="replace"))
        return match.group(1) if match else None

    def _connect_as(self, user: str) -> paramiko.SSHClient:
        check_destination(self.address)
        sock = socket.create_connection((self.address, self.port), timeout=self.connect_timeout)
        # Without TCP_NODELAY each small command waits on Nagle's algorithm (~40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = paramiko.SSHClient()
        # No keys are loaded into the client, so every key goes through the pinning policy.
        client.set_missing_host_key_policy(self.host_keys)
        try:
            client.connect(
                self.address, username=user, key_filename=str(self.key_file), sock=sock,
                timeout=self.connect_timeout, banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout, allow_agent=False, look_for_keys=False,
            )
        except BaseException:
            client.close()
            sock.close()
            raise
        return client

    def run(self, command: str, sudo: bool = False, stdin: str | None = None,
            timeout: float = 600, check: bool = True) -> Result:
        """Run COMMAND (a shell script) on the node; as root through sudo when asked."""
        client = self.open()
        script = command
        if sudo and self.user != "root":
            script = f"sudo -n bash -c {shlex.quote(command)}"
        log.debug("%s$ %s", self.alias, short(command))
        stdin_stream, stdout, stderr = client.exec_command(script, timeout=timeout)
        if stdin is not None:
            stdin_stream.write(stdin)
        stdin_stream.channel.shutdown_write()
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        status = stdout.channel.recv_exit_status()
        result = Result(self.alias, command, status, out, err)
        return result.check() if check else result

    def run_script(self, script: ScriptRun, timeout: float = 600, check: bool = True
                   ) -> Result:
        """Run SCRIPT's steps as root: files and inputs travel on stdin as an archive, the
        command line is always the same (nothing from a value is on it or in `ps`)."""
        client = self.open()
        command = f"bash -c {shlex.quote(REMOTE_COMMAND)}"
        if self.user != "root":
            command = f"sudo -n {command}"
        log.debug("%s$ [%s]", self.alias, script.describe())
        stdin_stream, stdout, stderr = client.exec_command(command, timeout=timeout)
        stdin_stream.write(script.archive())
        stdin_stream.channel.shutdown_write()
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        status = stdout.channel.recv_exit_status()
        result = Result(self.alias, script.describe(), status, out, err)
        return result.check() if check else result

    def close(self) -> None:
        with self.lock:
            if self.client is not None:
                self.client.close()
                self.client = None


def fan_out(items: list[T], action: Callable[[T], object], name: Callable[[T], str]
            ) -> dict[str, object]:
    """Run ACTION on every item in parallel; a dict name -> result or the exception raised."""
    results: dict[str, object] = {}
    if not items:
        return results
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        futures = {name(item): pool.submit(action, item) for item in items}
        for key, future in futures.items():
            try:
                results[key] = future.result()
            except Exception as error:  # reported per node by the caller
                results[key] = error
    return results


def raise_failures(results: dict[str, object], doing: str) -> None:
    """One error naming every node that failed, each with its own reason."""
    failures = {k: v for k, v in results.items() if isinstance(v, BaseException)}
    if failures:
        lines = [f"{doing} failed on {len(failures)} node(s):"]
        lines += [f"  {str(error)}" if str(error).startswith(node) else f"  {node}: {error}"
                  for node, error in sorted(failures.items())]
        raise SclustError("\n".join(lines))
