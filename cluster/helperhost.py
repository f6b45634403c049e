"""A short-lived helper instance (StarCluster's "volume host"): launched into its own security
group to format or grow a volume, and always terminated afterwards, on failure and Ctrl-C too."""

from __future__ import annotations

import logging
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sclust.cloud import Instance, LaunchSpec, Rule
from sclust.cloudadmin import CloudAdmin
from sclust.progress import Progress
from sclust.ssh import Connection, PinnedHostKeys

log = logging.getLogger(__name__)
TAG_HELPER = "sclust:helper"  # what the instance and its group are for; never a cluster
SSH_WAIT = 300.0


@dataclass
class HelperSpec:
    """How to launch the helper: AMI, type, zone and the key pair (with its private file)."""

    image_id: str
    instance_type: str
    zone: str
    keyname: str
    key_file: Path
    login_user: str | None = None


@contextmanager
def helper_host(cloud: CloudAdmin, spec: HelperSpec, purpose: str,
                progress: Progress) -> Iterator[tuple[Instance, Connection]]:
    """A running helper instance in SPEC's zone and an open SSH connection to it. Whatever
    happens inside (an error, Ctrl-C, SIGTERM), the instance is terminated and its group
    deleted on the way out; if that fails, the message names what is left."""
    subnet = cloud.subnet_for(None, spec.zone)
    token = secrets.token_hex(4)
    tags = {TAG_HELPER: purpose, "Name": f"sclust-helper {purpose}"}
    group_id = cloud.create_security_group(
        f"@sclust-helper-{token}", f"sclust helper host ({purpose})", subnet.vpc_id, tags,
        [Rule("tcp", 22, 22, "0.0.0.0/0", description="SSH from sclust")])
    instance_id: str | None = None
    connection: Connection | None = None
    try:
        progress.step(f"launching a helper instance ({spec.instance_type}, {spec.image_id}) in "
                      f"{spec.zone}")
        launched = cloud.launch(LaunchSpec(
            image_id=spec.image_id, instance_type=spec.instance_type, count=1,
            keyname=spec.keyname, subnet_id=subnet.subnet_id, security_group_id=group_id,
            tags=tags, volume_tags=tags))
        instance_id = launched[0].instance_id
        with progress.waiting(f"waiting for helper {instance_id}") as update:
            instance = cloud.wait_for_instances(
                [instance_id], "running", SSH_WAIT, need_address=True,
                on_poll=lambda ready, total: update("running" if ready else "pending"))[0]
        with tempfile.TemporaryDirectory(prefix="sclust-helper-") as known:
            connection = Connection("helper", instance.address or "", spec.login_user,
                                    spec.key_file, PinnedHostKeys(Path(known) / "known_hosts"))
            with progress.waiting("waiting for SSH on the helper"):
                connection.open(wait=SSH_WAIT)
            yield instance, connection
    finally:
        if connection is not None:
            connection.close()
        remove_helper(cloud, instance_id, group_id, progress)


def remove_helper(cloud: CloudAdmin, instance_id: str | None, group_id: str,
                  progress: Progress) -> None:
    """Terminate the helper and delete its group; a failure names what is left to delete."""
    try:
        if instance_id:
            progress.step(f"terminating helper {instance_id}")
            cloud.terminate_instances([instance_id])
            cloud.wait_for_instances([instance_id], "terminated", 300)
        cloud.delete_security_group(group_id)
    except BaseException as error:
        left = ", ".join(x for x in (instance_id, group_id) if x)
        log.error("helper cleanup failed: %s", error)
        progress.step(f"could not remove the helper ({type(error).__name__}: {error}): delete "
                      f"{left} yourself (tagged {TAG_HELPER})")
        if not isinstance(error, Exception):
            raise
