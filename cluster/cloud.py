"""The Cloud seam: what cluster and desktop operations ask of a cloud, in the project's types.

`sclust.ec2.EC2` is the implementation (the only module that imports boto3). Operations hold a
`Cloud` and never see a wire dict or a client: a second cloud implements this Protocol and
`connect.open_cloud` picks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sclust.errors import CloudError

# States of an instance that still exists (and costs, or will again).
LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")


class CapacityError(CloudError):
    """The cloud has no capacity for this type in this zone (worth trying elsewhere)."""


@dataclass
class Instance:
    """One instance as the cloud describes it; `tags` are the cloud's own, still untrusted."""

    instance_id: str
    state: str
    instance_type: str
    image_id: str
    zone: str
    private_ip: str | None
    public_ip: str | None
    spot: bool
    launch_time: datetime | None
    launch_index: int = 0
    root_device_type: str = "ebs"
    state_reason: str = ""  # e.g. "User initiated (2026-11-30 10:00:00 GMT)"
    tags: dict[str, str] = field(default_factory=dict)
    security_groups: tuple[str, ...] = ()  # group ids
    key_name: str = ""
    subnet_id: str = ""

    @property
    def address(self) -> str | None:
        """Where sclust reaches it: the public address, else the private one."""
        return self.public_ip or self.private_ip


@dataclass
class Subnet:
    subnet_id: str
    zone: str
    vpc_id: str
    public_ips: bool  # does it give instances a public address unless told otherwise


@dataclass
class SecurityGroup:
    group_id: str
    vpc_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    name: str = ""


@dataclass
class Rule:
    """One ingress rule: PROTOCOL ("tcp", "udp", "icmp" or "all") FROM..TO from CIDR, or from
    the members of SOURCE_GROUP (a group id; "self" for the group being created)."""

    protocol: str = "all"
    from_port: int | None = None
    to_port: int | None = None
    cidr: str | None = None
    source_group: str | None = None
    description: str = ""


@dataclass
class Attachment:
    instance_id: str
    device: str


@dataclass
class Volume:
    """An EBS volume as the cloud describes it."""

    volume_id: str
    zone: str
    state: str
    size: int
    attachments: list[Attachment] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None


@dataclass
class Address:
    """An Elastic IP."""

    allocation_id: str
    public_ip: str
    instance_id: str | None = None
    association_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Image:
    image_id: str
    name: str
    root_device_name: str  # "/dev/sda1" (Ubuntu), "/dev/xvda" (Amazon Linux)…


@dataclass
class LaunchSpec:
    """COUNT instances of one type and image, launched together.

    TAGS go on every instance (and VOLUME_TAGS on their volumes) at launch; EACH_TAGS, one
    dict per instance in launch-index order, are what tells them apart (a Name, an alias):
    the cloud adds them right after the launch.
    """

    image_id: str
    instance_type: str
    count: int
    keyname: str
    subnet_id: str
    security_group_id: str
    tags: dict[str, str] = field(default_factory=dict)
    volume_tags: dict[str, str] = field(default_factory=dict)
    each_tags: list[dict[str, str]] = field(default_factory=list)
    user_data: str | None = None
    root_volume_size: int | None = None  # GiB, on the image's own root device
    spot_bid: float | None = None
    public_ip: bool | None = None  # None: the subnet's default
    stop_on_shutdown: bool = False  # a shutdown from inside stops (never terminates)


class Cloud(Protocol):
    """A region of a cloud as sclust uses it."""

    region: str

    # ---- key pairs
    def key_fingerprint(self, name: str) -> str | None: ...
    def import_key_pair(self, name: str, public_key: bytes) -> None: ...
    def create_key_pair(self, name: str) -> str: ...

    # ---- network, security groups
    def subnet_for(self, subnet_id: str | None, zone: str | None) -> Subnet: ...
    def default_subnets(self, zone: str | None = None) -> list[Subnet]: ...
    def create_security_group(self, name: str, description: str, vpc_id: str | None,
                              tags: dict[str, str], rules: list[Rule]) -> str: ...
    def ensure_ingress(self, group_id: str, rules: list[Rule]) -> int: ...
    def find_security_groups(self, tag: str, value: str | None = None
                             ) -> list[SecurityGroup]: ...
    def find_groups_named(self, prefix: str) -> list[SecurityGroup]: ...
    def default_security_group(self, vpc_id: str) -> str: ...
    def delete_security_group(self, group_id: str, timeout: float = 300) -> None: ...

    # ---- tags
    def create_tags(self, resource_ids: list[str], tags: dict[str, str]) -> None: ...
    def delete_tags(self, resource_ids: list[str], keys: list[str]) -> None: ...

    # ---- images, instances
    def describe_image(self, image_id: str) -> Image: ...
    def launch(self, spec: LaunchSpec) -> list[Instance]: ...
    def describe_instances(self, instance_ids: list[str]) -> list[Instance]: ...
    def find_instances(self, tag: str, value: str | None = None) -> list[Instance]: ...
    def instances_in_group(self, group_id: str) -> list[Instance]: ...
    def user_data(self, instance_id: str) -> str | None: ...
    def start_instances(self, instance_ids: list[str]) -> None: ...
    def stop_instances(self, instance_ids: list[str]) -> None: ...
    def reboot_instances(self, instance_ids: list[str]) -> None: ...
    def terminate_instances(self, instance_ids: list[str]) -> None: ...
    def set_security_groups(self, instance_id: str, group_ids: list[str]) -> None: ...
    def cancel_spot_requests(self, tag: str, value: str) -> int: ...
    def wait_for_instances(
        self, instance_ids: list[str], state: str, timeout: float, *,
        need_address: bool = False, max_interval: float = 5.0,
        name: Callable[[Instance], str] | None = None,
        on_poll: Callable[[int, int], None] | None = None,
    ) -> list[Instance]: ...

    # ---- volumes
    def describe_volumes(self, volume_ids: list[str]) -> list[Volume]: ...
    def attach_volume(self, volume_id: str, instance_id: str, device: str) -> None: ...

    # ---- Elastic IPs, quotas
    def describe_addresses(self) -> list[Address]: ...
    def allocate_address(self, tags: dict[str, str]) -> Address: ...
    def associate_address(self, address: Address, instance_id: str) -> None: ...
    def release_address(self, address: Address) -> None: ...
    def address_quota(self) -> int: ...
