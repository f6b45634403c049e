"""JupyterLab on the master in the browser, as the cluster user (jobs, shared /home).

    [plugin jupyter]
    SETUP_CLASS = jupyter.JupyterLab
    PORT = 8888               # JupyterLab's HTTPS port on the master (open it in PERMISSIONS)
    TOKEN = …                 # optional: 16+ letters/digits; default a random one, made once
    DESKTOP_USER = …          # optional: default the cluster user

After `sclust start` it reports the master's JupyterLab URL and its token. The token is kept
on the master only (/root/.sclust-jupyter-token, mode 0600), so any machine with the cluster's
key sees the same one and restarts keep it. It shares the master's certificate and daemons
with the novnc plugin: both may run on one master.
"""

from __future__ import annotations

from typing import Any

from sclust.desktops.kinds import DESKTOP_USER, DesktopSetupError, DesktopSpec
from sclust.desktops.kinds.jupyter import JUPYTER
from sclust.plugins.base import ClusterSetup, PluginError, PluginNode
from sclust.scripts import ScriptFile, ScriptRun

KEPT_TOKEN = ScriptFile("sclust.plugins", "scripts/jupyter-kept-token.sh")
KEEP_TOKEN = ScriptFile("sclust.plugins", "scripts/jupyter-keep-token.sh")


class JupyterLab(ClusterSetup):
    """Sets a token on the master, makes sure JupyterLab runs over HTTPS, reports the URL."""

    public_settings = ("port", "desktop_user")

    def __init__(self, port: int = 8888, token: str = "", desktop_user: str = "") -> None:
        super().__init__()
        problem = JUPYTER.port_problem(port)
        if problem:
            raise ValueError(f"PORT: {problem}")
        if token and JUPYTER.credential_problem(token):
            raise ValueError(f"TOKEN: {JUPYTER.credential_problem(token)}")
        self.port = port
        self.token = token
        self.desktop_user = desktop_user

    def _token(self, master: PluginNode) -> str:
        """The configured token, else the one kept on the master, else a new one."""
        if self.token:
            return self.token
        kept = master.run_script(ScriptRun().add(KEPT_TOKEN))
        if kept.ok and kept.stdout.strip() and not JUPYTER.credential_problem(
                kept.stdout.strip()):
            return kept.stdout.strip()
        return JUPYTER.new_credential()

    def _setup(self, master: PluginNode, user: str) -> None:
        token = self._token(master)
        name = master.ip_address or master.private_ip_address or master.alias
        session_user = self.desktop_user or (user if user and user != "root" else DESKTOP_USER)
        try:
            setup = JUPYTER.setup(DesktopSpec(self.port, name, user=session_user), token)
        except DesktopSetupError as error:
            raise PluginError(f"{master.alias}: {error}") from None
        run = ScriptRun().add(KEEP_TOKEN, token=token).extend(setup)
        result = master.run_script(run)
        if not result.ok:
            output = (result.stderr.strip() or result.stdout.strip())[-1500:]
            raise PluginError(f"{master.alias}: the JupyterLab setup exited {result.status}: "
                              f"{output}")
        report = JUPYTER.parse_report(result.stdout)
        self.report(f"JupyterLab on the master: {JUPYTER.url(name, self.port)} token {token}"
                    f" (as {report.user})")
        self.report(f"certificate SHA-256 {report.cert_sha256}")

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        self._setup(master, user)

    def on_restart(self, nodes: list[PluginNode], master: PluginNode, user: str,
                   user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self._setup(master, user)  # idempotent: repairs and reports
