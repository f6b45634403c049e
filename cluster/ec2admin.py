"""EC2 for the utility commands (`sclust.cloudadmin.CloudAdmin`): key pairs, regions, zones,
every instance, spot requests and prices, consoles, volumes and images. Built on `sclust.ec2`
(its client and error translation); no botocore here."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sclust.cloud import Instance, Volume
from sclust.cloudadmin import ImageInfo, KeyPairInfo, SpotPrice, SpotRequest, Zone
from sclust.ec2 import EC2, ec2_errors, instance_from, tag_list, tags_of, volume_from
from sclust.errors import CloudError, WaitTimeout


def image_from(image: dict[str, Any]) -> ImageInfo:
    return ImageInfo(
        image_id=image["ImageId"], name=image.get("Name", ""), state=image.get("State", ""),
        description=image.get("Description") or "",
        root_device_name=image.get("RootDeviceName") or "",
        created=str(image.get("CreationDate") or ""),
        snapshots=[m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", [])
                   if m.get("Ebs", {}).get("SnapshotId")],
        tags=tags_of(image), public=bool(image.get("Public", False)),
    )


class EC2Admin(EC2):
    """EC2 with the calls the utility commands make."""

    # ---- key pairs, regions, zones ---------------------------------------------------------

    def list_key_pairs(self) -> list[KeyPairInfo]:
        with ec2_errors("listing key pairs"):
            pairs = self.client.describe_key_pairs()["KeyPairs"]
        return sorted((KeyPairInfo(p["KeyName"], p.get("KeyFingerprint", ""),
                                   p.get("KeyType", "")) for p in pairs), key=lambda k: k.name)

    def delete_key_pair(self, name: str) -> None:
        with ec2_errors(f"deleting key pair {name!r}"):
            self.client.delete_key_pair(KeyName=name)

    def list_regions(self) -> list[tuple[str, str]]:
        with ec2_errors("listing regions"):
            regions = self.client.describe_regions()["Regions"]
        return sorted((r["RegionName"], r.get("Endpoint", "")) for r in regions)

    def list_zones(self) -> list[Zone]:
        with ec2_errors("listing availability zones"):
            zones = self.client.describe_availability_zones()["AvailabilityZones"]
        return sorted((Zone(z["ZoneName"], z.get("State", ""), z.get("RegionName", self.region))
                       for z in zones), key=lambda z: z.name)

    # ---- instances, spot, console ----------------------------------------------------------

    def list_instances(self, include_terminated: bool = True) -> list[Instance]:
        with ec2_errors("listing instances"):
            reservations = self._paginate("describe_instances", "Reservations")
        instances = [instance_from(i) for r in reservations for i in r["Instances"]]
        if not include_terminated:
            instances = [i for i in instances if i.state != "terminated"]
        return sorted(instances, key=lambda i: (i.launch_time is None, i.launch_time or 0,
                                                i.instance_id))

    def list_spot_requests(self) -> list[SpotRequest]:
        with ec2_errors("listing spot requests"):
            requests = self.client.describe_spot_instance_requests()["SpotInstanceRequests"]
        return [SpotRequest(
            request_id=r["SpotInstanceRequestId"], state=r.get("State", ""),
            price=str(r.get("SpotPrice", "")),
            instance_type=r.get("LaunchSpecification", {}).get("InstanceType", ""),
            instance_id=r.get("InstanceId"),
            zone=r.get("LaunchedAvailabilityZone")
            or r.get("LaunchSpecification", {}).get("Placement", {}).get("AvailabilityZone"),
            created=r.get("CreateTime")) for r in requests]

    def spot_price_history(self, instance_type: str, days: int, zone: str | None,
                           product: str) -> list[SpotPrice]:
        start = datetime.now(timezone.utc) - timedelta(days=days)
        kwargs: dict[str, Any] = {"InstanceTypes": [instance_type], "StartTime": start,
                                  "ProductDescriptions": [product]}
        if zone:
            kwargs["AvailabilityZone"] = zone
        with ec2_errors(f"reading the spot price history of {instance_type}"):
            history = self._paginate("describe_spot_price_history", "SpotPriceHistory",
                                     **kwargs)
        prices = [SpotPrice(h["Timestamp"], h.get("AvailabilityZone", ""),
                            float(h["SpotPrice"])) for h in history]
        return sorted(prices, key=lambda p: p.timestamp)

    def console_output(self, instance_id: str) -> str:
        with ec2_errors(f"reading the console of {instance_id}"):
            reply = self.client.get_console_output(InstanceId=instance_id, Latest=True)
        text = reply.get("Output") or ""
        try:  # EC2 sends it base64-encoded; boto3 usually decodes it already
            decoded = base64.b64decode(text, validate=True).decode(errors="replace")
            return decoded if decoded.isprintable() or "\n" in decoded else text
        except (binascii.Error, ValueError):
            return text

    # ---- volumes ---------------------------------------------------------------------------

    def create_volume(self, size: int, zone: str, tags: dict[str, str]) -> Volume:
        with ec2_errors(f"creating a {size} GiB volume in {zone}"):
            reply = self.client.create_volume(
                Size=size, AvailabilityZone=zone, VolumeType="gp3",
                **({"TagSpecifications": [{"ResourceType": "volume", "Tags": tag_list(tags)}]}
                   if tags else {}))
        volume = volume_from(reply)
        volume.tags = {**tags, **volume.tags}
        return volume

    def list_volumes(self) -> list[Volume]:
        with ec2_errors("listing volumes"):
            volumes = self._paginate("describe_volumes", "Volumes")
        return sorted((volume_from(v) for v in volumes),
                      key=lambda v: (v.created is None, v.created or 0, v.volume_id))

    def delete_volume(self, volume_id: str) -> None:
        with ec2_errors(f"deleting {volume_id}"):
            self.client.delete_volume(VolumeId=volume_id)

    def detach_volume(self, volume_id: str, instance_id: str | None = None,
                      force: bool = False) -> None:
        """Detach VOLUME_ID (from INSTANCE_ID: moto needs it named; EC2 does not)."""
        with ec2_errors(f"detaching {volume_id}"):
            self.client.detach_volume(VolumeId=volume_id, Force=force,
                                      **({"InstanceId": instance_id} if instance_id else {}))

    def grow_volume(self, volume_id: str, size: int, timeout: float = 600) -> None:
        """ModifyVolume to SIZE, then wait until the instance can see it (the modification
        is `optimizing` or `completed`): only then can a file system grow into it."""
        with ec2_errors(f"growing {volume_id} to {size} GiB"):
            self.client.modify_volume(VolumeId=volume_id, Size=size)
        deadline = time.monotonic() + timeout
        interval = 1.0
        while True:
            with ec2_errors(f"reading the modification of {volume_id}"):
                changes = self.client.describe_volumes_modifications(
                    VolumeIds=[volume_id]).get("VolumesModifications", [])
            states = {c.get("ModificationState") for c in changes
                      if c.get("TargetSize") == size}
            if states & {"optimizing", "completed"} or not changes:
                return
            if "failed" in states:
                raise CloudError(f"EC2 failed to grow {volume_id} to {size} GiB")
            if time.monotonic() > deadline:
                raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {volume_id} "
                                  f"to grow (modification {', '.join(map(str, states))})")
            self.sleep(interval)
            interval = min(interval * 1.5, 10)

    def wait_for_volume(self, volume_id: str, state: str, timeout: float = 300,
                        attached: bool | None = None) -> Volume:
        """Poll until VOLUME_ID is in STATE (and attached, or not, when ATTACHED says)."""
        deadline = time.monotonic() + timeout
        interval = 0.5
        while True:
            volume = self.describe_volumes([volume_id])[0]
            if volume.state == state and (attached is None
                                          or bool(volume.attachments) == attached):
                return volume
            if volume.state == "error":
                raise CloudError(f"volume {volume_id} is in state error")
            if time.monotonic() > deadline:
                raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {volume_id} to "
                                  f"be {state} (it is {volume.state})")
            self.sleep(interval)
            interval = min(interval * 1.5, 5)

    # ---- images ----------------------------------------------------------------------------

    def list_images(self) -> list[ImageInfo]:
        """The account's own images."""
        with ec2_errors("listing your images"):
            images = self.client.describe_images(Owners=["self"])["Images"]
        return sorted((image_from(i) for i in images), key=lambda i: (i.created, i.image_id))

    def image_info(self, image_id: str) -> ImageInfo:
        with ec2_errors(f"looking up image {image_id}"):
            images = self.client.describe_images(ImageIds=[image_id])["Images"]
        if not images:
            raise CloudError(f"image {image_id} does not exist in {self.region}")
        return image_from(images[0])

    def create_image(self, instance_id: str, name: str, description: str, reboot: bool,
                     tags: dict[str, str]) -> str:
        with ec2_errors(f"creating image {name!r} from {instance_id}"):
            reply = self.client.create_image(
                InstanceId=instance_id, Name=name, Description=description,
                NoReboot=not reboot)
        image_id = str(reply["ImageId"])
        # Tagged right after (moto fails CreateImage's TagSpecifications); its snapshots are
        # tagged once they are known (wait_for_image).
        self.create_tags([image_id], tags)
        return image_id

    def wait_for_image(self, image_id: str, timeout: float,
                       on_poll: Callable[[str, float], None] | None = None) -> ImageInfo:
        """Poll until IMAGE_ID is available; ON_POLL(state, seconds so far) each round."""
        began = time.monotonic()
        interval = 1.0
        while True:
            try:
                image = self.image_info(image_id)
            except CloudError as error:
                if error.code not in ("InvalidAMIID.NotFound", ""):
                    raise
                image = ImageInfo(image_id, "", "pending")  # not visible yet
            if on_poll:
                on_poll(image.state, time.monotonic() - began)
            if image.state == "available":
                if image.snapshots and image.tags:
                    self.create_tags(image.snapshots, image.tags)
                return image
            if image.state in ("failed", "error", "invalid", "deregistered"):
                raise CloudError(f"image {image_id} ended in state {image.state}")
            if time.monotonic() - began > timeout:
                raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for image "
                                  f"{image_id} (state {image.state}); it may still finish: "
                                  f"`sclust showimage {image_id}`")
            self.sleep(interval)
            interval = min(interval * 1.5, 10)

    def deregister_image(self, image_id: str) -> None:
        with ec2_errors(f"deregistering {image_id}"):
            self.client.deregister_image(ImageId=image_id)

    def delete_snapshot(self, snapshot_id: str) -> None:
        with ec2_errors(f"deleting snapshot {snapshot_id}"):
            self.client.delete_snapshot(SnapshotId=snapshot_id)
