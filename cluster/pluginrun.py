"""Run the cluster's plugins' hooks over the configurator's SSH connections.

A failing plugin is reported with its name and output; it never undoes the cluster, and the
other plugins still run. Hooks run in PLUGINS order (reverse order for removal and shutdown,
so a plugin undoes its work after those that came after it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sclust.state import Node

if TYPE_CHECKING:
    from sclust.configure import Configurator
    from sclust.plugins.base import ClusterSetup, PluginNode
    from sclust.scripts import ScriptRun
    from sclust.ssh import Connection

log = logging.getLogger(__name__)
REVERSED_HOOKS = ("on_remove_node", "on_shutdown")


@dataclass
class PluginOutcome:
    """What one plugin's hook did: the lines it reports, or why it failed."""

    name: str
    hook: str
    reports: list[str] = field(default_factory=list)
    error: str | None = None


def run_hook(configurator: Configurator, hook: str, node: Node | None = None,
             only: list[dict[str, Any]] | None = None) -> list[PluginOutcome]:
    """HOOK of every plugin of the cluster (or of ONLY), with NODE for on_add/on_remove_node."""
    settings = configurator.settings
    specs = settings.plugins if only is None else only
    if not specs:
        return []
    nodes = [n for n in configurator.info.nodes if n.state == "running"]
    if node is not None and node not in nodes:
        nodes.append(node)
    configurator.connect_all(nodes)
    views = {n.alias: plugin_node(n.alias, n.instance_id, n.private_ip, n.public_ip,
                                  n.instance_type, n.role, configurator.connection(n))
             for n in nodes}
    master = next(v for v in views.values() if v.is_master())
    outcomes = []
    for spec in (list(reversed(specs)) if hook in REVERSED_HOOKS else list(specs)):
        configurator.progress.step(f"plugin {spec['name']}: {hook}")
        outcomes.append(call(spec, hook, list(views.values()), master,
                             views[node.alias] if node else None, configurator.info.tag,
                             (settings.cluster_user, settings.cluster_shell, settings.volumes)))
    return outcomes


def plugin_node(alias: str, instance_id: str, private_ip: str | None, public_ip: str | None,
                instance_type: str, role: str, connection: Connection) -> PluginNode:
    """A node (or desktop) as plugins see it, its commands run as root over CONNECTION."""
    from sclust.plugins.base import CommandResult, NodeSSH, PluginNode

    def runner(script: str, stdin: str | None) -> CommandResult:
        result = connection.run(script, sudo=True, stdin=stdin, check=False)
        return CommandResult(result.status, result.stdout, result.stderr)

    def script_runner(run: ScriptRun) -> CommandResult:
        result = connection.run_script(run, check=False)
        return CommandResult(result.status, result.stdout, result.stderr)

    return PluginNode(alias, instance_id, private_ip, public_ip, instance_type, role,
                      NodeSSH(alias, runner, script_runner))


def call(spec: dict[str, Any], hook: str, nodes: list[PluginNode], master: PluginNode,
         node: PluginNode | None, tag: str, user_shell_volumes: tuple[str, str, list[dict]],
         ) -> PluginOutcome:
    """One plugin's HOOK; whatever it raises becomes the outcome's error."""
    from sclust.plugins.base import PluginError
    from sclust.plugins.registry import instantiate

    outcome = PluginOutcome(spec["name"], hook)
    if spec.get("refused"):
        outcome.error = spec["refused"]
        return outcome
    try:
        plugin: ClusterSetup = instantiate(spec["name"], spec["setup_class"], spec["settings"])
        plugin.cluster = tag
        arguments: tuple[Any, ...] = (nodes, master, *user_shell_volumes)
        if node is not None:
            arguments = (node, *arguments)
        adapt = getattr(plugin, "sclust_arguments", None)
        if adapt is not None:  # a StarCluster plugin: its shapes of nodes and volumes
            arguments = adapt(node, nodes, master, *user_shell_volumes)
        method = getattr(plugin, hook, None)
        if method is not None:
            try:
                method(*arguments)
            except NotImplementedError:  # StarCluster's way of saying "no such hook"
                log.debug("plugin %s has no %s", spec["name"], hook)
        outcome.reports = list(plugin.reports)
    except PluginError as error:
        outcome.error = str(error)
    except Exception as error:  # a plugin's own bug must not undo the cluster
        log.debug("plugin %s failed", spec["name"], exc_info=True)
        outcome.error = f"{type(error).__name__}: {error}"
    if outcome.error:
        log.warning("plugin %s (%s) failed: %s", spec["name"], hook, outcome.error,
                    extra={"file_only": True})
    return outcome
