"""What a cluster is, as recorded on EC2: nodes, and the settings stored as JSON tags.

Settings live on the cluster's security group as tags `sclust:settings.0`, `.1`, … (EC2 tag
values hold 256 characters), so any machine with the credentials can manage the cluster.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from sclust.config import ClusterTemplate
from sclust.errors import SclustError
from sclust.schema import ClusterOptions

SCHEMA_VERSION = 1
TAG_CLUSTER = "sclust:cluster"
TAG_ALIAS = "sclust:alias"
TAG_ROLE = "sclust:role"
TAG_ALIAS_FIRST = "sclust:alias-first"  # older launches of several: alias = node(first + index)
TAG_ALIASES = "sclust:aliases"  # a launch of several: alias = list[launch index], until named
TAG_SETTINGS = "sclust:settings"
TAG_VERSION = "sclust:version"
TAG_VALUE_LIMIT = 256
NODE_NUMBER = re.compile(r"^node(\d+)$")


@dataclass(kw_only=True)
class ClusterSettings(ClusterOptions):
    """Everything later commands need without re-reading the [cluster] template: its plain
    options (declared once, in `ClusterOptions`) and what the launch resolved."""

    template: str
    keyname: str
    node_instance_type: str
    master_image_id: str
    master_instance_type: str
    zone: str | None = None
    vpc_id: str | None = None
    volumes: list[dict[str, Any]] = field(default_factory=list)
    plugins: list[dict[str, Any]] = field(default_factory=list)
    node_types: list[dict[str, Any]] = field(default_factory=list)
    # The template's [permission]s: `start -x` restores the group's rules from them.
    permissions: list[dict[str, Any]] = field(default_factory=list)
    created: str = ""
    version: int = SCHEMA_VERSION

    @classmethod
    def from_template(cls, template: ClusterTemplate) -> ClusterSettings:
        options = {f.name: copy.copy(getattr(template, f.name)) for f in fields(ClusterOptions)}
        return cls(
            template=template.name,
            keyname=template.key.name,
            node_instance_type=template.node_instance_type,
            zone=template.availability_zone,
            volumes=[asdict(v) for v in template.volumes],
            plugins=[asdict(p) for p in template.plugins],
            node_types=[asdict(t) for t in template.node_types],
            permissions=[asdict(p) for p in template.permissions],
            created=datetime.now().astimezone().isoformat(timespec="seconds"),
            **options,
        )

    def to_tags(self) -> dict[str, str]:
        """The settings as JSON split over as many tags as needed — without plugin settings
        that look secret: anyone who may describe security groups reads tags."""
        data = asdict(self)
        data["plugins"] = [public_plugin(p) for p in data["plugins"]]
        return json_tags(data)

    @classmethod
    def from_tags(cls, tags: dict[str, str], cluster: str) -> ClusterSettings:
        version_text = tags.get(TAG_VERSION, "0") or "0"
        version = int(version_text) if version_text.isdigit() else SCHEMA_VERSION + 1
        if version > SCHEMA_VERSION:
            raise SclustError(
                f"cluster {cluster!r} was made by a newer sclust (settings version {version});"
                " upgrade sclust to manage it"
            )
        data = json_from_tags(tags)
        if data is None:
            raise SclustError(
                f"cluster {cluster!r}: its settings tags are missing or damaged"
                f" ({TAG_SETTINGS}.* on its security group)"
            )
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        problems = settings_problems(values)
        if problems:
            raise SclustError(f"cluster {cluster!r}: its settings tags fail sclust's checks "
                              f"({'; '.join(problems[:3])}); refusing to act on them")
        try:
            return cls(**values)
        except TypeError as error:
            raise SclustError(f"cluster {cluster!r}: its settings tags are incomplete: {error}"
                              ) from None


def settings_problems(values: dict[str, Any]) -> list[str]:
    """What in settings read back from tags fails the checks the config's values pass: tags
    are untrusted, and these values reach scripts, paths and argvs."""
    from sclust import values as v
    from sclust.names import check_name

    problems = []

    def check(what: str, value: Any, parse: Callable[[str], Any]) -> None:
        try:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(f"{value!r} has the wrong type")
            parse(str(value))
        except ValueError as error:
            problems.append(f"{what}: {error}")

    for option in fields(ClusterOptions):
        value = values.get(option.name)
        spec = option.metadata["spec"]
        if value is None:
            continue
        if isinstance(option.default, bool) or option.type in ("bool", "bool | None"):
            if not isinstance(value, bool):
                problems.append(f"{option.metadata['key']}: {value!r} is not true or false")
        elif isinstance(value, list):
            check(option.metadata["key"], ", ".join(map(str, value)), spec.parse)
        else:
            check(option.metadata["key"], value, spec.parse)
    check("template", values.get("template", ""),
          lambda text: check_name(text, "template name", template=True))
    check("keyname", values.get("keyname", ""), v.as_str)
    check("node_instance_type", values.get("node_instance_type", ""), v.as_instance_type)
    for key, (what, checks) in listed_settings().items():
        for entry in values.get(key) or []:
            if not isinstance(entry, dict):
                problems.append(f"{key}: not a list of {key}")
                continue
            for name, (parse, required) in checks.items():
                if required or entry.get(name) is not None:
                    check(f"{what} {name}", entry.get(name), parse)
    for plugin in values.get("plugins") or []:
        if not isinstance(plugin, dict) or not isinstance(plugin.get("settings", {}), dict):
            problems.append("plugins: not a list of plugins")
            continue
        check("plugin name", plugin.get("name"), v.as_str)
        check("plugin class", plugin.get("setup_class"), v.as_str)
    return problems


def listed_settings() -> dict[str, tuple[str, dict[str, tuple[Callable[[str], Any], bool]]]]:
    """Settings that are lists of dicts: what one is, and each field's check (and whether it
    must be there)."""
    from sclust import values as v

    return {
        "volumes": ("volume", {"volume_id": (v.as_volume_id, True),
                               "mount_path": (v.as_mount_path, True),
                               "device": (v.as_device, False)}),
        "node_types": ("node type", {"instance_type": (v.as_instance_type, True),
                                     "image_id": (v.as_image_id, False)}),
        "permissions": ("permission", {"name": (v.as_str, True),
                                       "protocol": (v.as_protocol, True),
                                       "from_port": (v.as_port, True),
                                       "to_port": (v.as_port, True),
                                       "cidr": (v.as_cidr, True)}),
    }


SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "passphrase", "private",
                "credential", "api_key", "apikey", "license")


def public_plugin(spec: dict[str, Any]) -> dict[str, Any]:
    """SPEC with only the settings its plugin class declares public (`public_settings`), and
    never one named like a secret: tags are readable by anyone who may describe security
    groups. The config supplies the rest when hooks run later."""
    from sclust.plugins.registry import PluginNotFound, resolve

    try:
        public = set(getattr(resolve(spec.get("setup_class", "")), "public_settings", ()))
    except PluginNotFound:
        public = set()
    settings = {k: v for k, v in spec.get("settings", {}).items()
                if k.lower() in public and not any(word in k.lower() for word in SECRET_WORDS)}
    return {**spec, "settings": settings}


def json_tags(data: dict[str, Any], version: int = SCHEMA_VERSION) -> dict[str, str]:
    """DATA as JSON over tags `sclust:settings.0`, `.1`, … (a tag value holds 256 characters)."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    chunks = [text[i : i + TAG_VALUE_LIMIT] for i in range(0, len(text), TAG_VALUE_LIMIT)]
    tags = {f"{TAG_SETTINGS}.{index}": chunk for index, chunk in enumerate(chunks)}
    tags[TAG_VERSION] = str(version)
    return tags


