"""StarCluster-compatible config: INI sections -> typed, validated templates.

Every mistake becomes one line `FILE:LINE: [section] KEY: what is wrong (did you mean …?)`;
all of them are collected and raised together as one ConfigError.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sclust.errors import ConfigError
from sclust.files import expand_path
from sclust.ini import Origin, RawKey, RawSection, read_config_files
from sclust.names import name_problem
from sclust.schema import NAMED_KINDS, OPEN_KINDS, SECTION_KEYS, ClusterOptions, KeySpec
from sclust.suggest import did_you_mean
from sclust.values import as_image_id, as_instance_type

CONFIG_SEARCH = ("~/.sclust/config", "~/.starcluster/config")


@dataclass(frozen=True)
class Permission:
    name: str
    protocol: str
    from_port: int
    to_port: int
    cidr: str


@dataclass(frozen=True)
class Volume:
    name: str
    volume_id: str
    mount_path: str
    device: str | None = None
    partition: int | None = None


@dataclass(frozen=True)
class KeyPair:
    name: str
    location: Path


@dataclass(frozen=True)
class PluginSpec:
    name: str
    setup_class: str
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeTypeSpec:
    """One entry of NODE_INSTANCE_TYPE: `type[:ami][:count]`; count None = the rest."""

    instance_type: str
    image_id: str | None = None
    count: int | None = None


@dataclass(kw_only=True)
class ClusterTemplate(ClusterOptions):
    """A `[cluster NAME]` section with its EXTENDS chain merged and every value typed: the
    plain options (declared once, in `ClusterOptions`) and what refers to other sections."""

    name: str
    key: KeyPair
    node_types: list[NodeTypeSpec]
    master_image_id: str
    master_instance_type: str
    availability_zone: str | None = None
    volumes: list[Volume] = field(default_factory=list)
    plugins: list[PluginSpec] = field(default_factory=list)
    permissions: list[Permission] = field(default_factory=list)

    @property
    def node_instance_type(self) -> str:
        """The default node type: the last entry of NODE_INSTANCE_TYPE."""
        return self.node_types[-1].instance_type


@dataclass
class AwsSettings:
    """`[aws info]`; anything left None comes from boto3's own credential/region chain."""

    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    verify_certs: bool = True
    proxy: str | None = None


@dataclass
class Config:
    """A whole config: its files' sections, checked, with typed access to templates."""

    path: Path
    sections: list[RawSection]
    cloud: str = "aws"
    default_template: str | None = None
    refresh_interval: int = 5
    aws: AwsSettings = field(default_factory=AwsSettings)
    reported: set[str] = field(default_factory=set)  # problems already raised as errors

    def named(self, kind: str) -> dict[str, RawSection]:
        return {s.name: s for s in self.sections if s.kind == kind}

    @property
    def problems(self) -> list[str]:
        """Every mistake in any section: errors for `validate`, and for a command that uses
        the section; warnings for the others."""
        return [line for s in self.sections for line in s.problems]

    @property
    def notes(self) -> list[str]:
        """What StarCluster accepted and sclust reads the same way, said once (repeats)."""
        return [line for s in self.sections for line in s.notes]

    @property
    def template_names(self) -> list[str]:
        return [name for name in self.named("cluster") if name]  # [cluster] alone is a problem

    def key_pair(self, name: str) -> KeyPair:
        """The `[key NAME]` section as a KeyPair (not checked on disk: see check_key_file)."""
        section = self.named("key").get(name)
        if section is None:
            raise ConfigError(
                f"{self.path}: no [key {name}] section{did_you_mean(name, self.named('key'))}"
            )
        if section.problems:
            raise ConfigError("\n".join(section.problems))
        location = section.keys["KEY_LOCATION"].value
        try:
            return KeyPair(name=name, location=expand_path(location))
        except ValueError as error:
            origin = section.keys["KEY_LOCATION"].origin
            raise ConfigError(located(origin, section, "KEY_LOCATION", str(error))) from None

    def template(self, name: str | None = None, check_key_file: bool = True) -> ClusterTemplate:
        """Build template NAME (default: DEFAULT_TEMPLATE), raising every problem at once."""
        name = name or self.default_template
        if not name:
            raise ConfigError(
                f"{self.path}: no template given and [global] DEFAULT_TEMPLATE is not set"
                " (use -c TEMPLATE)"
            )
        clusters = self.named("cluster")
        if name not in clusters:
            raise ConfigError(
                f"{self.path}: no [cluster {name}] template{did_you_mean(name, clusters)}"
            )
        errors: list[str] = []
        template = build_template(self, name, errors, check_key_file)
        if errors or template is None:
            self.reported.update(errors)
            raise ConfigError("\n".join(errors))
        return template

    def leaf_templates(self) -> list[str]:
        """Templates no other template EXTENDS: the ones meant to be started."""
        parents = {
            s.keys["EXTENDS"].value for s in self.named("cluster").values() if "EXTENDS" in s.keys
        }
        names = [n for n in self.template_names if n not in parents]
        if self.default_template and self.default_template not in names:
            names.append(self.default_template)
        return names


