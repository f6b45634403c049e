"""The program that runs as PID 1 of every host (a bash script), and the image layer placed
above this machine's `/` in every host's root (the "AMI" additions)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sclust.localcloud import masks
from sclust.localcloud.nfs_shims import (
    EXPORTFS_SHIM,
    MOUNT_NFS_SHIM,
    MOUNT_VOLUME_SHIM,
    RESIZE2FS_SHIM,
)
from sclust.localcloud.power_shims import POWER_SHIM

# The host's init, run as PID 1 and as root of the host (see launch.py, which built its root,
# /dev, /run, /tmp, /proc and /sys). Prints READY on fd 3 once sshd listens; its stdout and
# stderr are the host's console log.
INIT_SCRIPT = r"""#!/bin/bash
set -eu
echo "=== boot $(date -u +%FT%TZ)"
S=/run/sclust/seed
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
ID=$(cat $S/instance-id)
if [ "$(cat /var/lib/sclust/instance-id 2>/dev/null || true)" != "$ID" ]; then
  # What cloud-init's per-instance modules do at an instance's first boot (also the first boot
  # of an instance made from an image of another one).
  cat "$S/hostname" > /etc/hostname
  printf '127.0.0.1 localhost\n%s %s.ec2.internal %s\n::1 localhost ip6-localhost ip6-loopback\n' \
    "$(cat $S/private-ip)" "$(cat $S/hostname)" "$(cat $S/hostname)" > /etc/hosts
  rm -f /etc/resolv.conf; echo "nameserver 127.0.0.1" > /etc/resolv.conf
  rm -f /etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
  cat > /etc/ssh/sshd_config.d/50-sclust-local.conf <<'CONF'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
CONF
  LOGIN=$(cat $S/login-user)
  GROUPS_=""
  for g in $(tr , ' ' < $S/login-groups); do
    if getent group "$g" >/dev/null; then GROUPS_="$GROUPS_${GROUPS_:+,}$g"; fi
  done
  id "$LOGIN" >/dev/null 2>&1 || useradd -m -s /bin/bash ${GROUPS_:+-G "$GROUPS_"} "$LOGIN"
  echo "$LOGIN ALL=(ALL) NOPASSWD:ALL" > /etc/sudoers.d/90-cloud-init-users
  chmod 440 /etc/sudoers.d/90-cloud-init-users
  LHOME=$(getent passwd "$LOGIN" | cut -d: -f6)
  for home in /root "$LHOME"; do
    mkdir -p "$home/.ssh"; chmod 700 "$home/.ssh"
    cp $S/authorized_keys "$home/.ssh/authorized_keys"
    chmod 600 "$home/.ssh/authorized_keys"
  done
  if [ "$(cat $S/root-login)" != yes ]; then
    # cloud-init's disable_root: root's key only says whom to log in as.
    CMD="echo 'Please login as the user \\\"$LOGIN\\\" rather than the user \\\"root\\\".'"
    OPTS="no-port-forwarding,no-agent-forwarding,no-X11-forwarding"
    while read -r key; do
      if [ -n "$key" ]; then printf '%s,command="%s;echo;sleep 10;exit 142" %s\n' \
        "$OPTS" "$CMD" "$key"; fi
    done < $S/authorized_keys > /root/.ssh/authorized_keys
  fi
  chown -R "$LOGIN:" "$LHOME/.ssh"
  mkdir -p /var/lib/sclust /var/lib/cloud/instance /var/log
  rm -f /var/lib/cloud/instance/user-data-done /var/lib/cloud/instance/boot-finished
  echo "$ID" > /var/lib/sclust/instance-id
fi
hostname -F /etc/hostname
if [ "$(cat $S/no-ssh)" = yes ]; then
  # Injected fault: port 22 accepts connections, but no SSH banner ever comes.
  setsid python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(1); time.sleep(10**9)' </dev/null >/dev/null 2>&1 &
elif [ "$(cat $S/ssh-delay)" != 0 ]; then
  # Injected fault: a slow boot (sshd starts late, as on an overloaded EC2 host).
  setsid bash -c "sleep $(cat $S/ssh-delay); /usr/sbin/sshd" </dev/null >/dev/null 2>&1 &
else
  /usr/sbin/sshd
