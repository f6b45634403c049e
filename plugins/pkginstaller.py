"""Install distribution packages on every node (StarCluster's PackageInstaller).

    [plugin pkgs]
    SETUP_CLASS = pkginstaller.PackageInstaller
    PACKAGES = htop, git, openmpi-bin
"""

from __future__ import annotations

import re
from typing import Any

from sclust.plugins.base import ClusterSetup, PluginNode

PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.:_-]*$")
# Only what is missing is installed (a re-run costs one query), with apt, dnf or yum.
INSTALL = r"""set -e
packages="{packages}"
if command -v apt-get >/dev/null; then
  missing=""
  for p in $packages; do
    dpkg-query -W -f='${{Status}}' "$p" 2>/dev/null | grep -q "ok installed" \
      || missing="$missing $p"
  done
  [ -z "$missing" ] && {{ echo "installed: nothing missing"; exit 0; }}
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends -- $missing >/tmp/sclust-pkginstaller.log 2>&1 \
    || {{
    apt-get update -q >>/tmp/sclust-pkginstaller.log 2>&1
    apt-get install -y -q --no-install-recommends -- $missing >>/tmp/sclust-pkginstaller.log 2>&1 \
      || {{ tail -20 /tmp/sclust-pkginstaller.log >&2; exit 1; }}
  }}
elif command -v dnf >/dev/null || command -v yum >/dev/null; then
  tool=$(command -v dnf || command -v yum)
  missing=""
  for p in $packages; do rpm -q "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  [ -z "$missing" ] && {{ echo "installed: nothing missing"; exit 0; }}
  "$tool" install -y -q -- $missing >&2
else
  echo "no apt-get, dnf or yum on this node" >&2; exit 1
fi
echo "installed:$missing"
"""


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
            script = INSTALL.format(packages=" ".join(self.packages))  # checked: no quoting
            node.ssh.execute(script)

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        self.each(nodes, self.install)
        if self.packages:
            self.report(f"{', '.join(self.packages)} installed on {len(nodes)} node(s)")

    def on_add_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                    user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self.install(node)
