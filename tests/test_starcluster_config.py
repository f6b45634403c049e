"""StarCluster configs as StarCluster read them (issue 13 item 1): its config templates of every
version, the examples commented out in them, its own config test suite (ported), and each rule
where sclust follows StarCluster rather than refusing."""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from sclust.cli import main
from sclust.config import find_config, load_config
from sclust.errors import ConfigError
from sclust.ini import parse_ini_text

DATA = Path(__file__).parent / "data" / "starcluster"
TEMPLATES = sorted(DATA.glob("config-*.ini"))
TEST_CONFIG = DATA / "test-config.ini"


def version(path: Path) -> str:
    return path.stem.removeprefix("config-")


# ---- StarCluster's config templates ----------------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES, ids=version)
def test_starcluster_config_template_validates_untouched(template: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for name in ("mykey.rsa", "id_rsa-gsg-keypair"):  # the key files the templates name
        key = home / ".ssh" / name
        key.write_text("x")
        key.chmod(0o600)
    # Templates before 0.93 wrote an absolute /home/myuser/… path: the user's home here.
    copy = tmp_path / template.name
    copy.write_text(template.read_text().replace("/home/myuser", str(home)))
    template = copy
    config = load_config(template)
    assert config.problems == [] and config.notes == []
    built = config.template()
    assert built.name == "smallcluster" and built.cluster_size == 2
    # `AWS_ACCESS_KEY_ID = #your_aws_access_key_id`: an empty value, not the comment.
    assert config.aws.access_key_id is None and config.aws.secret_access_key is None
    result = CliRunner().invoke(main, ["-c", str(template), "validate"])
    assert result.exit_code == 0, result.output
    assert "OK (smallcluster)" in result.output


HEADER = re.compile(r"^#\s*\[([a-z]+ [^\]]+)\]\s*$")
COMMENTED_KEY = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*)$")


def uncomment_examples(text: str) -> tuple[str, int]:
    """The template with its commented-out example sections (`# [cluster x]` and the
    `# KEY = value` lines under it) made real; and how many sections that made."""
    out: list[str] = []
    inside = False
    count = 0
    for line in text.splitlines():
        header = HEADER.match(line)
        if header:
            inside, count = True, count + 1
            out.append(f"[{header.group(1)}]")
            continue
        key = COMMENTED_KEY.match(line) if inside else None
        if key:
            out.append(f"{key.group(1)} = {key.group(2)}")
            continue
        if not line.startswith("#") or not line.strip("# "):
            inside = False
        out.append(line)
    # The templates' placeholder for the user's address (a documentation address instead).
    return "\n".join(out).replace("<your_ip>", "203.0.113.7") + "\n", count


@pytest.mark.parametrize("template", TEMPLATES, ids=version)
def test_starcluster_template_examples_validate(template: Path, tmp_path: Path) -> None:
    text, examples = uncomment_examples(template.read_text())
    assert examples >= 8
    path = tmp_path / "config"
    path.write_text(text)
    config = load_config(path)
    assert config.problems == []
    # The templates show [volume oceandata] twice as alternatives: the later one wins, said.
    assert all("given again" in n or "set twice" in n for n in config.notes)
    names = config.leaf_templates()
    assert len(names) >= 2
    for name in names:
        config.template(name, check_key_file=False)


def test_untouched_template_sends_no_placeholder_credentials(tmp_path: Path) -> None:
    text = "[aws info]\nAWS_ACCESS_KEY_ID = #your_aws_access_key_id\nAWS_SECRET_ACCESS_KEY = ;x\n"
    path = tmp_path / "config"
    path.write_text(text)
    config = load_config(path)
    assert config.aws.access_key_id is None and config.aws.secret_access_key is None


# ---- StarCluster's tests/test_config.py, ported -----------------------------------------------


@pytest.fixture
def sc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME whose ~/.starcluster/plugins holds StarCluster's test plugin, unchanged."""
    home = tmp_path / "home"
    plugins = home / ".starcluster" / "plugins"
    plugins.mkdir(parents=True)
    shutil.copy(DATA / "plugins" / "mytestplugin.py", plugins)
    monkeypatch.setenv("HOME", str(home))
    return home


