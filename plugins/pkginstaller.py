"""Install distribution packages on every node (StarCluster's PackageInstaller).

    [plugin pkgs]
    SETUP_CLASS = pkginstaller.PackageInstaller
    PACKAGES = htop, git, openmpi-bin
"""

from __future__ import annotations

import re
from typing import Any

from sclust.plugins.base import ClusterSetup, PluginNode
from sclust.scripts import ScriptFile, ScriptRun

# Only what is missing is installed (a re-run costs one query), with apt, dnf or yum.
INSTALL = ScriptFile("sclust.plugins", "scripts/packages.sh")

PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.:_-]*$")


class PackageInstaller(ClusterSetup):
    """Installs PACKAGES (comma or space separated) on the master and every node."""

    public_settings = ("packages",)

    def __init__(self, packages: list[str] | None = None) -> None:
        super().__init__()
        self.packages = [p for p in packages or [] if p]
        for package in self.packages:
            # No leading "-": a name must never become an option of apt-get or dnf.
            if not PACKAGE_NAME.match(package):
                raise ValueError(f"not a package name: {package!r}")

    def install(self, node: PluginNode) -> None:
        if self.packages:
            node.ssh.execute_script(ScriptRun().add(INSTALL, packages=self.packages))

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        self.each(nodes, self.install)
        if self.packages:
            self.report(f"{', '.join(self.packages)} installed on {len(nodes)} node(s)")

    def on_add_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                    user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self.install(node)
