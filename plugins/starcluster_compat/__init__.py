"""What StarCluster plugins import, so a published plugin loads unchanged.

`starcluster`, `starcluster.clustersetup`, `starcluster.logger`, `starcluster.exception` and
`starcluster.threadpool` name these modules only while user plugins are imported (`active()`),
and never when a real `starcluster` package is already imported. Hooks of a plugin built on
`ClusterSetup` from here receive StarCluster-shaped nodes (`StarClusterNode`) over sclust's
SSH connections.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

# starcluster.X -> our module (imported lazily: this package must stay cheap to import).
MODULES = ("clustersetup", "logger", "exception", "threadpool")


@contextmanager
def active() -> Iterator[None]:
    """`import starcluster.clustersetup` (and its siblings) finds this layer, for the block."""
    import importlib

    if "starcluster" in sys.modules:  # a real StarCluster, or an enclosing block: leave it
        yield
        return
    package = ModuleType("starcluster")
    package.__path__ = []  # a package: `starcluster.plugins…` is refused, not half-found
    package.__doc__ = "sclust's StarCluster compatibility layer (sclust.plugins.starcluster_compat)"
    added = {"starcluster": package}
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        setattr(package, name, module)
        added[f"starcluster.{name}"] = module
    for name, module in added.items():
        sys.modules[name] = module
    try:
        yield
    finally:
        for name, module in added.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
