"""Errors of the local cloud that a user can cause or fix."""

from __future__ import annotations

from sclust.errors import SclustError


class LocalCloudError(SclustError):
    """The local cloud cannot do what was asked (message says why and what to do)."""


class RequirementMissing(LocalCloudError):
    """This machine lacks something the local cloud needs (root, a tool, a kernel feature)."""


class AnotherCloudRunning(LocalCloudError):
    """A local cloud from another state directory already owns the bridge and the ranges."""
