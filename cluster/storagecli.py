"""StarCluster's volume and image commands: createvolume, listvolumes, resizevolume,
removevolume, listimages, showimage, removeimage, ebsimage. Thin: parse, call
`volumeops`/`imageops`, print."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import click

from sclust.context import TEMPLATE_NAME, AppContext, confirm, pass_app
from sclust.errors import SclustError
from sclust.utilcli import JSON, admin, check_instance_id, emit

if TYPE_CHECKING:
    from sclust.cloud import Volume
    from sclust.cloudadmin import CloudAdmin, ImageInfo
    from sclust.helperhost import HelperSpec
    from sclust.ssh import Connection

YES = click.option("-y", "--yes", "-c", "--confirm", "yes", is_flag=True,
                   help="Do not ask for confirmation.")


def check_id(value: str, prefix: str, what: str) -> str:
    if not re.match(rf"^{prefix}-[0-9a-zA-Z]+$", value):
        raise SclustError(f"{value!r} is not {what} ({prefix}-…)")
    return value


def helper_spec(app: AppContext, zone: str, image_id: str | None, instance_type: str,
                keyname: str | None) -> HelperSpec:
    """The helper host: -i/-k, else the default template's NODE_IMAGE_ID and key."""
    from sclust.config import key_file_problem
    from sclust.helperhost import HelperSpec
    from sclust.values import as_image_id, as_instance_type

    config = app.config
    login_user = None
    if image_id is None or keyname is None:
        try:
            template = config.template(None, check_key_file=keyname is None)
        except SclustError as error:
            raise SclustError(f"the helper host needs an AMI and a key: give -i AMI and -k KEY, "
                              f"or fix the default template ({error})") from None
        image_id = image_id or template.node_image_id
        keyname = keyname or template.key.name
        login_user = template.login_user
    for option, value, check in (("-i", image_id, as_image_id),
                                 ("-I", instance_type, as_instance_type)):
        try:
            check(value)
        except ValueError as error:
            raise SclustError(f"{option}: {error}") from None
    key = config.key_pair(keyname)
    problem = key_file_problem(key.location)
    if problem:
        raise SclustError(f"[key {keyname}] KEY_LOCATION: {problem}")
    return HelperSpec(image_id, instance_type, zone, keyname, key.location, login_user)


HELPER_OPTIONS = [
    click.option("-i", "--image-id", metavar="AMI",
                 help="AMI of the helper host (default: the default template's NODE_IMAGE_ID)."),
    click.option("-I", "--instance-type", default="t3.micro", show_default=True,
                 help="Instance type of the helper host."),
    click.option("-k", "--keyname", metavar="KEY",
                 help="Key pair ([key KEY]) of the helper host (default: the template's)."),
]


def helper_options(function: Any) -> Any:
    for option in reversed(HELPER_OPTIONS):
        function = option(function)
    return function


# ---- volumes ---------------------------------------------------------------------------------


@click.command()
@click.argument("size", type=click.IntRange(1, 65536))
@click.argument("zone")
@click.option("-n", "--name", default="data", show_default=True,
              help="Name of the volume: its Name tag, file-system label and [volume NAME].")