def misnamed_problems(config: Config, name: str) -> list[str]:
    """Problems of a section called NAME whose kind sclust did not recognise."""
    return [line for s in config.sections if s.name == name and s.kind not in SECTION_KEYS
            for line in s.problems]


def located(origin: Origin, section: RawSection, key: str | None, message: str) -> str:
    where = f"{section.title} {key}" if key else section.title
    return f"{origin}: {where}: {message}"


def at_key(key: RawKey, message: str) -> str:
    """An error about KEY where it was written (perhaps in a parent template)."""
    return f"{key.origin}: {key.section_title} {key.name}: {message}"


def find_config(explicit: str | None) -> Path:
    """-c/--config FILE, then $SCLUST_CONFIG, then $STARCLUSTER_CONFIG, then ~/.sclust/config,
    then ~/.starcluster/config."""
    if explicit:
        return Path(explicit).expanduser()
    for variable in ("SCLUST_CONFIG", "STARCLUSTER_CONFIG"):
        from_env = os.environ.get(variable)
        if from_env:
            return Path(from_env).expanduser()
    for candidate in CONFIG_SEARCH:
        path = Path(candidate).expanduser()
        if path.exists():
            return path
    raise ConfigError(
        "no config file found: pass --config FILE, set $SCLUST_CONFIG (or $STARCLUSTER_CONFIG),"
        " or create "
        "~/.sclust/config (a StarCluster ~/.starcluster/config also works)"
    )


# Sections every command reads: a mistake there is always an error.
ALWAYS_USED = ("global", "aws info")
# StarCluster's other spellings of a key (four official templates wrote PROTOCOL).
KEY_ALIASES = {"permission": {"PROTOCOL": "IP_PROTOCOL"}}


def load_config(path: Path) -> Config:
    """Read and check every section of PATH (and its INCLUDEs). Mistakes in [global] and
    [aws info] raise ConfigError; those in other sections stay on their section (`problems`)
    and become errors only for a command that uses the section (see Config.template)."""
    sections = read_config_files(path)
    for section in sections:
        check_section(section)
    errors = [line for s in sections if s.kind in ALWAYS_USED for line in s.problems]
    config = Config(path=path, sections=sections)
    if not errors:
        apply_global(config, errors)
    if errors:
        raise ConfigError("\n".join(errors))
    return config


def use_key_aliases(section: RawSection) -> None:
    """StarCluster's other spellings of a key under sclust's name."""
    for alias, name in KEY_ALIASES.get(section.kind, {}).items():
        key = section.keys.pop(alias, None)
        if key is None:
            continue
        if name in section.keys:
            section.notes.append(f"{key.origin}: {section.title} {alias} is StarCluster's "
                                 f"{name}, also set at {section.keys[name].origin}: that wins")
        else:
            key.name = name
            section.keys[name] = key


def check_section(section: RawSection) -> None:
    """Unknown kind, unknown keys and bad values of SECTION, added to its problems."""
    use_key_aliases(section)
    section.problems.extend(section_problems(section))


