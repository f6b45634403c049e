"""`[desktops NAME]` sections -> DesktopsTemplate, checked like cluster templates.

Errors are `FILE:LINE: [desktops NAME] KEY: problem`, every one collected before raising; a
problem inside the STUDENTS roster also names the roster's own line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sclust.config import (
    Config,
    KeyPair,
    Permission,
    PluginSpec,
    at_key,
    did_you_mean,
    key_file_problem,
    located,
    merged_cluster_keys,
    permission_from,
)
from sclust.desktops.kinds import kind_names, kinds
from sclust.errors import ConfigError, SclustError
from sclust.files import expand_path, read_small_text
from sclust.ini import RawKey
from sclust.schema import DESKTOPS_KEYS

KIND = "desktops"


@dataclass(frozen=True)
class Student:
    name: str
    email: str = ""


@dataclass
class DesktopsTemplate:
    """A course: COUNT desktops (one per student when STUDENTS is given) of one AMI and type."""

    name: str
    key: KeyPair
    image_id: str
    instance_type: str
    count: int
    students: list[Student] = field(default_factory=list)
    elastic_ips: bool = True
    volume_size: int | None = None
    permissions: list[Permission] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    login_user: str = "ubuntu"
    auto_stop: str | None = None
    timezone: str = "UTC"
    idle_stop: int | None = None  # seconds without a client before a desktop stops itself
    kind: str = "novnc"  # names in sclust.desktops.kinds, "novnc,jupyter"
    novnc_port: int = 443
    jupyter_port: int = 8888
    novnc_cidr: str = "0.0.0.0/0"
    ssh_cidr: str = "0.0.0.0/0"
    plugins: list[PluginSpec] = field(default_factory=list)
    availability_zone: str | None = None
    subnet_id: str | None = None
    schedule: str | None = None  # SCHEDULE, normalized (sclust.desktops.calendar)
    schedule_lead: int = 900  # seconds before class the desktops start
    schedule_end: str | None = None  # the last day, YYYY-MM-DD
    schedule_role: str | None = None  # an IAM role ARN for the scheduler (default: made)
    budget: float | None = None
    budget_action: str = "warn"

    def student(self, number: int) -> Student | None:
        """The student of desktop NUMBER (1-based), if the roster has one."""
        return self.students[number - 1] if 0 < number <= len(self.students) else None


def leaf_desktops(config: Config) -> list[str]:
    """Desktops templates no other one EXTENDS: the ones meant to be started."""
    sections = config.named(KIND)
    parents = {s.keys["EXTENDS"].value for s in sections.values() if "EXTENDS" in s.keys}
    return [name for name in sections if name not in parents]


def desktops_template(config: Config, name: str, check_key_file: bool = True
                      ) -> DesktopsTemplate:
    """Build `[desktops NAME]` (EXTENDS merged), raising every problem at once."""
    sections = config.named(KIND)
    if name not in sections:
        raise ConfigError(
            f"{config.path}: no [desktops {name}] template{did_you_mean(name, sections)}"
        )
    errors: list[str] = []
    template = build(config, name, errors, check_key_file)
    if errors or template is None:
        raise ConfigError("\n".join(errors))
    return template


def build(config: Config, name: str, errors: list[str], check_key_file: bool
          ) -> DesktopsTemplate | None:
    found = merged_cluster_keys(config, name, errors, kind=KIND)
    if found is None:
        return None
    section, keys = found
    for key_name, spec in DESKTOPS_KEYS.items():
        if spec.required and key_name not in keys:
            errors.append(located(section.origin, section, key_name, "required key missing"))
    if "COUNT" not in keys and "STUDENTS" not in keys:
        errors.append(located(section.origin, section, "COUNT",
                              "give COUNT (how many desktops) or STUDENTS (a roster CSV)"))
    if errors:
        return None

    def get(key_name: str) -> Any:
        key = keys.get(key_name)
        spec = DESKTOPS_KEYS[key_name]
        return spec.default if key is None else spec.parse(key.value)

    key = key_pair(config, keys["KEYNAME"], check_key_file, errors)
    students = read_students(keys["STUDENTS"], errors) if "STUDENTS" in keys else []
    count = get("COUNT") or len(students)
    if students and "COUNT" in keys and count < len(students):
        errors.append(at_key(keys["COUNT"], f"{count} desktops for {len(students)} students "
                                            "in STUDENTS: raise COUNT or drop it"))
    if "STUDENTS" in keys and not students and not any("STUDENTS" in e for e in errors):
        errors.append(at_key(keys["STUDENTS"], "the roster has no students"))
    permissions = [permission_from(s) for s in referenced(config, keys, "PERMISSIONS",
                                                          "permission", errors)]
    plugins = [plugin_spec(s, errors) for s in referenced(config, keys, "PLUGINS", "plugin",
                                                          errors)]
    kind = get("KIND")
    novnc_port, jupyter_port = get("NOVNC_PORT"), get("JUPYTER_PORT")
    names = [part.strip() for part in kind.split(",")]
    unknown = [n for n in names if n not in kinds()]
    if unknown:
        errors.append(at_key(keys["KIND"], f"unknown desktop kind {unknown[0]!r}"
                                           f"{did_you_mean(unknown[0], kinds())} (known: "
                                           f"{', '.join(sorted(kinds()))})"))
    else:
        try:
            kind = ",".join(kind_names(kind))
        except SclustError as error:
            errors.append(at_key(keys["KIND"], str(error)))
    for key_name, port, kind_name in (("NOVNC_PORT", novnc_port, "novnc"),
                                      ("JUPYTER_PORT", jupyter_port, "jupyter")):
        if key_name in keys:  # the defaults are fine
            problem = ("22 is SSH's port" if port == 22
                       else kinds()[kind_name].port_problem(port))
            if problem:
                errors.append(at_key(keys[key_name], problem))
    if {"novnc", "jupyter"} <= set(names) and novnc_port == jupyter_port:
        where = keys.get("JUPYTER_PORT") or keys.get("NOVNC_PORT") or keys["KIND"]
        errors.append(at_key(where, f"noVNC and JupyterLab both on port {novnc_port}: give "
                                    "each its own (NOVNC_PORT, JUPYTER_PORT)"))
    if "TIMEZONE" in keys and "AUTO_STOP" not in keys and "SCHEDULE" not in keys:
        errors.append(at_key(keys["TIMEZONE"], "only AUTO_STOP and SCHEDULE use TIMEZONE: set "
                                               "one of them"))
    for key_name in ("SCHEDULE_LEAD", "SCHEDULE_END", "SCHEDULE_ROLE"):
        if key_name in keys and "SCHEDULE" not in keys:
            errors.append(at_key(keys[key_name], f"{key_name} needs SCHEDULE (the class hours)"))
    if "SCHEDULE_LEAD" in keys and get("SCHEDULE_LEAD") > 12 * 3600:
        errors.append(at_key(keys["SCHEDULE_LEAD"], "at most 12h before class"))
    if "SCHEDULE_ROLE" in keys and not get("SCHEDULE_ROLE").startswith("arn:aws"):
        errors.append(at_key(keys["SCHEDULE_ROLE"], "an IAM role ARN (arn:aws:iam::ACCOUNT:role/"
                                                    "NAME)"))
    if "BUDGET_ACTION" in keys and "BUDGET" not in keys:
        errors.append(at_key(keys["BUDGET_ACTION"], "BUDGET_ACTION needs BUDGET (the cap)"))
    if errors or key is None:
        return None
    return DesktopsTemplate(
        name=name, key=key, image_id=get("IMAGE_ID"), instance_type=get("INSTANCE_TYPE"),
        count=count, students=students, elastic_ips=get("ELASTIC_IPS"),
        volume_size=get("VOLUME_SIZE"), permissions=permissions, tags=get("TAGS"),
        login_user=get("LOGIN_USER"), auto_stop=get("AUTO_STOP"), timezone=get("TIMEZONE"),
        idle_stop=get("IDLE_STOP"),
        kind=kind, novnc_port=novnc_port, jupyter_port=jupyter_port,
        novnc_cidr=get("NOVNC_CIDR"), ssh_cidr=get("SSH_CIDR"),
        plugins=plugins, availability_zone=get("AVAILABILITY_ZONE"),
        subnet_id=get("SUBNET_ID"), schedule=get("SCHEDULE"),
        schedule_lead=get("SCHEDULE_LEAD"), schedule_end=get("SCHEDULE_END"),
        schedule_role=get("SCHEDULE_ROLE"), budget=get("BUDGET"),
        budget_action=get("BUDGET_ACTION"),
    )


def plugin_spec(section: Any, errors: list[str]) -> PluginSpec:
    """The [plugin] a desktops template names (its settings are the plugin API's to check)."""
    settings = {k.lower(): key.value for k, key in section.keys.items() if k != "SETUP_CLASS"}
    return PluginSpec(section.name, section.keys["SETUP_CLASS"].value, settings)


def key_pair(config: Config, keyname: RawKey, check_key_file: bool, errors: list[str]
             ) -> KeyPair | None:
    sections = config.named("key")
    if keyname.value not in sections:
        errors.append(at_key(keyname, f"no [key {keyname.value}]"
                                      f"{did_you_mean(keyname.value, sections)}"))
        return None
    key = config.key_pair(keyname.value)
    problem = key_file_problem(key.location) if check_key_file else None
    if problem:
        origin = sections[key.name].keys["KEY_LOCATION"].origin
        errors.append(located(origin, sections[key.name], "KEY_LOCATION", problem))
    return key


def referenced(config: Config, keys: dict[str, RawKey], key_name: str, kind: str,
               errors: list[str]) -> list[Any]:
    """The [KIND x] sections a list key names; unknown names are errors with a hint."""
    if key_name not in keys:
        return []
    available = config.named(kind)
    found = []
    for item in DESKTOPS_KEYS[key_name].parse(keys[key_name].value):
        if item in available:
            found.append(available[item])
        else:
            errors.append(at_key(keys[key_name], f"no [{kind} {item}]"
                                                 f"{did_you_mean(item, available)}"))
    return found


def roster_path(key: RawKey) -> Path:
    """STUDENTS is relative to the config file that names it (ValueError if unusable)."""
    path = expand_path(key.value)
    return path if path.is_absolute() else Path(key.origin.path).parent / path


def read_students(key: RawKey, errors: list[str]) -> list[Student]:
    """A roster CSV: `name, e-mail` per line; a header line and blank lines are skipped."""
    try:
        path = roster_path(key)
        text = read_small_text(path, "roster").removeprefix("\ufeff")  # spreadsheets add a BOM
    except FileNotFoundError:
        errors.append(at_key(key, f"roster {key.value!r} does not exist"))
        return []
    except ValueError as error:
        errors.append(at_key(key, str(error)))
        return []
    students: list[Student] = []
    seen: dict[str, int] = {}
    lines = text.splitlines()
    # Spreadsheets in many locales export with `;`: read it as the separator it is.
    dialect = "excel"
    sample = "\n".join(lines[:20])
    if sample.count(";") > sample.count(","):
        dialect = "excel-semicolon"
    for line, row in enumerate(csv.reader(lines, dialect=dialect), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if line == 1 and cells[0].lower() in ("name", "student", "nombre"):
            continue
        where = f"{path}:{line}"
        name, email = cells[0], (cells[1] if len(cells) > 1 else "")
        if not name:
            errors.append(at_key(key, f"{where}: no name"))
            continue
        if email and "@" not in email:
            errors.append(at_key(key, f"{where}: {email!r} is not an e-mail address"))
            continue
        if name.lower() in seen:
            errors.append(at_key(key, f"{where}: {name!r} is already on line "
                                      f"{seen[name.lower()]}"))
            continue
        if len(name) > 200:
            errors.append(at_key(key, f"{where}: a name of {len(name)} characters (EC2 tags "
                                      "hold 256)"))
            continue
        seen[name.lower()] = line
        students.append(Student(name, email))
    return students


class ExcelSemicolon(csv.excel):
    delimiter = ";"


csv.register_dialect("excel-semicolon", ExcelSemicolon)
