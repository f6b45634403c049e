"""StarCluster's image commands as operations: an EBS image of an instance (ebsimage) and
removing an image with its snapshots (removeimage)."""

from __future__ import annotations

from datetime import datetime

from sclust.cloudadmin import CloudAdmin, ImageInfo
from sclust.errors import SclustError
from sclust.progress import Progress

TAG_IMAGE_SOURCE = "sclust:source-instance"
IMAGE_WAIT = 3600.0  # large root disks take long to snapshot


def ebs_image(cloud: CloudAdmin, instance_id: str, name: str, description: str | None,
              reboot: bool, progress: Progress, timeout: float = IMAGE_WAIT) -> ImageInfo:
    """Register an AMI from INSTANCE_ID's disks (rebooted first unless REBOOT is False: a
    consistent file system, as the Brown tutorial insists), tagged with where it came from;
    wait until it is available, showing progress."""
    found = cloud.describe_instances([instance_id])
    if not found:
        raise SclustError(f"no instance {instance_id} in {cloud.region}")
    instance = found[0]
    if instance.state not in ("running", "stopped"):
        raise SclustError(f"{instance_id} is {instance.state}: an image needs a running or "
                          "stopped instance")
    if instance.root_device_type != "ebs":
        raise SclustError(f"{instance_id} is instance-store backed: EBS images only "
                          "(s3image is gone)")
    tags = {"Name": name, TAG_IMAGE_SOURCE: instance_id,
            "sclust:created": datetime.now().astimezone().isoformat(timespec="seconds")}
    alias = instance.tags.get("sclust:alias")
    cluster = instance.tags.get("sclust:cluster")
    text = description or (f"sclust ebsimage of {instance_id}"
                           + (f" ({cluster} {alias})" if cluster and alias else ""))
    progress.step(f"creating image {name!r} from {instance_id}"
                  + (" (rebooting it for a consistent disk)" if reboot and
                     instance.state == "running" else " (no reboot)"))
    image_id = cloud.create_image(instance_id, name, text[:255], reboot, tags)
    progress.step(f"registered {image_id}; waiting for its snapshot")
    with progress.waiting(f"image {image_id}") as update:
        image = cloud.wait_for_image(image_id, timeout,
                                     on_poll=lambda state, _seconds: update(state))
    return image


def remove_image(cloud: CloudAdmin, image: ImageInfo, progress: Progress) -> list[str]:
    """Deregister IMAGE, then delete its snapshots; returns the snapshots deleted."""
    cloud.deregister_image(image.image_id)
    progress.step(f"deregistered {image.image_id}")
    deleted = []
    for snapshot in image.snapshots:
        cloud.delete_snapshot(snapshot)
        progress.step(f"deleted snapshot {snapshot}")
        deleted.append(snapshot)
    return deleted
