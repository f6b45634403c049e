"""`from starcluster import exception`: the exception classes StarCluster plugins raise and catch.

`PluginError` and `RemoteCommandFailed` are sclust's `PluginError`, so a failure a plugin
raises is reported as a plugin failure (its name and message), never as a bug of sclust.
"""

from __future__ import annotations

import builtins
from typing import Any

from sclust.plugins.base import PluginError as SclustPluginError


class BaseException(SclustPluginError):  # noqa: A001 (StarCluster's name, kept for imports)
    """StarCluster's root exception (it shadowed the builtin's name too)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.args = args
        self.msg = str(args[0]) if args else ""

    def __str__(self) -> str:
        return self.msg

    def explain(self) -> str:
        return f"{type(self).__name__}: {self.msg}"


class CommandNotFound(BaseException):
    pass


class RemoteCommandNotFound(CommandNotFound):
    pass


class SSHError(BaseException):
    pass


class SSHConnectionError(SSHError):
    pass


class SSHAuthException(SSHError):
    pass


class SSHNoCredentialsError(SSHError):
    pass


class RemoteCommandFailed(SSHError):
    """A command exited non-zero: `command`, `exit_status` and `output` as StarCluster had."""

    def __init__(self, msg: str, command: str = "", exit_status: int = 1,
                 output: str = "") -> None:
        super().__init__(msg)
        self.command = command
        self.exit_status = exit_status
        self.output = output


class SCPException(BaseException):
    pass


class AWSError(BaseException):
    pass


class ConfigError(BaseException):
    pass


class PluginNotFound(ConfigError):
    pass


class InvalidDevice(BaseException):
    pass


class InvalidPartition(BaseException):
    pass


class PluginError(BaseException):
    pass


class PluginLoadError(PluginError):
    pass


class PluginSyntaxError(PluginError):
    pass


class ValidationError(BaseException):
    pass


class ClusterValidationError(ValidationError):
    pass


class MasterDoesNotExist(ClusterValidationError):
    pass


class ThreadPoolException(BaseException):
    """Failures of jobs run through `self.pool` (StarCluster's `exceptions` list of them)."""

    def __init__(self, msg: str, exceptions: list[builtins.BaseException] | None = None) -> None:
        super().__init__(msg)
        self.exceptions = exceptions or []
