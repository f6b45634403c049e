"""A desktop on the master in the browser (Scipion-style masters): VNC + noVNC over HTTPS.

    [plugin novnc]
    SETUP_CLASS = novnc.NoVNC
    PORT = 443                # noVNC's HTTPS port on the master (open it in PERMISSIONS,
                              # or use `sclust vnc TAG`, an SSH tunnel, with no port open)
    PASSWORD = …              # optional: 8 characters; default a random one, made once
    DESKTOP_USER = …          # optional: default the cluster user (jobs, shared /home)

After `sclust start` it reports the master's noVNC URL and the password. The password is
kept on the master only (/root/.sclust-novnc-password, mode 0600), so any machine with the
cluster's key sees the same one, and restarts keep it.
"""

from __future__ import annotations

import shlex
from typing import Any

from sclust.desktops.vnc import (
    DESKTOP_USER,
    RFB_PORT,
    SETUP_COMMAND,
    desktop_setup_script,
    generate_password,
    novnc_url,
    parse_setup_output,
)
from sclust.plugins.base import ClusterSetup, PluginError, PluginNode

PASSWORD_FILE = "/root/.sclust-novnc-password"


class NoVNC(ClusterSetup):
    """Sets a VNC password on the master, makes sure noVNC runs, reports the URL."""

    def __init__(self, port: int = 443, password: str = "", desktop_user: str = "") -> None:
        super().__init__()
        if not 1 <= port <= 65535 or port in (22, RFB_PORT):
            raise ValueError(f"PORT must be 1-65535, not 22 or {RFB_PORT}: {port}")
        # 8: all VNC reads, and the desktop has no login throttling (noVNC's clients are all
        # 127.0.0.1 to the VNC server), so a short password would be guessable.
        if password and not (len(password) == 8 and password.isascii()
                             and password.isprintable() and " " not in password):
            raise ValueError("PASSWORD must be 8 printable characters without spaces "
                             "(VNC authentication ignores the rest)")
        self.port = port
        self.password = password
        self.desktop_user = desktop_user

    def _password(self, master: PluginNode) -> str:
        """The configured password, else the one kept on the master, else a new one."""
        if not self.password:
            kept = master.ssh.execute(f"cat {PASSWORD_FILE} 2>/dev/null || true")
            if kept and kept[0].strip():
                return kept[0].strip()
        password = self.password or generate_password()
        master.ssh.write_file(PASSWORD_FILE, password + "\n", mode=0o600)
        return password

    def _setup(self, master: PluginNode, user: str) -> None:
        password = self._password(master)
        # The master's name on the certificate: its address when it has one (what the URL says).
        name = master.ip_address or master.private_ip_address or master.alias
        session_user = self.desktop_user or (user if user and user != "root" else DESKTOP_USER)
        script = desktop_setup_script(password, self.port, None, None, name, user=session_user)
        result = master.run(SETUP_COMMAND, stdin=script)
        if not result.ok:
            output = (result.stderr.strip() or result.stdout.strip())[-1500:]
            raise PluginError(f"{master.alias}: the desktop setup exited {result.status}: {output}")
        report = parse_setup_output(result.stdout)
        address = master.ip_address or master.private_ip_address or master.alias
        self.report(f"noVNC on the master: {novnc_url(address, self.port)} password {password}"
                    f" (session user {report.user}, {report.gpu_line})")
        self.report(f"certificate SHA-256 {report.cert_sha256}")
        self.report(f"with no port open: sclust vnc {shlex.quote(self.cluster or 'TAG')}")

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        self._setup(master, user)

    def on_restart(self, nodes: list[PluginNode], master: PluginNode, user: str,
                   user_shell: str, volumes: list[dict[str, Any]]) -> None:
        # The daemons start at boot anyway; this repairs and reports (idempotent).
        self._setup(master, user)
