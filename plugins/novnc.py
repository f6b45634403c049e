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

from sclust.desktops.kinds import DESKTOP_USER, DesktopSetupError, DesktopSpec
from sclust.desktops.kinds.novnc import NOVNC
from sclust.plugins.base import ClusterSetup, PluginError, PluginNode
from sclust.scripts import ScriptFile, ScriptRun

PASSWORD_FILE = "/root/.sclust-novnc-password"  # kept by scripts/novnc-keep-password.sh
KEPT_PASSWORD = ScriptFile("sclust.plugins", "scripts/novnc-kept-password.sh")
KEEP_PASSWORD = ScriptFile("sclust.plugins", "scripts/novnc-keep-password.sh")


class NoVNC(ClusterSetup):
    """Sets a VNC password on the master, makes sure noVNC runs, reports the URL."""

    public_settings = ("port", "desktop_user")

    def __init__(self, port: int = 443, password: str = "", desktop_user: str = "") -> None:
        super().__init__()
        problem = NOVNC.port_problem(port)
        if problem:
            raise ValueError(f"PORT: {problem}")
        # 8: all VNC reads, and the desktop has no login throttling (noVNC's clients are all
        # 127.0.0.1 to the VNC server), so a short password would be guessable.
        if password and (len(password) != 8 or NOVNC.credential_problem(password)):
            raise ValueError("PASSWORD must be 8 printable characters without spaces "
                             "(VNC authentication ignores the rest)")
        self.port = port
        self.password = password
        self.desktop_user = desktop_user

    def _password(self, master: PluginNode) -> str:
        """The configured password, else the one kept on the master, else a new one."""
        if self.password:
            return self.password
        kept = master.run_script(ScriptRun().add(KEPT_PASSWORD))
        if kept.ok and kept.stdout.strip():
            return kept.stdout.strip()
        return NOVNC.new_credential()

    def _setup(self, master: PluginNode, user: str) -> None:
        password = self._password(master)
        # The master's name on the certificate: its address when it has one (what the URL says).
        name = master.ip_address or master.private_ip_address or master.alias
        session_user = self.desktop_user or (user if user and user != "root" else DESKTOP_USER)
        try:
            setup = NOVNC.setup(DesktopSpec(self.port, name, user=session_user), password)
        except DesktopSetupError as error:
            raise PluginError(f"{master.alias}: {error}") from None
        run = ScriptRun().add(KEEP_PASSWORD, password=password).extend(setup)
        result = master.run_script(run)
        if not result.ok:
            output = (result.stderr.strip() or result.stdout.strip())[-1500:]
            raise PluginError(f"{master.alias}: the desktop setup exited {result.status}: {output}")
        report = NOVNC.parse_report(result.stdout)
        address = master.ip_address or master.private_ip_address or master.alias
        self.report(f"noVNC on the master: {NOVNC.url(address, self.port)} password {password}"
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