def custom_config(tmp_path: Path, **changes: str) -> Path:
    """StarCluster's `get_custom_config`: the test config with some values replaced."""
    text = TEST_CONFIG.read_text()
    for setting, value in changes.items():
        section, _, key = setting.partition("_")
        text, replaced = replace_value(text, section, key, value)
        assert replaced, setting
    path = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}"
    path.write_text(text)
    return path


SECTION_OF = {"c": "cluster", "v": "volume", "p": "plugin", "s": "permission", "k": "key"}
KEY_OF = {"size": "CLUSTER_SIZE", "shell": "CLUSTER_SHELL", "node_type": "NODE_INSTANCE_TYPE",
          "extends": "EXTENDS", "partition": "PARTITION", "device": "DEVICE",
          "experimental": "ENABLE_EXPERIMENTAL", "vols": "VOLUMES"}


def replace_value(text: str, short: str, key: str, value: str) -> tuple[str, bool]:
    if short == "enable":
        pattern = re.compile(r"^(ENABLE_EXPERIMENTAL\s*=).*$", re.M)
        return pattern.subn(rf"\g<1>{value}", text, count=1)[0], True
    section = f"[{SECTION_OF[short[0]]} {short}]"
    start = text.index(section)
    end = text.find("\n[", start + 1)
    end = len(text) if end < 0 else end
    body = text[start:end]
    name = KEY_OF[key]
    pattern = re.compile(rf"^({name}\s*=).*$", re.M | re.I)
    if pattern.search(body):
        body = pattern.sub(lambda m: f"{m.group(1)} {value}", body, count=1)
    else:
        body = body.rstrip("\n") + f"\n{name} = {value}\n"
    return text[:start] + body + text[end:], True


def test_sc_valid_config_template(sc_home: Path) -> None:
    config = load_config(TEST_CONFIG)
    assert config.template_names == ["c1", "c2", "c3", "c4"]


