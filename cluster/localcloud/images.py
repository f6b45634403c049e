"""The local cloud's AMIs: a small registry of built-in images that behave like the images
sclust meets on AWS (who may log in, which root device), and images made with CreateImage,
whose root layer is a copy of the instance's own (its overlay upper directory)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ImageProfile:
    """What cloud-init of an image does with the key pair, and where its root device is."""

    login_user: str  # the default user, created at first boot, passwordless sudo
    root_login: bool  # False: root's key only prints "Please login as the user …" (exit 142)
    root_device: str
    login_groups: str = "adm,sudo"  # those that exist on this machine are given


@dataclass(frozen=True)
class BuiltinImage:
    image_id: str
    name: str
    description: str
    owner_id: str
    owner_alias: str | None
    profile: ImageProfile


UBUNTU = BuiltinImage(
    "ami-0localubuntu2404",
    "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-local",
    "Ubuntu-like (local cloud): login ubuntu; root refused with 'Please login as the user'",
    "099720109477", None,
    ImageProfile("ubuntu", root_login=False, root_device="/dev/sda1"),
)
AMAZON_LINUX = BuiltinImage(
    "ami-0localamzn2023",
    "al2023-ami-2023.6-local-kernel-6.1-x86_64",
    "Amazon-Linux-like (local cloud): login ec2-user; root refused; root device /dev/xvda",
    "137112412989", "amazon",
    ImageProfile("ec2-user", root_login=False, root_device="/dev/xvda",
                 login_groups="adm,wheel,sudo"),
)
STARCLUSTER = BuiltinImage(
    "ami-0localstarcluster",
    "starcluster-scipion-ubuntu-local-x86_64-hvm",
    "StarCluster/Scipion-like (local cloud): root login allowed, and ubuntu with sudo",
    "342652561657", None,
    ImageProfile("ubuntu", root_login=True, root_device="/dev/sda1"),
)
BUILTIN = {image.image_id: image for image in (UBUNTU, AMAZON_LINUX, STARCLUSTER)}
# What an instance of an AMI the local cloud does not know gets (validation off): the old
# behaviour, root and ubuntu both accepted.
DEFAULT_PROFILE = STARCLUSTER.profile


def register_builtin(backend: Any) -> None:
    """Add the built-in images to moto's EC2 backend (public, as on AWS)."""
    from moto.ec2.models.amis import Ami

    for image in BUILTIN.values():
        if image.image_id in backend.amis:
            continue
        backend.amis[image.image_id] = Ami(
            backend, image.image_id, name=image.name, description=image.description,
            owner_id=image.owner_id, owner_alias=image.owner_alias, public=True,
            virtualization_type="hvm", architecture="x86_64", hypervisor="xen",
            root_device_type="ebs", root_device_name=image.profile.root_device,
            region_name=backend.region_name + "a", boot_mode="legacy-bios",
        )


def layer_dir(images_dir: Path, snapshot_id: str) -> Path:
    """Where the root layer of an image's snapshot is kept."""
    if not snapshot_id.startswith("snap-") or "/" in snapshot_id:
        raise ValueError(f"bad snapshot id {snapshot_id!r}")
    return images_dir / snapshot_id


def capture(upper: Path, destination: Path) -> None:
    """Copy an instance's root layer (overlay upper: files, whiteouts, opaque-directory
    attributes, owners, modes) to `destination`, atomically (a partial copy is never seen)."""
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.parent.chmod(0o700)
    subprocess.run(["cp", "-a", "--reflink=auto", str(upper), str(partial)], check=True,
                   capture_output=True)
    partial.rename(destination)


def seed_root_layer(layer: Path, upper: Path) -> None:
    """A new instance's root layer starts as a copy of its image's layer."""
    upper.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(layer), str(upper)], check=True,
                   capture_output=True)
