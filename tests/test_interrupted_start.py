"""Interrupted starts (issue 11 item 8, stays in the suite): the real `sclust start` is sent
SIGINT or SIGTERM at seeded random points of its launch, against a moto server behind a proxy
that slows every EC2 call (50–150 ms) so the signal lands mid-launch. After each: the CLI
exited cleanly (no traceback, it names every instance and the group that exist and what to
run); `start -x` yields a complete cluster from whatever was left (every third `start -x` is
itself interrupted first; a fresh `start` in half the cases that left nothing); `terminate`
leaves nothing: no instance, group or spot request of the cluster.

Signals are sent when the proxy receives the K-th EC2 call of the start (K runs through the
calls an uninterrupted start makes, in a seeded order), plus a random 0–150 ms, so they land
inside calls and between them. `--create-only` throughout: moto's hosts are not reachable
over SSH."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from sclust.keys import public_key_openssh
from tests.conftest import REPO, cluster_config
from tests.ec2proxy import ProxyState, ec2_proxy

SEED = int(os.environ.get("SCLUST_INTERRUPT_SEED", "11"))
CASES = int(os.environ.get("SCLUST_INTERRUPT_CASES", "12"))
SIZE = 3


@pytest.fixture
def proxy(moto_server: str) -> Iterator[tuple[str, ProxyState]]:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    with ec2_proxy(moto_server, delay=(0.05, 0.15), seed=SEED) as served:
        yield served


def sclust(config: Path, url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_MAX_ATTEMPTS": "2"}
    return subprocess.Popen([sys.executable, "-m", "sclust.cli", "-c", str(config), *args],
                            cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def finished(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


class Ec2View:
    """What EC2 (moto, asked directly) has of a cluster."""

    def __init__(self, moto_server: str) -> None:
        self.client = boto3.client("ec2", endpoint_url=moto_server, region_name="us-east-1")

    def groups(self, tag: str) -> list[dict]:
        return self.client.describe_security_groups(
            Filters=[{"Name": "tag:sclust:cluster", "Values": [tag]}])["SecurityGroups"]

    def instances(self, tag: str) -> list[dict]:
        reservations = self.client.describe_instances(Filters=[
            {"Name": "tag:sclust:cluster", "Values": [tag]},
            {"Name": "instance-state-name",
             "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]},
        ])["Reservations"]
        return [i for r in reservations for i in r["Instances"]]

    def spot_requests(self, tag: str) -> list[dict]:
        return self.client.describe_spot_instance_requests(Filters=[
            {"Name": "tag:sclust:cluster", "Values": [tag]},
            {"Name": "state", "Values": ["open", "active"]}])["SpotInstanceRequests"]

    def problems_of_complete(self, tag: str) -> list[str]:
        """Why cluster TAG is not complete: one group with its rules, the master and every
        node running in it, each tagged with its alias."""
        problems = []
        groups = self.groups(tag)
        if len(groups) != 1:
            return [f"{len(groups)} groups"]
        group = groups[0]
        rules = set()
        for permission in group.get("IpPermissions", []):
            ports = (permission.get("FromPort"), permission.get("ToPort"))
            rules |= {(permission["IpProtocol"], *ports, r["CidrIp"])
                      for r in permission.get("IpRanges", [])}
            rules |= {(permission["IpProtocol"], *ports, p["GroupId"])
                      for p in permission.get("UserIdGroupPairs", [])}
        wanted = {("-1", None, None, group["GroupId"]), ("tcp", 22, 22, "0.0.0.0/0"),
                  ("tcp", 80, 80, "0.0.0.0/0")}
        if not wanted <= rules:
            problems.append(f"group lacks rules {sorted(wanted - rules, key=str)}")
        aliases = []
        for instance in self.instances(tag):
            tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
            aliases.append(tags.get("sclust:alias", "?"))
            groups_of = {g["GroupId"] for g in instance.get("SecurityGroups", [])} | {
                g["GroupId"] for n in instance.get("NetworkInterfaces", [])
                for g in n.get("Groups", [])}
            if group["GroupId"] not in groups_of:
                problems.append(f"{instance['InstanceId']} outside the group")
            if instance["State"]["Name"] != "running":
                problems.append(f"{instance['InstanceId']} {instance['State']['Name']}")
        if sorted(aliases) != ["master", "node001", "node002"][:SIZE]:
            problems.append(f"aliases {sorted(aliases)}")
        return problems


class Interrupter:
    """Runs sclust commands through the slowed proxy, signalling them at a given EC2 call."""

    def __init__(self, config: Path, url: str, state: ProxyState, view: Ec2View) -> None:
        self.config, self.url, self.state, self.view = config, url, state, view
        self.failures: list[str] = []

    def run(self, args: tuple[str, ...], at_call: int, extra: float, signum: int
            ) -> tuple[int, str]:
        """ARGS, sent SIGNUM EXTRA seconds after the proxy receives its AT_CALL-th EC2 call;
        its exit status and stderr, once every call it made has been answered."""
        self.state.total = 0
        self.state.delay = (0.05, 0.15)
        process = sclust(self.config, self.url, *args)

        def send(total: int, action: str) -> None:
            if total == at_call:
                threading.Timer(extra, lambda: process.poll() is None
                                and process.send_signal(signum)).start()

        self.state.on_call = send
        try:
            code, _, err = finished(process)
        finally:
            self.state.on_call = None
            self.state.wait_idle()
            self.state.delay = (0.0, 0.0)
        return code, err

    def check_exit(self, label: str, tag: str, code: int, err: str, signum: int) -> bool:
        """A clean exit: the signal's status (or 0 if it came after the command was over: then
        the cluster is complete), no traceback, and it names what exists and what to run.
        Returns whether the command was interrupted."""
        expected = 130 if signum == signal.SIGINT else 143
        if "Traceback" in err or "unexpected" in err:
            self.failures.append(f"{label}: {err[-1500:]}")
        if code == 0:
            if problems := self.view.problems_of_complete(tag):
                self.failures.append(f"{label}: exit 0 but {problems}")
            return False
        if code != expected:
            self.failures.append(f"{label}: exit {code}, not {expected}: {err[-800:]}")
            return True
        what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        made = bool(self.view.groups(tag) or self.view.instances(tag))
        if f"sclust: {what}" not in err:
            self.failures.append(f"{label}: does not say it was {what}: {err[-800:]}")
        if made and f"`sclust start -x {tag}`" not in err:
            self.failures.append(f"{label}: does not say how to resume: {err[-800:]}")
        if made and f"`sclust terminate {tag}`" not in err:
            self.failures.append(f"{label}: does not say how to remove: {err[-800:]}")
        if not made and f"nothing of cluster {tag!r}" not in err:
            self.failures.append(f"{label}: says nothing of what is left: {err[-800:]}")
        named = [i["InstanceId"] for i in self.view.instances(tag)] + [
            g["GroupId"] for g in self.view.groups(tag)]
        for resource in named:
            if resource not in err:
                self.failures.append(f"{label}: {resource} not named: {err[-800:]}")
        return True

    def complete(self, label: str, tag: str, args: tuple[str, ...]) -> None:
        """ARGS (uninterrupted) succeed and leave the cluster complete."""
        code, _, err = finished(sclust(self.config, self.url, *args))
        if code != 0:
            self.failures.append(f"{label}: `sclust {' '.join(args)}` failed: {err[-800:]}")
        elif problems := self.view.problems_of_complete(tag):
            self.failures.append(f"{label}: after `sclust {' '.join(args)}`: {problems}")


def test_interrupted_starts_resume_or_terminate_cleanly(
    proxy: tuple[str, ProxyState], moto_server: str, tmp_path: Path, key_file: Path
) -> None:
    url, state = proxy
    view = Ec2View(moto_server)
    view.client.import_key_pair(KeyName="mykey", PublicKeyMaterial=public_key_openssh(key_file))
    config = cluster_config(tmp_path, key_file, size=SIZE)
    runs = Interrupter(config, url, state, view)
    started = time.monotonic()

    # An uninterrupted start: how many EC2 calls a start makes (where signals may land).
    state.total = 0
    code, _, err = finished(sclust(config, url, "start", "whole", "-o"))
    assert code == 0, err
    calls = state.total
    assert view.problems_of_complete("whole") == []
    assert finished(sclust(config, url, "terminate", "whole", "--yes"))[0] == 0

    chooser = random.Random(SEED)
    # Every call of the start is a signal point once before any is drawn again.
    points = [k for _ in range(CASES // calls + 1)
              for k in chooser.sample(range(1, calls + 1), calls)]
    counts = {"cases": 0, "SIGINT": 0, "SIGTERM": 0, "left something": 0, "left nothing": 0,
              "finished first": 0, "resumed with start -x": 0, "start -x interrupted too": 0,
              "started afresh": 0}
    for case in range(CASES):
        tag = f"int{case}"
        signum = chooser.choice([signal.SIGINT, signal.SIGTERM])
        at_call, extra = points[case], chooser.uniform(0, 0.15)
        counts["cases"] += 1
        counts[signal.Signals(signum).name] += 1
        label = f"case {case} ({signal.Signals(signum).name} at call {at_call}/{calls} " \
                f"+{extra * 1000:.0f} ms)"
        code, err = runs.run(("start", tag, "-o"), at_call, extra, signum)
        interrupted = runs.check_exit(label, tag, code, err, signum)
        made = bool(view.groups(tag) or view.instances(tag))
        counts["finished first"] += not interrupted
        counts["left something" if made else "left nothing"] += interrupted

        # What is left is resumed (every third resume is itself interrupted first); half the
        # starts that left nothing are simply run again.
        if interrupted and made:
            counts["resumed with start -x"] += 1
            if counts["resumed with start -x"] % 3 == 0:
                counts["start -x interrupted too"] += 1
                again_at, again_extra = chooser.randint(1, 6), chooser.uniform(0, 0.15)
                code, err = runs.run(("start", "-x", tag, "-o"), again_at, again_extra, signum)
                runs.check_exit(f"{label}, its start -x at call {again_at}", tag, code, err,
                                signum)
            runs.complete(label, tag, ("start", "-x", tag, "-o"))
        elif interrupted and case % 2 == 0:
            counts["started afresh"] += 1
            runs.complete(label, tag, ("start", tag, "-o"))

        if view.groups(tag) or view.instances(tag):
            code, _, err = finished(sclust(config, url, "terminate", tag, "--yes"))
            if code != 0:
                runs.failures.append(f"{label}: terminate failed: {err[-800:]}")
        left = (view.groups(tag), view.instances(tag), view.spot_requests(tag))
        if any(left):
            runs.failures.append(f"{label}: terminate left {left}")

    elapsed = time.monotonic() - started
    print(f"\ninterrupted starts (seed {SEED}, {calls} EC2 calls per start, "
          f"{elapsed:.0f} s): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    assert not runs.failures, "\n".join(runs.failures)
