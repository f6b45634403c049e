"""Progress on long waits: a live line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("sclust")


class Progress:
    """Tells the user what sclust is doing and what it is waiting for."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.live = sys.stderr.isatty() and not quiet

    def step(self, message: str) -> None:
        """One thing done or begun."""
        log.info(message)
        if not self.quiet:
            print(f">>> {message}", file=sys.stderr, flush=True)

    @contextmanager
    def waiting(self, what: str) -> Iterator[Callable[[str], None]]:
        """Wait for WHAT; the caller reports its status through the yielded function."""
        started = time.monotonic()
        last = ""
        status = None
        if self.live:
            from rich.console import Console

            status = Console(stderr=True).status(what)
            status.start()

        def update(detail: str) -> None:
            nonlocal last
            elapsed = time.monotonic() - started
            if status is not None:
                status.update(f"{what}: {detail} ({elapsed:.0f} s)")
            elif detail != last and not self.quiet:
                print(f"... {what}: {detail}", file=sys.stderr, flush=True)
            if detail != last:
                log.info("%s: %s (%.1f s)", what, detail, elapsed)
            last = detail

        try:
            yield update
        finally:
            if status is not None:
                status.stop()
        if not self.quiet:
            print(f">>> {what}: done in {time.monotonic() - started:.1f} s", file=sys.stderr)
