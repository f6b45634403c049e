"""`from starcluster.logger import log`: StarCluster's logger, as a logger of sclust's log.

As in StarCluster, `log.info(…)` is shown to the user (`>>> message` on stderr, like sclust's
own steps), `log.debug(…)` goes to the log file (and the screen with `-d`), warnings and
errors are shown as sclust's are.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("sclust.plugins.starcluster")
log.setLevel(logging.DEBUG)  # what reaches the screen is the handlers' choice, as in sclust


class InfoToConsole(logging.Handler):
    """INFO records on stderr as `>>> …` (sclust's console handler shows WARNING and up)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.addFilter(lambda record: record.levelno < logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f">>> {record.getMessage()}", file=sys.stderr, flush=True)
        except Exception:  # noqa: BLE001 (logging must never break a plugin)
            self.handleError(record)


if not any(isinstance(h, InfoToConsole) for h in log.handlers):
    log.addHandler(InfoToConsole())
# StarCluster's plugins call log.warn (deprecated, and gone in Python 3.13).
setattr(log, "warn", log.warning)  # noqa: B010