@helper_options
@JSON
@pass_app
def createvolume(app: AppContext, size: int, zone: str, name: str, image_id: str | None,
                 instance_type: str, keyname: str | None, as_json: bool) -> None:
    """Create a SIZE GiB EBS volume in ZONE with an ext4 file system, and print the
    [volume NAME] section to paste into the config.

    The file system is made on a short-lived helper instance (its own security group, SSH
    only), terminated afterwards even on failure or Ctrl-C. If formatting fails the volume
    is kept and named, so it can be retried or removed."""
    from sclust.names import check_name
    from sclust.progress import Progress
    from sclust.volumeops import create_volume

    try:
        check_name(name, "volume name")
    except ValueError as error:
        raise SclustError(f"--name: {error}") from None
    cloud = admin(app)
    zones = {z.name for z in cloud.list_zones()}
    if zone not in zones:
        from sclust.suggest import did_you_mean

        raise SclustError(f"no zone {zone!r} in {cloud.region}{did_you_mean(zone, zones)} "
                          "(`sclust listzones`)")
    spec = helper_spec(app, zone, image_id, instance_type, keyname)
    created = create_volume(cloud, size, zone, name, spec, Progress(quiet=as_json))
    if as_json:
        click.echo(json.dumps({"volume_id": created.volume.volume_id, "size": size,
                               "zone": zone, "name": name, "section": created.section()}))
        return
    click.echo(f"created {created.volume.volume_id} ({size} GiB ext4, {zone}); add to your "
               f"config and to a template's VOLUMES = {name}:\n")
    click.echo(created.section())


@click.command()
@click.option("-n", "--name", help="Only volumes whose Name tag is NAME.")
@click.option("-a", "--available", is_flag=True, help="Only volumes not attached.")
@JSON
@pass_app
def listvolumes(app: AppContext, name: str | None, available: bool, as_json: bool) -> None:
    """List the region's EBS volumes: id, size, zone, state, where attached, Name tag, and
    which templates of the config use it."""
    from sclust.volumeops import template_volumes

    cloud = admin(app)
    used = template_volumes(app.config)
    volumes = [v for v in cloud.list_volumes()
               if (name is None or v.tags.get("Name") == name)
               and (not available or not v.attachments)]
    data = [{"volume_id": v.volume_id, "size": v.size, "zone": v.zone, "state": v.state,
             "attached_to": ", ".join(f"{a.instance_id} {a.device}" for a in v.attachments)
             or None, "name": v.tags.get("Name"),
             "templates": ", ".join(used.get(v.volume_id, [])) or None,
             "created": v.created.isoformat() if v.created else None} for v in volumes]
    emit(as_json, data, f"volumes in {cloud.region}",
         ["volume_id", "size", "zone", "state", "attached_to", "name", "templates"])


def one_volume(cloud: CloudAdmin, volume_id: str) -> Volume:
    check_id(volume_id, "vol", "a volume id")
    return cloud.describe_volumes([volume_id])[0]


@click.command()
@click.argument("volume_id")
@click.argument("size", type=click.IntRange(1, 65536))
@helper_options
@YES
@pass_app
def resizevolume(app: AppContext, volume_id: str, size: int, image_id: str | None,
                 instance_type: str, keyname: str | None, yes: bool) -> None:
    """Grow VOLUME_ID to SIZE GiB and its ext4 file system with it.

    Attached to a running instance: resize2fs runs there, online. Detached: on a short-lived
    helper instance in its zone (terminated afterwards). SIZE equal to the volume's size grows
    the file system only (a retry)."""
    from sclust.progress import Progress
    from sclust.volumeops import grow_volume

    cloud = admin(app)
    volume = one_volume(cloud, volume_id)
    if size < volume.size:
        raise SclustError(f"{volume_id} is {volume.size} GiB: EBS volumes only grow")
    if size > volume.size:
        confirm(f"Grow {volume_id} from {volume.size} to {size} GiB (it cannot shrink back)?",
                yes)
    progress = Progress()
    if volume.attachments:
        connection = attached_connection(app, cloud, volume.attachments[0].instance_id)
        try:
            grow_volume(cloud, volume, size, None, connection, progress)
        finally:
            connection.close()
    else:
        spec = helper_spec(app, volume.zone, image_id, instance_type, keyname)
        grow_volume(cloud, volume, size, spec, None, progress)
    click.echo(f"{volume_id} is now {size} GiB, its file system grown")


