"""A course of desktops as recorded on EC2: tags on its instances, Elastic IPs and group.

The course's settings are JSON tags on its security group (as a cluster's); each desktop's
number, name and student are tags on its instance and on its Elastic IP. Passwords are never
on EC2 (see passwords.py).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from sclust.cloud import Address as ElasticIp
from sclust.cloud import Instance
from sclust.errors import SclustError
from sclust.state import TAG_VERSION, json_from_tags, json_tags

SCHEMA_VERSION = 1
TAG_COURSE = "sclust:desktops"
TAG_NUMBER = "sclust:desktop-number"
TAG_NUMBERS = "sclust:desktop-numbers"  # on a launch of several: number = list[launch index]
TAG_STUDENT = "sclust:student"
TAG_SETUP = "sclust:desktop-setup"  # "1" once the desktop was set up over SSH
TAG_RUN = "sclust:run-seconds"  # "SECONDS UNTIL_EPOCH": running time counted before UNTIL
STOPPED_AT = re.compile(r"\((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:GMT|UTC)\)")


def label(number: int) -> str:
    """Desktop numbers as people write them: 01 … 99, then 100 …"""
    return f"{number:02d}"


def parse_numbers(text: str) -> list[int]:
    """`1,3-5` -> [1, 3, 4, 5] (the numbers a command acts on)."""
    numbers: set[int] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        first, _, last = item.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise SclustError(f"{item!r} is not a desktop number or range (e.g. 1,3-5)") from None
        if low < 1 or high < low:
            raise SclustError(f"{item!r}: numbers start at 1, ranges go up (3-5)")
        numbers.update(range(low, high + 1))
    return sorted(numbers)


@dataclass
class CourseSettings:
    """What later commands need without the [desktops] template (kept on the group)."""

    template: str
    keyname: str
    image_id: str
    instance_type: str
    elastic_ips: bool = True
    volume_size: int | None = None
    login_user: str = "ubuntu"
    auto_stop: str | None = None
    timezone: str = "UTC"
    idle_stop: int | None = None  # IDLE_STOP in seconds
    novnc_port: int = 443
    kind: str = "novnc"  # the desktop kinds, "novnc,jupyter" (sclust.desktops.kinds)
    jupyter_port: int = 8888
    zone: str | None = None
    subnet_id: str | None = None
    vpc_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created: str = ""
    schedule: str | None = None  # SCHEDULE (class hours), normalized
    schedule_lead: int = 900
    schedule_end: str | None = None
    schedule_role: str | None = None
    budget: float | None = None
    budget_action: str = "warn"
    version: int = SCHEMA_VERSION

    def to_tags(self) -> dict[str, str]:
        return json_tags(asdict(self), SCHEMA_VERSION)  # a cluster's layout

    @classmethod
    def from_tags(cls, tags: dict[str, str], course: str) -> CourseSettings:
        if int(tags.get(TAG_VERSION, "0") or 0) > SCHEMA_VERSION:
            raise SclustError(f"desktops {course!r} were made by a newer sclust: upgrade it")
        data = json_from_tags(tags)
        if data is None:
            raise SclustError(f"desktops {course!r}: the settings tags on its security group "
                              "are missing or damaged")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def scheduled(self) -> bool:
        """Has the course schedules in the cloud (a calendar, or a budget that stops it)?"""
        return bool(self.schedule) or (self.budget is not None
                                       and self.budget_action == "stop")

    @property
    def created_at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.created) if self.created else None
        except ValueError:
            return None


@dataclass
class Address:
    """An Elastic IP sclust allocated for desktop NUMBER."""

    allocation_id: str
    public_ip: str
    number: int | None
    instance_id: str | None
    association_id: str | None


@dataclass
class Desktop:
    """One desktop (instance) of a course."""

    number: int
    instance_id: str
    state: str
    student: str | None
    instance_type: str
    public_ip: str | None
    private_ip: str | None
    launch_time: datetime | None
    setup_done: bool
    run_seconds: float = 0.0  # running time of earlier runs (counted at each start)
    counted_until: float = 0.0  # epoch up to which run_seconds counts
    stopped_at: datetime | None = None
    elastic_ip: Address | None = None

    @property
    def name(self) -> str:
        return label(self.number)

    @property
    def address(self) -> str | None:
        """Where students and sclust reach it: the Elastic IP, else the public address."""
        if self.elastic_ip is not None:
            return self.elastic_ip.public_ip
        return self.public_ip

    def running_seconds(self, now: datetime | None = None) -> float:
        """Seconds this desktop has run: earlier runs plus the current one."""
        now = now or datetime.now(timezone.utc)
        total = self.run_seconds
        if self.state == "running" and self.launch_time is not None:
            since = max(self.launch_time.timestamp(), self.counted_until)
            total += max(0.0, now.timestamp() - since)
        return total

    def last_run_seconds(self) -> float:
        """The run that ended at the last stop (to add to run_seconds when starting again)."""
        if self.stopped_at is None or self.launch_time is None:
            return 0.0
        since = max(self.launch_time.timestamp(), self.counted_until)
        return max(0.0, self.stopped_at.timestamp() - since)


@dataclass
class Course:
    """A course as found on EC2."""

    name: str
    group_id: str | None
    settings: CourseSettings | None
    desktops: list[Desktop] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)  # the course's Elastic IPs
    addresses_in_region: int = 0  # every Elastic IP of the account in this region

    def by_number(self) -> dict[int, Desktop]:
        return {d.number: d for d in self.desktops}

    def address_for(self, number: int) -> Address | None:
        return next((a for a in self.addresses if a.number == number), None)

    def require_settings(self) -> CourseSettings:
        if self.settings is None:
            raise SclustError(f"desktops {self.name!r} have no security group with their "
                              f"settings: remove them with `sclust desktops terminate "
                              f"{self.name}`")
        return self.settings


def desktop_from(instance: Instance) -> Desktop:
    tags = instance.tags
    number = tags.get(TAG_NUMBER)
    if number is None or not number.isdigit():
        # Named later by CreateTags; until then the launch's list and index tell.
        listed = [n for n in tags.get(TAG_NUMBERS, "").split(",") if n.isdigit()]
        index = instance.launch_index
        number = listed[index] if index < len(listed) else "0"
    run, _, until = tags.get(TAG_RUN, "0 0").partition(" ")
    stopped = STOPPED_AT.search(instance.state_reason)
    stopped_at = None
    if stopped and instance.state in ("stopped", "stopping"):
        stopped_at = datetime.strptime(stopped.group(1), "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=timezone.utc)
    return Desktop(
        number=int(number), instance_id=instance.instance_id,
        state=instance.state, student=tags.get(TAG_STUDENT),
        instance_type=instance.instance_type, public_ip=instance.public_ip,
        private_ip=instance.private_ip, launch_time=instance.launch_time,
        setup_done=tags.get(TAG_SETUP) == "1", run_seconds=float_or_zero(run),
        counted_until=float_or_zero(until), stopped_at=stopped_at,
    )


def float_or_zero(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def address_from(address: ElasticIp) -> Address:
    number = address.tags.get(TAG_NUMBER, "")
    return Address(
        allocation_id=address.allocation_id, public_ip=address.public_ip,
        number=int(number) if number.isdigit() else None,
        instance_id=address.instance_id, association_id=address.association_id,
    )