fi
if [ -s $S/user-data ] && [ ! -e /var/lib/cloud/instance/user-data-done ]; then
  touch /var/lib/cloud/instance/user-data-done
  cp $S/user-data /var/lib/cloud/instance/user-data.txt
  chmod 700 /var/lib/cloud/instance/user-data.txt
  # Like cloud-init: a script runs once, as root, after the network and sshd are up.
  setsid bash -c 'f=/var/lib/cloud/instance/user-data.txt
    if head -c2 $f | grep -q "^#!"; then $f; echo "user-data exited $?"
    else echo "user-data is not a script (#!): not run"; fi
    touch /var/lib/cloud/instance/boot-finished' </dev/null >>/var/log/cloud-init-output.log 2>&1 &
else
  touch /var/lib/cloud/instance/boot-finished
fi
if [ -x /etc/rc.local ]; then
  # As SysV init (or systemd's rc-local.service) at the end of every boot.
  setsid /etc/rc.local </dev/null >>/var/log/rc.local.log 2>&1 &
fi
echo READY >&3
exec 3>&- </dev/null >/dev/null 2>&1
trap 'exit 0' TERM
while :; do sleep 3600 & wait $! || true; done
"""


def write_image_layer(image_dir: Path, private_dirs: tuple[Path, ...] = ()) -> None:
    """The files every host sees above this machine's `/`: its init, the NFS, volume-mount and
    power shims, plain dotfiles for root (this machine's own root .bashrc is slow, e.g.
    `pyenv init`), and the masks that hide this machine's secrets (masks.py)."""
    if image_dir.exists():
        shutil.rmtree(image_dir)
    sbin = image_dir / "usr" / "sbin"
    sbin.mkdir(parents=True)
    for path in (image_dir, image_dir / "usr", sbin):
        path.chmod(0o755)
    (sbin / "exportfs").write_text(EXPORTFS_SHIM)
    (sbin / "mount.nfs").write_text(MOUNT_NFS_SHIM)
    for name in ("exportfs", "mount.nfs"):
        (sbin / name).chmod(0o755)
    (sbin / "mount.nfs4").symlink_to("mount.nfs")
    # Block file systems: a host may not mount them itself (no privilege on the machine); the
    # daemon mounts an attached volume for it (mount(8) runs mount.TYPE when it exists).
    (sbin / "mount.ext4").write_text(MOUNT_VOLUME_SHIM)
    (sbin / "mount.ext4").chmod(0o755)
    for name in ("mount.ext3", "mount.ext2"):
        (sbin / name).symlink_to("mount.ext4")
    # Online growth of a mounted volume, likewise (resize2fs of an unmounted one is the real).
    local_sbin = image_dir / "usr" / "local" / "sbin"
    local_sbin.mkdir(parents=True, mode=0o755)
    (image_dir / "usr" / "local").chmod(0o755)
    (local_sbin / "resize2fs").write_text(RESIZE2FS_SHIM)
    (local_sbin / "resize2fs").chmod(0o755)
    # The machine's poweroff & co. are systemctl, useless without systemd as PID 1.
    (sbin / "poweroff").write_text(POWER_SHIM)
    (sbin / "poweroff").chmod(0o755)
    for name in ("halt", "reboot", "shutdown"):
        (sbin / name).symlink_to("poweroff")
    # Hosts run /etc/rc.local at boot: never this machine's own, only one a host writes.
    etc = image_dir / "etc"
    etc.mkdir(mode=0o755)
    (etc / "rc.local").write_text("#!/bin/sh -e\n# this host's own boot commands\nexit 0\n")
    (etc / "rc.local").chmod(0o755)
    root = image_dir / "root"
    root.mkdir(mode=0o700)
    root.chmod(0o700)
    for dotfile in (".bashrc", ".profile"):
        skel = Path("/etc/skel") / dotfile
        if skel.exists():
            shutil.copy(skel, root / dotfile)
    init = image_dir / "usr" / "lib" / "sclust"
    init.mkdir(parents=True, mode=0o755)
    (image_dir / "usr" / "lib").chmod(0o755)
    (init / "host-init").write_text(INIT_SCRIPT)
    (init / "host-init").chmod(0o755)
    masks.write_masks(image_dir, private_dirs=private_dirs)
