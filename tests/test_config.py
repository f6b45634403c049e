"""Reading StarCluster configs: lookup order, EXTENDS, INCLUDE, lists, and no % surprises."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from sclust.config import find_config, load_config
from sclust.errors import ConfigError
from tests.conftest import REPO, cluster_config, run_sclust, write_key


def test_scipion_guide_config_validates_once_its_placeholders_are_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write_key(tmp_path / "scipion-key.rsa")
    config = tmp_path / "config"
    shutil.copy(REPO / "configs" / "scipion.ini", config)
    result = run_sclust("-c", str(config), "validate", env={"HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "OK (scipioncluster)" in result.stdout
    loaded = load_config(config)
    template = loaded.template()
    assert template.name == "scipioncluster"
    assert template.dns_prefix is True
    assert [p.name for p in template.permissions] == ["http", "https"]
    assert template.master_instance_type == "t2.medium"
    assert loaded.aws.region == "eu-west-1"
    assert loaded.aws.endpoint_url is None  # an amazonaws.com host is just the region's


def test_extends_chain_merges_with_child_winning(tmp_path: Path, key_file: Path) -> None:
    config = cluster_config(tmp_path, key_file, extra="""
        [cluster medium]
        EXTENDS = small
        CLUSTER_SIZE = 5
        NODE_INSTANCE_TYPE = m5.large

        [cluster large]
        EXTENDS = medium
        SPOT_BID = 0.25
        """)
    template = load_config(config).template("large")
    assert template.cluster_size == 5
    assert template.node_instance_type == "m5.large"
    assert template.node_image_id == "ami-12345678"
    assert template.spot_bid == 0.25
    assert [p.name for p in template.permissions] == ["http"]


def test_include_reads_more_files_relative_to_the_including_one(
    tmp_path: Path, key_file: Path
) -> None:
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "vols.ini").write_text(textwrap.dedent("""\
        [volume data]
        VOLUME_ID = vol-0123456789abcdef0
        MOUNT_PATH = /data/
        """))
    config = cluster_config(tmp_path, key_file, extra="""
        [cluster withdata]
        EXTENDS = small
        VOLUMES = data
        """)
    config.write_text(config.read_text().replace("[global]", "[global]\nINCLUDE = extra/vols.ini"))
    template = load_config(config).template("withdata")
    assert template.volumes[0].volume_id == "vol-0123456789abcdef0"
    assert template.volumes[0].mount_path == "/data"


def test_percent_signs_and_inline_comments(tmp_path: Path, key_file: Path) -> None:
    plugins = tmp_path / "sclust-home" / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "labels.py").write_text(
        "from sclust.plugins.base import ClusterSetup\n\n\n"
        "class Label(ClusterSetup):\n"
        "    def __init__(self, label: str, raw: str) -> None:\n"
        "        super().__init__()\n")
    config = cluster_config(tmp_path, key_file, extra="""
        [plugin pkgs]
        SETUP_CLASS = labels.Label
        LABEL = 100%done # a comment
        RAW = a#b
        """)
    config.write_text(config.read_text().replace("PERMISSIONS = http", "PERMISSIONS = http\n"
                                                 "PLUGINS = pkgs"))
    plugin = load_config(config).template().plugins[0]
    assert plugin.settings == {"label": "100%done", "raw": "a#b"}


def test_keys_are_case_insensitive_and_lists_are_typed(tmp_path: Path, key_file: Path) -> None:
    config = cluster_config(tmp_path, key_file, extra="""
        [cluster mixed]
        extends = small
        node_instance_type = c5.xlarge:ami-aaaa1111:2, m5.large:3, t3.small
        """)
    template = load_config(config).template("mixed")
    assert [(t.instance_type, t.image_id, t.count) for t in template.node_types] == [
        ("c5.xlarge", "ami-aaaa1111", 2), ("m5.large", None, 3), ("t3.small", None, None)]
    assert template.node_instance_type == "t3.small"
    assert template.master_instance_type == "t3.small"


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SCLUST_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="no config file found"):
        find_config(None)
    starcluster = tmp_path / ".starcluster" / "config"
    starcluster.parent.mkdir()
    starcluster.write_text("[global]\n")
    assert find_config(None) == starcluster
    ours = tmp_path / ".sclust" / "config"
    ours.parent.mkdir()
    ours.write_text("[global]\n")
    assert find_config(None) == ours
    monkeypatch.setenv("SCLUST_CONFIG", str(tmp_path / "env"))
    assert find_config(None) == tmp_path / "env"
    assert find_config(str(tmp_path / "explicit")) == tmp_path / "explicit"


def test_region_host_of_another_cloud_becomes_the_endpoint(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(textwrap.dedent("""\
        [aws info]
        AWS_REGION_NAME = RegionOne
        AWS_REGION_HOST = cloud.example.org
        AWS_PORT = 8773
        AWS_IS_SECURE = False
        """))
    aws = load_config(config).aws
    assert aws.endpoint_url == "http://cloud.example.org:8773"
    assert aws.region == "RegionOne"


def test_local_demo_config_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".sclust" / "keys").mkdir(parents=True)
    write_key(tmp_path / ".sclust" / "keys" / "demo.pem")
    config = load_config(REPO / "configs" / "local.ini")
    assert config.cloud == "local"
    assert config.template("demo").cluster_size == 3
    assert config.template("big").cluster_size == 11
