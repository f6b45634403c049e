"""`listclusters -s`: whether each node answers SSH, checked in parallel with a time bound."""

from __future__ import annotations

import time
from pathlib import Path

from sclust.errors import SclustError
from sclust.ssh import LOGIN_CANDIDATES, Connection, PinnedHostKeys, fan_out, remembered_login_user
from sclust.state import ClusterInfo, Node

CHECK_TIMEOUT = 8.0  # seconds per node; all nodes are checked at once


def ssh_status(info: ClusterInfo, key_file: Path | None, known_hosts: Path,
               login_user: str | None, timeout: float = CHECK_TIMEOUT) -> dict[str, str]:
    """Alias -> "up (0.21 s)", "down: …" or "-" (not running), for every node of INFO."""
    if key_file is None:
        return {n.alias: "unknown: no [key] for the cluster" for n in info.nodes}
    host_keys = PinnedHostKeys(known_hosts)
    user = login_user or remembered_login_user(known_hosts)

    def check(node: Node) -> str:
        if node.state != "running" or not node.address:
            return "-"
        connection = Connection(node.alias, node.address, user, key_file, host_keys,
                                connect_timeout=timeout, candidates=LOGIN_CANDIDATES)
        began = time.monotonic()
        try:
            connection.run("true", timeout=timeout)
        finally:
            connection.close()
        return f"up ({time.monotonic() - began:.2f} s)"

    results = fan_out(info.nodes, check, name=lambda n: n.alias)
    status = {}
    for alias, result in results.items():
        if isinstance(result, BaseException):
            text = str(result) if isinstance(result, SclustError) else (
                f"{type(result).__name__}: {result}")
            status[alias] = "down: " + text.removeprefix(f"{alias} ").strip()[:120]
        else:
            status[alias] = str(result)
    return status
