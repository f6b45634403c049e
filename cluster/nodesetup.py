"""Node setup: the shell scripts that make instances a cluster, one script per node per phase.

Every script is idempotent ("ensure X") and is sent as one SSH command, so the commands per
node do not grow with the cluster. Phases:
  1. master: hostname, /etc/hosts, cluster user (its uid/gid decide everyone's), SSH keys,
     volumes mounted, NFS exports.
  2. every other node, in parallel: hostname, /etc/hosts, the same user, root's key, NFS mounts.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from sclust.state import Node

SHARED_ALWAYS = ["/home"]
NFS_OPTIONS = "async,no_root_squash,no_subtree_check,rw"
HOSTS_MARKER = "# sclust cluster hosts"


@dataclass(frozen=True)
class Host:
    """A node as setup sees it: its name in the cluster and its private address."""

    name: str
    address: str


def cluster_hosts(nodes: list[Node], tag: str, dns_prefix: bool) -> list[Host]:
    return [Host(n.host_name(tag, dns_prefix), n.private_ip or "") for n in nodes]


def hosts_file(hosts: list[Host]) -> str:
    """The whole /etc/hosts: localhost, then every node — never a node's name on 127.0.0.1
    (SGE refuses a host that resolves itself to loopback)."""
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback",
             "ff02::1 ip6-allnodes", "ff02::2 ip6-allrouters", HOSTS_MARKER]
    lines += [f"{h.address} {h.name}" for h in hosts]
    return "\n".join(lines) + "\n"


def write_file(path: str, content: str, mode: str = "644") -> str:
    """Shell that writes PATH atomically with CONTENT (a heredoc that cannot be cut short)."""
    marker = "SCLUST_EOF_7f3a"
    return (f"cat > {path}.sclust-tmp <<'{marker}'\n{content}{marker}\n"
            f"chmod {mode} {path}.sclust-tmp && mv -f {path}.sclust-tmp {path}\n")


def identity_script(host: Host, hosts: list[Host]) -> str:
    return (f"hostname {shlex.quote(host.name)}\n"
            f"echo {shlex.quote(host.name)} > /etc/hostname\n"
            # /etc/hosts may be a bind mount on some images: write through, do not replace.
            f"cat > /etc/hosts <<'SCLUST_EOF_7f3a'\n{hosts_file(hosts)}SCLUST_EOF_7f3a\n")


def user_script(user: str, shell: str, uid: int | None, gid: int | None) -> str:
    """Ensure USER exists with UID/GID (None: keep or choose on this host) and a home in /home.

    Prints `uid gid` so the master's choice can be applied everywhere.
    """
    q = shlex.quote(user)
    ids = ""
    if uid is not None and gid is not None:
        ids = f"-u {uid} -g {gid}"
    group = (f"getent group {q} >/dev/null || groupadd -g {gid} {q}\n" if gid is not None
             else f"getent group {q} >/dev/null || groupadd {q}\n")
    return group + f"""\
shell=$(command -v {shlex.quote(shell)} || echo /bin/bash)
if id -u {q} >/dev/null 2>&1; then
  usermod -d /home/{q} -s "$shell" {q}
  {f'[ "$(id -u {q})" = {uid} ] || usermod -o -u {uid} {q}' if uid is not None else ':'}
  {f'[ "$(id -g {q})" = {gid} ] || {{ groupmod -o -g {gid} {q}; usermod -g {gid} {q}; }}'
   if gid is not None else ':'}
else
  useradd -M -d /home/{q} -s "$shell" {ids if ids else f'-g {q}'} {q}
fi
echo "uid-gid $(id -u {q}) $(id -g {q})"
"""


def master_user_home_script(user: str) -> str:
    """Home and SSH key of the cluster user, on the master (the nodes see it over NFS)."""
    q = shlex.quote(user)
    return f"""\