def attached_connection(app: AppContext, cloud: CloudAdmin, instance_id: str) -> Connection:
    """SSH to the instance a volume is attached to: its cluster's pinned keys and login."""
    from sclust.names import name_problem
    from sclust.paths import known_hosts_file
    from sclust.ssh import Connection, PinnedHostKeys, remembered_login_user

    instance = cloud.describe_instances([instance_id])[0]
    if instance.state != "running" or not instance.address:
        raise SclustError(f"{volume_attached_msg(instance_id)} is {instance.state}: start it, "
                          "or detach the volume to grow it on a helper host")
    cluster = instance.tags.get("sclust:cluster", "")
    known = known_hosts_file(cloud.region, cluster if cluster and not name_problem(cluster)
                             else instance_id)
    known.parent.mkdir(parents=True, exist_ok=True)
    key = app.config.key_pair(instance.key_name)
    return Connection(instance_id, instance.address, remembered_login_user(known),
                      key.location, PinnedHostKeys(known))


def volume_attached_msg(instance_id: str) -> str:
    return f"the instance it is attached to ({instance_id})"


@click.command()
@click.argument("volume_id")
@YES
@pass_app
def removevolume(app: AppContext, volume_id: str, yes: bool) -> None:
    """Delete VOLUME_ID and its data, for good. Refused while it is attached, or while a
    template of the config uses it (remove it from VOLUMES first)."""
    from sclust.volumeops import template_volumes

    cloud = admin(app)
    volume = one_volume(cloud, volume_id)
    if volume.attachments or volume.state == "in-use":
        where = ", ".join(a.instance_id for a in volume.attachments)
        raise SclustError(f"{volume_id} is attached to {where or 'an instance'}: terminate or "
                          "stop its cluster (or detach it) first")
    users = template_volumes(app.config).get(volume_id)
    if users:
        raise SclustError(f"{volume_id} is used by {', '.join(users)} in {app.config.path}: "
                          "remove it from their VOLUMES first")
    name = volume.tags.get("Name")
    confirm(f"Delete {volume_id}{f' ({name})' if name else ''}, {volume.size} GiB, and "
            "everything on it? This cannot be undone.", yes)
    cloud.delete_volume(volume_id)
    click.echo(f"{volume_id} deleted")


# ---- images ----------------------------------------------------------------------------------


def image_json(image: ImageInfo) -> dict[str, Any]:
    return {"image_id": image.image_id, "name": image.name, "state": image.state,
            "created": image.created or None, "root_device": image.root_device_name or None,
            "snapshots": image.snapshots, "description": image.description or None,
            "public": image.public, "tags": image.tags}


@click.command()
@JSON
@pass_app
def listimages(app: AppContext, as_json: bool) -> None:
    """List your own AMIs (those ebsimage made, among others)."""
    cloud = admin(app)
    data = [image_json(i) for i in cloud.list_images()]
    if not as_json:
        for entry in data:
            entry["snapshots"] = ", ".join(entry["snapshots"]) or None
    emit(as_json, data, f"your images in {cloud.region}",
         ["image_id", "name", "state", "created", "snapshots"])


@click.command()
@click.argument("image_id")
@JSON
@pass_app
def showimage(app: AppContext, image_id: str, as_json: bool) -> None:
    """Show one AMI: name, state, root device, snapshots, tags."""
    check_id(image_id, "ami", "an AMI id")
    data = image_json(admin(app).image_info(image_id))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        click.echo(f"{key:12} {value if value not in (None, '') else '-'}")


@click.command()
@click.argument("image_id")
@YES
@pass_app
def removeimage(app: AppContext, image_id: str, yes: bool) -> None:
    """Deregister IMAGE_ID and delete its snapshots (one of your own images only)."""
    from sclust.imageops import remove_image
    from sclust.progress import Progress

    check_id(image_id, "ami", "an AMI id")
    cloud = admin(app)
    own = {i.image_id: i for i in cloud.list_images()}
    if image_id not in own:
        raise SclustError(f"{image_id} is not one of your images in {cloud.region} "
                          "(`sclust listimages`)")
    image = own[image_id]
    snapshots = ", ".join(image.snapshots) or "no snapshots"
    confirm(f"Deregister {image_id} ({image.name}) and delete {snapshots}? This cannot be "
            "undone.", yes)
    deleted = remove_image(cloud, image, Progress())
    click.echo(f"{image_id} removed" + (f"; snapshots deleted: {', '.join(deleted)}"
                                        if deleted else ""))


