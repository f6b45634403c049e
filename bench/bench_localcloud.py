"""Benchmarks of the local cloud (not part of the test run). Prints a table:

- time from RunInstances to every instance answering SSH (a command run over paramiko), N = 1, 5,
  10, 20 (goal: ≤ 3 s for 10, no worse than linear);
- memory per idle host (PSS of all processes in its PID namespace: init + sshd, and of
  its launcher, which waits outside);
- root-layer disk use per fresh host;
- time for `sclust local down` with 20 hosts running.

Run as root: python bench/bench_localcloud.py [--sizes 1,5,10,20]
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def ssh_ready(address: str, key_pem: str, deadline: float) -> float:
    """Seconds (monotonic clock) at which `true` first ran over SSH on `address`."""
    import paramiko

    key = paramiko.Ed25519Key.from_private_key(io.StringIO(key_pem))
    while time.monotonic() < deadline:
        try:
            # Short connect timeout: a SYN sent while the host boots may be lost (as on EC2),
            # and the kernel would retry it only after 1 s.
            sock = socket.create_connection((address, 22), timeout=0.3)
            sock.settimeout(10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            client.connect(address, username="root", pkey=key, sock=sock, timeout=5,
                           allow_agent=False, look_for_keys=False)
            _, out, _ = client.exec_command("true")
            out.channel.recv_exit_status()
            client.close()
            return time.monotonic()
        except (OSError, Exception):
            time.sleep(0.02)
    raise TimeoutError(f"{address} never answered SSH")


def wait_state(ec2, ids: list[str], state: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
        except Exception as error:  # new instances: NotFound for a moment (eventual consistency)
            if "InvalidInstanceID.NotFound" not in str(error):
                raise
            time.sleep(0.1)
            continue
        if all(i["State"]["Name"] == state for r in reservations for i in r["Instances"]):
            return
        time.sleep(0.1)
    raise TimeoutError(f"instances not {state}")


def namespace_pss_kib(pid1: int) -> int:
    """PSS of every process sharing PID namespace with `pid1` (the host's whole process table)."""
    target = os.readlink(f"/proc/{pid1}/ns/pid")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns/pid") != target:
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _nspid(pid: int) -> list[str]:
    """The pid of `pid` in each nested PID namespace, outermost first."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return line.split()[1:]
    return []


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,5,10,20")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import boto3

    from sclust.localcloud import control

    os.environ.setdefault("SCLUST_LOCAL_PORT", "0")
    state_dir = Path(tempfile.mkdtemp(prefix="sclust-bench-"))
    started = time.monotonic()
    endpoint = control.up(state_dir)
    up_seconds = time.monotonic() - started
    ec2 = boto3.client("ec2", endpoint_url=endpoint.url, region_name=endpoint.region,
                       aws_access_key_id=endpoint.access_key,
                       aws_secret_access_key=endpoint.secret_key)
    key_pem = ec2.create_key_pair(KeyName="bench", KeyType="ed25519")["KeyMaterial"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
        "Subnets"][0]["SubnetId"]
    rows = []
    memory = disk = down_seconds = None
    try:
        for n in sizes:
            t0 = time.monotonic()
            response = ec2.run_instances(ImageId="ami-0localstarcluster", MinCount=n, MaxCount=n,
                                         KeyName="bench", SubnetId=subnet)
            addresses = [i["PublicIpAddress"] for i in response["Instances"]]
            ids = [i["InstanceId"] for i in response["Instances"]]
            with ThreadPoolExecutor(max_workers=n) as pool:
                deadline = t0 + 120
                ready = list(pool.map(ssh_ready, addresses, [key_pem] * n, [deadline] * n))
            wait_state(ec2, ids, "running")
            rows.append((n, max(ready) - t0, sorted(ready)[len(ready) // 2] - t0))
            if n == max(sizes):
                time.sleep(1)  # let first-boot work settle: measure idle hosts
                status = control.status(state_dir)
                pids = [int(p) for p in subprocess.run(
                    ["pgrep", "-f", "/usr/lib/sclust/host-init"],
                    capture_output=True, text=True).stdout.split()]
                pid1s = [p for p in pids if _nspid(p)[-1] == "1"]
                # The host's processes, and its launcher outside them (launch.py), which waits.
                memory = sum(namespace_pss_kib(p) + pss_kib(_parent(p))
                             for p in pid1s) / max(1, len(pid1s))
                uppers = [state_dir / "hosts" / h["instance_id"] / "upper"
                          for h in status["hosts"]]
                du = subprocess.run(["du", "-sk", *map(str, uppers)], capture_output=True,
                                    text=True).stdout.split()
                disk = sum(int(x) for x in du[0::2]) / max(1, len(uppers))
                t1 = time.monotonic()
                left = control.down(state_dir)
                down_seconds = time.monotonic() - t1
                assert left == [], left
            else:
                ec2.terminate_instances(InstanceIds=ids)
                wait_state(ec2, ids, "terminated")
    finally:
        try:
            if down_seconds is None:  # not taken down yet (a failure on the way)
                control.down(state_dir)
        finally:
            subprocess.run(["rm", "-rf", str(state_dir)])

    print(f"local cloud benchmark ({os.cpu_count()} cores); `up` took {up_seconds:.2f} s")
    print(f"{'N':>4}  {'RunInstances→all SSH (s)':>26}  {'median host (s)':>16}  {'s/host':>7}")
    for n, worst, median in rows:
        print(f"{n:>4}  {worst:>26.2f}  {median:>16.2f}  {worst / n:>7.3f}")
    if memory is not None:
        print(f"memory per idle host (PSS of its processes): {memory / 1024:.1f} MiB")
        print(f"root layer per fresh host (upper dir): {disk / 1024:.1f} MiB")
        print(f"`down` with {max(sizes)} hosts: {down_seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