def section_problems(section: RawSection) -> list[str]:
    errors: list[str] = []
    schema = SECTION_KEYS.get(section.kind)
    if schema is None:
        hint = did_you_mean(section.kind, SECTION_KEYS)
        return [f"{section.origin}: unknown section {section.title}{hint}"]
    if section.kind in NAMED_KINDS and not section.name:
        return [f"{section.origin}: [{section.kind}] needs a name: [{section.kind} NAME]"]
    if section.kind in ("cluster", "desktops"):
        problem = name_problem(section.name, template=True)
        if problem:
            return [f"{section.origin}: {section.title}: the name {problem}"]
    for key in section.keys.values():
        spec = schema.get(key.name)
        if spec is None:
            if section.kind not in OPEN_KINDS:
                hint = did_you_mean(key.name, schema)
                errors.append(located(key.origin, section, key.name, f"unknown key{hint}"))
            continue
        message = parse_error(spec, key)
        if message:
            errors.append(located(key.origin, section, key.name, message))
    if section.kind in ("key", "volume", "permission", "plugin"):
        for name, spec in schema.items():
            if spec.required and name not in section.keys:
                errors.append(located(section.origin, section, name, "required key missing"))
    if section.kind == "permission" and not errors:
        check_permission_ports(section, errors)
    if section.kind == "volume" and not errors:
        check_volume_device(section, errors)
    return errors


def parse_error(spec: KeySpec, key: RawKey) -> str | None:
    try:
        spec.parse(key.value)
    except ValueError as error:
        if "\n" in key.value:  # configparser's rule, easily hit by a stray tab
            return f"{error} (an indented line continues the value above it)"
        return str(error)
    return None


def typed(section: RawSection, name: str, spec: KeySpec) -> Any:
    key = section.keys.get(name)
    return spec.default if key is None else spec.parse(key.value)


def check_permission_ports(section: RawSection, errors: list[str]) -> None:
    schema = SECTION_KEYS["permission"]
    protocol = typed(section, "IP_PROTOCOL", schema["IP_PROTOCOL"])
    from_port = typed(section, "FROM_PORT", schema["FROM_PORT"])
    to_port = typed(section, "TO_PORT", schema["TO_PORT"])
    to_key = section.keys["TO_PORT"]
    negative = "FROM_PORT" if from_port < 0 else "TO_PORT"
    if protocol in ("tcp", "udp") and min(from_port, to_port) < 0:
        key = section.keys[negative]
        errors.append(located(key.origin, section, negative, "-1 is only for icmp: use 0–65535"))
    elif protocol != "icmp" and from_port > to_port:
        errors.append(
            located(to_key.origin, section, "TO_PORT", f"{to_port} is below FROM_PORT {from_port}")
        )


def apply_global(config: Config, errors: list[str]) -> None:
    """Read [global] and [aws info] into the Config."""
    globals_ = config.named("global").get("")
    if globals_ is not None:
        schema = SECTION_KEYS["global"]
        config.cloud = typed(globals_, "CLOUD", schema["CLOUD"])
        config.default_template = typed(globals_, "DEFAULT_TEMPLATE", schema["DEFAULT_TEMPLATE"])
        config.refresh_interval = typed(globals_, "REFRESH_INTERVAL", schema["REFRESH_INTERVAL"])
        default = globals_.keys.get("DEFAULT_TEMPLATE")
        clusters = config.named("cluster")
        if default is not None and default.value not in clusters:
            hint = did_you_mean(default.value, clusters)
            errors.append(
                located(default.origin, globals_, "DEFAULT_TEMPLATE",
                        f"no [cluster {default.value}] section{hint}")
            )
    aws = config.named("aws info").get("")
    if aws is not None:
        config.aws = aws_settings(aws)


def aws_settings(section: RawSection) -> AwsSettings:
    schema = SECTION_KEYS["aws info"]

    def get(name: str) -> Any:
        return typed(section, name, schema[name])

    endpoint = get("AWS_ENDPOINT_URL")
    host = get("AWS_REGION_HOST")
    # StarCluster's AWS_REGION_HOST names the endpoint; only a non-AWS host needs overriding.
    if endpoint is None and host and not host.endswith(".amazonaws.com"):
        scheme = "https" if get("AWS_IS_SECURE") else "http"
        port = get("AWS_PORT")
        endpoint = f"{scheme}://{host}" + (f":{port}" if port else "")
    proxy = get("AWS_PROXY")
    if proxy:
        user, password, port = get("AWS_PROXY_USER"), get("AWS_PROXY_PASS"), get("AWS_PROXY_PORT")
        credentials = f"{user}:{password}@" if user else ""
        proxy = f"http://{credentials}{proxy}" + (f":{port}" if port else "")
    return AwsSettings(
        access_key_id=get("AWS_ACCESS_KEY_ID"),
        secret_access_key=get("AWS_SECRET_ACCESS_KEY"),
        session_token=get("AWS_SESSION_TOKEN"),
        region=get("AWS_REGION_NAME"),
        endpoint_url=endpoint,
        profile=get("AWS_PROFILE"),
        verify_certs=get("AWS_VALIDATE_CERTS"),
        proxy=proxy,
    )


