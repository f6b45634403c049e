"""What of the machine a host must not see (masks.py) and which volume mount options the daemon
accepts (volmount.py), without starting hosts."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sclust.localcloud import kernel, masks, volmount

SHADOW = """root:$6$salt$hash:20000:0:99999:7:::
daemon:*:20000:0:99999:7:::
alice:!$6$salt$locked:20000:0:99999:7:::
bob::20000:0:99999:7:::
"""


def test_sanitized_shadow_keeps_accounts_and_drops_every_hash():
    clean = masks.sanitize_shadow(SHADOW)
    assert "$6$" not in clean
    assert clean.splitlines() == ["root:*:20000:0:99999:7:::", "daemon:*:20000:0:99999:7:::",
                                  "alice:!:20000:0:99999:7:::", "bob:*:20000:0:99999:7:::"]


def _fake_machine(root: Path) -> None:
    for rel in ("etc/ssh", "etc/ssl/private", "usr/bin", "var/log/apt", "var/tmp", "home/alice",
                "root/.aws", "work/project", "srv", "opt/state/local"):
        (root / rel).mkdir(parents=True, exist_ok=True)
    (root / "etc/shadow").write_text(SHADOW)
    (root / "etc/shadow").chmod(0o640)
    (root / "etc/shadow-").write_text(SHADOW)
    (root / "etc/ssh/ssh_host_ed25519_key").write_text("PRIVATE")
    (root / "var/log/auth.log").write_text("secret log")
    (root / "root/.aws/credentials").write_text("key")
    for rel in ("etc/krb5.keytab", "var/lib/k3s/server/token", "etc/sudoers"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("secret")
        (root / rel).chmod(0o600 if "sudoers" not in rel else 0o440)
    (root / "etc/kubernetes/pki").mkdir(parents=True)
    (root / "etc/kubernetes/pki").chmod(0o700)
    (root / "etc/hostname").write_text("machine\n")


def _is_whiteout(path: Path) -> bool:
    info = path.lstat()
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(0, 0)


def _is_opaque(path: Path) -> bool:
    return os.getxattr(path, "trusted.overlay.opaque") == b"y"


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts are device nodes: root only")
def test_masks_hide_secrets_projects_and_the_state_directory(tmp_path):
    machine, image = tmp_path / "machine", tmp_path / "image"
    _fake_machine(machine)
    image.mkdir()
    masks.write_masks(image, machine_root=machine, private_dirs=(machine / "opt/state/local",))
    assert _is_whiteout(image / "work")  # not a directory a host needs
    assert not (image / "usr").exists() and not (image / "opt/state/local/x").exists()
    for rel in ("home", "root", "srv", "var/tmp", "etc/ssl/private", "var/log",
                "opt/state/local"):
        assert _is_opaque(image / rel), rel
    assert (image / "var/log/apt").is_dir() and not (image / "var/log/auth.log").exists()
    assert "$6$" not in (image / "etc/shadow").read_text()
    assert stat.S_IMODE((image / "etc/shadow").stat().st_mode) == 0o640
    assert _is_whiteout(image / "etc/shadow-")
    assert _is_whiteout(image / "etc/ssh/ssh_host_ed25519_key")
    # Whatever others may not read below /etc, /var/lib, /opt…, except what sudo needs.
    for rel in ("etc/krb5.keytab", "var/lib/k3s/server/token", "etc/kubernetes/pki"):
        assert _is_whiteout(image / rel), rel
    assert not (image / "etc/sudoers").exists() and not (image / "etc/hostname").exists()


def test_volume_mounts_never_allow_devices_and_refuse_unknown_options():
    attrs, fs = volmount.parse_options("defaults,ro,noatime,errors=remount-ro,discard")
    assert attrs & kernel.MOUNT_ATTR_NODEV and attrs & kernel.MOUNT_ATTR_RDONLY
    assert fs == [("errors", "remount-ro"), ("discard", None)]
    assert volmount.parse_options("")[1] == [("errors", "remount-ro")]  # never the superblock's
    attrs, _ = volmount.parse_options("dev,suid")
    assert attrs & kernel.MOUNT_ATTR_NODEV  # asked for devices: still none
    for bad in ("loop", "errors=evil", "errors=panic", "commit=1;x", "context=system_u",
                "x-mount.idmap=0:0:1"):
        with pytest.raises(ValueError):
            volmount.parse_options(bad)
