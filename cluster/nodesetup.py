"""Node setup steps: `cluster/scripts/*.sh` with their inputs, one `ScriptRun` per node per phase.

Every step is idempotent ("ensure X"); the steps of a phase are joined into one run, so the SSH
commands per node do not grow with the cluster. Values (names, paths, users, keys) are inputs,
never shell text. Phases (see `sclust.configure`):
  1. master: identity, cluster user (its uid/gid decide everyone's), keys, volumes, exports.
  2. every other node, in parallel: identity, the same user, root's key, NFS mounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sclust.config import Volume
from sclust.scripts import ScriptFile, ScriptRun
from sclust.state import Node

SHARED_ALWAYS = ["/home"]
NFS_OPTIONS = "async,no_root_squash,no_subtree_check,rw"
HOSTS_MARKER = "# sclust cluster hosts"


@dataclass(frozen=True)
class Host:
    """A node as setup sees it: its name in the cluster and its private address."""

    name: str
    address: str


def step(name: str) -> ScriptFile:
    return ScriptFile("sclust", f"scripts/{name}.sh")


def cluster_hosts(nodes: list[Node], tag: str, dns_prefix: bool) -> list[Host]:
    return [Host(n.host_name(tag, dns_prefix), n.private_ip or "") for n in nodes]


def hosts_file(hosts: list[Host]) -> str:
    """The whole /etc/hosts: localhost, then every node — never a node's name on 127.0.0.1
    (SGE refuses a host that resolves itself to loopback)."""
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback",
             "ff02::1 ip6-allnodes", "ff02::2 ip6-allrouters", HOSTS_MARKER]
    lines += [f"{h.address} {h.name}" for h in hosts]
    return "\n".join(lines) + "\n"


def fstab_path(path: str) -> str:
    """PATH as fstab and exports spell it: blanks and backslashes as octal escapes."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\\" else c for c in path)


def identity(host: Host, hosts: list[Host]) -> ScriptRun:
    return ScriptRun().add(step("identity"), host_name=host.name, hosts_file=hosts_file(hosts))


def cluster_user(user: str, shell: str, uid: int | None = None,
                 gid: int | None = None) -> ScriptRun:
    """Ensure USER with UID/GID (None: keep or choose on this host); prints `uid-gid U G`."""
    return ScriptRun().add(step("user"), cluster_user=user, cluster_shell=shell,
                           user_uid=uid, user_gid=gid)


def master_user_home(user: str) -> ScriptRun:
    """Home and SSH key of the cluster user, on the master (the nodes see it over NFS)."""
    return ScriptRun().add(step("master-home"), cluster_user=user)


def root_key(private_key: str | None) -> ScriptRun:
    """Root's cluster key: made on the master (PRIVATE_KEY None), copied to the nodes."""
    return ScriptRun().add(step("root-key"), root_key=private_key)


def known_hosts(entries: list[str]) -> ScriptRun:
    """Every node's host key under its name and address, for root and every user."""
    return ScriptRun().add(step("known-hosts"), known_hosts="".join(f"{e}\n" for e in entries))


def device_candidates(volume: Volume) -> str:
    """Where VOLUME may appear on a node: sdX, xvdX, or NVMe named after the volume id."""
    letter = (volume.device or "/dev/sdf").removeprefix("/dev/sd").removeprefix("/dev/xvd")
    suffix = str(volume.partition) if volume.partition else ""
    nvme = ("/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_"
            + volume.volume_id.replace("-", "") + (f"-part{suffix}" if suffix else ""))
    return f"/dev/xvd{letter}{suffix} /dev/sd{letter}{suffix} {nvme}"


def volume_mounts(volumes: list[Volume]) -> ScriptRun:
    """Mount EBS volumes whatever the device is called here (sdf, xvdf, or NVMe)."""
    if not volumes:
        return ScriptRun()
    return ScriptRun().add(
        step("volumes"), volume_ids=[v.volume_id for v in volumes],
        volume_paths=[v.mount_path for v in volumes],
        volume_fstab_paths=[fstab_path(v.mount_path) for v in volumes],
        volume_devices=[device_candidates(v) for v in volumes])


def exports(paths: list[str], clients: list[Host]) -> ScriptRun:
    """/etc/exports written whole: every shared path to every node, then re-exported."""
    lines = [f"{fstab_path(path)} " + " ".join(f"{h.name}({NFS_OPTIONS})" for h in clients)
             for path in paths if clients]
    content = "# sclust: written whole at each setup\n" + "".join(f"{line}\n" for line in lines)
    return ScriptRun().add(step("exports"), shared_paths=paths, exports=content)


def nfs_mounts(server: str, paths: list[str], background: tuple[str, ...] = ()) -> ScriptRun:
    """Mount the master's shared paths (fstab entries, so a reboot keeps them).

    The BACKGROUND paths mount while the rest of the phase runs (each mount is a round trip to
    the server, and starting the scheduler needs only its own paths): `nfs_wait` at the end of
    the phase waits for them and fails if one failed."""
    return ScriptRun().add(
        step("nfs-mount"), nfs_server=server, nfs_paths=paths,
        nfs_fstab_paths=[fstab_path(p) for p in paths],
        nfs_modes=["background" if p in background else "now" for p in paths])


def nfs_wait() -> ScriptRun:
    """The end of a phase that used `nfs_mounts`: every background mount succeeded."""
    return ScriptRun().add(step("nfs-wait"))


def efs_mounts(entries: list[str], zone: str | None) -> ScriptRun:
    """Mount the template's EFS entries (`fs-…:/path`) on this node, from the file system's
    DNS name in the cluster's region (the mount target of the node's zone answers)."""
    if not entries:
        return ScriptRun()
    from sclust.efs import efs_host

    region = re.sub(r"[a-z]$", "", zone or "")
    pairs = [entry.split(":", 1) for entry in entries]
    return ScriptRun().add(step("efs-mount"), efs_hosts=[efs_host(f, region) for f, _ in pairs],
                           efs_paths=[path for _, path in pairs])


def efs_paths(entries: list[str]) -> list[str]:
    return [entry.split(":", 1)[1] for entry in entries]


def scratch(user: str) -> ScriptRun:
    """StarCluster's /mnt/USER scratch directory on every node."""
    return ScriptRun().add(step("scratch"), cluster_user=user)
