"""Mounting an attached volume for a host that asks (its `mount.ext4` shim, over the NFS
service's socket): a host has no privilege on the machine, so it cannot mount a block device.

The daemon mounts the volume's loop device with the new mount API, idmapped onto the host's user
namespace (the host's uid N is N on the volume's disk, whichever host it is attached to later),
without device nodes, and attaches the mount inside the host's mount namespace, where the target
path resolves as the host sees it."""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Any

from sclust.localcloud import kernel

if TYPE_CHECKING:
    from sclust.localcloud.hosts import Host

log = logging.getLogger("sclust.localcloud")
FILESYSTEMS = {"ext4", "ext3", "ext2"}
# mount(8) options that are mount attributes (not the file system's).
ATTRIBUTES = {"ro": kernel.MOUNT_ATTR_RDONLY, "nosuid": kernel.MOUNT_ATTR_NOSUID,
              "noexec": kernel.MOUNT_ATTR_NOEXEC, "nodev": 0, "noatime": 0x10, "relatime": 0,
              "rw": 0, "suid": 0, "exec": 0, "dev": 0, "defaults": 0, "auto": 0, "noauto": 0,
              "nofail": 0, "user_xattr": 0, "acl": 0}
# Options passed on to the file system.
FS_FLAGS = {"discard", "nodiscard", "nobarrier", "noload"}
# Never errors=panic: a host could then panic the machine by scribbling on its own volume (the
# superblock's own setting is overridden too: remount-ro unless a mount asks to continue).
FS_VALUES = {"errors": {"continue", "remount-ro"}, "commit": None}


def parse_options(options: str) -> tuple[int, list[tuple[str, str | None]]]:
    """mount(8) options → (mount attributes, file-system options). ValueError if unknown."""
    attrs = kernel.MOUNT_ATTR_NODEV  # never device nodes from a volume a host formatted
    fs: list[tuple[str, str | None]] = []
    for option in filter(None, options.split(",")):
        key, eq, value = option.partition("=")
        if not eq and key in ATTRIBUTES:
            attrs |= ATTRIBUTES[key]
        elif not eq and key in FS_FLAGS:
            fs.append((key, None))
        elif eq and key in FS_VALUES:
            allowed = FS_VALUES[key]
            if (allowed is not None and value not in allowed) or \
                    (allowed is None and not value.isdigit()):
                raise ValueError(f"bad value for {key}: {value}")
            fs.append((key, value))
        else:
            raise ValueError(f"option {option} is not supported here")
    if not any(key == "errors" for key, _ in fs):
        fs.append(("errors", "remount-ro"))
    return attrs, fs


def mount_volume(host: Host, request: dict[str, Any]) -> dict[str, Any]:
    device, target = str(request.get("device", "")), str(request.get("target", ""))
    fstype = str(request.get("fstype", "ext4"))
    if fstype not in FILESYSTEMS:
        return {"ok": False, "message": f"unknown filesystem type '{fstype}'"}
    loop = next((loop for loop, name in host.volumes.values() if name == device), None)
    if loop is None:
        return {"ok": False, "message": f"special device {device} is not a volume attached "
                                        "to this instance"}
    if not target.startswith("/"):
        return {"ok": False, "message": "the mount point must be an absolute path"}
    try:
        attrs, fs_options = parse_options(str(request.get("options", "")))
    except ValueError as error:
        return {"ok": False, "message": str(error)}
    assert host.pid1 is not None
    try:
        fsfd = kernel.fsopen(fstype)
        try:
            kernel.fsconfig(fsfd, kernel.FSCONFIG_SET_STRING, "source", loop)
            if attrs & kernel.MOUNT_ATTR_RDONLY:
                kernel.fsconfig(fsfd, kernel.FSCONFIG_SET_FLAG, "ro")
            for key, value in fs_options:
                if value is None:
                    kernel.fsconfig(fsfd, kernel.FSCONFIG_SET_FLAG, key)
                else:
                    kernel.fsconfig(fsfd, kernel.FSCONFIG_SET_STRING, key, value)
            kernel.fsconfig(fsfd, kernel.FSCONFIG_CMD_CREATE)
            tree = kernel.fsmount(fsfd, attrs)
        finally:
            os.close(fsfd)
    except OSError as error:
        return {"ok": False, "message": f"wrong fs type, bad option, bad superblock on {device}"
                                        f" ({error.strerror})"}
    userns = mntns = -1
    try:
        userns = os.open(f"/proc/{host.pid1}/ns/user", os.O_RDONLY)
        mntns = os.open(f"/proc/{host.pid1}/ns/mnt", os.O_RDONLY)
    except OSError:
        for fd in (tree, userns):
            if fd >= 0:
                os.close(fd)
        return {"ok": False, "message": "the instance is not running"}
    try:
        kernel.mount_setattr(tree, kernel.MOUNT_ATTR_IDMAP, userns_fd=userns)

        def attach() -> None:
            kernel.setns(mntns, kernel.CLONE_NEWNS)  # "/" is now the host's root
            kernel.move_mount(tree, target)

        failure = kernel.in_child(attach)
    except OSError as error:
        failure = error.strerror or str(error)
    finally:
        for fd in (tree, userns, mntns):
            os.close(fd)
    if failure:
        return {"ok": False, "message": failure}
    log.info("mounted %s (%s) on %s:%s", device, loop, host.spec.instance_id, target)
    return {"ok": True}


