"""Where sclust keeps its own files: ~/.sclust (or $SCLUST_HOME)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sclust.names import child_path

REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")


def sclust_home() -> Path:
    return Path(os.environ.get("SCLUST_HOME", "~/.sclust")).expanduser()


def log_dir() -> Path:
    return sclust_home() / "logs"


def known_hosts_file(region: str, cluster: str) -> Path:
    """Host keys pinned for one cluster (a reused address must not inherit another's key)."""
    return child_path(region_dir(sclust_home() / "known_hosts", region), cluster)


def region_dir(directory: Path, region: str) -> Path:
    """DIRECTORY/REGION, for a region name that cannot leave DIRECTORY."""
    if not REGION.match(region):
        raise ValueError(f"{region!r} is not a region name (e.g. eu-west-1)")
    return directory / region


def user_plugin_dir() -> Path:
    return sclust_home() / "plugins"


def user_plugin_dirs() -> list[Path]:
    """Where user plugins are looked for, in order: sclust's own, then StarCluster's."""
    return [user_plugin_dir(), Path("~/.starcluster/plugins").expanduser()]
