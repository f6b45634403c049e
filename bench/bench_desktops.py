"""Desktops benchmark on the local cloud: time to a ready course (launched, an Elastic IP
each, set up over SSH, noVNC answering over HTTPS) of N = 5, 10, 20 desktops, the EC2 calls
it takes (total, and per desktop beyond the fixed part), and a stop/start round.

Run as root: python bench/bench_desktops.py [--kind KIND] [--schedule SCHEDULE] [N ...]
(brings up and tears down its own local cloud, with an Elastic IP limit of 60 so that 5 + 10 + 20
fit at once; KIND as in the config, e.g. --kind "novnc, jupyter"; default novnc; --schedule
"Mon-Fri 08:30-18:00" gives the course a calendar, and the table counts the EventBridge
Scheduler and IAM calls it costs)
Goal: EC2 calls independent of N except what EC2 has no batch form for (AllocateAddress is
one address per call; AssociateAddress and per-desktop CreateTags likewise): 3 per desktop.
"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(sizes: tuple[int, ...] = (5, 10, 20), kind: str = "novnc",
         schedule: str | None = None) -> None:
    from sclust.config import AwsSettings, load_config
    from sclust.desktops.course import Desktops
    from sclust.desktops.template import desktops_template
    from sclust.ec2 import EC2
    from sclust.keys import public_key_openssh
    from sclust.localcloud import control
    from sclust.progress import Progress
    from tests.conftest import write_key

    rows = []
    scheduling: list[dict[str, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(SCLUST_HOME=tmp, SCLUST_LOCAL_PORT="0",
                          SCLUST_LOCAL_EIP_LIMIT=str(sum(sizes) + 5),
                          SCLUST_SSH_ONLY_TO="172.31.0.0/16,198.18.0.0/15")
        endpoint = control.up(Path(tmp) / "local")
        try:
            cloud = EC2(AwsSettings(region=endpoint.region, endpoint_url=endpoint.url,
                                    access_key_id=endpoint.access_key,
                                    secret_access_key=endpoint.secret_key))
            calls: Counter[str] = Counter()
            cloud.client.meta.events.register(
                "before-call.ec2", lambda model, **_: calls.update([model.name]))
            other: Counter[str] = Counter()  # scheduler and IAM: clients made later
            for service in ("scheduler", "iam"):
                cloud._session.events.register(
                    f"before-call.{service}",
                    lambda model, service=service, **_: other.update([service]))
            schedules = None
            if schedule:
                from sclust.eventbridge import EventBridgeSchedules

                schedules = EventBridgeSchedules(cloud)
            key = write_key(Path(tmp) / "k.pem")
            cloud.import_key_pair("bench", public_key_openssh(key))
            path = Path(tmp) / "config"
            path.write_text(textwrap.dedent(f"""\
                [key bench]
                KEY_LOCATION = {key}
                [desktops course]
                KEYNAME = bench
                IMAGE_ID = ami-0localstarcluster
                INSTANCE_TYPE = g4dn.xlarge
                COUNT = 1
                LOGIN_USER = root
                AUTO_STOP = 18:00
                TIMEZONE = Europe/Madrid
                KIND = {kind}
                JUPYTER_PORT = 8443
                """) + (f"SCHEDULE = {schedule}\n" if schedule else ""))
            template = desktops_template(load_config(path), "course")
            desktops = Desktops(cloud, Progress(quiet=True), key_file=lambda _: key,
                                schedules=schedules)
            for size in sizes:
                template.count = size
                name = f"c{size}"
                calls.clear()
                other.clear()
                started = time.perf_counter()
                desktops.start(name, template)
                ready = time.perf_counter() - started
                start_calls = dict(calls)
                scheduling.append(dict(other))
                calls.clear()
                started = time.perf_counter()
                desktops.stop(name)
                desktops.start(name, template)
                round_trip = time.perf_counter() - started
                rows.append((size, ready, start_calls, round_trip, sum(calls.values())))
                desktops.terminate(name)
        finally:
            left = control.down(Path(tmp) / "local")
    print(f"KIND = {kind}" + (f"; SCHEDULE = {schedule}" if schedule else ""))
    print_rows(rows)
    if schedule:
        print("scheduler/IAM calls of each start:",
              "; ".join(f"N={size}: {calls}" for (size, *_), calls in zip(rows, scheduling,
                                                                           strict=True)))
    if left:
        print(f"local cloud left: {left}")


def print_rows(rows: list[tuple[int, float, dict[str, int], float, int]]) -> None:
    print(f"{'N':>3} {'ready s':>8} {'s/desktop':>9} {'EC2 calls':>9} {'fixed':>6} "
          f"{'per desktop':>11} {'stop+start s':>12} {'its calls':>9}")
    per_desktop_ops = ("AllocateAddress", "AssociateAddress", "CreateTags")
    for size, ready, calls, round_trip, round_calls in rows:
        total = sum(calls.values())
        # CreateTags also runs once (the setup mark) whatever N: one per desktop beyond it.
        per = sum(calls.get(op, 0) for op in per_desktop_ops) - 1
        print(f"{size:>3} {ready:>8.1f} {ready / size:>9.2f} {total:>9} {total - per:>6} "
              f"{per / size:>11.1f} {round_trip:>12.1f} {round_calls:>9}")
    print("calls by operation (largest N):",
          ", ".join(f"{op} {n}" for op, n in sorted(rows[-1][2].items())))


if __name__ == "__main__":
    args = sys.argv[1:]
    options = {"--kind": "novnc", "--schedule": None}
    while args[:1] and args[0] in options and len(args) > 1:
        options[args[0]], args = args[1], args[2:]
    main(tuple(int(a) for a in args) or (5, 10, 20), options["--kind"] or "novnc",
         options["--schedule"])
