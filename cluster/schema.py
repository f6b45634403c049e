"""Every section kind and key sclust understands: StarCluster's, plus a few of its own."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sclust import values as v
from sclust.desktops.calendar import as_schedule
from sclust.scheduler import SCHEDULERS


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
    "AWS_REGION_NAME": KeySpec(v.as_region),
    "AWS_REGION_HOST": KeySpec(v.as_host),
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
    "KEY_LOCATION": KeySpec(v.as_path, required=True, help="private key file of the EC2 key pair"),
}

def option(key: str, parse: v.Parser, default: Any = None, required: bool = False,
           about: str = "") -> Any:
    """A [cluster] key that is a plain value: its INI name and parser ride on the field."""
    spec = KeySpec(parse, required=required, default=default, help=about)
    metadata = {"key": key, "spec": spec}
    if required:
        return field(metadata=metadata)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(kw_only=True)
class ClusterOptions:
    """Every [cluster] key that is a plain value, declared once: this table drives parsing and
    validation (CLUSTER_KEYS), the template (`ClusterTemplate` extends it) and the state kept
    in tags (`ClusterSettings` extends it). Keys that name other sections or need more than a
    parser are declared in STRUCTURED_CLUSTER_KEYS."""

    cluster_size: int = option("CLUSTER_SIZE", v.as_int(1), required=True,
                               about="number of nodes, master included")
    node_image_id: str = option("NODE_IMAGE_ID", v.as_image_id, required=True)
    master_image_id: str | None = option("MASTER_IMAGE_ID", v.as_image_id)
    master_instance_type: str | None = option("MASTER_INSTANCE_TYPE", v.as_instance_type)
    cluster_user: str = option("CLUSTER_USER", v.as_alias, "sgeadmin")
    cluster_shell: str = option("CLUSTER_SHELL",
                                v.as_choice("bash", "zsh", "csh", "tcsh", "ksh", "sh"), "bash")
    spot_bid: float | None = option("SPOT_BID", v.as_positive_float)
    force_spot_master: bool = option("FORCE_SPOT_MASTER", v.as_bool, False)
    subnet_id: str | None = option("SUBNET_ID", v.as_str)
    public_ips: bool | None = option("PUBLIC_IPS", v.as_bool)
    userdata_scripts: list[str] = option("USERDATA_SCRIPTS", v.as_list, [])
    disable_queue: bool = option("DISABLE_QUEUE", v.as_bool, False)
    disable_cloudinit: bool = option("DISABLE_CLOUDINIT", v.as_bool, False)
    dns_prefix: bool = option("DNS_PREFIX", v.as_bool, False)
    # sclust's own:
    login_user: str | None = option("LOGIN_USER", v.as_alias,
                                    about="SSH login user of the AMI (ubuntu, ec2-user, root…)")
    slots_per_host: int | None = option("SLOTS_PER_HOST", v.as_int(1),
                                        about="SGE slots per exec host (default: its CPUs)")
    master_is_exec_host: bool = option("MASTER_IS_EXEC_HOST", v.as_bool, True,
                                       about="run jobs on the master too")
    fallback_instance_types: list[str] = option(
        "FALLBACK_INSTANCE_TYPES", v.as_instance_type_list, [],
        about="node types to try when EC2 has no capacity")
    root_volume_size: int | None = option("ROOT_VOLUME_SIZE", v.as_int(1, 16384),
                                          about="root volume size in GiB")
    ssh_cidr: str = option("SSH_CIDR", v.as_cidr, "0.0.0.0/0", about="who may reach port 22")
    scheduler: str = option("SCHEDULER", v.as_choice(*SCHEDULERS), "sge",
                            about="the batch scheduler set up across the nodes")
    loadbalance: str = option("LOADBALANCE", v.as_choice("off", "on-master"), "off",
                              about="on-master: `start` installs the balancer on the master")
    loadbalance_max_nodes: int | None = option(
        "LOADBALANCE_MAX_NODES", v.as_int(1), about="most nodes, master included [CLUSTER_SIZE]")
    loadbalance_min_nodes: int = option("LOADBALANCE_MIN_NODES", v.as_int(1), 1,
                                        about="fewest nodes, master included")
    loadbalance_interval: int = option("LOADBALANCE_INTERVAL", v.as_int(1, 86400), 30,
                                       about="seconds between two looks at the cluster")
    loadbalance_idle_timeout: int | None = option(
        "LOADBALANCE_IDLE_TIMEOUT", v.as_int(0, 7 * 86400),
        about="seconds a node idles before it goes [1.5 boots]")
    loadbalance_wait_target: int | None = option(
        "LOADBALANCE_WAIT_TARGET", v.as_int(0, 7 * 86400),
        about="seconds a job may wait before it gets a node of its own [none]")
    budget: float | None = option("BUDGET", v.as_price,
                                  about="the cluster's cap in the price table's currency: "
                                        "listclusters shows spend and warns from 80 %")
    efs: list[str] = option("EFS", v.as_efs_list, [],
                            about="EFS file systems mounted on every node: fs-0123abcd:/home, …")
    iam_profile: str | None = option(
        "IAM_PROFILE", v.as_iam_name,
        about="instance profile of every node (made with its role if missing; see "
              "docs/data.md)")


def option_keys(options: type) -> dict[str, KeySpec]:
    """The INI keys of an options dataclass, from its fields' metadata."""
    return {f.metadata["key"]: f.metadata["spec"] for f in fields(options)
            if "key" in f.metadata}