def merged_cluster_keys(
    config: Config, name: str, errors: list[str], kind: str = "cluster"
) -> tuple[RawSection, dict[str, RawKey]] | None:
    """Walk the EXTENDS chain of [KIND NAME] and merge keys root-first (the child wins)."""
    clusters = config.named(kind)
    chain: list[RawSection] = []
    current = clusters[name]
    while True:
        errors.extend(line for line in current.problems if line not in errors)
        if current in chain:
            cycle = " -> ".join(s.name for s in chain + [current])
            key = current.keys["EXTENDS"]
            errors.append(located(key.origin, current, "EXTENDS", f"EXTENDS cycle: {cycle}"))
            return None
        chain.append(current)
        extends = current.keys.get("EXTENDS")
        if extends is None:
            break
        parent = clusters.get(extends.value)
        if parent is None:
            hint = did_you_mean(extends.value, clusters)
            errors.append(
                located(extends.origin, current, "EXTENDS",
                        f"no [{kind} {extends.value}] to extend{hint}")
            )
            return None
        current = parent
    merged: dict[str, RawKey] = {}
    for section in reversed(chain):
        merged.update({k: v for k, v in section.keys.items() if k != "EXTENDS"})
    return chain[0], merged


def build_template(
    config: Config, name: str, errors: list[str], check_key_file: bool
) -> ClusterTemplate | None:
    found = merged_cluster_keys(config, name, errors)
    if found is None:
        return None
    section, keys = found
    if errors:  # mistakes in the chain's own sections come first, alone
        return None
    schema = SECTION_KEYS["cluster"]
    for key_name, spec in schema.items():
        if spec.required and key_name not in keys:
            errors.append(located(section.origin, section, key_name, "required key missing"))
    if errors:
        return None

    def get(key_name: str) -> Any:
        key = keys.get(key_name)
        return schema[key_name].default if key is None else schema[key_name].parse(key.value)

    def reference(key_name: str, kind: str) -> list[RawSection]:
        found_sections = []
        available = config.named(kind)
        for item in get(key_name):
            if item in available and available[item].problems:
                errors.extend(available[item].problems)
            elif item in available:
                found_sections.append(available[item])
            elif misnamed_problems(config, item):
                errors.extend(misnamed_problems(config, item))  # e.g. [permision web]
            else:
                hint = did_you_mean(item, available)
                errors.append(at_key(keys[key_name], f"no [{kind} {item}]{hint}"))
        return found_sections

    node_types = parse_node_types(keys["NODE_INSTANCE_TYPE"], errors)
    keyname_key = keys["KEYNAME"]
    key_sections = config.named("key")
    key: KeyPair | None = None
    if keyname_key.value not in key_sections:
        hint = did_you_mean(keyname_key.value, key_sections)
        errors.append(at_key(keyname_key, f"no [key {keyname_key.value}]{hint}"))
    elif key_sections[keyname_key.value].problems:
        errors.extend(key_sections[keyname_key.value].problems)
    else:
        key = config.key_pair(keyname_key.value)
        if check_key_file:
            problem = key_file_problem(key.location)
            if problem:
                key_section = key_sections[key.name]
                origin = key_section.keys["KEY_LOCATION"].origin
                errors.append(located(origin, key_section, "KEY_LOCATION", problem))
    volumes = [volume_from(s) for s in reference("VOLUMES", "volume")]
    permissions = [permission_from(s) for s in reference("PERMISSIONS", "permission")]
    plugin_sections = reference("PLUGINS", "plugin")
    plugins = [plugin_from(s, errors) for s in plugin_sections
               if not is_sge_plugin(s)]
    sge_settings = scheduler_plugin_settings(
        [s for s in plugin_sections if is_sge_plugin(s)], errors)
    check_volumes(volumes, keys.get("VOLUMES"), errors)
    userdata = keys.get("USERDATA_SCRIPTS")
    if userdata is not None and check_key_file:  # files of this machine, like the key
        from sclust.userdata import user_data_problem

        problem = user_data_problem(get("USERDATA_SCRIPTS"))
        if problem:
            errors.append(at_key(userdata, problem))
    if errors or key is None or node_types is None:
        return None
    options = {f.name: get(f.metadata["key"]) for f in fields(ClusterOptions)}
    options.update(sge_settings)
    options["master_image_id"] = options["master_image_id"] or options["node_image_id"]
    options["master_instance_type"] = (options["master_instance_type"]
                                       or node_types[-1].instance_type)
    return ClusterTemplate(
        name=name,
        key=key,
        node_types=node_types,
        availability_zone=get("AVAILABILITY_ZONE"),
        volumes=volumes,
        plugins=plugins,
        permissions=permissions,
        **options,
    )


