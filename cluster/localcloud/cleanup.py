"""Finding and removing what a local cloud left on this machine: used by the daemon at shutdown
(to check), and by `up`/`down` after a crash (to recover). Only things of ours are touched:
names with our prefixes, processes recorded in the journal (pid + start time) or running our
host-init script, loop devices over our files, mounts under our state directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from sclust.localcloud import network, volumes
from sclust.localcloud.journal import Journal, same_process
from sclust.localcloud.settings import BRIDGE_NAME, Layout


def our_processes(layout: Layout, journal: Journal | None = None) -> list[int]:
    """Live processes of ours: journal entries that are still the same process, and any
    process running this state dir's host-init script (PID 1 of a host, or its `unshare`)."""
    pids = set()
    if journal is not None:
        for pid, start in journal.items("pids"):
            if isinstance(start, int) and same_process(int(pid), start):
                pids.add(int(pid))
    marker = str(layout.root / "host-init.sh").encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                pids.add(int(entry.name))
        except OSError:
            continue
    return sorted(pids)


def our_mounts(layout: Layout) -> list[str]:
    out = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True).stdout
    prefix = str(layout.root) + "/"
    return [line for line in out.splitlines() if line.startswith(prefix)]


def leftovers(layout: Layout, journal: Journal | None = None) -> list[str]:
    """Everything of ours still on the machine, one description per item (empty: clean)."""
    found = network.leftover_network()
    found += [f"loop device {dev}" for dev in volumes.loops_backed_by(layout.root)]
    found += [f"mount {target}" for target in our_mounts(layout)]
    found += [f"process {pid}" for pid in our_processes(layout, journal)]
    return found


def recover(layout: Layout) -> list[str]:
    """Remove what a dead daemon left (call only while no daemon runs). Returns what remains."""
    journal = Journal(layout.journal_file)
    # Killing each host's PID 1 ends its whole PID namespace, its mounts with it.
    for pid in our_processes(layout, journal):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while our_processes(layout, journal) and time.monotonic() < deadline:
        time.sleep(0.05)
    for target in reversed(our_mounts(layout)):
        subprocess.run(["umount", "-l", target], capture_output=True)
    for device in volumes.loops_backed_by(layout.root):
        subprocess.run(["losetup", "--detach", device], capture_output=True)
    for device, _backing in journal.items("loops"):
        journal.remove("loops", device)
    commands = []
    for item in network.leftover_network():
        kind, name = item.split(" ", 1)
        if kind == "link" and name != BRIDGE_NAME:
            commands.append(f"link del {name}")
        elif kind == "netns":
            commands.append(f"netns del {name}")
    commands.append(f"link del {BRIDGE_NAME}")
    for command in commands:  # one by one: a failure must not stop the rest
        network.ip_batch([command], check=False)
    for kind in Journal.KINDS:
        for name, _ in journal.items(kind):
            journal.remove(kind, name)
    # moto's state died with the daemon: root layers and volume files belong to nothing now.
    shutil.rmtree(layout.hosts_dir, ignore_errors=True)
    shutil.rmtree(layout.volumes_dir, ignore_errors=True)
    return leftovers(layout, journal)


def wait_until_clean(layout: Layout, journal: Journal | None, timeout: float = 5.0) -> list[str]:
    """Leftovers after letting the kernel finish lazy teardown (loop autoclear, netns release)."""
    deadline = time.monotonic() + timeout
    while True:
        left = leftovers(layout, journal)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)

