"""The Linux calls the local cloud makes that Python 3.11's `os` lacks (namespaces, the new mount
API, openat2), through libc. x86_64 syscall numbers; Linux ≥ 5.12 (the machine check of
`sclust local up` makes sure)."""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Callable

SYS_PIVOT_ROOT = 155
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429
SYS_FSOPEN, SYS_FSCONFIG, SYS_FSMOUNT = 430, 431, 432
SYS_OPENAT2 = 437
SYS_MOUNT_SETATTR = 442

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 1 << 18
MNT_DETACH = 0x2

OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 0x1, 0o2000000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD, AT_EMPTY_PATH, AT_RECURSIVE = -100, 0x1000, 0x8000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
MOUNT_ATTR_NOEXEC, MOUNT_ATTR_IDMAP = 0x8, 0x100000
FSOPEN_CLOEXEC, FSMOUNT_CLOEXEC = 0x1, 0x1
FSCONFIG_SET_FLAG, FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 0, 1, 6
RESOLVE_NO_MAGICLINKS, RESOLVE_IN_ROOT = 0x02, 0x10

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _b(path: str | bytes | None) -> bytes | None:
    return os.fsencode(path) if path is not None else None


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
           f"mount {target}")


def umount(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), "pivot_root")


def open_tree(path: str, flags: int = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
              dirfd: int = AT_FDCWD) -> int:
    return _check(_libc.syscall(SYS_OPEN_TREE, dirfd, _b(path), flags), f"open_tree {path}")


def move_mount(tree: int, target: str) -> None:
    """Attach the detached mount `tree` at `target` (resolved in the caller's mount namespace)."""
    _check(_libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, _b(target),
                         MOVE_MOUNT_F_EMPTY_PATH), f"move_mount {target}")


def mount_setattr(tree: int, attr_set: int, attr_clr: int = 0, userns_fd: int = 0,
                  recursive: bool = False) -> None:
    attr = struct.pack("QQQQ", attr_set, attr_clr, 0, userns_fd)
    buf = ctypes.create_string_buffer(attr, len(attr))
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    _check(_libc.syscall(SYS_MOUNT_SETATTR, tree, b"", flags, buf, len(attr)), "mount_setattr")


def fsopen(fstype: str) -> int:
    return _check(_libc.syscall(SYS_FSOPEN, _b(fstype), FSOPEN_CLOEXEC), f"fsopen {fstype}")


def fsconfig(fs: int, command: int, key: str | None = None, value: str | None = None) -> None:
    _check(_libc.syscall(SYS_FSCONFIG, fs, command, _b(key), _b(value), 0),
           f"fsconfig {key or 'create'}")


def fsmount(fs: int, attrs: int = 0) -> int:
    return _check(_libc.syscall(SYS_FSMOUNT, fs, FSMOUNT_CLOEXEC, attrs), "fsmount")


def open_in_root(root_fd: int, path: str, flags: int, mode: int = 0) -> int:
    """openat2 with RESOLVE_IN_ROOT: `path` (absolute or relative) and every symlink on the way
    resolve inside the directory `root_fd`, never above it; no /proc magic links."""
    how = struct.pack("QQQ", flags | os.O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    buf = ctypes.create_string_buffer(how, len(how))
    return _check(_libc.syscall(SYS_OPENAT2, root_fd, _b(path), buf, len(how)), f"open {path}")


def set_parent_death_signal(sig: int) -> bool:
    """prctl(PR_SET_PDEATHSIG): `sig` when the parent ends (kept across exec)."""
    pr_set_pdeathsig = 1
    return _check(_libc.prctl(pr_set_pdeathsig, sig, 0, 0, 0), "prctl") == 0


RESOLVE_BENEATH = 0x08


def open_beneath(dir_fd: int, path: str, flags: int) -> int:
    """openat2 with RESOLVE_BENEATH: `path` must stay below `dir_fd` (no `..` above it, no
    absolute symlink, no /proc magic links)."""
    how = struct.pack("QQQ", flags | os.O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
    buf = ctypes.create_string_buffer(how, len(how))
    return _check(_libc.syscall(SYS_OPENAT2, dir_fd, _b(path), buf, len(how)),
                  f"{path}: not inside the export")


def errno_message() -> str:
    err = ctypes.get_errno()
    return os.strerror(err)


def in_child(work: Callable[[], None]) -> str | None:
    """Run `work` in a forked child (setns(CLONE_NEWNS) needs a single-threaded process) and
    return the error it raised, as text, or None. The child only makes system calls."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 0
        try:
            work()
        except OSError as error:
            os.write(write_end, str(error.strerror or error).encode())
            code = 1
        except BaseException as error:  # noqa: BLE001 - reported, never raised in the child
            os.write(write_end, repr(error).encode())
            code = 2
        os._exit(code)
    os.close(write_end)
    message = b""
    try:
        while chunk := os.read(read_end, 512):
            message += chunk
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return message.decode(errors="replace") or "unknown error"
    return None
