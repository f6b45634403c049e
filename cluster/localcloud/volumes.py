"""EBS volumes as sparse files; attached, a volume is a loop device whose node appears in the
host's private /dev at the requested name (`/dev/sdf` shows as `/dev/xvdf`, as on Xen)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from sclust.localcloud.errors import LocalCloudError
from sclust.localcloud.journal import Journal

GIB = 1024**3


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
        volumes_dir.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.truncate(size_gib * GIB)
    return path


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


def make_node(host_root: Path, device_path: str, loop_device: str) -> None:
    """Create the block node `device_path` in the host's /dev for `loop_device`."""
    rdev = os.stat(loop_device).st_rdev
    node = host_root / device_path.lstrip("/")
    if node.exists() or node.is_symlink():
        raise LocalCloudError(f"{device_path} already exists in the host")
    os.mknod(node, 0o660 | stat.S_IFBLK, rdev)
    os.chown(node, 0, 6)  # group `disk`, as udev does


def remove_node(host_root: Path, device_path: str) -> None:
    try:
        (host_root / device_path.lstrip("/")).unlink()
    except FileNotFoundError:
        pass


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
