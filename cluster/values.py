"""Parsers for config values: each turns a string into a typed value or raises ValueError
with a message meant for the user (the caller adds file, line, section and key)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from sclust.ini import split_list

Parser = Callable[[str], Any]

TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}
PROTOCOLS = ("tcp", "udp", "icmp", "all")
INSTANCE_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
NODE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")


def as_str(value: str) -> str:
    if not value:
        raise ValueError("is empty")
    return value


def as_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not a boolean (use True or False)")


INTEGER = re.compile(r"^[+-]?[0-9]+$")
DECIMAL = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")
HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?(?::[0-9]{1,5})?$")


def as_int(minimum: int | None = None, maximum: int | None = None) -> Parser:
    def parse(value: str) -> int:
        # Plain digits only: Python's int() also takes `1_000` and other spellings.
        if not INTEGER.match(value.strip()):
            raise ValueError(f"{value!r} is not an integer")
        number = int(value)
        if minimum is not None and number < minimum:
            raise ValueError(f"{number} is less than {minimum}")
        if maximum is not None and number > maximum:
            raise ValueError(f"{number} is more than {maximum}")
        return number

    return parse


def as_decimal(value: str) -> float:
    """A plain decimal number: `0.25`, `3`; never `nan`, `inf`, `1e9` or `1_000`."""
    if not DECIMAL.match(value.strip()):
        raise ValueError(f"{value!r} is not a number (e.g. 0.25)")
    return float(value)


def as_positive_float(value: str) -> float:
    number = as_decimal(value)
    if not number > 0:
        raise ValueError(f"{value} must be greater than 0")
    return number


def as_list(value: str) -> list[str]:
    return split_list(value)


def as_cidr(value: str) -> str:
    if "/" not in value:
        raise ValueError(f"{value!r} is not a CIDR block (e.g. 203.0.113.0/24 or 0.0.0.0/0)")
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not a valid CIDR block") from None


def as_protocol(value: str) -> str:
    lowered = value.lower()
    if lowered not in PROTOCOLS:
        raise ValueError(f"unknown protocol {value!r} (use one of {', '.join(PROTOCOLS)})")
    return lowered


def as_port(value: str) -> int:
    # -1 is EC2's "all ICMP types/codes"; the protocol check narrows it further.
    return as_int(-1, 65535)(value)


def as_choice(*choices: str) -> Parser:
    def parse(value: str) -> str:
        lowered = value.lower()
        if lowered not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return lowered

    return parse


def as_instance_type(value: str) -> str:
    # No hard-coded table (StarCluster's rejected new types): only the shape is checked.
    if not INSTANCE_TYPE_PATTERN.match(value):
        raise ValueError(f"{value!r} is not an instance type (e.g. t3.medium)")
    return value


def as_image_id(value: str) -> str:
    if not re.match(r"^ami-[0-9a-zA-Z]+$", value):
        raise ValueError(f"{value!r} is not an AMI id (ami-…)")
    return value


def as_volume_id(value: str) -> str:
    if not re.match(r"^vol-[0-9a-zA-Z]+$", value):
        raise ValueError(f"{value!r} is not a volume id (vol-…)")
    return value


MOUNT_PATH = re.compile(r"^(?:/[A-Za-z0-9._+@,=-]+)+/?$")


def as_mount_path(value: str) -> str:
    if not value.startswith("/") or value == "/":
        raise ValueError(f"{value!r} must be an absolute path other than /")
    # It lands in fstab, exports and scripts: plain path characters only.
    if not MOUNT_PATH.match(value) or any(p in (".", "..") for p in value.split("/")):
        raise ValueError(f"{value!r} may hold only letters, digits and ._+@,=- between /")
    return value.rstrip("/")


def as_device(value: str) -> str:
    """An EBS attachment name as StarCluster took it (/dev/sdX), or its xvd spelling."""
    if not re.match(r"^/dev/(sd|xvd)[a-z]$", value):
        raise ValueError(f"{value!r} is not a device name (/dev/sdf … /dev/sdz)")
    return value


def as_instance_type_list(value: str) -> list[str]:
    return [as_instance_type(item) for item in split_list(value)]


def as_alias(value: str) -> str:
    if not NODE_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a valid host name")
    return value


def as_time_of_day(value: str) -> str:
    """`18:00` (24-hour clock) -> "18:00"."""
    match = re.match(r"^([01]?\d|2[0-3]):([0-5]\d)$", value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day (HH:MM, 24-hour, e.g. 18:00)")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def as_duration(value: str) -> int:
    """`45m`, `1h30m`, `90s`, `2h` -> seconds (at least a minute, at most a week)."""
    text = value.strip().lower().replace(" ", "")
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not text or not match:
        raise ValueError(f"{value!r} is not a duration (e.g. 45m, 1h30m, 90s)")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if not 60 <= total <= 7 * 86400:
        raise ValueError(f"{value!r}: a duration from 1m to 7 days")
    return total


def as_timezone(value: str) -> str:
    """An IANA zone name (Europe/Madrid, UTC), checked against this machine's zone database."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a time zone (e.g. Europe/Madrid, UTC)") from None
    return value


def as_date(value: str) -> str:
    """`2026-12-18` (ISO) -> "2026-12-18"."""
    from datetime import date

    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def as_tags(value: str) -> dict[str, str]:
    """`course=em2024, owner=ana` -> {"course": "em2024", "owner": "ana"} (EC2 tag rules)."""
    tags: dict[str, str] = {}
    for item in split_list(value):
        key, sep, tag_value = item.partition("=")
        key, tag_value = key.strip(), tag_value.strip()
        if not sep or not key:
            raise ValueError(f"{item!r}: expected KEY=VALUE")
        if key.lower().startswith(("aws:", "sclust:")) or key == "Name":
            raise ValueError(f"{key!r}: aws:, sclust: and Name are set by sclust")
        if len(key) > 128 or len(tag_value) > 256:
            raise ValueError(f"{item!r}: EC2 allows 128-character keys and 256-character values")
        tags[key] = tag_value
    return tags


def as_port_number(value: str) -> int:
    return as_int(1, 65535)(value)


def as_price(value: str) -> float:
    """A price in dollars: 0 or more."""
    try:
        number = as_decimal(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a price (e.g. 0.526)") from None
    if number < 0:
        raise ValueError(f"{value} is negative")
    return number


def as_region(value: str) -> str:
    """A region name (eu-west-1; OpenStack's RegionOne): letters, digits and `-`."""
    if not REGION.match(value):
        raise ValueError(f"{value!r} is not a region name (e.g. eu-west-1)")
    return value


def as_host(value: str) -> str:
    """A host name, with an optional :port (ec2.eu-west-1.amazonaws.com)."""
    if not HOST.match(value):
        raise ValueError(f"{value!r} is not a host name (e.g. ec2.eu-west-1.amazonaws.com)")
    return value


def as_path(value: str) -> str:
    """A file path as written (~ and $VAR expanded later); it must be expandable."""
    from sclust.files import expand_path

    as_str(value)
    expand_path(value)
    return value
