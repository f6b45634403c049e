"""Parsers for config values: each turns a string into a typed value or raises ValueError
with a message meant for the user (the caller adds file, line, section and key)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from cluster.ini import split_list

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


def as_int(minimum: int | None = None, maximum: int | None = None) -> Parser:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
        if minimum is not None and number < minimum:
            raise ValueError(f"{number} is less than {minimum}")
        if maximum is not None and number > maximum:
            raise ValueError(f"{number} is more than {maximum}")
        return number

    return parse


def as_positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
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


def as_mount_path(value: str) -> str:
    if not value.startswith("/") or value == "/":
        raise ValueError(f"{value!r} must be an absolute path other than /")
    return value.rstrip("/")


def as_device(value: str) -> str:
    if not re.match(r"^/dev/[a-z0-9]+$", value):
        raise ValueError(f"{value!r} is not a device name (e.g. /dev/sdf)")
    return value


def as_instance_type_list(value: str) -> list[str]:
    return [as_instance_type(item) for item in split_list(value)]


def as_alias(value: str) -> str:
    if not NODE_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a valid host name")
    return value