def parse_node_types(key: RawKey, errors: list[str]) -> list[NodeTypeSpec]:
    """`m5.large:ami-1:2, c5.xlarge:3, t3.medium` -> specs; the last entry takes the rest."""
    specs: list[NodeTypeSpec] = []
    items = [item.strip() for item in key.value.split(",") if item.strip()]
    for position, item in enumerate(items):
        parts = item.split(":")
        try:
            instance_type = as_instance_type(parts[0].strip())
            image_id: str | None = None
            count: int | None = None
            for part in (p.strip() for p in parts[1:]):
                if part.startswith("ami-"):
                    image_id = as_image_id(part)
                elif part.isdigit() and int(part) >= 1:
                    count = int(part)
                else:
                    raise ValueError(f"{item!r}: expected type[:ami][:count]")
            if position == len(items) - 1 and count is not None:
                # StarCluster refused this too: the count would silently disagree with the size.
                raise ValueError(f"{item!r}: the last entry is the default type and takes no "
                                 "count (CLUSTER_SIZE says how many nodes; a count goes on the "
                                 "extra types before it: `c5.xlarge:2, m5.large`)")
            if position < len(items) - 1 and count is None:
                count = 1
        except ValueError as error:
            errors.append(at_key(key, str(error)))
            return []
        specs.append(NodeTypeSpec(instance_type, image_id, count))
    if not specs:
        errors.append(at_key(key, "is empty"))
    return specs


# StarCluster's SGE plugin: sclust sets Grid Engine up itself, with the plugin's settings.
SGE_PLUGIN_CLASSES = ("starcluster.plugins.sge.SGEPlugin", "sge.SGEPlugin")
SGE_PLUGIN_SETTINGS = {"MASTER_IS_EXEC_HOST": "master_is_exec_host",
                       "SLOTS_PER_HOST": "slots_per_host"}


def is_sge_plugin(section: RawSection) -> bool:
    setup_class = section.keys.get("SETUP_CLASS")
    return setup_class is not None and setup_class.value in SGE_PLUGIN_CLASSES


def scheduler_plugin_settings(sections: list[RawSection], errors: list[str]) -> dict[str, Any]:
    """What `[plugin sge]` in PLUGINS asks of Grid Engine. StarCluster's documented recipe
    `DISABLE_QUEUE = True` + `PLUGINS = sge` means: SGE, set up by the plugin with these
    settings — so the queue is not disabled."""
    if not sections:
        return {}
    settings: dict[str, Any] = {"disable_queue": False}
    schema = SECTION_KEYS["cluster"]
    for section in sections:
        for name, key in section.keys.items():
            if name == "SETUP_CLASS":
                continue
            if name not in SGE_PLUGIN_SETTINGS:
                hint = did_you_mean(name, SGE_PLUGIN_SETTINGS)
                errors.append(located(key.origin, section, name,
                                      f"StarCluster's SGE plugin takes no setting {name}{hint}"))
                continue
            try:
                settings[SGE_PLUGIN_SETTINGS[name]] = schema[name].parse(key.value)
            except ValueError as error:
                errors.append(located(key.origin, section, name, str(error)))
    return settings


