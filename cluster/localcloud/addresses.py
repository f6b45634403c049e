"""The local cloud's public and Elastic addresses."""

from __future__ import annotations

import threading

from sclust.localcloud.settings import PUBLIC_RANGE


class AddressPool:
    """Public and Elastic addresses from our public range, handed out in order and not reused
    while the daemon runs (65,000 addresses outlast any session)."""

    def __init__(self) -> None:
        self._hosts = PUBLIC_RANGE.hosts()
        next(self._hosts)  # .0.1 is the bridge
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            try:
                return str(next(self._hosts))
            except StopIteration:
                raise RuntimeError("the local cloud ran out of public addresses") from None
