"""StarCluster's volume commands as operations: create (formatted through a helper host),
grow, remove, and what the config's templates use."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sclust.cloud import Volume
from sclust.cloudadmin import CloudAdmin
from sclust.config import Config
from sclust.config import Volume as VolumeSpec
from sclust.errors import SclustError
from sclust.helperhost import HelperSpec, helper_host
from sclust.nodesetup import device_candidates
from sclust.progress import Progress
from sclust.scripts import ScriptFile, ScriptRun
from sclust.ssh import Connection

log = logging.getLogger(__name__)
TAG_VOLUME_NAME = "sclust:volume"
HELPER_DEVICE = "/dev/sdz"
FS_STEP = ScriptFile("sclust", "scripts/volume-fs.sh")


class VolumeLeft(SclustError):
    """A volume was created but not formatted: it is kept, and the message says so."""


@dataclass
class CreatedVolume:
    volume: Volume
    name: str

    def section(self) -> str:
        """The [volume NAME] section to paste into the config."""
        return (f"[volume {self.name}]\nVOLUME_ID = {self.volume.volume_id}\n"
                f"MOUNT_PATH = /{self.name}\n")


def fs_script(volume_id: str, action: str, label: str = "") -> ScriptRun:
    spec = VolumeSpec(name="new", volume_id=volume_id, mount_path="/x", device=HELPER_DEVICE)
    return ScriptRun().add(FS_STEP, volume_devices=device_candidates(spec),
                           volume_action=action, volume_label=label or None)


def attached_to_helper(cloud: CloudAdmin, connection: Connection, volume_id: str,
                       instance_id: str, action: str, label: str, progress: Progress) -> None:
    """Attach VOLUME_ID to the helper, run ACTION on it, detach it again."""
    cloud.attach_volume(volume_id, instance_id, HELPER_DEVICE)
    cloud.wait_for_volume(volume_id, "in-use", attached=True)
    progress.step(f"{'formatting' if action == 'format' else 'growing'} {volume_id} (ext4)")
    result = connection.run_script(fs_script(volume_id, action, label), timeout=1800)
    log.info("%s", result.stdout.strip())
    cloud.detach_volume(volume_id, instance_id)
    cloud.wait_for_volume(volume_id, "available", attached=False)


def create_volume(cloud: CloudAdmin, size: int, zone: str, name: str, helper: HelperSpec,
                  progress: Progress, tags: dict[str, str] | None = None) -> CreatedVolume:
    """A new SIZE GiB volume in ZONE, tagged NAME, with an ext4 file system made on a helper
    host (terminated afterwards whatever happens). If formatting fails, the volume is kept
    and VolumeLeft names it."""
    all_tags = {"Name": name, TAG_VOLUME_NAME: name, **(tags or {})}
    volume = cloud.create_volume(size, zone, all_tags)
    progress.step(f"created {volume.volume_id} ({size} GiB, {zone})")
    try:
        cloud.wait_for_volume(volume.volume_id, "available")
        with helper_host(cloud, helper, f"createvolume {volume.volume_id}", progress) as (
                instance, connection):
            attached_to_helper(cloud, connection, volume.volume_id, instance.instance_id,
                               "format", name[:16], progress)
    except (Exception, KeyboardInterrupt) as error:
        message = (f"{volume.volume_id} ({size} GiB, {zone}) was created but not formatted "
                   f"({type(error).__name__}: {error}); it is kept: `sclust removevolume "
                   f"{volume.volume_id}` deletes it")
        if isinstance(error, KeyboardInterrupt):
            progress.step(message)
            raise
        raise VolumeLeft(message) from error
    return CreatedVolume(cloud.describe_volumes([volume.volume_id])[0], name)


def template_volumes(config: Config) -> dict[str, list[str]]:
    """Volume id -> the templates (clusters and desktops, EXTENDS followed) whose VOLUMES
    name a [volume] section holding it."""
    from sclust.config import merged_cluster_keys
    from sclust.ini import split_list

    ids = {name: s.keys["VOLUME_ID"].value for name, s in config.named("volume").items()
           if "VOLUME_ID" in s.keys}
    used: dict[str, list[str]] = {}
    for kind in ("cluster", "desktops"):
        for template in config.named(kind):
            merged = merged_cluster_keys(config, template, [], kind=kind)
            if merged is None or "VOLUMES" not in merged[1]:
                continue
            for name in split_list(merged[1]["VOLUMES"].value):
                if name in ids:
                    used.setdefault(ids[name], []).append(f"[{kind} {template}]")
    return used


def grow_volume(cloud: CloudAdmin, volume: Volume, size: int, helper: HelperSpec | None,
                attached_connection: Connection | None, progress: Progress) -> None:
    """Grow VOLUME to SIZE GiB, then its file system: on the instance it is attached to
    (ATTACHED_CONNECTION, resize2fs online) or on a helper host when it is detached. SIZE
    equal to the volume's: the file system only (a retry after the file system failed)."""
    if size < volume.size:
        raise SclustError(f"{volume.volume_id} is {volume.size} GiB: EBS volumes only grow")
    if size > volume.size:
        cloud.grow_volume(volume.volume_id, size)
        progress.step(f"{volume.volume_id}: {volume.size} → {size} GiB")
    try:
        if attached_connection is not None:
            device = volume.attachments[0].device or HELPER_DEVICE
            spec = VolumeSpec(name="v", volume_id=volume.volume_id, mount_path="/x",
                              device=device)
            attached_connection.run_script(ScriptRun().add(
                FS_STEP, volume_devices=device_candidates(spec), volume_action="grow"),
                timeout=1800)
            return
        assert helper is not None
        with helper_host(cloud, helper, f"resizevolume {volume.volume_id}", progress) as (
                instance, connection):
            attached_to_helper(cloud, connection, volume.volume_id, instance.instance_id,
                               "grow", "", progress)
    except Exception as error:
        raise SclustError(f"{volume.volume_id} is {size} GiB but its file system was not grown "
                          f"({error}); `sclust resizevolume {volume.volume_id} {size}` grows "
                          "the file system only") from error
