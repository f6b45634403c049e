"""Waiting for instances to reach a state, with progress: the cloud's one waiter
(`Cloud.wait_for_instances`: retries instances not visible yet, names the laggards) under a
progress line. Clusters and desktops both wait through here."""

from __future__ import annotations

from collections.abc import Callable

from sclust.cloud import Cloud, Instance
from sclust.progress import Progress


def wait_for_instances(
    cloud: Cloud,
    instance_ids: list[str],
    state: str,
    progress: Progress,
    timeout: float,
    what: str | None = None,
    need_address: bool = False,
    interval: float = 5.0,
    name: Callable[[Instance], str] | None = None,
) -> list[Instance]:
    """Poll until every instance is in STATE (backing off to INTERVAL between polls, the
    config's REFRESH_INTERVAL); return them in the order of INSTANCE_IDS."""
    if not instance_ids:
        return []
    what = what or f"{len(instance_ids)} instance(s) to be {state}"
    with progress.waiting(f"waiting for {what}") as update:
        return cloud.wait_for_instances(
            instance_ids, state, timeout, need_address=need_address, max_interval=interval,
            name=name, on_poll=lambda ready, total: update(f"{ready}/{total} {state}"))
