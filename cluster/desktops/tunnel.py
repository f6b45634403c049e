"""`sclust vnc TAG`: the master's noVNC through an SSH tunnel (no public port needed).

The system's ssh with the cluster's key and its pinned known_hosts file (as `sshmaster`)
forwards 127.0.0.1:LOCAL to the master's own noVNC port; the browser opens
https://localhost:LOCAL/vnc.html. One SSH command first reads the port (and the password kept
by the novnc plugin) from the master.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from sclust.errors import SclustError
from sclust.remote import Remote
from sclust.ssh import check_destination

DEFAULT_LOCAL_PORT = 6080  # a stable port: the browser's certificate exception stays valid
READ_SETTINGS = ("sed -n 's/^NOVNC_PORT=//p' /etc/sclust-desktop/novnc.env 2>/dev/null; "
                 "sudo -n cat /root/.sclust-novnc-password 2>/dev/null || true")


class TunnelError(SclustError):
    """The tunnel could not be opened (the message says why)."""


@dataclass
class Tunnel:
    process: subprocess.Popen[bytes]
    local_port: int
    remote_port: int
    password: str | None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.local_port}/vnc.html"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_local_port(preferred: int = DEFAULT_LOCAL_PORT, tries: int = 20) -> int:
    """PREFERRED if nothing listens on it on 127.0.0.1, else the next free one."""
    for port in range(preferred, preferred + tries):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise TunnelError(f"no free local port in {preferred}-{preferred + tries - 1}; "
                      "choose one with --local-port")


def _ssh_argv(remote: Remote) -> list[str]:
    """ssh and its options; the caller ends it with `--`, the address and a command."""
    return ["ssh", *remote.options(), "-o", "BatchMode=yes", "-l", remote.user]


def master_novnc(remote: Remote) -> tuple[int, str | None]:
    """(noVNC port, password or None) as set up on the master."""
    master = remote.node("master")
    address = check_destination(master.address)
    done = subprocess.run([*_ssh_argv(remote), "--", address, READ_SETTINGS],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise TunnelError(f"ssh to the master of {remote.info.tag!r} failed: "
                          f"{done.stderr.strip()[-300:]}")
    lines = done.stdout.splitlines()
    if not lines or not lines[0].strip().isdigit():
        raise TunnelError(f"noVNC is not set up on the master of {remote.info.tag!r}: add the "
                          "novnc plugin ([plugin novnc] SETUP_CLASS = novnc.NoVNC) to the "
                          "cluster, or run it now with `sclust runplugin novnc TAG`")
    password = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return int(lines[0]), password


def open_tunnel(remote: Remote, local_port: int | None = None, timeout: float = 30) -> Tunnel:
    """Start `ssh -N -L` to the master's noVNC; returns once the local port answers."""
    remote_port, password = master_novnc(remote)
    master = remote.node("master")
    port = local_port or free_local_port()
    address = check_destination(master.address)
    argv = [*_ssh_argv(remote), "-N", "-o", "ExitOnForwardFailure=yes",
            "-o", "ServerAliveInterval=30",
            "-L", f"127.0.0.1:{port}:127.0.0.1:{remote_port}", "--", address]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    tunnel = Tunnel(process, port, remote_port, password)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace").strip() if process.stderr \
                else ""
            raise TunnelError(f"ssh exited {process.returncode}: {error[-300:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return tunnel
        except OSError:
            if time.monotonic() > deadline:
                tunnel.close()
                raise TunnelError(f"the tunnel did not open within {timeout:.0f} s") from None
            time.sleep(0.1)


def run_until_interrupted(tunnel: Tunnel, say: Callable[[str], None]) -> int:
    """Print the URL, keep the tunnel until Ctrl-C (or until ssh ends); ssh's exit status."""
    say(tunnel.url)
    if tunnel.password:
        say(f"password: {tunnel.password}")
    say("(the certificate is the master's own, self-signed; Ctrl-C closes the tunnel)")
    try:
        return tunnel.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        tunnel.close()
