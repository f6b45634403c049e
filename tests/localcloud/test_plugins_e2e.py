"""Plugins end to end on the local cloud: the built-ins (users, packages), a user plugin from
~/.sclust/plugins with every hook, a failing plugin, and `sclust runplugin`; and, since the
template sets no LOGIN_USER, the login user found by trying the usual ones, then put/get."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from localcloud_helpers import cluster_config

from tests.conftest import run_sclust

HELLO = '''
from sclust.plugins.base import ClusterSetup


class Hello(ClusterSetup):
    """Leaves a marker per hook on the nodes it is given."""

    def __init__(self, greeting: str = "hello", times: int = 1, fail: bool = False) -> None:
        super().__init__()
        self.greeting, self.times, self.fail = greeting, times, fail

    def mark(self, node, hook):
        node.ssh.execute(f"echo {self.greeting}x{self.times} >> /var/tmp/hook-{hook}")

    def run(self, nodes, master, user, user_shell, volumes):
        self.each(nodes, lambda node: self.mark(node, "run"))
        if self.fail:
            master.ssh.execute("echo flaky-output >&2; exit 3")
        self.report(f"ran on {len(nodes)} node(s) for {user}")

    def on_add_node(self, node, nodes, master, user, user_shell, volumes):
        self.mark(node, "add")

    def on_remove_node(self, node, nodes, master, user, user_shell, volumes):
        self.mark(master, "remove-" + node.alias)

    def on_shutdown(self, nodes, master, user, user_shell, volumes):
        self.mark(master, "shutdown")
        self.report("shutdown hook ran")
'''


@pytest.fixture
def plugin_env(cloud, tmp_path: Path) -> dict:
    plugin_dir = Path(os.environ["SCLUST_HOME"]) / "plugins"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    (plugin_dir / "hello.py").write_text(HELLO)
    config = cluster_config(cloud, tmp_path, "plug", "PLUGINS = course, tools, hello\n", """\
        [plugin course]
        SETUP_CLASS = starcluster.plugins.users.CreateUsers
        USERNAMES = alice, bob

        [plugin tools]
        SETUP_CLASS = starcluster.plugins.pkginstaller.PackageInstaller
        PACKAGES = procps, openssh-client

        [plugin hello]
        SETUP_CLASS = hello.Hello
        GREETING = hi
        TIMES = 2

        [plugin flaky]
        SETUP_CLASS = hello.Hello
        FAIL = yes

        [plugin broken]
        SETUP_CLASS = pkginstaller.PackageInstaller
        PACKAGES = sclust-no-such-package
        """, size=2)
    env = {"SCLUST_LOCAL_DIR": str(cloud.state_dir)}
    yield {"config": config, "env": env, "tmp": tmp_path, "region": cloud.ec2.meta.region_name}
    run_sclust("-c", str(config), "terminate", "plug", "--yes", "--skip-plugins", env=env)


def sclust(ctx: dict, *args: str, status: int = 0):
    result = run_sclust("-c", str(ctx["config"]), *args, env=ctx["env"], timeout=300)
    assert result.returncode == status, f"sclust {' '.join(args)}:\n{result.stderr}"
    return result


def on(ctx: dict, node: str, command: str) -> str:
    return sclust(ctx, "sshnode", "plug", node, "-u", "root", command).stdout


def test_plugins_hooks_builtins_and_failures(plugin_env: dict) -> None:
    ctx = plugin_env
    started = sclust(ctx, "start", "plug")
    # Built-ins under their StarCluster names, in PLUGINS order, reporting what they did.
    assert "plugin course: user alice (uid" in started.stdout
    assert "plugin tools: procps, openssh-client installed on 2 node(s)" in started.stdout
    assert "plugin hello: ran on 2 node(s) for sgeadmin" in started.stdout
    for alias in ("master", "node001"):
        assert on(ctx, alias, "cat /var/tmp/hook-run").split() == ["hix2"]

    # Extra users: the same uid everywhere, a downloaded key (0600) that logs in as them,
    # and passwordless SSH between the nodes.
    ids = {on(ctx, a, "id -u alice; id -g alice; id -u bob") for a in ("master", "node001")}
    assert len(ids) == 1
    key = Path(os.environ["SCLUST_HOME"]) / "user-keys" / "plug" / "alice.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "key " + str(key) in started.stdout
    assert on(ctx, "master", "su - alice -c 'ssh -o BatchMode=yes node001 whoami'").strip() \
        == "alice"

    # No LOGIN_USER: the first usual login user the hosts accept (ubuntu, with sudo) is found
    # for setup and remembered beside the pinned host keys; sshmaster, put and get log in as
    # root, as StarCluster did, since this image allows root logins (-u overrides).
    known = Path(os.environ["SCLUST_HOME"]) / "known_hosts" / ctx["region"] / "plug.login-user"
    assert known.read_text().strip() == "ubuntu"
    assert sclust(ctx, "sshmaster", "plug", "whoami").stdout.strip() == "root"
    assert sclust(ctx, "sshmaster", "plug", "-u", "ubuntu", "whoami").stdout.strip() == "ubuntu"
    local = ctx["tmp"] / "payload.txt"
    local.write_text("payload\n")
    sclust(ctx, "put", "plug", "-u", "ubuntu", str(local), "/tmp/payload.txt")
    assert on(ctx, "master", "stat -c '%U %s' /tmp/payload.txt").split() == ["ubuntu", "8"]
    back = ctx["tmp"] / "back"
    back.mkdir()
    sclust(ctx, "get", "plug", "-n", "node001", "/var/tmp/hook-run", str(back))
    assert (back / "hook-run").read_text().split() == ["hix2"]

    # addnode: the new node gets the users (same uid) and on_add_node runs on it only.
    sclust(ctx, "addnode", "plug")
    assert on(ctx, "node002", "id -u alice").strip() == on(ctx, "master", "id -u alice").strip()
    assert on(ctx, "node002", "cat /var/tmp/hook-add").split() == ["hix2"]
    assert on(ctx, "node001", "cat /var/tmp/hook-add 2>/dev/null || echo none").strip() == "none"

    # removenode: on_remove_node runs while the node is still there.
    sclust(ctx, "removenode", "plug", "-a", "node002", "--yes")
    assert on(ctx, "master", "cat /var/tmp/hook-remove-node002").split() == ["hix2"]

    # A failing plugin is named with its output, exit status 1, and the cluster stays.
    failed = sclust(ctx, "runplugin", "broken", "plug", status=1)
    assert "plugin broken failed in run" in failed.stderr
    assert "sclust-no-such-package" in failed.stderr
    flaky = sclust(ctx, "runplugin", "flaky", "plug", status=1)
    assert "plugin flaky failed in run" in flaky.stderr and "flaky-output" in flaky.stderr
    listing = json.loads(sclust(ctx, "listclusters", "plug", "--json").stdout)[0]
    assert [n["state"] for n in listing["nodes"]] == ["running", "running"]
    sclust(ctx, "runplugin", "hello", "plug")
    # flaky (greeting "hello") did its work before failing; hello ran again.
    assert on(ctx, "node001", "cat /var/tmp/hook-run").split() == ["hix2", "hellox1", "hix2"]

    # stop runs on_shutdown first (the marker survives on the master's disk).
    stopped = sclust(ctx, "stop", "plug", "--yes")
    assert "plugin hello: shutdown hook ran" in stopped.stdout
    sclust(ctx, "start", "-x", "plug")
    assert on(ctx, "master", "cat /var/tmp/hook-shutdown").split() == ["hix2"]

    terminated = sclust(ctx, "terminate", "plug", "--yes")
    assert "plugin hello: shutdown hook ran" in terminated.stdout
    assert json.loads(sclust(ctx, "listclusters", "--json").stdout) == []


# A plugin written for StarCluster, unchanged, from ~/.starcluster/plugins (issue 13 item 2):
# DefaultClusterSetup's pool over every node, remote_file, switch_user, isdir, on_add_node;
# and StarCluster's tmux plugin by its StarCluster name.
STARCLUSTER_PLUGIN = '''
from starcluster.clustersetup import DefaultClusterSetup
from starcluster.logger import log
from starcluster import exception


class Marker(DefaultClusterSetup):
    def __init__(self, message="hello"):
        super(Marker, self).__init__()
        self.message = message

    def _mark(self, node):
        node.ssh.execute("mkdir -p /var/tmp/sc && echo %s %s > /var/tmp/sc/run"
                         % (self.message, node.alias))

    def run(self, nodes, master, user, user_shell, volumes):
        log.info("marking %d nodes" % len(nodes))
        for node in nodes:
            self.pool.simple_job(self._mark, (node,), jobid=node.alias)
        self.pool.wait(len(nodes))
        hosts = master.ssh.remote_file("/var/tmp/sc/hosts", "w")
        hosts.write("\\n".join(n.alias for n in nodes) + "\\n")
        hosts.close()
        master.ssh.switch_user(user)
        master.ssh.execute("whoami > /tmp/sc-whoami")
        master.ssh.switch_user("root")
        if not master.ssh.isdir("/var/tmp/sc"):
            raise exception.PluginError("no /var/tmp/sc on the master")

    def on_add_node(self, node, nodes, master, user, user_shell, volumes):
        self._mark(node)
'''


def test_a_starcluster_plugin_runs_unchanged(cloud, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".starcluster" / "plugins").mkdir(parents=True)
    (home / ".starcluster" / "plugins" / "marker.py").write_text(STARCLUSTER_PLUGIN)
    config = cluster_config(cloud, tmp_path, "scplug", "PLUGINS = marker, tmux\n", """\
        [plugin marker]
        SETUP_CLASS = marker.Marker
        MESSAGE = ahoy

        [plugin tmux]
        SETUP_CLASS = starcluster.plugins.tmux.TmuxControlCenter
        """, size=2)
    ctx = {"config": config, "env": {"SCLUST_LOCAL_DIR": str(cloud.state_dir),
                                     "HOME": str(home)}}
    try:
        sclust(ctx, "start", "scplug")
        for alias in ("master", "node001"):
            marker = sclust(ctx, "sshnode", "scplug", alias, "-u", "root",
                            "cat /var/tmp/sc/run").stdout
            assert marker.split() == ["ahoy", alias]
        hosts = sclust(ctx, "sshmaster", "scplug", "-u", "root",
                       "cat /var/tmp/sc/hosts /tmp/sc-whoami").stdout
        assert hosts.split() == ["master", "node001", "sgeadmin"]
        # StarCluster's tmux plugin (a built-in here): a window per node for the cluster user.
        windows = "sudo -u sgeadmin tmux list-windows -t starcluster -F '#{window_name}'"
        assert sclust(ctx, "sshmaster", "scplug", "-u", "root", windows).stdout.split() == \
            ["master", "node001"]
        sclust(ctx, "addnode", "scplug")
        marker = sclust(ctx, "sshnode", "scplug", "node002", "-u", "root",
                        "cat /var/tmp/sc/run").stdout
        assert marker.split() == ["ahoy", "node002"]
        assert sclust(ctx, "sshmaster", "scplug", "-u", "root", windows).stdout.split() == \
            ["master", "node001", "node002"]
    finally:
        run_sclust("-c", str(config), "terminate", "scplug", "--yes", "--skip-plugins",
                   env=ctx["env"])
