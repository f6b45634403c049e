"""The utility commands' side of the Cloud seam (StarCluster's listinstances, listvolumes,
ebsimage…): what they ask of a cloud beyond cluster operations, in the project's own types.

`sclust.ec2admin.EC2Admin` implements it; cluster operations never need it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sclust.cloud import Cloud, Instance, Volume


@dataclass
class KeyPairInfo:
    name: str
    fingerprint: str
    key_type: str = ""


@dataclass
class Zone:
    name: str
    state: str
    region: str


@dataclass
class SpotRequest:
    request_id: str
    state: str
    price: str
    instance_type: str
    instance_id: str | None
    zone: str | None
    created: datetime | None


@dataclass
class SpotPrice:
    timestamp: datetime
    zone: str
    price: float


@dataclass
class ImageInfo:
    """An AMI with what listimages/showimage/removeimage need."""

    image_id: str
    name: str
    state: str
    description: str = ""
    root_device_name: str = ""
    created: str = ""
    snapshots: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    public: bool = False


class CloudAdmin(Cloud, Protocol):
    """A Cloud that also answers the utility commands."""

    def list_key_pairs(self) -> list[KeyPairInfo]: ...
    def delete_key_pair(self, name: str) -> None: ...
    def list_regions(self) -> list[tuple[str, str]]: ...
    def list_zones(self) -> list[Zone]: ...
    def list_instances(self, include_terminated: bool = True) -> list[Instance]: ...
    def list_spot_requests(self) -> list[SpotRequest]: ...
    def spot_price_history(self, instance_type: str, days: int, zone: str | None,
                           product: str) -> list[SpotPrice]: ...
    def console_output(self, instance_id: str) -> str: ...
    def create_volume(self, size: int, zone: str, tags: dict[str, str]) -> Volume: ...
    def list_volumes(self) -> list[Volume]: ...
    def delete_volume(self, volume_id: str) -> None: ...
    def detach_volume(self, volume_id: str, instance_id: str | None = None,
                      force: bool = False) -> None: ...
    def grow_volume(self, volume_id: str, size: int, timeout: float = 600) -> None: ...
    def wait_for_volume(self, volume_id: str, state: str, timeout: float = 300,
                        attached: bool | None = None) -> Volume: ...
    def list_images(self) -> list[ImageInfo]: ...
    def image_info(self, image_id: str) -> ImageInfo: ...
    def create_image(self, instance_id: str, name: str, description: str, reboot: bool,
                     tags: dict[str, str]) -> str: ...
    def wait_for_image(self, image_id: str, timeout: float,
                       on_poll: Callable[[str, float], None] | None = None) -> ImageInfo: ...
    def deregister_image(self, image_id: str) -> None: ...
    def delete_snapshot(self, snapshot_id: str) -> None: ...
