"""Waiting for instances to reach a state, with progress and a timeout that names the laggards."""

from __future__ import annotations

import time
from collections.abc import Callable

from sclust.ec2 import Cloud
from sclust.errors import CloudError, WaitTimeout
from sclust.progress import Progress
from sclust.state import Node

FAILED_WHILE_STARTING = {"shutting-down", "terminated"}


def wait_for_state(
    cloud: Cloud,
    instance_ids: list[str],
    state: str,
    progress: Progress,
    timeout: float,
    what: str | None = None,
    need_address: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Node]:
    """Poll (one describe call per round) until every instance is in STATE; return them."""
    if not instance_ids:
        return []
    what = what or f"{len(instance_ids)} instance(s) to be {state}"
    deadline = time.monotonic() + timeout
    interval = 0.5
    with progress.waiting(f"waiting for {what}") as update:
        while True:
            nodes = cloud.describe_nodes(instance_ids)
            ready = [n for n in nodes if n.state == state and (n.address or not need_address)]
            update(f"{len(ready)}/{len(instance_ids)} {state}")
            if len(ready) == len(instance_ids):
                return nodes
            if state == "running":
                dead = [n for n in nodes if n.state in FAILED_WHILE_STARTING]
                if dead:
                    names = ", ".join(f"{n.alias} ({n.instance_id}: {n.state})" for n in dead)
                    raise CloudError(
                        f"instances ended while starting: {names} — see the EC2 console for"
                        " the reason (often capacity or a spot interruption)"
                    )
            if time.monotonic() > deadline:
                late = [n for n in nodes if n not in ready]
                names = ", ".join(f"{n.alias} ({n.instance_id}: {n.state})" for n in late)
                raise WaitTimeout(
                    f"timed out after {timeout:.0f} s waiting for {what}; still waiting for: "
                    f"{names}"
                )
            sleep(interval)
            interval = min(interval * 1.5, 5.0)
