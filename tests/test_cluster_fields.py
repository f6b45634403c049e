"""Each [cluster] key is declared once: the same table parses it, checks it, puts it in the
template and keeps it in the cluster's settings tags."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from sclust.config import ClusterTemplate, load_config
from sclust.errors import ConfigError
from sclust.schema import CLUSTER_KEYS, STRUCTURED_CLUSTER_KEYS, ClusterOptions
from sclust.state import ClusterSettings
from tests.conftest import cluster_config

# A value other than the default for each plain option, as a user would write it.
NON_DEFAULTS = {
    "MASTER_IMAGE_ID": ("ami-87654321", "ami-87654321"),
    "MASTER_INSTANCE_TYPE": ("m5.large", "m5.large"),
    "CLUSTER_USER": ("alice", "alice"),
    "CLUSTER_SHELL": ("zsh", "zsh"),
    "SPOT_BID": ("0.25", 0.25),
    "FORCE_SPOT_MASTER": ("True", True),
    "SUBNET_ID": ("subnet-1234", "subnet-1234"),
    "PUBLIC_IPS": ("False", False),
    "USERDATA_SCRIPTS": ("", []),
    "DISABLE_QUEUE": ("True", True),
    "DISABLE_CLOUDINIT": ("True", True),
    "DNS_PREFIX": ("True", True),
    "LOGIN_USER": ("ubuntu", "ubuntu"),
    "SLOTS_PER_HOST": ("4", 4),
    "MASTER_IS_EXEC_HOST": ("False", False),
    "FALLBACK_INSTANCE_TYPES": ("c5.large, m5.xlarge", ["c5.large", "m5.xlarge"]),
    "ROOT_VOLUME_SIZE": ("40", 40),
    "SSH_CIDR": ("10.0.0.0/8", "10.0.0.0/8"),
    "SCHEDULER": ("sge", "sge"),
    "LOADBALANCE": ("on-master", "on-master"),
    "LOADBALANCE_MAX_NODES": ("8", 8),
    "LOADBALANCE_MIN_NODES": ("2", 2),
    "LOADBALANCE_INTERVAL": ("15", 15),
    "LOADBALANCE_IDLE_TIMEOUT": ("300", 300),
    "LOADBALANCE_WAIT_TARGET": ("900", 900),
    "BUDGET": ("250.5", 250.5),
    "EFS": ("fs-0123abcd:/home", ["fs-0123abcd:/home"]),
    "IAM_PROFILE": ("lab-reader", "lab-reader"),
}


def test_the_key_table_is_the_option_fields_plus_the_structured_keys() -> None:
    option_keys = {f.metadata["key"] for f in fields(ClusterOptions)}
    assert set(CLUSTER_KEYS) == option_keys | set(STRUCTURED_CLUSTER_KEYS)
    assert not option_keys & set(STRUCTURED_CLUSTER_KEYS)
    for cls in (ClusterTemplate, ClusterSettings):
        assert {f.name for f in fields(ClusterOptions)} <= {f.name for f in fields(cls)}


def test_every_option_goes_from_the_ini_to_the_tags_and_back(tmp_path: Path,
                                                            key_file: Path) -> None:
    covered = {f.metadata["key"] for f in fields(ClusterOptions)} - {"CLUSTER_SIZE",
                                                                    "NODE_IMAGE_ID"}
    assert covered == set(NON_DEFAULTS), "give each new option a non-default value here"
    lines = "".join(f"{key} = {text}\n" for key, (text, _) in NON_DEFAULTS.items())
    path = cluster_config(tmp_path, key_file, size=3)
    path.write_text(path.read_text().replace("PERMISSIONS = http\n",
                                             "PERMISSIONS = http\n" + lines))
    template = load_config(path).template("small")
    stored = ClusterSettings.from_tags(ClusterSettings.from_template(template).to_tags(),
                                       "small")
    by_key = {f.metadata["key"]: f.name for f in fields(ClusterOptions)}
    for key, (_, expected) in NON_DEFAULTS.items():
        assert getattr(template, by_key[key]) == expected, key
        assert getattr(stored, by_key[key]) == expected, key
    assert (template.cluster_size, stored.cluster_size) == (3, 3)


def test_an_option_value_is_checked_by_its_own_parser(tmp_path: Path, key_file: Path) -> None:
    path = cluster_config(tmp_path, key_file, extra="")
    path.write_text(path.read_text().replace("PERMISSIONS = http\n",
                                             "PERMISSIONS = http\nSCHEDULER = slurm\n"))
    try:
        load_config(path).template("small")
    except ConfigError as error:
        assert f"{path}:13: [cluster small] SCHEDULER:" in str(error)
    else:
        raise AssertionError("SCHEDULER = slurm was accepted")
