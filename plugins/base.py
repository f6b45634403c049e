"""The plugin API: StarCluster's `ClusterSetup` hooks, on sclust's nodes.

A plugin is a class with StarCluster's hook names and arguments, so a StarCluster plugin ports
by changing its imports:

    from sclust.plugins.base import ClusterSetup

    class Hello(ClusterSetup):
        def __init__(self, greeting: str = "hello", times: int = 1) -> None:
            super().__init__()
            self.greeting, self.times = greeting, times

        def run(self, nodes, master, user, user_shell, volumes):
            for node in nodes:
                node.ssh.execute(f"echo {self.greeting} > /tmp/greeting")
            self.report(f"greeted {len(nodes)} node(s)")

Settings come from the `[plugin NAME]` section: every key except SETUP_CLASS is passed, in lower
case, to `__init__` and converted to the parameter's annotation (str, int, float, bool, or
list[str] from a comma- or space-separated value). A key `__init__` does not take is a config
error naming its file and line.

Hooks run as root on the nodes: `node.ssh.execute(command)` returns the output lines and raises
`PluginError` on a non-zero exit; `node.run(script)` returns the full result. A plugin that
ships `.sh` files (package data, e.g. in its package's `scripts/`) runs them with their inputs
as data — `node.ssh.execute_script(run)` (raises on failure) or `node.run_script(run)` (returns
the result), with `run = ScriptRun().add(ScriptFile(PACKAGE, "scripts/x.sh"), name=value)` —
so no value, secrets included, is ever on a command line (see sclust.scripts).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sclust.errors import SclustError
from sclust.scripts import REMOTE_COMMAND, ScriptFile, ScriptRun

if TYPE_CHECKING:
    from sclust.scripts import ScriptRun


class PluginError(SclustError):
    """A plugin's hook failed (its message has the plugin's name and the command's output)."""


@dataclass
class CommandResult:
    status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == 0


class NodeSSH:
    """StarCluster's `node.ssh`: run commands as root on one node."""

    def __init__(self, alias: str, runner: Callable[[str, str | None], CommandResult],
                 script_runner: Callable[[ScriptRun], CommandResult] | None = None) -> None:
        self.alias = alias
        self._runner = runner
        self._script_runner = script_runner

    def run(self, script: str, stdin: str | None = None) -> CommandResult:
        return self._runner(script, stdin)

    def run_script(self, run: ScriptRun) -> CommandResult:
        """RUN's steps as root, steps and inputs on stdin (the command line never changes)."""
        if self._script_runner is not None:
            return self._script_runner(run)
        from sclust.scripts import REMOTE_COMMAND

        # The archive of text steps and inputs is text too (tar headers are ASCII).
        return self._runner(f"bash -c {shlex.quote(REMOTE_COMMAND)}", run.archive().decode())

    def execute(self, command: str, ignore_exit_status: bool = False,
                stdin: str | None = None) -> list[str]:
        """The command's output lines; raises PluginError when it fails (unless told not to)."""
        result = self._runner(command, stdin)
        if result.status and not ignore_exit_status:
            output = (result.stderr.strip() or result.stdout.strip())[-2000:]
            raise PluginError(f"{self.alias}: `{command.strip()[:80]}` exited {result.status}:"
                              f" {output}")
        return result.stdout.splitlines()

    def execute_script(self, run: ScriptRun, ignore_exit_status: bool = False) -> list[str]:
        """Run RUN's steps as root, its inputs on stdin; the output lines (PluginError on a
        non-zero exit unless told not to)."""
        result = self._runner(f"bash -c {shlex.quote(REMOTE_COMMAND)}", run.archive().decode())
        if result.status and not ignore_exit_status:
            output = (result.stderr.strip() or result.stdout.strip())[-2000:]
            raise PluginError(f"{self.alias}: [{run.describe()}] exited {result.status}: "
                              f"{output}")
        return result.stdout.splitlines()

    def write_file(self, path: str, text: str, mode: int = 0o644) -> None:
        """Write TEXT to PATH on the node (through stdin: the content never shows in `ps`)."""
        self.execute_script(ScriptRun().add(
            ScriptFile("sclust.plugins", "scripts/write-file.sh"), path=path, content=text,
            mode=f"{mode:o}"))


@dataclass
class PluginNode:
    """A cluster node as plugins see it (StarCluster's Node attributes that still make sense)."""

    alias: str
    instance_id: str
    private_ip_address: str | None
    ip_address: str | None
    instance_type: str
    role: str
    ssh: NodeSSH = field(repr=False)

    def is_master(self) -> bool:
        return self.role == "master"

    def run(self, script: str, stdin: str | None = None) -> CommandResult:
        return self.ssh.run(script, stdin)

    def run_script(self, run: ScriptRun) -> CommandResult:
        """Steps (`.sh` package data) with their inputs as data, as root: see NodeSSH."""
        return self.ssh.run_script(run)


class ClusterSetup:
    """Base class of every plugin; override the hooks you need (each default does nothing)."""

    # Settings (lower-case names) that may be kept in the cluster's EC2 tags, which anyone who
    # may describe security groups can read. The rest stay in the config only: later commands
    # (addnode, restart, runplugin…) read them from the config that started the cluster.
    public_settings: tuple[str, ...] = ()

    def __init__(self, **settings: Any) -> None:
        self.name = type(self).__name__
        self.reports: list[str] = []
        self.cluster = ""  # the cluster's tag, set before each hook

    def each(self, nodes: list[PluginNode], action: Callable[[PluginNode], object]) -> None:
        """ACTION on every node in parallel; one PluginError naming every node that failed."""
        from sclust.ssh import fan_out

        results = fan_out(nodes, action, name=lambda node: node.alias)
        failed = {alias: r for alias, r in results.items() if isinstance(r, BaseException)}
        if failed:
            raise PluginError("; ".join(str(error) if str(error).startswith(alias)
                                        else f"{alias}: {error}"
                                        for alias, error in sorted(failed.items())))

    def report(self, line: str) -> None:
        """A line to show the user after the hook (e.g. a URL, the users created)."""
        self.reports.append(line)

    def run(self, nodes: list[PluginNode], master: PluginNode, user: str, user_shell: str,
            volumes: list[dict[str, Any]]) -> None:
        """After the cluster is set up (start, start -x, and `sclust runplugin`)."""

    def on_add_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                    user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        """After NODE joined the cluster (addnode)."""

    def on_remove_node(self, node: PluginNode, nodes: list[PluginNode], master: PluginNode,
                       user: str, user_shell: str, volumes: list[dict[str, Any]]) -> None:
        """Before NODE leaves the cluster (removenode), while it still runs."""

    def on_restart(self, nodes: list[PluginNode], master: PluginNode, user: str,
                   user_shell: str, volumes: list[dict[str, Any]]) -> None:
        """After `sclust restart` rebooted and set up the nodes again."""

    def on_shutdown(self, nodes: list[PluginNode], master: PluginNode, user: str,
                    user_shell: str, volumes: list[dict[str, Any]]) -> None:
        """Before the cluster stops or terminates, while its nodes still run."""
