"""One instance = one host: a network namespace, a user namespace of its own (root of the host
is not root of the machine) holding its mount/UTS/IPC/PID namespaces, an overlay of the image
layer over an idmapped view of this machine's `/` as its root (launch.py), and a real sshd."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sclust.localcloud import images, kernel, network
from sclust.localcloud.errors import LocalCloudError
from sclust.localcloud.journal import Journal, process_start_time
from sclust.localcloud.settings import HOST_ID_BASE, Layout

BOOT_TIMEOUT = 30.0


@dataclass
class HostSpec:
    """What a host needs from its instance at creation (what cloud-init would read)."""

    instance_id: str
    hostname: str
    private_ip: str
    prefixlen: int
    authorized_key: str | None = None
    user_data: bytes | None = None
    # From the image (see images.ImageProfile): the default user, whether root may log in.
    login_user: str = "ubuntu"
    login_groups: str = "adm,sudo"
    root_login: bool = True
    # The image's root layer (CreateImage): copied as the first root layer; waited for.
    image_layer: Path | None = None
    layer_ready: threading.Event | None = None
    # Injected faults (`sclust local inject`): sshd never answers, or starts late.
    no_ssh: bool = False
    ssh_delay: float = 0.0


class Host:
    """A realized instance. Not thread-safe: the realizer runs one operation per host at a time."""

    def __init__(self, spec: HostSpec, layout: Layout, journal: Journal):
        self.spec = spec
        self.layout = layout
        self.journal = journal
        self.dir = layout.hosts_dir / spec.instance_id
        self.pid1: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.public_ips: set[str] = set()
        self.volumes: dict[str, tuple[str, str]] = {}  # volume id → (loop device, /dev/xvdX)
        self.lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.pid1 is not None and self._proc is not None and self._proc.poll() is None

    def ended_by_itself(self) -> int | None:
        """The exit status of a host whose init ended from inside (poweroff or reboot in the
        host: reboot(2) in a PID namespace kills its init with SIGINT or SIGHUP), else None."""
        return self._proc.poll() if self._proc is not None else None

    def _write_seed(self) -> None:
        """The instance's first-boot data, like cloud-init's NoCloud seed (written once)."""
        seed = self.dir / "seed"
        if seed.exists():
            return
        if self.spec.image_layer is not None and not (self.dir / "upper").exists():
            if self.spec.layer_ready is not None and not self.spec.layer_ready.wait(600):
                raise LocalCloudError(f"the image of {self.spec.instance_id} is not ready")
            if not self.spec.image_layer.is_dir():
                raise LocalCloudError(f"the image layer of {self.spec.instance_id} is gone")
            images.seed_root_layer(self.spec.image_layer, self.dir / "upper")
        seed.mkdir(parents=True)
        (seed / "instance-id").write_text(self.spec.instance_id + "\n")
        (seed / "login-user").write_text(self.spec.login_user + "\n")
        (seed / "login-groups").write_text(self.spec.login_groups + "\n")
        (seed / "root-login").write_text(("yes" if self.spec.root_login else "no") + "\n")
        (seed / "no-ssh").write_text(("yes" if self.spec.no_ssh else "no") + "\n")
        (seed / "ssh-delay").write_text(f"{self.spec.ssh_delay:g}\n")
        (seed / "hostname").write_text(self.spec.hostname + "\n")
        (seed / "private-ip").write_text(self.spec.private_ip + "\n")
        (seed / "authorized_keys").write_text(
            (self.spec.authorized_key.strip() + "\n") if self.spec.authorized_key else ""
        )
        (seed / "user-data").write_bytes(self.spec.user_data or b"")

    def boot(self) -> None:
        """Bring the host up (first boot or start after stop) and wait until sshd listens."""
        self._write_seed()
        network.create_host_network(self.journal, self.spec.instance_id,
                                    self.spec.private_ip, self.spec.prefixlen)
        try:
            # Addresses first: a client already trying SSH gets "refused" (and retries at
            # once) instead of an unanswered ARP and a dropped SYN (retried after 1 s).
            if self.public_ips:
                network.set_public_addresses(self.spec.instance_id, set(), self.public_ips)
            self._start_init()
        except BaseException:
            self.halt()
            raise

    def _start_init(self) -> None:
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "H": str(self.dir),
            "IMGSRC": str(self.layout.image_dir),
            "SOCK": str(self.layout.nfs_socket),
            "NETNS": network.netns_name(self.spec.instance_id),
            "ID_BASE": str(HOST_ID_BASE),
            "LANG": "C.UTF-8",
        }
        # A fresh interpreter: entering namespaces needs a single-threaded process (launch.py).
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "sclust.localcloud.launch"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True,  # our signals (Ctrl-C of a foreground daemon) stay ours
        )
        self.journal.add_pid(self._proc.pid)
        assert self._proc.stdout is not None
        line = _readline_with_timeout(self._proc.stdout, BOOT_TIMEOUT)
        if line.strip() != b"READY":
            tail = _tail(self.dir / "console.log")
            raise LocalCloudError(f"host {self.spec.instance_id} failed to boot: {tail}")
        self.pid1 = self._find_pid1(self._proc.pid)
        self.journal.add_pid(self.pid1)

    @staticmethod
    def _find_pid1(unshare_pid: int) -> int:
        children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
        if not children:
            raise LocalCloudError("host init vanished right after boot")
        return int(children[0])

    def halt(self) -> None:
        """Stop every process of the host (the kernel kills the whole PID namespace when its
        PID 1 exits), then remove its network namespace. The root layer stays."""
        for pid in (self.pid1, self._proc.pid if self._proc else None):
            if pid is not None:
                self.journal.remove("pids", str(pid))
        if self._proc is not None:
            if self._proc.poll() is None:
                # SIGKILL to PID 1 from outside its namespace always works; TERM first (trap).
                _signal(self.pid1, signal.SIGTERM)
                try:
                    self._proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    _signal(self.pid1, signal.SIGKILL)
                    _signal(self._proc.pid, signal.SIGKILL)
                    self._proc.wait(timeout=5)
            if self._proc.stdout:
                self._proc.stdout.close()
        self._proc = None
        self.pid1 = None
        network.delete_host_network(self.journal, self.spec.instance_id)

    def restart_processes(self) -> None:
        """Reboot: every process restarts; network, root layer and volumes stay."""
        if self._proc is not None and self._proc.poll() is None:
            _signal(self.pid1, signal.SIGTERM)
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                _signal(self.pid1, signal.SIGKILL)
                self._proc.wait(timeout=5)
        for pid in (self.pid1, self._proc.pid if self._proc else None):
            if pid is not None:
                self.journal.remove("pids", str(pid))
        self._start_init()

    def destroy(self) -> None:
        """Terminate: halt and delete the root layer."""
        self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)

    def open(self, inner: str, flags: int = os.O_RDONLY) -> int:
        """Open a path of the running host, resolved as the host would resolve it: its
        symlinks and `..` never lead out of its root (the daemon never follows a host's path
        into the machine). Returns an fd."""
        if self.pid1 is None:
            raise LocalCloudError(f"host {self.spec.instance_id} is not running")
        root = os.open(f"/proc/{self.pid1}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return kernel.open_in_root(root, inner.lstrip("/") or ".", flags)
        finally:
            os.close(root)

    def read_text(self, inner: str, limit: int = 1 << 20) -> str:
        """A small text file of the running host (at most `limit` bytes read)."""
        fd = self.open(inner, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO would hang the daemon
                raise OSError(22, f"{inner} is not a regular file")
            return os.read(fd, limit).decode(errors="replace")
        finally:
            os.close(fd)

    def is_dir(self, inner: str) -> bool:
        try:
            os.close(self.open(inner, os.O_PATH | os.O_DIRECTORY))
            return True
        except OSError:
            return False

    def run(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a command as root inside the host (all its namespaces)."""
        if self.pid1 is None:
            raise LocalCloudError(f"host {self.spec.instance_id} is not running")
        return subprocess.run(["nsenter", "-t", str(self.pid1), "-a", "--", *argv],
                              capture_output=True, text=True, timeout=timeout)

    def mount_namespace(self) -> str | None:
        """Identity of the host's mount namespace (to tell which host a process belongs to)."""
        if self.pid1 is None:
            return None
        try:
            return os.readlink(f"/proc/{self.pid1}/ns/mnt")
        except OSError:
            return None


def _signal(pid: int | None, sig: int) -> None:
    if pid is None or process_start_time(pid) is None:
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _readline_with_timeout(stream: Any, timeout: float) -> bytes:
    """One line from a pipe, or b'' after `timeout` seconds or at end of file."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    data = b""
    fd = stream.fileno()
    try:
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return b""
            chunk = os.read(fd, 256)
            if not chunk:
                return data
            data += chunk
    finally:
        sel.close()
    return data


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console log)"