def json_from_tags(tags: dict[str, str]) -> dict[str, Any] | None:
    """What json_tags wrote, or None when the tags are missing or damaged."""
    chunks = []
    index = 0
    while f"{TAG_SETTINGS}.{index}" in tags:
        chunks.append(tags[f"{TAG_SETTINGS}.{index}"])
        index += 1
    try:
        data = json.loads("".join(chunks))
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Node:
    """One instance of a cluster."""

    instance_id: str
    alias: str
    role: str  # "master" or "node"
    state: str
    instance_type: str
    image_id: str
    zone: str
    private_ip: str | None
    public_ip: str | None
    spot: bool
    launch_time: datetime | None
    root_device_type: str = "ebs"
    # False while the alias comes from its launch's tags (its own alias and Name tags, added
    # right after the launch, have not landed: an interrupted start; `start -x` adds them).
    alias_tagged: bool = True

    @property
    def address(self) -> str | None:
        """Where sclust reaches the node: its public address, else its private one."""
        return self.public_ip or self.private_ip

    @property
    def is_master(self) -> bool:
        return self.role == "master"

    def host_name(self, tag: str, dns_prefix: bool) -> str:
        return f"{tag}-{self.alias}" if dns_prefix else self.alias


@dataclass
class ClusterInfo:
    """A cluster as found on EC2: its security group, settings and live nodes."""

    tag: str
    security_group_id: str | None
    settings: ClusterSettings | None
    nodes: list[Node] = field(default_factory=list)
    # Instances tagged for the cluster that sclust did not launch into it (outside its group,
    # or with tags that fail its checks): never set up, never terminated. "id (why)" each.
    foreign: list[str] = field(default_factory=list)

    @property
    def master(self) -> Node | None:
        return next((n for n in self.nodes if n.is_master), None)

    @property
    def workers(self) -> list[Node]:
        return sorted((n for n in self.nodes if not n.is_master), key=lambda n: alias_key(n.alias))

    @property
    def state(self) -> str:
        states = {n.state for n in self.nodes}
        if not states:
            return "empty"
        return states.pop() if len(states) == 1 else "mixed (" + ", ".join(sorted(states)) + ")"


def alias_key(alias: str) -> tuple[int, str]:
    match = NODE_NUMBER.match(alias)
    return (int(match.group(1)), alias) if match else (10**9, alias)


def node_alias(number: int) -> str:
    """node001 … node999, then node1000 and on: names never collide or wrap."""
    return f"node{number:03d}"


def free_node_numbers(used_aliases: list[str], count: int) -> list[int]:
    """The lowest block of COUNT consecutive free node numbers (gaps are reused when they fit).

    Consecutive, because a multi-instance launch names its nodes first + launch index.
    """
    used = {int(m.group(1)) for a in used_aliases if (m := NODE_NUMBER.match(a))}
    start = 1
    while any(n in used for n in range(start, start + count)):
        start += 1
    return list(range(start, start + count))
