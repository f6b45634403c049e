"""EBS volumes as sparse files; attached, a volume is a loop device whose node appears in the
host's private /dev at the requested name (`/dev/sdf` shows as `/dev/xvdf`, as on Xen)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from sclust.localcloud.errors import LocalCloudError
from sclust.localcloud.journal import Journal
from sclust.localcloud.settings import HOST_ID_BASE

if TYPE_CHECKING:
    from sclust.localcloud.hosts import Host

GIB = 1024**3
DISK_GID = 6  # Debian's `disk` group


def device_in_host(requested: str) -> str:
    """`/dev/sdf` → `/dev/xvdf`; `xvdg` → `/dev/xvdg` (what an Ubuntu instance on Xen shows)."""
    name = requested.removeprefix("/dev/")
    if name.startswith("sd"):
        name = "xvd" + name[2:]
    if not name or "/" in name or name.startswith("."):
        raise LocalCloudError(f"invalid device name {requested!r}")
    return "/dev/" + name


def volume_file(volumes_dir: Path, volume_id: str) -> Path:
    return volumes_dir / f"{volume_id}.img"


def ensure_volume_file(volumes_dir: Path, volume_id: str, size_gib: int) -> Path:
    """The sparse file backing a volume (created on first use: a new EBS volume is all zeros)."""
    path = volume_file(volumes_dir, volume_id)
    if not path.exists():
        volumes_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.truncate(size_gib * GIB)
    return path


def grow_volume_file(volumes_dir: Path, volume_id: str, size_gib: int,
                     loop_device: str | None) -> bool:
    """ModifyVolume to a larger size: the file grows (sparse), and an attached loop device
    learns its new capacity, as an EBS volume's device does. True if it grew."""
    path = volume_file(volumes_dir, volume_id)
    if not path.exists() or path.stat().st_size >= size_gib * GIB:
        return False
    os.truncate(path, size_gib * GIB)
    if loop_device is not None:
        subprocess.run(["losetup", "--set-capacity", loop_device], capture_output=True)
    return True


def attach_loop(journal: Journal, backing: Path) -> str:
    """A new loop device over `backing`; returns /dev/loopN."""
    proc = subprocess.run(["losetup", "--find", "--show", str(backing)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise LocalCloudError(f"losetup failed: {proc.stderr.strip()}")
    device = proc.stdout.strip()
    journal.add("loops", device, str(backing))
    return device


def detach_loop(journal: Journal, device: str) -> None:
    """Release a loop device; if a host still has it mounted, the kernel frees it at unmount."""
    subprocess.run(["losetup", "--detach", device], capture_output=True)
    journal.remove("loops", device)


def make_node(host: Host, device_path: str, loop_device: str) -> None:
    """Create the block node `device_path` in the host's /dev for `loop_device` (relative to
    the host's /dev as the host resolves it: never a path of the machine)."""
    rdev = os.stat(loop_device).st_rdev
    dev = host.open("/dev", os.O_PATH | os.O_DIRECTORY)
    name = device_path.removeprefix("/dev/")
    try:
        try:
            os.mknod(name, 0o660 | stat.S_IFBLK, rdev, dir_fd=dev)
        except FileExistsError:
            raise LocalCloudError(f"{device_path} already exists in the host") from None
        # root:disk of the host, 0660, as udev does (mknod's mode went through the umask).
        # On the node itself, never on what the name may have become since (O_NOFOLLOW).
        node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dev)
        try:
            if not stat.S_ISBLK(os.fstat(node).st_mode):
                raise LocalCloudError(f"{device_path} was replaced in the host")
            os.chown(f"/proc/self/fd/{node}", HOST_ID_BASE, HOST_ID_BASE + DISK_GID)
            os.chmod(f"/proc/self/fd/{node}", 0o660)
        finally:
            os.close(node)
    finally:
        os.close(dev)


def remove_node(host: Host, device_path: str) -> None:
    """Remove the node (whatever the host made of that name: never followed)."""
    try:
        dev = host.open("/dev", os.O_PATH | os.O_DIRECTORY)
    except (OSError, LocalCloudError):
        return
    try:
        os.unlink(device_path.removeprefix("/dev/"), dir_fd=dev)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        pass
    finally:
        os.close(dev)


def loops_backed_by(directory: Path) -> list[str]:
    """Loop devices on this machine whose backing file lies under `directory`."""
    out = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"],
                         capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) < 2:
            continue
        backing = parts[1].strip().removesuffix(" (deleted)")
        if backing.startswith(str(directory) + "/"):
            found.append(parts[0])
    return found
