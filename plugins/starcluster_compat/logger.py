"""`from starcluster.logger import log`: StarCluster's logger, as a logger of sclust's log."""

from __future__ import annotations

import logging

log = logging.getLogger("sclust.plugins.starcluster")