def test_sc_config_dne(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nosuch")


def test_sc_get_cluster(sc_home: Path) -> None:
    with pytest.raises(ConfigError, match="no \\[cluster no_such_cluster\\]"):
        load_config(TEST_CONFIG).template("no_such_cluster", check_key_file=False)


@pytest.mark.parametrize("change", [{"c1_size": "-s"}, {"c1_size": "2.5"},
                                    {"v1_partition": "asdf"}, {"v1_partition": "0.33"}])
def test_sc_int_required(sc_home: Path, tmp_path: Path, change: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="is not an integer"):
        load_config(custom_config(tmp_path, **change)).template("c1", check_key_file=False)


def test_sc_bool_required(sc_home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENABLE_EXPERIMENTAL: '2' is not a boolean"):
        load_config(custom_config(tmp_path, enable_experimental="2"))


@pytest.mark.parametrize("key", ["KEYNAME", "CLUSTER_SIZE", "NODE_IMAGE_ID",
                                 "NODE_INSTANCE_TYPE"])
def test_sc_missing_required(sc_home: Path, tmp_path: Path, key: str) -> None:
    text = TEST_CONFIG.read_text()
    start = text.index("[cluster c1]")
    end = text.index("[cluster c2]")
    body = re.sub(rf"^{key} = .*\n", "", text[start:end], flags=re.M)
    path = tmp_path / "config"
    path.write_text(text[:start] + body + text[end:])
    with pytest.raises(ConfigError, match=f"{key}: required key missing"):
        load_config(path).template("c1", check_key_file=False)


def test_sc_volumes(sc_home: Path) -> None:
    volumes = {v.name: v for v in load_config(TEST_CONFIG).template("c1", False).volumes}
    assert list(volumes) == ["v1", "v2", "v3"]
    for name, (vid, device, path) in {"v1": ("vol-c999999", "/dev/sdj", "/volume1"),
                                      "v2": ("vol-c888888", "/dev/sdk", "/volume2"),
                                      "v3": ("vol-c777777", "/dev/sdl", "/volume3")}.items():
        volume = volumes[name]
        # StarCluster's test read PARTITION back as a device path; 0.95 stores the number.
        assert (volume.volume_id, volume.device, volume.partition, volume.mount_path) == \
            (vid, device, 1, path)


def test_sc_volume_not_defined(sc_home: Path, tmp_path: Path) -> None:
    path = custom_config(tmp_path, c1_vols="v1,v2,v2323")
    with pytest.raises(ConfigError, match="no \\[volume v2323\\]"):
        load_config(path).template("c1", check_key_file=False)


def test_sc_clusters(sc_home: Path) -> None:
    assert {"c1", "c2", "c3"} <= set(load_config(TEST_CONFIG).template_names)


def test_sc_extends(sc_home: Path) -> None:
    config = load_config(TEST_CONFIG)
    c1, c2, c3 = (config.template(n, check_key_file=False) for n in ("c1", "c2", "c3"))
    assert (c1.key.name, c2.key.name, c3.key.name) == ("k1", "k2", "k3")
    assert (c1.cluster_size, c2.cluster_size, c3.cluster_size) == (4, 6, 8)
    assert c2.cluster_user == c1.cluster_user == c3.cluster_user == "testuser"
    assert c2.cluster_shell == c1.cluster_shell == "zsh"
    assert (c1.master_instance_type, c2.master_instance_type, c3.master_instance_type) == \
        ("m1.small", "c1.xlarge", "c1.xlarge")
    assert [v.name for v in c2.volumes] == ["v1", "v2"]
    assert [v.name for v in c3.volumes] == ["v3"]
    assert c2.availability_zone == c3.availability_zone == "us-east-1c"
    assert [p.name for p in c3.plugins] == ["p1", "p2", "p3"]
    c4 = config.template("c4", check_key_file=False)
    assert [p.name for p in c4.permissions] == ["s1"] and c4.permissions[0].protocol == "udp"


def test_sc_order_invariance(sc_home: Path, tmp_path: Path) -> None:
    text = TEST_CONFIG.read_text()
    head, *clusters = re.split(r"(?=^\[cluster )", text, flags=re.M)
    config = load_config(TEST_CONFIG)
    expected = {n: config.template(n, check_key_file=False) for n in ("c1", "c2", "c3", "c4")}
    path = tmp_path / "reversed"
    path.write_text(head + "\n".join(c.strip() + "\n" for c in reversed(clusters)))
    other = load_config(path)
    for name, template in expected.items():
        assert other.template(name, check_key_file=False) == template


def test_sc_plugins(sc_home: Path) -> None:
    plugins = load_config(TEST_CONFIG).template("c1", check_key_file=False).plugins
    assert [(p.name, p.setup_class) for p in plugins] == [
        ("p1", "mytestplugin.SetupClass"), ("p2", "mytestplugin.SetupClass2"),
        ("p3", "mytestplugin.SetupClass3")]
    from sclust.plugins.registry import instantiate

    p1, p2, p3 = (instantiate(p.name, p.setup_class, p.settings) for p in plugins)
    assert (p1.my_arg, p1.my_other_arg) == ("23", "skidoo")  # strings, as StarCluster passed
    assert (p2.my_arg, p2.my_other_arg) == ("hello", "world")
    assert (p3.my_arg, p3.my_other_arg, p3.my_other_other_arg) == ("bon", "jour", "monsignour")


def test_sc_plugin_not_defined(sc_home: Path, tmp_path: Path) -> None:
    text = TEST_CONFIG.read_text().replace("PLUGINS = p1,p2,p3", "PLUGINS = p1,p2,p3,p4")
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(ConfigError, match="no \\[plugin p4\\]"):
        load_config(path).template("c1", check_key_file=False)


def test_sc_keypairs(sc_home: Path) -> None:
    config = load_config(TEST_CONFIG)
    assert config.key_pair("k1").location == sc_home / ".path" / "to" / "k1_rsa"
    assert str(config.key_pair("k2").location) == "/path/to/k2_rsa"
    assert str(config.key_pair("k3").location) == "/path/to/k3_rsa"


def test_sc_keypair_not_defined(sc_home: Path, tmp_path: Path) -> None:
    text = TEST_CONFIG.read_text().replace("KEYNAME = k1", "KEYNAME = k2323", 1)
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(ConfigError, match="no \\[key k2323\\]"):
        load_config(path).template("c1", check_key_file=False)


def test_sc_invalid_config(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("<html>random garbage file with no section headings</html>\n")
    with pytest.raises(ConfigError, match=":1: "):
        load_config(path)


def test_sc_empty_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # StarCluster read credentials from the environment; sclust leaves them to boto3's chain.
    path = tmp_path / "config"
    path.write_text("")
    config = load_config(path)
    assert config.aws.access_key_id is None and config.template_names == []


@pytest.mark.parametrize("changes", [{"c2_extends": "c3", "c3_extends": "c2"},
                                     {"c2_extends": "c3", "c3_extends": "c4",
                                      "c4_extends": "c2"}])
def test_sc_cyclical_extends(sc_home: Path, tmp_path: Path, changes: dict[str, str]) -> None:
    config = load_config(custom_config(tmp_path, **changes))
    with pytest.raises(ConfigError, match="EXTENDS cycle"):
        config.template("c2", check_key_file=False)


def test_sc_choices(sc_home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CLUSTER_SHELL"):
        load_config(custom_config(tmp_path, c1_shell="blahblah")).template("c1", False)


@pytest.mark.parametrize("value", [
    "c1.xlarge:3",  # a count on the lone (default) entry: refused, as StarCluster did
    "c1.xlarge:ami-asdffdas:3",
    "c1.xlarge:asdf:asdf:asdf,m1.small",
    "c1.asdf_:4, m1.small",
    "c1.xlarge: 0, m1.small",
    "c1.xlarge:-1, m1.small",
])
def test_sc_multiple_instance_types_invalid(sc_home: Path, tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="NODE_INSTANCE_TYPE"):
        load_config(custom_config(tmp_path, c1_node_type=value)).template("c1", False)


@pytest.mark.parametrize("value", [
    "c1.xlarge:3, m1.small",
    "c1.xlarge:ami-asdfasdf:3, m1.small",
    "c1.xlarge:ami-asdfasdf:3, m1.large, m1.small",
    "m1.large, c1.xlarge:ami-asdfasdf:3, m1.large, m1.small",
    "c1.xlarge:ami-asdfasdf:2, m1.large:2, m1.small",
    # StarCluster refused a lone `type:ami` (and any type missing from its table, such as
    # `c1.asdf`); sclust takes both: the AMI is the nodes', EC2 knows its own types.
    "c1.xlarge:ami-asdffdas",
])
def test_sc_multiple_instance_types_valid(sc_home: Path, tmp_path: Path, value: str) -> None:
    load_config(custom_config(tmp_path, c1_node_type=value)).template("c1", False)


def test_sc_inline_comments(sc_home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NODE_INSTANCE_TYPE"):
        load_config(custom_config(tmp_path, c1_node_type="c1.xlarge:3, m1.small# some comment"
                                  )).template("c1", False)
    path = custom_config(tmp_path, c1_node_type="c1.xlarge:3, m1.small # some #comment ")
    assert load_config(path).template("c1", False).node_instance_type == "m1.small"


# ---- each rule of item 1 -----------------------------------------------------------------------

BASE = """\
[global]
DEFAULT_TEMPLATE = small

[key mykey]
KEY_LOCATION = {key}

[cluster small]
KEYNAME = mykey
CLUSTER_SIZE = 2
NODE_IMAGE_ID = ami-12345678
NODE_INSTANCE_TYPE = t3.medium
"""


def write(tmp_path: Path, key_file: Path, extra: str, name: str = "config") -> Path:
    path = tmp_path / name
    path.write_text(BASE.format(key=key_file) + textwrap.dedent(extra))
    return path


def test_starcluster_config_env_comes_after_sclust_config(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCLUST_CONFIG", raising=False)
    monkeypatch.setenv("STARCLUSTER_CONFIG", str(tmp_path / "sc"))
    assert find_config(None) == tmp_path / "sc"
    monkeypatch.setenv("SCLUST_CONFIG", str(tmp_path / "mine"))
    assert find_config(None) == tmp_path / "mine"
    assert find_config(str(tmp_path / "explicit")) == tmp_path / "explicit"


def test_vol_section_and_protocol_key_are_starcluster_spellings(tmp_path: Path,
                                                                key_file: Path) -> None:
    path = write(tmp_path, key_file, """\
        VOLUMES = data
        PERMISSIONS = web

        [vol data]
        VOLUME_ID = vol-1234abcd
        MOUNT_PATH = /data

        [permission web]
        PROTOCOL = udp
        FROM_PORT = 53
        TO_PORT = 53
        """)
    template = load_config(path).template()
    assert [v.mount_path for v in template.volumes] == ["/data"]
    assert template.permissions[0].protocol == "udp"


def test_a_key_given_twice_last_wins_with_a_warning_naming_both_lines(tmp_path: Path,
                                                                      key_file: Path) -> None:
    path = write(tmp_path, key_file, "CLUSTER_SIZE = 5\n")
    config = load_config(path)
    assert config.template().cluster_size == 5
    assert config.notes == [f"{path}:12: [cluster small] CLUSTER_SIZE set twice (first at "
                            f"{path}:9): {path}:12 wins"]


def test_a_section_given_twice_merges_last_wins_with_a_warning(tmp_path: Path,
                                                               key_file: Path) -> None:
    path = write(tmp_path, key_file, "\n[cluster small]\nCLUSTER_SIZE = 3\nSPOT_BID = 0.5\n")
    config = load_config(path)
    template = config.template()
    assert (template.cluster_size, template.spot_bid, template.node_instance_type) == \
        (3, 0.5, "t3.medium")
    assert f"{path}:13: [cluster small] given again (first at {path}:7)" in config.notes[0]
    assert f"{path}:14: [cluster small] CLUSTER_SIZE set twice (first at {path}:9)" in \
        config.notes[1]
    result = CliRunner().invoke(main, ["-c", str(path), "validate"])
    assert result.exit_code == 0 and "set twice" in result.output


def test_comment_as_value_is_empty_and_empty_is_unset(tmp_path: Path, key_file: Path) -> None:
    path = write(tmp_path, key_file, "SPOT_BID = #0.50\nCLUSTER_USER =\n")
    template = load_config(path).template()
    assert template.spot_bid is None and template.cluster_user == "sgeadmin"
    sections = parse_ini_text("[global]\nDEFAULT_TEMPLATE = a#b\nINCLUDE = ; nothing\n", "f")
    assert [(k.name, k.value) for k in sections[0].keys.values()] == [("DEFAULT_TEMPLATE", "a#b")]


def broken_other_template(tmp_path: Path, key_file: Path) -> Path:
    return write(tmp_path, key_file, """\

        [cluster other]
        KEYNAME = mykey
        CLUSTER_SIZE = two
        NODE_IMAGE_ID = ami-12345678
        NODE_INSTANCE_TYPE = t3.medium
        MYSTERY = 1
        this line is no key

        [permision web]
        FROM_PORT = 80
        """)


def test_a_mistake_in_an_unused_section_is_a_warning_for_that_command(
        tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = broken_other_template(tmp_path, key_file)
    config = load_config(path)  # no longer an error for every command
    assert config.template().name == "small"
    with pytest.raises(ConfigError) as caught:
        config.template("other")
    assert f"{path}:15: [cluster other] CLUSTER_SIZE: 'two' is not an integer" in str(caught.value)
    assert f"{path}:19 in [cluster other]: expected 'KEY = value'" in str(caught.value)
    # validate reports every one of them as an error.
    result = CliRunner().invoke(main, ["-c", str(path), "validate"])
    assert result.exit_code == 1
    assert f"{path}:18: [cluster other] MYSTERY: unknown key" in result.output
    assert f"{path}:21: unknown section [permision web]" in result.output
    # `sclust validate small` checks that template only.
    result = CliRunner().invoke(main, ["-c", str(path), "validate", "small"])
    assert result.exit_code == 0, result.output


def test_listclusters_works_beside_a_broken_template(tmp_path: Path, key_file: Path,
                                                     moto_server: str) -> None:
    from tests.conftest import run_sclust

    path = broken_other_template(tmp_path, key_file)
    result = run_sclust("-c", str(path), "listclusters", env={"AWS_ENDPOINT_URL": moto_server})
    assert result.returncode == 0, result.stderr
    assert "sclust: warning: " in result.stderr and "'two' is not an integer" in result.stderr
    assert "sclust validate" in result.stderr


def test_sge_plugin_recipe_configures_sge_with_its_settings(tmp_path: Path,
                                                            key_file: Path) -> None:
    path = write(tmp_path, key_file, """\
        DISABLE_QUEUE = True
        PLUGINS = sge

        [plugin sge]
        SETUP_CLASS = starcluster.plugins.sge.SGEPlugin
        MASTER_IS_EXEC_HOST = False
        SLOTS_PER_HOST = 2
        """)
    template = load_config(path).template()
    assert template.disable_queue is False
    assert (template.master_is_exec_host, template.slots_per_host) == (False, 2)
    assert template.plugins == []
    bad = write(tmp_path, key_file, """\
        PLUGINS = sge

        [plugin sge]
        SETUP_CLASS = starcluster.plugins.sge.SGEPlugin
        SLOTS_PER_HOTS = 2
        """, name="bad")
    with pytest.raises(ConfigError, match=f"{bad}:16: \\[plugin sge\\] SLOTS_PER_HOTS: "
                                          "StarCluster's SGE plugin takes no setting"):
        load_config(bad).template()
    alone = write(tmp_path, key_file, "DISABLE_QUEUE = True\n", name="alone")
    assert load_config(alone).template().disable_queue is True  # no SGE, as asked


VOLUMES = """\
    VOLUMES = {volumes}

    [volume a]
    VOLUME_ID = vol-aaaa1111
    MOUNT_PATH = /a
    {a}

    [volume b]
    VOLUME_ID = {b_id}
    MOUNT_PATH = /b
    {b}
    """


@pytest.mark.parametrize("a, b, b_id, message", [
    ("DEVICE = /dev/sda", "", "vol-bbbb2222", "/dev/sda is kept for the root"),
    ("DEVICE = /dev/hdz", "", "vol-bbbb2222", "'/dev/hdz' is not a device name"),
    ("PARTITION = 1", "PARTITION = 1", "vol-aaaa1111", "both mount vol-aaaa1111 partition 1"),
    ("", "", "vol-aaaa1111", "both mount vol-aaaa1111: pick one"),
    ("DEVICE = /dev/sdf\nPARTITION = 1", "DEVICE = /dev/sdg\nPARTITION = 2", "vol-aaaa1111",
     "attaches vol-aaaa1111 at /dev/sdg, [volume a] at /dev/sdf"),
    ("DEVICE = /dev/sdf", "DEVICE = /dev/sdf", "vol-bbbb2222", "both attach at /dev/sdf"),
])
def test_starcluster_volume_checks(tmp_path: Path, key_file: Path, a: str, b: str, b_id: str,
                                   message: str) -> None:
    text = textwrap.dedent(VOLUMES).format(volumes="a, b", a=a, b=b, b_id=b_id)
    path = write(tmp_path, key_file, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path).template()
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:")


def test_one_volume_in_two_partitions_is_fine(tmp_path: Path, key_file: Path) -> None:
    text = textwrap.dedent(VOLUMES).format(volumes="a, b", a="PARTITION = 1", b="PARTITION = 2",
                                           b_id="vol-aaaa1111")
    assert len(load_config(write(tmp_path, key_file, text)).template().volumes) == 2


def test_no_region_anywhere_is_us_east_1_said_once(monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture,
                                                   tmp_path: Path) -> None:
    from sclust import aws, ec2
    from sclust.config import AwsSettings

    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setattr(aws, "_region_defaulted", [])
    first = ec2.EC2(AwsSettings(access_key_id="a", secret_access_key="b"))
    second = ec2.EC2(AwsSettings(access_key_id="a", secret_access_key="b"))
    assert first.region == second.region == "us-east-1"
    said = [r for r in caplog.records if "using us-east-1, as StarCluster did" in r.getMessage()]
    assert len(said) == 1
    assert ec2.EC2(AwsSettings(region="eu-west-1")).region == "eu-west-1"
    assert os.environ.get("AWS_DEFAULT_REGION") is None


# ---- StarCluster's documentation: every INI example of its manual ----------------------------

SNIPPETS = __import__("json").loads((DATA / "doc-snippets.json").read_text())["snippets"]
# Examples that do not validate, each for a reason a user would want to hear.
EXPECTED_ERRORS = {
    # The manual sets aws_region_name twice (it meant aws_region_host): the last one wins, as in
    # StarCluster, and a host name is not a region.
    "manual/configuration.rst#3": "AWS_REGION_NAME: 'ec2.us-west-1.amazonaws.com' is not a region",
    # Illustrations naming what the manual never defines: a volume and a user plugin module.
    "manual/configuration.rst#9": "VOLUMES: no [volume biodata2]",
    "manual/configuration.rst#14": "myplug1.SetupClass: no module myplug1",
    "manual/configuration.rst#15": "VOLUMES: no [volume biodata2]",
    "manual/configuration.rst#20": "sclust reads local files only",
    "manual/plugins.rst#3": "PLUGINS: no [plugin myplugin]",
    # StarCluster plugins with no sclust equivalent, each saying why.
    "plugins/boto.rst#1": "no sclust equivalent: boto 2",
    "plugins/boto.rst#2": "no sclust equivalent: boto 2",
    "plugins/condor.rst#1": "no sclust equivalent: HTCondor",
    "plugins/hadoop.rst#1": "no sclust equivalent: Hadoop 1.x",
    "plugins/ipython.rst#1": "no sclust equivalent: IPython.parallel",
    "plugins/ipython.rst#2": "no sclust equivalent: IPython.parallel",
    "plugins/ipython.rst#4": "no sclust equivalent: IPython.parallel",
    "plugins/mysqlcluster.rst#1": "no sclust equivalent: MySQL Cluster",
    "plugins/pypkginstaller.rst#3": "no sclust equivalent: IPython.parallel",
}
# Examples whose mistake stops every command ([aws info], [global]): not context for the next.
FATAL = {"manual/configuration.rst#3", "manual/configuration.rst#20"}
DEFAULTS = ("[cluster {name}]\nKEYNAME = k\nCLUSTER_SIZE = 2\nNODE_IMAGE_ID = ami-12345678\n"
            "NODE_INSTANCE_TYPE = t3.micro\n")


def snippet_problems(snippet_id: str, tmp_path: Path) -> list[str]:
    """The snippet's problems, validated as a manual reader would use it: after the page's
    earlier examples (it refers to their sections), its templates completed with the required
    keys it leaves out (`....` in the manual), the key pairs it names defined; only problems on
    the snippet's own lines count, and every [plugin] is checked, used or not."""
    from sclust.config import plugin_from

    page = snippet_id.split("#")[0]
    earlier = []
    for other in SNIPPETS:
        if other["id"] == snippet_id:
            break
        if other["id"].startswith(page + "#") and other["id"] not in FATAL:
            earlier.append(other["text"])
    body = next(s["text"] for s in SNIPPETS if s["id"] == snippet_id)
    body, context = (re.sub(r"(?m)^\s*\.{3,}\s*$\n?", "", text)  # the manual's `....`
                     for text in (body, "".join(earlier)))
    sections = parse_ini_text(context + body, "snippet")
    key = tmp_path / "k.rsa"
    head = [f"[key {name}]\nKEY_LOCATION = {key}\n" for name in
            sorted({"k"} | set(re.findall(r"(?im)^KEYNAME\s*=\s*(\S+)", context + body)))]
    head += [DEFAULTS.format(name=s.name) for s in sections if s.kind == "cluster" and s.name]
    first_line = len("".join(head + [context]).splitlines()) + 1
    path = tmp_path / "config"
    path.write_text("".join(head) + context + body)
    problems: list[str] = []
    try:
        config = load_config(path)
    except ConfigError as error:  # [global] or [aws info]: the whole file stops here
        return str(error).splitlines()
    else:
        problems += config.problems
        for section in config.named("plugin").values():
            plugin_from(section, problems)
        for name in config.template_names:
            try:
                config.template(name, check_key_file=False)
            except ConfigError as error:
                problems += str(error).splitlines()
    own = []
    for line in problems:
        found = re.match(rf"{re.escape(str(path))}:(\d+)", line)
        if found and int(found.group(1)) >= first_line and line not in own:
            own.append(line)
    return own


@pytest.mark.parametrize("snippet_id", [s["id"] for s in SNIPPETS])
def test_starcluster_manual_examples_validate(snippet_id: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    plugins = home / ".starcluster" / "plugins"
    plugins.mkdir(parents=True)
    for name in ("awskeys", "keys", "vols", "clusters"):  # files its INCLUDE examples name
        (home / ".starcluster" / name).write_text("")
    # The manual's own example plugin (manual/plugins.rst), unchanged, as ~/.starcluster/plugins/
    # ubuntu.py, which is where the manual says it lives.
    shutil.copy(DATA / "plugins" / "ubuntu.py", plugins)
    monkeypatch.setenv("HOME", str(home))
    problems = snippet_problems(snippet_id, tmp_path)
    expected = EXPECTED_ERRORS.get(snippet_id)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in line for line in problems), problems


def test_the_manual_examples_counted() -> None:
    # 66 examples: 51 validate; 15 are refused, each for a reason named above.
    assert len(SNIPPETS) == 66 and len(EXPECTED_ERRORS) == 15


def test_validate_names_every_plugin_without_equivalent_used_or_not(tmp_path: Path,
                                                                     key_file: Path) -> None:
    path = write(tmp_path, key_file, """\

        [plugin hadoop]
        SETUP_CLASS = starcluster.plugins.hadoop.Hadoop
        """)
    status, output = invoke_validate(path)
    assert status == 1
    assert f"{path}:14: [plugin hadoop] SETUP_CLASS: starcluster.plugins.hadoop.Hadoop is a " \
           "StarCluster plugin with no sclust equivalent: Hadoop 1.x" in output
    assert load_config(path).template().name == "small"  # start of another template is fine


def invoke_validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["-c", str(path), "validate"])
    return result.exit_code, result.output


def test_stop_and_terminate_work_beside_a_broken_template(moto_server: str, config_file: Path,
                                                          key_file: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    from tests.conftest import run_sclust

    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    cfg = ["-c", str(config_file)]
    assert run_sclust(*cfg, "createkey", "mykey", "-i", str(key_file)).returncode == 0
    result = run_sclust(*cfg, "start", "demo", "--create-only")
    assert result.returncode == 0, result.stderr
    # Someone starts writing another template, with mistakes, while demo runs.
    with config_file.open("a") as config:
        config.write("\n[cluster draft]\nKEYNAME = mykey\nCLUSTER_SIZE = 2x\n[vol data]\n")
    for command in (["stop", "demo", "--yes"], ["terminate", "demo", "-c"]):
        result = run_sclust(*cfg, *command)
        assert result.returncode == 0, result.stderr
        assert "CLUSTER_SIZE: '2x' is not an integer" in result.stderr
        assert "sclust: warning:" in result.stderr
    assert run_sclust(*cfg, "validate").returncode == 1


def test_a_plugin_section_with_a_mistake_is_not_run(tmp_path: Path, key_file: Path) -> None:
    from sclust.context import AppContext

    path = write(tmp_path, key_file, "\n[plugin p]\nSETUP_CLASS = pkginstaller.PackageInstaller"
                                     "\nPACKAGES = htop\nthis is no key\n")
    app = AppContext(config_path=str(path))
    assert app.plugin_spec("p") is None
    with pytest.raises(SystemExit):
        app.plugin_spec("p", strict=True)


def test_sge_plugin_settings_reach_the_queue(tmp_path: Path, key_file: Path) -> None:
    """The recipe's settings survive the cluster's tags and shape Grid Engine's queue: the
    master is no exec host and each node has SLOTS_PER_HOST slots (real Configurator, runs
    captured instead of sent)."""
    from sclust.state import ClusterSettings
    from tests.test_cluster_scripts import capture, node

    path = write(tmp_path, key_file, """\
        DISABLE_QUEUE = True
        PLUGINS = sge

        [plugin sge]
        SETUP_CLASS = starcluster.plugins.sge.SGEPlugin
        MASTER_IS_EXEC_HOST = False
        SLOTS_PER_HOST = 3
        """)
    settings = ClusterSettings.from_template(load_config(path).template())
    settings = ClusterSettings.from_tags(settings.to_tags(), "demo")
    assert (settings.disable_queue, settings.master_is_exec_host, settings.slots_per_host) == \
        (False, False, 3)
    run = capture([node("master", 0), node("node001", 1)], settings)
    run.setup()
    assert [alias for alias, r in run.sent if "sge_host" in r.inputs] == ["node001"]
    (queue,) = [r for _, r in run.sent if "sge_queue" in r.inputs]
    assert "[node001=3]" in queue.inputs["sge_queue"]
