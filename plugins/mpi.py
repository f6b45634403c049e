"""MPI on every node with a host file listing all nodes (StarCluster's MPICH2Setup; Open MPI
the same way). The host file is on the master's /home, which every node mounts over NFS.

    [plugin mpich2]
    SETUP_CLASS = starcluster.plugins.mpich2.MPICH2Setup

    [plugin openmpi]
    SETUP_CLASS = mpi.OpenMPISetup

Run: `mpirun -f /home/mpich2.hosts -n 8 ./a.out` (MPICH) or
`mpirun --hostfile /home/openmpi.hosts -np 8 ./a.out` (Open MPI).
"""

from __future__ import annotations

from typing import Any

from sclust.plugins.base import ClusterSetup, PluginNode
from sclust.plugins.pkginstaller import INSTALL
from sclust.scripts import ScriptRun


class MPISetup(ClusterSetup):
    """Installs PACKAGES on every node and keeps HOSTS_FILE on the master up to date."""

    packages: tuple[str, ...] = ()
    hosts_file = ""
    label = ""

    def __init__(self) -> None:
        super().__init__()

    def install(self, node: PluginNode) -> None:
        node.ssh.execute_script(ScriptRun().add(INSTALL, packages=list(self.packages)))

    def write_hosts(self, master: PluginNode, aliases: list[str]) -> None:
        master.ssh.write_file(self.hosts_file, "".join(f"{a}\n" for a in aliases))
        self.report(f"{self.label} host file {self.hosts_file}: {len(aliases)} node(s)")

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        self.each(nodes, self.install)
        self.write_hosts(master, [n.alias for n in nodes])

    def on_add_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                    user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self.install(node)
        aliases = [n.alias for n in nodes]
        self.write_hosts(master, aliases + ([node.alias] if node.alias not in aliases else []))

    def on_remove_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                       user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        self.write_hosts(master, [n.alias for n in nodes if n.alias != node.alias])


class MPICH2Setup(MPISetup):
    packages = ("mpich",)
    hosts_file = "/home/mpich2.hosts"  # StarCluster's path
    label = "MPICH"


class OpenMPISetup(MPISetup):
    packages = ("openmpi-bin", "libopenmpi-dev")
    hosts_file = "/home/openmpi.hosts"
    label = "Open MPI"
