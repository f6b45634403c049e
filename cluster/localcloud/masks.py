"""What of this machine a host must not see: entries of the image layer that hide parts of the
machine's `/` (the host's lowest layer), as a container runtime's root image would simply not
contain them.

- top-level directories the product does not need (the project checkout, other mounts' mount
  points, …) are whited out;
- homes, /root, mail, logs, backups, cron spools and the local cloud's own state directory are
  opaque (empty, or only the directory skeleton of /var/log, which packages expect);
- the shadow files are replaced by copies without any password hash, and the machine's SSH host
  keys are whited out (a host makes its own at first boot).

overlayfs conventions (the overlay is mounted by the machine's root): a whiteout is a character
device 0/0; an opaque directory has the xattr trusted.overlay.opaque=y.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# What a host sees of the machine's top level; everything else is whited out.
KEEP_TOP = {"bin", "etc", "lib", "lib32", "lib64", "libx32", "opt", "sbin", "usr", "var",
            # mounted over at boot, or emptied below
            "dev", "proc", "sys", "run", "tmp", "home", "root", "mnt", "media", "srv"}
EMPTY_DIRS = ("home", "mnt", "media", "srv", "root", "var/mail", "var/backups",
              "var/spool/cron", "var/spool/mail", "var/tmp", "var/lib/sudo", "etc/ssl/private",
              "var/cache/debconf")
SKELETON_DIRS = ("var/log",)  # opaque, with the machine's subdirectories (empty)
SANITIZED = ("etc/shadow", "etc/gshadow")
# Below these, whatever others may not read is the machine's root's alone (keys, tokens,
# credentials of services: /etc/krb5.keytab, /var/lib/…/token, …): whited out, up to DEPTH
# levels down. The host's root would own them through the idmapped lower layer.
PRIVATE_SCAN = {"etc": 6, "var/lib": 3, "var/cache": 2, "opt": 3, "usr/local/etc": 4}
NEEDED_PRIVATE = {"etc/sudoers", "etc/sudoers.d", "etc/shadow", "etc/gshadow"}
HIDDEN_FILES = ("etc/shadow-", "etc/gshadow-", "etc/security/opasswd")
HOST_KEYS_DIR = "etc/ssh"


def write_masks(image_dir: Path, machine_root: Path = Path("/"),
                private_dirs: tuple[Path, ...] = ()) -> None:
    """Add the masks to the image layer at `image_dir`. `private_dirs`: absolute directories
    of this machine that must be hidden as well (the local cloud's state directory)."""
    for entry in sorted(os.listdir(machine_root)):
        if entry not in KEEP_TOP:
            _whiteout(image_dir, entry)
    for rel in EMPTY_DIRS:
        _opaque(image_dir, machine_root, rel)
    for rel in SKELETON_DIRS:
        _opaque(image_dir, machine_root, rel)
        source = machine_root / rel
        for dirpath, dirnames, _files in os.walk(source):
            for name in dirnames:
                full = Path(dirpath) / name
                _copy_dir(image_dir, machine_root, str(full.relative_to(machine_root)))
    for rel in SANITIZED:
        source = machine_root / rel
        if source.is_file():
            _parents(image_dir, machine_root, rel)
            target = image_dir / rel
            target.write_text(sanitize_shadow(source.read_text()))
            info = source.stat()
            os.chown(target, info.st_uid, info.st_gid)
            os.chmod(target, stat.S_IMODE(info.st_mode))
    for top, depth in PRIVATE_SCAN.items():
        for rel in _private_entries(machine_root, top, depth):
            _whiteout(image_dir, rel, machine_root)
    for rel in HIDDEN_FILES:
        if (machine_root / rel).exists():
            _whiteout(image_dir, rel, machine_root)
    keys = machine_root / HOST_KEYS_DIR
    if keys.is_dir():
        for key in sorted(keys.glob("ssh_host_*")):
            _whiteout(image_dir, str(key.relative_to(machine_root)), machine_root)
    for private in private_dirs:
        try:
            rel = str(private.resolve().relative_to(machine_root.resolve()))
        except ValueError:
            continue
        if rel != "." and rel.split("/")[0] in KEEP_TOP and (machine_root / rel).is_dir():
            _opaque(image_dir, machine_root, rel)


def _private_entries(machine_root: Path, top: str, depth: int) -> list[str]:
    """Entries below TOP (relative paths) that others may not read, not descending into
    those (a private directory is hidden whole), nor into other file systems or symlinks."""
    found: list[str] = []
    start = machine_root / top
    if not start.is_dir() or start.is_symlink():
        return found
    device = start.stat().st_dev
    pending = [(start, 0)]
    while pending:
        directory, level = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            rel = os.path.relpath(entry.path, machine_root)
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode) or rel in NEEDED_PRIVATE:
                continue
            if not info.st_mode & stat.S_IROTH:
                found.append(rel)
            elif stat.S_ISDIR(info.st_mode) and level + 1 < depth and info.st_dev == device:
                pending.append((Path(entry.path), level + 1))
    return sorted(found)


def sanitize_shadow(text: str) -> str:
    """shadow/gshadow with every password hash replaced: `*` (no password), or `!` where the
    account was locked. Users, groups and ageing fields stay."""
    lines = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > 1:
            fields[1] = "!" if fields[1].startswith("!") else "*"
        lines.append(":".join(fields))
    return "\n".join(lines) + ("\n" if lines else "")


def _parents(image_dir: Path, machine_root: Path, rel: str) -> None:
    """The directories above `rel` in the image layer, with the machine's modes and owners
    (the topmost layer's directory attributes are what a host sees)."""
    parts = Path(rel).parts[:-1]
    for i in range(1, len(parts) + 1):
        _copy_dir(image_dir, machine_root, str(Path(*parts[:i])))


def _copy_dir(image_dir: Path, machine_root: Path, rel: str) -> None:
    target = image_dir / rel
    if target.is_dir():
        return
    target.mkdir(parents=True, exist_ok=True)
    source = machine_root / rel
    info = source.stat() if source.is_dir() else None
    if info is not None:
        os.chown(target, info.st_uid, info.st_gid)
        os.chmod(target, stat.S_IMODE(info.st_mode))
    else:
        os.chmod(target, 0o755)


def _whiteout(image_dir: Path, rel: str, machine_root: Path = Path("/")) -> None:
    _parents(image_dir, machine_root, rel)
    target = image_dir / rel
    if target.exists() or target.is_symlink():
        return
    os.mknod(target, 0o000 | stat.S_IFCHR, os.makedev(0, 0))


def _opaque(image_dir: Path, machine_root: Path, rel: str) -> None:
    if not (machine_root / rel).is_dir():
        return
    _copy_dir(image_dir, machine_root, rel)
    os.setxattr(image_dir / rel, "trusted.overlay.opaque", b"y")
