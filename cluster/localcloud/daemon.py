"""The local cloud's daemon: `python -m sclust.localcloud.daemon --state-dir DIR`.

Holds the machine-wide lock, serves the endpoint on 127.0.0.1, realizes instances, and on
SIGTERM (or POST /_sclust/shutdown) removes everything it made before exiting."""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sclust.localcloud import cleanup
from sclust.localcloud.auth import Credentials, ensure_credentials
from sclust.localcloud.hosts import Host
from sclust.localcloud.journal import Journal
from sclust.localcloud.settings import MACHINE_LOCK, DaemonSettings, Layout

if TYPE_CHECKING:
    from sclust.localcloud.cloud import Cloud

log = logging.getLogger("sclust.localcloud")
DEFAULT_PORT = 5757


def take_machine_lock(layout: Layout) -> int:
    """Hold the machine lock for the daemon's life (the kernel drops it if we die)."""
    fd = os.open(MACHINE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.read(fd, 4096).decode(errors="replace").strip()
        os.close(fd)
        raise SystemExit(f"another local cloud runs on this machine (state dir {owner})") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(layout.root).encode())
    return fd


def serve(layout: Layout, port: int) -> int:
    settings = DaemonSettings.from_env()
    credentials = ensure_credentials(layout.credentials_file)
    # moto reads these at import time.
    os.environ.update({
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_DEFAULT_REGION": settings.region, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    })
    from sclust.localcloud import patches
    from sclust.localcloud.cloud import Cloud
    from sclust.localcloud.nfs import NfsService

    left = cleanup.recover(layout)  # a crashed predecessor's hosts, if any
    if left:
        log.warning("could not remove leftovers of a previous run: %s", left)
    journal = Journal(layout.journal_file)
    cloud = Cloud(layout, settings, journal)
    patches.install(cloud)
    nfs = NfsService(cloud)

    def load_exports_at_boot(host: Host) -> None:  # nfs-server starts at boot
        nfs.load_exports(host)

    cloud.on_boot.append(load_exports_at_boot)
    cloud.on_halt.append(nfs.forget)
    from sclust.localcloud.imds import MetadataService
    from sclust.localcloud.network import netns_name

    imds = MetadataService(cloud)
    cloud.imds = imds

    def metadata_up(host: object) -> None:
        instance_id = host.spec.instance_id  # type: ignore[attr-defined]
        try:
            imds.start_for(instance_id, netns_name(instance_id))
        except Exception:  # the host works without it; say so
            log.exception("instance metadata for %s did not start", instance_id)

    if os.environ.get("SCLUST_LOCAL_IMDS", "1") != "0":  # 0: no metadata service
        cloud.on_boot.append(metadata_up)
        cloud.on_halt.append(imds.stop_for)
    from sclust.localcloud.schedules import ScheduleRunner

    schedules = ScheduleRunner(cloud)  # EventBridge Scheduler's EC2 schedules, run here
    try:
        cloud.start()
        nfs.start()
        schedules.start()
        run_endpoint(layout, cloud, settings.region, port, credentials)
    finally:
        schedules.stop()
        layout.endpoint_file.unlink(missing_ok=True)
        imds.stop_all()
        nfs.stop()
        cloud.shutdown()
    left = cleanup.wait_until_clean(layout, journal)
    if left:
        log.error("left behind: %s", left)
    else:
        log.info("nothing left behind")
    return 1 if left else 0


def run_endpoint(layout: Layout, cloud: Cloud, region: str, port: int,
                 credentials: Credentials) -> None:
    """Serve until SIGTERM/SIGINT or a signed POST /_sclust/shutdown."""
    from werkzeug.serving import make_server

    from sclust.localcloud.endpoint import Endpoint

    stop = threading.Event()
    endpoint = Endpoint(cloud, credentials, on_shutdown=stop.set)
    server = make_server("127.0.0.1", port, endpoint, threaded=True)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    # The same endpoint for the hosts, at the VPC router address (the bridge): they are told it
    # the standard way, AWS_ENDPOINT_URL in their environment; it answers signed requests only.
    from sclust.localcloud.settings import BRIDGE_PRIVATE_IP

    for_hosts = None
    try:
        for_hosts = make_server(str(BRIDGE_PRIVATE_IP), server.server_address[1], endpoint,
                                threaded=True)
    except (OSError, SystemExit):  # werkzeug exits when it cannot bind: hosts go without
        log.warning("the endpoint is not reachable from hosts: %s:%s is taken",
                    BRIDGE_PRIVATE_IP, server.server_address[1])
    if for_hosts is not None:
        threading.Thread(target=for_hosts.serve_forever, name="http-hosts",
                         daemon=True).start()
        cloud.tell_hosts_endpoint(
            f"http://{BRIDGE_PRIVATE_IP}:{server.server_address[1]}", region)
    # No secret here: the credentials are in their own 0600 file.
    layout.endpoint_file.write_text(json.dumps({"url": url, "region": region,
                                                "pid": os.getpid()}))
    log.info("local cloud up at %s (state %s)", url, layout.root)
    while not stop.wait(1.0):
        pass
    log.info("shutting down")
    if for_hosts is not None:
        for_hosts.shutdown()
    server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sclust-localcloud-daemon")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("SCLUST_LOCAL_PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    layout = Layout(args.state_dir.absolute())
    layout.root.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.FileHandler(layout.log_file)],
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    lock_fd = take_machine_lock(layout)
    layout.pid_file.write_text(f"{os.getpid()}\n")
    try:
        return serve(layout, args.port)
    except BaseException:
        log.exception("daemon failed")
        raise
    finally:
        layout.pid_file.unlink(missing_ok=True)
        MACHINE_LOCK.unlink(missing_ok=True)  # still ours: we hold the lock
        os.close(lock_fd)


if __name__ == "__main__":
    sys.exit(main())
