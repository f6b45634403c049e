"""Install Python packages with pip on every node (StarCluster's PyPkgInstaller).

    [plugin pypkgs]
    SETUP_CLASS = starcluster.plugins.pypkginstaller.PyPkgInstaller
    PACKAGES = numpy, pandas==2.2.2
    INSTALL_COMMAND = pip install -U %s

INSTALL_COMMAND is StarCluster's: words, `%s` standing for the packages; it runs as argv (no
shell), packages are checked names, and both travel as data.
"""

from __future__ import annotations

import re
from typing import Any

from sclust.plugins.base import ClusterSetup, PluginNode
from sclust.scripts import ScriptFile, ScriptRun

PIP = ScriptFile("sclust.plugins", "scripts/pip-install.sh")
# name, extras and a version specifier: `numpy`, `pandas==2.2.2`, `dask[complete]>=2024.1`
REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?"
                         r"([=<>!~]=?[A-Za-z0-9.*+!_-]+(,[=<>!~]=?[A-Za-z0-9.*+!_-]+)*)?$")
# or a VCS/archive URL, as StarCluster's manual showed (`git+http://github.com/ipython/…`)
REQUIREMENT_URL = re.compile(r"^((git|hg|svn|bzr)\+)?https?://[A-Za-z0-9][A-Za-z0-9._~:/?#@!+,=%-]*$")
COMMAND_WORD = re.compile(r"^(%s|[A-Za-z0-9][A-Za-z0-9._/=+-]*"
                          r"|-{1,2}[A-Za-z0-9][A-Za-z0-9=._/-]*)$")


class PyPkgInstaller(ClusterSetup):
    public_settings = ("packages", "install_command")

    def __init__(self, packages: str = "", install_command: str = "pip install %s") -> None:
        super().__init__()
        self.packages = [p.strip() for p in packages.replace(",", " ").split() if p.strip()]
        for package in self.packages:
            if not (REQUIREMENT.match(package) or REQUIREMENT_URL.match(package)):
                raise ValueError(f"not a Python package requirement: {package!r}")
        self.command = install_command.split()
        if self.command.count("%s") != 1 or not all(COMMAND_WORD.match(w) for w in self.command):
            raise ValueError(f"INSTALL_COMMAND {install_command!r}: expected words such as "
                             "`pip install -U %s` (one %s, no shell)")
        if self.command[0].startswith("-"):
            raise ValueError("INSTALL_COMMAND must start with a program")

    def install(self, node: PluginNode) -> None:
        if self.packages:
            node.ssh.execute_script(ScriptRun().add(PIP, command=self.command,
                                                    packages=self.packages))

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        self.each(nodes, self.install)
        if self.packages:
            self.report(f"{', '.join(self.packages)} installed with pip on {len(nodes)} node(s)")

    def on_add_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                    user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self.install(node)
