"""Every section kind and key sclust understands: StarCluster's, plus a few of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sclust import values as v


@dataclass(frozen=True)
class KeySpec:
    """How to read one key: its parser, whether a usable template needs it, its default."""

    parse: v.Parser
    required: bool = False
    default: Any = None
    help: str = ""


GLOBAL_KEYS: dict[str, KeySpec] = {
    "DEFAULT_TEMPLATE": KeySpec(v.as_str, help="template used by `start` without -c"),
    "ENABLE_EXPERIMENTAL": KeySpec(v.as_bool, default=False, help="accepted; nothing is gated"),
    "REFRESH_INTERVAL": KeySpec(v.as_int(1), default=5,
                                 help="longest pause (s) between polls of the cloud while waiting"),
    "WEB_BROWSER": KeySpec(v.as_str, help="browser for URLs sclust opens"),
    "INCLUDE": KeySpec(v.as_list, help="more config files to read"),
    # sclust's own:
    "CLOUD": KeySpec(
        v.as_choice("aws", "local"), default="aws", help="aws, or local: this machine's cloud"
    ),
}

AWS_KEYS: dict[str, KeySpec] = {
    # All optional in sclust: boto3's chain (env, profiles, SSO, roles) fills what is absent.
    "AWS_ACCESS_KEY_ID": KeySpec(v.as_str),
    "AWS_SECRET_ACCESS_KEY": KeySpec(v.as_str),
    "AWS_SESSION_TOKEN": KeySpec(v.as_str),
    "AWS_USER_ID": KeySpec(v.as_str),
    "AWS_REGION_NAME": KeySpec(v.as_str),
    "AWS_REGION_HOST": KeySpec(v.as_str),
    "AWS_PROFILE": KeySpec(v.as_str),
    "AWS_ENDPOINT_URL": KeySpec(v.as_str),
    "EC2_CERT": KeySpec(v.as_str),
    "EC2_PRIVATE_KEY": KeySpec(v.as_str),
    "AWS_PORT": KeySpec(v.as_int(1, 65535)),
    "AWS_IS_SECURE": KeySpec(v.as_bool, default=True),
    "AWS_VALIDATE_CERTS": KeySpec(v.as_bool, default=True),
    "AWS_EC2_PATH": KeySpec(v.as_str),
    "AWS_S3_HOST": KeySpec(v.as_str),
    "AWS_S3_PATH": KeySpec(v.as_str),
    "AWS_PROXY": KeySpec(v.as_str),
    "AWS_PROXY_PORT": KeySpec(v.as_int(1, 65535)),
    "AWS_PROXY_USER": KeySpec(v.as_str),
    "AWS_PROXY_PASS": KeySpec(v.as_str),
}

KEY_KEYS: dict[str, KeySpec] = {
    "KEY_LOCATION": KeySpec(v.as_str, required=True, help="private key file of the EC2 key pair"),
}

CLUSTER_KEYS: dict[str, KeySpec] = {
    "EXTENDS": KeySpec(v.as_str, help="template this one inherits from"),
    "KEYNAME": KeySpec(v.as_str, required=True),
    "CLUSTER_SIZE": KeySpec(v.as_int(1), required=True, help="number of nodes, master included"),
    "NODE_IMAGE_ID": KeySpec(v.as_image_id, required=True),
    "NODE_INSTANCE_TYPE": KeySpec(v.as_str, required=True),
    "MASTER_IMAGE_ID": KeySpec(v.as_image_id),
    "MASTER_INSTANCE_TYPE": KeySpec(v.as_instance_type),
    "CLUSTER_USER": KeySpec(v.as_alias, default="sgeadmin"),
    "CLUSTER_SHELL": KeySpec(
        v.as_choice("bash", "zsh", "csh", "tcsh", "ksh", "sh"), default="bash"
    ),
    "AVAILABILITY_ZONE": KeySpec(v.as_str),
    "SPOT_BID": KeySpec(v.as_positive_float),
    "FORCE_SPOT_MASTER": KeySpec(v.as_bool, default=False),
    "SUBNET_ID": KeySpec(v.as_str),
    "PUBLIC_IPS": KeySpec(v.as_bool),
    "VOLUMES": KeySpec(v.as_list, default=[]),
    "PLUGINS": KeySpec(v.as_list, default=[]),
    "PERMISSIONS": KeySpec(v.as_list, default=[]),
    "USERDATA_SCRIPTS": KeySpec(v.as_list, default=[]),
    "DISABLE_QUEUE": KeySpec(v.as_bool, default=False),
    "DISABLE_CLOUDINIT": KeySpec(v.as_bool, default=False),
    "DNS_PREFIX": KeySpec(v.as_bool, default=False),
    # sclust's own:
    "LOGIN_USER": KeySpec(v.as_alias, help="SSH login user of the AMI (ubuntu, ec2-user, root…)"),
    "SLOTS_PER_HOST": KeySpec(v.as_int(1), help="SGE slots per exec host (default: its CPUs)"),
    "MASTER_IS_EXEC_HOST": KeySpec(v.as_bool, default=True, help="run jobs on the master too"),
    "FALLBACK_INSTANCE_TYPES": KeySpec(
        v.as_instance_type_list, default=[], help="node types to try when EC2 has no capacity"
    ),
    "ROOT_VOLUME_SIZE": KeySpec(v.as_int(1, 16384), help="root volume size in GiB"),
    "SSH_CIDR": KeySpec(v.as_cidr, default="0.0.0.0/0", help="who may reach port 22"),
}

VOLUME_KEYS: dict[str, KeySpec] = {
    "VOLUME_ID": KeySpec(v.as_volume_id, required=True),
    "MOUNT_PATH": KeySpec(v.as_mount_path, required=True),
    "DEVICE": KeySpec(v.as_device),
    "PARTITION": KeySpec(v.as_int(1, 128)),
}

PERMISSION_KEYS: dict[str, KeySpec] = {
    "IP_PROTOCOL": KeySpec(v.as_protocol, default="tcp"),
    "FROM_PORT": KeySpec(v.as_port, required=True),
    "TO_PORT": KeySpec(v.as_port, required=True),
    "CIDR_IP": KeySpec(v.as_cidr, default="0.0.0.0/0"),
}

PLUGIN_KEYS: dict[str, KeySpec] = {
    "SETUP_CLASS": KeySpec(v.as_str, required=True, help="dotted path of the plugin class"),
}

DESKTOPS_KEYS: dict[str, KeySpec] = {
    # A course of per-student desktops (sclust desktops …); see cluster/desktops/template.py.
    "EXTENDS": KeySpec(v.as_str, help="desktops template this one inherits from"),
    "KEYNAME": KeySpec(v.as_str, required=True),
    "IMAGE_ID": KeySpec(v.as_image_id, required=True),
    "INSTANCE_TYPE": KeySpec(v.as_instance_type, required=True, help="e.g. g4dn.xlarge"),
    "COUNT": KeySpec(v.as_int(1, 999), help="number of desktops (or STUDENTS' rows)"),
    "STUDENTS": KeySpec(v.as_str, help="roster CSV: name, e-mail (one desktop each)"),
    "ELASTIC_IPS": KeySpec(v.as_bool, default=True, help="a fixed address per desktop"),
    "VOLUME_SIZE": KeySpec(v.as_int(1, 16384), help="root volume size in GiB"),
    "PERMISSIONS": KeySpec(v.as_list, default=[], help="more ports to open ([permission]s)"),
    "TAGS": KeySpec(v.as_tags, default={}, help="KEY=VALUE, … on every resource"),
    "LOGIN_USER": KeySpec(v.as_alias, default="ubuntu", help="SSH login user of the AMI"),
    "AUTO_STOP": KeySpec(v.as_time_of_day, help="HH:MM at which each desktop stops itself"),
    "TIMEZONE": KeySpec(v.as_timezone, default="UTC", help="zone of AUTO_STOP"),
    "NOVNC_PORT": KeySpec(v.as_port_number, default=443, help="HTTPS port of noVNC"),
    "NOVNC_CIDR": KeySpec(v.as_cidr, default="0.0.0.0/0", help="who may reach noVNC"),
    "SSH_CIDR": KeySpec(v.as_cidr, default="0.0.0.0/0", help="who may reach port 22"),
    "PLUGINS": KeySpec(v.as_list, default=[]),
    "AVAILABILITY_ZONE": KeySpec(v.as_str),
    "SUBNET_ID": KeySpec(v.as_str),
}

PRICES_KEYS: dict[str, KeySpec] = {
    # Overrides of the shipped price table; any other key is an instance type's $/hour.
    "FILE": KeySpec(v.as_str, help="a JSON price table replacing the shipped one"),
    "EBS_GB_MONTH": KeySpec(v.as_price, help="$ per GB-month of root volume"),
    "EIP_HOUR": KeySpec(v.as_price, help="$ per hour of an Elastic IP"),
    "DATE": KeySpec(v.as_str, help="when these prices were read"),
}

SECTION_KEYS: dict[str, dict[str, KeySpec]] = {
    "global": GLOBAL_KEYS,
    "aws info": AWS_KEYS,
    "key": KEY_KEYS,
    "cluster": CLUSTER_KEYS,
    "volume": VOLUME_KEYS,
    "permission": PERMISSION_KEYS,
    "plugin": PLUGIN_KEYS,
    "desktops": DESKTOPS_KEYS,
    "prices": PRICES_KEYS,
}
NAMED_KINDS = ("key", "cluster", "volume", "permission", "plugin", "desktops")
# Kinds whose sections take any further key (plugin settings are the plugin's to check).
OPEN_KINDS = ("plugin", "prices")
