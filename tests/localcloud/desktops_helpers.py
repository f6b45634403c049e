"""Helpers of the desktops' local-cloud tests: log in through noVNC while a desktop boots,
and a time of day a minute ahead (to fire an auto-stop)."""

from __future__ import annotations

import datetime
import textwrap
import time
import zoneinfo
from pathlib import Path
from typing import Any

from sclust.desktops.rfb import VncAuthFailed, VncSession, open_session


def wait_session(address: str, port: int, password: str, fingerprint: str | None = None,
                 timeout: float = 30) -> VncSession:
    """A VNC session through noVNC once the desktop answers; a refused password fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return open_session(address, port, password, fingerprint)
        except VncAuthFailed:
            raise
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def next_minute(zone: str, at_least: float = 25) -> str:
    """HH:MM in ZONE of the first whole minute at least AT_LEAST seconds from now."""
    moment = datetime.datetime.now(zoneinfo.ZoneInfo(zone)) + datetime.timedelta(
        seconds=at_least + 59)
    return moment.strftime("%H:%M")


def course_config(cloud: Any, directory: Path, name: str, count: int, extra: str = "",
                  instance_type: str = "t3.medium") -> Path:
    """A config with one `[desktops NAME]` course on the local cloud (its key saved 0600
    beside it), EXTRA keys appended to the course; plugin sections may follow EXTRA."""
    key = directory / "cloud-key.pem"
    key.write_text(cloud.key_pem)
    key.chmod(0o600)
    config = directory / "config"
    config.write_text(textwrap.dedent(f"""\
        [global]
        CLOUD = local

        [key {cloud.key_name}]
        KEY_LOCATION = {key}

        [desktops {name}]
        KEYNAME = {cloud.key_name}
        IMAGE_ID = ami-0localstarcluster
        INSTANCE_TYPE = {instance_type}
        COUNT = {count}
        AVAILABILITY_ZONE = {cloud.zone}
        LOGIN_USER = ubuntu
        """) + textwrap.dedent(extra))
    return config



def wait_until(condition, timeout: float = 60, what: str = "the page"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)
