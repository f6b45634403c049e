"""`from starcluster.clustersetup import ClusterSetup, DefaultClusterSetup`.

A plugin built on these keeps StarCluster's shape: string settings as `__init__` keywords, hooks
`run(nodes, master, user, user_shell, volumes)`, `on_add_node(node, …)`, `on_remove_node`,
`on_restart`, `on_shutdown`, nodes with `node.ssh.execute(…)`, and `volumes` as StarCluster's
dict `{name: {volume_id, mount_path, device, partition}}`. A hook that raises
NotImplementedError (StarCluster's way of saying "no such hook") is skipped.
"""

from __future__ import annotations

from typing import Any

from sclust.plugins.base import ClusterSetup as SclustClusterSetup
from sclust.plugins.base import PluginNode
from sclust.plugins.starcluster_compat.logger import log
from sclust.plugins.starcluster_compat.node import StarClusterNode
from sclust.plugins.starcluster_compat.threadpool import ThreadPool

__all__ = ["ClusterSetup", "DefaultClusterSetup", "log"]


class ClusterSetup(SclustClusterSetup):
    """StarCluster's plugin base class (any keyword settings are accepted, as strings)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def sclust_arguments(self, node: PluginNode | None, nodes: list[PluginNode],
                         master: PluginNode, user: str, user_shell: str,
                         volumes: list[dict[str, Any]]) -> tuple[Any, ...]:
        """sclust's hook arguments in StarCluster's shapes (one node object per alias)."""
        views = {n.alias: StarClusterNode(n) for n in nodes}
        if node is not None and node.alias not in views:
            views[node.alias] = StarClusterNode(node)
        by_name = {str(v.get("name", v.get("volume_id"))): {k: val for k, val in v.items()
                                                             if k != "name"}
                   for v in volumes}
        arguments: tuple[Any, ...] = ([views[n.alias] for n in nodes], views[master.alias],
                                      user, user_shell, by_name)
        if node is not None:
            arguments = (views[node.alias], *arguments)
        self._nodes, self._master = arguments[-5], arguments[-4]
        self._user, self._user_shell, self._volumes = user, user_shell, by_name
        return arguments


class DefaultClusterSetup(ClusterSetup):
    """StarCluster's default setup class, as a base for plugins: `self.pool` runs jobs on many
    nodes at once. sclust itself does the default setup, so `run` here does nothing more."""

    def __init__(self, disable_threads: bool = False, num_threads: int = 20,
                 *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._disable_threads = disable_threads
        self._num_threads = num_threads
        self._pool: ThreadPool | None = None

    @property
    def pool(self) -> ThreadPool:
        if getattr(self, "_pool", None) is None:
            # A subclass that skipped __init__ still gets a pool.
            self._pool = ThreadPool(getattr(self, "_num_threads", 20),
                                    getattr(self, "_disable_threads", False))
        assert self._pool is not None
        return self._pool

    def run(self, nodes: Any, master: Any, user: str, user_shell: str, volumes: Any) -> None:
        log.debug("DefaultClusterSetup.run: sclust already set the cluster up")
