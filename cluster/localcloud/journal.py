"""A record, on disk, of every machine resource the daemon creates, so that a crash leaves
nothing that `up` or `down` cannot find and remove again."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


def process_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return int(stat.rsplit(")", 1)[1].split()[19])


def same_process(pid: int, start_time: int) -> bool:
    """True when `pid` still names the very process recorded (not a reused pid)."""
    return process_start_time(pid) == start_time


class Journal:
    """Kinds → names of live resources: `netns`, `links`, `pids` (pid → start time), `loops`
    (device → backing file), `bridge`. Written atomically after each change."""

    KINDS = ("netns", "links", "pids", "loops", "bridge")

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self.data: dict[str, dict[str, object]] = {kind: {} for kind in self.KINDS}
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
                for kind in self.KINDS:
                    self.data[kind].update(loaded.get(kind, {}))
            except (OSError, ValueError):
                pass  # an unreadable journal: the leftover scan still finds our names

    def add(self, kind: str, name: str, value: object = True) -> None:
        with self._lock:
            self.data[kind][name] = value
            self._write()

    def remove(self, kind: str, name: str) -> None:
        with self._lock:
            if self.data[kind].pop(name, None) is not None:
                self._write()

    def add_pid(self, pid: int) -> None:
        start = process_start_time(pid)
        if start is not None:
            self.add("pids", str(pid), start)

    def items(self, kind: str) -> list[tuple[str, object]]:
        with self._lock:
            return list(self.data[kind].items())

    def empty(self) -> bool:
        with self._lock:
            return not any(self.data[kind] for kind in self.KINDS)

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
