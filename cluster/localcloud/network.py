"""The local cloud's network: one bridge that owns every range of ours, and per host a network
namespace joined to it by a veth pair. Hosts get no default route, so nothing leaves the bridge."""

from __future__ import annotations

import ipaddress
import subprocess
import threading

from sclust.localcloud.errors import LocalCloudError
from sclust.localcloud.journal import Journal
from sclust.localcloud.settings import (
    BRIDGE_NAME,
    BRIDGE_PRIVATE_IP,
    BRIDGE_PUBLIC_IP,
    OWN_RANGES,
    PRIVATE_RANGE,
    PUBLIC_RANGE,
    in_own_ranges,
)

NETNS_PREFIX = "scl-"
VETH_PREFIX = "sv-"
# Netlink changes one at a time: parallel `ip` runs once gave "RTNETLINK answers: File exists".
_ip_lock = threading.Lock()


def netns_name(instance_id: str) -> str:
    return NETNS_PREFIX + instance_id


def veth_name(instance_id: str) -> str:
    # Interface names hold at most 15 characters; instance ids end in 17 random hex digits.
    return VETH_PREFIX + instance_id[-12:]


def ip_batch(
    commands: list[str], check: bool = True, netns: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `ip` commands in one process (`ip -batch`), in namespace `netns` if given."""
    argv = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    with _ip_lock:
        proc = subprocess.run(
            argv, input="\n".join(commands) + "\n",
            capture_output=True, text=True,
        )
    if check and proc.returncode != 0:
        raise LocalCloudError(f"ip failed: {proc.stderr.strip()} (commands: {commands})")
    return proc


def routes_colliding_with_ours() -> list[str]:
    """Routes of this machine (not ours) that overlap a range of ours: we must not shadow them."""
    out = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                         capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        if not fields or fields[0] in ("default", "local", "broadcast", "unreachable"):
            continue
        if "dev" in fields and fields[fields.index("dev") + 1] == BRIDGE_NAME:
            continue
        try:
            net = ipaddress.IPv4Network(fields[0], strict=False)
        except ValueError:
            continue
        if any(net.overlaps(own) for own in OWN_RANGES):
            found.append(line.strip())
    return found


def bridge_up(journal: Journal) -> None:
    """Create the bridge holding the VPC router address and the first public address; their
    connected routes send every address of our ranges into the bridge and nowhere else."""
    show = subprocess.run(["ip", "link", "show", BRIDGE_NAME], capture_output=True)
    exists = show.returncode == 0
    journal.add("bridge", BRIDGE_NAME)
    if exists:
        ip_batch([f"link set {BRIDGE_NAME} up"])
        return
    ip_batch([
        f"link add {BRIDGE_NAME} type bridge",
        # ARP retries every 100 ms instead of 1 s: an SSH attempt made while a host is still
        # booting then connects as soon as the host is up (the bridge is ours, so is this knob).
        f"ntable change name arp_cache dev {BRIDGE_NAME} retrans 100",
        f"addr add {BRIDGE_PRIVATE_IP}/{PRIVATE_RANGE.prefixlen} dev {BRIDGE_NAME}",
        f"addr add {BRIDGE_PUBLIC_IP}/{PUBLIC_RANGE.prefixlen} dev {BRIDGE_NAME}",
        f"link set {BRIDGE_NAME} up",
    ])


def bridge_down(journal: Journal) -> None:
    ip_batch([f"link del {BRIDGE_NAME}"], check=False)
    journal.remove("bridge", BRIDGE_NAME)


def create_host_network(
    journal: Journal, instance_id: str, private_ip: str, prefixlen: int
) -> None:
    """Namespace + veth for one host at `private_ip` (its subnet on-link, our ranges on-link,
    no default route)."""
    if not in_own_ranges(private_ip) or ipaddress.IPv4Address(private_ip) not in PRIVATE_RANGE:
        raise LocalCloudError(f"refusing to realize {private_ip}: outside {PRIVATE_RANGE}")
    ns, veth = netns_name(instance_id), veth_name(instance_id)
    journal.add("netns", ns)
    journal.add("links", veth)
    ip_batch([
        f"netns add {ns}",
        f"link add {veth} type veth peer name eth0 netns {ns}",
        f"link set {veth} master {BRIDGE_NAME} up",
    ])
    ip_batch([
        f"addr add {private_ip}/{prefixlen} dev eth0",
        # Instance metadata: the daemon listens there from inside the namespace (imds.py).
        "addr add 169.254.169.254/32 dev lo",
        "link set lo up",
        "link set eth0 up",
        # The whole VPC and the public range are on the bridge: reach every host and the
        # machine (172.31.0.1 / 198.18.0.1) directly; there is no way out beyond them.
        f"route add {PRIVATE_RANGE} dev eth0",
        f"route add {PUBLIC_RANGE} dev eth0",
    ], netns=ns)
    forget_neighbors([private_ip])


def forget_neighbors(addresses: list[str]) -> None:
    """Drop the machine's ARP entries for addresses that now belong to a new veth (a host
    started again, an Elastic IP moved): a remembered MAC of a deleted veth would swallow
    packets until the entry expires (up to ~45 s)."""
    if addresses:
        ip_batch([f"neigh flush to {a} dev {BRIDGE_NAME}" for a in sorted(addresses)],
                 check=False)


def delete_host_network(journal: Journal, instance_id: str) -> None:
    ns, veth = netns_name(instance_id), veth_name(instance_id)
    ip_batch([f"link del {veth}"], check=False)
    ip_batch([f"netns del {ns}"], check=False)
    journal.remove("links", veth)
    journal.remove("netns", ns)


def set_public_addresses(instance_id: str, old: set[str], new: set[str]) -> None:
    """Give the host its public/Elastic addresses. They sit on the host's `lo` (the host answers
    ARP for them on eth0), so `ip addr show eth0` shows only the private address, as on EC2."""
    for address in new:
        if not in_own_ranges(address) or ipaddress.IPv4Address(address) not in PUBLIC_RANGE:
            raise LocalCloudError(
                f"refusing to realize public address {address}: outside {PUBLIC_RANGE}")
    ns = netns_name(instance_id)
    commands = [f"addr del {a}/32 dev lo" for a in sorted(old - new)]
    commands += [f"addr add {a}/32 dev lo" for a in sorted(new - old)]
    if commands:
        ip_batch(commands, check=False, netns=ns)
    forget_neighbors(sorted(new - old))


def leftover_network() -> list[str]:
    """Namespaces and links of ours that still exist on this machine."""
    left = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    left += [f"netns {line.split()[0]}" for line in netns.splitlines()
             if line.startswith(NETNS_PREFIX)]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(VETH_PREFIX) or name == BRIDGE_NAME:
            left.append(f"link {name}")
    return left
