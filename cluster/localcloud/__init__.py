"""sclust's local cloud: an EC2 endpoint on this machine whose instances are real hosts.

Light to import (sclust's CLI imports it): moto and friends load only in the daemon."""

from __future__ import annotations

from pathlib import Path

from sclust.localcloud.settings import LocalEndpoint

__all__ = ["LocalEndpoint", "ensure_running"]


def ensure_running(state_dir: Path | None = None) -> LocalEndpoint:
    """The local cloud's endpoint, starting the daemon first if it is not running.

    `state_dir` defaults to $SCLUST_LOCAL_DIR, else $SCLUST_HOME/local. Fast when already up."""
    from sclust.localcloud.control import up

    return up(state_dir)