EXT4_IOC_RESIZE_FS = 0x40086610  # _IOW('f', 16, __u64)


def resize_volume(host: Host, request: dict[str, Any]) -> dict[str, Any]:
    """Online growth of a mounted ext4 volume to its device's size (`resize2fs /dev/xvdf` in a
    host): the ioctl needs a privilege hosts lack, so the daemon issues it, on the mount point
    as the host sees it."""
    import fcntl
    import struct

    device = str(request.get("device", ""))
    loop = next((loop for loop, name in host.volumes.values() if name == device), None)
    if loop is None:
        return {"ok": False, "message": f"{device} is not a volume attached to this instance"}
    if not can_resize_online():
        return {"ok": False, "message": "growing a mounted file system needs CAP_SYS_RESOURCE, "
                                        "which this machine does not give the local cloud: "
                                        "unmount it, then run resize2fs"}
    assert host.pid1 is not None
    rdev = os.stat(loop).st_rdev
    target = mount_point_of(host.pid1, rdev)
    if target is None:
        return {"ok": False, "message": f"{device} is not mounted"}
    fd = os.open(loop, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
    mntns = os.open(f"/proc/{host.pid1}/ns/mnt", os.O_RDONLY)

    def grow() -> None:
        kernel.setns(mntns, kernel.CLONE_NEWNS)
        directory = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        if os.fstat(directory).st_dev != rdev:  # something else mounted there since
            raise OSError(16, f"{target} is no longer that volume's mount point")
        blocks = size // os.fstatvfs(directory).f_frsize
        fcntl.ioctl(directory, EXT4_IOC_RESIZE_FS, struct.pack("Q", blocks))

    try:
        failure = kernel.in_child(grow)
    finally:
        os.close(mntns)
    if failure:
        return {"ok": False, "message": failure}
    log.info("grew %s (%s) on %s to %d bytes", device, loop, host.spec.instance_id, size)
    return {"ok": True, "message": f"The filesystem on {device} is now {size // 1024} (1k) "
                                   "blocks long."}


def can_resize_online() -> bool:
    """ext4's online resize needs CAP_SYS_RESOURCE (some sandboxes withhold it even from
    root)."""
    cap_sys_resource = 24
    for line in open("/proc/self/status").read().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> cap_sys_resource & 1)
    return False


def mount_point_of(pid1: int, rdev: int) -> str | None:
    """Where the device `rdev` is mounted in the host (its mountinfo), if it is."""
    wanted = f"{os.major(rdev)}:{os.minor(rdev)}"
    try:
        lines = open(f"/proc/{pid1}/mountinfo").read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and fields[2] == wanted:
            # mountinfo escapes space, tab, newline and backslash as octal
            return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
    return None
