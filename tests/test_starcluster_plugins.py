"""Plugins written for StarCluster load and run unchanged (issue 13 item 2).

The plugins below are modeled on published ones: a package installer (apt_install through
`self.pool`, as the starcluster-plugins collections did), a Spark/Hadoop-style installer
(files put, config written with `remote_file`, commands on every node, the master's list of
workers), and a dynamic-DNS updater (one record per node through `nsupdate`). They sit in
~/.starcluster/plugins, import only `starcluster.*`, and run through sclust's own hook runner.
Here each "node" runs its commands in a local bash with its own HOME and a PATH whose apt-get,
yum and nsupdate record what they were asked; the local-cloud test runs one on real hosts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sclust.pluginrun import call
from sclust.plugins.base import CommandResult, NodeSSH, PluginNode
from sclust.plugins.registry import check, instantiate, resolve

FAKE_TOOL = """#!/bin/bash
# Records how it was called (and its stdin) in $HOME/.calls, as the real tool would act.
{{ echo "{name} $*"; if [ "{name}" = nsupdate ]; then cat; fi; }} >> "$HOME/.calls"
"""


@pytest.fixture
def starcluster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "user-home"
    (home / ".starcluster" / "plugins").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home / ".starcluster" / "plugins"


def local_nodes(tmp_path: Path, aliases: list[str]) -> list[PluginNode]:
    """Nodes whose commands run in a local bash, each with a HOME of its own (as root: the
    runner drops the `sudo -H -u USER` of switch_user, noting who it would have been)."""
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    for name in ("apt-get", "yum", "nsupdate"):
        tool = tools / name
        tool.write_text(FAKE_TOOL.format(name=name))
        tool.chmod(0o755)
    profile = tools / "profile"
    profile.write_text(f"export PATH={tools}:/usr/bin:/bin\n")
    nodes = []
    for number, alias in enumerate(aliases):
        home = tmp_path / "nodes" / alias
        (home / "tmp").mkdir(parents=True)

        def runner(script: str, stdin: str | None, home: Path = home) -> CommandResult:
            if script.startswith("sudo -H -u "):
                user, _, script = script.removeprefix("sudo -H -u ").partition(" ")
                with (home / ".users").open("a") as users:
                    users.write(f"{user}\n")
            # Never this machine's package manager or files: /etc/profile would put the real
            # apt-get first on PATH, and StarCluster's test plugin writes /tmp/iran.
            script = script.replace("source /etc/profile", f"source {profile}")
            script = script.replace("/tmp/iran", "$HOME/tmp/iran")
            assert "/etc/profile" not in script
            env = {"HOME": str(home), "PATH": f"{tools}:/usr/bin:/bin"}
            done = subprocess.run(["bash", "-c", script], input=stdin, capture_output=True,
                                  text=True, env=env, cwd=home, timeout=30)
            return CommandResult(done.returncode, done.stdout, done.stderr)

        nodes.append(PluginNode(alias, f"i-{number:08x}", f"10.0.0.{10 + number}",
                                f"198.51.100.{10 + number}", "t3.micro",
                                "master" if alias == "master" else "node",
                                NodeSSH(alias, runner)))
    return nodes


def run_plugin(setup_class: str, settings: dict[str, str], nodes: list[PluginNode],
               hook: str = "run", node: PluginNode | None = None,
               volumes: list[dict[str, Any]] | None = None) -> Any:
    spec = {"name": "p", "setup_class": setup_class, "settings": settings}
    return call(spec, hook, nodes, nodes[0], node, "demo",
                ("sgeadmin", "bash", volumes or []))


PACKAGE_INSTALLER = '''\
from starcluster.clustersetup import DefaultClusterSetup
from starcluster.logger import log


class PackageInstaller(DefaultClusterSetup):
    """Install packages on every node (as the published pkginstaller plugins did)."""

    def __init__(self, packages=None):
        super(PackageInstaller, self).__init__()
        self.packages = packages
        if packages:
            self.packages = [pkg.strip() for pkg in packages.split(',')]
        log.debug('packages = %s' % self.packages)

    def run(self, nodes, master, user, user_shell, volumes):
        if not self.packages:
            log.info("No packages specified!")
            return
        log.info('Installing the following packages on all nodes:')
        log.info(', '.join(self.packages), extra=dict(__raw__=True))
        pkgs = ' '.join(self.packages)
        for node in nodes:
            self.pool.simple_job(node.apt_install, (pkgs), jobid=node.alias)
        self.pool.wait(len(nodes))

    def on_add_node(self, new_node, nodes, master, user, user_shell, volumes):
        new_node.package_install(' '.join(self.packages))

    def on_remove_node(self, node, nodes, master, user, user_shell, volumes):
        raise NotImplementedError("on_remove_node method not implemented")
'''

SPARK_INSTALLER = '''\
import os
import posixpath

from starcluster import clustersetup
from starcluster import exception
from starcluster.logger import log


class SparkInstaller(clustersetup.DefaultClusterSetup):
    """Spark-style: unpack a release on every node, write its config, list the workers on
    the master, start the master and the workers."""

    def __init__(self, tarball, spark_home="~/spark", spark_user="sgeadmin"):
        super(SparkInstaller, self).__init__()
        self.tarball = os.path.expanduser(tarball)
        self.spark_home = spark_home
        self.spark_user = spark_user

    def _install(self, node):
        node.ssh.makedirs(self.spark_home)
        node.ssh.put(self.tarball, self.spark_home)
        node.ssh.execute("cd %s && tar -xzf %s" % (self.spark_home,
                                                   posixpath.basename(self.tarball)))
        env = node.ssh.remote_file(posixpath.join(self.spark_home, "spark-env.sh"), "w")
        env.write("export SPARK_MASTER_HOST=%s\\n" % self.master.alias)
        env.write("export SPARK_LOCAL_IP=%s\\n" % node.private_ip_address)
        env.close()
        if not node.ssh.isfile(posixpath.join(self.spark_home, "sbin/start-worker.sh")):
            raise exception.PluginError("spark tarball has no sbin/start-worker.sh")

    def run(self, nodes, master, user, user_shell, volumes):
        self.master = master
        log.info("Installing Spark on %d nodes" % len(nodes))
        for node in nodes:
            self.pool.simple_job(self._install, (node,), jobid=node.alias)
        self.pool.wait(numtasks=len(nodes))
        workers = master.ssh.remote_file(posixpath.join(self.spark_home, "workers"), "w")
        workers.write("\\n".join(n.alias for n in nodes if not n.is_master()) + "\\n")
        workers.close()
        master.ssh.switch_user(self.spark_user)
        master.ssh.execute("%s/sbin/start-master.sh" % self.spark_home)
        master.ssh.switch_user("root")
        for node in nodes:
            if not node.is_master():
                node.ssh.execute("%s/sbin/start-worker.sh spark://%s:7077"
                                 % (self.spark_home, master.alias))

    def on_add_node(self, node, nodes, master, user, user_shell, volumes):
        self.master = master
        self._install(node)
        master.ssh.execute("echo %s >> %s/workers" % (node.alias, self.spark_home))

    def on_remove_node(self, node, nodes, master, user, user_shell, volumes):
        master.ssh.remove_lines_from_file(posixpath.join(self.spark_home, "workers"),
                                          "^%s$" % node.alias)
'''

DYNAMIC_DNS = '''\
from starcluster.clustersetup import ClusterSetup
from starcluster.logger import log
from starcluster import exception


class DynamicDNS(ClusterSetup):
    """One A record per node (TAG-alias.DOMAIN) at the DNS server, updated by nsupdate."""

    def __init__(self, domain, server, ttl=60):
        self.domain = domain
        self.server = server
        self.ttl = int(ttl)

    def _update(self, node, action):
        record = "%s.%s" % (node.alias, self.domain)
        lines = ["server %s" % self.server, "update delete %s A" % record]
        if action == "add":
            lines.append("update add %s %d A %s" % (record, self.ttl, node.ip_address))
        lines.append("send")
        f = node.ssh.remote_file(".nsupdate", "w")
        f.write("\\n".join(lines) + "\\n")
        f.close()
        try:
            node.ssh.execute("nsupdate -v < .nsupdate")
        except exception.RemoteCommandFailed as e:
            raise exception.PluginError("nsupdate failed on %s: %s" % (node.alias, e))
        log.info("%s -> %s" % (record, node.ip_address))

    def run(self, nodes, master, user, user_shell, volumes):
        for node in nodes:
            self._update(node, "add")

    def on_add_node(self, node, nodes, master, user, user_shell, volumes):
        self._update(node, "add")

    def on_remove_node(self, node, nodes, master, user, user_shell, volumes):
        self._update(node, "delete")
'''


def calls(node: PluginNode, tmp_path: Path) -> str:
    path = tmp_path / "nodes" / node.alias / ".calls"
    return path.read_text() if path.exists() else ""


def test_package_installer_runs_on_every_node_through_the_pool(
        starcluster_home: Path, tmp_path: Path) -> None:
    (starcluster_home / "pkginstaller_sc.py").write_text(PACKAGE_INSTALLER)
    nodes = local_nodes(tmp_path, ["master", "node001", "node002"])
    outcome = run_plugin("pkginstaller_sc.PackageInstaller", {"packages": "htop, git"}, nodes)
    assert outcome.error is None
    for node in nodes:
        recorded = calls(node, tmp_path)
        assert "apt-get -o Dpkg::Options::=--force-confnew -y update" in recorded
        assert "apt-get -o Dpkg::Options::=--force-confnew -y install htop git" in recorded
    # on_add_node: package_install finds apt-get, as StarCluster's did (by /usr/bin/apt-get).
    new = local_nodes(tmp_path, ["node003"])[0]
    outcome = run_plugin("pkginstaller_sc.PackageInstaller", {"packages": "htop"},
                         nodes + [new], hook="on_add_node", node=new)
    assert outcome.error is None
    # on_remove_node raises NotImplementedError: StarCluster's "no such hook", skipped.
    outcome = run_plugin("pkginstaller_sc.PackageInstaller", {"packages": "htop"}, nodes,
                         hook="on_remove_node", node=nodes[2])
    assert outcome.error is None


def test_a_package_name_never_becomes_more_shell(starcluster_home: Path,
                                                 tmp_path: Path) -> None:
    (starcluster_home / "pkginstaller_sc.py").write_text(PACKAGE_INSTALLER)
    nodes = local_nodes(tmp_path, ["master"])
    outcome = run_plugin("pkginstaller_sc.PackageInstaller",
                         {"packages": "htop; touch /tmp/pwned"}, nodes)
    assert outcome.error and "not a package name: 'htop;'" in outcome.error
    assert "install" not in calls(nodes[0], tmp_path)


def spark_tarball(tmp_path: Path) -> Path:
    import tarfile

    tree = tmp_path / "spark-build"
    (tree / "sbin").mkdir(parents=True)
    for script, line in (("start-master.sh", 'echo "master $(id -un)" > "$HOME/spark.log"'),
                         ("start-worker.sh", 'echo "worker $1" > "$HOME/spark.log"')):
        path = tree / "sbin" / script
        path.write_text(f"#!/bin/bash\n{line}\n")
        path.chmod(0o755)
    tarball = tmp_path / "spark.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(tree / "sbin", arcname="sbin")
    return tarball


def test_spark_style_installer_sets_up_every_node(starcluster_home: Path,
                                                  tmp_path: Path) -> None:
    (starcluster_home / "spark_sc.py").write_text(SPARK_INSTALLER)
    nodes = local_nodes(tmp_path, ["master", "node001", "node002"])
    settings = {"tarball": str(spark_tarball(tmp_path)), "spark_user": "spark"}
    outcome = run_plugin("spark_sc.SparkInstaller", settings, nodes)
    assert outcome.error is None, outcome.error
    for node in nodes:
        home = tmp_path / "nodes" / node.alias
        env = (home / "spark" / "spark-env.sh").read_text()
        assert env == ("export SPARK_MASTER_HOST=master\n"
                       f"export SPARK_LOCAL_IP={node.private_ip_address}\n")
        log = (home / "spark.log").read_text()
        assert log == ("master root\n" if node.is_master() else "worker spark://master:7077\n")
    master_home = tmp_path / "nodes" / "master"
    assert (master_home / "spark" / "workers").read_text() == "node001\nnode002\n"
    assert (master_home / ".users").read_text() == "spark\n"  # switch_user, then back to root
    outcome = run_plugin("spark_sc.SparkInstaller", settings, nodes, hook="on_remove_node",
                         node=nodes[1])
    assert outcome.error is None
    assert (master_home / "spark" / "workers").read_text() == "node002\n"


def test_spark_style_installer_failure_names_the_nodes(starcluster_home: Path,
                                                       tmp_path: Path) -> None:
    (starcluster_home / "spark_sc.py").write_text(SPARK_INSTALLER)
    nodes = local_nodes(tmp_path, ["master", "node001"])
    empty = tmp_path / "empty.tgz"
    subprocess.run(["tar", "-czf", str(empty), "-T", "/dev/null"], check=True)
    outcome = run_plugin("spark_sc.SparkInstaller", {"tarball": str(empty)}, nodes)
    assert outcome.error is not None
    assert "2 of 2 jobs failed" in outcome.error and "master:" in outcome.error
    assert "node001:" in outcome.error and "no sbin/start-worker.sh" in outcome.error


def test_dynamic_dns_updates_one_record_per_node(starcluster_home: Path,
                                                 tmp_path: Path) -> None:
    (starcluster_home / "ddns.py").write_text(DYNAMIC_DNS)
    nodes = local_nodes(tmp_path, ["master", "node001"])
    settings = {"domain": "hpc.example.org", "server": "192.0.2.53", "ttl": "300"}
    assert check("ddns.DynamicDNS", settings) == []
    assert [p.message for p in check("ddns.DynamicDNS", {"domain": "x"})] == \
        ["required setting missing"]
    outcome = run_plugin("ddns.DynamicDNS", settings, nodes)
    assert outcome.error is None, outcome.error
    assert calls(nodes[1], tmp_path) == (
        "nsupdate -v\nserver 192.0.2.53\nupdate delete node001.hpc.example.org A\n"
        "update add node001.hpc.example.org 300 A 198.51.100.11\nsend\n")
    outcome = run_plugin("ddns.DynamicDNS", settings, nodes, hook="on_remove_node",
                         node=nodes[1])
    assert "update add" not in calls(nodes[1], tmp_path).split("send\n")[1]


def test_starcluster_modules_exist_only_while_user_plugins_load(starcluster_home: Path) -> None:
    (starcluster_home / "ddns.py").write_text(DYNAMIC_DNS)
    assert "starcluster" not in sys.modules
    cls = resolve("ddns.DynamicDNS")
    assert "starcluster" not in sys.modules and "starcluster.clustersetup" not in sys.modules
    from sclust.plugins.starcluster_compat.clustersetup import ClusterSetup

    assert issubclass(cls, ClusterSetup)
    with pytest.raises(ModuleNotFoundError):
        __import__("starcluster.clustersetup")


def test_a_user_module_is_never_shadowed_by_a_builtin_of_the_same_name(
        starcluster_home: Path, sclust_home: Path) -> None:
    # `users` is a built-in plugin module and `json` a standard one: the user's files win.
    (starcluster_home / "users.py").write_text(textwrap.dedent("""\
        from starcluster.clustersetup import ClusterSetup

        class CreateUsers(ClusterSetup):
            mine = True
        """))
    (starcluster_home / "json.py").write_text(textwrap.dedent("""\
        from starcluster.clustersetup import ClusterSetup

        class Loader(ClusterSetup):
            mine = True
        """))
    assert resolve("users.CreateUsers").mine is True
    assert resolve("json.Loader").mine is True
    import json

    assert hasattr(json, "dumps")  # the standard module is untouched
    # ~/.sclust/plugins comes before ~/.starcluster/plugins.
    (sclust_home / "plugins").mkdir(parents=True)
    (sclust_home / "plugins" / "users.py").write_text(textwrap.dedent("""\
        from sclust.plugins.base import ClusterSetup

        class CreateUsers(ClusterSetup):
            mine = "sclust"
        """))
    assert resolve("users.CreateUsers").mine == "sclust"


def test_node_api_files_and_status(tmp_path: Path) -> None:
    from sclust.plugins.starcluster_compat import exception
    from sclust.plugins.starcluster_compat.node import StarClusterNode

    node = StarClusterNode(local_nodes(tmp_path, ["master"])[0])
    home = tmp_path / "nodes" / "master"
    assert node.ssh.execute("echo one; echo two") == ["one", "two"]
    assert node.ssh.get_status("exit 3") == 3
    with pytest.raises(exception.RemoteCommandFailed) as failed:
        node.ssh.execute("echo oops >&2; exit 4")
    assert failed.value.exit_status == 4 and "oops" in failed.value.output
    assert node.ssh.execute("exit 4", ignore_exit_status=True) == []
    node.ssh.makedirs("a/b")
    assert node.ssh.isdir(str(home / "a" / "b")) and not node.ssh.isfile(str(home / "a"))
    local = tmp_path / "data.bin"
    local.write_bytes(bytes(range(256)))
    node.ssh.put(str(local), "a/b")
    assert (home / "a" / "b" / "data.bin").read_bytes() == bytes(range(256))
    node.ssh.put(str(local), "renamed.bin")
    assert (home / "renamed.bin").read_bytes() == bytes(range(256))
    back = tmp_path / "back"
    back.mkdir()
    node.ssh.get("a/b/data.bin", str(back))
    assert (back / "data.bin").read_bytes() == bytes(range(256))
    with node.ssh.remote_file("conf", "w") as f:
        f.write("x=1\ny=2\n")
    assert node.ssh.get_remote_file_lines("conf", "^y") == ["y=2\n"]
    node.ssh.remove_lines_from_file("conf", "^x")
    assert (home / "conf").read_text() == "y=2\n"
    assert node.ssh.remote_file("conf", "r").read() == "y=2\n"
    assert sorted(node.ssh.glob(str(home / "*.bin"))) == [str(home / "renamed.bin")]
    assert node.alias == "master" and node.is_master() and node.id == "i-00000000"
    with pytest.raises(exception.SSHError):
        node.ssh.switch_user("root; rm -rf /")


def test_hooks_get_starcluster_shaped_volumes(starcluster_home: Path, tmp_path: Path) -> None:
    (starcluster_home / "vols.py").write_text(textwrap.dedent("""\
        from starcluster.clustersetup import ClusterSetup

        class Vols(ClusterSetup):
            def run(self, nodes, master, user, user_shell, volumes):
                for name, vol in volumes.items():
                    master.ssh.execute("echo %s %s %s >> seen" % (name, vol['volume_id'],
                                                                 vol['mount_path']))
                master.ssh.execute("echo %s %s %d >> seen" % (user, user_shell, len(nodes)))
        """))
    nodes = local_nodes(tmp_path, ["master", "node001"])
    outcome = run_plugin("vols.Vols", {}, nodes, volumes=[
        {"name": "data", "volume_id": "vol-1", "mount_path": "/data", "device": None,
         "partition": None}])
    assert outcome.error is None, outcome.error
    assert (tmp_path / "nodes" / "master" / "seen").read_text() == \
        "data vol-1 /data\nsgeadmin bash 2\n"


def test_starcluster_test_plugin_runs_unchanged(starcluster_home: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copy(Path(__file__).parent / "data" / "starcluster" / "plugins" / "mytestplugin.py",
                starcluster_home)
    nodes = local_nodes(tmp_path, ["master", "node001"])
    plugin = instantiate("p1", "mytestplugin.SetupClass", {"my_arg": "23", "my_other_arg": "x"})
    assert (plugin.my_arg, plugin.my_other_arg) == ("23", "x")
    outcome = run_plugin("mytestplugin.SetupClass", {"my_arg": "23", "my_other_arg": "x"},
                         nodes)
    assert outcome.error is None, outcome.error
    for node in nodes:
        assert (tmp_path / "nodes" / node.alias / "tmp" / "iran").read_text() == "i ran foo\n"
        assert "apt-get install -y imagemagick" in calls(node, tmp_path)


# ---- built-ins under StarCluster's names -------------------------------------------------------


def recording_nodes(aliases: list[str]) -> tuple[list[PluginNode], list[dict[str, Any]]]:
    """Nodes that run nothing: each script run is recorded (node, steps, inputs) and succeeds."""
    import io
    import tarfile

    runs: list[dict[str, Any]] = []

    def runner_for(alias: str) -> Any:
        def runner(script: str, stdin: str | None) -> CommandResult:
            with tarfile.open(fileobj=io.BytesIO((stdin or "").encode())) as archive:
                files = {m.name: archive.extractfile(m).read().decode()  # type: ignore[union-attr]
                         for m in archive.getmembers() if m.isfile()}
            runs.append({"node": alias, "steps": files["plan"].split(),
                         "inputs": {k.removeprefix("input/"): v for k, v in files.items()
                                    if k.startswith("input/")}})
            return CommandResult(0, "done\n", "")
        return runner

    nodes = [PluginNode(a, f"i-{n}", f"10.0.0.{n}", None, "t3.micro",
                        "master" if a == "master" else "node", NodeSSH(a, runner_for(a)))
             for n, a in enumerate(aliases)]
    return nodes, runs


@pytest.mark.parametrize("starcluster_name, ours", [
    ("starcluster.plugins.tmux.TmuxControlCenter", "sclust.plugins.tmux"),
    ("starcluster.plugins.xvfb.XvfbSetup", "sclust.plugins.xvfb"),
    ("starcluster.plugins.mpich2.MPICH2Setup", "sclust.plugins.mpi"),
    ("starcluster.plugins.pypkginstaller.PyPkgInstaller", "sclust.plugins.pypkginstaller"),
    ("mpi.OpenMPISetup", "sclust.plugins.mpi"),
])
def test_starcluster_builtins_have_sclust_equivalents(starcluster_name: str, ours: str) -> None:
    assert resolve(starcluster_name).__module__ == ours


@pytest.mark.parametrize("name, why", [
    ("starcluster.plugins.hadoop.Hadoop", "Hadoop 1.x"),
    ("starcluster.plugins.condor.CondorPlugin", "HTCondor as a second batch system"),
    ("starcluster.plugins.mysql.MysqlCluster", "MySQL Cluster"),
    ("starcluster.plugins.ipcluster.IPCluster", "IPython.parallel"),
])
def test_starcluster_builtins_without_equivalent_say_why(name: str, why: str) -> None:
    (problem,) = check(name, {})
    assert "no sclust equivalent" in problem.message and why in problem.message


def test_mpi_host_file_lists_every_node_and_follows_add_and_remove() -> None:
    nodes, runs = recording_nodes(["master", "node001", "node002"])
    outcome = run_plugin("starcluster.plugins.mpich2.MPICH2Setup", {}, nodes)
    assert outcome.error is None, outcome.error
    installs = [r for r in runs if r["inputs"].get("packages") == "mpich\n"]
    assert sorted(r["node"] for r in installs) == ["master", "node001", "node002"]
    (hosts,) = [r for r in runs if r["inputs"].get("path") == "/home/mpich2.hosts"]
    assert hosts["node"] == "master" and hosts["inputs"]["content"] == \
        "master\nnode001\nnode002\n"
    runs.clear()
    new, new_runs = recording_nodes(["node003"])
    outcome = run_plugin("mpi.OpenMPISetup", {}, nodes + new, hook="on_add_node", node=new[0])
    assert outcome.error is None
    assert new_runs[0]["inputs"]["packages"] == "openmpi-bin\nlibopenmpi-dev\n"
    assert runs[-1]["inputs"]["content"] == "master\nnode001\nnode002\nnode003\n"
    outcome = run_plugin("mpi.OpenMPISetup", {}, nodes, hook="on_remove_node", node=nodes[1])
    assert runs[-1]["inputs"] == {"path": "/home/openmpi.hosts", "content": "master\nnode002\n",
                                  "mode": "644"}


def test_tmux_xvfb_and_pip_send_their_inputs_as_data() -> None:
    nodes, runs = recording_nodes(["master", "node001"])
    assert run_plugin("starcluster.plugins.tmux.TmuxControlCenter", {"envname": "work"},
                      nodes).error is None
    install, tmux = runs
    assert install["inputs"] == {"packages": "tmux\n"}
    assert tmux["node"] == "master" and tmux["inputs"]["session"] == "work"
    assert tmux["inputs"]["aliases"] == "master\nnode001\n" and tmux["inputs"]["user"] == \
        "sgeadmin"
    runs.clear()
    assert run_plugin("starcluster.plugins.xvfb.XvfbSetup", {}, nodes).error is None
    assert sorted(r["node"] for r in runs) == ["master", "master", "node001", "node001"]
    assert sorted(r["inputs"].get("packages", "") for r in runs) == ["", "", "xvfb\n", "xvfb\n"]
    runs.clear()
    settings = {"packages": "numpy, pandas==2.2.2", "install_command": "pip install -U %s"}
    assert run_plugin("starcluster.plugins.pypkginstaller.PyPkgInstaller", settings,
                      nodes).error is None
    assert runs[0]["inputs"] == {"command": "pip\ninstall\n-U\n%s\n",
                                 "packages": "numpy\npandas==2.2.2\n"}


@pytest.mark.parametrize("setup_class, settings, message", [
    ("starcluster.plugins.tmux.TmuxControlCenter", {"envname": "a b"}, "ENVNAME"),
    ("starcluster.plugins.pypkginstaller.PyPkgInstaller", {"packages": "numpy;id"},
     "not a Python package requirement"),
    ("starcluster.plugins.pypkginstaller.PyPkgInstaller",
     {"packages": "numpy", "install_command": "pip install $(id) %s"}, "INSTALL_COMMAND"),
    ("starcluster.plugins.pypkginstaller.PyPkgInstaller",
     {"packages": "numpy", "install_command": "pip install"}, "one %s"),
])
def test_builtin_settings_are_checked(setup_class: str, settings: dict[str, str],
                                      message: str) -> None:
    (problem,) = check(setup_class, settings)
    assert message in problem.message


def test_starcluster_log_info_is_shown_like_starcluster_did(
        capsys: pytest.CaptureFixture[str]) -> None:
    from sclust.plugins.starcluster_compat.logger import log

    log.info("Installing htop on node001")
    log.debug("only in the log file")
    log.warn("warned")  # StarCluster plugins still call warn
    err = capsys.readouterr().err
    assert ">>> Installing htop on node001" in err and "only in the log" not in err
    assert ">>> warned" not in err