STRUCTURED_CLUSTER_KEYS: dict[str, KeySpec] = {
    "EXTENDS": KeySpec(v.as_str, help="template this one inherits from"),
    "KEYNAME": KeySpec(v.as_str, required=True),
    "NODE_INSTANCE_TYPE": KeySpec(v.as_str, required=True, help="type[:ami][:count], …"),
    "AVAILABILITY_ZONE": KeySpec(v.as_str),
    "VOLUMES": KeySpec(v.as_list, default=[]),
    "PLUGINS": KeySpec(v.as_list, default=[]),
    "PERMISSIONS": KeySpec(v.as_list, default=[]),
}
CLUSTER_KEYS: dict[str, KeySpec] = {**STRUCTURED_CLUSTER_KEYS, **option_keys(ClusterOptions)}

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
    "TIMEZONE": KeySpec(v.as_timezone, default="UTC", help="zone of AUTO_STOP and SCHEDULE"),
    "SCHEDULE": KeySpec(as_schedule, help="class hours: the desktops start before and stop "
                        "after (Mon-Fri 08:30-18:00; Sat 09:00-13:00)"),
    "SCHEDULE_LEAD": KeySpec(v.as_duration, default=900,
                             help="how long before class SCHEDULE starts them (15m)"),
    "SCHEDULE_END": KeySpec(v.as_date, help="the course's last day (YYYY-MM-DD): schedules "
                            "end then, and the budget's projection too"),
    "SCHEDULE_ROLE": KeySpec(v.as_str, help="IAM role ARN EventBridge Scheduler uses (default: "
                             "sclust makes one per course, allowed only its desktops)"),
    "BUDGET": KeySpec(v.as_price, help="the course's cap, in the price table's currency"),
    "BUDGET_ACTION": KeySpec(v.as_choice("warn", "stop"), default="warn",
                             help="at the cap: warn (at 80 % and 100 %) or stop the desktops"),
    "IDLE_STOP": KeySpec(v.as_duration,
                         help="a desktop no client used for this long stops itself (45m)"),
    "KIND": KeySpec(v.as_str, default="novnc",
                    help="what each desktop serves: novnc, jupyter or both (novnc, jupyter)"),
    "NOVNC_PORT": KeySpec(v.as_port_number, default=443, help="HTTPS port of noVNC"),
    "JUPYTER_PORT": KeySpec(v.as_port_number, default=8888, help="HTTPS port of JupyterLab"),
    "NOVNC_CIDR": KeySpec(v.as_cidr, default="0.0.0.0/0",
                          help="who may reach the desktops' pages (noVNC, JupyterLab)"),
    "SSH_CIDR": KeySpec(v.as_cidr, default="0.0.0.0/0", help="who may reach port 22"),
    "PLUGINS": KeySpec(v.as_list, default=[]),
    "AVAILABILITY_ZONE": KeySpec(v.as_str),
    "SUBNET_ID": KeySpec(v.as_str),
    "IAM_PROFILE": KeySpec(v.as_iam_name, help="instance profile of every desktop (made with "
                           "its role if missing; see docs/data.md)"),
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