def check_volumes(volumes: list[Volume], key: RawKey | None, errors: list[str]) -> None:
    """StarCluster's checks across a template's volumes, plus distinct mount paths."""
    if key is None:
        return
    paths: dict[str, str] = {}
    places: dict[tuple[str, int | None], str] = {}
    devices: dict[str, Volume] = {}
    by_id: dict[str, Volume] = {}
    for volume in volumes:
        if volume.mount_path in paths:
            errors.append(at_key(key, f"[volume {volume.name}] and [volume "
                                      f"{paths[volume.mount_path]}] both mount at "
                                      f"{volume.mount_path}"))
        paths[volume.mount_path] = volume.name
        place = (volume.volume_id, volume.partition)
        if place in places:
            partition = f" partition {volume.partition}" if volume.partition else ""
            errors.append(at_key(key, f"[volume {volume.name}] and [volume {places[place]}] both "
                                      f"mount {volume.volume_id}{partition}: pick one, or give "
                                      "each a different PARTITION"))
        places[place] = volume.name
        earlier = by_id.get(volume.volume_id)
        if earlier is not None and volume.device and earlier.device \
                and volume.device != earlier.device:
            errors.append(at_key(key, f"[volume {volume.name}] attaches {volume.volume_id} at "
                                      f"{volume.device}, [volume {earlier.name}] at "
                                      f"{earlier.device}: a volume attaches at one device"))
        by_id.setdefault(volume.volume_id, volume)
        if volume.device:
            other = devices.get(volume.device)
            if other is not None and other.volume_id != volume.volume_id:
                errors.append(at_key(key, f"[volume {volume.name}] and [volume {other.name}] "
                                          f"both attach at {volume.device}: one volume per "
                                          "device"))
            devices.setdefault(volume.device, volume)


def check_volume_device(section: RawSection, errors: list[str]) -> None:
    """A DEVICE EC2 can attach a data volume at: /dev/sdf…/dev/sdz (or xvdf…), not the root's."""
    key = section.keys.get("DEVICE")
    if key is None:
        return
    letter = key.value.removeprefix("/dev/xvd").removeprefix("/dev/sd")
    if letter in ("a", "b", "c", "d", "e"):
        errors.append(located(key.origin, section, "DEVICE",
                              f"{key.value} is kept for the root and instance-store disks: use "
                              "/dev/sdf … /dev/sdz"))


def key_file_problem(path: Path) -> str | None:
    """Why an SSH private key file is unusable, or None (ssh refuses group/world-readable keys)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"key file {str(path)!r} does not exist"
    except OSError as error:
        return f"key file {str(path)!r}: {error.strerror}"
    if not stat.S_ISREG(mode):
        return f"key file {str(path)!r} is not a file"
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"key file {str(path)!r} is readable by others (mode {stat.S_IMODE(mode):04o});"
            f" run: chmod 600 {path}"
        )
    return None


def section_values(section: RawSection) -> dict[str, Any]:
    schema = SECTION_KEYS[section.kind]
    return {name.lower(): typed(section, name, spec) for name, spec in schema.items()}


def volume_from(section: RawSection) -> Volume:
    return Volume(name=section.name, **section_values(section))


def permission_from(section: RawSection) -> Permission:
    values = section_values(section)
    return Permission(
        name=section.name,
        protocol=values["ip_protocol"],
        from_port=values["from_port"],
        to_port=values["to_port"],
        cidr=values["cidr_ip"],
    )


def plugin_from(section: RawSection, errors: list[str]) -> PluginSpec:
    """The plugin's spec; its class must exist and take these settings (checked by import)."""
    from sclust.plugins.registry import check

    settings = {k.lower(): key.value for k, key in section.keys.items() if k != "SETUP_CLASS"}
    setup_class = section.keys.get("SETUP_CLASS")
    if setup_class is None:  # reported as a missing required key
        return PluginSpec(section.name, "", settings)
    for problem in check(setup_class.value, settings):
        if problem.key is None:
            errors.append(located(setup_class.origin, section, "SETUP_CLASS", problem.message))
        elif problem.key.upper() in section.keys:
            key = section.keys[problem.key.upper()]
            errors.append(located(key.origin, section, key.name, problem.message))
        else:
            errors.append(located(section.origin, section, problem.key.upper(), problem.message))
    return PluginSpec(section.name, setup_class.value, settings)
