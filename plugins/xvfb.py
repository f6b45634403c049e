"""An Xvfb virtual display (:1) on every node, DISPLAY=:1 for login shells (StarCluster's
XvfbSetup): headless GUI programs and plotting libraries run under SGE.

    [plugin xvfb]
    SETUP_CLASS = starcluster.plugins.xvfb.XvfbSetup
"""

from __future__ import annotations

from typing import Any

from sclust.plugins.base import ClusterSetup, PluginNode
from sclust.plugins.pkginstaller import INSTALL
from sclust.scripts import ScriptFile, ScriptRun

XVFB = ScriptFile("sclust.plugins", "scripts/xvfb.sh")


class XvfbSetup(ClusterSetup):
    def __init__(self) -> None:
        super().__init__()

    def setup(self, node: PluginNode) -> None:
        # Two runs: the install step ends its run early when nothing is missing.
        node.ssh.execute_script(ScriptRun().add(INSTALL, packages=["xvfb"]))
        node.ssh.execute_script(ScriptRun().add(XVFB))

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        self.each(nodes, self.setup)
        self.report(f"Xvfb on display :1 of {len(nodes)} node(s)")

    def on_add_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                    user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self.setup(node)
