"""A tmux session on the master with one window per node (StarCluster's TmuxControlCenter).

    [plugin tmux]
    SETUP_CLASS = starcluster.plugins.tmux.TmuxControlCenter
    ENVNAME = starcluster

`sclust sshmaster TAG` then `tmux attach -t starcluster` (as the cluster user).
"""

from __future__ import annotations

from typing import Any

from sclust.names import name_problem
from sclust.plugins.base import ClusterSetup, PluginNode
from sclust.plugins.pkginstaller import INSTALL
from sclust.scripts import ScriptFile, ScriptRun

SESSION = ScriptFile("sclust.plugins", "scripts/tmux-session.sh")


class TmuxControlCenter(ClusterSetup):
    public_settings = ("envname",)

    def __init__(self, envname: str = "starcluster") -> None:
        super().__init__()
        problem = name_problem(envname)
        if problem:
            raise ValueError(f"ENVNAME {problem}")
        self.envname = envname

    def session(self, master: PluginNode, nodes: list[PluginNode], user: str) -> None:
        # Two runs: the install step ends its run early when nothing is missing.
        master.ssh.execute_script(ScriptRun().add(INSTALL, packages=["tmux"]))
        lines = master.ssh.execute_script(
            ScriptRun().add(SESSION, session=self.envname, user=user,
                            aliases=[n.alias for n in nodes]))
        self.report(lines[-1] if lines else f"tmux session {self.envname}")

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        self.session(master, nodes, user)
        self.report(f"attach with: sclust sshmaster {self.cluster} -u {user} "
                    f"-- tmux attach -t {self.envname}")

    def on_add_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                    user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self.session(master, nodes, user)
