"""Plugin configuration: SETUP_CLASS lookup, StarCluster names, typed settings, and errors that
name the file and line — all before anything is launched."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from sclust.config import load_config
from sclust.errors import ConfigError
from sclust.plugins.base import ClusterSetup
from sclust.plugins.registry import instantiate, parse_value


def config_with(tmp_path: Path, plugin_lines: str) -> Path:
    key = tmp_path / "k.pem"
    key.write_text("x")
    key.chmod(0o600)
    path = tmp_path / "config"
    path.write_text(textwrap.dedent(f"""\
        [key k]
        KEY_LOCATION = {key}

        [cluster c]
        KEYNAME = k
        CLUSTER_SIZE = 2
        NODE_IMAGE_ID = ami-12345678
        NODE_INSTANCE_TYPE = t3.micro
        PLUGINS = p

        """) + textwrap.dedent(plugin_lines))
    return path


def template_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path).template("c")
    return str(caught.value)


@pytest.mark.parametrize("lines, expected", [
    ("[plugin p]\nSETUP_CLASS = nosuch.Thing\n", ":12: [plugin p] SETUP_CLASS: nosuch.Thing: "
                                                 "no module nosuch or sclust.plugins.nosuch"),
    ("[plugin p]\nSETUP_CLASS = pkginstaller.Nope\n", ":12: [plugin p] SETUP_CLASS: "
                                                      "pkginstaller.Nope: module"),
    ("[plugin p]\nSETUP_CLASS = starcluster.plugins.hadoop.Hadoop\n",
     ":12: [plugin p] SETUP_CLASS: starcluster.plugins.hadoop.Hadoop is a StarCluster plugin "
     "with no sclust equivalent"),
    ("[plugin p]\nSETUP_CLASS = users.CreateUsers\nNUM_USER = 3\n",
     ":13: [plugin p] NUM_USER: CreateUsers takes no setting 'num_user' (did you mean "
     "'num_users'?)"),
    ("[plugin p]\nSETUP_CLASS = users.CreateUsers\nNUM_USERS = three\n",
     ":13: [plugin p] NUM_USERS: expected a whole number, not 'three'"),
    ("[plugin p]\nSETUP_CLASS = users.CreateUsers\nDOWNLOAD_KEYS = maybe\nNUM_USERS = 1\n",
     ":13: [plugin p] DOWNLOAD_KEYS: expected true or false, not 'maybe'"),
    ("[plugin p]\nSETUP_CLASS = users.CreateUsers\nUSERNAMES = Alice!\n",
     ":12: [plugin p] SETUP_CLASS: CreateUsers: not valid user names: Alice!"),
    ("[plugin p]\nSETUP_CLASS = pkginstaller.PackageInstaller\nPACKAGES = vim;rm\n",
     ":12: [plugin p] SETUP_CLASS: PackageInstaller: not a package name: 'vim;rm'"),
])
def test_plugin_mistakes_name_file_and_line(tmp_path: Path, lines: str, expected: str) -> None:
    path = config_with(tmp_path, lines)
    assert f"{path}{expected}" in template_error(path)


def test_starcluster_names_map_to_ours_with_typed_settings(tmp_path: Path) -> None:
    path = config_with(tmp_path, """\
        [plugin p]
        SETUP_CLASS = starcluster.plugins.users.CreateUsers
        NUM_USERS = 2
        DOWNLOAD_KEYS = False
        """)
    spec = load_config(path).template("c").plugins[0]
    plugin = instantiate(spec.name, spec.setup_class, spec.settings)
    assert type(plugin).__module__ == "sclust.plugins.users"
    assert plugin.name == "p"
    assert plugin.usernames == ["user001", "user002"] and plugin.download_keys is False


def test_starcluster_sge_plugin_configures_sge_instead_of_running(tmp_path: Path) -> None:
    # Issue 13: `PLUGINS = sge` is StarCluster's SGE with its settings, not a plugin to run.
    path = config_with(tmp_path, "[plugin p]\nSETUP_CLASS = starcluster.plugins.sge.SGEPlugin\n")
    template = load_config(path).template("c")
    assert template.plugins == [] and template.disable_queue is False


def test_user_plugins_come_from_the_plugin_dir(tmp_path: Path) -> None:
    plugin_dir = Path(os.environ["SCLUST_HOME"]) / "plugins"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "mysite.py").write_text(textwrap.dedent("""\
        from sclust.plugins.base import ClusterSetup

        class Site(ClusterSetup):
            def __init__(self, ratio: float, tags: list[str] | None = None) -> None:
                super().__init__()
                self.ratio, self.tags = ratio, tags

            def run(self, nodes, master, user, user_shell, volumes):
                pass
        """))
    path = config_with(tmp_path, "[plugin p]\nSETUP_CLASS = mysite.Site\nRATIO = 0.5\n"
                                 "TAGS = a, b c\n")
    spec = load_config(path).template("c").plugins[0]
    plugin = instantiate(spec.name, spec.setup_class, spec.settings)
    assert (plugin.ratio, plugin.tags) == (0.5, ["a", "b", "c"])
    missing = config_with(tmp_path, "[plugin p]\nSETUP_CLASS = mysite.Site\n")
    assert f"{missing}:11: [plugin p] RATIO: required setting missing" in template_error(missing)


def test_user_plugins_written_for_the_old_import_still_load(tmp_path: Path) -> None:
    plugin_dir = Path(os.environ["SCLUST_HOME"]) / "plugins"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "oldsite.py").write_text(textwrap.dedent("""\
        from plugins.base import ClusterSetup

        class Site(ClusterSetup):
            def run(self, nodes, master, user, user_shell, volumes):
                pass
        """))
    path = config_with(tmp_path, "[plugin p]\nSETUP_CLASS = oldsite.Site\n")
    spec = load_config(path).template("c").plugins[0]
    plugin = instantiate(spec.name, spec.setup_class, spec.settings)
    assert isinstance(plugin, ClusterSetup)


def test_parse_value_kinds() -> None:
    assert parse_value("3", int) == 3
    assert parse_value("on", bool) is True
    assert parse_value("a,b", list[str]) == ["a", "b"]
    assert parse_value("x", str | None) == "x"
    with pytest.raises(ValueError):
        parse_value("1.5x", float)


def test_secret_settings_never_reach_tags_and_come_back_from_the_config() -> None:
    from sclust.cluster import ClusterManager
    from sclust.state import ClusterSettings

    spec = {"name": "vnc", "setup_class": "novnc.NoVNC",
            "settings": {"password": "s3cr3tpw", "port": "8443"}}
    settings = ClusterSettings(template="t", keyname="k", cluster_size=1, node_image_id="ami-1",
                               node_instance_type="t3.micro", master_image_id="ami-1",
                               master_instance_type="t3.micro", plugins=[spec])
    tags = settings.to_tags()
    assert "s3cr3tpw" not in "".join(tags.values())
    stored = ClusterSettings.from_tags(tags, "c").plugins[0]
    assert stored["settings"] == {"port": "8443"}
    manager = ClusterManager(None, None, plugin_config=lambda name: spec if name == "vnc" else None)  # type: ignore[arg-type]
    assert manager.with_secrets(stored)["settings"] == {"password": "s3cr3tpw", "port": "8443"}
    other = {**stored, "setup_class": "mysite.Other"}
    refused = manager.with_secrets(other)  # another class under that name: never imported
    assert refused["settings"] == other["settings"] and "is not imported" in refused["refused"]


def test_only_settings_a_plugin_declares_public_reach_tags() -> None:
    from sclust.state import ClusterSettings

    plugin_dir = Path(os.environ["SCLUST_HOME"]) / "plugins"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "licensed.py").write_text(textwrap.dedent("""\
        from sclust.plugins.base import ClusterSetup

        class Licensed(ClusterSetup):
            public_settings = ("mode", "db_pwd")
            def __init__(self, mode="a", api_key="", db_pwd="", license_key="", seats=1):
                super().__init__()
        """))
    spec = {"name": "lic", "setup_class": "licensed.Licensed",
            "settings": {"mode": "b", "api_key": "AK-123", "db_pwd": "pw-456",
                         "license_key": "LK-789", "seats": "4"}}
    starcluster_style = {"name": "sc", "setup_class": "nosuchmodule.Thing",
                         "settings": {"anything": "x"}}
    settings = ClusterSettings(template="t", keyname="k", cluster_size=1, node_image_id="ami-1",
                               node_instance_type="t3.micro", master_image_id="ami-1",
                               master_instance_type="t3.micro",
                               plugins=[spec, starcluster_style])
    text = "".join(settings.to_tags().values())
    for secret in ("AK-123", "pw-456", "LK-789"):
        assert secret not in text  # db_pwd is declared public but named like a secret
    stored = ClusterSettings.from_tags(settings.to_tags(), "c").plugins
    assert stored[0]["settings"] == {"mode": "b"}  # seats: not declared, so not kept
    assert stored[1]["settings"] == {}