@click.command()
@click.argument("instance_id")
@click.argument("name")
@click.option("-d", "--description", help="Description of the image.")
@click.option("--no-reboot", is_flag=True,
              help="Do not reboot the instance first (faster; the disk may be inconsistent).")
@click.option("--timeout", type=click.IntRange(60), default=3600, show_default=True,
              help="Seconds to wait for the image to be available.")
@pass_app
def ebsimage(app: AppContext, instance_id: str, name: str, description: str | None,
             no_reboot: bool, timeout: int) -> None:
    """Create an EBS-backed AMI NAME from INSTANCE_ID (e.g. a customized master), wait until
    it is available, and tag it with where it came from.

    The instance is rebooted first (unless --no-reboot) so its disk is consistent, as the
    Brown tutorial insists. Use the new AMI as NODE_IMAGE_ID."""
    from sclust.imageops import ebs_image
    from sclust.progress import Progress

    check_instance_id(instance_id)
    if not re.match(r"^[A-Za-z0-9()\[\]./'@_ -]{3,128}$", name):
        raise SclustError(f"NAME {name!r}: 3 to 128 letters, digits, spaces and ()[]./'@_- "
                          "(EC2's rule for image names)")
    image = ebs_image(admin(app), instance_id, name, description, not no_reboot, Progress(),
                      timeout)
    click.echo(f"created {image.image_id} ({name}) from {instance_id}; use it as "
               f"NODE_IMAGE_ID = {image.image_id}")


@click.group()
def image() -> None:
    """Images made for sclust's templates (beyond StarCluster; see `image build`)."""


@image.command("build")
@click.argument("template_name", metavar="TEMPLATE", type=TEMPLATE_NAME)
@click.option("-n", "--name", help="Name of the AMI (default: sclust-TEMPLATE-DATE).")
@click.option("-I", "--instance-type",
              help="Instance type of the builder (default: the template's node type).")
@click.option("--timeout", type=click.IntRange(60), default=3600, show_default=True,
              help="Seconds to wait for the image to be available.")
@pass_app
def build(app: AppContext, template_name: str, name: str | None, instance_type: str | None,
          timeout: int) -> None:
    """Build an AMI for TEMPLATE: a builder instance from its NODE_IMAGE_ID gets Grid Engine
    and its package plugins' packages installed, then becomes an AMI (the builder is
    terminated afterwards). A cluster started with NODE_IMAGE_ID = that AMI installs nothing
    at boot."""
    from datetime import datetime

    from sclust.imagebuild import build_image
    from sclust.progress import Progress

    template = app.config.template(template_name)
    cloud = admin(app)
    zone = template.availability_zone or cloud.subnet_for(template.subnet_id, None).zone
    spec = helper_spec(app, zone, template.node_image_id,
                       instance_type or template.node_instance_type, template.key.name)
    spec.login_user = template.login_user
    name = name or f"sclust-{template.name}-{datetime.now():%Y%m%d-%H%M%S}"
    if not re.match(r"^[A-Za-z0-9()\[\]./'@_ -]{3,128}$", name):
        raise SclustError(f"--name {name!r}: 3 to 128 letters, digits, spaces and ()[]./'@_-")
    built = build_image(cloud, template, spec, name, Progress(), timeout)
    click.echo(f"built {built.image_id} ({name}) for [cluster {template.name}]; use it:\n"
               f"NODE_IMAGE_ID = {built.image_id}")


COMMANDS = [image, createvolume, listvolumes, resizevolume, removevolume, listimages, showimage,
            removeimage, ebsimage]
