"""Errors a user can cause: the CLI prints their message on one line and exits 1."""

from __future__ import annotations


class SclustError(Exception):
    """Base of every error sclust reports to the user without a traceback."""


class ConfigError(SclustError):
    """A mistake in a config file: the message names file, line, section and key."""


class CloudError(SclustError):
    """EC2 refused or failed a request in a way the user must act on."""

    code: str = ""  # EC2's error code when EC2 gave one (InvalidVolume.NotFound…)


class ClusterNotFound(SclustError):
    """No cluster with the given tag exists."""


class WaitTimeout(SclustError):
    """Something waited for (instances running, SSH answering…) did not happen in time."""