mkdir -p /home/{q}/.ssh
[ -f /home/{q}/.bashrc ] || cp -rT /etc/skel /home/{q} 2>/dev/null || true
[ -f /home/{q}/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /home/{q}/.ssh/id_ed25519
grep -qxF "$(cat /home/{q}/.ssh/id_ed25519.pub)" /home/{q}/.ssh/authorized_keys 2>/dev/null \
  || cat /home/{q}/.ssh/id_ed25519.pub >> /home/{q}/.ssh/authorized_keys
chmod 700 /home/{q}/.ssh; chmod 600 /home/{q}/.ssh/authorized_keys
chown -R {q}: /home/{q}
"""


def root_key_script(private_key: str | None) -> str:
    """Root's cluster key: made on the master (PRIVATE_KEY None), copied to the nodes."""
    authorize = ("grep -qxF \"$(cat /root/.ssh/id_ed25519.pub)\" /root/.ssh/authorized_keys "
                 "2>/dev/null || cat /root/.ssh/id_ed25519.pub >> /root/.ssh/authorized_keys\n")
    if private_key is None:
        return ("mkdir -p -m 700 /root/.ssh\n"
                "[ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' "
                "-f /root/.ssh/id_ed25519\n" + authorize +
                "echo root-key-begin; cat /root/.ssh/id_ed25519; echo root-key-end\n")
    return ("mkdir -p -m 700 /root/.ssh\n" + write_file("/root/.ssh/id_ed25519", private_key, "600")
            + "ssh-keygen -y -f /root/.ssh/id_ed25519 > /root/.ssh/id_ed25519.pub\n" + authorize)


def known_hosts_script(entries: list[str]) -> str:
    """Every node's host key under its name and address, for root and every user."""
    return write_file("/etc/ssh/ssh_known_hosts", "\n".join(entries) + "\n")


def volume_mount_script(volume_id: str, device: str, mount_path: str,
                        partition: int | None) -> str:
    """Mount an EBS volume whatever the device is called here (sdf, xvdf, or NVMe)."""
    letter = device.removeprefix("/dev/sd").removeprefix("/dev/xvd")
    suffix = str(partition) if partition else ""
    # Nitro instances show EBS as NVMe, named in /dev/disk/by-id after the volume id.
    nvme = f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{volume_id.replace('-', '')}"
    nvme += f"-part{partition}" if partition else ""
    candidates = f"/dev/xvd{letter}{suffix} /dev/sd{letter}{suffix} {nvme}"
    path = shlex.quote(mount_path)
    return f"""\
dev=""
for candidate in {candidates}; do [ -b "$candidate" ] && dev=$candidate && break; done
[ -n "$dev" ] || {{ echo "no block device for {volume_id} (tried {candidates})" >&2; exit 3; }}
# A brand-new volume (no filesystem, no partition table at all) gets ext4; anything else
# on it is never touched.
if [ -z "$(blkid -p -o value -s TYPE "$dev" 2>/dev/null)" ] \
    && [ -z "$(blkid -p -o value -s PTTYPE "$dev" 2>/dev/null)" ]; then
  mkfs.ext4 -q "$dev"
fi
mkdir -p {path}
if ! mountpoint -q {path}; then
  mount "$dev" {path} \
    || {{ echo "cannot mount $dev on {mount_path}: is it formatted?" >&2; exit 4; }}
fi
grep -q " {mount_path} " /etc/fstab \
  || echo "$dev {mount_path} auto defaults,nofail 0 2" >> /etc/fstab
"""


def exports_script(paths: list[str], clients: list[Host]) -> str:
    """/etc/exports written whole: every shared path to every node, then re-exported."""
    lines = []
    for path in paths:
        if clients:
            lines.append(f"{path} " + " ".join(f"{h.name}({NFS_OPTIONS})" for h in clients))
    content = "# sclust: written whole at each setup\n" + "".join(f"{line}\n" for line in lines)
    return ("mkdir -p " + " ".join(shlex.quote(p) for p in paths) + "\n"
            + write_file("/etc/exports", content)
            + "exportfs -ra\n")


def nfs_mount_script(server: str, paths: list[str], background: tuple[str, ...] = ()) -> str:
    """Mount the master's shared paths (fstab entries, so a reboot keeps them).

    The BACKGROUND paths mount while the rest of the script runs (each mount is a round trip
    to the server, and starting Grid Engine needs only its cell): `nfs_wait_script` at the end
    of the script waits for them and fails if one failed."""
    script = 'nfs_pids=""\n'
    for path in paths:
        q = shlex.quote(path)
        entry = f"{server}:{path} {path} nfs defaults,_netdev,nofail 0 0"
        script += (f"mkdir -p {q}\n"
                   f"grep -qF {shlex.quote(f'{server}:{path} ')} /etc/fstab || "
                   f"echo {shlex.quote(entry)} >> /etc/fstab\n")
        if path in background:
            script += f'mountpoint -q {q} || {{ mount {q} & nfs_pids="$nfs_pids $!"; }}\n'
        else:
            script += f"mountpoint -q {q} || mount {q}\n"
    return script


def nfs_wait_script() -> str:
    """The end of a script that used nfs_mount_script: every background mount succeeded."""
    return ('for pid in $nfs_pids; do wait "$pid" || { echo "an NFS mount failed" >&2; '
            "exit 11; }; done\n")


def scratch_script(user: str) -> str:
    """StarCluster's /mnt/USER scratch directory on every node."""
    q = shlex.quote(user)
    return f"mkdir -p /mnt/{q} && chown {q}: /mnt/{q}\n"
