"""Where sclust keeps its own files: ~/.sclust (or $SCLUST_HOME)."""

from __future__ import annotations

import os
from pathlib import Path


def sclust_home() -> Path:
    return Path(os.environ.get("SCLUST_HOME", "~/.sclust")).expanduser()


def log_dir() -> Path:
    return sclust_home() / "logs"


def known_hosts_file(region: str, cluster: str) -> Path:
    """Host keys pinned for one cluster (a reused address must not inherit another's key)."""
    return sclust_home() / "known_hosts" / region / cluster


def user_plugin_dir() -> Path:
    return sclust_home() / "plugins"
